//! Signals to the real `luotsi` process (with its embedded Redis, on free ports): the county
//! edits its lexicon and sends SIGHUP — the new words are in use at once, a broken file is
//! refused with its name and line and the lexicon in use stays; SIGTERM stops the service within
//! its grace period even while streams are open; a second instance on the same data directory
//! refuses to start and leaves the first alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use luotsi::auth::Role;
use luotsi::auth::dev::{DevAuthority, TokenRequest};
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use tonic::transport::Channel;

/// The real `luotsi` process with its embedded Redis, on free ports. A test that ends before
/// stopping it still stops it (and so its Redis) on drop.
struct LuotsiProcess {
    child: Option<Child>,
    url: String,
    /// Its HTTP port (board, health).
    http_addr: String,
    /// The development issuer the process created in its data directory.
    dev_dir: PathBuf,
}

impl LuotsiProcess {
    /// Starts the binary with its data in `data_dir`; `configure` adds what the test needs.
    fn start(data_dir: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let grpc = free_port();
        let http_addr = format!("127.0.0.1:{}", free_port());
        let mut command = Command::new(env!("CARGO_BIN_EXE_luotsi"));
        command
            .env("LUOTSI_DATA_DIR", data_dir)
            .env("LUOTSI_GRPC_ADDR", format!("127.0.0.1:{grpc}"))
            .env("LUOTSI_HTTP_ADDR", &http_addr)
            .env_remove("LUOTSI_REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        configure(&mut command);
        Self {
            child: Some(command.spawn().expect("luotsi starts")),
            url: format!("https://127.0.0.1:{grpc}"),
            http_addr,
            dev_dir: data_dir.join("dev-auth"),
        }
    }

    /// A gRPC channel over TLS (the development CA the process made), once the process
    /// answers.
    async fn channel(&self) -> Channel {
        let ca = self.dev_dir.join("ca.pem");
        for _ in 0..100 {
            if ca.exists() {
                let target = luotsi::client::Target {
                    addr: &self.url,
                    ca: Some(&ca),
                    client_cert: None,
                };
                if let Ok(c) = luotsi::client::connect(&target).await {
                    return c;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("luotsi answers");
    }

    /// A request with a development token for `role` (after `channel`: the process has made
    /// its signing key by then).
    fn as_<T>(&self, role: Role, message: T) -> tonic::Request<T> {
        let dev = DevAuthority::open(&self.dev_dir).expect("the development issuer");
        let mut req = TokenRequest::new(role, "reload-test", "luotsi");
        req.teams = vec!["*".into()];
        luotsi::client::authorized(message, &dev.token(&req).expect("a token"))
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends a signal (`-HUP`, `-TERM`) with `kill`; whether it was delivered.
    fn signal(&self, signal: &str) -> bool {
        let pid = self.child.as_ref().expect("running").id();
        Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits for the process to exit: its status and what it logged.
    async fn exit(mut self) -> Output {
        let child = self.child.take().expect("running");
        tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap()
    }
}

impl Drop for LuotsiProcess {
    /// SIGTERM first, so that the process stops its own Redis; SIGKILL if it does not go.
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(15) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

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

async fn top_need(
    luotsi: &LuotsiProcess,
    client: &mut ContactServiceClient<tonic::transport::Channel>,
) -> String {
    let c = client
        .classify(luotsi.as_(
            Role::CitizenFrontend,
            pb::ClassifyRequest {
                channel: pb::Channel::EService as i32,
                text: "Kysyisin zorblaksista".into(),
                hints: None,
                citizen: None,
            },
        ))
        .await
        .expect("classify")
        .into_inner()
        .classification
        .expect("a classification");
    c.needs.first().map(|n| n.need.clone()).unwrap_or_default()
}

#[tokio::test]
async fn sighup_reloads_the_lexicon_and_a_broken_file_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &config,
    );
    let luotsi = LuotsiProcess::start(&dir.path().join("data"), |c| {
        c.env("LUOTSI_CONFIG", config.join("luotsi.toml"));
    });
    let mut client = ContactServiceClient::new(luotsi.channel().await);
    let before = top_need(&luotsi, &mut client).await;
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
    assert!(luotsi.signal("-HUP"));
    let mut now = String::new();
    for _ in 0..50 {
        now = top_need(&luotsi, &mut client).await;
        if now == "oral_health" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(now, "oral_health", "the new word is in use after SIGHUP");

    // A broken edit: refused, the lexicon in use stays.
    std::fs::write(&fi, format!("{added}\nthis is not toml\n")).unwrap();
    assert!(luotsi.signal("-HUP"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(top_need(&luotsi, &mut client).await, "oral_health");

    luotsi.signal("-TERM");
    let out = luotsi.exit().await;
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
    let luotsi = LuotsiProcess::start(&dir.path().join("data"), |c| {
        c.env_remove("LUOTSI_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
    });
    let mut board = SupervisorServiceClient::new(luotsi.channel().await)
        .watch_queues(luotsi.as_(Role::Ops, pb::WatchQueuesRequest::default()))
        .await
        .unwrap()
        .into_inner();
    board.message().await.unwrap().expect("a snapshot");
    luotsi.signal("-TERM");
    let started = Instant::now();
    let out = luotsi.exit().await;
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "stopped within the grace period"
    );
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("embedded redis stopped"), "{log}");
    drop(board);
}

/// The container's health check: `luotsi health` as its own process, over TLS with the
/// development CA the service made.
#[tokio::test]
async fn luotsi_health_exits_zero_while_the_service_is_ready_and_one_once_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let luotsi = LuotsiProcess::start(&data, |c| {
        c.env_remove("LUOTSI_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
    });
    luotsi.channel().await;
    let http_addr = luotsi.http_addr.clone();
    let health = || {
        Command::new(env!("CARGO_BIN_EXE_luotsi"))
            .arg("health")
            .env("LUOTSI_DATA_DIR", &data)
            .env("LUOTSI_HTTP_ADDR", &http_addr)
            .env_remove("LUOTSI_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("luotsi health runs")
    };
    let ready = health();
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    luotsi.signal("-TERM");
    luotsi.exit().await;
    let gone = health();
    assert_eq!(gone.status.code(), Some(1));
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(
        said.contains(&http_addr) && said.contains("refused"),
        "{said}"
    );
}

#[tokio::test]
async fn a_second_instance_on_the_same_data_directory_refuses_and_the_first_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let example = |c: &mut Command| {
        c.env_remove("LUOTSI_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
    };
    let first = LuotsiProcess::start(&data, example);
    let mut board = SupervisorServiceClient::new(first.channel().await);
    let fresh = |r: Result<tonic::Response<pb::ListQueuesResponse>, tonic::Status>| {
        r.is_ok_and(|r| !r.into_inner().stale)
    };
    assert!(fresh(
        board
            .list_queues(first.as_(Role::Ops, pb::ListQueuesRequest::default()))
            .await
    ));

    // Other ports, same data directory.
    let second = LuotsiProcess::start(&data, example);
    let out = tokio::time::timeout(Duration::from_secs(20), second.exit())
        .await
        .expect("the second instance exits instead of serving");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("is in use by another Luotsi")
            && log.contains(&format!("pid {}", first.pid()))
            && log.contains("LUOTSI_DATA_DIR")
            && log.contains("LUOTSI_REDIS_URL"),
        "{log}"
    );

    // The first still has its Redis: its figures are read now, not the board's last ones.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fresh(
        board
            .list_queues(first.as_(Role::Ops, pb::ListQueuesRequest::default()))
            .await
    ));
    first.signal("-TERM");
    let out = first.exit().await;
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("embedded redis stopped"), "{log}");
}

/// The certificate the server presents on `addr`, trusting the development CA in `dev_dir`.
async fn presented_certificate(addr: &str, dev_dir: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    luotsi::tls::install_crypto();
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(dev_dir.join("ca.pem")).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("a TLS handshake trusting the development CA");
    tls.get_ref().1.peer_certificates().unwrap()[0].to_vec()
}

#[tokio::test]
async fn sighup_rereads_the_tls_certificate_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let luotsi = LuotsiProcess::start(&dir.path().join("data"), |c| {
        c.env_remove("LUOTSI_CONFIG")
            .current_dir(env!("CARGO_MANIFEST_DIR"));
    });
    let _ = luotsi.channel().await;
    let addr = luotsi.url.trim_start_matches("https://").to_string();
    let before = presented_certificate(&addr, &luotsi.dev_dir).await;

    // The certificate is renewed on disk: nothing changes until the service is told.
    DevAuthority::open(&luotsi.dev_dir)
        .unwrap()
        .renew_server_certificate()
        .unwrap();
    assert_eq!(presented_certificate(&addr, &luotsi.dev_dir).await, before);
    assert!(luotsi.signal("-HUP"));
    let mut now = before.clone();
    for _ in 0..50 {
        now = presented_certificate(&addr, &luotsi.dev_dir).await;
        if now != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(now, before, "the new certificate is served after SIGHUP");
    // Calls still work on the new certificate (`top_need` fails the test otherwise).
    let mut client = ContactServiceClient::new(luotsi.channel().await);
    top_need(&luotsi, &mut client).await;
    luotsi.signal("-TERM");
    let out = luotsi.exit().await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("TLS certificate and key re-read"), "{log}");
}

impl LuotsiProcess {
    /// A request with a development token of professional `pro`.
    fn as_pro<T>(&self, pro: &str, message: T) -> tonic::Request<T> {
        let dev = DevAuthority::open(&self.dev_dir).expect("the development issuer");
        let req = TokenRequest::new(Role::Professional, pro, "luotsi");
        luotsi::client::authorized(message, &dev.token(&req).expect("a token"))
    }

    /// `pro` signs in with their configured capacities and opens their Offers stream.
    async fn sign_in(
        &self,
        channel: &Channel,
        pro: &str,
    ) -> Result<tonic::Streaming<pb::OffersResponse>, tonic::Status> {
        let mut work = WorkServiceClient::new(channel.clone());
        work.set_presence(self.as_pro(
            pro,
            pb::SetPresenceRequest {
                professional_id: pro.into(),
                presence: pb::Presence::Available as i32,
                capacities: vec![],
            },
        ))
        .await?;
        Ok(work
            .offers(self.as_pro(
                pro,
                pb::OffersRequest {
                    professional_id: pro.into(),
                },
            ))
            .await?
            .into_inner())
    }
}

fn dental_message(key: &str) -> pb::SubmitContactRequest {
    pb::SubmitContactRequest {
        callback_window: None,
        channel: pb::Channel::EService as i32,
        idempotency_key: key.into(),
        citizen: Some(pb::Citizen {
            municipality: "Joensuu".into(),
            language: "fi".into(),
            ..Default::default()
        }),
        text: "Hammasta särkee, voisiko joku katsoa?".into(),
        hints: Some(pb::Hints {
            form_category: "oral_health".into(),
            ..Default::default()
        }),
    }
}

async fn next_offer(stream: &mut tonic::Streaming<pb::OffersResponse>) -> pb::Offer {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an offer in time")
        .expect("the stream is open")
        .expect("not ended")
        .offer
        .expect("an offer")
}

/// The county edits `county.toml` and sends SIGHUP: a professional added can sign in at once, one
/// removed while online is signed out (their Offers stream ends, their offer goes back to the
/// queue and on to a colleague); a broken file, or a change to a setting that needs a restart,
/// changes nothing and the log names why.
#[tokio::test]
async fn sighup_reloads_the_county_whole_or_not_at_all() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        &config,
    );
    let luotsi = LuotsiProcess::start(&dir.path().join("data"), |c| {
        c.env("LUOTSI_CONFIG", config.join("luotsi.toml"));
    });
    let channel = luotsi.channel().await;
    let mut contacts = ContactServiceClient::new(channel.clone());

    // Before: suu-hh-9 is nobody; suu-hh-1 signs in and is offered a dental message.
    let unknown = luotsi.sign_in(&channel, "suu-hh-9").await.unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::NotFound, "{unknown:?}");
    let mut hh1 = luotsi.sign_in(&channel, "suu-hh-1").await.unwrap();
    let case = contacts
        .submit_contact(luotsi.as_(Role::CitizenFrontend, dental_message("reload-county-1")))
        .await
        .unwrap()
        .into_inner()
        .case_id;
    assert_eq!(next_offer(&mut hh1).await.case_id, case);

