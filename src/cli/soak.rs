//! `luotsi bench --soak`: several `luotsi serve` processes on one Redis for many minutes, one of
//! them killed (`kill -9`) every few minutes and started again, while citizens submit at a
//! steady rate and every professional of the county takes and completes what they are offered.
//! At the end it counts what the kills cost: acknowledged contacts lost (not there, or never
//! completed) and duplicated (a key answered with two cases, a case accepted by two
//! professionals or completed twice). Both must be 0. Not run in CI: it takes half an hour.
//!
//! Citizens retry like a front end should: a call that fails for any reason but a refusal goes
//! again to another instance with the same idempotency key until it is answered. Professionals
//! whose instance died reconnect to another one and finish what they hold there.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use luotsi::auth::Role;
use luotsi::auth::dev::{DevAuthority, TokenRequest};
use luotsi::client::authorized;
use luotsi::config::Config;
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use luotsi::store::Keys;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// How long contacts go in.
    #[arg(long, default_value_t = 30)]
    minutes: u64,
    /// `luotsi serve` processes sharing the one Redis.
    #[arg(long, default_value_t = 2)]
    instances: usize,
    /// One instance is killed (`kill -9`) and started again this often, in turn.
    #[arg(long, default_value_t = 120)]
    kill_every_secs: u64,
    /// Contacts submitted per second (all instances together): about half the capacity
    /// `luotsi bench` measured on the 2-core development machine (BENCHMARKS.md); give half of
    /// what it measures on yours.
    #[arg(long, default_value_t = 250)]
    soak_rate: u64,
    /// The county file the instances route for.
    #[arg(long, default_value = "config/county.toml")]
    county_file: PathBuf,
}

pub async fn run(config: Config, args: SoakArgs) -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("luotsi-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let redis = Redis::start(&dir)?;
    let config_file = write_config(&config, &args, &dir)?;
    let dev = DevAuthority::open(&dir.join("dev-auth"))?;
    let fleet = Fleet::start(&config_file, &redis.url(), &dir, args.instances).await?;
    println!(
        "luotsi bench --soak: {} min at {} contacts/s, {} instances, one killed every {} s; files in {}",
        args.minutes,
        args.soak_rate,
        args.instances,
        args.kill_every_secs,
        dir.display()
    );

    let ledger = Arc::new(Ledger::default());
    let stop_work = CancellationToken::new();
    let mut workers = JoinSet::new();
    let token =
        |role: Role, who: &str| dev.token(&TokenRequest::new(role, who, &config.auth.audience));
    let members: Vec<String> = config
        .county
        .teams
        .iter()
        .flat_map(|t| t.members.iter().map(|m| m.id.clone()))
        .collect();
    for (i, pro) in members.iter().enumerate() {
        let desk = Desk {
            pro: pro.clone(),
            bearer: token(Role::Professional, pro)?,
            home: i,
            fleet: fleet.addrs.clone(),
            ledger: ledger.clone(),
        };
        workers.spawn(desk.run(stop_work.clone()));
    }

    // Citizens: one task per contact, started at the rate, each retrying until answered.
    let frontend = token(Role::CitizenFrontend, "luotsi-soak")?;
    let stop_submitting = CancellationToken::new();
    let submitting = tokio::spawn(submit(
        args.soak_rate,
        fleet.addrs.clone(),
        frontend,
        ledger.clone(),
        stop_submitting.clone(),
    ));

    // The killer, until the time is up.
    let started = Instant::now();
    let run_for = Duration::from_secs(args.minutes * 60);
    let mut fleet = fleet;
    let mut kills = 0usize;
    let mut next = 0usize;
    let mut tick = tokio::time::interval_at(
        tokio::time::Instant::now() + Duration::from_secs(args.kill_every_secs),
        Duration::from_secs(args.kill_every_secs),
    );
    loop {
        let left = run_for.saturating_sub(started.elapsed());
        if left.is_zero() {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {
                fleet.kill_and_replace(next).await?;
                kills += 1;
                println!(
                    "  {:>5.0} s  killed instance {next} (kill -9) and started it again; {} acknowledged so far",
                    started.elapsed().as_secs_f64(),
                    ledger.acknowledged.lock().expect("lock").len()
                );
                next = (next + 1) % args.instances;
            }
            () = tokio::time::sleep(left) => {}
        }
    }
    stop_submitting.cancel();
    let in_flight = submitting.await?;

    // Everything acknowledged is worked off, or the drain gives up.
    let keys = Keys::new(&config.county.id);
    let mut conn = redis::Client::open(redis.url())?.get_connection()?;
    let acknowledged: Vec<String> = ledger
        .acknowledged
        .lock()
        .expect("lock")
        .values()
        .cloned()
        .collect();
    let drain_until = Instant::now() + Duration::from_secs(180);
    let mut unfinished = acknowledged.clone();
    while !unfinished.is_empty() && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_secs(1)).await;
        unfinished.retain(|case| status(&mut conn, &keys, case).as_deref() != Some("completed"));
    }
    stop_work.cancel();
    while workers.join_next().await.is_some() {}

    let missing = unfinished
        .iter()
        .filter(|c| status(&mut conn, &keys, c).is_none())
        .count();
    let accepted = ledger.accepted_by.lock().expect("lock");
    let accepted_twice = accepted.values().filter(|p| p.len() > 1).count();
    let completed = ledger.completed.lock().expect("lock");
    let completed_twice = completed.values().filter(|&&n| n > 1).count();
    let completed_once = acknowledged
        .iter()
        .filter(|c| completed.get(*c) == Some(&1))
        .count();
    let two_answers = ledger.two_answers.load(Ordering::Relaxed) as usize;
    println!(
        "  {} acknowledged in {:.0} s ({:.1}/s), {} calls retried, {} never answered when submitting stopped, {} kills",
        acknowledged.len(),
        run_for.as_secs_f64(),
        acknowledged.len() as f64 / run_for.as_secs_f64(),
        ledger.retries.load(Ordering::Relaxed),
        in_flight,
        kills
    );
    println!(
        "  lost: {} ({} not there, {} there but not completed after the drain)",
        unfinished.len(),
        missing,
        unfinished.len() - missing
    );
    println!(
        "  duplicated: {} (a key answered with two cases {two_answers}, accepted by two professionals {accepted_twice}, completed twice {completed_twice})",
        two_answers + accepted_twice + completed_twice
    );
    println!(
        "  completed exactly once: {completed_once} of {} acknowledged",
        acknowledged.len()
    );
    drop(accepted);
    drop(completed);
    fleet.stop();
    drop(redis);
    if unfinished.is_empty() && two_answers + accepted_twice + completed_twice == 0 {
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    } else {
        Err(format!("contacts lost or duplicated; logs in {}", dir.display()).into())
    }
}

