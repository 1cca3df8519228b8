//! The embedded default: Luotsi's own `redis-server` keeps its data across restarts, stops
//! cleanly, and a missing binary is one clear line. Its own test binary, because it changes PATH.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

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
    let client = redis::Client::open(redis.url().expose()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    // Without the password the Redis answers nothing but NOAUTH.
    let socket = dir.path().canonicalize().unwrap().join("redis.sock");
    let anonymous = redis::Client::open(format!("redis+unix://{}", socket.display())).unwrap();
    let refused = match anonymous.get_multiplexed_async_connection().await {
        Ok(mut a) => redis::cmd("GET")
            .arg(&kept)
            .query_async::<Option<String>>(&mut a)
            .await
            .err(),
        Err(e) => Some(e),
    };
    assert!(
        refused.is_some_and(|e| e.to_string().contains("NOAUTH")),
        "the embedded Redis asks for its password"
    );
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
    assert_private(dir.path());
    // A file an earlier version left readable to others is tightened at the next start.
    let aof = std::fs::read_dir(dir.path().join("appendonlydir"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::set_permissions(&aof, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        !dir.path().join("redis.sock").exists(),
        "stopped: socket gone"
    );

    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::EverySec)
        .await
        .expect("starts again");
    let client = redis::Client::open(redis.url().expose()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg(&kept)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("yes"));
    redis.stop().await;
    assert_private(dir.path());

    // A Redis without a password, left on the socket by an earlier version, is not used.
    let old = tempfile::tempdir().unwrap();
    let old_socket = old.path().canonicalize().unwrap().join("redis.sock");
    let mut unprotected = std::process::Command::new("redis-server")
        .args(["--port", "0", "--save", "", "--unixsocket"])
        .arg(&old_socket)
        .arg("--dir")
        .arg(old.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if old_socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let err = EmbeddedRedis::start(old.path(), Appendfsync::EverySec)
        .await
        .err()
        .expect("refuses");
    let _ = unprotected.kill();
    let _ = unprotected.wait();
    assert!(err.to_string().contains("without a password"), "{err}");

    // A data directory that cannot be made says so, and what to do.
    let not_a_dir = dir.path().join("luotsi.lock").join("data");
    let err = EmbeddedRedis::start(&not_a_dir, Appendfsync::EverySec)
        .await
        .err()
        .expect("fails");
    let line = err.to_string();
    assert!(
        line.contains("cannot be written") && line.contains("LUOTSI_DATA_DIR"),
        "{line}"
    );

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

/// The data directory and everything in it is Luotsi's alone: directories 0700, files 0600.
fn assert_private(dir: &Path) {
    let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            assert_private(&entry.path());
        } else if kind.is_file() {
            let mode = entry.metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", entry.path().display());
        }
    }
}
