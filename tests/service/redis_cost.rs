//! What a contact costs Redis: commands per operation (counted with `MONITOR`, which shows each
//! script's own commands after it) and memory per waiting case (`INFO memory`). Behavioural
//! guards against a script that starts reading the case back, scanning empty queues or keeping
//! fields that no longer fit a compact hash; no timing is asserted.
//!
//! The bounds are today's figures (BENCHMARKS.md, "Redis commands per contact"), not yet issue
//! 15's aims (12 commands for a queued contact, 40 for a whole one, 1.5 KB per waiting case):
//! lower them as the indexes a case keeps are merged.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

/// The commands Redis ran while a [`CommandLog`] watched, each script's own commands with it.
struct CommandLog {
    lines: Arc<Mutex<Vec<String>>>,
    reader: std::thread::JoinHandle<()>,
    url: String,
}

/// The end of a log: a command no test otherwise sends.
const END: &str = "luotsi-command-log-end";

impl CommandLog {
    fn start(county: &TestCounty) -> Self {
        let url = county.redis_url();
        let addr = url.trim_start_matches("redis://").to_string();
        let mut s = TcpStream::connect(&addr).expect("redis for MONITOR");
        s.write_all(b"MONITOR\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut ok = String::new();
        r.read_line(&mut ok).unwrap();
        assert!(ok.starts_with("+OK"), "MONITOR answered {ok}");
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = lines.clone();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            while r.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if line.contains(END) {
                    break;
                }
                seen.lock().unwrap().push(std::mem::take(&mut line));
            }
        });
        Self { lines, reader, url }
    }

    /// Stops watching: every command Redis ran since `start`.
    fn finish(self) -> Vec<Command> {
        let mut c = redis::Client::open(self.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap();
        let _: String = redis::cmd("ECHO").arg(END).query(&mut c).unwrap();
        self.reader.join().unwrap();
        let lines = std::mem::take(&mut *self.lines.lock().unwrap());
        let mut out: Vec<Command> = Vec::new();
        for line in lines {
            let Some((client, rest)) = line
                .split_once(" [")
                .and_then(|(_, r)| r.split_once("] "))
                .map(|(c, r)| (c.split_once(' ').map_or(c, |(_, a)| a), r))
            else {
                continue;
            };
            let name = rest
                .trim()
                .trim_start_matches('"')
                .split('"')
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            if client == "lua" {
                if let Some(script) = out.last_mut() {
                    script.inner.push(name);
                }
            } else {
                out.push(Command {
                    client: client.to_string(),
                    name,
                    line: line.clone(),
                    inner: Vec::new(),
                });
            }
        }
        out
    }
}

/// One command a client sent, and the commands a script it ran ran.
struct Command {
    client: String,
    name: String,
    line: String,
    inner: Vec<String>,
}

/// What the service's calls cost on their connection.
#[derive(Debug, Default)]
struct Cost {
    /// Commands the service sent (each script is one).
    sent: usize,
    /// Every command Redis ran for them, scripts' own commands included.
    commands: usize,
    /// Per command sent, in order: it and what it ran.
    each: Vec<usize>,
    by_name: BTreeMap<String, usize>,
}

/// The cost on the connection that sent the first command mentioning `marker` (the calls'
/// connection, shared by every handler).
fn cost_of(log: &[Command], marker: &str) -> Cost {
    let client = &log
        .iter()
        .find(|c| c.line.contains(marker))
        .unwrap_or_else(|| panic!("no command mentions {marker}"))
        .client;
    let mut cost = Cost::default();
    for c in log.iter().filter(|c| &c.client == client) {
        cost.sent += 1;
        cost.commands += 1 + c.inner.len();
        cost.each.push(1 + c.inner.len());
        for name in std::iter::once(&c.name).chain(&c.inner) {
            *cost.by_name.entry(name.clone()).or_default() += 1;
        }
    }
    cost
}

#[tokio::test]
async fn a_queued_contact_costs_one_script_of_at_most_20_redis_commands() {
    let county = TestCounty::start().await;
    // Scripts loaded first: a fresh Redis answers the first call of each NOSCRIPT.
    county.submit(dental(pb::Channel::Phone, "warm-up")).await;

    let log = CommandLog::start(&county);
    let answer = county
        .submit(dental(pb::Channel::Phone, "cost-queued"))
        .await;
    let cost = cost_of(&log.finish(), "cost-queued");

    assert_eq!(answer.status, pb::CaseStatus::Queued as i32);
    println!("queued SubmitContact: {cost:?}");
    assert_eq!(cost.sent, 1, "one round trip: {cost:?}");
    assert!(cost.commands <= 20, "{cost:?}");

    // Without a citizen (an e-service contact with neither identity code nor number).
    let log = CommandLog::start(&county);
    let answer = county
        .submit(dental(pb::Channel::EService, "cost-anonymous"))
        .await;
    let cost = cost_of(&log.finish(), "cost-anonymous");
    assert_eq!(answer.status, pb::CaseStatus::Queued as i32);
    println!("queued anonymous SubmitContact: {cost:?}");
    assert_eq!(cost.sent, 1, "one round trip: {cost:?}");
    // (One of them adds the case to its data key's open cases: `sealed:<key>`, encryption at
    // rest.)
    assert!(cost.commands <= 17, "{cost:?}");
}

