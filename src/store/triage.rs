//! The first look: cases whose classification no person has confirmed yet (by arrival and by
//! due time), a professional's confirmation or correction in one script with its record, and
//! the record read back for GetStats and the county's own evaluation.

use std::collections::HashMap;

use super::case::{Fields, field};
use super::{CaseRecord, Result, Store, StoreError};
use crate::domain::triage::{Retriage, TriageReason};
use crate::domain::{CaseStatus, Channel, Need, Urgency};

/// A case waiting for its first look, as the triage nurse's list shows it: routing facts only.
#[derive(Debug, Clone, PartialEq)]
pub struct UnconfirmedCase {
    pub case_id: String,
    pub needs: Vec<Need>,
    pub urgency: Urgency,
    pub channel: Channel,
    pub status: CaseStatus,
    pub queue: String,
    pub created_ms: i64,
    pub first_look_due_ms: Option<i64>,
    /// prost-encoded `pb::Classification` (for its triage flags).
    pub classification: Vec<u8>,
}

/// The fields the list reads: never the text, the call-back number or the citizen. The
/// classification, kept with the case's words, is read beside them (and from the case hash for a
/// case written before).
const ROW_FIELDS: [&str; 8] = [
    field::NEEDS,
    field::URGENCY,
    field::CHANNEL,
    field::STATUS,
    field::QUEUE,
    field::CREATED,
    field::FIRST_LOOK_DUE,
    field::CLASSIFICATION,
];

impl UnconfirmedCase {
    fn decode(case_id: String, row: Vec<Option<Vec<u8>>>) -> Result<Self> {
        let map: HashMap<String, Vec<u8>> = ROW_FIELDS
            .iter()
            .zip(row)
            .filter_map(|(k, v)| v.map(|v| (k.to_string(), v)))
            .collect();
        let f = Fields::new("case", &map);
        Ok(UnconfirmedCase {
            needs: f.list(field::NEEDS)?,
            urgency: f.parse(field::URGENCY)?,
            channel: f.parse(field::CHANNEL)?,
            status: f.parse(field::STATUS)?,
            queue: f.text(field::QUEUE)?.to_string(),
            created_ms: f.parse(field::CREATED)?,
            first_look_due_ms: f.parse_opt(field::FIRST_LOOK_DUE)?,
            classification: f.bytes(field::CLASSIFICATION),
            case_id,
        })
    }
}

/// A professional's first look, decided: `retriage` is what the case becomes (equal to what
/// it is when the classification is kept), `seen` what the decision was made on.
pub struct Confirmation<'a> {
    pub seen: &'a CaseRecord,
    pub by: &'a str,
    pub reason: Option<TriageReason>,
    pub retriage: &'a Retriage,
    /// The access-log entry, written in the same step.
    pub access: &'a super::AccessEntry,
}

/// How many ids one page of the county-wide first-look index reads.
const SCAN_PAGE: isize = 500;

impl Store {
    /// The team's cases awaiting a first look, oldest first: page `page` of `page_size`, and
    /// how many there are in all.
    pub async fn unconfirmed(
        &self,
        team: &str,
        page: usize,
        page_size: usize,
    ) -> Result<(Vec<UnconfirmedCase>, u64)> {
        let mut conn = self.conn.clone();
        let key = self.keys.first_look();
        let skip = page.saturating_mul(page_size);
        let mut ids: Vec<String> = Vec::new();
        let mut total = 0u64;
        let mut start = 0isize;
        // The index is county-wide (a case may change team before anyone looks at it): read it
        // a page at a time with each case's team now.
        loop {
            let page_ids: Vec<String> = redis::cmd("ZRANGE")
                .arg(&key)
                .arg(start)
                .arg(start + SCAN_PAGE - 1)
                .query_async(&mut conn)
                .await?;
            if page_ids.is_empty() {
                break;
            }
            let mut pipe = redis::pipe();
            for id in &page_ids {
                pipe.hget(self.keys.case(id), field::TEAM);
            }
            let teams: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
            for (id, t) in page_ids.iter().zip(teams) {
                if t.as_deref() == Some(team) {
                    if total >= skip as u64 && ids.len() < page_size {
                        ids.push(id.clone());
                    }
                    total += 1;
                }
            }
            if (page_ids.len() as isize) < SCAN_PAGE {
                break;
            }
            start += SCAN_PAGE;
        }
        if ids.is_empty() {
            return Ok((Vec::new(), total));
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.cmd("HMGET").arg(self.keys.case(id)).arg(&ROW_FIELDS);
            pipe.hget(self.keys.case_words(id), field::CLASSIFICATION);
        }
        let flat: Vec<redis::Value> = pipe.query_async(&mut conn).await?;
        let mut rows = Vec::with_capacity(ids.len());
        for pair in flat.chunks(2) {
            let mut row: Vec<Option<Vec<u8>>> = redis::from_redis_value_ref(&pair[0])?;
            let class: Option<Vec<u8>> = redis::from_redis_value_ref(&pair[1])?;
            // A case written before the words had their own hash keeps it with it.
            if let Some(class) = class {
                row[ROW_FIELDS.len() - 1] = Some(class);
            }
            rows.push(row);
        }
        let mut cases = Vec::with_capacity(rows.len());
        for (id, row) in ids.into_iter().zip(rows) {
            let mut case = UnconfirmedCase::decode(id, row)?;
            let aad = super::seal::word_aad(&case.case_id, field::CLASSIFICATION);
            case.classification = self
                .open_raw_value(&aad, std::mem::take(&mut case.classification))
                .await?;
            cases.push(case);
        }
        Ok((cases, total))
    }

