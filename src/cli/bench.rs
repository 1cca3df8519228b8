//! `luotsi bench`: drives `SubmitContact` with many concurrent clients while every professional
//! of the county runs the accept/complete loop on their Offers stream, all over real gRPC.
//! Reports submissions per second, SubmitContact p50/p99, assignments per second, and the time
//! from submission to the offer arriving on a professional's stream.
//!
//! Every SubmitContact answer is counted by its status (OK, RESOURCE_EXHAUSTED, UNAVAILABLE,
//! anything else), and the standard gRPC health status is asked for on a connection of its own
//! every 250 ms while the contacts go in: the figures for "past capacity the service refuses the
//! excess at once and stays healthy".
//!
//! Without `--addr` it starts its own Luotsi in-process ([`InProcess`]). `--soak` runs the soak
//! test instead (`cli/soak.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use luotsi::app::App;
use luotsi::auth::Role;
use luotsi::auth::dev::TokenRequest;
use luotsi::client::authorized;
use luotsi::config::Config;
use luotsi::embedded::EmbeddedRedis;
use luotsi::pb;
use luotsi::pb::contact_service_client::ContactServiceClient;
use luotsi::pb::work_service_client::WorkServiceClient;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Contacts to submit.
    #[arg(long, default_value_t = 20_000)]
    contacts: usize,
    /// Concurrent submitting clients.
    #[arg(long, default_value_t = 64)]
    submitters: usize,
    /// HTTP/2 connections the submitters share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// Cap on total submissions per second (0: as fast as the submitters go). Below the rate
    /// the professionals can drain, submit→offer measures dispatch, not queueing.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// A running Luotsi to drive (e.g. http://127.0.0.1:50051); by default one is started here.
    #[arg(long)]
    addr: Option<String>,
    /// Supervisors watching the whole board (`WatchQueues`) meanwhile; reports how old the
    /// figures were when each update arrived, and the longest quiet gap.
    #[arg(long, default_value_t = 0)]
    watchers: usize,
    /// Submit only, with nobody online: every contact is queued and stays queued. Measures the
    /// intake path alone (the peer is a job queue's add), and fills the queues for a run with
    /// many cases waiting.
    #[arg(long)]
    queue_only: bool,
    /// Instead of one run: the soak test. Instances of `luotsi serve` on one Redis are killed
    /// in turn while contacts go in; lost and duplicated contacts are counted (`--minutes`,
    /// `--instances`, `--kill-every-secs`, `--soak-rate`, `--county-file`).
    #[arg(long)]
    soak: bool,
    #[command(flatten)]
    soak_args: super::soak::SoakArgs,
}

type Times = Arc<Mutex<HashMap<String, Instant>>>;

