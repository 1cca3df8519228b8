//! Connecting to a running Luotsi as a client (the `luotsi` commands, the load test): TLS with
//! the CA that signed the server's certificate, and a bearer token on every call.

use std::path::Path;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot reach Luotsi at {addr}: {source}")]
    Connect {
        addr: String,
        source: tonic::transport::Error,
    },
    #[error("address `{0}`: {1}")]
    Address(String, String),
}

/// How to reach the server.
#[derive(Debug, Clone, Default)]
pub struct Target<'a> {
    /// `https://host:port` (or `http://` for plain text on loopback).
    pub addr: &'a str,
    /// The CA that signed the server's certificate (PEM).
    pub ca: Option<&'a Path>,
    /// A client certificate and key (PEM) for a system calling with mutual TLS.
    pub client_cert: Option<(&'a Path, &'a Path)>,
}

pub async fn connect(target: &Target<'_>) -> Result<Channel, ClientError> {
    crate::tls::install_crypto();
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| ClientError::Read {
            path: p.display().to_string(),
            source,
        })
    };
    let mut endpoint = Endpoint::from_shared(target.addr.to_string())
        .map_err(|e| ClientError::Address(target.addr.into(), e.to_string()))?
        .tcp_nodelay(true);
    if target.addr.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        if let Some(ca) = target.ca {
            tls = tls.ca_certificate(Certificate::from_pem(read(ca)?));
        }
        if let Some((cert, key)) = target.client_cert {
            tls = tls.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| ClientError::Address(target.addr.into(), e.to_string()))?;
    }
    endpoint
        .connect()
        .await
        .map_err(|source| ClientError::Connect {
            addr: target.addr.to_string(),
            source,
        })
}

/// A request carrying `authorization: Bearer <token>` (none for an empty token).
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if token.is_empty() {
        return request;
    }
    if let Ok(v) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", v);
    }
    request
}