    /// Cases past their first-look time with no confirmation, per team (at most 10 000 read).
    pub async fn first_look_overdue(&self, now_ms: i64) -> Result<HashMap<String, u64>> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.first_look_due())
            .arg("-inf")
            .arg(format!("({now_ms}"))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        let mut out = HashMap::new();
        if ids.is_empty() {
            return Ok(out);
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hget(self.keys.case(id), field::TEAM);
        }
        let teams: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        for t in teams.into_iter().flatten() {
            *out.entry(t).or_default() += 1;
        }
        Ok(out)
    }

    /// Records a first look and, when the classification changed, re-routes the case, in one
    /// step.
    pub async fn confirm_triage(&self, c: &Confirmation<'_>) -> Result<()> {
        let r = c.retriage;
        let u = &r.urgency;
        let csv = |needs: &[Need]| needs.iter().map(|n| n.code()).collect::<Vec<_>>().join(",");
        let changed = r.needs_changed || u.urgency != c.seen.urgency;
        let mut inv = self.invoke(&self.scripts.triage, self.keys.case(&c.seen.id));
        inv.arg(&c.seen.id)
            .arg(c.by)
            .arg(c.reason.map_or("", |r| r.code()))
            .arg(r.direction.code())
            .arg(if r.needs_changed { "1" } else { "0" })
            .arg(if changed { "1" } else { "0" })
            .arg(c.seen.urgency.code())
            .arg(csv(&c.seen.needs))
            .arg(&c.seen.team)
            .arg(csv(&r.needs))
            .arg(format!(
                ",{},",
                r.professions
                    .iter()
                    .map(|p| p.code())
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .arg(&r.team)
            .arg(u.urgency.code())
            .arg(u.urgency.rank())
            .arg(u.score.to_string())
            .arg(u.deadline_ms)
            .arg(&u.rule)
            .arg(&u.queue)
            .arg(&u.sub_queue)
            .arg(&u.law)
            .arg(
                u.statutory
                    .as_ref()
                    .map(|d| d.at.timestamp_millis().to_string())
                    .unwrap_or_default(),
            )
            .arg(u.statutory.as_ref().map_or("", |d| d.name.as_str()))
            .arg(u.statutory.as_ref().and_then(|d| d.law).unwrap_or(""))
            .arg(r.reasons.join("\n"))
            .arg(c.access.encode(self.access_keep_ms));
        let mut conn = self.conn.clone();
        let reply: Vec<String> = inv.invoke_async(&mut conn).await?;
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(()),
            Some("missing") => Err(StoreError::NotFound("case")),
            Some("refused") => Err(StoreError::Conflict(format!(
                "the case is {}: its triage can no longer be confirmed",
                reply.get(1).map(String::as_str).unwrap_or("closed")
            ))),
            Some("confirmed") => Err(StoreError::Conflict(
                "the case's triage was already confirmed; a supervisor may still change it".into(),
            )),
            Some("changed") => Err(StoreError::Conflict(
                "the case changed while it was being looked at; read it again".into(),
            )),
            _ => Err(StoreError::Corrupt("triage reply".into())),
        }
    }

    /// Calls `f` with every first look recorded between `from_ms` and `to_ms`, oldest first.
    pub async fn for_each_triage_entry(
        &self,
        from_ms: i64,
        to_ms: i64,
        f: impl FnMut(&HashMap<String, String>),
    ) -> Result<()> {
        self.for_each_entry(self.keys.triage(), from_ms, to_ms, f)
            .await
    }
}
