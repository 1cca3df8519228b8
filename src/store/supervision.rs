//! What duty supervisors read and do: the board's figures in one pipelined round trip, the
//! cases waiting in priority order, and the recorded actions (move, urgency, release).

use std::collections::HashMap;

use super::AccessEntry;
use super::case::{Fields, field};
use super::{Result, Store, StoreError};
use crate::domain::steering::UrgencyChange;
use crate::domain::{Channel, Language, Need, Urgency};

/// The queues of every team, in board order.
pub const BOARD_QUEUES: [&str; 4] = ["alert", "phone", "chat", "e_service"];

/// Figures of one queue of one team.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileFigures {
    pub depth: u64,
    pub oldest_arrival_ms: Option<i64>,
    /// Queued cases per urgency, in `Urgency::ALL` order.
    pub by_urgency: [u64; 4],
    pub due_within_hour: u64,
    pub past_deadline: u64,
    /// Professionals online (connected, available) with capacity on the queue's channel, busy
    /// or not: zero with cases waiting means nobody here can take them.
    pub available: u64,
    /// Of them, those with a free slot now (for the alert queue: anyone connected and available
    /// of the team's professions).
    pub free: u64,
    /// Cases of the queue offered to a professional and not yet accepted.
    pub offered: u64,
    /// Waiting cases older than the county's maximum age (`routing.stale_case_days`).
    pub stale: u64,
}

/// One professional's live state, as the board counts it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaffState {
    pub presence: String,
    pub connected: bool,
    pub load: u32,
}

/// Everything the board shows of one team.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeamFigures {
    pub tiles: Vec<TileFigures>,
    /// In the order of the member ids asked.
    pub staff: Vec<StaffState>,
    pub taken_today: u64,
    pub late_today: u64,
}

/// What the board asks about one team.
pub struct TeamQuery<'a> {
    pub team: &'a str,
    pub members: Vec<&'a str>,
    /// The team's professions (each once): whose free slots count.
    pub professions: Vec<&'a str>,
}

/// A waiting case as a supervisor sees it: routing facts only, no personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedCase {
    pub case_id: String,
    pub queue: String,
    pub needs: Vec<Need>,
    pub urgency: Urgency,
    pub channel: Channel,
    pub language: Language,
    pub deadline_ms: i64,
    pub deadline_rule: String,
    pub created_ms: i64,
    pub reasons: Vec<String>,
    pub interpreter_needed: bool,
}

/// The fields `queued_cases` reads: never the text, the call-back number or the citizen. The
/// reasons, kept with the case's words, are read beside them (and from the case hash for a case
/// written before).
const ROW_FIELDS: [&str; 10] = [
    field::QUEUE,
    field::NEEDS,
    field::URGENCY,
    field::CHANNEL,
    field::LANGUAGE,
    field::DEADLINE,
    field::DEADLINE_RULE,
    field::CREATED,
    field::INTERPRETER_NEEDED,
    field::REASONS,
];

impl QueuedCase {
    fn decode(case_id: String, row: Vec<Option<Vec<u8>>>) -> Result<Self> {
        let map: HashMap<String, Vec<u8>> = ROW_FIELDS
            .iter()
            .zip(row)
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        let f = Fields::new("case", &map);
        Ok(QueuedCase {
            queue: f.text(field::QUEUE)?.to_string(),
            needs: f.list(field::NEEDS)?,
            urgency: f.parse(field::URGENCY)?,
            channel: f.parse(field::CHANNEL)?,
            language: f.parse(field::LANGUAGE)?,
            deadline_ms: f.parse(field::DEADLINE)?,
            deadline_rule: f.opt(field::DEADLINE_RULE)?.unwrap_or("").to_string(),
            created_ms: f.parse(field::CREATED)?,
            reasons: f
                .opt(field::REASONS)?
                .unwrap_or("")
                .lines()
                .map(String::from)
                .collect(),
            interpreter_needed: f.flag(field::INTERPRETER_NEEDED)?,
            case_id,
        })
    }
}

