//! How long things are kept, on the virtual clock (its own test binary: the whole process runs
//! on virtual time). A waiting case becomes stale for supervisors after `routing.stale_case_days`
//! and is never deleted for its age; a closed case's keys expire after
//! `routing.closed_case_retention_days`; the statistics stream lets entries go by time (31 days),
//! never by count; the day's service-level counts and the idempotency keys expire as the key
//! table says.

#[allow(dead_code)]
#[path = "service/county.rs"]
mod county;
#[allow(dead_code)]
#[path = "service/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "service/support.rs"]
mod support;

use county::TestCounty;
use luotsi::pb;

const DAY: i64 = 86_400_000;

fn ttl(conn: &mut redis::Connection, key: &str) -> i64 {
    redis::cmd("TTL").arg(key).query(conn).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_lifetime_holds_on_the_virtual_clock() {
    // Mon 2 Nov 2026 09:00 in Helsinki.
    let t0 = chrono::DateTime::parse_from_rfc3339("2026-11-02T09:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    luotsi::clock::set_virtual(t0);
    let county = TestCounty::start_with(|c| {
        c.routing.stale_case_days = 14;
        c.routing.closed_case_retention_days = 30;
    })
    .await;
    let keys = county.keys().clone();
    let mut conn = county.redis();

    // A call-back taken and completed: its keys expire after the retention; the day's counts
    // after two days; the idempotency key after its time.
    county.go_online("jns-sh-1").await;
    let done = county
        .submit(support::cough(pb::Channel::Phone, "keep-done"))
        .await;
    county.next_offer("jns-sh-1").await;
    county.accept("jns-sh-1", &done).await;
    county.complete("jns-sh-1", &done).await;
    let case_ttl = ttl(&mut conn, &keys.case(&done.case_id));
    assert!(
        (30 * 86_400 - 60..=30 * 86_400).contains(&case_ttl),
        "closed case kept 30 days: {case_ttl}"
    );
    let day_keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}day:*", keys.prefix()))
        .query(&mut conn)
        .unwrap();
    assert_eq!(day_keys.len(), 1, "{day_keys:?}");
    assert!((172_800 - 60..=172_800).contains(&ttl(&mut conn, &day_keys[0])));
    let idem: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}idem:*", keys.prefix()))
        .query(&mut conn)
        .unwrap();
    assert!(!idem.is_empty());
    assert!(
        idem.iter()
            .all(|k| (86_400 - 60..=86_400).contains(&ttl(&mut conn, k)))
    );
    // A call-back taken and never completed: open, in progress, in no queue.
    let held = county
        .submit(support::cough(pb::Channel::Phone, "keep-held"))
        .await;
    county.next_offer("jns-sh-1").await;
    county.accept("jns-sh-1", &held).await;
    county.set_presence("jns-sh-1", pb::Presence::OnBreak).await;
    assert_eq!(stale_open(&county, 0).await, 0);

    // 150 messages wait: their statistics entries are written at t0.
    for i in 0..150 {
        county
            .submit(support::cough(pb::Channel::EService, &format!("keep-{i}")))
            .await;
    }
    assert_eq!(stale(&county).await, 0);
    let entries_then: i64 = redis::cmd("XLEN")
        .arg(keys.stats())
        .query(&mut conn)
        .unwrap();
    assert!(entries_then >= 150);

    // 15 days later nobody has taken them: stale for supervisors, and still there.
    luotsi::clock::set_virtual(t0 + 15 * DAY);
    assert_eq!(stale(&county).await, 150);
    assert_eq!(county.depth("joensuu-keskus").await, 150);
    // The case held in progress for 15 days is stale too, on the board beside the queue's.
    assert_eq!(stale_open(&county, 1).await, 1);
    assert_eq!(
        county.case(&held).await.status,
        pb::CaseStatus::InProgress as i32,
        "never closed for its age"
    );

    // 32 days later a new contact's statistics entry lets the old ones go (by time: Redis
    // trims whole nodes of 100 entries, so at least the first 100 are gone), and the waiting
    // cases are still all there.
    luotsi::clock::set_virtual(t0 + 32 * DAY);
    county
        .submit(support::cough(pb::Channel::EService, "keep-late"))
        .await;
    let entries_now: i64 = redis::cmd("XLEN")
        .arg(keys.stats())
        .query(&mut conn)
        .unwrap();
    assert!(
        entries_now <= entries_then - 100 + 1,
        "trimmed by time: {entries_then} then, {entries_now} now"
    );
    let first: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(keys.stats())
        .arg("-")
        .arg("+")
        .arg("COUNT")
        .arg(1)
        .query(&mut conn)
        .unwrap();
    assert!(!first.ids.is_empty());
    assert_eq!(county.depth("joensuu-keskus").await, 151);
}

async fn stale(county: &TestCounty) -> u32 {
    county
        .try_queues("joensuu-keskus")
        .await
        .unwrap()
        .iter()
        .map(|q| q.stale)
        .sum()
}

/// The board's count of the team's open cases older than the stale age that are not waiting,
/// once the board shows `want` (it refreshes within a second), else what it shows last.
async fn stale_open(county: &TestCounty, want: u64) -> u64 {
    let mut seen = u64::MAX;
    for _ in 0..40 {
        let (_, body) = county.http_get("/api/board").await;
        let b: serde_json::Value = serde_json::from_str(&body).unwrap();
        seen = b["teams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["team_id"] == "joensuu-keskus")
            .and_then(|t| t["stale_open"].as_u64())
            .unwrap();
        if seen == want {
            return seen;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    seen
}
