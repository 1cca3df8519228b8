//! The store's side of encryption at rest (`seal.rs`): data keys fetched, made and destroyed in
//! Redis, values sealed before they are written and opened after they are read.

use std::sync::Arc;

use aes_gcm::Aes256Gcm;

use super::case::field;
use super::seal::{self, Purpose, SealError, Sealer};
use super::{CaseRecord, Result, Store};

/// A day's words key older than this many days has its open cases sealed again with today's
/// key by the sweep, so that a long-open case does not keep its first day's key alive.
pub const RESEAL_AFTER_DAYS: i64 = 7;

/// Open cases moved to today's key per old key per sweep (hourly).
const RESEAL_BATCH: usize = 500;

/// What a sweep of the data keys did (`Store::shred_keys`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shredded {
    /// Data keys destroyed, by id.
    pub destroyed: Vec<String>,
    /// Keys kept because open cases are still sealed with them.
    pub held_open: u64,
    /// Open cases whose values moved from a key older than [`RESEAL_AFTER_DAYS`] to today's.
    pub resealed: u64,
    /// Whether Redis was asked to rewrite its append-only file (so no copy of a destroyed
    /// wrapped key stays in it); false when it refused (an external Redis: its operator's
    /// rewrite completes the shredding).
    pub rewrite_started: bool,
}

impl Store {
    /// Seals with the key-encryption key from the key file (`privacy.data_key_file`); until
    /// this is called a store seals with a key kept only in memory.
    pub fn with_sealer(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// The data key `id`: from memory, else unwrapped from Redis; made (and stored, the first
    /// instance to store it wins) when `make` and there is none.
    pub(crate) async fn data_key(&self, id: &str, make: bool) -> Result<Arc<Aes256Gcm>> {
        if let Some(key) = self.sealer.cached(id) {
            return Ok(key);
        }
        let mut conn = self.conn.clone();
        let hash = self.keys.data_keys();
        let mut wrapped: Option<String> = redis::cmd("HGET")
            .arg(&hash)
            .arg(id)
            .query_async(&mut conn)
            .await?;
        if wrapped.is_none() && make {
            let mine = self.sealer.new_wrapped(self.keys.prefix(), id);
            let _: bool = redis::cmd("HSETNX")
                .arg(&hash)
                .arg(id)
                .arg(&mine)
                .query_async(&mut conn)
                .await?;
            wrapped = redis::cmd("HGET")
                .arg(&hash)
                .arg(id)
                .query_async(&mut conn)
                .await?;
        }
        let wrapped = wrapped.ok_or_else(|| SealError::Shredded(id.to_string()))?;
        Ok(self.sealer.unwrap_key(self.keys.prefix(), id, &wrapped)?)
    }

    /// Unwraps every stored data key (kept in memory): a key file other than the one that
    /// wrapped them is refused here, at start, naming both, rather than on a citizen's call.
    pub async fn open_data_keys(&self) -> Result<usize> {
        let mut conn = self.conn.clone();
        let stored: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.data_keys())
            .query_async(&mut conn)
            .await?;
        for (id, wrapped) in &stored {
            self.sealer.unwrap_key(self.keys.prefix(), id, wrapped)?;
        }
        Ok(stored.len())
    }