#[tokio::test]
async fn a_whole_contact_costs_three_scripts_of_at_most_56_redis_commands() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let whole = |key: &'static str| {
        let county = &county;
        async move {
            let answer = county.submit(dental(pb::Channel::Phone, key)).await;
            assert_eq!(answer.status, pb::CaseStatus::Offered as i32);
            let offer = county.next_offer("suu-hh-1").await;
            let taken = county.accept("suu-hh-1", &offer).await;
            assert_eq!(taken.status, pb::CaseStatus::InProgress as i32);
            assert!(taken.citizen_text.contains("särkee"), "the holder's view");
            let done = county.complete("suu-hh-1", &offer).await;
            assert_eq!(done.status, pb::CaseStatus::Completed as i32);
            assert!(done.citizen_text.is_empty() && done.callback_number.is_empty());
        }
    };
    whole("warm-up").await;

    let log = CommandLog::start(&county);
    whole("cost-whole").await;
    let cost = cost_of(&log.finish(), "cost-whole");

    println!("SubmitContact → offer → AcceptOffer → CompleteCase: {cost:?}");
    assert!(cost.sent <= 3, "three round trips: {cost:?}");
    assert!(cost.commands <= 56, "{cost:?}");
}

#[tokio::test]
async fn a_waiting_case_keeps_at_most_4_kb_of_redis_memory_in_a_compact_case_hash() {
    let county = TestCounty::start().await;
    let used = || -> i64 {
        let info: String = redis::cmd("INFO")
            .arg("memory")
            .query(&mut county.redis())
            .unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("used_memory")
    };
    // Contacts as the bench sends them: every channel, eight needs, a citizen each.
    let bench_like = |i: usize| {
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
        let channel = [pb::Channel::EService, pb::Channel::Chat, pb::Channel::Phone][i % 3];
        let mut c = contact(
            channel,
            &format!("memory-{i}"),
            "Hei, tarvitsisin apua asiaan, voisiko joku ottaa yhteyttä tänään?",
            NEEDS[i % NEEDS.len()],
            [
                "Joensuu",
                "Lieksa",
                "Kitee",
                "Outokumpu",
                "Liperi",
                "Nurmes",
            ][i % 6],
        );
        c.citizen.as_mut().unwrap().callback_number = format!("040{:07}", i);
        c
    };
    county.submit(bench_like(0)).await;
    let n = 2_000;
    let before = used();
    let mut submitted = futures::stream::iter(1..=n)
        .map(|i| county.submit(bench_like(i)))
        .buffer_unordered(16);
    while let Some(answer) = submitted.next().await {
        assert_eq!(answer.status, pb::CaseStatus::Queued as i32);
    }
    drop(submitted);
    let per_case = (used() - before) / n as i64;
    println!("Redis memory per waiting case: {per_case} bytes");
    let last = county.submit(bench_like(n + 1)).await;
    let mut r = county.redis();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut r).unwrap();
    for key in keys
        .iter()
        .filter(|k| k.contains(&last.case_id) || k.contains(&last.contact_id))
    {
        let usage: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(key)
            .query(&mut r)
            .unwrap();
        let encoding: String = redis::cmd("OBJECT")
            .arg("ENCODING")
            .arg(key)
            .query(&mut r)
            .unwrap();
        println!("{key}: {usage} bytes, {encoding}");
    }
    // Routing fields only: Redis keeps the hash compact (a listpack, not a hashtable).
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(county.keys().case(&last.case_id))
        .query(&mut r)
        .unwrap();
    assert_eq!(encoding, "listpack");
    assert!(per_case <= 4_096, "{per_case} bytes per waiting case");
}

