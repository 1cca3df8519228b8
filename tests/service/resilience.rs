//! Restarts: of the service, and of Redis. Nothing is lost.

use std::time::{Duration, Instant};

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

#[tokio::test]
async fn a_service_restart_loses_nothing() {
    let mut county = TestCounty::start().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            county
                .submit(dental(pb::Channel::EService, &format!("svc-{i}")))
                .await
                .case_id,
        );
    }
    // One case is on offer when the service goes away.
    county.go_online("suu-hh-1").await;
    let offered = county.next_offer("suu-hh-1").await;
    county.restart_service().await;

    for id in &ids {
        let c = county.case(id).await;
        assert!(
            c.status == pb::CaseStatus::Queued as i32 || c.status == pb::CaseStatus::Offered as i32,
            "{id} is still there"
        );
    }
    // The new instance's professional gets all five, including the one that was on offer.
    county.go_online("suu-hh-2").await;
    let mut got = Vec::new();
    while got.len() < 5 {
        let o = county
            .offer_within("suu-hh-2", Duration::from_secs(40))
            .await
            .expect("every case comes back");
        got.push(o.case_id);
    }
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(got.contains(&offered.case_id));
}

#[tokio::test]
async fn a_redis_restart_loses_nothing_and_the_service_recovers() {
    let mut county = TestCounty::start().await;
    let before = county.submit(dental(pb::Channel::Chat, "r-1")).await;
    county.restart_redis();
    // The connection comes back by itself; calls during the gap may be UNAVAILABLE.
    let mut after = None;
    for _ in 0..50 {
        match county.try_submit(dental(pb::Channel::Chat, "r-2")).await {
            Ok(a) => {
                after = Some(a);
                break;
            }
            Err(s) => assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = after.expect("submitting works again after the restart");
    assert_eq!(
        county.case(&before).await.status,
        pb::CaseStatus::Queued as i32
    );
    assert_eq!(county.depth("suunterveys").await, 2);
    // Offers flow again: the event subscription was re-established.
    county.go_online("suu-hh-1").await;
    let a = county.next_offer("suu-hh-1").await;
    let b = county.next_offer("suu-hh-1").await;
    let mut got = vec![a.case_id, b.case_id];
    got.sort();
    let mut want = vec![before.case_id, after.case_id];
    want.sort();
    assert_eq!(got, want);
    // A contact submitted after the professional came online is pushed at once.
    let third = county.submit(dental(pb::Channel::EService, "r-3")).await;
    let c = county.next_offer("suu-hh-1").await;
    assert_eq!(c.case_id, third.case_id);
}

/// Redis holds every write for `held` (`CLIENT PAUSE … WRITE`): calls admitted meanwhile stay in
/// flight and keep their admission places.
fn hold_writes(county: &TestCounty, held: Duration) {
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(held.as_millis() as u64)
        .arg("WRITE")
        .query(&mut county.redis())
        .unwrap();
}

/// A flood of submissions fills the intake's places; the staff's calls (here a professional
/// coming online) have places of their own and are never refused for it: they are what drains
/// an overload.
#[tokio::test]
async fn a_flood_of_submissions_never_refuses_the_staff_at_work() {
    let county = TestCounty::start_with(|c| c.server.max_concurrent_calls = 2).await;
    let held = Duration::from_millis(2000);
    hold_writes(&county, held);
    let flood = futures::future::join_all(
        (0..6).map(|i| county.try_submit(dental(pb::Channel::Chat, &format!("flood-{i}")))),
    );
    let staff = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        county
            .try_set_presence("suu-hh-1", pb::Presence::Available)
            .await
    };
    let (answers, presence) = tokio::join!(flood, staff);
    let refused = answers
        .iter()
        .filter(|a| matches!(a, Err(s) if s.code() == tonic::Code::ResourceExhausted))
        .count();
    assert_eq!(refused, 4, "submissions beyond the limit are refused");
    let state = presence.expect("the professional's call is admitted while the intake is full");
    assert_eq!(state.presence, pb::Presence::Available as i32);
}

#[tokio::test]
async fn calls_beyond_the_limit_are_refused_at_once_and_the_instance_still_looks_healthy() {
    let county = TestCounty::start_with(|c| c.server.max_concurrent_calls = 2).await;
    // Redis holds every write for a while: the calls admitted stay in flight on the calls'
    // connection, and so would a health check sharing it.
    let held = Duration::from_millis(2500);
    hold_writes(&county, held);
    let started = Instant::now();
    let flood = futures::future::join_all((0..10).map(|i| {
        let county = &county;
        async move {
            let answer = county
                .try_submit(dental(pb::Channel::Chat, &format!("flood-{i}")))
                .await;
            (answer, started.elapsed())
        }
    }));
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        (
            county.health("").await,
            county.http_get("/readyz").await.0,
            started.elapsed(),
        )
    };
    let (answers, (health, ready, checked_at)) = tokio::join!(flood, meanwhile);
    assert!(checked_at < held, "checked while Redis held the writes");
    assert_eq!(
        health,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    assert_eq!(ready, 200, "readiness has its own connection");

    let mut admitted = 0;
    for (answer, after) in answers {
        match answer {
            Ok(_) => {
                admitted += 1;
                assert!(after >= held - Duration::from_millis(200), "{after:?}");
            }
            Err(s) => {
                assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s:?}");
                assert!(after < held / 2, "refused at once, not queued: {after:?}");
                assert_eq!(
                    s.metadata()
                        .get("retry-after-ms")
                        .and_then(|v| v.to_str().ok()),
                    Some("250")
                );
                let retry =
                    tonic_types::StatusExt::get_details_retry_info(&s).and_then(|r| r.retry_delay);
                assert_eq!(retry, Some(Duration::from_millis(250)));
            }
        }
    }
    assert_eq!(admitted, 2, "as many as the limit");
    // Once the admitted calls have answered, new calls are served again.
    county
        .submit(dental(pb::Channel::Chat, "after-the-flood"))
        .await;
    let (_, metrics) = county.http_get("/metrics").await;
    assert!(
        metrics.contains("luotsi_calls_refused_total 8"),
        "refusals are counted"
    );
}