    /// Wraps every stored data key again under this store's key file, unwrapping those `old`
    /// wrapped (`luotsi rewrap`, with every instance stopped): how many were wrapped again.
    /// A key neither file wrapped stops it, naming the key, before anything is written.
    pub async fn rewrap_data_keys(&self, old: &Sealer) -> Result<usize> {
        let mut conn = self.conn.clone();
        let stored: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.data_keys())
            .query_async(&mut conn)
            .await?;
        let mut moved = Vec::new();
        for (id, wrapped) in &stored {
            if !self.sealer.wrapped_this(wrapped) {
                moved.push(id.clone());
                moved.push(self.sealer.rewrap(old, self.keys.prefix(), id, wrapped)?);
            }
        }
        if !moved.is_empty() {
            let _: () = redis::cmd("HSET")
                .arg(self.keys.data_keys())
                .arg(&moved)
                .query_async(&mut conn)
                .await?;
        }
        Ok(moved.len() / 2)
    }

    /// Seals `plain` with the current data key for `purpose`: the key's id and the sealed value.
    pub(crate) async fn seal_now(
        &self,
        purpose: Purpose,
        aad: &str,
        plain: &str,
    ) -> Result<(String, String)> {
        let id = purpose.key_id(crate::clock::now_ms());
        let key = self.data_key(&id, true).await?;
        let sealed = seal::seal(&key, &id, aad, plain);
        Ok((id, sealed))
    }

    /// A staff-written reason, sealed and wrapped as a token to stand inside a line of text.
    pub(crate) async fn seal_reason(&self, reason: &str) -> Result<String> {
        let (_, sealed) = self
            .seal_now(Purpose::Reasons, seal::REASON_AAD, reason)
            .await?;
        Ok(format!("{{{{{sealed}}}}}"))
    }

    /// Opens a stored value: `None` when its data key was destroyed. A value written before
    /// encryption at rest is returned as it is.
    pub async fn open_value(&self, aad: &str, value: String) -> Result<Option<String>> {
        let Some(id) = seal::key_of(&value) else {
            return Ok(Some(value));
        };
        let key = match self.data_key(id, false).await {
            Ok(key) => key,
            Err(super::StoreError::Seal(SealError::Shredded(id))) => {
                tracing::warn!(key = %id, "a value sealed with a destroyed data key was read");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        Ok(Some(seal::open(&key, aad, &value)?))
    }

    /// Opens a stored value that may be bytes (an encoded classification): empty when its
    /// data key was destroyed; a value written before encryption at rest as it is.
    pub(crate) async fn open_raw_value(&self, aad: &str, value: Vec<u8>) -> Result<Vec<u8>> {
        let Some(id) = std::str::from_utf8(&value).ok().and_then(seal::key_of) else {
            return Ok(value);
        };
        let key = match self.data_key(id, false).await {
            Ok(key) => key,
            Err(super::StoreError::Seal(SealError::Shredded(_))) => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let text = std::str::from_utf8(&value).expect("checked above");
        Ok(seal::open_raw(&key, aad, text)?)
    }

    /// A line of text with its sealed reasons opened (a destroyed key's as "[shredded]").
    pub(crate) async fn open_line(&self, line: &str) -> Result<String> {
        let tokens = seal::tokens(line);
        if tokens.is_empty() {
            return Ok(line.to_string());
        }
        let mut out = String::with_capacity(line.len());
        let mut at = 0;
        for (token, value) in tokens {
            out.push_str(&line[at..token.start]);
            let opened = self
                .open_value(seal::REASON_AAD, line[value].to_string())
                .await?;
            out.push_str(opened.as_deref().unwrap_or("[shredded]"));
            at = token.end;
        }
        out.push_str(&line[at..]);
        Ok(out)
    }

    /// Lines of text (routing reasons) with their sealed reasons opened.
    pub(crate) async fn open_lines(&self, lines: Vec<String>) -> Result<Vec<String>> {
        let mut out = Vec::with_capacity(lines.len());
        for line in lines {
            out.push(self.open_line(&line).await?);
        }
        Ok(out)
    }

    /// A case as read, with its words and reasons opened.
    pub(crate) async fn open_record(&self, mut rec: CaseRecord) -> Result<CaseRecord> {
        if let Some(text) = rec.text.take() {
            rec.text = self
                .open_value(&seal::word_aad(&rec.id, field::TEXT), text)
                .await?;
        }
        if let Some(number) = rec.callback_number.take() {
            rec.callback_number = self
                .open_value(&seal::word_aad(&rec.id, field::CALLBACK_NUMBER), number)
                .await?;
        }
        rec.reasons = self.open_lines(std::mem::take(&mut rec.reasons)).await?;
        rec.classification = self
            .open_raw_value(
                &seal::word_aad(&rec.id, field::CLASSIFICATION),
                std::mem::take(&mut rec.classification),
            )
            .await?;
        Ok(rec)
    }

    /// Open cases not waiting in a queue (offered, in progress, unreachable) that came on a
    /// (UTC) day before `before_ms`'s, per team: read from the open cases each day's words key
    /// keeps (`sealed:<key>`), so a case's age counts by the day its first contact came. At
    /// most `limit` cases are looked at.
    pub async fn stale_open_by_team(
        &self,
        before_ms: i64,
        limit: usize,
    ) -> Result<std::collections::HashMap<String, u64>> {
        let first_fresh = Purpose::Words.key_id(before_ms);
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(self.keys.data_keys())
            .query_async(&mut conn)
            .await?;
        let old: Vec<String> = ids
            .into_iter()
            .filter(|id| id.starts_with('w') && id.as_str() < first_fresh.as_str())
            .map(|id| self.keys.sealed(&id))
            .collect();
        let mut out = std::collections::HashMap::new();
        if old.is_empty() {
            return Ok(out);
        }
        let mut cases: Vec<String> = redis::cmd("SUNION")
            .arg(&old)
            .query_async(&mut conn)
            .await?;
        cases.truncate(limit);
        if cases.is_empty() {
            return Ok(out);
        }
        let mut pipe = redis::pipe();
        for id in &cases {
            pipe.cmd("HMGET")
                .arg(self.keys.case(id))
                .arg(&[field::TEAM, field::STATUS]);
        }
        let rows: Vec<(Option<String>, Option<String>)> = pipe.query_async(&mut conn).await?;
        for (team, status) in rows {
            let open_not_waiting = matches!(
                status.as_deref(),
                Some("offered" | "in_progress" | "unreachable")
            );
            if let (Some(team), true) = (team, open_not_waiting) {
                *out.entry(team).or_default() += 1;
            }
        }
        Ok(out)
    }

    /// Seals an open case's values that `old` sealed again with today's words key (its words,
    /// number and classification, and its joined contacts' classifications): whether it moved
    /// (false when the case changed meanwhile; the next sweep tries again).
    async fn reseal_case(&self, case_id: &str, old: &str) -> Result<bool> {
        let new = Purpose::Words.key_id(crate::clock::now_ms());
        if new == old {
            return Ok(false);
        }
        let fresh = self.data_key(&new, true).await?;
        let stale = self.data_key(old, false).await?;
        let mut conn = self.conn.clone();
        let fields = [field::TEXT, field::CALLBACK_NUMBER, field::CLASSIFICATION];
        let (words, contacts): (Vec<Option<Vec<u8>>>, Vec<String>) = redis::pipe()
            .cmd("HMGET")
            .arg(self.keys.case_words(case_id))
            .arg(&fields)
            .smembers(self.keys.case_contacts(case_id))
            .query_async(&mut conn)
            .await?;
        let mut inv = self.invoke(&self.scripts.reseal, self.keys.case(case_id));
        let mut moved_words = Vec::new();
        for (name, value) in fields.iter().zip(words) {
            let Some(value) = value.and_then(|v| String::from_utf8(v).ok()) else {
                continue;
            };
            if seal::key_of(&value) != Some(old) {
                continue;
            }
            let aad = seal::word_aad(case_id, name);
            let plain = seal::open_raw(&stale, &aad, &value)?;
            moved_words.push((*name, value, seal::seal_raw(&fresh, &new, &aad, &plain)));
        }
        inv.arg(case_id).arg(old).arg(&new).arg(moved_words.len());
        for (name, was, now) in &moved_words {
            inv.arg(*name).arg(was).arg(now);
        }
        for contact in contacts {
            let class: Option<String> = redis::cmd("HGET")
                .arg(self.keys.contact(&contact))
                .arg(field::CLASSIFICATION)
                .query_async(&mut conn)
                .await?;
            let Some(class) = class.filter(|c| seal::key_of(c) == Some(old)) else {
                continue;
            };
            let aad = seal::word_aad(&contact, field::CLASSIFICATION);
            let plain = seal::open_raw(&stale, &aad, &class)?;
            let again = seal::seal_raw(&fresh, &new, &aad, &plain);
            inv.arg(&contact).arg(&class).arg(again);
        }
        let moved: i64 = inv.invoke_async(&mut conn).await?;
        Ok(moved == 1)
    }

    /// Destroys the data keys whose retention is over: a words key once its day is over and
    /// no open case is sealed with it; a reasons key when `reasons_keep_days` have passed since
    /// its month ended. Then asks Redis to rewrite its append-only file, so that the wrapped
    /// keys are not left in it either.
    pub async fn shred_keys(&self, reasons_keep_days: u64) -> Result<Shredded> {
        let now = crate::clock::now_ms();
        // A day's key once the day is over by an hour: an instance whose clock is a little
        // behind may still seal with it just after midnight.
        let in_use_an_hour_ago = Purpose::Words.key_id(now - 3_600_000);
        let reseal_before = Purpose::Words.key_id(now - RESEAL_AFTER_DAYS * 86_400_000);
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("HKEYS")
            .arg(self.keys.data_keys())
            .query_async(&mut conn)
            .await?;
        let mut done = Shredded::default();
        for id in ids {
            let due = match id.as_bytes().first() {
                Some(b'w') if id.as_str() < in_use_an_hour_ago.as_str() => {
                    // A case open longer than a week moves to today's key, so that its first
                    // day's key — and with it every copy of that day's closed cases — goes.
                    if id.as_str() < reseal_before.as_str() {
                        let open: Vec<String> = redis::cmd("SRANDMEMBER")
                            .arg(self.keys.sealed(&id))
                            .arg(RESEAL_BATCH)
                            .query_async(&mut conn)
                            .await?;
                        for case in open {
                            if self.reseal_case(&case, &id).await? {
                                done.resealed += 1;
                            }
                        }
                    }
                    let open: u64 = redis::cmd("SCARD")
                        .arg(self.keys.sealed(&id))
                        .query_async(&mut conn)
                        .await?;
                    if open > 0 {
                        done.held_open += 1;
                    }
                    open == 0
                }
                Some(b'r') => month_end_ms(&id[1..])
                    .is_some_and(|end| end + reasons_keep_days as i64 * 86_400_000 < now),
                _ => false,
            };
            if !due {
                continue;
            }
            // Destroyed only while still unused: a case sealed with it meanwhile keeps it.
            let destroyed: i64 = self
                .invoke(&self.scripts.shred, self.keys.data_keys())
                .arg(&id)
                .invoke_async(&mut conn)
                .await?;
            if destroyed == 1 {
                self.sealer.forget(&id);
                tracing::info!(key = %id, "data key destroyed at the end of its retention");
                done.destroyed.push(id);
            }
        }
        if !done.destroyed.is_empty() {
            let rewrite: redis::RedisResult<redis::Value> =
                redis::cmd("BGREWRITEAOF").query_async(&mut conn).await;
            match rewrite {
                Ok(_) => done.rewrite_started = true,
                Err(e) => tracing::info!(
                    error = %e,
                    "Redis did not rewrite its append-only file: the destroyed keys' wrapped \
                     copies leave it at its next rewrite"
                ),
            }
        }
        Ok(done)
    }
}

/// The end of the month `yyyymm` (the first ms of the next), in UTC.
fn month_end_ms(yyyymm: &str) -> Option<i64> {
    let y: i32 = yyyymm.get(..4)?.parse().ok()?;
    let m: u32 = yyyymm.get(4..6)?.parse().ok()?;
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    let first = chrono::NaiveDate::from_ymd_opt(y, m, 1)?.and_hms_opt(0, 0, 0)?;
    Some(first.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_month_ends_where_the_next_begins() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            super::month_end_ms("202611"),
            Some(at("2026-12-01T00:00:00Z"))
        );
        assert_eq!(
            super::month_end_ms("202612"),
            Some(at("2027-01-01T00:00:00Z"))
        );
        assert_eq!(super::month_end_ms("2026"), None);
        assert_eq!(super::month_end_ms("202613"), None);
    }
}
