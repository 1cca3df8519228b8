//! Redis, the system of record: queues, cases, offers, presence and the event channel.
//!
//! Each state change of a case is one Lua script (`lua/*.lua`, each prefixed with
//! `lua/prelude.lua`), so one round trip moves a case atomically from one place to exactly one
//! other. Nothing outside this module knows a key name. Reads that need no atomicity are
//! pipelined.

mod access;
mod case;
mod conn;
pub mod connect;
mod events;
pub mod keys;
mod notify;
pub mod seal;
mod sealing;
mod subscription;
mod supervision;
mod triage;

use std::collections::HashMap;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redis::Script;

pub use access::{AccessEntry, AccessQuery, LoggedAccess};
pub use case::{CaseRecord, NewCase, Statutory};
pub use conn::Durability;
pub use connect::{ConnectError, ConnectOptions};
pub use events::{Event, Reserved};
pub use keys::Keys;
pub use notify::Notification;
pub use sealing::Shredded;
pub use subscription::EventFeed;
pub use supervision::{
    Action, AuditEntry, BOARD_QUEUES, DisconnectedHolder, QueuedCase, StaffState, TeamFigures,
    TeamQuery, TileFigures,
};
pub use triage::{Confirmation, UnconfirmedCase};

use crate::domain::intake::OpenCase;
use crate::domain::routing::Member;
use crate::domain::{CallOutcome, CaseStatus, Channel, Need, Outcome, Presence};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The case is not in the state the request assumes (not offered to you, already closed…).
    #[error("{0}")]
    Conflict(String),
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Seal(#[from] seal::SealError),
}

impl StoreError {
    /// Redis did not answer, or not yet (a lost connection, a time-out, Redis still loading):
    /// worth a retry, unlike a refused script or damaged data.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Redis(e) if !matches!(e.retry_method(), redis::RetryMethod::NoRetry))
    }
}

impl From<redis::ParsingError> for StoreError {
    fn from(e: redis::ParsingError) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

struct Scripts {
    submit: Script,
    requeue: Script,
    expire: Script,
    accept: Script,
    complete: Script,
    cancel: Script,
    presence: Script,
    supervise: Script,
    callback: Script,
    handover: Script,
    access: Script,
    renew: Script,
    lapse: Script,
    unleased: Script,
    triage: Script,
    attempt: Script,
    shred: Script,
    reseal: Script,
}

impl Scripts {
    fn load() -> Self {
        let with_prelude =
            |body: &str| Script::new(&format!("{}\n{body}", include_str!("lua/prelude.lua")));
        Self {
            submit: with_prelude(include_str!("lua/submit.lua")),
            requeue: with_prelude(include_str!("lua/requeue.lua")),
            expire: with_prelude(include_str!("lua/expire.lua")),
            accept: with_prelude(include_str!("lua/accept.lua")),
            complete: with_prelude(include_str!("lua/complete.lua")),
            cancel: with_prelude(include_str!("lua/cancel.lua")),
            presence: with_prelude(include_str!("lua/presence.lua")),
            attempt: with_prelude(include_str!("lua/attempt.lua")),
            supervise: with_prelude(include_str!("lua/supervise.lua")),
            callback: with_prelude(include_str!("lua/callback.lua")),
            handover: with_prelude(include_str!("lua/handover.lua")),
            // Standalone: a logged read pays one small script, not the routing helpers.
            access: Script::new(include_str!("lua/access.lua")),
            renew: with_prelude(include_str!("lua/renew.lua")),
            lapse: with_prelude(include_str!("lua/lapse.lua")),
            unleased: with_prelude(include_str!("lua/unleased.lua")),
            triage: with_prelude(include_str!("lua/triage.lua")),
            shred: Script::new(include_str!("lua/shred.lua")),
            reseal: with_prelude(include_str!("lua/reseal.lua")),
        }
    }
}

/// A handle on the county's Redis state, standalone or a cluster. Cheap to clone: one
/// multiplexed connection that reconnects by itself after a Redis restart or a failover, shared
/// by every clone. Work that must not queue behind the calls (health checks, the board, the
/// reaper) takes [`Store::with_own_connection`].
#[derive(Clone)]
pub struct Store {
    conn: conn::Conn,
    /// Where `conn` goes, for another connection like it.
    target: Arc<conn::Target>,
    /// The target in an error message: its URL (or first seed) without the password.
    shown: Arc<str>,
    keys: Keys,
    scripts: std::sync::Arc<Scripts>,
    /// Routing policy the county may change while the service runs (`ConfigCell::reload`),
    /// shared by every clone.
    policy: Arc<LivePolicy>,
    /// How long access-log entries are kept (ms).
    access_keep_ms: u64,
    /// How long a connected professional's presence lease lasts after each renewal.
    presence_lease_ms: u64,
    /// Seals the citizen's words and number and staff-written reasons (`seal.rs`).
    sealer: seal::Sealer,
}

/// The part of the routing policy the scripts are given that may change while running.
struct LivePolicy {
    offer_ttl_ms: AtomicU64,
    e_service_during_call: AtomicBool,
}

/// What a recorded call attempt did (`failed`: failed attempts so far).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallAttempted {
    Answered {
        failed: u32,
    },
    /// Back in its queue, offered to nobody before `next_at_ms`.
    Retry {
        failed: u32,
        next_at_ms: i64,
    },
    Unreachable {
        failed: u32,
    },
}

