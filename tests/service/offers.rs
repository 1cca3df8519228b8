//! Offers are reservations: they expire, they come back when a stream drops or a professional
//! declines, and a case is never held by two professionals.

use std::time::{Duration, Instant};

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

#[tokio::test]
async fn an_unanswered_offer_expires_back_to_the_head_of_its_queue() {
    let county = TestCounty::start_with(|c| c.routing.offer_timeout_secs = 1).await;
    let first = county.submit(dental(pb::Channel::EService, "exp-1")).await;
    let second = county.submit(dental(pb::Channel::EService, "exp-2")).await;
    // Only one slot, so only the head is offered.
    county
        .go_online_with_capacity("suu-hh-1", &[(pb::Channel::EService, 1)])
        .await;

    let o = county.next_offer("suu-hh-1").await;
    assert_eq!(o.case_id, first.case_id, "the earliest deadline goes first");
    // The desktop is told the expiry Redis enforces.
    let stored: i64 = redis::cmd("ZSCORE")
        .arg(county.keys().offers())
        .arg(&first.case_id)
        .query(&mut county.redis())
        .unwrap();
    let told = o.expires_at.unwrap();
    assert_eq!(
        told.seconds * 1000 + i64::from(told.nanos / 1_000_000),
        stored
    );
    let offered_at = Instant::now();
    assert_eq!(
        county.case(&first).await.status,
        pb::CaseStatus::Offered as i32
    );
    // Not accepted: it expires, returns ahead of the second case, and is offered again.
    let again = county.next_offer("suu-hh-1").await;
    assert_eq!(again.case_id, first.case_id);
    assert!(
        offered_at.elapsed() >= Duration::from_millis(900),
        "not before the expiry"
    );
    let stored: i64 = redis::cmd("HGET")
        .arg(county.keys().case(&first.case_id))
        .arg("requeues")
        .query(&mut county.redis())
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(
        county.case(&second).await.status,
        pb::CaseStatus::Queued as i32
    );
}

#[tokio::test]
async fn accepting_an_expired_offer_is_refused() {
    let county = TestCounty::start_with(|c| c.routing.offer_timeout_secs = 1).await;
    county.go_online("suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Chat, "late")).await;
    let o = county.next_offer("suu-hh-1").await;
    assert_eq!(o.case_id, sent.case_id);
    // Go on break so it is not simply offered again, then wait past expiry.
    county.set_presence("suu-hh-1", pb::Presence::OnBreak).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = county.try_accept("suu-hh-1", &o).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        county.case(&sent).await.status,
        pb::CaseStatus::Queued as i32
    );
}

#[tokio::test]
async fn a_dropped_offers_stream_returns_the_case_to_a_colleague() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Phone, "drop")).await;
    let o = county.next_offer("suu-hh-1").await;
    assert_eq!(o.case_id, sent.case_id);
    county.go_online("suu-hh-2").await;
    county.disconnect("suu-hh-1"); // the desktop lost its connection
    let o = county.next_offer("suu-hh-2").await;
    assert_eq!(o.case_id, sent.case_id);
    let c = county.case(&sent).await;
    assert_eq!(
        (c.status, c.professional_id.as_str()),
        (pb::CaseStatus::Offered as i32, "suu-hh-2")
    );
}

#[tokio::test]
async fn a_declined_case_goes_to_someone_else_not_back_to_the_decliner() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Chat, "decline")).await;
    let o = county.next_offer("suu-hh-1").await;
    county.decline("suu-hh-1", &o, "language").await;
    assert!(
        county
            .offer_within("suu-hh-1", Duration::from_millis(500))
            .await
            .is_none(),
        "not offered back to the decliner"
    );
    county.go_online("suu-hh-2").await;
    let o2 = county.next_offer("suu-hh-2").await;
    assert_eq!(o2.case_id, sent.case_id);
    // The decliner cannot take it any more.
    let err = county.try_accept("suu-hh-1", &sent).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test]
async fn a_newer_offers_stream_on_the_same_instance_ends_the_older_one_and_takes_its_offers() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let first = county
        .submit(dental(pb::Channel::Phone, "two-desks-1"))
        .await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, first.case_id);

    let older = county.reopen_offers_via(0, "suu-hh-1").await;
    let end = older.end().await;
    assert_eq!(end.code(), tonic::Code::Aborted, "{end:?}");
    assert!(end.message().contains("replaced"), "{end:?}");
    // The offer outstanding on the older stream is made again to the newer one.
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, first.case_id);
    let second = county
        .submit(dental(pb::Channel::Chat, "two-desks-2"))
        .await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, second.case_id);

    // When the newer stream closes too, nothing is left holding the professional's connection:
    // their offers go to a colleague rather than waiting on a stream nobody reads.
    county.go_online("suu-hh-2").await;
    county.disconnect("suu-hh-1");
    let mut got = vec![
        county.next_offer("suu-hh-2").await.case_id,
        county.next_offer("suu-hh-2").await.case_id,
    ];
    got.sort();
    let mut want = vec![first.case_id.clone(), second.case_id.clone()];
    want.sort();
    assert_eq!(got, want);
    let conn: Option<String> = redis::cmd("HGET")
        .arg(county.keys().professional("suu-hh-1"))
        .arg("conn")
        .query(&mut county.redis())
        .unwrap();
    assert_eq!(conn, None);
}

#[tokio::test]
async fn a_newer_offers_stream_on_another_instance_ends_the_older_one() {
    let county = TestCounty::start_instances(2).await;
    county.go_online_via(0, "suu-hh-1").await;
    let first = county
        .submit(dental(pb::Channel::Phone, "two-inst-1"))
        .await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, first.case_id);

    let older = county.reopen_offers_via(1, "suu-hh-1").await;
    // The newer stream gets the outstanding offer and new ones; the older one is sent
    // nothing more and ends.
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, first.case_id);
    let second = county
        .submit_via(0, dental(pb::Channel::Chat, "two-inst-2"))
        .await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, second.case_id);
    let end = older.end().await;
    assert_eq!(end.code(), tonic::Code::Aborted, "{end:?}");
    // Accepting through the newer stream's instance works.
    county.accept("suu-hh-1", &second).await;
}
