//! `luotsi corrections --from … --to …`: every first look recorded between two times (the
//! `triage` record: what people did with the classifier's needs and urgency), as JSON lines on
//! stdout, pseudonymised for the county's own evaluation of the triage: case and professional
//! ids become keyed pseudonyms, and there is no text, number or identity in the record to begin
//! with. It only reads; nothing is ever retrained from it.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::json;

use luotsi::config::Config;
use luotsi::identity::Pseudonymizer;

#[derive(clap::Args)]
pub struct CorrectionsArgs {
    /// From this time (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date, 2026-11-01).
    #[arg(long)]
    from: String,
    /// Up to this time (the same forms; a date means its end). Default: now.
    #[arg(long)]
    to: Option<String>,
    /// Redis to read; default: the configured `redis.url` or `redis.cluster`, else the embedded Redis's socket in
    /// the data directory.
    #[arg(long)]
    redis: Option<String>,
}

pub async fn run(config: Config, args: CorrectionsArgs) -> Result<(), Box<dyn std::error::Error>> {
    let from = when(&args.from, false).ok_or("--from: not a time or date")?;
    let to = match &args.to {
        Some(t) => when(t, true).ok_or("--to: not a time or date")?,
        None => luotsi::clock::now_ms(),
    };
    if from > to {
        return Err("--from is after --to".into());
    }
    let store = super::read_store(&config, args.redis).await?;
    let names = luotsi::app::pseudonymizer(&config)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut failed = None;
    store
        .for_each_triage_entry(from, to, |e| {
            if failed.is_some() {
                return;
            }
            if let Err(err) = write_line(&mut out, &names, e) {
                failed = Some(err);
            }
        })
        .await?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    std::io::Write::flush(&mut out)?;
    Ok(())
}

fn write_line(
    out: &mut impl std::io::Write,
    names: &Pseudonymizer,
    e: &std::collections::HashMap<String, String>,
) -> std::io::Result<()> {
    let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("");
    let list = |k: &str| -> Vec<&str> { get(k).split(',').filter(|s| !s.is_empty()).collect() };
    let line = json!({
        "case": names.case(get("case")),
        "by": names.professional(get("by")),
        "team": get("team"),
        "channel": get("channel"),
        "needs_from": list("needs_from"),
        "needs_to": list("needs_to"),
        "urgency_from": get("urgency_from"),
        "urgency_to": get("urgency_to"),
        "urgency_change": get("direction"),
        "needs_changed": get("needs_changed") == "1",
        "reason": get("reason"),
        "first_look_secs": get("wait").parse::<i64>().unwrap_or(0) / 1000,
        "first_look_late": get("late") == "1",
        "at": get("at")
            .parse::<i64>()
            .ok()
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .map(|t| t.to_rfc3339()),
    });
    writeln!(out, "{line}")
}

/// Milliseconds of an RFC 3339 time or a date (its start, or with `end` its last millisecond,
/// in UTC).
fn when(s: &str, end: bool) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.timestamp_millis());
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    let start = d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(if end { start + 86_400_000 - 1 } else { start })
}