/// A call-back nobody could reach, as supervisors see it (no number, no words).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableCase {
    pub case_id: String,
    pub team: String,
    pub since_ms: i64,
    pub attempts: u32,
    /// `attempts_exhausted` or `wrong_number`.
    pub why: String,
    pub deadline_ms: i64,
}

/// What `submit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// A new case: offered at once (`position` None) or queued at a 0-based place, with the
    /// professionals available on its channel.
    New {
        position: Option<u64>,
        available: u64,
    },
    /// Joined the citizen's open case.
    Joined { contact_id: String, case_id: String },
    /// A retry: the first answer's contact and case.
    Duplicate { contact_id: String, case_id: String },
}

/// What `submit` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    Done(Submitted),
    /// Nothing was written: the plan assumed another open case of the citizen than the one
    /// stored (or none). Plan again with this one.
    Replan(Option<OpenCase>),
}

/// What AcceptOffer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// The professional now holds the case; `late` when this was its first response and after
    /// its deadline.
    Taken { late: bool },
    /// They already held it: nothing changed.
    Again,
    /// A consultation request answered; the case stays with its holder.
    Consulted,
}

/// A presence lease after its renewal was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// The stream still holds the connection; the lease runs on.
    Renewed,
    /// A newer Offers stream holds the professional's connection: this one must end.
    Replaced,
    /// The lease ran out first and the professional went offline for routing; connecting
    /// again brings them back.
    Lapsed,
}

/// What a sweep of lapsed presence leases did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lapsed {
    pub professionals: u64,
    pub offers_placed: u64,
}

/// A professional's live state as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProState {
    pub presence: Option<Presence>,
    pub capacity: [u32; 3],
    pub load: [u32; 3],
}

/// Presence change: `None` fields are left as they are.
#[derive(Debug, Clone, Default)]
pub struct PresenceChange<'a> {
    pub presence: Option<Presence>,
    pub capacity: [Option<u32>; 3],
    pub connection: Option<Connection<'a>>,
}

