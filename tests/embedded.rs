//! The embedded default: Luotsi's own `redis-server` keeps its data across restarts, stops
//! cleanly, and a missing binary is one clear line. Its own test binary, because it changes PATH.

use luotsi::config::Appendfsync;
use luotsi::embedded::{EmbeddedError, EmbeddedRedis};
use luotsi::store::Keys;

#[tokio::test]
async fn embedded_redis_persists_across_restarts_and_explains_a_missing_binary() {
    let dir = tempfile::tempdir().unwrap();
    // Any key will do: a case key of a county of its own.
    let kept = Keys::new("embedded-test").case("kept");
    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::EverySec)
        .await
        .expect("starts");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(&kept)
        .arg("yes")
        .query_async(&mut c)
        .await
        .unwrap();
    redis.stop().await;
    assert!(
        dir.path().join("appendonlydir").is_dir(),
        "append-only files in the data directory"
    );
    assert!(
        !dir.path().join("redis.sock").exists(),
        "stopped: socket gone"
    );

    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::EverySec)
        .await
        .expect("starts again");
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg(&kept)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("yes"));
    redis.stop().await;

    // With no redis-server on PATH the error says how to install it or what to use instead.
    let empty = tempfile::tempdir().unwrap();
    // SAFETY: this test binary runs this one test; nothing else reads the environment meanwhile.
    unsafe { std::env::set_var("PATH", empty.path()) };
    let err = EmbeddedRedis::start(&dir.path().join("other"), Appendfsync::EverySec)
        .await
        .err()
        .expect("fails");
    assert!(matches!(err, EmbeddedError::NotInstalled));
    let line = err.to_string();
    assert!(
        line.contains("apt-get install -y redis-server") && line.contains("LUOTSI_REDIS_URL"),
        "{line}"
    );
    assert!(!line.contains('\n'));
}
