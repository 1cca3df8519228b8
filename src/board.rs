//! The queue board: one refresh loop per instance reads every team's figures from Redis (one
//! pipelined round trip, and one more for the cases past their first-look time) after any case or presence event, at most every `MIN_GAP` and at least
//! every `MAX_GAP`, and publishes the snapshot on a `watch` channel. Every consumer (gRPC
//! `WatchQueues`, the web board, `/metrics`) reads that one snapshot, so a hundred watching
//! supervisors cost Redis no more than one. When Redis does not answer, the last snapshot is
//! republished marked stale.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use crate::background::Background;
use crate::config::Config;
use crate::domain::{Presence, Urgency};
use crate::metrics::{Metrics, QueueLabels};
use crate::reload::ConfigCell;
use crate::store::{BOARD_QUEUES, Store, TeamFigures, TeamQuery, today};

const MIN_GAP: Duration = Duration::from_millis(200);
const MAX_GAP: Duration = Duration::from_secs(1);
const REDIS_TIMEOUT: Duration = Duration::from_secs(2);
/// Offers looked at for the "offered" column: far more than a county has slots.
const MAX_OFFERS_READ: usize = 10_000;

/// Everything the board shows. Serialised as JSON for the web page.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Board {
    /// When the figures were read (ms since the epoch).
    pub as_of_ms: i64,
    /// True while Redis does not answer: the figures are the last known.
    pub stale: bool,
    pub teams: Vec<TeamBoard>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TeamBoard {
    pub team_id: String,
    pub name: String,
    /// The team's name per language (`fi`, `sv`, `en`, …) where the county gives one.
    pub names: std::collections::BTreeMap<String, String>,
    pub queues: Vec<Tile>,
    pub staff: Vec<Staff>,
    pub taken_today: u64,
    pub taken_late_today: u64,
    /// Cases past their first-look time with no person's confirmation: the tile turns red.
    pub first_look_overdue: u64,
    /// Open cases older than `routing.stale_case_days` that are not waiting in a queue
    /// (offered, in progress, unreachable): a supervisor decides (never deleted). Waiting ones
    /// are in their tile's `stale`.
    pub stale_open: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Tile {
    pub queue: String,
    pub depth: u64,
    /// Wait of the longest-waiting case, in seconds.
    pub oldest_wait_secs: Option<u64>,
    pub emergency: u64,
    pub urgent: u64,
    pub soon: u64,
    pub routine: u64,
    pub due_within_hour: u64,
    pub past_deadline: u64,
    /// Professionals of the team with a free slot on the queue's channel now.
    pub available_professionals: u64,
    /// Professionals of the team online (connected, available) with capacity on the channel,
    /// free or not.
    pub online_professionals: u64,
    /// Cases of the queue offered to a professional and not yet accepted (not in `depth`).
    pub offered: u64,
    /// Cases wait and nobody online in the team can take them: the tile turns red.
    pub unstaffed: bool,
    /// Waiting cases older than `routing.stale_case_days`: a supervisor decides (never deleted).
    pub stale: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Staff {
    pub profession: String,
    pub available: u32,
    pub busy: u32,
    pub on_break: u32,
    pub offline: u32,
}

impl Staff {
    /// Someone of the profession is signed in (free, busy or on a break).
    pub fn present(&self) -> bool {
        self.available + self.busy + self.on_break > 0
    }
}

impl Board {
    /// Same figures, whatever the time they were read.
    fn same_figures(&self, other: &Board) -> bool {
        self.stale == other.stale && self.teams == other.teams
    }

    /// Only the given team (or all when empty).
    pub fn only(&self, team: &str) -> Board {
        Board {
            as_of_ms: self.as_of_ms,
            stale: self.stale,
            teams: self
                .teams
                .iter()
                .filter(|t| team.is_empty() || t.team_id == team)
                .cloned()
                .collect(),
        }
    }
}

/// The published board and the means to ask for a refresh.
#[derive(Clone)]
pub struct BoardFeed {
    rx: watch::Receiver<Arc<Board>>,
    poke: Arc<Notify>,
}

impl BoardFeed {
    /// Starts the refresh loop, owned by `background`. `poke` is notified by the event listener
    /// on every change.
    pub fn start(
        store: Store,
        config: Arc<ConfigCell>,
        metrics: Arc<Metrics>,
        poke: Arc<Notify>,
        background: &mut Background,
    ) -> Self {
        let (tx, rx) = watch::channel(Arc::new(Board::default()));
        let refresh = poke.clone();
        background.spawn("board refresh", |stop| {
            refresh_loop(store, config, metrics, refresh, tx, stop)
        });
        BoardFeed { rx, poke }
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<Board>> {
        self.rx.clone()
    }

    pub fn current(&self) -> Arc<Board> {
        self.rx.borrow().clone()
    }

    /// The figures last read, marked stale, for a reader that could not read them now; `None`
    /// before the first refresh.
    pub fn last_known(&self) -> Option<Board> {
        let current = self.current();
        (current.as_of_ms > 0).then(|| Board {
            stale: true,
            ..(*current).clone()
        })
    }

    /// Asks for a refresh soon (after a change this instance made itself).
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

async fn refresh_loop(
    store: Store,
    config: Arc<ConfigCell>,
    metrics: Arc<Metrics>,
    poke: Arc<Notify>,
    tx: watch::Sender<Arc<Board>>,
    stop: CancellationToken,
) {
    loop {
        let started = Instant::now();
        let read =
            tokio::time::timeout(REDIS_TIMEOUT, read_board(&store, &config.get(), &metrics)).await;
        match read {
            Ok(Ok(board)) => {
                metrics.board_stale.set(0);
                record(&metrics, &board);
                tx.send_if_modified(|cur| {
                    let changed = !cur.same_figures(&board);
                    *cur = Arc::new(board);
                    changed
                });
            }
            failed => {
                if let Ok(Err(e)) = &failed {
                    tracing::debug!(error = %e, "board refresh failed");
                }
                metrics.board_stale.set(1);
                tx.send_if_modified(|cur| {
                    if cur.stale {
                        return false;
                    }
                    let mut stale = (**cur).clone();
                    stale.stale = true;
                    *cur = Arc::new(stale);
                    true
                });
            }
        }
        // At most one refresh per MIN_GAP; wait for a change or MAX_GAP.
        let pause = async {
            tokio::time::sleep(MIN_GAP.saturating_sub(started.elapsed())).await;
            let _ = tokio::time::timeout(MAX_GAP - MIN_GAP, poke.notified()).await;
        };
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = pause => {}
        }
    }
}

/// Reads the figures of every configured team.
pub async fn read_board(
    store: &Store,
    config: &Config,
    metrics: &Metrics,
) -> Result<Board, crate::store::StoreError> {
    let t0 = Instant::now();
    store.ping().await?;
    metrics.redis_roundtrip.observe(t0.elapsed().as_secs_f64());
    let teams = &config.county.teams;
    let queries: Vec<TeamQuery<'_>> = teams
        .iter()
        .map(|t| {
            let mut professions: Vec<&str> =
                t.members.iter().map(|m| m.profession.code()).collect();
            professions.sort_unstable();
            professions.dedup();
            TeamQuery {
                team: &t.id,
                members: t.members.iter().map(|m| m.id.as_str()).collect(),
                professions,
            }
        })
        .collect();
    let now = crate::clock::now_ms();
    // All on the one multiplexed connection at once: no extra round trip to wait for.
    let day = today();
    let stale_before = now - config.routing.stale_case_days as i64 * 86_400_000;
    let (figures, overdue, offered, stale_open) = tokio::try_join!(
        store.board_figures(&queries, now, &day, stale_before),
        store.first_look_overdue(now),
        store.offered_by_queue(MAX_OFFERS_READ),
        store.stale_open_by_team(stale_before, MAX_OFFERS_READ)
    )?;
    Ok(Board {
        as_of_ms: now,
        stale: false,
        teams: teams
            .iter()
            .zip(figures)
            .map(|(team, mut f)| {
                for (q, tile) in BOARD_QUEUES.iter().zip(f.tiles.iter_mut()) {
                    tile.offered = offered
                        .get(&(team.id.clone(), q.to_string()))
                        .copied()
                        .unwrap_or(0);
                }
                TeamBoard {
                    first_look_overdue: overdue.get(&team.id).copied().unwrap_or(0),
                    stale_open: stale_open.get(&team.id).copied().unwrap_or(0),
                    ..team_board(team, f, now)
                }
            })
            .collect(),
    })
}

fn team_board(team: &crate::domain::routing::Team, f: TeamFigures, now: i64) -> TeamBoard {
    let queues = BOARD_QUEUES
        .iter()
        .zip(&f.tiles)
        .map(|(q, t)| {
            let n = |u: Urgency| t.by_urgency[u.rank() as usize];
            Tile {
                queue: q.to_string(),
                depth: t.depth,
                oldest_wait_secs: t
                    .oldest_arrival_ms
                    .map(|a| ((now - a).max(0) / 1000) as u64),
                emergency: n(Urgency::Emergency),
                urgent: n(Urgency::Urgent),
                soon: n(Urgency::Soon),
                routine: n(Urgency::Routine),
                due_within_hour: t.due_within_hour,
                past_deadline: t.past_deadline,
                available_professionals: t.free,
                online_professionals: t.available,
                offered: t.offered,
                unstaffed: t.depth > 0 && t.available == 0,
                stale: t.stale,
            }
        })
        .collect();
    let mut staff: Vec<Staff> = Vec::new();
    for (m, s) in team.members.iter().zip(&f.staff) {
        let code = m.profession.code();
        let i = match staff.iter().position(|x| x.profession == code) {
            Some(i) => i,
            None => {
                staff.push(Staff {
                    profession: code.to_string(),
                    ..Default::default()
                });
                staff.len() - 1
            }
        };
        let row = &mut staff[i];
        let presence: Option<Presence> = s.presence.parse().ok();
        // Free: signed in and holding no case; busy: holding one (perhaps with room for more on
        // a channel, which the queue rows count as free slots) or set busy.
        match presence {
            Some(Presence::OnBreak) => row.on_break += 1,
            Some(Presence::Busy) if s.connected => row.busy += 1,
            Some(Presence::Available) if s.connected && s.load > 0 => row.busy += 1,
            Some(Presence::Available) if s.connected => row.available += 1,
            _ => row.offline += 1,
        }
    }
    TeamBoard {
        team_id: team.id.clone(),
        name: team.name.clone(),
        names: team
            .names
            .iter()
            .map(|(l, n)| (l.code().to_string(), n.clone()))
            .collect(),
        queues,
        staff,
        taken_today: f.taken_today,
        taken_late_today: f.late_today,
        first_look_overdue: 0,
        stale_open: 0,
    }
}

fn record(metrics: &Metrics, board: &Board) {
    for t in &board.teams {
        metrics
            .first_look_overdue
            .get_or_create(&crate::metrics::TeamLabels {
                team: t.team_id.clone(),
            })
            .set(t.first_look_overdue as i64);
        metrics
            .open_stale
            .get_or_create(&crate::metrics::TeamLabels {
                team: t.team_id.clone(),
            })
            .set(t.stale_open as i64);
        for q in &t.queues {
            let labels = QueueLabels {
                team: t.team_id.clone(),
                queue: q.queue.clone(),
            };
            metrics
                .queue_depth
                .get_or_create(&labels)
                .set(q.depth as i64);
            metrics
                .queue_oldest_wait
                .get_or_create(&labels)
                .set(q.oldest_wait_secs.unwrap_or(0) as f64);
            metrics
                .queue_past_deadline
                .get_or_create(&labels)
                .set(q.past_deadline as i64);
            metrics
                .queue_stale
                .get_or_create(&labels)
                .set(q.stale as i64);
        }
    }
}
