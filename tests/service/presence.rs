//! Presence dies with its instance: each instance renews a lease for the professionals
//! connected to it, and a professional whose lease lapses is offline for routing — their offers
//! go to a living colleague, the cases they hold are shown to supervisors as "holder
//! disconnected" until they reconnect or a supervisor releases them.

use std::time::Duration;

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

/// The shortest lease the configuration allows, so that lapses come quickly; offers wait the
/// default 30 s, so a case that comes back sooner came back through the lease.
const LEASE_MS: u64 = 1_000;

async fn two_instances() -> TestCounty {
    TestCounty::start_instances_with(2, |c| c.dispatch.presence_lease_ms = LEASE_MS).await
}

/// Waits until Redis no longer holds a lease for `pro`.
async fn lease_lapsed(county: &TestCounty, pro: &str) {
    for _ in 0..100 {
        let lease: Option<f64> = redis::cmd("ZSCORE")
            .arg(county.keys().leases())
            .arg(pro)
            .query(&mut county.redis())
            .unwrap();
        if lease.is_none() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the lease of {pro} did not lapse");
}

#[tokio::test]
async fn an_offer_to_a_professional_whose_instance_died_goes_to_a_colleague_within_the_lease() {
    let mut county = two_instances().await;
    county.go_online_via(1, "suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Phone, "ghost-1")).await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, sent.case_id);
    county.go_online("suu-hh-2").await;

    county.crash_instance(1);
    // Long before the 30 s offer time-out: the lease, not the expiry, brought it back.
    let o = county.next_offer("suu-hh-2").await;
    assert_eq!(o.case_id, sent.case_id);
    let c = county.case(&sent).await;
    assert_eq!(
        (c.status, c.professional_id.as_str()),
        (pb::CaseStatus::Offered as i32, "suu-hh-2")
    );
    // And nothing new is offered to the dead professional.
    let later = county.submit(dental(pb::Channel::Chat, "ghost-2")).await;
    let o = county.next_offer("suu-hh-2").await;
    assert_eq!(o.case_id, later.case_id);
}

#[tokio::test]
async fn a_restarted_instance_inherits_no_connections() {
    let mut county =
        TestCounty::start_instances_with(1, |c| c.dispatch.presence_lease_ms = LEASE_MS).await;
    county.go_online("suu-hh-1").await;
    county.crash_instance(0);
    county.restart_instance(0).await;
    lease_lapsed(&county, "suu-hh-1").await;

    let sent = county
        .submit(dental(pb::Channel::Chat, "after-restart"))
        .await;
    let c = county.case(&sent).await;
    assert_eq!(
        c.status,
        pb::CaseStatus::Queued as i32,
        "not offered to the professional connected before the crash"
    );
    // Reconnecting brings them back: the case is theirs at once.
    county.go_online("suu-hh-1").await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, sent.case_id);
}

#[tokio::test]
async fn a_holder_whose_instance_died_is_shown_to_supervisors_who_can_release_the_case() {
    let mut county = two_instances().await;
    county.go_online_via(1, "suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Phone, "held-1")).await;
    county
        .accept("suu-hh-1", &county.next_offer("suu-hh-1").await)
        .await;
    county.go_online("suu-hh-2").await;
    assert!(county.disconnected_holders("").await.is_empty());

    county.crash_instance(1);
    lease_lapsed(&county, "suu-hh-1").await;
    let listed = county.disconnected_holders("suunterveys").await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(
        (
            listed[0].case_id.as_str(),
            listed[0].professional_id.as_str()
        ),
        (sent.case_id.as_str(), "suu-hh-1")
    );
    // Not requeued on its own: the nurse may be on the phone with the citizen.
    assert_eq!(
        county.case(&sent).await.status,
        pb::CaseStatus::InProgress as i32
    );
    assert!(
        county
            .offer_within("suu-hh-2", Duration::from_millis(500))
            .await
            .is_none()
    );

    let released = county
        .supervisor("duty-1")
        .release_offer(&sent, "desktop gone, nurse not answering")
        .await;
    assert_eq!(released.status, pb::CaseStatus::Offered as i32);
    assert_eq!(released.professional_id, "suu-hh-2");
    assert_eq!(county.next_offer("suu-hh-2").await.case_id, sent.case_id);
    assert!(county.disconnected_holders("").await.is_empty());
    county.accept("suu-hh-2", &sent).await;
    let done = county.complete("suu-hh-2", &sent).await;
    assert_eq!(done.status, pb::CaseStatus::Completed as i32);
}

#[tokio::test]
async fn a_holder_who_reconnects_on_any_instance_keeps_the_case_and_the_flag_clears() {
    let mut county = two_instances().await;
    county.go_online_via(1, "suu-hh-1").await;
    let sent = county.submit(dental(pb::Channel::Phone, "back-1")).await;
    county
        .accept("suu-hh-1", &county.next_offer("suu-hh-1").await)
        .await;
    county.crash_instance(1);
    lease_lapsed(&county, "suu-hh-1").await;
    assert_eq!(county.disconnected_holders("").await.len(), 1);

    county.go_online_via(0, "suu-hh-1").await;
    assert!(county.disconnected_holders("").await.is_empty());
    let err = county
        .supervisor("duty-1")
        .try_release_offer(&sent, "too late")
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    let done = county.complete("suu-hh-1", &sent).await;
    assert_eq!(done.status, pb::CaseStatus::Completed as i32);
    // Back online for routing too: a new case is theirs at once.
    let next = county.submit(dental(pb::Channel::Chat, "back-2")).await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, next.case_id);
}

#[tokio::test]
async fn a_stream_still_open_after_its_lease_lapsed_brings_its_professional_back() {
    let county =
        TestCounty::start_instances_with(1, |c| c.dispatch.presence_lease_ms = LEASE_MS).await;
    county.go_online("suu-hh-1").await;
    // Redis lost the instance for longer than the lease and the sweep took the professional
    // offline, as `lapse` does, while their desktop's stream stayed open.
    let mut redis = county.redis();
    let _: () = redis::pipe()
        .hdel(county.keys().professional("suu-hh-1"), "conn")
        .zrem(county.keys().leases(), "suu-hh-1")
        .query(&mut redis)
        .unwrap();
    let sent = county
        .submit(dental(pb::Channel::Chat, "lapsed-open"))
        .await;
    // The next renewal finds the lease gone and connects the stream again: the queued case is
    // offered to it.
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, sent.case_id);
    let lease: Option<f64> = redis::cmd("ZSCORE")
        .arg(county.keys().leases())
        .arg("suu-hh-1")
        .query(&mut redis)
        .unwrap();
    assert!(lease.is_some(), "leased again");
}

