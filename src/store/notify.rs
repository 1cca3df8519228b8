//! The county's outbound notifications (`notify` in `keys.rs`): call-backs nobody reached, for
//! the county's SMS gateway. The number is stored sealed, as on the case; it is opened here, for
//! the gateway only (`luotsi notifications`).

use std::collections::HashMap;

use super::seal;
use super::{Result, Store, StoreError};

/// One notification, its number opened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    /// The stream entry's id: where to read on from.
    pub id: String,
    pub at_ms: i64,
    pub case_id: String,
    pub team: String,
    /// `attempts_exhausted` or `wrong_number`.
    pub reason: String,
    pub attempts: u32,
    /// The call-back number; None when its data key was destroyed (the case closed and its
    /// day's key went: there is nobody to notify any more).
    pub number: Option<String>,
    pub language: String,
}

impl Store {
    /// Notifications after the entry `after` (`0`: from the oldest kept), at most `count`;
    /// waits up to `block_ms` for one when there is none yet.
    pub async fn notifications(
        &self,
        after: &str,
        count: usize,
        block_ms: Option<u64>,
    ) -> Result<Vec<Notification>> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT").arg(count);
        if let Some(ms) = block_ms {
            cmd.arg("BLOCK").arg(ms);
        }
        cmd.arg("STREAMS").arg(self.keys.notify()).arg(after);
        let reply: Option<redis::streams::StreamReadReply> = cmd.query_async(&mut conn).await?;
        let mut out = Vec::new();
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let f: HashMap<String, String> = entry
                .map
                .iter()
                .map(|(k, v)| Ok((k.clone(), redis::from_redis_value_ref::<String>(v)?)))
                .collect::<Result<_, redis::ParsingError>>()?;
            let get = |k: &str| f.get(k).cloned().unwrap_or_default();
            let case_id = get("case");
            let number = match f.get("number").filter(|n| !n.is_empty()) {
                None => None,
                Some(n) => {
                    let aad = seal::word_aad(&case_id, super::case::field::CALLBACK_NUMBER);
                    self.open_value(&aad, n.clone()).await?
                }
            };
            out.push(Notification {
                at_ms: get("at")
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("notification {}", entry.id)))?,
                attempts: get("attempts").parse().unwrap_or(0),
                team: get("team"),
                reason: get("reason"),
                language: get("language"),
                id: entry.id,
                case_id,
                number,
            });
        }
        Ok(out)
    }
}
