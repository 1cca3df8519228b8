//! The Redis key layout, in one place, with how long each key or entry is kept (the retention
//! table: nothing about a citizen outlives its row). Every key of a county starts with `lu:{<county>}:`; the
//! braces make the county id the hash tag, so one county's keys share a hash slot and each
//! script runs atomically on Redis Cluster too. (The Lua prelude builds the same names.)
//!
//! | key | type | kept | what |
//! |---|---|---|---|
//! | `case:<case>` | hash | while open; closed: `routing.closed_case_retention_days` (30), then expires | the case: status, routing, deadline, holder, its first contact; only short values, so that Redis keeps it a compact listpack |
//! | `case:<case>:words` | hash | as the case; text and number erased at closing | the case's long values: the citizen's text and call-back number (erased at closing) and the classification, sealed (`seal.rs`), routing reasons, linked cases, access-token hashes |
//! | `case:<case>:contacts` | set | as the case | contact ids joined to the case after the first (`joins` on the case counts them) |
//! | `contact:<contact>` | hash | as its case | the contact's case, join / withdrawal; a joined contact's own classification, sealed with the day's data key (the first contact's is the case's) |
//! | `q:<team>:<queue>:<need>` | zset | an entry while the case waits | queued cases by priority (urgency class, then deadline), one sub-queue per primary need (`alert:any` for emergencies); a case widened by overflow is in its own team's and in each `wide` team's (field `wide` of `case:<case>`), and in their `qa`/`qp` |
//! | `qa:<team>:<queue>` | zset | an entry while the case waits | the queue's cases (all needs) by arrival |
//! | `qp:<team>:<queue>` | zset | an entry while the case waits | the queue's cases (all needs) by priority, for the supervisors' list, urgency and deadline counts (within an urgency class the score is the deadline) |
//! | `alerts` | zset | an entry while the emergency waits | every emergency waiting anywhere in the county |
//! | `waiting:<team>` | set | a member while its sub-queue may hold cases | the team's sub-queues (`<queue>:<need>`) that may hold waiting cases: a pull reads only these (`enqueue` adds, the pull that finds one empty removes it, a professional connecting lists their needs' again) |
//! | `teams` | set | for good (team ids only) | teams that have had a professional online |
//! | `offers` | zset | an entry while the offer is open | offered cases by offer expiry |
//! | `waits` | zset | an entry until the wait ends | queued cases by the end of their next language or continuity wait |
//! | `overflow` | zset | an entry until the next step | queued cases by their next overflow step |
//! | `chatwait` | zset | an entry until the answer limit | queued chats by their answer deadline (call-back offer) |
//! | `retry` | zset | an entry until the next attempt is due | call-backs waiting for their next attempt (no answer or busy, attempts left), by when: listed in `qa`/`qp`, in no sub-queue until then |
//! | `unreachable` | zset | an entry until queued again or withdrawn: never by age | call-backs nobody reached (attempts exhausted, or a wrong number), by since when: status `unreachable`, out of every queue until the citizen contacts again, a supervisor sends one back, or the citizen withdraws |
//! | `notify` | stream | 2 days, by time | outbound notifications for the county's SMS gateway: `at`, `case`, `team`, `reason` (`attempts_exhausted` / `wrong_number`), `attempts`, `number` (the call-back number, sealed as on the case: `luotsi notifications` opens it for the gateway), `language` |
//! | `pro:<pro>` | hash | while the professional is in the county | presence, connection token (`<instance>:<n>` of the Offers stream), capacity and load per channel |
//! | `leases` | zset | an entry while the lease runs | connected professionals by the end of their presence lease, in Redis's `TIME` ms (renewed by the instance holding the stream) |
//! | `disconnected` | zset | an entry until the holder is back or a supervisor releases the case | in-progress cases whose holder's lease lapsed, by when: "holder disconnected" for supervisors |
//! | `pro:<pro>:cases` | set | a member while offered or held | cases offered to or held by the professional |
//! | `on:<team>:<profession>` | set | a member while available | professionals available and connected (emergencies) |
//! | `avail:<team>:<channel>` | set | a member while available | ... and with capacity on the channel |
//! | `free:<team>:<channel>:<profession>` | zset | a member while a slot is free | ... with a free slot, scored by load |
//! | `idem:<key>` | string | `routing.idempotency_ttl_secs` (1 day) | contact id answered for an idempotency key |
//! | `day:<date>:<team>` | hash | 2 days | today's cases taken and taken late (service level) |
//! | `citizen:<citizen>` | hash | while the citizen has an open case | the citizen's open cases (fields `<case>`, linked to each other) and the newest open case per need (`need:<need>` → case); gone when none is open |
//! | `last:<citizen>:<need>` | string | 7 days | a case about the need was completed (re-contacts) |
//! | `stats` | stream | 31 days, by time | per contact (`ch`: channel), first response (language, interpreter, continuity), call attempt, unreachable case and completion (`ch`, `handled`: ms since the last acceptance): codes and times (GetStats, the staffing forecast) |
//! | `agg:<date>` | hash | 400 days | one Helsinki day's statistics summed per team and channel (fields `<team>\|<channel>\|<counter>`), rolled up from `stats` once the day is over, so the monthly report outlives the stream's 31 days |
//! | `access` | stream | `access_log.retention_days` (732), by time | the access log (Act 703/2023): at, by, role, org, action, case, citizen (pseudonym), purpose, source — never trimmed by count |
//! | `firstlook` | zset | an entry until a person confirms the case or it closes | cases whose classification no person has confirmed yet, by arrival (the first-look view) |
//! | `firstlook_due` | zset | as `firstlook` | the same cases by first-look due time (overdue on the board) |
//! | `triage` | stream | 400 days, by time | every first look: case, team, channel, needs and urgency before and after, direction, reason code, who, time to first look (GetStats, `luotsi corrections`) |
//! | `audit` | stream | 400 days, by time | supervisors' actions: at, by, action, case, detail, reason |
//! | `keys` | hash | a field until its data key is destroyed | data keys (`w<yyyymmdd>`: a UTC day's case words; `r<yyyymm>`: a month's staff reasons), each wrapped by the key-encryption key (`seal.rs`); a words key is destroyed once the day is over and no case sealed with it is open (cases open longer than a week are sealed again with the current day's key), a reasons key when the audit log's retention (400 days) has passed since its month ended: then every copy of what it sealed is unreadable (crypto-shredding) |
//! | `sealed:<key>` | set | a member while the case is open | open cases with words sealed with the data key `<key>` (`seal` on the case lists its keys: its first contact's day, and each later day a contact joined it): the key lives while this is not empty |
//! | `events` | sharded pub/sub (`SPUBLISH`, Redis 7) | not stored | `c|<case>|<status>` (case changed), `p|<pro>` (presence changed), `o|<pro>|<case>|…` (offer made) |

