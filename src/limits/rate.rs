//! Calls per caller identity: a GCRA bucket (`governor`) per credential subject and role, so a
//! client in a loop, or a stolen token, is slowed down without touching anyone else. The rate
//! is per role (`limits.roles`, else `limits.rate`): a citizen e-service back end speaks for
//! many citizens, a professional for one desk. Calls without a caller (health checks,
//! reflection) are never limited. Counted per instance: behind a load balancer of n instances
//! a caller may reach n times the rate.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tonic::codegen::http;

use crate::auth::{Caller, Role};
use crate::config::{LimitsConfig, RateLimit};
use crate::metrics::Metrics;

type Limiter = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Buckets of subjects not heard from for a while are dropped once there are this many.
const TIDY_ABOVE: usize = 4096;

#[derive(Clone)]
pub struct RateLimitLayer {
    limiters: Arc<HashMap<Role, (RateLimit, Limiter)>>,
    metrics: Arc<Metrics>,
}

impl RateLimitLayer {
    pub fn new(limits: &LimitsConfig, metrics: Arc<Metrics>) -> Self {
        let limiters = Role::ALL
            .into_iter()
            .map(|role| {
                let rate = limits.rate_for(role);
                let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
                let quota =
                    Quota::per_second(nonzero(rate.per_second)).allow_burst(nonzero(rate.burst));
                (role, (rate, RateLimiter::keyed(quota)))
            })
            .collect();
        Self {
            limiters: Arc::new(limiters),
            metrics,
        }
    }

    /// Takes one call from the caller's bucket, or says how long to wait.
    fn check(&self, caller: &Caller) -> Result<(), tonic::Status> {
        let Some((rate, limiter)) = self.limiters.get(&caller.role) else {
            return Ok(());
        };
        let checked = limiter.check_key(&caller.subject);
        if limiter.len() > TIDY_ABOVE {
            limiter.retain_recent();
        }
        checked.map_err(|not_until| {
            self.metrics.calls_rate_limited.inc();
            let wait = not_until.wait_time_from(limiter.clock().now());
            // At least a millisecond: a zero hint invites an immediate retry.
            let wait = wait.max(std::time::Duration::from_millis(1));
            crate::admission::retry_later(
                format!(
                    "rate limit: at most {} calls a second ({} at once) for a {} caller (limits.rate); retry after {} ms",
                    rate.per_second,
                    rate.burst,
                    caller.role,
                    wait.as_millis()
                ),
                wait,
            )
        })
    }
}

impl<S> tower::Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RateLimited {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RateLimited<S> {
    inner: S,
    layer: RateLimitLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for RateLimited<S>
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
        // The authentication layer in front of this one put the caller there.
        let refused = req
            .extensions()
            .get::<Caller>()
            .and_then(|caller| self.layer.check(caller).err());
        match refused {
            None => Box::pin(self.inner.call(req)),
            Some(status) => {
                let response = status.into_http();
                Box::pin(async move { Ok(response) })
            }
        }
    }
}
