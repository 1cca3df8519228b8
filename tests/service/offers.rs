//! Offers are reservations: they expire, they come back when a stream drops or a professional
//! declines, and a case is never held by two professionals.

use std::time::{Duration, Instant};

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_unanswered_offer_expires_back_to_the_head_of_its_queue() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.routing.offer_timeout_secs = 1).await;
    let mut contact = svc.contact().await;
    let first = contact
        .submit_contact(dental(pb::Channel::EService, "exp-1"))
        .await
        .unwrap()
        .into_inner();
    let second = contact
        .submit_contact(dental(pb::Channel::EService, "exp-2"))
        .await
        .unwrap()
        .into_inner();
    // Only one slot, so only the head is offered.
    let mut work = svc.work().await;
    work.set_presence(pb::SetPresenceRequest {
        professional_id: "suu-hh-1".into(),
        presence: pb::Presence::Available as i32,
        capacities: vec![pb::ChannelCapacity {
            channel: pb::Channel::EService as i32,
            capacity: 1,
        }],
    })
    .await
    .unwrap();
    let mut offers = work
        .offers(pb::OffersRequest {
            professional_id: "suu-hh-1".into(),
        })
        .await
        .unwrap()
        .into_inner();

    let o = next_offer(&mut offers, WAIT).await.expect("offered");
    assert_eq!(o.case_id, first.case_id, "the earliest deadline goes first");
    // The desktop is told the expiry Redis enforces.
    let stored: i64 = redis::cmd("ZSCORE")
        .arg("lu:{siun-sote}:offers")
        .arg(&first.case_id)
        .query(&mut redis.conn())
        .unwrap();
    let told = o.expires_at.unwrap();
    assert_eq!(
        told.seconds * 1000 + i64::from(told.nanos / 1_000_000),
        stored
    );
    let offered_at = Instant::now();
    assert_eq!(
        case(&svc, &first.case_id).await.status,
        pb::CaseStatus::Offered as i32
    );
    // Not accepted: it expires, returns ahead of the second case, and is offered again.
    let again = next_offer(&mut offers, WAIT)
        .await
        .expect("offered again after expiry");
    assert_eq!(again.case_id, first.case_id);
    assert!(
        offered_at.elapsed() >= Duration::from_millis(900),
        "not before the expiry"
    );
    let stored: i64 = redis::cmd("HGET")
        .arg(format!("lu:{{siun-sote}}:case:{}", first.case_id))
        .arg("requeues")
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(
        case(&svc, &second.case_id).await.status,
        pb::CaseStatus::Queued as i32
    );
    svc.stop().await;
}

#[tokio::test]
async fn accepting_an_expired_offer_is_refused() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.routing.offer_timeout_secs = 1).await;
    let mut contact = svc.contact().await;
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let sent = contact
        .submit_contact(dental(pb::Channel::Chat, "late"))
        .await
        .unwrap()
        .into_inner();
    let o = next_offer(&mut offers, WAIT).await.expect("offered");
    assert_eq!(o.case_id, sent.case_id);
    // Go on break so it is not simply offered again, then wait past expiry.
    let mut work = svc.work().await;
    work.set_presence(pb::SetPresenceRequest {
        professional_id: "suu-hh-1".into(),
        presence: pb::Presence::OnBreak as i32,
        capacities: vec![],
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let err = work
        .accept_offer(pb::AcceptOfferRequest {
            professional_id: "suu-hh-1".into(),
            case_id: o.case_id,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    assert_eq!(
        case(&svc, &sent.case_id).await.status,
        pb::CaseStatus::Queued as i32
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_dropped_offers_stream_returns_the_case_to_a_colleague() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut contact = svc.contact().await;
    let mut first = go_online(&svc, "suu-hh-1").await;
    let sent = contact
        .submit_contact(dental(pb::Channel::Phone, "drop"))
        .await
        .unwrap()
        .into_inner();
    let o = next_offer(&mut first, WAIT)
        .await
        .expect("offered to the first");
    assert_eq!(o.case_id, sent.case_id);
    let mut colleague = go_online(&svc, "suu-hh-2").await;
    drop(first); // the desktop lost its connection
    let o = next_offer(&mut colleague, WAIT)
        .await
        .expect("the colleague gets it");
    assert_eq!(o.case_id, sent.case_id);
    let c = case(&svc, &sent.case_id).await;
    assert_eq!(
        (c.status, c.professional_id.as_str()),
        (pb::CaseStatus::Offered as i32, "suu-hh-2")
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_declined_case_goes_to_someone_else_not_back_to_the_decliner() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut contact = svc.contact().await;
    let mut work = svc.work().await;
    let mut first = go_online(&svc, "suu-hh-1").await;
    let sent = contact
        .submit_contact(dental(pb::Channel::Chat, "decline"))
        .await
        .unwrap()
        .into_inner();
    let o = next_offer(&mut first, WAIT).await.expect("offered");
    work.decline_offer(pb::DeclineOfferRequest {
        professional_id: "suu-hh-1".into(),
        case_id: o.case_id.clone(),
        reason: "language".into(),
    })
    .await
    .unwrap();
    assert!(
        next_offer(&mut first, Duration::from_millis(500))
            .await
            .is_none(),
        "not offered back to the decliner"
    );
    let mut second = go_online(&svc, "suu-hh-2").await;
    let o2 = next_offer(&mut second, WAIT)
        .await
        .expect("offered to a colleague");
    assert_eq!(o2.case_id, sent.case_id);
    // The decliner cannot take it any more.
    let err = work
        .accept_offer(pb::AcceptOfferRequest {
            professional_id: "suu-hh-1".into(),
            case_id: sent.case_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);
    svc.stop().await;
}
