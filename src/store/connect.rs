//! Reaching Redis: the URL checked before the first byte is sent, TLS (`rediss://`) with the
//! county's CA, and errors that say what went wrong in words, naming the URL without its
//! password. A Redis on another host must ask for a password: the citizens' data do not
//! travel to an open Redis.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use redis::ErrorKind;

/// How to reach Redis beyond its URL.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub timeouts: crate::config::RedisTimeouts,
    /// CA (PEM) of a `rediss://` server's certificate; None: the system's roots.
    pub ca_file: Option<PathBuf>,
}

/// Why Luotsi cannot use a Redis URL. Every message names the URL with its password replaced.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(
        "redis URL `{url}` has no scheme: write redis://host:6379, rediss://host:6380 (TLS) or \
         redis+unix:///path/to/redis.sock"
    )]
    NoScheme { url: String },
    #[error("redis URL `{url}` is not a valid URL")]
    Malformed { url: String },
    #[error(
        "redis at {url} is not on this machine and the URL has no password: a remote Redis must \
         require authentication (redis://user:password@host, see README \"Redis access\")"
    )]
    NoAuthentication { url: String },
    #[error("redis at {url}: cannot read the CA file {path}: {source}")]
    CaFile {
        url: String,
        path: String,
        source: std::io::Error,
    },
    #[error("redis at {url}: nothing listens there (connection refused)")]
    Refused { url: String },
    #[error("redis at {url}: no answer within the connection time-out")]
    TimedOut { url: String },
    #[error(
        "redis at {url}: the server's answer is not Redis's protocol: is this the Redis port, \
         and does the server speak TLS (then use rediss://)?"
    )]
    NotRedis { url: String },
    #[error(
        "redis at {url}: the TLS handshake failed ({detail}): does the server speak TLS \
         (rediss://) and is its certificate signed by redis.ca_file?"
    )]
    Tls { url: String, detail: String },
    #[error(
        "redis at {url}: the server closed the connection at once: it may expect TLS \
         (use rediss://)"
    )]
    Dropped { url: String },
    #[error("redis at {url}: authentication failed: {detail}")]
    Authentication { url: String, detail: String },
    #[error("redis at {url}: {detail}")]
    Other { url: String, detail: String },
}

/// Every command Luotsi sends, itself or from its Lua scripts (Redis checks a script's commands
/// against the caller's ACL too). The client library also sends `CLIENT SETINFO` on Redis 7.2
/// and later and ignores a refusal, so it is left out: Redis 7.0 does not know it. `hello`
/// opens the events' RESP3 connection; `cluster|slots` is how a cluster client learns which
/// node owns the county's slot; `wait` is `redis.wait_replicas`.
pub const COMMANDS: &[&str] = &[
    "ping",
    "hello",
    "evalsha",
    "eval",
    "script|load",
    "ssubscribe",
    "sunsubscribe",
    "cluster|slots",
    "wait",
    "get",
    "set",
    "del",
    "exists",
    "expire",
    "hget",
    "hmget",
    "hgetall",
    "hset",
    "hsetnx",
    "hdel",
    "hkeys",
    "hexists",
    "hincrby",
    "sadd",
    "srem",
    "smembers",
    "srandmember",
    "scard",
    "zadd",
    "zrem",
    "zrange",
    "zrangebyscore",
    "zrank",
    "zscore",
    "zcard",
    "zcount",
    "xadd",
    "xrange",
    "xrevrange",
    "xread",
    "spublish",
    "time",
];

/// The ACL rules of a Redis user for one county's Luotsi: its keys (`lu:{<county>}:*`), its
/// event channel and exactly [`COMMANDS`]. For `ACL SETUSER luotsi on >password <rules>` or a
/// `user luotsi on >password <rules>` line of an ACL file (README, "Redis access").
pub fn acl_rules(county: &str) -> String {
    let keys = super::Keys::new(county);
    let mut rules = format!(
        "resetkeys ~{}* resetchannels &{} -@all",
        keys.prefix(),
        keys.events()
    );
    for c in COMMANDS {
        rules.push_str(" +");
        rules.push_str(c);
    }
    rules
}

/// The URL with any password replaced by `***` (`redis://user:***@host`, `…?pass=***`).
pub fn redacted(url: &str) -> String {
    if !url.contains("://") {
        // No scheme: `user:password@host` would parse as a URL of scheme `user`.
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        };
    }
    match url::Url::parse(url) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            }
            if u.query().is_some() {
                let pairs: Vec<(String, String)> = u
                    .query_pairs()
                    .map(|(k, v)| {
                        let v = if k == "pass" || k == "password" {
                            "***".to_string()
                        } else {
                            v.into_owned()
                        };
                        (k.into_owned(), v)
                    })
                    .collect();
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_string(),
        },
    }
}

