//! Matching queued cases to the professionals connected to this instance.
//!
//! Each instance keeps the Offers streams of the professionals connected to it. Work is pushed,
//! not polled: every script that puts work in a queue or frees capacity publishes `w|<team>` on
//! the county's event channel; every instance listening wakes its worker for that team, which
//! asks Redis (one `offer` script per professional) for the best-fitting case. Scripts are
//! atomic, so when several instances race for one case exactly one wins.
//!
//! A reaper returns expired offers to their queues; it runs in every instance, so offers made by
//! an instance that crashed still come back. Nothing here holds a case: Redis does.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, broadcast, mpsc};

use crate::store::{Connection, PresenceChange, Reserved, Store};

/// How many queued cases the offer script looks past the head for one that fits.
const SCAN_LIMIT: u32 = 64;

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    instance: String,
    offer_ttl: Duration,
    reap_every: Duration,
    teams: Mutex<HashMap<String, Arc<TeamSlot>>>,
    watchers: Mutex<HashMap<String, broadcast::Sender<()>>>,
    next_token: AtomicU64,
}

#[derive(Default)]
struct TeamSlot {
    notify: Notify,
    pros: Mutex<Vec<Connected>>,
}

#[derive(Clone)]
struct Connected {
    pro: String,
    token: String,
    tx: mpsc::Sender<Reserved>,
}

