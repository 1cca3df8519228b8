//! `luotsi queues [--watch]`: the queue board as a table in the terminal, for people on a
//! server. Reads `SupervisorService.WatchQueues` from a running Luotsi.

use std::fmt::Write as _;

use luotsi::pb;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;

#[derive(clap::Args)]
pub struct QueuesArgs {
    #[command(flatten)]
    client: super::auth::ClientArgs,
    /// Only this team.
    #[arg(long, default_value = "")]
    team: String,
    /// Keep the table on screen, redrawn at every change.
    #[arg(long)]
    watch: bool,
}

pub async fn run(
    config: luotsi::config::Config,
    args: QueuesArgs,
) -> Result<(), Box<dyn std::error::Error>> {
    let (channel, token) = args
        .client
        .open(&config, luotsi::auth::Role::Ops, "luotsi-queues")
        .await?;
    let mut client = SupervisorServiceClient::new(channel);
    let mut stream = client
        .watch_queues(luotsi::client::authorized(
            pb::WatchQueuesRequest {
                team_id: args.team,
                heartbeat: None,
            },
            &token,
        ))
        .await?
        .into_inner();
    while let Some(pb::WatchQueuesResponse { board: Some(board) }) = stream.message().await? {
        let text = table(&board);
        if args.watch {
            // Clear the screen and home the cursor, then redraw.
            print!("\x1b[2J\x1b[H{text}");
        } else {
            print!("{text}");
            return Ok(());
        }
    }
    Ok(())
}

fn mmss(d: Option<&prost_types::Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d.seconds < 3600 => format!("{}:{:02}", d.seconds / 60, d.seconds % 60),
        Some(d) => format!("{}h{:02}", d.seconds / 3600, (d.seconds % 3600) / 60),
    }
}

/// The board as a fixed-width table.
pub fn table(b: &pb::QueueBoard) -> String {
    let mut out = String::new();
    let as_of = b
        .as_of
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| {
            t.with_timezone(&luotsi::domain::deadline::TZ)
                .format("%H:%M:%S")
                .to_string()
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "Luotsi queues at {as_of}{}",
        if b.stale {
            "  ** STALE: Redis unavailable, last known figures **"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "{:<24} {:<9} {:>5} {:>7} {:>5} {:>6} {:>5} {:>7} {:>4} {:>4} {:>7} {:>4}",
        "team",
        "queue",
        "wait",
        "offered",
        "emerg",
        "urgent",
        "soon",
        "routine",
        "<1h",
        "late",
        "oldest",
        "free"
    );
    for t in &b.teams {
        for q in &t.queues {
            let _ = writeln!(
                out,
                "{:<24} {:<9} {:>5} {:>7} {:>5} {:>6} {:>5} {:>7} {:>4} {:>4} {:>7} {:>4}{}",
                t.team_id,
                q.queue,
                q.depth,
                q.offered,
                q.emergency,
                q.urgent,
                q.soon,
                q.routine,
                q.due_within_hour,
                q.past_deadline,
                mmss(q.oldest_wait.as_ref()),
                q.available_professionals,
                if q.unstaffed {
                    "  nobody signed in can take these"
                } else {
                    ""
                }
            );
        }
        // Only the professions someone is signed in for.
        let staff: Vec<String> = t
            .staff
            .iter()
            .filter(|s| s.available + s.busy + s.on_break > 0)
            .map(|s| format!("{} {}/{}/{}", s.profession, s.available, s.busy, s.on_break))
            .collect();
        let staff = if staff.is_empty() {
            "nobody signed in".to_string()
        } else {
            staff.join(", ")
        };
        let level = (100 * (t.taken_today - t.taken_late_today))
            .checked_div(t.taken_today)
            .map_or("-".to_string(), |p| format!("{p}%"));
        let _ = writeln!(
            out,
            "{:<24} service level today {level} ({} taken); staff free/busy/break: {}",
            "", t.taken_today, staff
        );
    }
    out
}
