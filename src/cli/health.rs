//! `luotsi health`: the container's HEALTHCHECK without a shell or curl in the image. One HTTP
//! GET of `/readyz` on the configured HTTP port (ready: Redis answers), over TLS as the port
//! speaks it; exit status 0 when the answer is 200, 1 otherwise, with the reason on stderr.
//!
//! The certificate is checked against `--ca`, else the development CA (development), else not
//! at all: the probe runs on the same machine, sends no credential and reads only a status.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use luotsi::config::Config;

#[derive(clap::Args)]
pub struct HealthArgs {
    /// CA certificate (PEM) to check the HTTP port's certificate with.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// How long to wait for the answer, in seconds.
    #[arg(long, default_value_t = 3)]
    timeout_secs: u64,
}

pub async fn run(config: Config, args: HealthArgs) -> Result<(), Box<dyn std::error::Error>> {
    luotsi::tls::install_crypto();
    let addr = reachable(config.server.http_addr);
    let mut http = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_secs))
        .no_proxy();
    let url = if config.tls.plaintext_on_loopback {
        format!("http://{addr}/readyz")
    } else {
        let ca = args.ca.clone().or_else(|| {
            config
                .auth
                .is_development()
                .then(|| luotsi::auth::dev_dir(&config).join("ca.pem"))
        });
        http = match ca {
            Some(ca) => {
                let pem = std::fs::read(&ca).map_err(|e| format!("{}: {e}", ca.display()))?;
                http.tls_certs_only([reqwest::Certificate::from_pem(&pem)?])
            }
            None => http.tls_danger_accept_invalid_certs(true),
        };
        format!("https://{addr}/readyz")
    };
    let answer = http
        .build()?
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    let status = answer.status();
    if status.is_success() {
        Ok(())
    } else {
        let body = answer.text().await.unwrap_or_default();
        Err(format!("{url}: {status} {}", body.trim()).into())
    }
}

/// Where to reach a port bound to every address: loopback of the same family.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

/// The error and its causes on one line (reqwest's own says only "error sending request").
fn describe(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}
