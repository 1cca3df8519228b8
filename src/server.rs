//! Assembles the gRPC server: the three Luotsi services, standard health checking and server
//! reflection, on a listener the caller provides (so tests can bind port 0).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;

use crate::admission::AdmissionLayer;
use crate::api::{
    access_log::AccessLogApi, contact::ContactApi, supervisor::SupervisorApi, work::WorkApi,
};
use crate::app::AppState;
use crate::auth::AuthLayer;
use crate::limits::{DeadlineLayer, RateLimitLayer};
use crate::metrics::RpcTimingLayer;
use crate::pb;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("gRPC server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use pb::access_log_service_server::AccessLogServiceServer;
    use pb::contact_service_server::ContactServiceServer;
    use pb::supervisor_service_server::SupervisorServiceServer;
    use pb::work_service_server::WorkServiceServer;

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<ContactServiceServer<ContactApi>>()
        .await;
    health.set_serving::<WorkServiceServer<WorkApi>>().await;
    health
        .set_serving::<SupervisorServiceServer<SupervisorApi>>()
        .await;

    // Both reflection versions: current tools speak v1, many deployed ones still v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflect = state.config().server.reflection;
    let reflection_v1 = reflect.then(|| reflection().build_v1()).transpose()?;
    let reflection_v1alpha = reflect.then(|| reflection().build_v1alpha()).transpose()?;

    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    match &state.tls {
        Some(_) => tracing::info!(%addr, "gRPC and gRPC-Web listening (TLS)"),
        None => tracing::info!(%addr, "gRPC and gRPC-Web listening in PLAIN TEXT (development)"),
    }
    let metrics = state.metrics.clone();
    let cors = cors_layer(&state.config().server.cors_origins);
    let store = state.health_store.clone();
    let keepalive = std::time::Duration::from_secs(state.config().server.keepalive_secs);
    let router = tonic::transport::Server::builder()
        // HTTP/1.1 for gRPC-Web from browsers; HTTP/2 clients are unaffected.
        .accept_http1(true)
        // A client that vanished without closing (a partition) is found by an unanswered ping.
        .http2_keepalive_interval(Some(keepalive))
        .http2_keepalive_timeout(Some(keepalive))
        // Calls one connection may have open at once; a client waits for a free one.
        .max_concurrent_streams(Some(state.config().limits.streams_per_connection))
        .layer(cors)
        .layer(tonic_web::GrpcWebLayer::new())
        .layer(RpcTimingLayer(metrics.clone()))
        // Inside the timing, so that refused calls are timed too; inside gRPC-Web, so that a
        // browser reads the refusal like any other status.
        .layer(AdmissionLayer::new(
            state.config().server.max_concurrent_calls,
            metrics.clone(),
        ))
        // Inside admission, so that a call past its deadline gives its place back; outside
        // authentication, so that a slow identity provider counts against it too.
        .layer(DeadlineLayer::new(state.config().limits.call_timeout()))
        // Every call past this point has an authenticated, permitted caller.
        .layer(AuthLayer::new(state.auth.clone(), metrics.clone(), reflect))
        .layer(RateLimitLayer::new(&state.config().limits, metrics))
        .add_service(health_service)
        .add_optional_service(reflection_v1)
        .add_optional_service(reflection_v1alpha)
        .add_service(ContactServiceServer::new(ContactApi {
            state: state.clone(),
        }))
        .add_service(WorkServiceServer::new(WorkApi {
            state: state.clone(),
        }))
        .add_service(AccessLogServiceServer::new(AccessLogApi {
            state: state.clone(),
        }))
        .add_service(SupervisorServiceServer::new(SupervisorApi {
            state: state.clone(),
        }));
    let serving = async move {
        match state.tls.clone() {
            Some(tls) => {
                router
                    .serve_with_incoming_shutdown(crate::tls::incoming(listener, tls), shutdown)
                    .await
            }
            // Accepted sockets need no-delay themselves: without it Nagle's algorithm and
            // delayed ACKs hold each small response back by ~40 ms.
            None => {
                router
                    .serve_with_incoming_shutdown(
                        TcpIncoming::from(listener).with_nodelay(Some(true)),
                        shutdown,
                    )
                    .await
            }
        }
    };
    // The health status follows Redis for as long as the server runs, and stops with it.
    tokio::select! {
        served = serving => served?,
        never = watch_redis(store, health) => match never {},
    }
    Ok(())
}

/// Reports NOT_SERVING (overall, "") while Redis does not answer, so load balancers stop
/// sending work to an instance that cannot record it.
async fn watch_redis(store: Store, health: tonic_health::server::HealthReporter) -> Infallible {
    let mut up = true;
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let ok = tokio::time::timeout(Duration::from_secs(2), store.ping())
            .await
            .is_ok_and(|r| r.is_ok());
        if ok != up {
            up = ok;
            let status = if ok {
                tonic_health::ServingStatus::Serving
            } else {
                tonic_health::ServingStatus::NotServing
            };
            health.set_service_status("", status).await;
            tracing::warn!(redis_up = ok, "redis availability changed");
        }
    }
}

/// CORS for gRPC-Web from the configured browser origins: the headers a gRPC-Web client sends
/// and the grpc-status / grpc-message it must read.
fn cors_layer(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tonic::codegen::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o.trim_end_matches('/')).ok()),
        )
    };
    let h = HeaderName::from_static;
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::POST, Method::OPTIONS])
        .allow_headers([
            h("content-type"),
            h("x-grpc-web"),
            h("x-user-agent"),
            h("grpc-timeout"),
            h("authorization"),
        ])
        .expose_headers([
            h("grpc-status"),
            h("grpc-message"),
            h("grpc-status-details-bin"),
        ])
        .max_age(Duration::from_secs(86_400))
}
