//! Language rights: a citizen is served in their language when someone can; otherwise, after
//! the language wait, by anyone who fits, with an interpreter flag.

use std::time::{Duration, Instant};

use luotsi::pb;

use crate::county::TestCounty;
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
    let county = TestCounty::start().await;
    // suu-hh-1 speaks Finnish only; suu-hh-2 Finnish and Swedish.
    let (finnish_only, bilingual) = ("suu-hh-1", "suu-hh-2");
    county.go_online(finnish_only).await;
    county.go_online(bilingual).await;
    let sent = county.submit(in_swedish("sv-1")).await;
    // The Swedish speaker gets it.
    let o = county.next_offer(bilingual).await;
    assert_eq!(o.case_id, sent.case_id);
    assert_eq!(o.language, "sv");
    assert!(!o.interpreter_needed);
    assert!(
        county
            .offer_within(finnish_only, Duration::from_millis(300))
            .await
            .is_none()
    );
    // A Finnish contact still goes to the less loaded colleague.
    let fi = county.submit(dental(pb::Channel::Chat, "fi-1")).await;
    let o = county.next_offer(finnish_only).await;
    assert_eq!(o.case_id, fi.case_id);
}

#[tokio::test]
async fn without_a_speaker_the_case_waits_then_goes_with_an_interpreter_flag() {
    let county = TestCounty::start_with(|c| c.routing.language_wait_secs = 1).await;
    let finnish_only = "suu-hh-1";
    county.go_online(finnish_only).await;
    let started = Instant::now();
    let sent = county.submit(in_swedish("sv-2")).await;
    assert_eq!(
        sent.status,
        pb::CaseStatus::Queued as i32,
        "no Swedish speaker free: it waits"
    );
    // Offered after the wait.
    let o = county.next_offer(finnish_only).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "not before the language wait ran out"
    );
    assert_eq!(o.case_id, sent.case_id);
    assert!(o.interpreter_needed);
    let taken = county.accept(finnish_only, &o).await;
    assert!(taken.interpreter_needed);
}

#[tokio::test]
async fn a_speaker_coming_online_during_the_wait_takes_the_case() {
    let county = TestCounty::start().await; // default wait: minutes
    let (finnish_only, bilingual) = ("suu-hh-1", "suu-hh-2");
    county.go_online(finnish_only).await;
    let sent = county.submit(in_swedish("sv-3")).await;
    assert!(
        county
            .offer_within(finnish_only, Duration::from_millis(300))
            .await
            .is_none()
    );
    county.go_online(bilingual).await;
    // Pulled by the speaker.
    let o = county.next_offer(bilingual).await;
    assert_eq!(o.case_id, sent.case_id);
    assert!(!o.interpreter_needed);
}

/// GetStats: of the Swedish contacts answered, how many in Swedish and how many with an
/// interpreter; Finnish ones counted apart.
#[tokio::test]
async fn get_stats_reports_language_fulfilment() {
    let county = TestCounty::start_with(|c| c.routing.language_wait_secs = 1).await;
    // A Finnish-only dental nurse alone: the Swedish chat waits, then goes with an interpreter.
    county.go_online("suu-hh-1").await;
    let first = county.submit(in_swedish("lf-1")).await;
    let o = county.next_offer("suu-hh-1").await;
    assert_eq!(o.case_id, first.case_id);
    assert!(o.interpreter_needed);
    county.accept("suu-hh-1", &first).await;
    // A Swedish speaker comes: the next Swedish chat is answered in Swedish.
    county.go_online("suu-hh-2").await;
    let second = county.submit(in_swedish("lf-2")).await;
    assert_eq!(county.next_offer("suu-hh-2").await.case_id, second.case_id);
    county.accept("suu-hh-2", &second).await;
    county.set_presence("suu-hh-1", pb::Presence::OnBreak).await;
    let fi = county.submit(dental(pb::Channel::EService, "lf-3")).await;
    assert_eq!(county.next_offer("suu-hh-2").await.case_id, fi.case_id);
    county.accept("suu-hh-2", &fi).await;

    let s = county.county_stats().await;
    let sv = &s.language_fulfilment["sv"];
    assert_eq!(
        (sv.first_responses, sv.in_own_language, sv.with_interpreter),
        (2, 1, 1),
        "{s:?}"
    );
    assert!((sv.share_in_own_language - 0.5).abs() < 1e-9);
    assert_eq!(s.language_fulfilment["fi"].in_own_language, 1, "{s:?}");
}
