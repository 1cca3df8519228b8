//! What authentication and the access log cost per call, on one thread: the gRPC layer's
//! `authorize` with a token already verified (the usual case: keys cached, token remembered),
//! the first verification of a new token (an ES256 signature check), and an access-log entry
//! written by a script against a real Redis, beside a bare round trip. Run:
//! `cargo bench --bench auth`.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use luotsi::auth::Role;
use luotsi::auth::dev::{DevAuthority, TokenRequest};
use luotsi::config::{Appendfsync, Config};
use luotsi::domain::Purpose;
use luotsi::store::{AccessEntry, Store};

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "  {name:<46} p50 {:>6.1} µs  p99 {:>6.1} µs  (n = {})",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.len()
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}

async fn run() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::load(std::path::Path::new("config/luotsi.toml")).unwrap();
    config.auth.dev_dir = Some(dir.path().join("dev-auth"));
    config.tls.plaintext_on_loopback = true;
    let (auth, _) = luotsi::auth::setup(&config).unwrap();
    let dev = DevAuthority::open(&dir.path().join("dev-auth")).unwrap();
    let path = "/luotsi.v1.WorkService/AcceptOffer";
    println!("luotsi auth bench (one thread)");

    // A remembered token: what every call after a person's first pays.
    let token = dev
        .token(&TokenRequest::new(Role::Professional, "suu-hh-1", "luotsi"))
        .unwrap();
    let header = format!("Bearer {token}");
    let mut cached = Histogram::<u64>::new(3).unwrap();
    for i in 0..220_000 {
        let t = Instant::now();
        let caller = auth
            .authorize(path, Some(header.as_bytes()), None, None)
            .await
            .expect("authorized");
        let took = t.elapsed();
        std::hint::black_box(caller);
        if i >= 20_000 {
            cached.record(took.as_nanos() as u64).unwrap();
        }
    }
    report("authorize, token remembered", &cached);

    // New tokens: the signature is checked once per token.
    let fresh: Vec<String> = (0..3_000)
        .map(|i| {
            let h = dev
                .token(&TokenRequest::new(
                    Role::Professional,
                    &format!("pro-{i}"),
                    "luotsi",
                ))
                .unwrap();
            format!("Bearer {h}")
        })
        .collect();
    let mut first = Histogram::<u64>::new(3).unwrap();
    for h in &fresh {
        let t = Instant::now();
        let _ = auth.authorize(path, Some(h.as_bytes()), None, None).await;
        first.record(t.elapsed().as_nanos() as u64).unwrap();
    }
    report("authorize, a token's first call (ES256)", &first);

    // The access log: one entry written by a script, beside a bare round trip to the same Redis.
    let redis =
        luotsi::embedded::EmbeddedRedis::start(&dir.path().join("redis"), Appendfsync::EverySec)
            .await
            .unwrap();
    let store = Store::connect(redis.url().expose(), "bench", Duration::from_secs(30))
        .await
        .unwrap();
    let entry = AccessEntry {
        by: "suu-hh-1".into(),
        role: "professional",
        organisation: "siun-sote".into(),
        action: "read",
        purpose: Purpose::CareRelationship,
        source: "127.0.0.1:50000".into(),
    };
    // The baseline is a script that writes one small hash field: what any logged change pays
    // anyway (a round trip, a script, an append to the append-only file).
    let write = redis::Script::new("redis.call('HSET', KEYS[1], 'f', ARGV[1]) return 1");
    let mut conn = redis::Client::open(redis.url().expose())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut ping = Histogram::<u64>::new(3).unwrap();
    let mut wrote = Histogram::<u64>::new(3).unwrap();
    let mut logged = Histogram::<u64>::new(3).unwrap();
    for i in 0..60_000 {
        let t = Instant::now();
        store.ping().await.unwrap();
        let p = t.elapsed();
        let t = Instant::now();
        let _: i64 = write
            .key("lu:{bench}:baseline")
            .arg(i)
            .invoke_async(&mut conn)
            .await
            .unwrap();
        let w = t.elapsed();
        let t = Instant::now();
        store
            .log_reads(&["01a2049e-0000-7000-8000-000000000000"], &entry)
            .await
            .unwrap();
        let l = t.elapsed();
        if i >= 10_000 {
            ping.record(p.as_nanos() as u64).unwrap();
            wrote.record(w.as_nanos() as u64).unwrap();
            logged.record(l.as_nanos() as u64).unwrap();
        }
    }
    report("Redis round trip (PING)", &ping);
    report("a one-field write script (baseline)", &wrote);
    report("an access-log entry (the read-log script)", &logged);
    println!(
        "  → the entry over a one-field write: p50 {:+.1} µs, p99 {:+.1} µs",
        (logged.value_at_quantile(0.5) as f64 - wrote.value_at_quantile(0.5) as f64) / 1000.0,
        (logged.value_at_quantile(0.99) as f64 - wrote.value_at_quantile(0.99) as f64) / 1000.0
    );
    redis.stop().await;
}