#[tokio::test]
async fn a_connection_recorded_before_leases_existed_lapses_after_a_restart() {
    let mut county =
        TestCounty::start_instances_with(1, |c| c.dispatch.presence_lease_ms = LEASE_MS).await;
    county.go_online("suu-hh-1").await;
    county.crash_instance(0);
    // As an older Luotsi left it: connected, with no lease.
    let _: () = redis::cmd("ZREM")
        .arg(county.keys().leases())
        .arg("suu-hh-1")
        .query(&mut county.redis())
        .unwrap();
    county.restart_instance(0).await;
    lease_lapsed(&county, "suu-hh-1").await;
    let conn: Option<String> = redis::cmd("HGET")
        .arg(county.keys().professional("suu-hh-1"))
        .arg("conn")
        .query(&mut county.redis())
        .unwrap();
    assert_eq!(conn, None, "taken offline");
    let sent = county.submit(dental(pb::Channel::Chat, "old-ghost")).await;
    assert_eq!(
        county.case(&sent).await.status,
        pb::CaseStatus::Queued as i32
    );
}

#[tokio::test]
async fn a_case_queued_before_the_list_of_waiting_sub_queues_is_offered_when_someone_connects() {
    let county = TestCounty::start().await;
    let case = county
        .submit(dental(pb::Channel::EService, "listless-1"))
        .await;
    assert_eq!(case.status, pb::CaseStatus::Queued as i32);
    // As a version before `waiting:<team>` left it: the case is queued, its sub-queue unlisted.
    let _: () = redis::cmd("DEL")
        .arg(county.keys().waiting(&case.team_id))
        .query(&mut county.redis())
        .unwrap();
    county.go_online("suu-hh-1").await;
    assert_eq!(county.next_offer("suu-hh-1").await.case_id, case.case_id);
}