/// A case in progress whose holder's presence lease lapsed: they may still be on the phone, so
/// it stays theirs until they reconnect or a supervisor releases it.
#[derive(Debug, Clone, PartialEq)]
pub struct DisconnectedHolder {
    pub case_id: String,
    pub professional: String,
    pub team: String,
    pub channel: Channel,
    pub urgency: Urgency,
    /// When the lease lapsed.
    pub since_ms: i64,
}

/// The fields `disconnected_holders` reads.
const HOLDER_FIELDS: [&str; 6] = [
    field::STATUS,
    field::HOLDER_DISCONNECTED,
    field::HOLDER,
    field::TEAM,
    field::CHANNEL,
    field::URGENCY,
];

impl DisconnectedHolder {
    /// None when the case has moved on since it was listed (completed, handed over, taken
    /// back, its holder back).
    fn decode(case_id: String, since_ms: i64, row: Vec<Option<Vec<u8>>>) -> Result<Option<Self>> {
        let map: HashMap<String, Vec<u8>> = HOLDER_FIELDS
            .iter()
            .zip(row)
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        let f = Fields::new("case", &map);
        if f.opt(field::STATUS)? != Some("in_progress")
            || f.opt(field::HOLDER_DISCONNECTED)?.is_none()
        {
            return Ok(None);
        }
        Ok(Some(DisconnectedHolder {
            professional: f.text(field::HOLDER)?.to_string(),
            team: f.text(field::TEAM)?.to_string(),
            channel: f.parse(field::CHANNEL)?,
            urgency: f.parse(field::URGENCY)?,
            since_ms,
            case_id,
        }))
    }
}

/// A supervisor's action.
#[derive(Debug, Clone)]
pub enum Action<'a> {
    Move {
        team: &'a str,
        channel: Option<Channel>,
    },
    Urgency(&'a UrgencyChange),
    Release,
}

/// One entry of a stream (the audit log, the statistics): its fields as text.
#[derive(Debug, Clone, Default)]
pub struct AuditEntry {
    pub fields: HashMap<String, String>,
}

impl AuditEntry {
    fn from_stream(e: &redis::streams::StreamId) -> Self {
        AuditEntry {
            fields: e
                .map
                .iter()
                .filter_map(|(k, v)| {
                    redis::from_redis_value_ref::<String>(v)
                        .ok()
                        .map(|v| (k.clone(), v))
                })
                .collect(),
        }
    }
}