/// A client for `url`, refused before any connection when the URL has no scheme, or reaches
/// another machine without a password.
pub fn client(url: &str, ca_file: Option<&Path>) -> Result<redis::Client, ConnectError> {
    let shown = redacted(url);
    let Some(parsed) = redis::parse_redis_url(url) else {
        return Err(if url.contains("://") {
            ConnectError::Malformed { url: shown }
        } else {
            ConnectError::NoScheme { url: shown }
        });
    };
    let local = match parsed.scheme() {
        "redis+unix" | "unix" | "valkey+unix" => true,
        _ => parsed.host_str().is_some_and(is_loopback),
    };
    let has_password =
        parsed.password().is_some() || parsed.query_pairs().any(|(k, _)| k == "pass");
    if !local && !has_password {
        return Err(ConnectError::NoAuthentication { url: shown });
    }
    let built = match (parsed.scheme(), ca_file) {
        ("rediss" | "valkeys", Some(ca)) => {
            let root = std::fs::read(ca).map_err(|source| ConnectError::CaFile {
                url: shown.clone(),
                path: ca.display().to_string(),
                source,
            })?;
            crate::tls::install_crypto();
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root),
                },
            )
        }
        ("rediss" | "valkeys", None) => {
            crate::tls::install_crypto();
            redis::Client::open(url)
        }
        _ => redis::Client::open(url),
    };
    built.map_err(|e| explain(url, &e))
}

/// What a failed connection to `url` means, in words.
pub fn explain(url: &str, e: &redis::RedisError) -> ConnectError {
    let url = redacted(url);
    let detail = e.to_string();
    let lower = detail.to_ascii_lowercase();
    let tls = url.starts_with("rediss://") || url.starts_with("valkeys://");
    if e.is_connection_refusal() && matches!(e.kind(), ErrorKind::Io) {
        if tls && (lower.contains("tls") || lower.contains("certificate")) {
            return ConnectError::Tls { url, detail };
        }
        return ConnectError::Refused { url };
    }
    if e.is_timeout() {
        // A plain-text Redis takes a TLS greeting for the start of a command and waits.
        if tls {
            let detail = "no TLS answer within the connection time-out".to_string();
            return ConnectError::Tls { url, detail };
        }
        return ConnectError::TimedOut { url };
    }
    if tls
        && (lower.contains("tls")
            || lower.contains("certificate")
            || lower.contains("handshake")
            || lower.contains("corrupt message")
            || lower.contains("invalidcontenttype")
            || lower.contains("peer")
            || matches!(e.kind(), ErrorKind::Io))
    {
        return ConnectError::Tls { url, detail };
    }
    match e.kind() {
        ErrorKind::Parse => ConnectError::NotRedis { url },
        ErrorKind::AuthenticationFailed => ConnectError::Authentication { url, detail },
        ErrorKind::Server(redis::ServerErrorKind::NoPerm) => {
            ConnectError::Authentication { url, detail }
        }
        _ if lower.contains("noauth") || lower.contains("wrongpass") => {
            ConnectError::Authentication { url, detail }
        }
        _ if e.is_connection_dropped() || lower.contains("connection reset") => {
            ConnectError::Dropped { url }
        }
        _ => ConnectError::Other { url, detail },
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows_in_a_redacted_url() {
        assert_eq!(
            redacted("redis://luotsi:s3cret@redis.example:6379/0"),
            "redis://luotsi:***@redis.example:6379/0"
        );
        assert_eq!(
            redacted("redis+unix:///data/redis.sock?pass=s3cret"),
            "redis+unix:///data/redis.sock?pass=***"
        );
        assert!(!redacted("luotsi:s3cret@redis.example:6379").contains("s3cret"));
    }

    #[test]
    fn a_url_without_scheme_or_reaching_another_host_without_password_is_refused() {
        let e = client("redis.example:6379", None).expect_err("refused");
        assert!(matches!(e, ConnectError::NoScheme { .. }), "{e}");
        assert!(e.to_string().contains("redis.example:6379"), "{e}");
        let e = client("redis://redis.example:6379", None).expect_err("refused");
        assert!(matches!(e, ConnectError::NoAuthentication { .. }), "{e}");
        assert!(client("redis://127.0.0.1:6379", None).is_ok());
        assert!(client("redis://[::1]:6379", None).is_ok());
        assert!(client("redis://:pw@redis.example:6379", None).is_ok());
        assert!(client("rediss://luotsi:pw@redis.example:6380", None).is_ok());
    }
}