pub async fn run(config: Config, args: BenchArgs) -> Result<(), Box<dyn std::error::Error>> {
    if args.soak {
        return super::soak::run(config, args.soak_args).await;
    }
    let mut in_process = None;
    let (addr, dev_dir) = match &args.addr {
        Some(a) => (a.clone(), luotsi::auth::dev_dir(&config)),
        None => {
            let service = InProcess::start(&config).await?;
            let a = format!("http://{}", service.addr);
            let dir = service.dir.join("dev-auth");
            in_process = Some(service);
            (a, dir)
        }
    };
    // Tokens from the development issuer: the bench acts as every professional and a front end.
    let dev = luotsi::auth::dev::DevAuthority::open(&dev_dir)?;
    let token =
        |role: Role, who: &str| dev.token(&TokenRequest::new(role, who, &config.auth.audience));
    let frontend = token(Role::CitizenFrontend, "luotsi-bench")?;
    let ca = dev.ca_file();
    let mut channels = Vec::new();
    for _ in 0..args.connections.max(1) {
        channels.push(
            luotsi::client::connect(&luotsi::client::Target {
                addr: &addr,
                ca: Some(&ca),
                client_cert: None,
            })
            .await?,
        );
    }

    // The professionals' and watchers' streams: ended (aborted) when the run is over.
    let mut clients = JoinSet::new();
    // Every professional of the county online, taking and completing work as it comes.
    let offered_at: Times = Arc::default();
    let assigned = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let members: Vec<String> = config
        .county
        .teams
        .iter()
        .flat_map(|t| t.members.iter().map(|m| m.id.clone()))
        .filter(|_| !args.queue_only)
        .collect();
    for (i, pro) in members.iter().enumerate() {
        let mut work = WorkServiceClient::new(channels[i % channels.len()].clone());
        let bearer = token(Role::Professional, pro)?;
        work.set_presence(authorized(
            pb::SetPresenceRequest {
                professional_id: pro.clone(),
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
            &bearer,
        ))
        .await?;
        let mut offers = work
            .offers(authorized(
                pb::OffersRequest {
                    professional_id: pro.clone(),
                },
                &bearer,
            ))
            .await?
            .into_inner();
        let (pro, offered_at, assigned) = (pro.clone(), offered_at.clone(), assigned.clone());
        clients.spawn(async move {
            while let Ok(Some(pb::OffersResponse { offer: Some(offer) })) = offers.message().await {
                offered_at
                    .lock()
                    .expect("lock")
                    .insert(offer.case_id.clone(), Instant::now());
                let mut w = work.clone();
                let (pro, assigned, bearer) = (pro.clone(), assigned.clone(), bearer.clone());
                tokio::spawn(async move {
                    let id = offer.case_id;
                    if w.accept_offer(authorized(
                        pb::AcceptOfferRequest {
                            professional_id: pro.clone(),
                            case_id: id.clone(),
                            purpose: pb::PurposeOfUse::CareRelationship as i32,
                        },
                        &bearer,
                    ))
                    .await
                    .is_ok()
                    {
                        assigned.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let _ = w
                            .complete_case(authorized(
                                pb::CompleteCaseRequest {
                                    professional_id: pro,
                                    case_id: id,
                                    outcome: pb::Outcome::ResolvedAtFirstContact as i32,
                                    purpose: pb::PurposeOfUse::CareRelationship as i32,
                                },
                                &bearer,
                            ))
                            .await;
                    }
                });
            }
        });
    }

    let supervisor = dev.token(&TokenRequest {
        teams: vec![config.auth.county_wide_team.clone()],
        ..TokenRequest::new(Role::Supervisor, "luotsi-bench", &config.auth.audience)
    })?;
    let watch = Watchers::start(&channels, args.watchers, &mut clients, &supervisor).await?;

    let health = HealthPoll::start(&addr, &ca).await?;
    let submitted_at: Times = Arc::default();
    let started = Instant::now();
    let run_id = uuid::Uuid::now_v7().simple().to_string();
    let mut tasks = Vec::new();
    for s in 0..args.submitters {
        let mut client = ContactServiceClient::new(channels[s % channels.len()].clone());
        let submitted_at = submitted_at.clone();
        let (n, step, run_id) = (args.contacts, args.submitters, run_id.clone());
        let frontend = frontend.clone();
        let pace = (args.rate > 0)
            .then(|| Duration::from_secs_f64(args.submitters as f64 / args.rate as f64));
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new(3).expect("histogram");
            let mut outcomes = Outcomes::default();
            let mut tick = pace.map(|p| {
                let mut t = tokio::time::interval(p);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                t
            });
            for i in (s..n).step_by(step) {
                if let Some(t) = tick.as_mut() {
                    t.tick().await;
                }
                let req = contact(i, &run_id);
                let t = Instant::now();
                match client.submit_contact(authorized(req, &frontend)).await {
                    Ok(a) => {
                        outcomes.ok += 1;
                        hist.record(t.elapsed().as_micros() as u64).ok();
                        submitted_at
                            .lock()
                            .expect("lock")
                            .insert(a.into_inner().case_id, t);
                    }
                    Err(status) => outcomes.count(&status),
                }
            }
            (hist, outcomes)
        }));
    }
    let mut submit = Histogram::<u64>::new(3)?;
    let mut outcomes = Outcomes::default();
    for t in tasks {
        let (h, o) = t.await?;
        submit.add(h)?;
        outcomes.add(&o);
    }
    let submit_secs = started.elapsed().as_secs_f64();
    let health = health.stop().await;
    // Wait for the professionals to drain the queues.
    let deadline = Instant::now() + Duration::from_secs(if args.queue_only { 0 } else { 120 });
    while assigned.load(std::sync::atomic::Ordering::Relaxed) < submit.len() as usize
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let all_secs = started.elapsed().as_secs_f64();
    let done = assigned.load(std::sync::atomic::Ordering::Relaxed);

    let to_offer = submit_to_offer(&submitted_at, &offered_at)?;
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "luotsi bench: {} contacts, {} submitters over {} connections, {} professionals",
        args.contacts,
        args.submitters,
        args.connections,
        members.len()
    );
    println!(
        "  submitted     {:>8} in {:.2} s = {:>8.0} contacts/s acknowledged (goodput), {:.0} calls/s answered",
        submit.len(),
        submit_secs,
        submit.len() as f64 / submit_secs,
        outcomes.total() as f64 / submit_secs
    );
    println!(
        "  answers       OK {}  RESOURCE_EXHAUSTED {}  UNAVAILABLE {}  other {}",
        outcomes.ok, outcomes.exhausted, outcomes.unavailable, outcomes.other
    );
    println!(
        "  health        {} checks: SERVING {}  NOT_SERVING {}  no answer {}",
        health.serving + health.not_serving + health.no_answer,
        health.serving,
        health.not_serving,
        health.no_answer
    );
    println!(
        "  SubmitContact p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        ms(&submit, 0.5),
        ms(&submit, 0.99),
        submit.max() as f64 / 1000.0
    );
    if args.queue_only {
        println!("  queued only: nobody was online");
    } else {
        println!(
            "  assigned      {:>8} in {:.2} s = {:>8.0} cases/s (accepted and completed)",
            done,
            all_secs,
            done as f64 / all_secs
        );
        println!(
            "  submit→offer  p50 {:.2} ms  p99 {:.2} ms  (n = {})",
            ms(&to_offer, 0.5),
            ms(&to_offer, 0.99),
            to_offer.len()
        );
    }
    if args.watchers > 0 {
        watch.report(args.watchers);
    }
    // Closing the clients' streams first lets the in-process service stop gracefully.
    drop(clients);
    drop(channels);
    if let Some(service) = in_process {
        service.stop().await;
    }
    Ok(())
}

