//! Delivering offers to the professionals connected to this instance, and case changes to
//! `WatchCase` streams.
//!
//! Matching itself happens in Redis, inside the script that changes state (see
//! `store/lua/prelude.lua`): a new case is reserved for a free professional in the same step
//! that records it, and a freed slot pulls the next case. Each reservation is announced on the
//! county's event channel as `o|<pro>|<case>|…`; every instance follows that channel and the one
//! holding the professional's Offers stream pushes the offer. An offer that cannot be delivered
//! is given back at once; one whose announcement was missed expires and is placed again by the
//! reaper, which runs in every instance so that offers of a crashed instance come back too.
//!
//! What must reach Redis after a stream closed or an offer could not be delivered is done by the
//! dispatcher's own clean-up task: `Drop` and the synchronous event handler only send it a
//! request, and the task finishes the requests already sent when the instance stops.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::background::Background;
use crate::domain::routing::Member;
use crate::metrics::Metrics;
use crate::store::{Connection, Event, PresenceChange, Reserved, Store, StoreError};

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    instance: String,
    reap_every: Duration,
    /// Professionals whose Offers stream is open here.
    connected: Mutex<HashMap<String, Connected>>,
    watchers: Mutex<HashMap<String, broadcast::Sender<()>>>,
    next_token: AtomicU64,
    metrics: Arc<Metrics>,
    /// Notified on every case or presence event (the queue board refreshes).
    changes: Arc<Notify>,
    /// Requests for the clean-up task.
    cleanup: mpsc::UnboundedSender<Cleanup>,
}

/// Redis work that follows a closed stream or a failed delivery, done by the clean-up task.
enum Cleanup {
    /// An Offers stream closed: the professional is disconnected and their offers not yet
    /// accepted are placed again.
    Disconnect {
        member: Member,
        team: String,
        token: String,
    },
    /// An offer could not be delivered here: the case is given back now rather than at expiry.
    GiveBack { case_id: String, pro: String },
}

struct Connected {
    token: String,
    tx: mpsc::Sender<Reserved>,
}

/// A professional's open Offers stream on this instance. Dropping it disconnects them: their
/// offers not yet accepted are placed again.
pub struct Registration {
    dispatcher: Dispatcher,
    member: Member,
    team: String,
    token: String,
}

impl Drop for Registration {
    fn drop(&mut self) {
        // Only a message: the clean-up task does the Redis work. After the instance has stopped
        // nobody receives it, and the reapers place the offers again when they expire.
        let _ = self.dispatcher.inner.cleanup.send(Cleanup::Disconnect {
            member: self.member.clone(),
            team: std::mem::take(&mut self.team),
            token: std::mem::take(&mut self.token),
        });
    }
}

impl Dispatcher {
    /// Starts the event listener, the offer reaper and the clean-up task for this instance,
    /// owned by `background`. The reaper works on `reaper_store`, a connection of its own, so
    /// that expired offers go back to their queues even while calls crowd the shared one.
    pub fn start(
        store: Store,
        reaper_store: Store,
        offer_ttl: Duration,
        metrics: Arc<Metrics>,
        background: &mut Background,
    ) -> Self {
        let (cleanup, requests) = mpsc::unbounded_channel();
        let d = Dispatcher {
            inner: Arc::new(Inner {
                store,
                instance: uuid::Uuid::now_v7().simple().to_string(),
                reap_every: (offer_ttl / 10)
                    .clamp(Duration::from_millis(100), Duration::from_secs(1)),
                connected: Mutex::default(),
                watchers: Mutex::default(),
                next_token: AtomicU64::new(1),
                metrics,
                changes: Arc::new(Notify::new()),
                cleanup,
            }),
        };
        let listener = d.clone();
        // Following the channel has nothing to finish: stopping drops it wherever it waits.
        background.spawn("event listener", |stop| async move {
            stop.run_until_cancelled(listener.listen()).await;
        });
        let reaper = d.clone();
        background.spawn("offer reaper", |stop| reaper.reap(reaper_store, stop));
        let cleaner = d.clone();
        background.spawn("stream clean-up", |stop| cleaner.clean_up(requests, stop));
        d
    }

