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
//! Presence dies with its instance: every second or so the instance renews, in Redis, a lease
//! for each professional whose Offers stream is open here (on a connection of its own), and the
//! reaper takes offline the professionals whose lease lapsed — their offers go to colleagues,
//! the cases they hold are shown to supervisors as "holder disconnected". An instance's streams
//! carry its own id in their connection token, so a restarted instance inherits nothing.
//!
//! One Offers stream per professional: a newer stream, here or on another instance, takes the
//! connection token in `pro:<pro>`; the older stream ends with [`Replaced`] (at once on the same
//! instance, at its next lease renewal elsewhere) and, because every offer is addressed to the
//! token it was made for, is never sent another offer.
//!
//! What must reach Redis after a stream closed or an offer could not be delivered is done by the
//! dispatcher's own clean-up task: `Drop` and the synchronous event handler only send it a
//! request, and the task finishes the requests already sent when the instance stops.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{Notify, broadcast, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::background::Background;
use crate::domain::routing::Member;
use crate::metrics::Metrics;
use crate::store::{Connection, Event, Lapsed, Lease, PresenceChange, Reserved, Store, StoreError};

/// How long offers wait for an answer and how long a connected professional's presence lasts
/// without a renewal.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub offer_ttl: Duration,
    pub presence_lease: Duration,
}

/// Why an Offers stream was ended by the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Replaced {
    #[error("replaced by a newer Offers stream for this professional")]
    ByNewer,
    /// The county's configuration, reloaded, no longer has the professional (or has them in
    /// another team or profession): they are signed out.
    #[error(
        "signed out: the county's configuration no longer has this professional as they signed in"
    )]
    Removed,
}

/// A professional's offers as they are made, until the stream is replaced (then one
/// `Err(Replaced)` and the end). Dropping it disconnects them: their offers not yet accepted
/// are placed again.
pub type OfferStream = Pin<Box<dyn Stream<Item = Result<Reserved, Replaced>> + Send>>;

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    instance: String,
    reap_every: Duration,
    renew_every: Duration,
    /// Professionals whose Offers stream is open here.
    connected: Mutex<HashMap<String, Connected>>,
    watchers: Mutex<HashMap<String, broadcast::Sender<()>>>,
    next_token: AtomicU64,
    metrics: Arc<Metrics>,
    /// Notified on every case or presence event (the queue board refreshes).
    changes: Arc<Notify>,
    /// Requests for the clean-up task.
    cleanup: mpsc::UnboundedSender<Cleanup>,
    /// Wakes the lease loop before its tick: the presence of a professional connected here
    /// changed, perhaps because a newer stream on another instance took the connection.
    check_leases: Notify,
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
    /// Fired when a newer stream took the connection: the stream ends, sending nothing more.
    replaced: CancellationToken,
    /// Fired when the professional is signed out by a reloaded configuration.
    removed: CancellationToken,
    member: Member,
    team: String,
}

/// A professional's open Offers stream on this instance. Dropping it disconnects them: their
/// offers not yet accepted are placed again.
struct Registration {
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
    /// Starts the event listener, the offer reaper, the lease loop and the clean-up task for
    /// this instance, owned by `background`. The reaper and the lease loop each work on a
    /// connection of their own (`reaper_store`, `lease_store`), so that expired offers go back
    /// to their queues and leases are renewed even while calls crowd the shared one.
    pub fn start(
        store: Store,
        reaper_store: Store,
        lease_store: Store,
        timing: Timing,
        metrics: Arc<Metrics>,
        background: &mut Background,
    ) -> Self {
        let offer_ttl = timing.offer_ttl;
        let (cleanup, requests) = mpsc::unbounded_channel();
        let d = Dispatcher {
            inner: Arc::new(Inner {
                store,
                instance: uuid::Uuid::now_v7().simple().to_string(),
                reap_every: (offer_ttl / 10)
                    .clamp(Duration::from_millis(100), Duration::from_secs(1)),
                // Several renewals fit in one lease, so one slow round trip does not lapse it.
                renew_every: (timing.presence_lease / 5)
                    .clamp(Duration::from_millis(100), Duration::from_secs(1)),
                connected: Mutex::default(),
                watchers: Mutex::default(),
                next_token: AtomicU64::new(1),
                metrics,
                changes: Arc::new(Notify::new()),
                cleanup,
                check_leases: Notify::new(),
            }),
        };
        let listener = d.clone();
        // Following the channel has nothing to finish: stopping drops it wherever it waits.
        background.spawn("event listener", |stop| async move {
            stop.run_until_cancelled(listener.listen()).await;
        });
        let reaper = d.clone();
        background.spawn("offer reaper", |stop| reaper.reap(reaper_store, stop));
        let leases = d.clone();
        background.spawn("presence leases", |stop| {
            leases.keep_leases(lease_store, stop)
        });
        let cleaner = d.clone();
        background.spawn("stream clean-up", |stop| cleaner.clean_up(requests, stop));
        d
    }