#[derive(Debug, Clone, Copy)]
pub enum Connection<'a> {
    Set(&'a str),
    /// Set again after the lease lapsed, unless a newer stream took the connection meanwhile.
    Rejoin(&'a str),
    Clear(&'a str),
}

/// Due entries (expired offers, ended waits, overflow steps, chat limits) one reaper script
/// takes: with 100 000 cases waiting, a batch this size keeps each script well under 2 ms
/// (BENCHMARKS.md, "Redis commands per contact").
pub const REAP_BATCH: u32 = 8;

/// Professionals whose lease lapsed that one script takes offline (each may have offers to
/// place again).
pub const LAPSE_BATCH: u32 = 8;

pub const CHANNEL_ORDER: [Channel; 3] = [Channel::Phone, Channel::Chat, Channel::EService];

fn channel_index(ch: Channel) -> usize {
    CHANNEL_ORDER
        .iter()
        .position(|c| *c == ch)
        .expect("every channel is listed")
}

impl Store {
    /// Connects with the default time-outs; the connection manager reconnects by itself after
    /// Redis restarts.
    pub async fn connect(url: &str, county: &str, offer_ttl: std::time::Duration) -> Result<Self> {
        Self::connect_with(url, county, offer_ttl, ConnectOptions::default()).await
    }

    /// Connects, waiting for Redis as long as the options' time-outs say. A URL Luotsi will not
    /// use, or a first connection that fails, is a [`ConnectError`] naming the URL without its
    /// password.
    pub async fn connect_with(
        url: &str,
        county: &str,
        offer_ttl: std::time::Duration,
        options: ConnectOptions,
    ) -> Result<Self> {
        let target = conn::Target::standalone(url, &options)?;
        Self::connect_to(target, url, county, offer_ttl).await
    }

    /// Connects to a Redis Cluster through its `seeds` (`redis.cluster`). Every key of the county
    /// is in one hash slot, so each script runs whole on the node that owns it.
    pub async fn connect_cluster(
        seeds: &[String],
        county: &str,
        offer_ttl: std::time::Duration,
        options: ConnectOptions,
    ) -> Result<Self> {
        let target = conn::Target::cluster(seeds, &options)?;
        let shown = seeds.first().map(String::as_str).unwrap_or_default();
        Self::connect_to(target, shown, county, offer_ttl).await
    }

    async fn connect_to(
        target: conn::Target,
        url: &str,
        county: &str,
        offer_ttl: std::time::Duration,
    ) -> Result<Self> {
        let keys = Keys::new(county);
        let conn = target
            .connect(keys.prefix(), Durability::PRIMARY, url)
            .await?;
        Ok(Self {
            conn,
            target: Arc::new(target),
            shown: connect::redacted(url).into(),
            keys,
            scripts: std::sync::Arc::new(Scripts::load()),
            policy: Arc::new(LivePolicy {
                offer_ttl_ms: AtomicU64::new(offer_ttl.as_millis() as u64),
                e_service_during_call: AtomicBool::new(true),
            }),
            access_keep_ms: 2 * 366 * 86_400_000,
            presence_lease_ms: crate::config::DispatchConfig::default().presence_lease_ms,
            // Replaced by the key file's (`with_sealer`) wherever data must outlive the process.
            sealer: seal::Sealer::ephemeral(),
        })
    }

    /// The same store on a connection of its own. Commands on one connection are answered in
    /// order, so a health check or a board read sharing the calls' connection waits behind
    /// every call in flight; on its own it waits only for Redis. It waits for no replica: what
    /// runs on it (leases, the reaper, the board) answers no caller, and must go on while a
    /// replica is away.
    pub async fn with_own_connection(&self) -> Result<Self> {
        let conn = self
            .target
            .connect(self.keys.prefix(), Durability::PRIMARY, &self.shown)
            .await?;
        Ok(Self {
            conn,
            ..self.clone()
        })
    }

    /// Answers each state change only once `durability.replicas` replicas have it
    /// (`redis.wait_replicas`); a change that does not reach them in time fails UNAVAILABLE,
    /// and the caller's retry with the same idempotency key gets the first answer.
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.conn.set_durability(durability);
        self
    }

    /// Is this a Redis Cluster?
    pub fn is_cluster(&self) -> bool {
        self.target.is_cluster()
    }

    /// Starts a script invocation with the arguments every script takes: the county prefix,
    /// the time now, and the offer time-out.
    fn invoke<'a>(&self, script: &'a Script, key: String) -> redis::ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        inv.key(key)
            .arg(self.keys.prefix())
            .arg(crate::clock::now_ms())
            .arg(self.policy.offer_ttl_ms.load(Ordering::Relaxed));
        inv
    }

    /// Sets how long the access log keeps its entries (from `access_log.retention_days`).
    pub fn with_access_retention(mut self, days: u64) -> Self {
        self.access_keep_ms = days * 86_400_000;
        self
    }

    /// Sets the policy of e-service work during a call (from `routing.e_service_during_call`).
    pub fn with_e_service_during_call(self, allow: bool) -> Self {
        self.set_policy(None, allow);
        self
    }

    /// Changes the offer time-out (when given) and the policy of e-service work during a call
    /// for every clone of this store, from the next script on.
    pub fn set_policy(&self, offer_ttl: Option<std::time::Duration>, e_service_during_call: bool) {
        if let Some(ttl) = offer_ttl {
            self.policy
                .offer_ttl_ms
                .store(ttl.as_millis() as u64, Ordering::Relaxed);
        }
        self.policy
            .e_service_during_call
            .store(e_service_during_call, Ordering::Relaxed);
    }

    /// Sets the presence lease (from `dispatch.presence_lease_ms`).
    pub fn with_presence_lease(mut self, lease: std::time::Duration) -> Self {
        self.presence_lease_ms = lease.as_millis() as u64;
        self
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub async fn ping(&self) -> Result<()> {
        let mut c = self.conn.clone();
        let _: String = redis::cmd("PING").query_async(&mut c).await?;
        Ok(())
    }

    /// Writes the contact in one script: a retry, a join of the citizen's open case, or a new
    /// case offered or queued. The citizen's open case is checked in the same step against the
    /// one the plan assumed (`NewCase::open_case`).
    pub async fn submit(&self, c: &NewCase<'_>) -> Result<Submission> {
        // The citizen's words and number, and the classification quoting them, are sealed
        // with the day's data key (`seal.rs`).
        let seal_id = seal::Purpose::Words.key_id(crate::clock::now_ms());
        let key = self.data_key(&seal_id, true).await?;
        let mut inv = self.invoke(&self.scripts.submit, self.keys.case(&c.case_id));
        inv.arg(&c.contact_id)
            .arg(&c.case_id)
            .arg(c.idempotency_key)
            .arg(c.idempotency_ttl_secs)
            .arg(c.citizen.unwrap_or(""))
            .arg(c.plan.urgency.rank())
            // A joined contact keeps its own classification (sealed: its evidence quotes the
            // citizen's words), under the contact's id.
            .arg(seal::seal_raw(
                &key,
                &seal_id,
                &seal::word_aad(&c.contact_id, case::field::CLASSIFICATION),
                &c.classification,
            ))
            .arg(
                c.plan
                    .needs
                    .iter()
                    .map(|n| n.code())
                    .collect::<Vec<_>>()
                    .join(","),
            )
            .arg(c.access_hash)
            .arg(match &c.open_case {
                None => "-".to_string(),
                Some(None) => String::new(),
                Some(Some(o)) => format!("{},{}", o.team, o.holder.as_deref().unwrap_or("")),
            });
        for (k, v) in c.fields() {
            if k == case::field::TEXT
                || k == case::field::CALLBACK_NUMBER
                || k == case::field::CLASSIFICATION
            {
                let aad = seal::word_aad(&c.case_id, k);
                inv.arg(k).arg(seal::seal_raw(&key, &seal_id, &aad, &v));
            } else {
                inv.arg(k).arg(v);
            }
        }
        inv.arg(case::field::SEAL).arg(&seal_id);
        let mut conn = self.conn.clone();
        let reply: Vec<redis::Value> = inv.invoke_async(&mut conn).await?;
        let s = |i: usize| -> Result<String> {
            match reply.get(i) {
                Some(v) => redis::from_redis_value_ref(v).map_err(StoreError::from),
                None => Err(StoreError::Corrupt("submit reply".into())),
            }
        };
        let n = |i: usize| -> i64 {
            reply
                .get(i)
                .and_then(|v| redis::from_redis_value_ref::<Option<i64>>(v).ok().flatten())
                .unwrap_or(0)
        };
        let done = match s(0)?.as_str() {
            "new" => Submitted::New {
                position: u64::try_from(n(3)).ok(),
                available: n(4).max(0) as u64,
            },
            "joined" => Submitted::Joined {
                contact_id: s(1)?,
                case_id: s(2)?,
            },
            "dup" => Submitted::Duplicate {
                contact_id: s(1)?,
                case_id: s(2)?,
            },
            "replan" => {
                let team = s(1)?;
                let holder = s(2)?;
                return Ok(Submission::Replan((!team.is_empty()).then(|| OpenCase {
                    team,
                    holder: (!holder.is_empty()).then_some(holder),
                })));
            }
            other => return Err(StoreError::Corrupt(format!("submit answered {other}"))),
        };
        Ok(Submission::Done(done))
    }

    /// Takes an offer back to the queue. Returns whether it was still offered to `holder`.
    pub async fn requeue(&self, case_id: &str, holder: &str, reason: &str) -> Result<bool> {
        let mut conn = self.conn.clone();
        let n: i64 = self
            .invoke(&self.scripts.requeue, self.keys.case(case_id))
            .arg(case_id)
            .arg(holder)
            .arg(reason)
            .invoke_async(&mut conn)
            .await?;
        Ok(n == 1)
    }

    /// Returns expired offers to their queues, opens cases whose language or continuity wait
    /// ran out to more professionals, and takes due overflow steps: how many of each, taking
    /// at most about `limit` due entries. The work goes in scripts of [`REAP_BATCH`] entries
    /// each, so that no one script holds Redis for long however many cases are due; other
    /// clients' commands run between them.
    pub async fn expire_offers(&self, limit: u32) -> Result<(u64, u64, u64)> {
        let mut conn = self.conn.clone();
        let mut total = (0, 0, 0);
        for _ in 0..limit.div_ceil(REAP_BATCH).max(1) {
            let (expired, relaxed, moved, more): (u64, u64, u64, u8) = self
                .invoke(&self.scripts.expire, self.keys.offers())
                .arg(REAP_BATCH)
                .invoke_async(&mut conn)
                .await?;
            total = (total.0 + expired, total.1 + relaxed, total.2 + moved);
            if more == 0 {
                break;
            }
        }
        Ok(total)
    }

    fn check(reply: Vec<String>) -> Result<Vec<String>> {
        match reply.first().map(String::as_str) {
            Some("ok") => Ok(reply),
            Some("missing") => Err(StoreError::NotFound("case")),
            Some("expired") => Err(StoreError::Conflict(
                "the offer expired and the case went back to its queue".into(),
            )),
            Some("not_yours") => Err(StoreError::Conflict(format!(
                "the case is {} and not held by this professional",
                reply.get(1).map(String::as_str).unwrap_or("closed")
            ))),
            _ => Err(StoreError::Corrupt("script reply".into())),
        }
    }

    /// Accepts an offer (or answers a consultation request); the case as it is afterwards.
    pub async fn accept(
        &self,
        case_id: &str,
        pro: &str,
        access: &AccessEntry,
    ) -> Result<(Accepted, CaseRecord)> {
        let mut conn = self.conn.clone();
        let r: Vec<redis::Value> = self
            .invoke(&self.scripts.accept, self.keys.case(case_id))
            .arg(case_id)
            .arg(pro)
            .arg(today())
            .arg(access.encode(self.access_keep_ms))
            .invoke_async(&mut conn)
            .await?;
        let (head, case) = Self::check_with_case(case_id, r, 3)?;
        let case = self.open_record(case).await?;
        let accepted = match head.get(1).map(String::as_str) {
            Some("again") => Accepted::Again,
            Some("consulted") => Accepted::Consulted,
            _ => Accepted::Taken {
                late: head.get(2).map(String::as_str) == Some("1"),
            },
        };
        Ok((accepted, case))
    }

    /// A script's answer that ends with the case (field/value pairs, then its contact ids)
    /// after `strings` leading strings: those strings, and the case decoded.
    fn check_with_case(
        case_id: &str,
        reply: Vec<redis::Value>,
        strings: usize,
    ) -> Result<(Vec<String>, CaseRecord)> {
        let head: Vec<String> = reply
            .iter()
            .take(strings)
            .map(|v| redis::from_redis_value_ref(v).map_err(StoreError::from))
            .collect::<Result<_>>()?;
        let head = Self::check(head)?;
        let (Some(fields), Some(contacts)) = (reply.get(strings), reply.get(strings + 1)) else {
            return Err(StoreError::Corrupt("script reply without the case".into()));
        };
        let fields: HashMap<String, Vec<u8>> = redis::from_redis_value_ref(fields)?;
        let contacts: Vec<String> = redis::from_redis_value_ref(contacts)?;
        Ok((head, CaseRecord::decode(case_id, &fields, contacts)?))
    }

    /// Completes the case; the case as closed.
    pub async fn complete(
        &self,
        case_id: &str,
        pro: &str,
        outcome: Outcome,
        retention_secs: u64,
        access: &AccessEntry,
    ) -> Result<CaseRecord> {
        let mut conn = self.conn.clone();
        let r: Vec<redis::Value> = self
            .invoke(&self.scripts.complete, self.keys.case(case_id))
            .arg(case_id)
            .arg(pro)
            .arg(outcome.code())
            .arg(retention_secs)
            .arg(access.encode(self.access_keep_ms))
            .invoke_async(&mut conn)
            .await?;
        let (_, case) = Self::check_with_case(case_id, r, 1)?;
        self.open_record(case).await
    }

    /// Records a call-back attempt by the professional holding the phone case: see
    /// `lua/attempt.lua`. `spacing` is the wait after each failed attempt.
    pub async fn record_call_attempt(
        &self,
        case_id: &str,
        pro: &str,
        outcome: CallOutcome,
        allowed: u32,
        spacing: &[std::time::Duration],
        access: &AccessEntry,
    ) -> Result<CallAttempted> {
        let mut conn = self.conn.clone();
        let spacing: Vec<String> = spacing.iter().map(|d| d.as_millis().to_string()).collect();
        let r: Vec<String> = self
            .invoke(&self.scripts.attempt, self.keys.case(case_id))
            .arg(case_id)
            .arg(pro)
            .arg(outcome.code())
            .arg(allowed)
            .arg(spacing.join(","))
            .arg(access.encode(self.access_keep_ms))
            .invoke_async(&mut conn)
            .await?;
        let failed = || -> u32 { r.get(1).and_then(|n| n.parse().ok()).unwrap_or(0) };
        match r.first().map(String::as_str) {
            Some("answered") => Ok(CallAttempted::Answered { failed: failed() }),
            Some("retry") => Ok(CallAttempted::Retry {
                failed: failed(),
                next_at_ms: r.get(2).and_then(|t| t.parse().ok()).unwrap_or(0),
            }),
            Some("unreachable") => Ok(CallAttempted::Unreachable { failed: failed() }),
            Some("not_phone") => Err(StoreError::Conflict(format!(
                "call attempts are for call-backs; this case is {}",
                r.get(1).map(String::as_str).unwrap_or("")
            ))),
            _ => Self::check(r).map(|_| CallAttempted::Answered { failed: 0 }),
        }
    }

    /// Unreachable call-backs (every attempt failed, or the number was wrong), oldest first:
    /// `(case, since ms, attempts, why)`, at most `limit`.
    pub async fn unreachable(&self, limit: usize) -> Result<Vec<UnreachableCase>> {
        let mut conn = self.conn.clone();
        let ids: Vec<(String, f64)> = redis::cmd("ZRANGE")
            .arg(self.keys.unreachable())
            .arg(0)
            .arg(limit.max(1) as isize - 1)
            .arg("WITHSCORES")
            .query_async(&mut conn)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for (id, _) in &ids {
            pipe.cmd("HMGET").arg(self.keys.case(id)).arg(&[
                case::field::TEAM,
                "call_attempts",
                "unreachable_why",
                case::field::DEADLINE,
                case::field::STATUS,
            ]);
        }
        let rows: Vec<Vec<Option<String>>> = pipe.query_async(&mut conn).await?;
        Ok(ids
            .into_iter()
            .zip(rows)
            .filter(|(_, row)| row[4].as_deref() == Some("unreachable"))
            .map(|((case_id, since), row)| UnreachableCase {
                case_id,
                since_ms: since as i64,
                team: row[0].clone().unwrap_or_default(),
                attempts: row[1].as_deref().and_then(|n| n.parse().ok()).unwrap_or(0),
                why: row[2].clone().unwrap_or_default(),
                deadline_ms: row[3].as_deref().and_then(|n| n.parse().ok()).unwrap_or(0),
            })
            .collect())
    }

    /// The citizen's chat becomes a call-back to `number`, keeping its place.
    pub async fn accept_callback(&self, case_id: &str, number: &str) -> Result<()> {
        let mut conn = self.conn.clone();
        // Sealed with the data key of the case's other words (a case written before encryption
        // at rest takes today's).
        let seal_id: Option<String> = redis::cmd("HGET")
            .arg(self.keys.case(case_id))
            .arg(case::field::SEAL)
            .query_async(&mut conn)
            .await?;
        // (The first of the case's keys: its own contact's day.)
        let seal_id = seal_id
            .and_then(|s| s.split(',').next().map(String::from))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| seal::Purpose::Words.key_id(crate::clock::now_ms()));
        let key = self.data_key(&seal_id, true).await?;
        let aad = seal::word_aad(case_id, case::field::CALLBACK_NUMBER);
        let r: Vec<String> = self
            .invoke(&self.scripts.callback, self.keys.case(case_id))
            .arg(case_id)
            .arg(seal::seal(&key, &seal_id, &aad, number))
            .arg(&seal_id)
            .invoke_async(&mut conn)
            .await?;
        match r.first().map(String::as_str) {
            Some("refused") => Err(StoreError::Conflict(format!(
                "the case is {} and not a waiting chat",
                r.get(1).map(String::as_str).unwrap_or("closed")
            ))),
            _ => Self::check(r).map(drop),
        }
    }

    /// Hands a held case over to a colleague, who is offered it at once.
    pub async fn transfer(
        &self,
        case_id: &str,
        holder: &str,
        to: &Member,
        reason: &str,
        access: &AccessEntry,
    ) -> Result<()> {
        let reason = self.seal_reason(reason).await?;
        self.handover("transfer", case_id, holder, to, &reason, access)
            .await
    }

    /// Asks a colleague to consult on a held case; the holder keeps it.
    pub async fn consult(
        &self,
        case_id: &str,
        holder: &str,
        colleague: &Member,
        access: &AccessEntry,
    ) -> Result<()> {
        self.handover("consult", case_id, holder, colleague, "", access)
            .await
    }

    async fn handover(
        &self,
        op: &str,
        case_id: &str,
        holder: &str,
        colleague: &Member,
        reason: &str,
        access: &AccessEntry,
    ) -> Result<()> {
        let mut conn = self.conn.clone();
        let r: Vec<String> = self
            .invoke(&self.scripts.handover, self.keys.case(case_id))
            .arg(op)
            .arg(case_id)
            .arg(holder)
            .arg(&colleague.id)
            .arg(colleague.profession.code())
            .arg(reason)
            .arg(access.encode(self.access_keep_ms))
            .invoke_async(&mut conn)
            .await?;
        match r.first().map(String::as_str) {
            Some("refused") => Err(StoreError::Conflict(
                "a case cannot be handed to its own holder".into(),
            )),
            _ => Self::check(r).map(drop),
        }
    }

    /// Withdraws a contact, for the holder of its case's access token (`token_hash`); returns
    /// its case id. A wrong token is NotFound, like a contact that does not exist.
    pub async fn cancel(
        &self,
        contact_id: &str,
        token_hash: &str,
        retention_secs: u64,
        access: &AccessEntry,
    ) -> Result<String> {
        let mut conn = self.conn.clone();
        let r: Vec<String> = self
            .invoke(&self.scripts.cancel, self.keys.contact(contact_id))
            .arg(contact_id)
            .arg(retention_secs)
            .arg(token_hash)
            .arg(access.encode(self.access_keep_ms))
            .invoke_async(&mut conn)
            .await?;
        match r.first().map(String::as_str) {
            Some("missing") => Err(StoreError::NotFound("contact")),
            _ => Self::check(r).map(|r| r.get(1).cloned().unwrap_or_default()),
        }
    }

    /// Which of `pros` have an Offers stream connected (their connection token), in order.
    pub async fn connections(&self, pros: &[&str]) -> Result<Vec<Option<String>>> {
        if pros.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for pro in pros {
            pipe.hget(self.keys.professional(pro), "conn");
        }
        let mut conn = self.conn.clone();
        let tokens: Vec<Option<String>> = pipe.query_async(&mut conn).await?;
        Ok(tokens
            .into_iter()
            .map(|t| t.filter(|t| !t.is_empty()))
            .collect())
    }

    /// Signs a professional out for good (the county's configuration no longer has them as they
    /// signed in): offline, their connection cleared, their offers placed again, the cases they
    /// were working on listed as "holder disconnected" for a supervisor. `member` and `team`
    /// are as they signed in.
    pub async fn sign_out(&self, member: &Member, team: &str) -> Result<ProState> {
        let token = self
            .connections(&[member.id.as_str()])
            .await?
            .pop()
            .flatten();
        let change = PresenceChange {
            presence: Some(Presence::Offline),
            connection: token.as_deref().map(Connection::Clear),
            ..Default::default()
        };
        self.set_presence(member, team, &change).await
    }

    pub async fn set_presence(
        &self,
        member: &Member,
        team: &str,
        change: &PresenceChange<'_>,
    ) -> Result<ProState> {
        let (pro, profession) = (member.id.as_str(), member.profession);
        // The needs this profession serves: the sub-queues the professional pulls from.
        let needs: Vec<&str> = Need::ALL
            .iter()
            .filter(|n| n.professions().contains(&profession))
            .map(|n| n.code())
            .collect();
        let opt = |v: Option<u32>| v.map(|x| x.to_string()).unwrap_or_default();
        let (op, token) = match change.connection {
            None => ("", ""),
            Some(Connection::Set(t)) => ("set", t),
            Some(Connection::Rejoin(t)) => ("rejoin", t),
            Some(Connection::Clear(t)) => ("clear", t),
        };
        let mut conn = self.conn.clone();
        let r: Vec<Option<String>> = self
            .invoke(&self.scripts.presence, self.keys.professional(pro))
            .arg(pro)
            .arg(team)
            .arg(profession.code())
            .arg(needs.join(","))
            .arg(change.presence.map(|p| p.code()).unwrap_or(""))
            .arg(opt(change.capacity[0]))
            .arg(opt(change.capacity[1]))
            .arg(opt(change.capacity[2]))
            .arg(op)
            .arg(token)
            .arg(format!(
                ",{},",
                member
                    .languages
                    .iter()
                    .map(|l| l.code())
                    .collect::<Vec<_>>()
                    .join(",")
            ))
            .arg(
                if self.policy.e_service_during_call.load(Ordering::Relaxed) {
                    "1"
                } else {
                    "0"
                },
            )
            .arg(self.presence_lease_ms)
            .invoke_async(&mut conn)
            .await?;
        Ok(pro_state(&r))
    }

    /// Renews the presence lease of each `(professional, connection token)` whose stream is
    /// open here, and says of each whether it still holds the connection.
    pub async fn renew_leases(&self, streams: &[(&str, &str)]) -> Result<Vec<Lease>> {
        if streams.is_empty() {
            return Ok(Vec::new());
        }
        let mut inv = self.invoke(&self.scripts.renew, self.keys.leases());
        inv.arg(self.presence_lease_ms);
        for (pro, token) in streams {
            inv.arg(*pro).arg(*token);
        }
        let mut conn = self.conn.clone();
        let r: Vec<String> = inv.invoke_async(&mut conn).await?;
        if r.len() != streams.len() {
            return Err(StoreError::Corrupt("renew reply".into()));
        }
        r.iter()
            .map(|s| match s.as_str() {
                "ok" => Ok(Lease::Renewed),
                "replaced" => Ok(Lease::Replaced),
                "lapsed" => Ok(Lease::Lapsed),
                other => Err(StoreError::Corrupt(format!("renew answered {other}"))),
            })
            .collect()
    }

    /// Gives a lease to each of `professionals` connected without one (recorded before presence
    /// leases existed), so that a connection nobody renews lapses. Returns how many.
    pub async fn lease_unleased_connections(&self, professionals: &[&str]) -> Result<u64> {
        if professionals.is_empty() {
            return Ok(0);
        }
        let mut inv = self.invoke(&self.scripts.unleased, self.keys.leases());
        inv.arg(self.presence_lease_ms);
        for pro in professionals {
            inv.arg(*pro);
        }
        let mut conn = self.conn.clone();
        Ok(inv.invoke_async(&mut conn).await?)
    }

    /// Takes offline, for routing, the professionals whose presence lease lapsed: their offers
    /// are placed again and the cases they hold marked "holder disconnected".
    /// At most about `limit` professionals, in scripts of [`LAPSE_BATCH`] each.
    pub async fn lapse_leases(&self, limit: u32) -> Result<Lapsed> {
        let mut conn = self.conn.clone();
        let mut lapsed = Lapsed::default();
        for _ in 0..limit.div_ceil(LAPSE_BATCH).max(1) {
            let (professionals, offers_placed): (u64, u64) = self
                .invoke(&self.scripts.lapse, self.keys.leases())
                .arg(LAPSE_BATCH)
                .invoke_async(&mut conn)
                .await?;
            lapsed.professionals += professionals;
            lapsed.offers_placed += offers_placed;
            if professionals < u64::from(LAPSE_BATCH) {
                break;
            }
        }
        Ok(lapsed)
    }

    /// The case, its contacts, and while queued its place and the professionals available.
    pub async fn load_case(&self, case_id: &str) -> Result<CaseRecord> {
        let mut conn = self.conn.clone();
        type Hash = HashMap<String, Vec<u8>>;
        let (mut fields, words, contacts): (Hash, Hash, Vec<String>) = redis::pipe()
            .hgetall(self.keys.case(case_id))
            .hgetall(self.keys.case_words(case_id))
            .smembers(self.keys.case_contacts(case_id))
            .query_async(&mut conn)
            .await?;
        if fields.is_empty() {
            return Err(StoreError::NotFound("case"));
        }
        fields.extend(words);
        let mut rec = self
            .open_record(CaseRecord::decode(case_id, &fields, contacts)?)
            .await?;
        if rec.status == CaseStatus::Queued {
            let (position, available): (Option<u64>, u64) = redis::pipe()
                .zrank(
                    self.keys.queue(&rec.team, &rec.queue, &rec.sub_queue),
                    case_id,
                )
                .scard(self.keys.available(&rec.team, rec.channel.code()))
                .query_async(&mut conn)
                .await?;
            rec.position = position;
            rec.available = available;
        }
        Ok(rec)
    }

    /// The case a contact belongs to and the contact's stored classification.
    pub async fn contact(&self, contact_id: &str) -> Result<(String, Vec<u8>, bool)> {
        let mut conn = self.conn.clone();
        let (case, class, joined): (Option<String>, Option<Vec<u8>>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys.contact(contact_id))
                .arg(&["case", "classification", "joined"])
                .query_async(&mut conn)
                .await?;
        let case = case.ok_or(StoreError::NotFound("contact"))?;
        // The first contact's classification is the case's.
        let class = match class {
            Some(class) => {
                let aad = seal::word_aad(contact_id, case::field::CLASSIFICATION);
                self.open_raw_value(&aad, class).await?
            }
            None => {
                let class: Option<Vec<u8>> = redis::cmd("HGET")
                    .arg(self.keys.case_words(&case))
                    .arg(case::field::CLASSIFICATION)
                    .query_async(&mut conn)
                    .await?;
                let aad = seal::word_aad(&case, case::field::CLASSIFICATION);
                self.open_raw_value(&aad, class.unwrap_or_default()).await?
            }
        };
        Ok((case, class, joined.as_deref() == Some("1")))
    }
}

/// Today's date in Helsinki, as the per-day keys name it.
pub fn today() -> String {
    crate::clock::now()
        .with_timezone(&crate::domain::deadline::TZ)
        .format("%Y-%m-%d")
        .to_string()
}

fn pro_state(r: &[Option<String>]) -> ProState {
    let num = |i: usize| -> u32 {
        r.get(i)
            .and_then(|v| v.as_deref())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    ProState {
        presence: r
            .first()
            .and_then(|p| p.as_deref())
            .and_then(|p| p.parse().ok()),
        capacity: [num(1), num(2), num(3)],
        load: [num(4), num(5), num(6)],
    }
}

impl ProState {
    pub fn capacity_of(&self, ch: Channel) -> u32 {
        self.capacity[channel_index(ch)]
    }

    pub fn load_of(&self, ch: Channel) -> u32 {
        self.load[channel_index(ch)]
    }
}