/// What the citizens were told and what the professionals did.
#[derive(Default)]
struct Ledger {
    /// Idempotency key → the case it was answered with.
    acknowledged: Mutex<HashMap<String, String>>,
    /// A retried key answered with another case than before.
    two_answers: AtomicU64,
    /// Case → every professional whose accept was answered OK.
    accepted_by: Mutex<HashMap<String, HashSet<String>>>,
    /// Case → completions answered OK.
    completed: Mutex<HashMap<String, u32>>,
    retries: AtomicU64,
}

/// The instances' gRPC addresses as they are now (a replaced instance has new ports), each
/// with a channel that every citizen shares: one HTTP/2 connection per instance, as a front end
/// would keep, not one per contact.
type Addrs = Arc<RwLock<Vec<(SocketAddr, Channel)>>>;

fn lazy_channel(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("an address is a URI")
        .connect_timeout(Duration::from_secs(1))
        .connect_lazy()
}

async fn channel(addr: SocketAddr) -> Option<Channel> {
    Channel::from_shared(format!("http://{addr}"))
        .ok()?
        .connect_timeout(Duration::from_secs(1))
        .connect()
        .await
        .ok()
}

/// Starts one citizen a tick at `rate` a second until stopped; answers how many were still
/// unanswered then (they go on retrying for at most a minute and are counted if answered).
async fn submit(
    rate: u64,
    addrs: Addrs,
    frontend: String,
    ledger: Arc<Ledger>,
    stop: CancellationToken,
) -> usize {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let mut citizens = JoinSet::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(1) as f64));
    let mut i = 0usize;
    loop {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let (addrs, frontend, ledger) = (addrs.clone(), frontend.clone(), ledger.clone());
        let key = format!("soak-{run}-{i}");
        citizens.spawn(citizen(i, key, addrs, frontend, ledger));
        i += 1;
        while citizens.try_join_next().is_some() {}
    }
    let unanswered = citizens.len();
    let give_up = tokio::time::sleep(Duration::from_secs(60));
    tokio::pin!(give_up);
    loop {
        tokio::select! {
            next = citizens.join_next() => if next.is_none() { break },
            () = &mut give_up => { citizens.abort_all(); break }
        }
    }
    unanswered
}