/// SubmitContact answers by status.
#[derive(Default, Clone, Copy)]
struct Outcomes {
    ok: u64,
    /// Refused at once by admission control or a rate limit: the caller may come back.
    exhausted: u64,
    /// Redis did not answer in time, or the instance could not be reached.
    unavailable: u64,
    other: u64,
}

impl Outcomes {
    fn count(&mut self, status: &tonic::Status) {
        match status.code() {
            tonic::Code::Ok => self.ok += 1,
            tonic::Code::ResourceExhausted => self.exhausted += 1,
            tonic::Code::Unavailable => self.unavailable += 1,
            _ => self.other += 1,
        }
    }

    fn add(&mut self, o: &Outcomes) {
        self.ok += o.ok;
        self.exhausted += o.exhausted;
        self.unavailable += o.unavailable;
        self.other += o.other;
    }

    fn total(&self) -> u64 {
        self.ok + self.exhausted + self.unavailable + self.other
    }
}

/// The standard gRPC health status, asked for every 250 ms on a connection of its own (as a
/// load balancer would), counted by answer; a check unanswered within 1 s counts as none.
struct HealthPoll {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<HealthCounts>,
}

#[derive(Default)]
struct HealthCounts {
    serving: u64,
    not_serving: u64,
    no_answer: u64,
}

impl HealthPoll {
    async fn start(addr: &str, ca: &std::path::Path) -> Result<Self, Box<dyn std::error::Error>> {
        use tonic_health::pb::health_check_response::ServingStatus;
        use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
        let channel = luotsi::client::connect(&luotsi::client::Target {
            addr,
            ca: Some(ca),
            client_cert: None,
        })
        .await?;
        let mut client = HealthClient::new(channel);
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut counts = HealthCounts::default();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    () = stopped.cancelled() => return counts,
                    _ = tick.tick() => {}
                }
                let check = client.check(HealthCheckRequest {
                    service: String::new(),
                });
                match tokio::time::timeout(Duration::from_secs(1), check).await {
                    Ok(Ok(answer)) if answer.get_ref().status == ServingStatus::Serving as i32 => {
                        counts.serving += 1
                    }
                    Ok(Ok(_)) => counts.not_serving += 1,
                    _ => counts.no_answer += 1,
                }
            }
        });
        Ok(Self { stop, task })
    }

    async fn stop(self) -> HealthCounts {
        self.stop.cancel();
        self.task.await.unwrap_or_default()
    }
}