/// Key builder for one county.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(county: &str) -> Self {
        Self {
            prefix: format!("lu:{{{county}}}:"),
        }
    }

    /// The prefix every script receives as `ARGV[1]`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn case(&self, id: &str) -> String {
        format!("{}case:{id}", self.prefix)
    }

    pub fn case_words(&self, id: &str) -> String {
        format!("{}case:{id}:words", self.prefix)
    }

    pub fn case_contacts(&self, id: &str) -> String {
        format!("{}case:{id}:contacts", self.prefix)
    }

    pub fn contact(&self, id: &str) -> String {
        format!("{}contact:{id}", self.prefix)
    }

    pub fn queue(&self, team: &str, queue: &str, need: &str) -> String {
        format!("{}q:{team}:{queue}:{need}", self.prefix)
    }

    pub fn waiting(&self, team: &str) -> String {
        format!("{}waiting:{team}", self.prefix)
    }

    pub fn queue_by_arrival(&self, team: &str, queue: &str) -> String {
        format!("{}qa:{team}:{queue}", self.prefix)
    }

    pub fn queue_by_priority(&self, team: &str, queue: &str) -> String {
        format!("{}qp:{team}:{queue}", self.prefix)
    }

    pub fn day(&self, date: &str, team: &str) -> String {
        format!("{}day:{date}:{team}", self.prefix)
    }

    pub fn on_duty(&self, team: &str, profession: &str) -> String {
        format!("{}on:{team}:{profession}", self.prefix)
    }

    pub fn citizen(&self, citizen: &str) -> String {
        format!("{}citizen:{citizen}", self.prefix)
    }

    pub fn stats(&self) -> String {
        format!("{}stats", self.prefix)
    }

    pub fn access(&self) -> String {
        format!("{}access", self.prefix)
    }

    pub fn first_look(&self) -> String {
        format!("{}firstlook", self.prefix)
    }

    pub fn first_look_due(&self) -> String {
        format!("{}firstlook_due", self.prefix)
    }

    pub fn triage(&self) -> String {
        format!("{}triage", self.prefix)
    }

    pub fn audit(&self) -> String {
        format!("{}audit", self.prefix)
    }

    pub fn day_aggregate(&self, date: &str) -> String {
        format!("{}agg:{date}", self.prefix)
    }

    pub fn unreachable(&self) -> String {
        format!("{}unreachable", self.prefix)
    }

    pub fn notify(&self) -> String {
        format!("{}notify", self.prefix)
    }

    pub fn offers(&self) -> String {
        format!("{}offers", self.prefix)
    }

    pub fn leases(&self) -> String {
        format!("{}leases", self.prefix)
    }

    pub fn disconnected_holders(&self) -> String {
        format!("{}disconnected", self.prefix)
    }

    pub fn professional(&self, id: &str) -> String {
        format!("{}pro:{id}", self.prefix)
    }

    pub fn available(&self, team: &str, channel: &str) -> String {
        format!("{}avail:{team}:{channel}", self.prefix)
    }

    pub fn free(&self, team: &str, channel: &str, profession: &str) -> String {
        format!("{}free:{team}:{channel}:{profession}", self.prefix)
    }

    pub fn data_keys(&self) -> String {
        format!("{}keys", self.prefix)
    }

    pub fn sealed(&self, key_id: &str) -> String {
        format!("{}sealed:{key_id}", self.prefix)
    }

    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }
}