impl Store {
    /// The board's figures for each team, in one pipelined round trip. `day` is today's
    /// Helsinki date (`YYYY-MM-DD`).
    pub async fn board_figures(
        &self,
        teams: &[TeamQuery<'_>],
        now_ms: i64,
        day: &str,
        stale_before_ms: i64,
    ) -> Result<Vec<TeamFigures>> {
        let k = &self.keys;
        let mut pipe = redis::pipe();
        for t in teams {
            for q in BOARD_QUEUES {
                let (qa, qp) = (
                    k.queue_by_arrival(t.team, q),
                    k.queue_by_priority(t.team, q),
                );
                pipe.zcard(&qa).zrange_withscores(&qa, 0, 0).zcount(
                    &qa,
                    "-inf",
                    format!("({stale_before_ms}"),
                );
                // By deadline from the priority index: within an urgency class the score is
                // the deadline. Past its deadline is what a first response now would miss:
                // strictly after the deadline's instant, as `deadline::missed` counts it.
                for u in Urgency::ALL {
                    let lo = u.rank() as f64 * 1e13;
                    let at = |ms: i64| lo + ms.max(0) as f64;
                    pipe.zcount(&qp, at(now_ms), at(now_ms + 3_600_000)).zcount(
                        &qp,
                        lo,
                        format!("({}", at(now_ms)),
                    );
                }
                for u in Urgency::ALL {
                    let lo = u.rank() as f64 * 1e13;
                    pipe.zcount(&qp, lo, format!("({}", lo + 1e13));
                }
                // The alert queue is answered by anyone connected; phone availability stands in.
                let ch = if q == "alert" { "phone" } else { q };
                pipe.scard(k.available(t.team, ch));
                for p in &t.professions {
                    if q == "alert" {
                        pipe.scard(k.on_duty(t.team, p));
                    } else {
                        pipe.zcard(k.free(t.team, q, p));
                    }
                }
            }
            for m in &t.members {
                pipe.cmd("HMGET").arg(k.professional(m)).arg(&[
                    "presence",
                    "conn",
                    "load:phone",
                    "load:chat",
                    "load:e_service",
                ]);
            }
            pipe.cmd("HMGET")
                .arg(k.day(day, t.team))
                .arg(&["taken", "late"]);
        }
        let mut conn = self.conn.clone();
        let values: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut it = values.iter();
        let mut next = || {
            it.next()
                .ok_or_else(|| StoreError::Corrupt("board reply".into()))
        };
        let mut out = Vec::with_capacity(teams.len());
        for t in teams {
            let mut f = TeamFigures::default();
            for _ in BOARD_QUEUES {
                let depth: u64 = redis::from_redis_value_ref(next()?)?;
                let oldest: Vec<(String, f64)> = redis::from_redis_value_ref(next()?)?;
                let stale: u64 = redis::from_redis_value_ref(next()?)?;
                let (mut due, mut past) = (0u64, 0u64);
                for _ in Urgency::ALL {
                    due += redis::from_redis_value_ref::<u64>(next()?)?;
                    past += redis::from_redis_value_ref::<u64>(next()?)?;
                }
                let mut by_urgency = [0u64; 4];
                for slot in by_urgency.iter_mut() {
                    *slot = redis::from_redis_value_ref(next()?)?;
                }
                let available: u64 = redis::from_redis_value_ref(next()?)?;
                let mut free = 0u64;
                for _ in &t.professions {
                    free += redis::from_redis_value_ref::<u64>(next()?)?;
                }
                f.tiles.push(TileFigures {
                    depth,
                    oldest_arrival_ms: oldest.first().map(|(_, s)| *s as i64),
                    by_urgency,
                    due_within_hour: due,
                    past_deadline: past,
                    available,
                    free,
                    offered: 0,
                    stale,
                });
            }
            for _ in &t.members {
                let h: Vec<Option<String>> = redis::from_redis_value_ref(next()?)?;
                let n = |i: usize| {
                    h[i].as_deref()
                        .and_then(|x| x.parse::<u32>().ok())
                        .unwrap_or(0)
                };
                f.staff.push(StaffState {
                    presence: h[0].clone().unwrap_or_default(),
                    connected: h[1].as_deref().is_some_and(|c| !c.is_empty()),
                    load: (2..5).map(n).sum(),
                });
            }
            let day: Vec<Option<u64>> = redis::from_redis_value_ref(next()?)?;
            f.taken_today = day[0].unwrap_or(0);
            f.late_today = day[1].unwrap_or(0);
            out.push(f);
        }
        Ok(out)
    }

    /// Cases offered and not yet accepted, counted by (team, queue) of the case; at most the
    /// `limit` offers expiring soonest are looked at (offers are few: one per free slot at most).
    pub async fn offered_by_queue(&self, limit: usize) -> Result<HashMap<(String, String), u64>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.offers())
            .arg(0)
            .arg(limit.max(1) as isize - 1)
            .query_async(&mut conn)
            .await?;
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(self.keys.case(id)).arg(&[
                field::TEAM,
                field::QUEUE,
                field::STATUS,
            ]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        for row in rows {
            if let [Some(team), Some(queue), Some(status)] = &row[..]
                && status == "offered"
            {
                *out.entry((team.clone(), queue.clone())).or_insert(0) += 1;
            }
        }
        Ok(out)
    }

