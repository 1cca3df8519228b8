//! Faults with real processes: `luotsi serve` as child processes sharing a real `redis-server`,
//! killed, cut off and frozen while citizens submit and professionals take offers. After each
//! fault: every acknowledged contact is there and ends completed, no case is accepted by two
//! professionals, and no case stays offered to a professional who is gone.
//!
//! The embedded Redis (no URL configured) is here too: its `redis-server` child killed, and
//! started again by the instance. Not covered here: a second instance on the same data
//! directory (`tests/reload.rs` has it, in-process).

#[path = "service/harness.rs"]
#[allow(dead_code)]
mod harness;
#[path = "service/support.rs"]
#[allow(dead_code)]
mod support;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use harness::{RedisServer, free_port};
use luotsi::auth::Role;
use luotsi::client::authorized;
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use luotsi::store::Keys;
use support::dental;
use tokio::sync::mpsc;
use tonic::Status;
use tonic::transport::Channel;

const CARE: i32 = pb::PurposeOfUse::CareRelationship as i32;

/// As the citizens' front end (the instances trust the tests' development issuer).
fn frontend<T>(message: T) -> tonic::Request<T> {
    authorized(message, &harness::token(Role::CitizenFrontend, "e-service"))
}

/// As the professional.
fn as_pro<T>(pro: &str, message: T) -> tonic::Request<T> {
    authorized(message, &harness::token(Role::Professional, pro))
}

/// As the duty supervisor, county-wide; recorded as `duty-1`.
fn supervisor<T>(message: T) -> tonic::Request<T> {
    authorized(message, &harness::supervisor_token("duty-1", &["*"]))
}

/// Presence lease of the instances under test (the shortest the configuration allows).
const LEASE: Duration = Duration::from_millis(1_000);

/// HTTP/2 keep-alive of the instances under test: a silent client is found within twice this.
const KEEPALIVE_SECS: u64 = 1;

/// How long a fault may take to heal before a test gives up: far beyond what healing needs,
/// so that a slow machine does not fail a test; the tests are about what happens, not when.
const HEAL: Duration = Duration::from_secs(60);

/// One `luotsi serve` process.
struct Instance {
    child: Child,
    grpc: SocketAddr,
}

