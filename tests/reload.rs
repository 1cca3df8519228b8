//! Signals to the real `luotsi` process (with its embedded Redis, on free ports): the county
//! edits its lexicon and sends SIGHUP — the new words are in use at once, a broken file is
//! refused with its name and line and the lexicon in use stays; SIGTERM stops the service within
//! its grace period even while streams are open.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

async fn top_need(client: &mut ContactServiceClient<tonic::transport::Channel>) -> String {
    let c = client
        .classify(pb::ClassifyRequest {
            channel: pb::Channel::EService as i32,
            text: "Kysyisin zorblaksista".into(),
            hints: None,
            citizen: None,
        })
        .await
        .expect("classify")
        .into_inner();
    c.needs.first().map(|n| n.need.clone()).unwrap_or_default()
}

fn hup(pid: u32) {
    let ok = Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[tokio::test]
async fn sighup_reloads_the_lexicon_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &config,
    );
    let grpc = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_luotsi"))
        .env("LUOTSI_CONFIG", config.join("luotsi.toml"))
        .env("LUOTSI_DATA_DIR", dir.path().join("data"))
        .env("LUOTSI_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("LUOTSI_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("LUOTSI_REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("luotsi starts");
    let url = format!("http://127.0.0.1:{grpc}");
    let mut client = None;
    for _ in 0..100 {
        if let Ok(c) = ContactServiceClient::connect(url.clone()).await {
            client = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut client = client.expect("luotsi answers");
    let before = top_need(&mut client).await;
    assert_ne!(before, "oral_health");

    // The county adds a word for dental care and tells the service.
    let fi = config.join("classifier/fi.toml");
    let text = std::fs::read_to_string(&fi).unwrap();
    let added = text.replacen(
        "term = [\n",
        "term = [\n  { forms = [\"zorblaks*\"], need = \"oral_health\", weight = 3.0 },\n",
        1,
    );
    assert_ne!(added, text, "the lexicon has a `term = [` list");
    std::fs::write(&fi, &added).unwrap();
    hup(child.id());
    let mut now = String::new();
    for _ in 0..50 {
        now = top_need(&mut client).await;
        if now == "oral_health" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now, "oral_health", "the new word is in use after SIGHUP");

    // A broken edit: refused, the lexicon in use stays.
    std::fs::write(&fi, format!("{added}\nthis is not toml\n")).unwrap();
    hup(child.id());
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(top_need(&mut client).await, "oral_health");

    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("classifier reloaded"), "{log}");
    let refused = log
        .lines()
        .find(|l| l.contains("NOT reloaded"))
        .unwrap_or_else(|| panic!("the refusal is logged: {log}"));
    let at = refused
        .split("fi.toml:")
        .nth(1)
        .unwrap_or_else(|| panic!("names the file: {refused}"));
    assert!(
        at.starts_with(|c: char| c.is_ascii_digit()),
        "names the line: {refused}"
    );
}

#[tokio::test]
async fn sigterm_stops_the_service_even_with_a_stream_open() {
    let dir = tempfile::tempdir().unwrap();
    let grpc = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_luotsi"))
        .env("LUOTSI_DATA_DIR", dir.path().join("data"))
        .env("LUOTSI_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
        .env("LUOTSI_HTTP_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("LUOTSI_REDIS_URL")
        .env_remove("LUOTSI_CONFIG")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("luotsi starts");
    let url = format!("http://127.0.0.1:{grpc}");
    let mut sup = None;
    for _ in 0..100 {
        if let Ok(c) =
            luotsi::pb::supervisor_service_client::SupervisorServiceClient::connect(url.clone())
                .await
        {
            sup = Some(c);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut board = sup
        .expect("luotsi answers")
        .watch_queues(pb::WatchQueuesRequest::default())
        .await
        .unwrap()
        .into_inner();
    board.message().await.unwrap().expect("a snapshot");
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped within the grace period"
    );
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("embedded redis stopped"), "{log}");
    drop(board);
}