/// Luotsi started by the bench itself, on its own embedded Redis in a fresh temporary
/// directory, so that runs are comparable and leave nothing behind.
struct InProcess {
    addr: std::net::SocketAddr,
    app: App,
    stopping: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), luotsi::server::ServeError>>,
    redis: EmbeddedRedis,
    dir: std::path::PathBuf,
}

impl InProcess {
    async fn start(config: &Config) -> Result<Self, Box<dyn std::error::Error>> {
        let dir = std::env::temp_dir().join(format!("luotsi-bench-{}", std::process::id()));
        let redis = EmbeddedRedis::start(&dir, config.redis.appendfsync).await?;
        let mut cfg = config.clone();
        cfg.routing.offer_timeout_secs = 60;
        // The development issuer in the run's directory; plain text on loopback, as before
        // authentication came, so that runs compare (TLS is measured apart).
        cfg.auth.issuer = None;
        cfg.auth.dev_dir = Some(dir.join("dev-auth"));
        cfg.tls.plaintext_on_loopback = true;
        // One front end submitting for a whole county as fast as it can: the run measures the
        // service, not the rate limit of one caller (`limits.roles`).
        let unlimited = luotsi::config::RateLimit {
            per_second: 1_000_000,
            burst: 1_000_000,
        };
        cfg.limits
            .roles
            .insert("citizen-frontend".into(), unlimited);
        cfg.limits.roles.insert("professional".into(), unlimited);
        cfg.server.grpc_addr = "127.0.0.1:0".parse()?;
        cfg.server.http_addr = "127.0.0.1:0".parse()?;
        let app = App::start(cfg, redis.url().expose()).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let stopping = CancellationToken::new();
        let server = tokio::spawn(luotsi::server::serve(
            app.state().clone(),
            listener,
            stopping.clone().cancelled_owned(),
        ));
        Ok(Self {
            addr,
            app,
            stopping,
            server,
            redis,
            dir,
        })
    }

    /// Stops the server (its clients are gone, so this is quick), the instance, then Redis.
    async fn stop(self) {
        self.stopping.cancel();
        let mut server = self.server;
        if tokio::time::timeout(Duration::from_secs(5), &mut server)
            .await
            .is_err()
        {
            // A response still being written to a client that left; the bench is over.
            server.abort();
        }
        self.app.stop().await;
        self.redis.stop().await;
        let _ = std::fs::remove_dir_all(self.dir);
    }
}

/// A realistic mix: needs across the taxonomy, every channel, the county's municipalities.
/// The call-back number of a run's `i`th contact: a mobile prefix and a starting point taken
/// from the run's id, so that two runs share numbers (and their contacts would join each
/// other's cases) only by a chance of about (n1 + n2) / 60 million.
fn bench_number(i: usize, run: &str) -> String {
    const PREFIXES: [&str; 6] = ["040", "041", "044", "045", "046", "050"];
    let seed = xxhash_rust::xxh3::xxh3_64(run.as_bytes());
    let prefix = PREFIXES[(seed % 6) as usize];
    let start = (seed / 6) % 10_000_000;
    format!("{prefix}{:07}", (start + i as u64) % 10_000_000)
}

