//! One contact from submission to a professional, per channel; watching it; joining; cancelling.

use std::time::Duration;

use luotsi::pb;

use crate::county::{TestCounty, WAIT};
use crate::support::*;

#[tokio::test]
async fn whole_flow_for_every_channel() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;

    for (i, channel) in [pb::Channel::Phone, pb::Channel::Chat, pb::Channel::EService]
        .into_iter()
        .enumerate()
    {
        let mut req = dental(channel, &format!("flow-{i}"));
        req.citizen.as_mut().unwrap().callback_number = "040 123 4567".into();
        let answer = county.submit(req).await;
        assert_eq!(answer.team_id, "suunterveys", "{channel:?}");
        assert_eq!(answer.queue, channel_queue(channel));
        // A professional was waiting: the case was offered in the same step that recorded it.
        assert_eq!(answer.status, pb::CaseStatus::Offered as i32);
        assert_eq!(answer.estimated_wait.map(|d| d.seconds), Some(0));
        assert!(!answer.call_emergency_number);
        let class = answer.classification.as_ref().expect("classification");
        assert_eq!(class.needs[0].need, "oral_health");
        assert!(
            !class.evidence.is_empty(),
            "every classification carries evidence"
        );
        assert!(answer.deadline.is_some() && answer.estimated_wait.is_some());

        let mut watch = county.watch(&answer).await;

        let offer = county.next_offer("suu-hh-1").await;
        assert_eq!(offer.case_id, answer.case_id);
        assert_eq!(offer.channel, channel as i32);

        let taken = county.accept("suu-hh-1", &offer).await;
        assert_eq!(taken.status, pb::CaseStatus::InProgress as i32);
        assert_eq!(
            taken.callback_number, "+358401234567",
            "the holder sees the number"
        );
        assert!(
            taken.citizen_text.contains("särkee"),
            "the holder sees the text"
        );
        // Nobody else sees them.
        let public = county.case(&answer).await;
        assert!(public.callback_number.is_empty() && public.citizen_text.is_empty());

        let done = county.complete("suu-hh-1", &offer).await;
        assert_eq!(done.status, pb::CaseStatus::Completed as i32);
        assert_eq!(done.outcome, pb::Outcome::ResolvedAtFirstContact as i32);

        // The watcher saw every step, in order, and the stream ended at completion.
        let mut seen = Vec::new();
        while let Ok(Ok(Some(u))) = tokio::time::timeout(WAIT, watch.message()).await {
            if seen.last() != Some(&u.status) {
                seen.push(u.status);
            }
        }
        // The stream opens with the current status (queued, or offered if the offer was quick).
        assert!(seen[0] <= pb::CaseStatus::Offered as i32, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order: {seen:?}");
        assert_eq!(
            seen.last(),
            Some(&(pb::CaseStatus::Completed as i32)),
            "{seen:?}"
        );
        assert!(
            seen.contains(&(pb::CaseStatus::InProgress as i32)),
            "{seen:?}"
        );

        // Free text and number are erased when the case closes.
        let mut r = county.redis();
        for key in [
            county.keys().case(&answer.case_id),
            county.keys().case_words(&answer.case_id),
        ] {
            let text: Option<String> = redis::cmd("HGET")
                .arg(&key)
                .arg("text")
                .query(&mut r)
                .unwrap();
            let number: Option<String> = redis::cmd("HGET")
                .arg(&key)
                .arg("callback_number")
                .query(&mut r)
                .unwrap();
            assert_eq!((text, number), (None, None));
        }
    }
    assert_eq!(county.depth("suunterveys").await, 0);
}

fn channel_queue(c: pb::Channel) -> &'static str {
    match c {
        pb::Channel::Phone => "phone",
        pb::Channel::Chat => "chat",
        _ => "e_service",
    }
}

#[tokio::test]
async fn retry_with_the_same_key_returns_the_first_answer() {
    let county = TestCounty::start().await;
    let first = county
        .submit(dental(pb::Channel::EService, "same-key"))
        .await;
    let keys_after_first = county.dbsize();
    for _ in 0..3 {
        let again = county
            .submit(dental(pb::Channel::EService, "same-key"))
            .await;
        assert_eq!(again.contact_id, first.contact_id);
        assert_eq!(again.case_id, first.case_id);
        assert_eq!(again.team_id, first.team_id);
        assert_eq!(again.deadline, first.deadline);
        assert_eq!(again.classification, first.classification);
        assert!(!again.joined_existing_case);
    }
    assert_eq!(county.dbsize(), keys_after_first, "a retry writes nothing");
    assert_eq!(county.depth("suunterveys").await, 1);
}

