//! The access log (Act 703/2023): every use of a citizen's data — who, when, what, which case
//! and citizen, why, from where. A change is logged by the script that makes it, in the same
//! step (the entry is the script's last argument; `log_access` in the prelude); a read is
//! logged before its data leaves. Entries are kept by time (`access_log.retention_days`) and
//! never trimmed by count.

use redis::streams::StreamRangeReply;

use super::{Result, Store};
use crate::domain::Purpose;

/// Who uses the data and why, for one call.
#[derive(Debug, Clone)]
pub struct AccessEntry {
    pub by: String,
    pub role: &'static str,
    pub organisation: String,
    pub action: &'static str,
    pub purpose: Purpose,
    pub source: String,
}

impl AccessEntry {
    /// Luotsi itself (load tests, tools), not a person.
    pub fn system(action: &'static str) -> Self {
        Self {
            by: "luotsi".into(),
            role: "system",
            organisation: String::new(),
            action,
            purpose: Purpose::QualityAssurance,
            source: String::new(),
        }
    }

    /// The same caller and purpose, another action.
    pub fn doing(&self, action: &'static str) -> Self {
        Self {
            action,
            ..self.clone()
        }
    }

    /// The script argument: JSON the prelude's `log_access` reads. `min_id` is where trimming
    /// may start: real time (the stream's ids are Redis's `*`) less the retention. An instance
    /// clock off by seconds moves it by seconds against a retention of years.
    pub(super) fn encode(&self, keep_ms: u64) -> String {
        let real_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        serde_json::json!({
            "by": self.by,
            "role": self.role,
            "org": self.organisation,
            "action": self.action,
            "purpose": self.purpose.code(),
            "source": self.source,
            "min_id": real_ms.saturating_sub(keep_ms).to_string(),
        })
        .to_string()
    }
}

/// One stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedAccess {
    /// The stream id (`<ms>-<n>`), a position for paging.
    pub id: String,
    pub at_ms: i64,
    pub by: String,
    pub role: String,
    pub organisation: String,
    pub action: String,
    pub case_id: String,
    pub citizen: String,
    pub purpose: String,
    pub source: String,
}

/// Which entries to read.
#[derive(Debug, Clone, Default)]
pub struct AccessQuery {
    /// Stream positions: from (inclusive) and to (exclusive), in ms of the stream's clock.
    pub from_ms: i64,
    pub to_ms: Option<i64>,
    /// Continue after this entry id.
    pub after: Option<String>,
    pub citizen: Option<String>,
    pub case_id: Option<String>,
    pub limit: usize,
}

impl Store {
    /// Logs reads of cases (GetCase, WatchCase, a supervisor's list) before their data is
    /// answered: one entry per case, in one step.
    pub async fn log_reads(&self, case_ids: &[&str], entry: &AccessEntry) -> Result<()> {
        if case_ids.is_empty() {
            return Ok(());
        }
        let mut inv = self.invoke(&self.scripts.access, self.keys.access());
        for id in case_ids {
            inv.arg(*id);
        }
        inv.arg(entry.encode(self.access_keep_ms));
        let mut conn = self.conn.clone();
        let _: i64 = inv.invoke_async(&mut conn).await?;
        Ok(())
    }

    /// Logs a use of the log itself (`ops` reading it), with no case.
    pub async fn log_log_read(&self, entry: &AccessEntry) -> Result<()> {
        self.log_reads(&[""], entry).await
    }

    /// Reads the access log oldest first, filtered, at most `limit` entries, and whether more
    /// entries follow in the range.
    pub async fn access_log(&self, q: &AccessQuery) -> Result<(Vec<LoggedAccess>, bool)> {
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        let mut start = match &q.after {
            Some(after) => format!("({after}"),
            None => q.from_ms.max(0).to_string(),
        };
        let end = match q.to_ms {
            Some(t) => format!("({}", t.max(0)),
            None => "+".into(),
        };
        const PAGE: usize = 1000;
        loop {
            let page: StreamRangeReply = redis::cmd("XRANGE")
                .arg(self.keys.access())
                .arg(&start)
                .arg(&end)
                .arg("COUNT")
                .arg(PAGE)
                .query_async(&mut conn)
                .await?;
            let n = page.ids.len();
            for e in page.ids {
                start = format!("({}", e.id);
                let get = |k: &str| e.get::<String>(k).unwrap_or_default();
                let entry = LoggedAccess {
                    at_ms: get("at").parse().unwrap_or(0),
                    by: get("by"),
                    role: get("role"),
                    organisation: get("org"),
                    action: get("action"),
                    case_id: get("case"),
                    citizen: get("citizen"),
                    purpose: get("purpose"),
                    source: get("source"),
                    id: e.id.clone(),
                };
                if q.citizen.as_ref().is_some_and(|c| *c != entry.citizen)
                    || q.case_id.as_ref().is_some_and(|c| *c != entry.case_id)
                {
                    continue;
                }
                if out.len() == q.limit {
                    return Ok((out, true));
                }
                out.push(entry);
            }
            if n < PAGE {
                return Ok((out, false));
            }
        }
    }
}