    // The county replaces suu-hh-1 with suu-hh-9 and tells the service.
    let county = config.join("county.toml");
    let text = std::fs::read_to_string(&county).unwrap();
    let edited = text.replacen("id = \"suu-hh-1\"", "id = \"suu-hh-9\"", 1);
    assert_ne!(edited, text);
    std::fs::write(&county, &edited).unwrap();
    assert!(luotsi.signal("-HUP"));

    // suu-hh-1's stream ends, saying why; the offer goes back to the queue.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match hh1.message().await {
                Ok(Some(_)) => continue,
                other => return other,
            }
        }
    })
    .await
    .expect("the removed professional's stream ends");
    let status = ended.expect_err("ended by the service");
    assert_eq!(status.code(), tonic::Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("signed out"), "{status:?}");

    // suu-hh-9 signs in now, and the message comes to her.
    let mut hh9 = luotsi.sign_in(&channel, "suu-hh-9").await.unwrap();
    assert_eq!(next_offer(&mut hh9).await.case_id, case);
    // suu-hh-1 cannot sign in again.
    let gone = luotsi.sign_in(&channel, "suu-hh-1").await.unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound, "{gone:?}");

    // A broken county file: refused, the county in use stays (suu-hh-9 is still a member).
    std::fs::write(&county, format!("{edited}\n[[county.team]\n")).unwrap();
    assert!(luotsi.signal("-HUP"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    std::fs::write(&county, &edited).unwrap();
    // A setting that needs a restart: refused whole, though the county file is fine.
    let service = config.join("luotsi.toml");
    let settings = std::fs::read_to_string(&service).unwrap();
    std::fs::write(
        &service,
        settings.replacen("keepalive_secs = 10", "keepalive_secs = 11", 1),
    )
    .unwrap();
    assert!(luotsi.signal("-HUP"));
    tokio::time::sleep(Duration::from_millis(700)).await;
    let mut work = WorkServiceClient::new(channel.clone());
    work.set_presence(luotsi.as_pro(
        "suu-hh-9",
        pb::SetPresenceRequest {
            professional_id: "suu-hh-9".into(),
            presence: pb::Presence::OnBreak as i32,
            capacities: vec![],
        },
    ))
    .await
    .expect("suu-hh-9 is still a member");

    luotsi.signal("-TERM");
    let out = luotsi.exit().await;
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("county reloaded"), "{log}");
    let refusals: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("county NOT reloaded"))
        .collect();
    assert_eq!(refusals.len(), 2, "{log}");
    assert!(
        refusals[0].contains("config/county.toml")
            && refusals[0]
                .split("at line ")
                .nth(1)
                .is_some_and(|at| at.starts_with(|c: char| c.is_ascii_digit())),
        "names the file and line: {}",
        refusals[0]
    );
    assert!(
        refusals[1].contains("server change only with a restart"),
        "{}",
        refusals[1]
    );
}