/// The figure for BENCHMARKS.md, not a test of speed (no time is asserted): 100 000 cases
/// waiting with their language wait and first overflow step due, the reaper's scripts as
/// SLOWLOG sees them (every script over 2 ms is logged). Written straight through the store,
/// each case planned as SubmitContact plans it.
///
/// `cargo test --test service reaper_slowlog -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement: 100 000 cases, about a minute"]
async fn reaper_slowlog_with_100k_waiting() {
    use luotsi::domain::intake::{self, Assessment, ContactFacts, IntakePolicy};
    use luotsi::domain::{Channel, Language, Need, Urgency};
    use luotsi::store::{NewCase, Store};

    let redis = crate::harness::RedisServer::start();
    let config = crate::harness::config();
    let store = Store::connect(
        &redis.url(),
        &config.county.id,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    let policy = IntakePolicy {
        teams: &config.county.teams,
        deadlines: &config.deadlines,
        language_wait_secs: 1,
        continuity_wait_secs: 1,
        overflow_after_secs: &[2, 3600],
        sami_homeland: &config.routing.sami_homeland,
    };
    let needs = [
        Need::AcuteSymptoms,
        Need::Medication,
        Need::OralHealth,
        Need::MentalHealth,
    ];
    let n = 100_000;
    let plans: Vec<_> = (0..n)
        .map(|i| {
            let channel = [Channel::EService, Channel::Chat, Channel::Phone][i % 3];
            let facts = ContactFacts {
                channel,
                municipality: Some(["Joensuu", "Lieksa", "Kitee"][i % 3]),
                language: Some(Language::Finnish),
                age: None,
                own_professional: None,
                own_team: None,
                form_category: None,
                phone_menu: None,
                callback_window: None,
            };
            let need = [needs[i % needs.len()]];
            let assessment = Assessment {
                needs: &need,
                urgency: Urgency::Routine,
                language: Language::Finnish,
            };
            intake::plan(&facts, &assessment, None, &policy, luotsi::clock::now()).unwrap()
        })
        .collect();
    let started = std::time::Instant::now();
    let submits = plans.iter().enumerate().map(|(i, plan)| {
        let store = store.clone();
        async move {
            let key = format!("slowlog-{i}");
            let new = NewCase {
                plan,
                contact_id: uuid::Uuid::now_v7().hyphenated().to_string(),
                case_id: uuid::Uuid::now_v7().hyphenated().to_string(),
                idempotency_key: &key,
                idempotency_ttl_secs: 86_400,
                citizen: None,
                classification: vec![0x0a; 120],
                text: "Hei, tarvitsisin apua asiaan, voisiko joku ottaa yhteyttä tänään?",
                callback_number: None,
                access_hash: &"ab".repeat(32),
                first_look_due_ms: plan.created_ms + 3_600_000,
                open_case: None,
            };
            store.submit(&new).await.unwrap();
        }
    });
    futures::stream::iter(submits)
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .await;
    println!("{n} cases written in {:?}", started.elapsed());
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;

    let mut c = redis.conn();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(2000)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-max-len")
        .arg(100_000)
        .query(&mut c)
        .unwrap();
    let slowlog = |c: &mut redis::Connection| -> (usize, i64) {
        let slow: Vec<redis::Value> = redis::cmd("SLOWLOG").arg("GET").arg(-1).query(c).unwrap();
        let mut longest = 0i64;
        for entry in &slow {
            if let redis::Value::Array(fields) = entry
                && let Some(redis::Value::Int(us)) = fields.get(2)
            {
                longest = longest.max(*us);
            }
        }
        let _: () = redis::cmd("SLOWLOG").arg("RESET").query(c).unwrap();
        (slow.len(), longest)
    };
    slowlog(&mut c);

    // As before issue 15: one script taking up to 500 due entries of each kind (here 1 000:
    // the ended waits and the overflow steps).
    let before = redis::Script::new(&format!(
        "{}\n{}",
        include_str!("../../src/store/lua/prelude.lua"),
        include_str!("../../src/store/lua/expire.lua")
    ));
    let _: Vec<i64> = before
        .key(config.county.id.as_str())
        .arg(store.keys().prefix())
        .arg(luotsi::clock::now_ms())
        .arg(30_000)
        .arg(1000)
        .invoke(&mut c)
        .unwrap();
    let (_, one_call) = slowlog(&mut c);
    println!("one script of 1 000 due entries (as before): {one_call} µs");

    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let started = std::time::Instant::now();
    let mut rounds = 0;
    let mut reaped = (0, 0, 0);
    loop {
        let r = store.expire_offers(500).await.unwrap();
        rounds += 1;
        reaped = (reaped.0 + r.0, reaped.1 + r.1, reaped.2 + r.2);
        let now = luotsi::clock::now_ms();
        let due: i64 = ["waits", "overflow", "offers", "chatwait"]
            .iter()
            .map(|k| {
                redis::cmd("ZCOUNT")
                    .arg(format!("{}{k}", store.keys().prefix()))
                    .arg("-inf")
                    .arg(now)
                    .query::<i64>(&mut c)
                    .unwrap()
            })
            .sum();
        if due == 0 {
            break;
        }
    }
    println!(
        "reaper: {rounds} rounds of expire_offers(500) in {:?}: {reaped:?} (expired, relaxed, moved)",
        started.elapsed()
    );
    let (slow, longest) = slowlog(&mut c);
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut c)
        .unwrap();
    let evalsha = stats
        .lines()
        .find(|l| l.starts_with("cmdstat_evalsha:"))
        .unwrap_or("");
    println!(
        "SLOWLOG over 2 ms during the reaping: {slow} scripts, longest {longest} µs; {evalsha}"
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average: {load}");
}