impl Instance {
    /// On the Redis `redis` says: a URL, or the embedded Redis of a data directory.
    async fn start(config: &Path, redis: &Backing, log: &Path) -> Self {
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = std::fs::File::create(log).expect("log file");
        let mut command = Command::new(env!("CARGO_BIN_EXE_luotsi"));
        match redis {
            Backing::Server(server) => command.env("LUOTSI_REDIS_URL", server.url()),
            Backing::Embedded(dir) => command.env("LUOTSI_DATA_DIR", dir),
        };
        let child = command
            .arg("--config")
            .arg(config)
            .arg("serve")
            .env("LUOTSI_GRPC_ADDR", grpc.to_string())
            .env("LUOTSI_HTTP_ADDR", http.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("luotsi binary");
        let me = Self { child, grpc };
        for _ in 0..300 {
            if me.channel().await.is_ok() {
                return me;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("luotsi did not start serving on {grpc}");
    }

    async fn channel(&self) -> Result<Channel, tonic::transport::Error> {
        Channel::from_shared(format!("http://{}", self.grpc))
            .unwrap()
            .connect()
            .await
    }

    async fn contact(&self) -> ContactServiceClient<Channel> {
        ContactServiceClient::new(self.channel().await.expect("instance up"))
    }

    async fn work(&self) -> WorkServiceClient<Channel> {
        WorkServiceClient::new(self.channel().await.expect("instance up"))
    }

    /// The instance's `redis-server` children (its embedded Redis), by pid.
    fn redis_children(&self) -> Vec<u32> {
        children_named(self.child.id(), "redis-server")
    }

    /// The standard gRPC health status of the whole service.
    async fn health(&self) -> Option<i32> {
        use tonic_health::pb::HealthCheckRequest;
        use tonic_health::pb::health_client::HealthClient;
        let mut client = HealthClient::new(self.channel().await.ok()?);
        let answer = client
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .ok()?;
        Some(answer.into_inner().status)
    }

    /// `kill -9`.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The processes whose children live in /proc with parent `parent` and command `name`.
fn children_named(parent: u32, name: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`; comm may hold spaces, so split at its last `)`.
        let Some((head, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let comm = head.split_once('(').map(|(_, c)| c).unwrap_or_default();
        let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
        if comm == name && ppid == Some(parent) {
            found.push(pid);
        }
    }
    found
}

/// Where the instances keep their data.
enum Backing {
    /// A `redis-server` of the test's own, shared by every instance.
    Server(RedisServer),
    /// The embedded Redis the (one) instance starts in this data directory.
    Embedded(PathBuf),
}

/// Redis, a configuration file, and the instances started on them.
struct Cluster {
    instances: Vec<Instance>,
    redis: Backing,
    keys: Keys,
    dir: tempfile::TempDir,
    /// Every professional each case was accepted by (an accept answered OK).
    accepted_by: HashMap<String, HashSet<String>>,
}

impl Cluster {
    async fn start(n: usize, offer_timeout_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = Backing::Server(RedisServer::start());
        Self::start_on(redis, dir, n, offer_timeout_secs).await
    }

    /// One instance on its embedded Redis, in a data directory under the test's own.
    async fn start_embedded(offer_timeout_secs: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let redis = Backing::Embedded(dir.path().join("data"));
        Self::start_on(redis, dir, 1, offer_timeout_secs).await
    }

    async fn start_on(
        redis: Backing,
        dir: tempfile::TempDir,
        n: usize,
        offer_timeout_secs: u64,
    ) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
        let config = format!(
            "county_file = {county:?}\nclassifier_dir = {classifier:?}\n\
             [server]\nkeepalive_secs = {KEEPALIVE_SECS}\n\
             [redis]\nresponse_timeout_ms = 10000\n\
             [routing]\noffer_timeout_secs = {offer_timeout_secs}\n\
             [dispatch]\npresence_lease_ms = {lease}\n\
             [tls]\nplaintext_on_loopback = true\n\
             [auth]\ndev_dir = {dev:?}\n",
            county = root.join("county.toml"),
            classifier = root.join("classifier"),
            lease = LEASE.as_millis(),
            dev = harness::dev().dir(),
        );
        std::fs::write(dir.path().join("luotsi.toml"), config).unwrap();
        let county = luotsi::config::Config::load(&root.join("luotsi.toml"))
            .unwrap()
            .county
            .id;
        let mut me = Self {
            instances: Vec::new(),
            redis,
            keys: Keys::new(&county),
            dir,
            accepted_by: HashMap::new(),
        };
        for _ in 0..n {
            me.add_instance().await;
        }
        me
    }

    async fn add_instance(&mut self) {
        let log = self
            .dir
            .path()
            .join(format!("luotsi-{}.log", self.instances.len()));
        let config = self.dir.path().join("luotsi.toml");
        let i = Instance::start(&config, &self.redis, &log).await;
        self.instances.push(i);
    }

    fn redis(&self) -> redis::Connection {
        match &self.redis {
            Backing::Server(server) => server.conn(),
            Backing::Embedded(dir) => {
                let url = luotsi::embedded::EmbeddedRedis::url_for(&dir.canonicalize().unwrap())
                    .expect("the embedded Redis's password");
                redis::Client::open(url.expose())
                    .unwrap()
                    .get_connection()
                    .unwrap()
            }
        }
    }

    /// The test's own `redis-server`.
    fn server(&mut self) -> &mut RedisServer {
        match &mut self.redis {
            Backing::Server(server) => server,
            Backing::Embedded(_) => panic!("this cluster runs on an embedded Redis"),
        }
    }

    async fn submit(&self, via: usize, key: &str) -> Result<String, Status> {
        let mut c = self.instances[via].contact().await;
        c.submit_contact(frontend(dental(pb::Channel::Chat, key)))
            .await
            .map(|r| r.into_inner().case_id)
    }

    /// A professional comes online on instance `via` and opens their Offers stream.
    async fn desk(&self, via: usize, pro: &str) -> Desk {
        self.desk_through(self.instances[via].grpc, via, pro).await
    }

    /// The same, through `addr` (a proxy in front of instance `via`).
    async fn desk_through(&self, addr: SocketAddr, via: usize, pro: &str) -> Desk {
        let channel = Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .expect("instance reachable");
        let mut work = WorkServiceClient::new(channel);
        work.set_presence(as_pro(
            pro,
            pb::SetPresenceRequest {
                professional_id: pro.into(),
                presence: pb::Presence::Available as i32,
                capacities: vec![],
            },
        ))
        .await
        .expect("presence set");
        let mut stream = work
            .offers(as_pro(
                pro,
                pb::OffersRequest {
                    professional_id: pro.into(),
                },
            ))
            .await
            .expect("offers stream")
            .into_inner();
        let (tx, offers) = mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            while let Ok(Some(m)) = stream.message().await {
                if let Some(o) = m.offer
                    && tx.send(o.case_id).is_err()
                {
                    break;
                }
            }
        });
        Desk {
            pro: pro.into(),
            via,
            offers,
            reader,
        }
    }

    /// Accepts through instance `via`; records who took the case.
    async fn accept(&mut self, via: usize, pro: &str, case_id: &str) -> bool {
        let mut work = match self.instances[via].channel().await {
            Ok(c) => WorkServiceClient::new(c),
            Err(_) => return false,
        };
        let ok = work
            .accept_offer(as_pro(
                pro,
                pb::AcceptOfferRequest {
                    professional_id: pro.into(),
                    case_id: case_id.into(),
                    purpose: CARE,
                },
            ))
            .await
            .is_ok();
        if ok {
            self.accepted_by
                .entry(case_id.into())
                .or_default()
                .insert(pro.into());
        }
        ok
    }

    async fn complete(&self, via: usize, pro: &str, case_id: &str) -> bool {
        let mut work = self.instances[via].work().await;
        work.complete_case(as_pro(
            pro,
            pb::CompleteCaseRequest {
                professional_id: pro.into(),
                case_id: case_id.into(),
                outcome: pb::Outcome::ResolvedAtFirstContact as i32,
                purpose: CARE,
            },
        ))
        .await
        .is_ok()
    }

    fn status(&self, case_id: &str) -> Option<String> {
        redis::cmd("HGET")
            .arg(self.keys.case(case_id))
            .arg("status")
            .query(&mut self.redis())
            .unwrap()
    }

    /// The desks take every offer they are sent, accept it and complete it, until every case
    /// of `cases` is completed.
    async fn work_off(&mut self, desks: &mut [Desk], cases: &[String]) {
        let started = Instant::now();
        loop {
            if cases
                .iter()
                .all(|c| self.status(c).as_deref() == Some("completed"))
            {
                return;
            }
            assert!(
                started.elapsed() < HEAL,
                "cases not completed: {:?}",
                cases
                    .iter()
                    .map(|c| (c, self.status(c)))
                    .filter(|(_, s)| s.as_deref() != Some("completed"))
                    .collect::<Vec<_>>()
            );
            let mut any = false;
            for desk in desks.iter_mut() {
                while let Ok(case_id) = desk.offers.try_recv() {
                    any = true;
                    if self.accept(desk.via, &desk.pro, &case_id).await {
                        self.complete(desk.via, &desk.pro, &case_id).await;
                    }
                }
            }
            if !any {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The three promises, checked after a fault has healed.
    fn assert_nothing_lost_or_doubled(&self, acknowledged: &[String]) {
        for c in acknowledged {
            assert_eq!(
                self.status(c).as_deref(),
                Some("completed"),
                "acknowledged case {c} is present and completed"
            );
        }
        for (c, pros) in &self.accepted_by {
            assert_eq!(pros.len(), 1, "case {c} accepted by {pros:?}");
        }
    }

    /// No case is offered to a professional whose presence is gone (no connection, or a lease
    /// already over).
    fn assert_no_offer_to_the_gone(&self) {
        let mut conn = self.redis();
        let offered: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.offers())
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .unwrap();
        // Leases end by Redis's clock.
        let (secs, micros): (i64, i64) = redis::cmd("TIME").query(&mut conn).unwrap();
        let now = secs * 1000 + micros / 1000;
        for c in offered {
            let (status, holder): (Option<String>, Option<String>) = redis::cmd("HMGET")
                .arg(self.keys.case(&c))
                .arg("status")
                .arg("holder")
                .query(&mut conn)
                .unwrap();
            if status.as_deref() != Some("offered") {
                continue;
            }
            let holder = holder.unwrap_or_default();
            let lease: Option<i64> = redis::cmd("ZSCORE")
                .arg(self.keys.leases())
                .arg(&holder)
                .query(&mut conn)
                .unwrap();
            assert!(
                lease.is_some_and(|l| l > now),
                "case {c} offered to {holder}, whose presence is gone"
            );
        }
    }
}

impl Drop for Cluster {
    /// A failed test shows what the instances logged. An embedded Redis is killed with its
    /// instance: a killed instance cannot stop it.
    fn drop(&mut self) {
        if let Backing::Embedded(_) = self.redis {
            for i in &self.instances {
                for pid in i.redis_children() {
                    let _ = Command::new("kill")
                        .arg("-KILL")
                        .arg(pid.to_string())
                        .status();
                }
            }
        }
        if !std::thread::panicking() {
            return;
        }
        for i in 0..self.instances.len() {
            let log = self.dir.path().join(format!("luotsi-{i}.log"));
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            eprintln!("---- instance {i} ----\n{text}");
        }
    }
}

struct Desk {
    pro: String,
    via: usize,
    offers: mpsc::UnboundedReceiver<String>,
    reader: tokio::task::JoinHandle<()>,
}

impl Desk {
    async fn next_offer(&mut self, within: Duration) -> Option<String> {
        tokio::time::timeout(within, self.offers.recv())
            .await
            .ok()
            .flatten()
    }
}

impl Drop for Desk {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_instance_holding_an_offer_sends_it_to_a_colleague_within_the_lease() {
    // A long offer time-out: the case must come back through the lease, not the expiry.
    let offer_timeout = Duration::from_secs(30);
    let mut cluster = Cluster::start(2, offer_timeout.as_secs()).await;
    let mut gone = cluster.desk(0, "suu-hh-1").await;
    let case = cluster.submit(1, "kill-offer").await.expect("acknowledged");
    assert_eq!(gone.next_offer(HEAL).await.as_deref(), Some(case.as_str()));
    let mut colleague = cluster.desk(1, "suu-hh-2").await;

    cluster.instances[0].kill();
    let killed = Instant::now();
    let got = colleague.next_offer(LEASE + offer_timeout).await;
    assert_eq!(
        got.as_deref(),
        Some(case.as_str()),
        "the colleague gets the case within lease + offer time-out"
    );
    eprintln!(
        "offered to the colleague {:?} after the kill",
        killed.elapsed()
    );
    cluster.assert_no_offer_to_the_gone();
    assert!(cluster.accept(1, "suu-hh-2", &case).await);
    assert!(cluster.complete(1, "suu-hh-2", &case).await);
    cluster.assert_nothing_lost_or_doubled(&[case]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_a_holders_instance_shows_the_case_to_supervisors_who_release_it() {
    let mut cluster = Cluster::start(2, 30).await;
    let mut gone = cluster.desk(0, "suu-hh-1").await;
    let case = cluster.submit(1, "kill-held").await.expect("acknowledged");
    assert_eq!(gone.next_offer(HEAL).await.as_deref(), Some(case.as_str()));
    assert!(cluster.accept(0, "suu-hh-1", &case).await);
    let mut colleague = cluster.desk(1, "suu-hh-2").await;

    cluster.instances[0].kill();
    let mut supervisors =
        SupervisorServiceClient::new(cluster.instances[1].channel().await.expect("instance up"));
    let started = Instant::now();
    loop {
        let listed = supervisors
            .list_disconnected_holders(supervisor(pb::ListDisconnectedHoldersRequest::default()))
            .await
            .expect("listed")
            .into_inner()
            .holders;
        if listed.iter().any(|h| h.case_id == case) {
            break;
        }
        assert!(started.elapsed() < HEAL, "never listed as disconnected");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Still the nurse's: nobody else was offered it on their own.
    assert_eq!(cluster.status(&case).as_deref(), Some("in_progress"));
    supervisors
        .release_offer(supervisor(pb::ReleaseOfferRequest {
            case_id: case.clone(),
            supervisor_id: "duty-1".into(),
            reason: "desktop gone".into(),
            purpose: pb::PurposeOfUse::Supervision as i32,
        }))
        .await
        .expect("released");
    assert_eq!(
        colleague.next_offer(HEAL).await.as_deref(),
        Some(case.as_str())
    );
    cluster.assert_no_offer_to_the_gone();
    assert!(cluster.accept(1, "suu-hh-2", &case).await);
    assert!(cluster.complete(1, "suu-hh-2", &case).await);
    // The nurse accepted it once and the colleague once, one after the other, after a
    // supervisor's recorded release: not two holders at once.
    cluster.accepted_by.remove(&case);
    cluster.assert_nothing_lost_or_doubled(&[case]);
}

/// A TCP proxy in front of an instance whose traffic can be cut without closing anything, as
/// a network partition does: neither side hears of it.
struct Partition {
    addr: SocketAddr,
    cut: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Partition {
    async fn before(upstream: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let cut = Arc::new(AtomicBool::new(false));
        let flag = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(Self::pipe(cr, sw, flag.clone()));
                tokio::spawn(Self::pipe(sr, cw, flag.clone()));
            }
        });
        Self { addr, cut, task }
    }

    /// Forwards until the partition: then holds both sockets open and passes nothing.
    async fn pipe(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
        cut: Arc<AtomicBool>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if cut.load(Ordering::SeqCst) {
                let _keep = (from, to);
                std::future::pending::<()>().await;
                return;
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_cut_off_without_a_word_loses_its_offers_to_a_colleague() {
    // The instance stays alive and keeps renewing the lease: only the keep-alive ping finds
    // that nobody is there. The offer time-out is far longer.
    let offer_timeout = Duration::from_secs(30);
    let mut cluster = Cluster::start(2, offer_timeout.as_secs()).await;
    let partition = Partition::before(cluster.instances[0].grpc).await;
    let mut nurse = cluster.desk_through(partition.addr, 0, "suu-hh-1").await;
    let case = cluster.submit(1, "partition").await.expect("acknowledged");
    assert_eq!(nurse.next_offer(HEAL).await.as_deref(), Some(case.as_str()));
    let mut colleague = cluster.desk(1, "suu-hh-2").await;

    partition.cut();
    let got = colleague
        .next_offer(offer_timeout - Duration::from_secs(5))
        .await;
    assert_eq!(
        got.as_deref(),
        Some(case.as_str()),
        "the colleague gets the case before the offer would have expired"
    );
    cluster.assert_no_offer_to_the_gone();
    assert!(cluster.accept(1, "suu-hh-2", &case).await);
    assert!(cluster.complete(1, "suu-hh-2", &case).await);
    cluster.assert_nothing_lost_or_doubled(&[case]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_streams_dropped_abruptly_lose_nothing_and_held_cases_wait_for_their_holder() {
    let mut cluster = Cluster::start(2, 30).await;
    let mut nurse = cluster.desk(0, "suu-hh-1").await;
    let held = cluster.submit(0, "drop-held").await.expect("acknowledged");
    assert_eq!(nurse.next_offer(HEAL).await.as_deref(), Some(held.as_str()));
    assert!(cluster.accept(0, "suu-hh-1", &held).await);
    let offered = cluster
        .submit(1, "drop-offered")
        .await
        .expect("acknowledged");
    assert_eq!(
        nurse.next_offer(HEAL).await.as_deref(),
        Some(offered.as_str())
    );
    let mut colleague = cluster.desk(1, "suu-hh-2").await;

    drop(nurse); // the desktop's connection is cut
    assert_eq!(
        colleague.next_offer(HEAL).await.as_deref(),
        Some(offered.as_str())
    );
    cluster.assert_no_offer_to_the_gone();
    // The case in progress stays with the nurse, who may be on the phone; reconnecting on the
    // other instance lets them finish it.
    assert_eq!(cluster.status(&held).as_deref(), Some("in_progress"));
    let _back = cluster.desk(1, "suu-hh-1").await;
    assert!(cluster.complete(1, "suu-hh-1", &held).await);
    assert!(cluster.accept(1, "suu-hh-2", &offered).await);
    assert!(cluster.complete(1, "suu-hh-2", &offered).await);
    cluster.assert_nothing_lost_or_doubled(&[held, offered]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_racing_accepts_never_give_a_case_to_two() {
    // Offers expire every second, so each case passes between the two often.
    let mut cluster = Cluster::start(2, 1).await;
    let _one = cluster.desk(0, "suu-hh-1").await;
    let _two = cluster.desk(1, "suu-hh-2").await;
    let mut cases = Vec::new();
    for i in 0..6 {
        cases.push(
            cluster
                .submit(i % 2, &format!("race-{i}"))
                .await
                .expect("acknowledged"),
        );
    }
    for case in &cases {
        // Both professionals, through both instances, at once, until one holds it.
        let started = Instant::now();
        loop {
            let tries = [
                (0, "suu-hh-1"),
                (1, "suu-hh-1"),
                (0, "suu-hh-2"),
                (1, "suu-hh-2"),
            ];
            let answers = futures::future::join_all(tries.iter().map(|&(via, pro)| {
                let i = &cluster.instances[via];
                let case = case.clone();
                async move {
                    let mut work = i.work().await;
                    let ok = work
                        .accept_offer(as_pro(
                            pro,
                            pb::AcceptOfferRequest {
                                professional_id: pro.into(),
                                case_id: case,
                                purpose: CARE,
                            },
                        ))
                        .await
                        .is_ok();
                    (pro, ok)
                }
            }))
            .await;
            let winners: HashSet<&str> = answers
                .iter()
                .filter(|(_, ok)| *ok)
                .map(|(p, _)| *p)
                .collect();
            assert!(winners.len() <= 1, "{case} accepted by {winners:?}");
            for w in &winners {
                cluster
                    .accepted_by
                    .entry(case.clone())
                    .or_default()
                    .insert(w.to_string());
            }
            if let Some(w) = winners.into_iter().next() {
                assert!(cluster.complete(0, w, case).await);
                break;
            }
            assert!(started.elapsed() < HEAL, "{case} never accepted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    cluster.assert_nothing_lost_or_doubled(&cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_and_restarted_from_its_append_only_file_between_submit_and_accept() {
    let mut cluster = Cluster::start(2, 5).await;
    let mut desks = vec![
        cluster.desk(0, "suu-hh-1").await,
        cluster.desk(1, "suu-hh-2").await,
    ];
    let mut cases = Vec::new();
    for i in 0..4 {
        cases.push(
            cluster
                .submit(i % 2, &format!("aof-{i}"))
                .await
                .expect("acknowledged"),
        );
    }
    cluster.server().kill();
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.server().start_again();

    cluster.work_off(&mut desks, &cases).await;
    cluster.assert_no_offer_to_the_gone();
    cluster.assert_nothing_lost_or_doubled(&cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_frozen_for_3_s_loses_nothing_and_leaves_no_ghosts() {
    let mut cluster = Cluster::start(2, 5).await;
    let mut desks = vec![
        cluster.desk(0, "suu-hh-1").await,
        cluster.desk(1, "suu-hh-2").await,
    ];
    let mut cases = vec![cluster.submit(0, "frozen-0").await.expect("acknowledged")];
    cluster.server().signal("STOP");
    // A contact submitted while Redis is frozen is answered once it thaws (the response
    // time-out is 10 s), and counts as acknowledged only then.
    let during = {
        let addr = cluster.instances[1].grpc;
        tokio::spawn(async move {
            let mut c = ContactServiceClient::new(
                Channel::from_shared(format!("http://{addr}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap(),
            );
            c.submit_contact(frontend(dental(pb::Channel::Chat, "frozen-1")))
                .await
                .map(|r| r.into_inner().case_id)
        })
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.server().signal("CONT");
    if let Ok(case) = during.await.unwrap() {
        cases.push(case);
    }
    cases.push(cluster.submit(1, "frozen-2").await.expect("acknowledged"));

    cluster.work_off(&mut desks, &cases).await;
    // Both professionals kept their streams: their leases are renewed again.
    tokio::time::sleep(LEASE * 2).await;
    cluster.assert_no_offer_to_the_gone();
    let more = cluster.submit(0, "frozen-3").await.expect("acknowledged");
    cases.push(more);
    cluster.work_off(&mut desks, &cases).await;
    cluster.assert_nothing_lost_or_doubled(&cases);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_submit_loses_no_acknowledged_contact_and_retries_create_nothing_twice() {
    let mut cluster = Cluster::start(2, 5).await;
    let mut desks = vec![cluster.desk(1, "suu-hh-2").await];
    let keys: Vec<String> = (0..20).map(|i| format!("mid-submit-{i}")).collect();
    // One connection, made first; the contacts go out one every 10 ms, and the instance is
    // killed once a few have been answered, with others in flight or not yet sent.
    let client = cluster.instances[0].contact().await;
    let (answered, mut answers) = mpsc::unbounded_channel();
    for (i, k) in keys.iter().enumerate() {
        let (mut c, k, answered) = (client.clone(), k.clone(), answered.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
            let answer = c
                .submit_contact(frontend(dental(pb::Channel::EService, &k)))
                .await
                .ok()
                .map(|r| r.into_inner().case_id);
            let _ = answered.send((k, answer));
        });
    }
    drop(answered);
    let mut acknowledged = HashMap::new();
    while let Some((k, answer)) = answers.recv().await {
        if let Some(case) = answer {
            acknowledged.insert(k, case);
        }
        if acknowledged.len() == 3 {
            cluster.instances[0].kill();
        }
    }
    assert!(acknowledged.len() >= 3);
    eprintln!(
        "{} of {} acknowledged before the kill",
        acknowledged.len(),
        keys.len()
    );
    // Every citizen retries with the same key through the other instance: the acknowledged
    // ones get their first answer back, the others are created once.
    let mut cases = Vec::new();
    for k in &keys {
        let case = cluster.submit(1, k).await.expect("retry answered");
        if let Some(first) = acknowledged.get(k) {
            assert_eq!(&case, first, "a retry of {k} returns the first answer");
        }
        cases.push(case);
    }
    let distinct: HashSet<&String> = cases.iter().collect();
    assert_eq!(distinct.len(), keys.len(), "one case per contact");
    cluster.work_off(&mut desks, &cases).await;
    cluster.assert_no_offer_to_the_gone();
    let acknowledged: Vec<String> = acknowledged.into_values().collect();
    cluster.assert_nothing_lost_or_doubled(&acknowledged);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_the_embedded_redis_restarts_it_and_loses_no_acknowledged_contact() {
    let mut cluster = Cluster::start_embedded(30).await;
    let mut desks = vec![cluster.desk(0, "suu-hh-1").await];
    let mut cases = Vec::new();
    for i in 0..4 {
        cases.push(
            cluster
                .submit(0, &format!("embedded-{i}"))
                .await
                .expect("acknowledged"),
        );
    }
    let before = cluster.instances[0].redis_children();
    assert_eq!(before.len(), 1, "one embedded redis-server: {before:?}");
    let status = Command::new("kill")
        .arg("-KILL")
        .arg(before[0].to_string())
        .status()
        .expect("kill(1)");
    assert!(status.success());

    // Started again by the instance (a new process), and the instance serving again.
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let started = Instant::now();
    loop {
        let now = cluster.instances[0].redis_children();
        if now.len() == 1 && now != before && cluster.instances[0].health().await == Some(serving) {
            break;
        }
        assert!(
            started.elapsed() < HEAL,
            "embedded redis not back: children {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Contacts are taken again (the first calls may still meet the old connection).
    let started = Instant::now();
    let after = loop {
        match cluster.submit(0, "embedded-after").await {
            Ok(case) => break case,
            Err(e) => assert!(started.elapsed() < HEAL, "not taking contacts: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    cases.push(after);

    cluster.work_off(&mut desks, &cases).await;
    cluster.assert_no_offer_to_the_gone();
    cluster.assert_nothing_lost_or_doubled(&cases);
    let log = std::fs::read_to_string(cluster.dir.path().join("luotsi-0.log")).unwrap();
    assert!(
        log.contains("embedded redis is down: starting it again from its append-only file"),
        "the restart is in the log"
    );
    let Backing::Embedded(data) = &cluster.redis else {
        unreachable!()
    };
    let password = std::fs::read_to_string(data.join(luotsi::embedded::PASSWORD_FILE)).unwrap();
    assert!(
        !log.contains(password.trim()),
        "the log never shows the password"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_only_file_cut_short_loads_all_but_its_last_command_and_a_damaged_one_stops_the_start()
 {
    use luotsi::config::Appendfsync;
    use luotsi::embedded::aof::{self, AofState};
    use luotsi::embedded::{EmbeddedError, EmbeddedRedis};
    let dir = tempfile::tempdir().unwrap();
    let kept = Keys::new("aof-test").case("kept");
    let set = |redis: &EmbeddedRedis, value: &str| {
        let mut c = redis::Client::open(redis.url().expose())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("SET")
            .arg(&kept)
            .arg(value)
            .query::<()>(&mut c)
            .unwrap();
    };
    let get = |redis: &EmbeddedRedis| -> Option<String> {
        let mut c = redis::Client::open(redis.url().expose())
            .unwrap()
            .get_connection()
            .unwrap();
        redis::cmd("GET").arg(&kept).query(&mut c).unwrap()
    };
    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::Always)
        .await
        .expect("starts");
    set(&redis, "acknowledged");
    redis.stop().await;
    let AofState::Whole { file } = aof::check(&dir.path().canonicalize().unwrap()).unwrap() else {
        panic!("a cleanly stopped Redis leaves whole commands");
    };

    // The power fails while Redis writes a command: only its first bytes reach the disk.
    let whole = std::fs::read(&file).unwrap();
    let partial = format!("*3\r\n$3\r\nSET\r\n${}\r\n{}", kept.len(), &kept[..3]);
    std::fs::write(&file, [&whole[..], partial.as_bytes()].concat()).unwrap();
    assert_eq!(
        aof::check(&dir.path().canonicalize().unwrap()).unwrap(),
        AofState::CutShort {
            file: file.clone(),
            whole_bytes: whole.len() as u64,
            len: (whole.len() + partial.len()) as u64,
        }
    );
    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::Always)
        .await
        .expect("starts, dropping the partial command");
    assert_eq!(get(&redis).as_deref(), Some("acknowledged"));
    redis.stop().await;

    // Damage inside the file: Redis would refuse it, and Luotsi says what to do.
    let mut damaged = std::fs::read(&file).unwrap();
    damaged[0] = b'?';
    std::fs::write(&file, &damaged).unwrap();
    let err = EmbeddedRedis::start(dir.path(), Appendfsync::Always)
        .await
        .err()
        .expect("refuses");
    assert!(
        matches!(err, EmbeddedError::DamagedAof { at: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("redis-check-aof --fix"), "{err}");
}

/// The `redis-server` processes serving the Unix socket of data directory `dir`, by pid.
/// Redis rewrites its process title to `redis-server unixsocket:<path>`.
fn redis_serving(dir: &Path) -> Vec<u32> {
    let socket = dir.canonicalize().unwrap().join("redis.sock");
    let title = format!("redis-server unixsocket:{}", socket.display());
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let first = cmdline.split(|&b| b == 0).next().unwrap_or_default();
        if String::from_utf8_lossy(first) == title {
            found.push(pid);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_redis_is_started_again_each_time_it_dies_and_never_after_the_instance_stops()
{
    use luotsi::config::Appendfsync;
    use luotsi::embedded::EmbeddedRedis;
    let dir = tempfile::tempdir().unwrap();
    let kept = Keys::new("supervision-test").case("kept");
    let redis = EmbeddedRedis::start(dir.path(), Appendfsync::Always)
        .await
        .expect("starts");
    let client = redis::Client::open(redis.url().expose()).unwrap();
    let mut conn = client.get_connection().unwrap();
    redis::cmd("SET")
        .arg(&kept)
        .arg("acknowledged")
        .query::<()>(&mut conn)
        .unwrap();

    // Killed twice: the second restart comes after a longer wait, and still comes.
    for round in 0..2 {
        let before = redis_serving(dir.path());
        assert_eq!(
            before.len(),
            1,
            "round {round}: one redis-server: {before:?}"
        );
        let status = Command::new("kill")
            .arg("-KILL")
            .arg(before[0].to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success());
        let started = Instant::now();
        let value = loop {
            let now = redis_serving(dir.path());
            if now.len() == 1 && now != before {
                let got = client
                    .get_connection()
                    .and_then(|mut c| redis::cmd("GET").arg(&kept).query::<Option<String>>(&mut c));
                if let Ok(v) = got {
                    break v;
                }
            }
            assert!(
                started.elapsed() < HEAL,
                "round {round}: not started again: {now:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(value.as_deref(), Some("acknowledged"), "round {round}");
    }

    redis.stop().await;
    assert!(
        redis_serving(dir.path()).is_empty(),
        "stopped with its instance"
    );
    // Past the longest restart delay: nothing came back.
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert!(
        redis_serving(dir.path()).is_empty(),
        "never started again after the instance stopped"
    );
}