#[tokio::test]
async fn a_second_contact_about_the_same_need_joins_the_open_case() {
    let county = TestCounty::start().await;
    let citizen = |phone: &str| {
        Some(pb::Citizen {
            identity_code: "131052-308T".into(),
            callback_number: phone.into(),
            municipality: "Joensuu".into(),
            language: "fi".into(),
            ..Default::default()
        })
    };
    let mut by_phone = dental(pb::Channel::Phone, "join-1");
    by_phone.citizen = citizen("0401234567");
    let first = county.submit(by_phone).await;
    let mut by_e_service = dental(pb::Channel::EService, "join-2");
    by_e_service.citizen = citizen("");
    let second = county.submit(by_e_service).await;
    assert!(second.joined_existing_case);
    assert_eq!(second.case_id, first.case_id);
    assert_ne!(second.contact_id, first.contact_id);
    assert_eq!(
        county.depth("suunterveys").await,
        1,
        "no second queue entry"
    );
    let c = county.case(&first).await;
    assert_eq!(c.contact_ids.len(), 2);

    // The identity code is never stored in clear.
    for (k, dump) in county.stored() {
        assert!(!k.contains("131052"), "{k}");
        assert!(
            !String::from_utf8_lossy(&dump).contains("131052-308T"),
            "{k} holds the identity code"
        );
    }

    // Withdrawing one contact keeps the case for the other; withdrawing both cancels it.
    let after_one = county.cancel_contact(&first.contact_id).await;
    assert_eq!(after_one.status, pb::CaseStatus::Queued as i32);
    let after_both = county.cancel_contact(&second.contact_id).await;
    assert_eq!(after_both.status, pb::CaseStatus::Cancelled as i32);
    assert_eq!(county.depth("suunterveys").await, 0);
    // Withdrawing again is harmless.
    county.cancel_contact(&second.contact_id).await;

    // A new contact after the case closed opens a new case.
    let mut later = dental(pb::Channel::Chat, "join-3");
    later.citizen = citizen("");
    let third = county.submit(later).await;
    assert!(!third.joined_existing_case);
    assert_ne!(third.case_id, first.case_id);
}

#[tokio::test]
async fn an_emergency_tells_the_citizen_to_call_112_and_reaches_a_busy_professional() {
    let county = TestCounty::start().await;
    county.go_online("jns-sh-3").await;
    // Fill the nurse's only phone slot.
    let routine = county
        .submit(contact_req(
            pb::Channel::Phone,
            "em-1",
            "Tarvitsisin reseptin uusinnan verenpainelääkkeelle.",
            "medication",
        ))
        .await;
    let o = county.next_offer("jns-sh-3").await;
    assert_eq!(o.case_id, routine.case_id);
    county.accept("jns-sh-3", &o).await;

    let emergency = county
        .submit(contact_req(
            pb::Channel::Phone,
            "em-2",
            "Isällä kova rintakipu ja hän hikoilee",
            "",
        ))
        .await;
    assert!(emergency.call_emergency_number);
    assert!(emergency.citizen_message.contains("112"));
    assert_eq!(emergency.queue, "alert");
    let c = emergency.classification.unwrap();
    assert_eq!(c.urgency, pb::Urgency::Emergency as i32);
    assert!(!c.red_flags.is_empty());
    // The emergency reaches the busy nurse at once.
    let o = county.next_offer("jns-sh-3").await;
    assert_eq!(o.case_id, emergency.case_id);
    assert_eq!(o.urgency, pb::Urgency::Emergency as i32);
}

fn contact_req(
    channel: pb::Channel,
    key: &str,
    text: &str,
    form: &str,
) -> pb::SubmitContactRequest {
    contact(channel, key, text, form, "Joensuu")
}

#[tokio::test]
async fn health_is_serving() {
    let county = TestCounty::start().await;
    for service in ["", "luotsi.v1.ContactService", "luotsi.v1.WorkService"] {
        assert_eq!(
            county.health(service).await,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }
}

#[tokio::test]
async fn an_emergency_in_a_team_with_nobody_connected_reaches_a_clinician_of_another_team() {
    let county = TestCounty::start().await;
    // Nobody of the northern team (Lieksa) is online; a Joensuu nurse is.
    county.go_online("jns-sh-1").await;
    let mut req = contact_req(
        pb::Channel::Chat,
        "em-far",
        "Äidillä on kova rintakipu ja hän hikoilee",
        "acute_symptoms",
    );
    req.citizen.as_mut().unwrap().municipality = "Lieksa".into();
    let sent = county.submit(req).await;
    assert_eq!(sent.team_id, "pohjoinen");
    assert!(sent.call_emergency_number);
    // Offered across teams at once.
    let o = county.next_offer("jns-sh-1").await;
    assert_eq!(o.case_id, sent.case_id);
    let c = county.case(&sent).await;
    assert!(
        c.routing_reasons
            .iter()
            .any(|r| r.contains("offered to team joensuu-keskus")),
        "{:?}",
        c.routing_reasons
    );

    // With nobody connected at all, it waits in the alert queue and the first clinician of any
    // team who comes online takes it before any other work.
    let mut req = contact_req(
        pb::Channel::Phone,
        "em-none",
        "Isä on tajuton eikä herää",
        "acute_symptoms",
    );
    req.citizen.as_mut().unwrap().municipality = "Kitee".into();
    county.disconnect("jns-sh-1");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let routine = county
        .submit(contact_req(
            pb::Channel::EService,
            "routine-first",
            "Reseptin uusinta",
            "medication",
        ))
        .await;
    let waiting = county.submit(req).await;
    assert_eq!(waiting.status, pb::CaseStatus::Queued as i32);
    county.go_online("jns-lk-1").await;
    // The first emergency came back when its nurse's stream dropped: both emergencies, oldest
    // first, are offered before the routine case that arrived earlier than the second.
    let first = county.next_offer("jns-lk-1").await;
    let second = county.next_offer("jns-lk-1").await;
    assert_eq!(
        (first.case_id, second.case_id),
        (sent.case_id.clone(), waiting.case_id.clone())
    );
    let third = county.next_offer("jns-lk-1").await;
    assert_eq!(third.case_id, routine.case_id);
}
