//! The authentication layer in front of every gRPC service: credential → [`Caller`], checked
//! against the permission table, handed to the handler in the request's extensions. A refused
//! call never reaches a handler; it is counted and logged as a security event (no token, no
//! personal data), and writes nothing else.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::CertificateDer;
use tonic::Status;
use tonic::codegen::http;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};

use super::jwt::Verifier;
use super::permissions::{LUOTSI, OPEN, REFLECTION, allowed};
use super::{AuthError, Caller, Credential, Role, Teams};
use crate::metrics::Metrics;

/// Verifies credentials. Shared by the gRPC layer and the HTTP port.
#[derive(Debug)]
pub struct Authenticator {
    verifier: Verifier,
    /// Client certificate Common Name → roles.
    clients: HashMap<String, Vec<Role>>,
}

impl Authenticator {
    pub fn new(verifier: Verifier, clients: HashMap<String, Vec<Role>>) -> Self {
        Self { verifier, clients }
    }

    pub fn issuer(&self) -> &str {
        self.verifier.issuer()
    }

    /// Who presents these credentials: the bearer token when there is one, else the client
    /// certificate.
    pub async fn identify(
        &self,
        authorization: Option<&[u8]>,
        certificates: Option<&[CertificateDer<'static>]>,
        source: Option<SocketAddr>,
    ) -> Result<Caller, AuthError> {
        if let Some(header) = authorization {
            let header = std::str::from_utf8(header).map_err(|_| AuthError::MalformedHeader)?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(AuthError::MalformedHeader)?;
            let id = self.verifier.verify(token).await?;
            return Ok(Caller {
                subject: id.subject,
                role: id.roles[0],
                roles: id.roles,
                organisation: id.organisation,
                professional: id.professional,
                teams: id.teams,
                credential: id.credential,
                source,
            });
        }
        if let Some(cert) = certificates.and_then(|c| c.first()) {
            let name = common_name(cert)?;
            let roles = self
                .clients
                .get(&name)
                .cloned()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| AuthError::UnknownClient(name.clone()))?;
            return Ok(Caller {
                subject: name,
                role: roles[0],
                roles,
                organisation: String::new(),
                professional: None,
                teams: Teams::Only(Vec::new()),
                credential: Credential::Certificate,
                source,
            });
        }
        Err(AuthError::Missing)
    }

    /// Authenticates a call to `path` and checks the permission table.
    pub async fn authorize(
        &self,
        path: &str,
        authorization: Option<&[u8]>,
        certificates: Option<&[CertificateDer<'static>]>,
        source: Option<SocketAddr>,
    ) -> Result<Caller, Refused> {
        let Some(allowed) = allowed(path) else {
            return Err(Refused::Denied(format!(
                "no role may call {}",
                crate::api::quote(path)
            )));
        };
        let mut caller = self
            .identify(authorization, certificates, source)
            .await
            .map_err(Refused::Credential)?;
        match allowed.iter().find(|r| caller.roles.contains(r)) {
            Some(role) => {
                caller.role = *role;
                Ok(caller)
            }
            None => Err(Refused::Denied(format!(
                "role {} may not call {}",
                caller
                    .roles
                    .iter()
                    .map(|r| r.name())
                    .collect::<Vec<_>>()
                    .join(", "),
                path.rsplit('/').next().unwrap_or(path)
            ))),
        }
    }
}

/// Why a call was refused at the door.
#[derive(Debug)]
pub enum Refused {
    Credential(AuthError),
    Denied(String),
}

impl Refused {
    pub fn status(&self) -> Status {
        match self {
            Refused::Credential(e) => e.status(),
            Refused::Denied(m) => Status::permission_denied(m.clone()),
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Refused::Credential(e) => e.label(),
            Refused::Denied(_) => "permission",
        }
    }
}

/// The Common Name of a certificate's subject.
fn common_name(cert: &CertificateDer<'_>) -> Result<String, AuthError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| AuthError::MalformedCertificate)?;
    parsed
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(String::from)
        .ok_or(AuthError::MalformedCertificate)
}

/// Records a refused call: a security event in the log (reason, RPC, source; never the
/// credential) and the `luotsi_calls_unauthorized_total` metric.
pub fn security_event(metrics: &Metrics, path: &str, source: Option<SocketAddr>, why: &Refused) {
    metrics.unauthorized(why.label());
    tracing::warn!(
        target: "luotsi::security",
        rpc = path,
        source = source.map(|s| s.to_string()).unwrap_or_default(),
        reason = why.label(),
        "call refused"
    );
}

#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<Authenticator>,
    metrics: Arc<Metrics>,
    reflection: bool,
}

impl AuthLayer {
    pub fn new(auth: Arc<Authenticator>, metrics: Arc<Metrics>, reflection: bool) -> Self {
        Self {
            auth,
            metrics,
            reflection,
        }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authenticate {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    layer: AuthLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for Authenticate<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: http_body::Body + Send + Unpin + 'static,
    R: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let path = req.uri().path();
        if OPEN.iter().any(|p| path.starts_with(p))
            || (self.layer.reflection && path.starts_with(REFLECTION))
        {
            return Box::pin(self.inner.call(req));
        }
        // Luotsi's own RPCs are all in the permission table (a test says so); anything else
        // that is not open is not served here.
        if !path.starts_with(LUOTSI) {
            let status =
                Status::unimplemented(format!("{} is not served", crate::api::quote(path)))
                    .into_http();
            return Box::pin(async move { Ok(status) });
        }
        // The ready service goes with this call; its clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let path = req.uri().path().to_string();
            let (certs, source) = connection(&req);
            let authorization = req
                .headers()
                .get(http::header::AUTHORIZATION)
                .map(|v| v.as_bytes().to_vec());
            match layer
                .auth
                .authorize(&path, authorization.as_deref(), certs.as_deref(), source)
                .await
            {
                Ok(caller) => {
                    req.extensions_mut().insert(caller);
                    inner.call(req).await
                }
                Err(why) => {
                    security_event(&layer.metrics, &path, source, &why);
                    drain(req.into_body()).await;
                    Ok(why.status().into_http())
                }
            }
        })
    }
}

/// Reads what the client is still sending of a refused call (at most 64 KiB, for at most a
/// second): an HTTP/1.1 client writing its body into a closed connection would see a broken
/// pipe instead of the refusal.
async fn drain<B: http_body::Body + Unpin>(mut body: B) {
    use bytes::Buf;
    use http_body_util::BodyExt;
    let mut read = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), async {
        while let Some(Ok(frame)) = body.frame().await {
            if let Some(data) = frame.data_ref() {
                read += data.remaining();
            }
            if read > 64 * 1024 {
                break;
            }
        }
    })
    .await;
}

/// The peer's certificates and address, from what tonic knows of the connection.
fn connection<B>(
    req: &http::Request<B>,
) -> (Option<Vec<CertificateDer<'static>>>, Option<SocketAddr>) {
    let ext = req.extensions();
    if let Some(tls) = ext.get::<TlsConnectInfo<TcpConnectInfo>>() {
        let certs = tls.peer_certs().map(|c| c.as_ref().clone());
        return (certs, tls.get_ref().remote_addr());
    }
    let source = ext.get::<TcpConnectInfo>().and_then(|t| t.remote_addr());
    (None, source)
}