    /// Registers an Offers stream for `pro` and marks them connected in Redis, which at once
    /// offers them queued work up to their free capacity.
    pub async fn connect(
        &self,
        member: &Member,
        team: &str,
    ) -> Result<(Registration, mpsc::Receiver<Reserved>), StoreError> {
        let pro = member.id.as_str();
        let n = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}:{n}", self.inner.instance);
        // Room for every offer a professional could be announced before they read any.
        let (tx, rx) = mpsc::channel(256);
        self.inner.connected.lock().expect("lock").insert(
            pro.to_string(),
            Connected {
                token: token.clone(),
                tx,
            },
        );
        let change = PresenceChange {
            connection: Some(Connection::Set(&token)),
            ..Default::default()
        };
        let registration = Registration {
            dispatcher: self.clone(),
            member: member.clone(),
            team: team.to_string(),
            token: token.clone(),
        };
        self.inner.store.set_presence(member, team, &change).await?;
        Ok((registration, rx))
    }

    async fn disconnect(&self, member: &Member, team: &str, token: &str) {
        let pro = member.id.as_str();
        {
            let mut c = self.inner.connected.lock().expect("lock");
            if c.get(pro).is_some_and(|c| c.token == token) {
                c.remove(pro);
            }
        }
        let change = PresenceChange {
            connection: Some(Connection::Clear(token)),
            ..Default::default()
        };
        match self.inner.store.set_presence(member, team, &change).await {
            Ok(_) => tracing::info!(professional = pro, "offers stream closed"),
            // The reaper places the offers again when they expire.
            Err(e) => tracing::warn!(professional = pro, error = %e, "disconnect not recorded"),
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

    /// Follows the county's event channel. After a reconnection every watcher refreshes, since
    /// events published meanwhile were missed (missed offers come back through the reaper).
    async fn listen(self) {
        let channel = self.inner.store.keys().events();
        loop {
            match self.inner.store.client().get_async_pubsub().await {
                Ok(mut ps) => match ps.subscribe(&channel).await {
                    Ok(()) => {
                        for tx in self.inner.watchers.lock().expect("lock").values() {
                            let _ = tx.send(());
                        }
                        let mut messages = ps.on_message();
                        while let Some(msg) = messages.next().await {
                            self.on_event(msg.get_payload_bytes());
                        }
                        tracing::warn!("event channel lost; reconnecting");
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot subscribe to events"),
                },
                Err(e) => tracing::debug!(error = %e, "cannot reach redis for events"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Notified on every case or presence event in the county.
    pub fn changes(&self) -> Arc<Notify> {
        self.inner.changes.clone()
    }

    fn on_event(&self, payload: &[u8]) {
        let Some(event) = std::str::from_utf8(payload).ok().and_then(Event::parse) else {
            return;
        };
        match event {
            Event::CaseChanged { case_id } => {
                self.inner.changes.notify_one();
                if let Some(tx) = self.inner.watchers.lock().expect("lock").get(&case_id) {
                    let _ = tx.send(());
                }
            }
            Event::PresenceChanged => self.inner.changes.notify_one(),
            Event::Offer {
                professional,
                offer,
            } => self.deliver(&professional, offer),
        }
    }

    fn deliver(&self, pro: &str, offer: Reserved) {
        let sent = match self.inner.connected.lock().expect("lock").get(pro) {
            None => return, // connected to another instance
            Some(c) => c.tx.try_send(offer.clone()).is_ok(),
        };
        if sent {
            tracing::debug!(case_id = %offer.case_id, professional = pro, "offer delivered");
            return;
        }
        if !offer.consultation_for.is_empty() {
            // A consultation request stays on the case; the colleague sees it when back.
            return;
        }
        // The stream is gone or hopelessly behind: give the case back now rather than at expiry.
        let _ = self.inner.cleanup.send(Cleanup::GiveBack {
            case_id: offer.case_id,
            pro: pro.to_string(),
        });
    }

    /// Carries out clean-up requests as they come, each as its own task so that one slow Redis
    /// call does not hold up the others. On stop, the requests already sent are still carried
    /// out (their streams closed while the instance ran), and every one is awaited.
    async fn clean_up(
        self,
        mut requests: mpsc::UnboundedReceiver<Cleanup>,
        stop: CancellationToken,
    ) {
        let mut running = JoinSet::new();
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(request) = requests.recv() => {
                    running.spawn(self.clone().carry_out(request));
                }
                Some(done) = running.join_next(), if !running.is_empty() => {
                    if let Err(e) = done {
                        tracing::error!(error = %e, "clean-up failed");
                    }
                }
            }
        }
        requests.close();
        while let Some(request) = requests.recv().await {
            running.spawn(self.clone().carry_out(request));
        }
        while running.join_next().await.is_some() {}
    }

    async fn carry_out(self, request: Cleanup) {
        match request {
            Cleanup::Disconnect {
                member,
                team,
                token,
            } => self.disconnect(&member, &team, &token).await,
            Cleanup::GiveBack { case_id, pro } => {
                match self.inner.store.requeue(&case_id, &pro, "released").await {
                    Ok(true) => self.inner.metrics.offer("released"),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(case_id = %case_id, error = %e, "undeliverable offer left to expire");
                    }
                }
            }
        }
    }

    /// Places expired offers and ended waits again, every `reap_every`, until `stop`; a round
    /// under way when it fires is finished first.
    async fn reap(self, store: Store, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.inner.reap_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            match store.expire_offers(500).await {
                Ok((0, 0, 0)) => {}
                Ok((expired, relaxed, overflowed)) => {
                    self.inner.metrics.offers_by("expired", expired);
                    tracing::info!(
                        expired,
                        relaxed,
                        overflowed,
                        "expired offers, ended waits and overflow steps placed again"
                    );
                }
                Err(e) => tracing::debug!(error = %e, "offer reaper could not run"),
            }
        }
    }
}
