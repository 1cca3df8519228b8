//! Language rights: a citizen is served in their language when someone can; otherwise, after
//! the language wait, by anyone who fits, with an interpreter flag.

use std::time::{Duration, Instant};

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

fn in_swedish(key: &str) -> pb::SubmitContactRequest {
    let mut req = contact(
        pb::Channel::Chat,
        key,
        "Jag har haft tandvärk i tre dagar, kan någon hjälpa mig?",
        "oral_health",
        "Joensuu",
    );
    req.citizen.as_mut().unwrap().language = "sv".into();
    req
}

#[tokio::test]
async fn a_swedish_speaker_is_offered_to_swedish_speaking_staff_first() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    // suu-hh-1 speaks Finnish only; suu-hh-2 Finnish and Swedish.
    let mut finnish_only = go_online(&svc, "suu-hh-1").await;
    let mut bilingual = go_online(&svc, "suu-hh-2").await;
    let mut contact = svc.contact().await;
    let sent = contact
        .submit_contact(in_swedish("sv-1"))
        .await
        .unwrap()
        .into_inner();
    let o = next_offer(&mut bilingual, Duration::from_secs(5))
        .await
        .expect("the Swedish speaker gets it");
    assert_eq!(o.case_id, sent.case_id);
    assert_eq!(o.language, "sv");
    assert!(!o.interpreter_needed);
    assert!(
        next_offer(&mut finnish_only, Duration::from_millis(300))
            .await
            .is_none()
    );
    // A Finnish contact still goes to the less loaded colleague.
    let fi = contact
        .submit_contact(dental(pb::Channel::Chat, "fi-1"))
        .await
        .unwrap()
        .into_inner();
    let o = next_offer(&mut finnish_only, Duration::from_secs(5))
        .await
        .expect("Finnish to either");
    assert_eq!(o.case_id, fi.case_id);
    svc.stop().await;
}

#[tokio::test]
async fn without_a_speaker_the_case_waits_then_goes_with_an_interpreter_flag() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.routing.language_wait_secs = 1).await;
    let mut finnish_only = go_online(&svc, "suu-hh-1").await;
    let mut contact = svc.contact().await;
    let started = Instant::now();
    let sent = contact
        .submit_contact(in_swedish("sv-2"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        sent.status,
        pb::CaseStatus::Queued as i32,
        "no Swedish speaker free: it waits"
    );
    let o = next_offer(&mut finnish_only, Duration::from_secs(5))
        .await
        .expect("offered after the wait");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the language wait ran out"
    );
    assert_eq!(o.case_id, sent.case_id);
    assert!(o.interpreter_needed);
    let taken = svc
        .work()
        .await
        .accept_offer(pb::AcceptOfferRequest {
            professional_id: "suu-hh-1".into(),
            case_id: o.case_id,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(taken.interpreter_needed);
    svc.stop().await;
}

#[tokio::test]
async fn a_speaker_coming_online_during_the_wait_takes_the_case() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await; // default wait: minutes
    let mut finnish_only = go_online(&svc, "suu-hh-1").await;
    let mut contact = svc.contact().await;
    let sent = contact
        .submit_contact(in_swedish("sv-3"))
        .await
        .unwrap()
        .into_inner();
    assert!(
        next_offer(&mut finnish_only, Duration::from_millis(300))
            .await
            .is_none()
    );
    let mut bilingual = go_online(&svc, "suu-hh-2").await;
    let o = next_offer(&mut bilingual, Duration::from_secs(5))
        .await
        .expect("pulled by the speaker");
    assert_eq!(o.case_id, sent.case_id);
    assert!(!o.interpreter_needed);
    svc.stop().await;
}
