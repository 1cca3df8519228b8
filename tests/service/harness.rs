//! Test harness: a real `redis-server` per test on a free loopback port, and Luotsi instances
//! served in-process on port 0, reached through the generated gRPC clients.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::OnceLock;

use luotsi::auth::Role;
use luotsi::auth::dev::{DevAuthority, TokenRequest};
use luotsi::config::Config;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub struct RedisServer {
    child: Option<Child>,
    pub port: u16,
    dir: tempfile::TempDir,
    /// Configuration beyond the harness's own (`--user …`).
    extra: Vec<String>,
    /// The URL Luotsi is given, when not the harness's own (an ACL user's).
    service_url: Option<String>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl RedisServer {
    pub fn start() -> Self {
        Self::start_with(Vec::new(), None)
    }

    /// A Redis where Luotsi is the user `luotsi` with exactly the rules `acl` (the harness
    /// keeps the default user for its own look at the keys).
    #[allow(dead_code)] // tests/faults.rs
    pub fn start_with_acl_user(acl: &str) -> Self {
        let password = "luotsi-acl-test-password";
        // redis-server reads the words after `--user` as one configuration line.
        let line = format!("--user luotsi on >{password} {acl}");
        let mut me = Self::start_with(line.split(' ').map(String::from).collect(), None);
        me.service_url = Some(format!("redis://luotsi:{password}@127.0.0.1:{}", me.port));
        me
    }

    fn start_with(extra: Vec<String>, service_url: Option<String>) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut me = Self {
            child: None,
            port: 0,
            dir,
            extra,
            service_url,
        };
        for _ in 0..5 {
            me.port = free_port();
            if me.spawn() {
                return me;
            }
        }
        panic!("redis-server did not start (is it installed? apt-get install -y redis-server)");
    }

    fn spawn(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        self.child = Some(child);
        for _ in 0..200 {
            if let Ok(mut c) = redis::Client::open(self.url()).and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return true;
            }
            if let Some(Ok(Some(_))) = self.child.as_mut().map(|c| c.try_wait()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Where its files are.
    #[allow(dead_code)] // tests/at_rest.rs
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The URL Luotsi connects with.
    pub fn service_url(&self) -> String {
        self.service_url.clone().unwrap_or_else(|| self.url())
    }

    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .unwrap()
    }

    /// Stops Redis cleanly (flushing the append-only file) and starts it again on the same port
    /// with the same files.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Stops Redis cleanly; `start_again` brings it back on the same port with the same files.
    pub fn stop(&mut self) {
        let _: Result<(), _> = redis::cmd("SHUTDOWN").query(&mut self.conn());
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    pub fn start_again(&mut self) {
        assert!(self.spawn(), "redis-server restarted");
    }

    /// Kills Redis with SIGKILL: what it had not written to its append-only file is gone
    /// (nothing, with `appendfsync always`). `start_again` brings it back from the file.
    #[allow(dead_code)] // tests/faults.rs
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Sends Redis a signal by name (`STOP`, `CONT`): a frozen Redis keeps its connections
    /// open and answers nothing.
    #[allow(dead_code)] // tests/faults.rs
    pub fn signal(&self, name: &str) {
        let pid = self.child.as_ref().expect("redis-server running").id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{name} {pid}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The development issuer the tests' instances trust: one CA and signing key for the whole test
/// process, created once (instances only read it).
pub fn dev() -> &'static DevAuthority {
    static DEV: OnceLock<(tempfile::TempDir, DevAuthority)> = OnceLock::new();
    let (_, dev) = DEV.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let dev = DevAuthority::open(&dir.path().join("dev-auth")).expect("development issuer");
        (dir, dev)
    });
    dev
}

/// An access token from the tests' development issuer.
pub fn token(role: Role, who: &str) -> String {
    dev()
        .token(&TokenRequest::new(role, who, "luotsi"))
        .expect("a token")
}

/// A supervisor's token for these teams (`*`: county-wide).
pub fn supervisor_token(who: &str, teams: &[&str]) -> String {
    dev()
        .token(&TokenRequest {
            teams: teams.iter().map(|t| t.to_string()).collect(),
            ..TokenRequest::new(Role::Supervisor, who, "luotsi")
        })
        .expect("a token")
}

/// The example county configuration, as the README's command runs it, but in plain text on
/// loopback (TLS is tested on its own) and trusting the tests' development issuer.
pub fn config() -> Config {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/luotsi.toml");
    let mut config = Config::load(&path).expect("example configuration loads");
    config.auth.dev_dir = Some(dev().dir().to_path_buf());
    config.tls.plaintext_on_loopback = true;
    // A loaded two-core CI machine running many tests at once can keep a Redis answer waiting
    // for seconds; the tests are about what Luotsi does, not about that machine's speed.
    config.redis.response_timeout_ms = 10_000;
    // One test client speaks for a whole county (every professional's calls through one
    // supervisor's or front end's token); the rate limits are for people, and tested on
    // their own (`limits`).
    let unlimited = luotsi::config::RateLimit {
        per_second: 100_000,
        burst: 100_000,
    };
    config.limits.rate = unlimited;
    for rate in config.limits.roles.values_mut() {
        *rate = unlimited;
    }
    config
}

pub struct Luotsi {
    pub addr: SocketAddr,
    /// The HTTP port: queue board, metrics, health.
    pub http_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    http_task: Option<tokio::task::JoinHandle<()>>,
    app: Option<luotsi::app::App>,
}

impl Luotsi {
    pub async fn start_with(redis: &RedisServer, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut cfg = config();
        tweak(&mut cfg);
        Self::serve(cfg, &redis.service_url()).await
    }

    /// An instance on a Redis Cluster, connecting as `user` (the default user when None).
    #[allow(dead_code)] // tests/faults.rs
    pub async fn start_on_cluster(
        cluster: &RedisCluster,
        user: Option<&RedisUser>,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let mut cfg = config();
        tweak(&mut cfg);
        cfg.redis.cluster = cluster
            .seeds(user)
            .into_iter()
            .map(luotsi::secret::Secret::new)
            .collect();
        Self::serve(cfg, "").await
    }

    async fn serve(cfg: Config, redis_url: &str) -> Self {
        let app = luotsi::app::App::start(cfg, redis_url)
            .await
            .expect("service state");
        let state = app.state().clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http_addr = http_listener.local_addr().unwrap();
        let http_state = state.clone();
        let http_task = tokio::spawn(async move {
            luotsi::http::serve(http_state, http_listener, std::future::pending())
                .await
                .expect("http serves");
        });
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(async move {
            luotsi::server::serve(state, listener, async {
                let _ = rx.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            addr,
            http_addr,
            stop: Some(tx),
            task: Some(task),
            http_task: Some(http_task),
            app: Some(app),
        }
    }

    /// The store the service uses.
    pub fn store(&self) -> luotsi::store::Store {
        self.app.as_ref().expect("running").state().store.clone()
    }

    /// Puts a changed configuration in use as SIGHUP would (`reload::reload_county`).
    #[allow(dead_code)] // not every test binary reloads
    pub async fn reload(
        &self,
        tweak: impl FnOnce(&mut Config),
    ) -> Result<luotsi::reload::CountyReloaded, luotsi::reload::ReloadError> {
        let state = self.app.as_ref().expect("running").state();
        let mut cfg = (*state.config()).clone();
        tweak(&mut cfg);
        luotsi::reload::reload_county(state, cfg).await
    }

    pub async fn channel(&self) -> Channel {
        let url = format!("http://{}", self.addr);
        for _ in 0..50 {
            if let Ok(c) = Channel::from_shared(url.clone()).unwrap().connect().await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("cannot connect to {url}");
    }

    pub async fn contact(&self) -> ContactServiceClient<Channel> {
        ContactServiceClient::new(self.channel().await)
    }

    pub async fn work(&self) -> WorkServiceClient<Channel> {
        WorkServiceClient::new(self.channel().await)
    }

    pub async fn supervisor(&self) -> SupervisorServiceClient<Channel> {
        SupervisorServiceClient::new(self.channel().await)
    }

    /// Stops serving; like a process exit, nothing of this instance survives but Redis.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        if let Some(t) = self.http_task.take() {
            t.abort();
            let _ = t.await;
        }
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

impl Luotsi {
    /// Dies like a process killed with `kill -9`: the background loops are aborted where they
    /// are, so nothing is cleaned up in Redis (no disconnect, no lease renewal); its ports go.
    pub fn crash(&mut self) {
        for task in [self.task.take(), self.http_task.take()]
            .into_iter()
            .flatten()
        {
            task.abort();
        }
        self.stop.take();
        // Dropping the App aborts its background tasks without their stop signal.
        drop(self.app.take());
    }
}

impl Drop for Luotsi {
    /// A test that ends, or fails, without `stop` still stops serving before its Redis goes
    /// away. Aborting is synchronous: nothing is spawned or awaited here.
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        for task in [&self.task, &self.http_task].into_iter().flatten() {
            task.abort();
        }
    }
}

/// A plain HTTP/1.1 GET on the HTTP port, with a bearer token when given: status and body.
pub async fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("http port");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!("GET {path} HTTP/1.1\r\nHost: luotsi\r\n{auth}Connection: close\r\n\r\n");
    s.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let mut body = &raw[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    if !head.contains("transfer-encoding: chunked") {
        return (status, String::from_utf8_lossy(body).to_string());
    }
    let mut out = Vec::new();
    while let Some(eol) = body.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&body[..eol]).unwrap().trim(), 16)
            .expect("chunk size");
        if n == 0 {
            break;
        }
        out.extend_from_slice(&body[eol + 2..eol + 2 + n]);
        body = &body[eol + 4 + n..];
    }
    (status, String::from_utf8_lossy(&out).to_string())
}

/// A Redis user of a test: name, password and ACL rules.
#[derive(Clone)]
pub struct RedisUser {
    pub name: String,
    pub password: String,
    pub rules: String,
}

/// A real Redis Cluster on loopback: three primaries, each with one replica, in temporary
/// directories, with a short node time-out (2 s) so that a failover happens within seconds.
/// Luotsi finds every node from any of them; the harness looks as the default user.
pub struct RedisCluster {
    nodes: std::sync::Mutex<Vec<ClusterNode>>,
    users: Vec<RedisUser>,
}

struct ClusterNode {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

/// A free port whose cluster bus port (+10000) is free too.
fn free_cluster_port() -> u16 {
    loop {
        let port = free_port();
        if port <= 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

#[allow(dead_code)] // tests/faults.rs
impl RedisCluster {
    pub fn start() -> Self {
        Self::start_with_users(&[])
    }

    /// A cluster where each of `users` exists on every node (ACLs are per node).
    pub fn start_with_users(users: &[RedisUser]) -> Self {
        let mut nodes = Vec::new();
        for _ in 0..6 {
            nodes.push(Self::spawn(users));
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("redis-cli on PATH");
        assert!(created.success(), "redis-cli --cluster create");
        let me = Self {
            nodes: std::sync::Mutex::new(nodes),
            users: users.to_vec(),
        };
        me.wait_until_ok();
        me
    }

    fn spawn(users: &[RedisUser]) -> ClusterNode {
        let dir = tempfile::tempdir().expect("temp dir");
        for _ in 0..5 {
            let port = free_cluster_port();
            if let Some(child) = Self::spawn_at(port, dir.path(), users) {
                return ClusterNode {
                    child: Some(child),
                    port,
                    dir,
                };
            }
        }
        panic!("a cluster node did not start");
    }

    fn spawn_at(port: u16, dir: &std::path::Path, users: &[RedisUser]) -> Option<Child> {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
            .args(["--cluster-node-timeout", "2000"])
            // A replica's first sync starts at once rather than waiting 5 s for others.
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--save", "", "--appendonly", "yes"])
            .arg("--dir")
            .arg(dir);
        for u in users {
            // redis-server reads the words after `--user` as one configuration line.
            cmd.arg("--user")
                .arg(&u.name)
                .arg("on")
                .arg(format!(">{}", u.password));
            cmd.args(u.rules.split(' '));
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on PATH");
        for _ in 0..300 {
            if let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                .and_then(|c| c.get_connection())
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return Some(child);
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// Starts a killed node again on its port with its files: it rejoins the cluster, as a
    /// replica of whichever node took its slots.
    pub fn restart(&self, port: u16) {
        let mut nodes = self.nodes.lock().unwrap();
        let node = nodes.iter_mut().find(|n| n.port == port).expect("a node");
        assert!(node.child.is_none(), "the node on :{port} is running");
        node.child = Some(
            Self::spawn_at(port, node.dir.path(), &self.users)
                .unwrap_or_else(|| panic!("the node on :{port} did not start again")),
        );
    }

    /// The nodes still running.
    pub fn ports(&self) -> Vec<u16> {
        let nodes = self.nodes.lock().unwrap();
        nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
            .collect()
    }

    /// What Luotsi is given: every node, as `user` (the default user when None).
    pub fn seeds(&self, user: Option<&RedisUser>) -> Vec<String> {
        let auth = user
            .map(|u| format!("{}:{}@", u.name, u.password))
            .unwrap_or_default();
        self.ports()
            .into_iter()
            .map(|p| format!("redis://{auth}127.0.0.1:{p}"))
            .collect()
    }

    /// A connection to one node as the default user.
    pub fn node(&self, port: u16) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
            .expect("a connection to the node")
    }

    /// A cluster-aware connection as the default user.
    pub fn conn(&self) -> redis::cluster::ClusterConnection {
        redis::cluster::ClusterClient::new(self.seeds(None))
            .and_then(|c| c.get_connection())
            .expect("a cluster connection")
    }

    /// The port of the primary that owns `key`'s slot, as a running node sees it: None while
    /// no live primary serves it (a failover under way).
    pub fn owner_of(&self, key: &str) -> Option<u16> {
        let running = self.ports();
        for port in &running {
            let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
            else {
                continue;
            };
            let Ok(slot) = redis::cmd("CLUSTER")
                .arg("KEYSLOT")
                .arg(key)
                .query::<u16>(&mut c)
            else {
                continue;
            };
            let Ok(nodes) = redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c) else {
                continue;
            };
            for line in nodes.lines() {
                let f: Vec<&str> = line.split(' ').collect();
                if f.len() < 8 || !f[2].contains("master") || f[2].contains("fail") {
                    continue;
                }
                let owns = f[8..].iter().any(|range| {
                    let (lo, hi) = range.split_once('-').unwrap_or((range, range));
                    matches!((lo.parse::<u16>(), hi.parse::<u16>()), (Ok(lo), Ok(hi)) if lo <= slot && slot <= hi)
                });
                let port = f[1]
                    .split('@')
                    .next()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse::<u16>().ok());
                if owns && let Some(port) = port {
                    return running.contains(&port).then_some(port);
                }
            }
        }
        None
    }

    /// The port of the replica of the primary on `port`.
    pub fn replica_of(&self, port: u16) -> u16 {
        let nodes: String = redis::cmd("CLUSTER")
            .arg("NODES")
            .query(&mut self.node(port))
            .expect("cluster nodes");
        let port_of = |addr: &str| -> Option<u16> {
            addr.split('@').next()?.rsplit(':').next()?.parse().ok()
        };
        let lines: Vec<Vec<&str>> = nodes.lines().map(|l| l.split(' ').collect()).collect();
        let id = lines
            .iter()
            .find(|f| f.len() > 3 && port_of(f[1]) == Some(port))
            .map(|f| f[0])
            .expect("the primary in its own view");
        lines
            .iter()
            .find(|f| f.len() > 3 && f[3] == id)
            .and_then(|f| port_of(f[1]))
            .expect("a replica of the primary")
    }

    /// Sends the node on `port` a signal by name (`STOP`, `CONT`).
    pub fn signal(&self, port: u16, name: &str) {
        let nodes = self.nodes.lock().unwrap();
        let node = nodes.iter().find(|n| n.port == port).expect("a node");
        let pid = node.child.as_ref().expect("running").id();
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(pid.to_string())
            .status()
            .expect("kill(1)");
        assert!(status.success(), "kill -{name} {pid}");
    }

    /// Cuts the primary on `port` off its replica: the replica is frozen (SIGSTOP, until
    /// `signal(replica, "CONT")`) and the primary drops the link, so nothing the primary takes
    /// from now on reaches the replica. Returns the replica's port.
    pub fn cut_replication(&self, port: u16) -> u16 {
        let replica = self.replica_of(port);
        self.signal(replica, "STOP");
        let _: redis::RedisResult<i64> = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("replica")
            .query(&mut self.node(port));
        replica
    }

    /// Kills the node on `port` with SIGKILL: what it had not sent to its replica is gone.
    pub fn kill(&self, port: u16) {
        let mut nodes = self.nodes.lock().unwrap();
        let node = nodes.iter_mut().find(|n| n.port == port).expect("a node");
        if let Some(mut c) = node.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Waits until every running node says the cluster is ok and every replica is in sync
    /// with its primary (a replica that never synced may not take over).
    pub fn wait_until_ok(&self) {
        let ready = |port: u16| -> bool {
            let Ok(mut c) = redis::Client::open(format!("redis://127.0.0.1:{port}"))
                .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(1)))
            else {
                return false;
            };
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query(&mut c)
                .unwrap_or_default();
            let replication: String = redis::cmd("INFO")
                .arg("replication")
                .query(&mut c)
                .unwrap_or_default();
            info.contains("cluster_state:ok")
                && (replication.contains("role:master")
                    || replication.contains("master_link_status:up"))
        };
        for _ in 0..1200 {
            if self.ports().into_iter().all(ready) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the cluster did not become ok");
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in self.nodes.get_mut().unwrap() {
            if let Some(mut c) = node.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}
