//! Admission control: at most `server.max_concurrent_calls` gRPC calls are served at once by
//! an instance, and a call beyond that is refused at once with RESOURCE_EXHAUSTED and a retry
//! hint. Past its sustainable rate a service that queues every call lets each of them wait out
//! its Redis time-out, and then most of them fail; refusing the excess keeps the calls it takes
//! fast and tells the caller when to come back.
//!
//! The people already at work have a pool of their own, as large: calls of `WorkService` and
//! `SupervisorService` (accept, complete, presence, a supervisor moving a case) are what drains
//! an overload, so a flood of submissions must not refuse them. Their number is bounded by the
//! staff on duty, not by the public.
//!
//! A call holds its place until its handler has answered: for a stream that is when the stream
//! is open, so open Offers and Watch streams do not count against the limit. Health checks and
//! reflection are never refused, so that an instance that is merely busy is not taken for dead.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::Semaphore;
use tonic::codegen::http;

use crate::metrics::Metrics;

/// What a refused call is told to wait before it tries again.
pub const RETRY_AFTER: Duration = Duration::from_millis(250);

/// The metadata key carrying [`RETRY_AFTER`] in milliseconds (also given as
/// `google.rpc.RetryInfo` in the status details).
pub const RETRY_AFTER_KEY: &str = "retry-after-ms";

/// Paths that are always admitted: the health service and server reflection.
const ALWAYS_ADMITTED: [&str; 3] = [
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
];

/// Services whose calls come from staff at work: admitted from a pool of their own.
const STAFF_SERVICES: [&str; 2] = ["/luotsi.v1.WorkService/", "/luotsi.v1.SupervisorService/"];

/// A tower layer admitting at most `limit` calls at once across all connections, and as many
/// again from staff at work.
#[derive(Clone)]
pub struct AdmissionLayer {
    places: Arc<Semaphore>,
    staff_places: Arc<Semaphore>,
    limit: usize,
    metrics: Arc<Metrics>,
}

impl AdmissionLayer {
    pub fn new(limit: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            places: Arc::new(Semaphore::new(limit)),
            staff_places: Arc::new(Semaphore::new(limit)),
            limit,
            metrics,
        }
    }
}

impl<S> tower::Layer<S> for AdmissionLayer {
    type Service = Admission<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Admission {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Admission<S> {
    inner: S,
    layer: AdmissionLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for Admission<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
    S::Future: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        if ALWAYS_ADMITTED.iter().any(|p| path.starts_with(p)) {
            return Box::pin(self.inner.call(req));
        }
        let pool = if STAFF_SERVICES.iter().any(|p| path.starts_with(p)) {
            &self.layer.staff_places
        } else {
            &self.layer.places
        };
        match pool.clone().try_acquire_owned() {
            Ok(place) => {
                let answered = self.inner.call(req);
                Box::pin(async move {
                    let response = answered.await;
                    drop(place);
                    response
                })
            }
            Err(_) => {
                self.layer.metrics.calls_refused.inc();
                let refusal = refusal(self.layer.limit).into_http();
                Box::pin(async move { Ok(refusal) })
            }
        }
    }
}

/// RESOURCE_EXHAUSTED with the retry hint both as metadata and as `google.rpc.RetryInfo`.
fn refusal(limit: usize) -> tonic::Status {
    retry_later(
        format!(
            "the service is at its limit of {limit} calls at once; retry after {} ms",
            RETRY_AFTER.as_millis()
        ),
        RETRY_AFTER,
    )
}

/// RESOURCE_EXHAUSTED telling the caller to come back after `after`: in the message, as
/// metadata ([`RETRY_AFTER_KEY`]) and as `google.rpc.RetryInfo`.
pub fn retry_later(message: String, after: Duration) -> tonic::Status {
    use tonic_types::{ErrorDetails, StatusExt};
    let mut status = tonic::Status::with_error_details(
        tonic::Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(after)),
    );
    status.metadata_mut().insert(
        RETRY_AFTER_KEY,
        tonic::metadata::MetadataValue::from(after.as_millis() as u64),
    );
    status
}