pub(super) fn contact(i: usize, run: &str) -> pb::SubmitContactRequest {
    const NEEDS: [&str; 8] = [
        "acute_symptoms",
        "medication",
        "oral_health",
        "mental_health",
        "social_support",
        "family_services",
        "elderly_services",
        "rehabilitation",
    ];
    const PLACES: [&str; 6] = [
        "Joensuu",
        "Lieksa",
        "Kitee",
        "Outokumpu",
        "Liperi",
        "Nurmes",
    ];
    let channel = [pb::Channel::EService, pb::Channel::Chat, pb::Channel::Phone][i % 3];
    pb::SubmitContactRequest {
        callback_window: None,
        channel: channel as i32,
        idempotency_key: format!("bench-{run}-{i}"),
        citizen: Some(pb::Citizen {
            municipality: PLACES[i % PLACES.len()].into(),
            language: "fi".into(),
            // A phone contact needs one; each citizen their own, so none are linked — also
            // not to an earlier run's cases on the same Redis (a fill before a measured run):
            // each run numbers from a random place of its own among 60 million.
            callback_number: bench_number(i, run),
            ..Default::default()
        }),
        text: "Hei, tarvitsisin apua asiaan, voisiko joku ottaa yhteyttä tänään?".into(),
        hints: Some(pb::Hints {
            form_category: NEEDS[i % NEEDS.len()].into(),
            ..Default::default()
        }),
    }
}

/// Time from sending SubmitContact to the offer arriving on a professional's stream, per case.
fn submit_to_offer(
    submitted_at: &Times,
    offered_at: &Times,
) -> Result<Histogram<u64>, Box<dyn std::error::Error>> {
    let mut h = Histogram::<u64>::new(3)?;
    let subs = submitted_at.lock().expect("lock");
    for (id, at) in offered_at.lock().expect("lock").iter() {
        if let Some(s) = subs.get(id) {
            h.record(at.saturating_duration_since(*s).as_micros() as u64)
                .ok();
        }
    }
    Ok(h)
}

/// Supervisors watching the board: per update, how old its figures were on arrival (wall clock,
/// same machine), and the longest gap between two updates of one watcher.
struct Watchers {
    age: Arc<Mutex<Histogram<u64>>>,
    gap: Arc<Mutex<Histogram<u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Watchers {
    async fn start(
        channels: &[Channel],
        n: usize,
        clients: &mut JoinSet<()>,
        token: &str,
    ) -> Result<Self, Box<dyn std::error::Error>> {
        use luotsi::pb::supervisor_service_client::SupervisorServiceClient;
        let w = Watchers {
            age: Arc::new(Mutex::new(Histogram::new(3)?)),
            gap: Arc::new(Mutex::new(Histogram::new(3)?)),
            stop: Arc::default(),
        };
        for i in 0..n {
            let mut client = SupervisorServiceClient::new(channels[i % channels.len()].clone());
            let mut stream = client
                .watch_queues(authorized(pb::WatchQueuesRequest::default(), token))
                .await?
                .into_inner();
            stream.message().await?; // the first, fresh snapshot
            let (age, gap, stop) = (w.age.clone(), w.gap.clone(), w.stop.clone());
            clients.spawn(async move {
                let mut last = Instant::now();
                while let Ok(Some(pb::WatchQueuesResponse { board: Some(board) })) =
                    stream.message().await
                {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let now_ms = chrono::Utc::now().timestamp_millis();
                    let as_of = board
                        .as_of
                        .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
                        .unwrap_or(now_ms);
                    age.lock()
                        .expect("lock")
                        .record((now_ms - as_of).max(0) as u64)
                        .ok();
                    gap.lock()
                        .expect("lock")
                        .record(last.elapsed().as_millis() as u64)
                        .ok();
                    last = Instant::now();
                }
            });
        }
        Ok(w)
    }

    fn report(&self, n: usize) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let age = self.age.lock().expect("lock");
        let gap = self.gap.lock().expect("lock");
        let under_1s = age.count_between(0, 999) as f64 / age.len().max(1) as f64 * 100.0;
        println!(
            "  WatchQueues   {n} watchers, {} updates: figures' age on arrival p50 {} ms  p99 {} ms  max {} ms ({under_1s:.1} % under 1 s)",
            age.len(),
            age.value_at_quantile(0.5),
            age.value_at_quantile(0.99),
            age.max()
        );
        println!(
            "                gap between updates p50 {} ms  p99 {} ms  max {} ms",
            gap.value_at_quantile(0.5),
            gap.value_at_quantile(0.99),
            gap.max()
        );
    }
}