/// One contact: sent to instance `i % n`, and on any failure but a refusal sent again to the
/// next instance with the same key.
async fn citizen(i: usize, key: String, addrs: Addrs, frontend: String, ledger: Arc<Ledger>) {
    let mut attempt = 0usize;
    loop {
        let ch = {
            let addrs = addrs.read().expect("lock");
            addrs[(i + attempt) % addrs.len()].1.clone()
        };
        if attempt > 0 {
            ledger.retries.fetch_add(1, Ordering::Relaxed);
        }
        attempt += 1;
        let req = super::bench::contact(i, &key);
        let answer = ContactServiceClient::new(ch)
            .submit_contact(authorized(req, &frontend))
            .await;
        match answer {
            Ok(a) => {
                let case = a.into_inner().case_id;
                let mut acknowledged = ledger.acknowledged.lock().expect("lock");
                if let Some(first) = acknowledged.insert(key, case.clone())
                    && first != case
                {
                    ledger.two_answers.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                tokio::time::sleep(luotsi::admission::RETRY_AFTER).await;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A professional at their desk: online on an instance, taking every offer and completing it;
/// when the instance dies, online again on the next one, finishing there what they hold.
struct Desk {
    pro: String,
    bearer: String,
    home: usize,
    fleet: Addrs,
    ledger: Arc<Ledger>,
}

impl Desk {
    async fn run(self, stop: CancellationToken) {
        // Accepted (or perhaps accepted: the answer was lost) and not yet completed.
        let mut holding: HashSet<String> = HashSet::new();
        let mut attempt = 0usize;
        while !stop.is_cancelled() {
            let addr = {
                let addrs = self.fleet.read().expect("lock");
                addrs[(self.home + attempt) % addrs.len()].0
            };
            attempt += 1;
            if let Some(ch) = channel(addr).await {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = self.serve(WorkServiceClient::new(ch), &mut holding) => {}
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Until the Offers stream ends.
    async fn serve(&self, mut work: WorkServiceClient<Channel>, holding: &mut HashSet<String>) {
        let presence = work
            .set_presence(authorized(
                pb::SetPresenceRequest {
                    professional_id: self.pro.clone(),
                    presence: pb::Presence::Available as i32,
                    capacities: vec![
                        pb::ChannelCapacity {
                            channel: pb::Channel::EService as i32,
                            capacity: 50,
                        },
                        pb::ChannelCapacity {
                            channel: pb::Channel::Chat as i32,
                            capacity: 10,
                        },
                    ],
                },
                &self.bearer,
            ))
            .await;
        if presence.is_err() {
            return;
        }
        let Ok(offers) = work
            .offers(authorized(
                pb::OffersRequest {
                    professional_id: self.pro.clone(),
                },
                &self.bearer,
            ))
            .await
        else {
            return;
        };
        let mut offers = offers.into_inner();
        // What the last instance left unfinished: completed here, or, refused, never ours
        // (the accept's answer was lost before it was made).
        for case in holding.clone() {
            match self.complete(&mut work, &case).await {
                Done::Completed | Done::Refused => {
                    holding.remove(&case);
                }
                Done::Failed => return,
            }
        }
        while let Ok(Some(pb::OffersResponse { offer: Some(offer) })) = offers.message().await {
            let case = offer.case_id;
            holding.insert(case.clone());
            let accepted = work
                .accept_offer(authorized(
                    pb::AcceptOfferRequest {
                        professional_id: self.pro.clone(),
                        case_id: case.clone(),
                        purpose: pb::PurposeOfUse::CareRelationship as i32,
                    },
                    &self.bearer,
                ))
                .await;
            match accepted {
                Ok(_) => {
                    self.ledger
                        .accepted_by
                        .lock()
                        .expect("lock")
                        .entry(case.clone())
                        .or_default()
                        .insert(self.pro.clone());
                }
                // Refused: someone else's now, or expired; not ours.
                Err(s) if refused(&s) => {
                    holding.remove(&case);
                    continue;
                }
                // The instance died: maybe accepted, maybe not; tried again on the next one.
                Err(_) => return,
            }
            match self.complete(&mut work, &case).await {
                Done::Completed | Done::Refused => {
                    holding.remove(&case);
                }
                Done::Failed => return,
            }
        }
    }

    async fn complete(&self, work: &mut WorkServiceClient<Channel>, case: &str) -> Done {
        let done = work
            .complete_case(authorized(
                pb::CompleteCaseRequest {
                    professional_id: self.pro.clone(),
                    case_id: case.into(),
                    outcome: pb::Outcome::ResolvedAtFirstContact as i32,
                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                },
                &self.bearer,
            ))
            .await;
        match done {
            Ok(_) => {
                *self
                    .ledger
                    .completed
                    .lock()
                    .expect("lock")
                    .entry(case.into())
                    .or_default() += 1;
                Done::Completed
            }
            Err(s) if refused(&s) => Done::Refused,
            Err(_) => Done::Failed,
        }
    }
}

enum Done {
    Completed,
    /// Not this professional's to complete (or no longer).
    Refused,
    /// No answer: the instance is gone; try again on another.
    Failed,
}

/// A refusal by the service, as against no answer.
fn refused(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::FailedPrecondition | tonic::Code::NotFound | tonic::Code::PermissionDenied
    )
}

fn status(conn: &mut redis::Connection, keys: &Keys, case: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(keys.case(case))
        .arg("status")
        .query(conn)
        .ok()
        .flatten()
}

/// The one Redis of the soak, with its append-only file, in the run's directory.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start(dir: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "yes", "--dir"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("redis-server: {e}"))?;
        let me = Self { child, port };
        for _ in 0..100 {
            if redis::Client::open(me.url())
                .and_then(|c| c.get_connection())
                .is_ok()
            {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("redis-server did not answer".into())
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `luotsi serve` processes, each on ports of its own.
struct Fleet {
    children: Vec<Child>,
    addrs: Addrs,
    config: PathBuf,
    redis_url: String,
    dir: PathBuf,
    started: usize,
}

impl Fleet {
    async fn start(
        config: &Path,
        redis_url: &str,
        dir: &Path,
        n: usize,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        let mut me = Self {
            children: Vec::new(),
            addrs: Arc::default(),
            config: config.into(),
            redis_url: redis_url.into(),
            dir: dir.into(),
            started: 0,
        };
        for _ in 0..n.max(1) {
            let (child, addr) = me.spawn().await?;
            me.children.push(child);
            me.addrs
                .write()
                .expect("lock")
                .push((addr, lazy_channel(addr)));
        }
        Ok(me)
    }

    /// Starts one `luotsi serve` and waits until it takes connections.
    async fn spawn(&mut self) -> Result<(Child, SocketAddr), Box<dyn std::error::Error>> {
        let grpc: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let http: SocketAddr = format!("127.0.0.1:{}", free_port()?).parse()?;
        let log = std::fs::File::create(self.dir.join(format!("luotsi-{}.log", self.started)))?;
        self.started += 1;
        let child = Command::new(std::env::current_exe()?)
            .arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("LUOTSI_REDIS_URL", &self.redis_url)
            .env("LUOTSI_GRPC_ADDR", grpc.to_string())
            .env("LUOTSI_HTTP_ADDR", http.to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        for _ in 0..600 {
            if channel(grpc).await.is_some() {
                return Ok((child, grpc));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("luotsi serve did not start on {grpc}").into())
    }

    /// `kill -9` of instance `i`, then a new one in its place (on new ports).
    async fn kill_and_replace(&mut self, i: usize) -> Result<(), Box<dyn std::error::Error>> {
        let _ = self.children[i].kill();
        let _ = self.children[i].wait();
        let (child, addr) = self.spawn().await?;
        self.children[i] = child;
        self.addrs.write().expect("lock")[i] = (addr, lazy_channel(addr));
        Ok(())
    }

    fn stop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The instances' configuration: the county and classifier of the bench's own, the development
/// issuer in the run's directory, plain text on loopback, short presence leases and offers, and
/// the rate limits lifted for the one front end and the professionals.
fn write_config(
    config: &Config,
    args: &SoakArgs,
    dir: &Path,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let county = args
        .county_file
        .canonicalize()
        .map_err(|e| format!("{}: {e}", args.county_file.display()))?;
    let classifier = config.classifier_dir.canonicalize()?;
    let text = format!(
        "county_file = {county:?}\nclassifier_dir = {classifier:?}\n\
         [server]\nkeepalive_secs = 2\n\
         [routing]\noffer_timeout_secs = 10\n\
         [dispatch]\npresence_lease_ms = 2000\n\
         [tls]\nplaintext_on_loopback = true\n\
         [auth]\ndev_dir = {dev:?}\n\
         [limits.roles]\n\
         citizen-frontend = {{ per_second = 1000000, burst = 1000000 }}\n\
         professional = {{ per_second = 1000000, burst = 1000000 }}\n",
        dev = dir.join("dev-auth"),
    );
    let path = dir.join("luotsi.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}
