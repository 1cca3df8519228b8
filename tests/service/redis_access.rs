//! Luotsi's access to Redis: it works as a Redis user limited to its county's keys, its event
//! channel and the commands it uses (the README's ACL); a URL it cannot use is refused with
//! what is wrong, naming the URL without its password.

use std::time::Duration;

use luotsi::auth::dev::DevAuthority;
use luotsi::config::RedisTimeouts;
use luotsi::pb;
use luotsi::store::connect::acl_rules;
use luotsi::store::{ConnectError, ConnectOptions, Store, StoreError};

use crate::county::TestCounty;
use crate::harness::{RedisServer, free_port};
use crate::support::*;

#[tokio::test]
async fn the_whole_flow_runs_as_a_redis_user_limited_to_the_county_keys_and_luotsi_commands() {
    let county_id = crate::harness::config().county.id;
    let redis = RedisServer::start_with_acl_user(&acl_rules(&county_id));
    let luotsi_url = redis.service_url();
    let county = TestCounty::start_on(redis).await;

    county.go_online("suu-hh-1").await;
    let mut req = dental(pb::Channel::Phone, "acl-1");
    req.citizen.as_mut().unwrap().identity_code = "131052-308T".into();
    req.citizen.as_mut().unwrap().callback_number = "040 123 4567".into();
    let answer = county.submit(req).await;
    let offer = county.next_offer("suu-hh-1").await;
    assert_eq!(offer.case_id, answer.case_id);
    county.accept("suu-hh-1", &offer).await;
    county
        .confirm_triage(
            "suu-hh-1",
            &answer,
            &[],
            pb::Urgency::Unspecified,
            pb::TriageReason::Unspecified,
        )
        .await;
    county.complete("suu-hh-1", &offer).await;
    // Queued work, the supervisors' reads, the board and the access log.
    let queued = county.submit(dental(pb::Channel::Chat, "acl-2")).await;
    county.set_presence("suu-hh-1", pb::Presence::OnBreak).await;
    let queued_again = county.submit(dental(pb::Channel::EService, "acl-3")).await;
    assert!(
        county.depth("suunterveys").await >= 1,
        "{queued:?} {queued_again:?}"
    );
    let (status, _) = county.http_get("/api/board").await;
    assert_eq!(status, 200);
    assert!(!county.access_log().await.is_empty());
    // The reaper, the lease loop and the board refresh have run meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let mut admin = county.redis();
    let denied: Vec<redis::Value> = redis::cmd("ACL")
        .arg("LOG")
        .query(&mut admin)
        .expect("acl log");
    assert!(denied.is_empty(), "commands denied to Luotsi: {denied:?}");

    // And the user really is limited: another key, another command, another channel.
    let mut luotsi = redis::Client::open(luotsi_url)
        .unwrap()
        .get_connection()
        .unwrap();
    let other_key: redis::RedisResult<()> = redis::cmd("SET")
        .arg("lu:{other}:x")
        .arg(1)
        .query(&mut luotsi);
    assert!(other_key.is_err(), "another county's key");
    let flush: redis::RedisResult<()> = redis::cmd("FLUSHALL").query(&mut luotsi);
    assert!(flush.is_err(), "FLUSHALL");
    let keys: redis::RedisResult<Vec<String>> = redis::cmd("KEYS").arg("*").query(&mut luotsi);
    assert!(keys.is_err(), "KEYS");
    let publish: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg("elsewhere")
        .arg("x")
        .query(&mut luotsi);
    assert!(publish.is_err(), "another channel");
}

async fn connect(url: &str, ca_file: Option<std::path::PathBuf>) -> ConnectError {
    let options = ConnectOptions {
        timeouts: RedisTimeouts {
            response: Duration::from_secs(2),
            connection: Duration::from_secs(2),
        },
        ca_file,
    };
    match Store::connect_with(url, "siun-sote", Duration::from_secs(30), options).await {
        Ok(_) => panic!("{url} connected"),
        Err(StoreError::Connect(e)) => e,
        Err(e) => panic!("{url}: not a connection error: {e:?}"),
    }
}