    /// The cases waiting in the given queues of a team, most urgent (then earliest deadline)
    /// first, at most `limit`.
    pub async fn queued_cases(
        &self,
        team: &str,
        queues: &[&str],
        limit: usize,
    ) -> Result<Vec<QueuedCase>> {
        if queues.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for q in queues {
            pipe.zrange_withscores(self.keys.queue_by_priority(team, q), 0, limit as isize - 1);
        }
        let mut conn = self.conn.clone();
        let heads: Vec<Vec<(String, f64)>> = pipe.query_async(&mut conn).await?;
        let mut ids: Vec<(String, f64)> = heads.into_iter().flatten().collect();
        ids.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        ids.truncate(limit);
        if ids.is_empty() {
            // An empty pipeline is an error in the client: nothing waits, nothing to read.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in &ids {
            pipe.cmd("HMGET").arg(self.keys.case(id)).arg(&ROW_FIELDS);
            pipe.hget(self.keys.case_words(id), field::REASONS);
        }
        let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for pair in flat.chunks(2) {
            let mut row: Vec<Option<Vec<u8>>> = redis::from_redis_value_ref(&pair[0])?;
            let reasons: Option<Vec<u8>> = redis::from_redis_value_ref(&pair[1])?;
            // A case written before the words had their own hash keeps its reasons with it.
            if let Some(reasons) = reasons {
                row[ROW_FIELDS.len() - 1] = Some(reasons);
            }
            rows.push(row);
        }
        let mut cases = Vec::with_capacity(rows.len());
        for ((case_id, _), row) in ids.into_iter().zip(rows) {
            let mut case = QueuedCase::decode(case_id, row)?;
            // A reason a person wrote is sealed (`seal.rs`).
            if case.reasons.iter().any(|r| r.contains("{{s1.")) {
                case.reasons = self.open_lines(std::mem::take(&mut case.reasons)).await?;
            }
            cases.push(case);
        }
        Ok(cases)
    }

    /// Carries out a supervisor's action, recorded in the same step. Returns what was done.
    pub async fn supervise(
        &self,
        case_id: &str,
        supervisor: &str,
        reason: &str,
        action: &Action<'_>,
        access: &AccessEntry,
    ) -> Result<String> {
        let mut inv = self.invoke(&self.scripts.supervise, self.keys.case(case_id));
        let op = match action {
            Action::Move { .. } => "move",
            Action::Urgency(_) => "urgency",
            Action::Release => "release",
        };
        let reason = self.seal_reason(reason).await?;
        inv.arg(op).arg(case_id).arg(supervisor).arg(&reason);
        match action {
            Action::Move { team, channel } => {
                inv.arg(*team).arg(channel.map(|c| c.code()).unwrap_or(""));
            }
            Action::Urgency(c) => {
                inv.arg(c.urgency.code())
                    .arg(c.urgency.rank())
                    .arg(c.score.to_string())
                    .arg(c.deadline_ms)
                    .arg(&c.rule)
                    .arg(&c.queue)
                    .arg(&c.sub_queue)
                    .arg(&c.law)
                    .arg(
                        c.statutory
                            .as_ref()
                            .map(|d| d.at.timestamp_millis().to_string())
                            .unwrap_or_default(),
                    )
                    .arg(c.statutory.as_ref().map_or("", |d| d.name.as_str()))
                    .arg(c.statutory.as_ref().and_then(|d| d.law).unwrap_or(""));
            }
            Action::Release => {}
        }
        inv.arg(access.encode(self.access_keep_ms));
        let mut conn = self.conn.clone();
        let r: Vec<String> = inv.invoke_async(&mut conn).await?;
        match r.first().map(String::as_str) {
            Some("ok") => Ok(r.get(1).cloned().unwrap_or_default()),
            Some("missing") => Err(StoreError::NotFound("case")),
            Some("refused") => Err(StoreError::Conflict(format!(
                "the case is {}: {op} does not apply",
                r.get(1).map(String::as_str).unwrap_or("closed")
            ))),
            _ => Err(StoreError::Corrupt("supervise reply".into())),
        }
    }

    /// The newest `count` entries of the audit log, newest first.
    pub async fn audit_log(&self, count: usize) -> Result<Vec<AuditEntry>> {
        let mut conn = self.conn.clone();
        let reply: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
            .arg(self.keys.audit())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await?;
        Ok(reply.ids.iter().map(AuditEntry::from_stream).collect())
    }

