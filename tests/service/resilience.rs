//! Restarts: of the service, and of Redis. Nothing is lost.

use std::time::Duration;

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

#[tokio::test]
async fn a_service_restart_loses_nothing() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut contact = svc.contact().await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            contact
                .submit_contact(dental(pb::Channel::EService, &format!("svc-{i}")))
                .await
                .unwrap()
                .into_inner()
                .case_id,
        );
    }
    // One case is on offer when the service goes away.
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let offered = next_offer(&mut offers, Duration::from_secs(5))
        .await
        .expect("offered");
    drop(offers);
    svc.stop().await;

    let svc = Luotsi::start(&redis).await;
    for id in &ids {
        let c = case(&svc, id).await;
        assert!(
            c.status == pb::CaseStatus::Queued as i32 || c.status == pb::CaseStatus::Offered as i32,
            "{id} is still there"
        );
    }
    // The new instance's professional gets all five, including the one that was on offer.
    let mut offers = go_online(&svc, "suu-hh-2").await;
    let mut got = Vec::new();
    while got.len() < 5 {
        let o = next_offer(&mut offers, Duration::from_secs(40))
            .await
            .expect("every case comes back");
        got.push(o.case_id);
    }
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(got.contains(&offered.case_id));
    svc.stop().await;
}

#[tokio::test]
async fn a_redis_restart_loses_nothing_and_the_service_recovers() {
    let mut redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut contact = svc.contact().await;
    let before = contact
        .submit_contact(dental(pb::Channel::Chat, "r-1"))
        .await
        .unwrap()
        .into_inner();
    redis.restart();
    // The connection comes back by itself; calls during the gap may be UNAVAILABLE.
    let mut after = None;
    for _ in 0..50 {
        match contact
            .submit_contact(dental(pb::Channel::Chat, "r-2"))
            .await
        {
            Ok(a) => {
                after = Some(a.into_inner());
                break;
            }
            Err(s) => assert_eq!(s.code(), tonic::Code::Unavailable, "{s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = after.expect("submitting works again after the restart");
    assert_eq!(
        case(&svc, &before.case_id).await.status,
        pb::CaseStatus::Queued as i32
    );
    assert_eq!(depth(&svc, "suunterveys").await, 2);
    // Offers flow again: the event subscription was re-established.
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let a = next_offer(&mut offers, Duration::from_secs(5))
        .await
        .expect("first");
    let b = next_offer(&mut offers, Duration::from_secs(5))
        .await
        .expect("second");
    let mut got = vec![a.case_id, b.case_id];
    got.sort();
    let mut want = vec![before.case_id, after.case_id];
    want.sort();
    assert_eq!(got, want);
    // A contact submitted after the professional came online is pushed at once.
    let third = contact
        .submit_contact(dental(pb::Channel::EService, "r-3"))
        .await
        .unwrap()
        .into_inner();
    let c = next_offer(&mut offers, Duration::from_secs(5))
        .await
        .expect("third");
    assert_eq!(c.case_id, third.case_id);
    svc.stop().await;
}
