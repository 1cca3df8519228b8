//! Prometheus metrics, served on the HTTP port at `/metrics`. Labels carry codes only (channel,
//! need, team, queue, outcome, RPC method): never anything about a person.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tonic::codegen::http;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ContactLabels {
    pub channel: String,
    pub need: String,
    /// `new`, `joined` or `duplicate`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OfferLabels {
    /// `accepted`, `declined`, `expired` or `released`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// `ok` or `refused`.
    pub result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    pub team: String,
    pub queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RefusalLabels {
    /// Why: `missing`, `expired`, `signature`, `permission`, … (never who).
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TeamLabels {
    pub team: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriageLabels {
    /// `kept`, `raised` or `lowered`: the urgency.
    pub urgency: String,
    /// `kept` or `changed`: the needs.
    pub needs: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    pub method: String,
}

/// Every metric of one Luotsi instance.
pub struct Metrics {
    registry: Registry,
    pub contacts: Family<ContactLabels, Counter>,
    pub completed: Family<OutcomeLabels, Counter>,
    pub offers: Family<OfferLabels, Counter>,
    pub deadline_misses: Counter,
    pub queue_depth: Family<QueueLabels, Gauge>,
    pub queue_oldest_wait: Family<QueueLabels, Gauge<f64, AtomicU64>>,
    pub queue_past_deadline: Family<QueueLabels, Gauge>,
    pub rpc_duration: Family<RpcLabels, Histogram>,
    pub redis_roundtrip: Histogram,
    pub board_stale: Gauge,
    /// Calls refused RESOURCE_EXHAUSTED because the instance was at its limit.
    pub calls_refused: Counter,
    /// Calls refused by a caller's rate limit (`limits.rate`).
    pub calls_rate_limited: Counter,
    /// Calls refused UNAUTHENTICATED or PERMISSION_DENIED at the door, by reason.
    pub calls_unauthorized: Family<RefusalLabels, Counter>,
    /// Cases past their first-look time that no person has confirmed, per team.
    pub first_look_overdue: Family<TeamLabels, Gauge>,
    /// First looks (ConfirmTriage), by what happened to the urgency and the needs.
    pub triage_confirmations: Family<TriageLabels, Counter>,
    /// County reloads on SIGHUP, put in use or refused.
    pub config_reloads: Family<ResultLabels, Counter>,
    /// Waiting cases older than `routing.stale_case_days`, per team and queue.
    pub queue_stale: Family<QueueLabels, Gauge>,
    /// Open cases older than `routing.stale_case_days` not waiting in a queue, per team.
    pub open_stale: Family<TeamLabels, Gauge>,
    /// Call-back attempts recorded, by outcome.
    pub call_attempts: Family<OutcomeLabels, Counter>,
    /// Call-backs that became unreachable.
    pub cases_unreachable: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("luotsi");
        let m = Metrics {
            contacts: Family::default(),
            completed: Family::default(),
            offers: Family::default(),
            deadline_misses: Counter::default(),
            queue_depth: Family::default(),
            queue_oldest_wait: Family::default(),
            queue_past_deadline: Family::default(),
            rpc_duration: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0002, 2.0, 16))
            }),
            redis_roundtrip: Histogram::new(exponential_buckets(0.00005, 2.0, 16)),
            board_stale: Gauge::default(),
            calls_refused: Counter::default(),
            calls_rate_limited: Counter::default(),
            calls_unauthorized: Family::default(),
            first_look_overdue: Family::default(),
            triage_confirmations: Family::default(),
            config_reloads: Family::default(),
            call_attempts: Family::default(),
            queue_stale: Family::default(),
            open_stale: Family::default(),
            cases_unreachable: Counter::default(),
            registry: Registry::default(),
        };
        registry.register(
            "contacts_submitted",
            "Contacts submitted, by channel, primary need and result",
            m.contacts.clone(),
        );
        registry.register(
            "cases_completed",
            "Cases completed, by outcome",
            m.completed.clone(),
        );
        registry.register(
            "offers",
            "Offers ended, by result (accepted, declined, expired, released)",
            m.offers.clone(),
        );
        registry.register(
            "deadline_misses",
            "Cases taken by a professional after their deadline",
            m.deadline_misses.clone(),
        );
        registry.register(
            "queue_depth",
            "Cases waiting, per team and queue",
            m.queue_depth.clone(),
        );
        registry.register(
            "queue_oldest_wait_seconds",
            "Wait of the longest-waiting case, per team and queue",
            m.queue_oldest_wait.clone(),
        );
        registry.register(
            "queue_past_deadline",
            "Cases waiting past their deadline, per team and queue",
            m.queue_past_deadline.clone(),
        );
        registry.register(
            "rpc_duration_seconds",
            "gRPC handling time to the response headers (a stream: until it is open), per method",
            m.rpc_duration.clone(),
        );
        registry.register(
            "redis_roundtrip_seconds",
            "Redis PING round trip, measured at every board refresh",
            m.redis_roundtrip.clone(),
        );
        registry.register(
            "board_stale",
            "1 while the queue figures cannot be refreshed from Redis",
            m.board_stale.clone(),
        );
        registry.register(
            "calls_refused",
            "gRPC calls refused RESOURCE_EXHAUSTED because the instance was at server.max_concurrent_calls",
            m.calls_refused.clone(),
        );
        registry.register(
            "calls_rate_limited",
            "gRPC calls refused RESOURCE_EXHAUSTED because their caller was over its rate (limits.rate)",
            m.calls_rate_limited.clone(),
        );
        registry.register(
            "calls_unauthorized",
            "gRPC and board calls refused for their credential or role (security events), by reason",
            m.calls_unauthorized.clone(),
        );
        registry.register(
            "first_look_overdue",
            "Cases past their first-look time whose classification no person has confirmed, per team",
            m.first_look_overdue.clone(),
        );
        registry.register(
            "triage_confirmations",
            "First looks (ConfirmTriage), by what happened to the urgency and the needs",
            m.triage_confirmations.clone(),
        );
        registry.register(
            "queue_stale",
            "Waiting cases older than routing.stale_case_days (never deleted: a supervisor decides)",
            m.queue_stale.clone(),
        );
        registry.register(
            "open_stale",
            "Open cases older than routing.stale_case_days not waiting in a queue (offered, in progress, unreachable), per team",
            m.open_stale.clone(),
        );
        registry.register(
            "call_attempts",
            "Call-back attempts recorded, by outcome (answered, no_answer, busy, wrong_number)",
            m.call_attempts.clone(),
        );
        registry.register(
            "cases_unreachable",
            "Call-backs that became unreachable (attempts exhausted or a wrong number)",
            m.cases_unreachable.clone(),
        );
        registry.register(
            "county_reloads",
            "County configuration reloads on SIGHUP, by result (ok, refused)",
            m.config_reloads.clone(),
        );
        Metrics { registry, ..m }
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }

    /// Counts a submitted contact by channel, routed need and what became of it.
    pub fn contact(
        &self,
        channel: crate::domain::Channel,
        need: crate::domain::Need,
        outcome: &crate::store::Submitted,
    ) {
        use crate::store::Submitted;
        let result = match outcome {
            Submitted::New { .. } => "new",
            Submitted::Joined { .. } => "joined",
            Submitted::Duplicate { .. } => "duplicate",
        };
        self.contacts
            .get_or_create(&ContactLabels {
                channel: channel.code().to_string(),
                need: need.code().to_string(),
                result: result.to_string(),
            })
            .inc();
    }

    /// Counts a call refused at the door (a security event).
    pub fn unauthorized(&self, reason: &str) {
        self.calls_unauthorized
            .get_or_create(&RefusalLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Counts a first look by what the professional did with the urgency and the needs.
    pub fn triage(&self, urgency: crate::domain::triage::UrgencyDirection, needs_changed: bool) {
        self.triage_confirmations
            .get_or_create(&TriageLabels {
                urgency: urgency.code().to_string(),
                needs: if needs_changed { "changed" } else { "kept" }.to_string(),
            })
            .inc();
    }

    pub fn offer(&self, result: &str) {
        self.offers_by(result, 1);
    }

    pub fn offers_by(&self, result: &str, n: u64) {
        self.offers
            .get_or_create(&OfferLabels {
                result: result.to_string(),
            })
            .inc_by(n);
    }
}

/// The RPC methods measured by name; anything else is counted as `other`, so a client cannot
/// grow the label set.
const METHODS: &[&str] = &[
    "/luotsi.v1.ContactService/SubmitContact",
    "/luotsi.v1.ContactService/Classify",
    "/luotsi.v1.ContactService/GetCase",
    "/luotsi.v1.ContactService/WatchCase",
    "/luotsi.v1.ContactService/CancelContact",
    "/luotsi.v1.ContactService/AcceptCallback",
    "/luotsi.v1.WorkService/SetPresence",
    "/luotsi.v1.WorkService/Offers",
    "/luotsi.v1.WorkService/AcceptOffer",
    "/luotsi.v1.WorkService/DeclineOffer",
    "/luotsi.v1.WorkService/CompleteCase",
    "/luotsi.v1.WorkService/TransferCase",
    "/luotsi.v1.WorkService/RequestConsultation",
    "/luotsi.v1.WorkService/ListUnconfirmed",
    "/luotsi.v1.WorkService/ConfirmTriage",
    "/luotsi.v1.SupervisorService/ListQueues",
    "/luotsi.v1.SupervisorService/WatchQueues",
    "/luotsi.v1.SupervisorService/ListQueuedCases",
    "/luotsi.v1.SupervisorService/MoveCase",
    "/luotsi.v1.SupervisorService/SetUrgency",
    "/luotsi.v1.SupervisorService/ReleaseOffer",
    "/luotsi.v1.SupervisorService/GetStats",
    "/grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Watch",
];

/// A tower layer timing every gRPC request into `rpc_duration_seconds`.
#[derive(Clone)]
pub struct RpcTimingLayer(pub Arc<Metrics>);

impl<S> tower::Layer<S> for RpcTimingLayer {
    type Service = RpcTiming<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RpcTiming {
            inner,
            metrics: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RpcTiming<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B> tower::Service<http::Request<B>> for RpcTiming<S>
where
    S: tower::Service<http::Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        let method = METHODS
            .iter()
            .find(|m| **m == path)
            .map_or("other", |m| m.rsplit('/').next().unwrap_or("other"));
        let histogram = self
            .metrics
            .rpc_duration
            .get_or_create(&RpcLabels {
                method: method.to_string(),
            })
            .clone();
        let start = Instant::now();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let r = fut.await;
            histogram.observe(start.elapsed().as_secs_f64());
            r
        })
    }
}