    /// Calls `f` with every statistics entry recorded between `from_ms` and `to_ms` (inclusive),
    /// oldest first, reading in pages so a month's entries are never all in memory.
    pub async fn for_each_stats_entry(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: impl FnMut(&HashMap<String, String>),
    ) -> Result<()> {
        self.for_each_entry(self.keys.stats(), from_ms, to_ms, f)
            .await
    }

    /// Reads a time-keyed stream (`stats`, `triage`) between two times, in pages.
    pub(crate) async fn for_each_entry(
        &self,
        key: String,
        from_ms: i64,
        to_ms: i64,
        mut f: impl FnMut(&HashMap<String, String>),
    ) -> Result<()> {
        // Small pages: each reply must arrive within the client's response timeout even on a
        // loaded machine, and a month of a county is hundreds of thousands of entries.
        const PAGE: usize = 1000;
        let mut conn = self.conn.clone();
        let mut start = from_ms.to_string();
        loop {
            let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
                .arg(&key)
                .arg(&start)
                .arg(to_ms)
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut conn)
                .await?;
            for e in &reply.ids {
                // With the entry's time (its id's milliseconds) as `_ms`.
                let mut fields = AuditEntry::from_stream(e).fields;
                if let Some((ms, _)) = e.id.split_once('-') {
                    fields.insert("_ms".into(), ms.to_string());
                }
                f(&fields);
            }
            match reply.ids.last() {
                Some(last) if reply.ids.len() == PAGE => start = format!("({}", last.id),
                _ => return Ok(()),
            }
        }
    }

    /// Writes one day's roll-up (`agg:<date>`), replacing any earlier one, kept `keep_secs`.
    pub async fn write_day_aggregate(
        &self,
        date: &str,
        fields: &[(String, i64)],
        keep_secs: u64,
    ) -> Result<()> {
        let key = self.keys.day_aggregate(date);
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .atomic()
            .del(&key)
            .hset_multiple(&key, fields)
            .expire(&key, keep_secs as i64)
            .query_async(&mut conn)
            .await?;
        Ok(())
    }

    /// Whether each day has its roll-up.
    pub async fn day_aggregates_present(&self, dates: &[String]) -> Result<Vec<bool>> {
        if dates.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for d in dates {
            pipe.exists(self.keys.day_aggregate(d));
        }
        let mut conn = self.conn.clone();
        Ok(pipe.query_async(&mut conn).await?)
    }

    /// Each day's roll-up (empty when there is none).
    pub async fn day_aggregates(&self, dates: &[String]) -> Result<Vec<HashMap<String, i64>>> {
        if dates.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for d in dates {
            pipe.hgetall(self.keys.day_aggregate(d));
        }
        let mut conn = self.conn.clone();
        Ok(pipe.query_async(&mut conn).await?)
    }

    /// Cases in progress whose holder is disconnected, longest disconnected first; `team`
    /// empty for the whole county.
    pub async fn disconnected_holders(&self, team: &str) -> Result<Vec<DisconnectedHolder>> {
        let mut conn = self.conn.clone();
        let ids: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(self.keys.disconnected_holders())
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            // An empty pipeline is an error in the client.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in &ids {
            pipe.cmd("HMGET")
                .arg(self.keys.case(id))
                .arg(&HOLDER_FIELDS);
        }
        let rows: Vec<Vec<Option<Vec<u8>>>> = pipe.query_async(&mut conn).await?;
        let mut out = Vec::new();
        for ((case_id, since), row) in ids.into_iter().zip(rows) {
            if let Some(h) = DisconnectedHolder::decode(case_id, since as i64, row)?
                && (team.is_empty() || h.team == team)
            {
                out.push(h);
            }
        }
        Ok(out)
    }

    /// Professionals of the team with the profession who are available and connected.
    pub async fn available_of(&self, team: &str, profession: &str) -> Result<Vec<String>> {
        let mut conn = self.conn.clone();
        Ok(redis::cmd("SMEMBERS")
            .arg(self.keys.on_duty(team, profession))
            .query_async(&mut conn)
            .await?)
    }
}