/// A professional's open Offers stream on this instance. Dropping it disconnects them: their
/// offers not yet accepted go back to the queue.
pub struct Registration {
    dispatcher: Dispatcher,
    pub pro: String,
    pub team: String,
    profession: String,
    token: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let d = self.dispatcher.clone();
        let (pro, team, prof, token) = (
            self.pro.clone(),
            self.team.clone(),
            self.profession.clone(),
            self.token.clone(),
        );
        tokio::spawn(async move { d.disconnect(&pro, &team, &prof, &token).await });
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Dispatcher {
    /// Starts the event listener and the offer reaper for this instance.
    pub fn start(store: Store, offer_ttl: Duration) -> Self {
        let d = Dispatcher {
            inner: Arc::new(Inner {
                store,
                instance: uuid::Uuid::now_v7().simple().to_string(),
                offer_ttl,
                reap_every: (offer_ttl / 10)
                    .clamp(Duration::from_millis(100), Duration::from_secs(1)),
                teams: Mutex::default(),
                watchers: Mutex::default(),
                next_token: AtomicU64::new(1),
            }),
        };
        tokio::spawn(d.clone().listen());
        tokio::spawn(d.clone().reap());
        d
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Registers an Offers stream for `pro`, marks them connected in Redis and wakes their team.
    pub async fn connect(
        &self,
        pro: &str,
        team: &str,
        profession: &str,
    ) -> Result<(Registration, mpsc::Receiver<Reserved>), crate::store::StoreError> {
        let n = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}:{n}", self.inner.instance);
        // Room for every offer a professional could hold at once, and then some.
        let (tx, rx) = mpsc::channel(64);
        let slot = self.slot(team);
        {
            let mut pros = slot.pros.lock().expect("lock");
            pros.retain(|c| c.pro != pro);
            pros.push(Connected {
                pro: pro.to_string(),
                token: token.clone(),
                tx,
            });
        }
        let change = PresenceChange {
            connection: Some(Connection::Set(&token)),
            ..Default::default()
        };
        self.inner
            .store
            .set_presence(pro, team, profession, &change)
            .await?;
        slot.notify.notify_one();
        let reg = Registration {
            dispatcher: self.clone(),
            pro: pro.to_string(),
            team: team.to_string(),
            profession: profession.to_string(),
            token,
        };
        Ok((reg, rx))
    }

    async fn disconnect(&self, pro: &str, team: &str, profession: &str, token: &str) {
        if let Some(slot) = self.inner.teams.lock().expect("lock").get(team) {
            slot.pros.lock().expect("lock").retain(|c| c.token != token);
        }
        let change = PresenceChange {
            connection: Some(Connection::Clear(token)),
            ..Default::default()
        };
        match self
            .inner
            .store
            .set_presence(pro, team, profession, &change)
            .await
        {
            Ok(_) => tracing::info!(professional = pro, "offers stream closed"),
            // The reaper returns the offers when they expire.
            Err(e) => tracing::warn!(professional = pro, error = %e, "disconnect not recorded"),
        }
    }

    /// Wakes this instance's worker for `team`, if any professional of it is connected here.
    pub fn wake(&self, team: &str) {
        if let Some(slot) = self.inner.teams.lock().expect("lock").get(team) {
            slot.notify.notify_one();
        }
    }

    fn wake_all(&self) {
        for slot in self.inner.teams.lock().expect("lock").values() {
            slot.notify.notify_one();
        }
        for tx in self.inner.watchers.lock().expect("lock").values() {
            let _ = tx.send(());
        }
    }

    /// Notifications of changes to one case, for `WatchCase`.
    pub fn watch(&self, case_id: &str) -> broadcast::Receiver<()> {
        let mut w = self.inner.watchers.lock().expect("lock");
        w.entry(case_id.to_string())
            .or_insert_with(|| broadcast::channel(16).0)
            .subscribe()
    }

    /// Forgets a case's watchers once none is left.
    pub fn unwatch(&self, case_id: &str) {
        let mut w = self.inner.watchers.lock().expect("lock");
        if w.get(case_id).is_some_and(|tx| tx.receiver_count() == 0) {
            w.remove(case_id);
        }
    }

    fn slot(&self, team: &str) -> Arc<TeamSlot> {
        let mut teams = self.inner.teams.lock().expect("lock");
        if let Some(s) = teams.get(team) {
            return s.clone();
        }
        let slot = Arc::new(TeamSlot::default());
        teams.insert(team.to_string(), slot.clone());
        tokio::spawn(self.clone().team_worker(slot.clone()));
        slot
    }

    /// Offers work to the team's connected professionals, one offer each per pass, until a pass
    /// finds nothing more to offer; then sleeps until woken.
    async fn team_worker(self, slot: Arc<TeamSlot>) {
        let mut start = 0usize;
        loop {
            slot.notify.notified().await;
            loop {
                let pros: Vec<Connected> = slot.pros.lock().expect("lock").clone();
                if pros.is_empty() {
                    break;
                }
                let mut offered = false;
                let mut failed = false;
                for i in 0..pros.len() {
                    let c = &pros[(start + i) % pros.len()];
                    if c.tx.is_closed() {
                        continue;
                    }
                    match self.offer_to(c).await {
                        Ok(true) => offered = true,
                        Ok(false) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "offering failed; retrying shortly");
                            failed = true;
                            break;
                        }
                    }
                }
                start = start.wrapping_add(1);
                if failed {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    slot.notify.notify_one();
                    break;
                }
                if !offered {
                    break;
                }
            }
        }
    }

    async fn offer_to(&self, c: &Connected) -> Result<bool, crate::store::StoreError> {
        let expires = now_ms() + self.inner.offer_ttl.as_millis() as i64;
        let Some(r) = self
            .inner
            .store
            .offer_next(&c.pro, expires, SCAN_LIMIT)
            .await?
        else {
            return Ok(false);
        };
        let case_id = r.case_id.clone();
        if c.tx.try_send(r).is_err() {
            // The stream went away between the reservation and the push: give the case back.
            self.inner
                .store
                .requeue(&case_id, &c.pro, "released")
                .await?;
            return Ok(false);
        }
        tracing::info!(case_id = %case_id, professional = %c.pro, "offered");
        Ok(true)
    }

    /// Follows the county's event channel; after every (re)connection wakes everything, since
    /// events published while disconnected were missed.
    async fn listen(self) {
        let channel = self.inner.store.keys().events();
        loop {
            match self.inner.store.client().get_async_pubsub().await {
                Ok(mut ps) => {
                    if let Err(e) = ps.subscribe(&channel).await {
                        tracing::warn!(error = %e, "cannot subscribe to events");
                    } else {
                        self.wake_all();
                        let mut messages = ps.on_message();
                        while let Some(msg) = messages.next().await {
                            self.on_event(msg.get_payload_bytes());
                        }
                        tracing::warn!("event channel lost; reconnecting");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot reach redis for events"),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn on_event(&self, payload: &[u8]) {
        let Ok(text) = std::str::from_utf8(payload) else {
            return;
        };
        let mut parts = text.split('|');
        match (parts.next(), parts.next()) {
            (Some("w"), Some(team)) => self.wake(team),
            (Some("c"), Some(case_id)) => {
                if let Some(tx) = self.inner.watchers.lock().expect("lock").get(case_id) {
                    let _ = tx.send(());
                }
            }
            _ => {}
        }
    }

    async fn reap(self) {
        let mut tick = tokio::time::interval(self.inner.reap_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.inner.store.expire_offers(now_ms(), 500).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "expired offers returned to their queues"),
                Err(e) => tracing::debug!(error = %e, "offer reaper could not run"),
            }
        }
    }
}
