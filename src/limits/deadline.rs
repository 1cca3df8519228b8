//! A deadline on every unary call: a handler still waiting when it passes (Redis frozen, a
//! lock held) is dropped and the caller told DEADLINE_EXCEEDED, so that neither the caller nor
//! the instance's admission places wait without end. Streams are left alone: they are meant to
//! stay open, and opening one is bounded by the Redis time-out of the reads it makes.
//!
//! Dropping a handler's future is what a client cancelling its call already does, so handlers
//! are written for it: a Redis script either ran whole or not at all.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::codegen::http;

use crate::auth::permissions::LUOTSI;

#[derive(Clone)]
pub struct DeadlineLayer {
    timeout: Duration,
    /// Paths of Luotsi's streaming methods, read from the schema.
    streams: Arc<HashSet<String>>,
}

impl DeadlineLayer {
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            streams: Arc::new(streaming_paths()),
        }
    }

    /// Whether a call to `path` gets the deadline: Luotsi's own unary methods.
    pub fn applies_to(&self, path: &str) -> bool {
        path.starts_with(LUOTSI) && !self.streams.contains(path)
    }
}

/// `/package.Service/Method` of every method that streams either way, from the descriptor
/// set compiled into the binary: a new streaming RPC needs no list kept by hand.
pub fn streaming_paths() -> HashSet<String> {
    let set: prost_types::FileDescriptorSet =
        prost::Message::decode(crate::pb::FILE_DESCRIPTOR_SET).expect("the compiled schema");
    let mut paths = HashSet::new();
    for file in &set.file {
        let package = file.package();
        for service in &file.service {
            for m in &service.method {
                if m.server_streaming() || m.client_streaming() {
                    paths.insert(format!("/{package}.{}/{}", service.name(), m.name()));
                }
            }
        }
    }
    paths
}

impl<S> tower::Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Deadline<S> {
    inner: S,
    layer: DeadlineLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for Deadline<S>
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
        if !self.layer.applies_to(req.uri().path()) {
            return Box::pin(self.inner.call(req));
        }
        let timeout = self.layer.timeout;
        let answered = self.inner.call(req);
        Box::pin(async move {
            match tokio::time::timeout(timeout, answered).await {
                Ok(response) => response,
                Err(_) => {
                    tracing::warn!(
                        timeout_ms = timeout.as_millis() as u64,
                        "call not answered in time"
                    );
                    Ok(tonic::Status::deadline_exceeded(format!(
                        "not answered within {} ms (limits.call_timeout_ms); it may or may not have taken effect, retry with the same idempotency key",
                        timeout.as_millis()
                    ))
                    .into_http())
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_names_the_streams_and_only_them() {
        let layer = DeadlineLayer::new(Duration::from_secs(1));
        assert!(!layer.applies_to("/luotsi.v1.ContactService/WatchCase"));
        assert!(!layer.applies_to("/luotsi.v1.WorkService/Offers"));
        assert!(!layer.applies_to("/luotsi.v1.SupervisorService/WatchQueues"));
        assert!(layer.applies_to("/luotsi.v1.ContactService/SubmitContact"));
        assert!(!layer.applies_to("/grpc.health.v1.Health/Check"));
    }
}