fn says(e: &ConnectError, shown_url: &str, words: &str) {
    let line = e.to_string();
    assert!(line.contains(shown_url), "names the URL: {line}");
    assert!(line.contains(words), "says `{words}`: {line}");
    assert!(!line.contains("s3cret"), "no password: {line}");
}

/// A plain Redis and a TLS-only Redis (certificate from a development CA), on free ports.
struct TlsRedis {
    child: std::process::Child,
    port: u16,
    ca: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl TlsRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dev = DevAuthority::open(&dir.path().join("ca")).unwrap();
        let port = free_port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", "0", "--bind", "127.0.0.1", "--save", ""])
            .args(["--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
            .arg("--tls-cert-file")
            .arg(dev.server_cert_file())
            .arg("--tls-key-file")
            .arg(dev.server_key_file())
            .arg("--tls-ca-cert-file")
            .arg(dev.ca_file())
            .args(["--requirepass", "s3cret"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            port,
            ca: dev.ca_file(),
            _dir: dir,
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn rediss_reaches_a_tls_redis_signed_by_the_configured_ca() {
    let tls = TlsRedis::start();
    let url = format!("rediss://:s3cret@localhost:{}", tls.port);
    let store = Store::connect_with(
        &url,
        "siun-sote",
        Duration::from_secs(30),
        ConnectOptions {
            ca_file: Some(tls.ca.clone()),
            ..Default::default()
        },
    )
    .await
    .expect("connects over TLS");
    store.ping().await.expect("answers over TLS");
}

#[tokio::test]
async fn each_unusable_redis_url_is_refused_saying_why_and_naming_it_without_its_password() {
    // No scheme.
    let e = connect("luotsi:s3cret@127.0.0.1:6379", None).await;
    assert!(matches!(e, ConnectError::NoScheme { .. }), "{e}");
    says(&e, "127.0.0.1:6379", "no scheme");

    // Another machine, no password: refused before a byte is sent.
    let e = connect("redis://redis.example.invalid:6379", None).await;
    assert!(matches!(e, ConnectError::NoAuthentication { .. }), "{e}");
    says(&e, "redis.example.invalid:6379", "no password");

    // Nothing listens.
    let port = free_port();
    let e = connect(&format!("redis://luotsi:s3cret@127.0.0.1:{port}"), None).await;
    assert!(matches!(e, ConnectError::Refused { .. }), "{e}");
    says(
        &e,
        &format!("redis://luotsi:***@127.0.0.1:{port}"),
        "connection refused",
    );

    // A port that is not Redis: an HTTP server.
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http_port = http.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut s, _)) = http.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).await;
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
            });
        }
    });
    let e = connect(&format!("redis://:s3cret@127.0.0.1:{http_port}"), None).await;
    assert!(matches!(e, ConnectError::NotRedis { .. }), "{e}");
    says(
        &e,
        &format!("127.0.0.1:{http_port}"),
        "not Redis's protocol",
    );

    // TLS one way, plain text the other.
    let tls = TlsRedis::start();
    let plain = RedisServer::start();
    let e = connect(
        &format!("rediss://:s3cret@localhost:{}", plain.port),
        Some(tls.ca.clone()),
    )
    .await;
    assert!(matches!(e, ConnectError::Tls { .. }), "{e}");
    says(
        &e,
        &format!("localhost:{}", plain.port),
        "TLS handshake failed",
    );
    let e = connect(&format!("redis://:s3cret@127.0.0.1:{}", tls.port), None).await;
    assert!(
        matches!(
            e,
            ConnectError::Dropped { .. } | ConnectError::NotRedis { .. }
        ),
        "{e}"
    );
    says(&e, &format!("127.0.0.1:{}", tls.port), "TLS");
}