    /// Registers an Offers stream for `pro` and marks them connected in Redis, which at once
    /// offers them queued work up to their free capacity. An older stream of theirs ends.
    pub async fn connect(&self, member: &Member, team: &str) -> Result<OfferStream, StoreError> {
        let pro = member.id.as_str();
        let n = self.inner.next_token.fetch_add(1, Ordering::Relaxed);
        let token = format!("{}:{n}", self.inner.instance);
        // Room for every offer a professional could be announced before they read any.
        let (tx, rx) = mpsc::channel(256);
        let replaced = CancellationToken::new();
        let removed = CancellationToken::new();
        let older = self.inner.connected.lock().expect("lock").insert(
            pro.to_string(),
            Connected {
                token: token.clone(),
                tx,
                replaced: replaced.clone(),
                removed: removed.clone(),
                member: member.clone(),
                team: team.to_string(),
            },
        );
        if let Some(older) = older {
            older.replaced.cancel();
            tracing::info!(professional = pro, "older offers stream replaced");
        }
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
        Ok(offer_stream(rx, replaced, removed, registration))
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
    /// On a cluster the subscription is made again on whichever node owns the county's slot
    /// now (after a failover, the promoted replica).
    async fn listen(self) {
        loop {
            match self.inner.store.follow_events().await {
                Ok(mut feed) => {
                    for tx in self.inner.watchers.lock().expect("lock").values() {
                        let _ = tx.send(());
                    }
                    while let Some(payload) = feed.next().await {
                        self.on_event(&payload);
                    }
                    tracing::warn!("event channel lost; subscribing again");
                }
                Err(e) => tracing::debug!(error = %e, "cannot subscribe to events"),
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
            Event::PresenceChanged { professional } => {
                self.inner.changes.notify_one();
                if self
                    .inner
                    .connected
                    .lock()
                    .expect("lock")
                    .contains_key(&professional)
                {
                    self.inner.check_leases.notify_one();
                }
            }
            Event::Offer {
                professional,
                offer,
            } => self.deliver(&professional, *offer),
        }
    }

    fn deliver(&self, pro: &str, offer: Reserved) {
        let sent = match self.inner.connected.lock().expect("lock").get(pro) {
            None => return, // connected to another instance
            // Made for another stream: one this stream replaced (its offers are placed again
            // when a stream takes over) or a newer one elsewhere, which delivers it.
            Some(c) if !offer.connection.is_empty() && offer.connection != c.token => return,
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
            // Lapsed leases first: their offers go to living colleagues now, not at expiry.
            match store.lapse_leases(100).await {
                Ok(Lapsed {
                    professionals: 0, ..
                }) => {}
                Ok(lapsed) => {
                    self.inner
                        .metrics
                        .offers_by("released", lapsed.offers_placed);
                    tracing::info!(
                        professionals = lapsed.professionals,
                        offers_placed = lapsed.offers_placed,
                        "presence leases lapsed: professionals offline, their offers placed again"
                    );
                }
                Err(e) => tracing::debug!(error = %e, "lease sweep could not run"),
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

    /// Renews the presence lease of every professional connected here, every `renew_every`
    /// and whenever a presence change may concern them, until `stop`. A stream whose
    /// connection a newer stream took ends; one whose lease lapsed meanwhile (Redis was out of
    /// reach longer than the lease) connects again, since its professional is still there.
    async fn keep_leases(self, store: Store, stop: CancellationToken) {
        let mut tick = tokio::time::interval(self.inner.renew_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Said once per outage, not at every tick of it.
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
                _ = self.inner.check_leases.notified() => {}
            }
            let streams: Vec<(String, String)> = {
                let c = self.inner.connected.lock().expect("lock");
                c.iter()
                    .map(|(pro, c)| (pro.clone(), c.token.clone()))
                    .collect()
            };
            let pairs: Vec<(&str, &str)> = streams
                .iter()
                .map(|(p, t)| (p.as_str(), t.as_str()))
                .collect();
            let leases = match store.renew_leases(&pairs).await {
                Ok(leases) => {
                    failing = false;
                    leases
                }
                Err(e) if failing => {
                    tracing::debug!(error = %e, "presence leases not renewed");
                    continue;
                }
                Err(e) => {
                    failing = true;
                    tracing::warn!(error = %e, "presence leases not renewed");
                    continue;
                }
            };
            for ((pro, token), lease) in pairs.into_iter().zip(leases) {
                match lease {
                    Lease::Renewed => {}
                    Lease::Replaced => self.end_replaced(pro, token),
                    Lease::Lapsed => self.rejoin(&store, pro, token).await,
                }
            }
        }
    }

    /// Ends this instance's stream for `pro` if it still holds `token`.
    fn end_replaced(&self, pro: &str, token: &str) {
        let mut c = self.inner.connected.lock().expect("lock");
        if c.get(pro).is_some_and(|c| c.token == token)
            && let Some(older) = c.remove(pro)
        {
            older.replaced.cancel();
            tracing::info!(
                professional = pro,
                "offers stream replaced by a newer one on another instance"
            );
        }
    }

    /// The member's new settings (languages, capacities) for the stream connected here, used
    /// when it reconnects after a lapse or closes.
    pub fn update_member(&self, member: &Member, team: &str) {
        if let Some(c) = self
            .inner
            .connected
            .lock()
            .expect("lock")
            .get_mut(&member.id)
        {
            c.member = member.clone();
            c.team = team.to_string();
        }
    }

    /// Ends this instance's stream for `pro`, if any, because the reloaded configuration no
    /// longer has them as they signed in (Redis has already signed them out).
    pub fn end_removed(&self, pro: &str) {
        if let Some(gone) = self.inner.connected.lock().expect("lock").remove(pro) {
            gone.removed.cancel();
            tracing::info!(
                professional = pro,
                "offers stream ended: removed from the county"
            );
        }
    }

    /// Connects `pro` again with the same stream after their lease lapsed, unless a newer
    /// stream took the connection meanwhile (the next renewal then ends this one).
    async fn rejoin(&self, store: &Store, pro: &str, token: &str) {
        let Some((member, team)) = self
            .inner
            .connected
            .lock()
            .expect("lock")
            .get(pro)
            .filter(|c| c.token == token)
            .map(|c| (c.member.clone(), c.team.clone()))
        else {
            return;
        };
        let change = PresenceChange {
            connection: Some(Connection::Rejoin(token)),
            ..Default::default()
        };
        match store.set_presence(&member, &team, &change).await {
            Ok(_) => tracing::info!(professional = pro, "presence lease had lapsed: reconnected"),
            Err(e) => tracing::warn!(professional = pro, error = %e, "reconnection failed"),
        }
    }
}

/// The stream of one registration: offers as they come, and on replacement one
/// `Err(Replaced)` before anything else still waiting. The registration lives as long as the
/// stream.
fn offer_stream(
    rx: mpsc::Receiver<Reserved>,
    replaced: CancellationToken,
    removed: CancellationToken,
    registration: Registration,
) -> OfferStream {
    Box::pin(futures::stream::unfold(
        Some((rx, replaced, removed, registration)),
        |state| async move {
            let (mut rx, replaced, removed, registration) = state?;
            tokio::select! {
                biased;
                _ = replaced.cancelled() => Some((Err(Replaced::ByNewer), None)),
                _ = removed.cancelled() => Some((Err(Replaced::Removed), None)),
                offer = rx.recv() => {
                    offer.map(|o| (Ok(o), Some((rx, replaced, removed, registration))))
                }
            }
        },
    ))
}
