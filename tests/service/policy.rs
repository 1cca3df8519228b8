//! Routing policy scenarios, told as a county would tell them — against real Redis.

use std::time::Duration;

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::{case, contact, cough, go_online, next_offer, submit};

const WAIT: Duration = Duration::from_secs(5);

fn with_citizen(mut r: pb::SubmitContactRequest, hetu: &str) -> pb::SubmitContactRequest {
    r.citizen.as_mut().unwrap().identity_code = hetu.into();
    r
}

async fn take_and_complete(
    svc: &Luotsi,
    offers: &mut tonic::Streaming<pb::Offer>,
    pro: &str,
    expect_case: &str,
) {
    let offer = next_offer(offers, WAIT).await.expect("an offer");
    assert_eq!(offer.case_id, expect_case);
    let mut work = svc.work().await;
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: pro.into(),
        case_id: offer.case_id.clone(),
    })
    .await
    .unwrap();
    work.complete_case(pb::CompleteCaseRequest {
        professional_id: pro.into(),
        case_id: offer.case_id,
        outcome: pb::Outcome::ResolvedAtFirstContact as i32,
    })
    .await
    .unwrap();
}

/// Matti writes about his tooth, then calls about the same tooth, then asks about his blood
/// pressure medicine. Liisa calls about her tooth, is helped, and calls again the same afternoon
/// about the same tooth. The county then asks how "one contact is enough" held.
#[tokio::test]
async fn one_contact_is_enough_is_measured_joins_links_and_recontacts() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let matti = "131052-308T";
    let liisa = "010101A123N";
    let tooth = |ch, key: &str| {
        contact(
            ch,
            key,
            "Hammasta särkee, voisiko joku soittaa?",
            "oral_health",
            "Joensuu",
        )
    };
    let first = submit(
        &svc,
        with_citizen(tooth(pb::Channel::EService, "m-1"), matti),
    )
    .await;
    let again = submit(&svc, with_citizen(tooth(pb::Channel::Phone, "m-2"), matti)).await;
    assert!(again.joined_existing_case);
    assert_eq!(again.case_id, first.case_id);
    let medicine = submit(
        &svc,
        with_citizen(
            contact(
                pb::Channel::EService,
                "m-3",
                "Verenpainelääkkeen resepti pitäisi uusia",
                "medication",
                "Joensuu",
            ),
            matti,
        ),
    )
    .await;
    assert_ne!(
        medicine.case_id, first.case_id,
        "a different need: its own case"
    );
    // Linked both ways, so each professional sees the whole picture.
    assert_eq!(
        case(&svc, &medicine.case_id).await.linked_case_ids,
        std::slice::from_ref(&first.case_id)
    );
    assert_eq!(
        case(&svc, &first.case_id).await.linked_case_ids,
        std::slice::from_ref(&medicine.case_id)
    );

    let mut offers = go_online(&svc, "suu-hh-1").await;
    take_and_complete(&svc, &mut offers, "suu-hh-1", &first.case_id).await;
    let l1 = submit(&svc, with_citizen(tooth(pb::Channel::Phone, "l-1"), liisa)).await;
    take_and_complete(&svc, &mut offers, "suu-hh-1", &l1.case_id).await;
    let l2 = submit(&svc, with_citizen(tooth(pb::Channel::Phone, "l-2"), liisa)).await;
    assert!(!l2.joined_existing_case, "the first case is closed");
    let l2_case = case(&svc, &l2.case_id).await;
    assert!(l2_case.recontact);
    assert!(
        l2_case
            .routing_reasons
            .iter()
            .any(|r| r.starts_with("re-contact")),
        "{:?}",
        l2_case.routing_reasons
    );

    let stats = svc
        .supervisor()
        .await
        .get_stats(pb::GetStatsRequest {
            team_id: "suunterveys".into(),
            from: None,
            to: None,
        })
        .await
        .expect("stats")
        .into_inner();
    assert_eq!(
        stats.contacts, 4,
        "Matti's two about the tooth, Liisa's two"
    );
    assert_eq!(stats.joined_contacts, 1);
    assert_eq!(stats.cases, 3);
    assert_eq!(
        stats.recontacts_within_7_days, 2,
        "one join, one re-contact"
    );
    assert_eq!(stats.completed, 2);
    assert_eq!(
        stats.resolved_with_one_contact, 1,
        "Matti's case took two contacts"
    );
    assert!((stats.one_contact_share - 0.5).abs() < 1e-9);
    assert_eq!(
        stats.deadlines_met + stats.deadlines_missed,
        2,
        "two cases taken"
    );
    assert_eq!(stats.deadlines_met, 2);
    assert!(stats.first_response_median.is_some() && stats.first_response_p90.is_some());
    assert_eq!(stats.outcomes["resolved_at_first_contact"], 2);
    // The county's view includes Matti's medicine case, in another team.
    let county = svc
        .supervisor()
        .await
        .get_stats(pb::GetStatsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(county.contacts, 5);
    assert_eq!(county.cases, 4);
    drop(offers);
    svc.stop().await;
}

/// Aino's own nurse is Jenni (jns-sh-2). Aino writes about a rash: the case waits for Jenni even
/// though Sari (jns-sh-1) is free; when Jenni does not come online within the continuity wait,
/// Sari gets it, and the reasons say why.
#[tokio::test]
async fn the_own_nurse_first_then_a_colleague_after_the_continuity_wait() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.routing.continuity_wait_secs = 2).await;
    let mut sari = go_online(&svc, "jns-sh-1").await;
    let mut req = contact(
        pb::Channel::EService,
        "own-1",
        "Minulle on tullut ihottumaa käsivarsiin, kutisee kovasti",
        "acute_symptoms",
        "Joensuu",
    );
    req.citizen.as_mut().unwrap().own_professional_id = "jns-sh-2".into();
    let c = submit(&svc, req).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    assert_eq!(c.status, pb::CaseStatus::Queued as i32, "waits for Jenni");
    assert!(
        next_offer(&mut sari, Duration::from_millis(1200))
            .await
            .is_none(),
        "not offered to a colleague during the continuity wait"
    );
    let offer = next_offer(&mut sari, WAIT)
        .await
        .expect("to a colleague after the wait");
    assert_eq!(offer.case_id, c.case_id);
    let reasons = case(&svc, &c.case_id).await.routing_reasons.join("\n");
    assert!(
        reasons.contains("continuity: offered first to own professional jns-sh-2"),
        "{reasons}"
    );
    drop(sari);
    svc.stop().await;
}

/// The same, but Jenni is online: she gets it at once, though Sari is less loaded.
#[tokio::test]
async fn the_own_nurse_who_is_online_gets_the_case_at_once() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut sari = go_online(&svc, "jns-sh-1").await;
    let mut jenni = go_online(&svc, "jns-sh-2").await;
    let mut req = contact(
        pb::Channel::EService,
        "own-2",
        "Minulle on tullut ihottumaa käsivarsiin, kutisee kovasti",
        "acute_symptoms",
        "Joensuu",
    );
    req.citizen.as_mut().unwrap().own_professional_id = "jns-sh-2".into();
    let c = submit(&svc, req).await;
    let offer = next_offer(&mut jenni, WAIT).await.expect("Jenni's");
    assert_eq!(offer.case_id, c.case_id);
    assert!(
        next_offer(&mut sari, Duration::from_millis(300))
            .await
            .is_none()
    );
    drop((sari, jenni));
    svc.stop().await;
}

/// A citizen of Lieksa whose own team is the Joensuu station is routed there, not to the
/// northern area team that serves Lieksa.
#[tokio::test]
async fn the_own_team_is_chosen_over_the_area_team() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut req = contact(
        pb::Channel::EService,
        "own-team-1",
        "Verenpaine on ollut koholla kotimittauksissa",
        "acute_symptoms",
        "Lieksa",
    );
    let area = submit(&svc, req.clone()).await;
    assert_eq!(area.team_id, "pohjoinen");
    req.idempotency_key = "own-team-2".into();
    req.citizen.as_mut().unwrap().own_team_id = "joensuu-keskus".into();
    let own = submit(&svc, req).await;
    assert_eq!(own.team_id, "joensuu-keskus");
    let reasons = case(&svc, &own.case_id).await.routing_reasons;
    assert!(
        reasons[0].contains("continuity, the citizen's own team"),
        "{reasons:?}"
    );
    svc.stop().await;
}

/// Nobody of the Joensuu station is online. After the first overflow wait the case moves to
/// another team, where a nurse is online and gets it; the step is on the case.
#[tokio::test]
async fn an_untaken_case_overflows_to_another_team_and_the_step_is_recorded() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.routing.overflow_after_secs = vec![1, 1]).await;
    let c = submit(&svc, cough(pb::Channel::EService, "ovf-1")).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    let mut pohjoinen = go_online(&svc, "poh-sh-1").await;
    let offer = next_offer(&mut pohjoinen, WAIT)
        .await
        .expect("offered in another team after the overflow wait");
    assert_eq!(offer.case_id, c.case_id);
    assert_ne!(offer.team_id, "joensuu-keskus");
    let moved = case(&svc, &c.case_id).await;
    assert!(
        moved
            .routing_reasons
            .iter()
            .any(|r| r.starts_with("overflow: nobody in team joensuu-keskus took it")),
        "{:?}",
        moved.routing_reasons
    );
    drop(pohjoinen);
    svc.stop().await;
}

/// Outside the Sámi homeland a North Sámi speaker is served in Finnish; in Inari, Sámi-speaking
/// staff come first and a Finnish-only nurse does not get the case during the language wait.
#[tokio::test]
async fn a_sami_speaker_in_inari_goes_to_sami_speaking_staff_first() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| {
        c.county.municipalities.push("Inari".into());
        let mut team = c.county.team("pohjoinen").unwrap().clone();
        team.id = "inari".into();
        team.name = "Inarin tiimi".into();
        team.municipalities = vec!["Inari".into()];
        team.languages.push(luotsi::domain::Language::NorthSami);
        team.members.truncate(2); // two nurses
        for (i, m) in team.members.iter_mut().enumerate() {
            m.id = format!("ina-sh-{}", i + 1);
        }
        team.members[1]
            .languages
            .push(luotsi::domain::Language::NorthSami);
        c.county.teams.push(team);
    })
    .await;
    let sami = |key: &str, municipality: &str| {
        let mut r = contact(
            pb::Channel::EService,
            key,
            "Kysyisin rokotusajasta",
            "acute_symptoms",
            municipality,
        );
        r.citizen.as_mut().unwrap().language = "se".into();
        r
    };
    let joensuu = submit(&svc, sami("se-1", "Joensuu")).await;
    let c = case(&svc, &joensuu.case_id).await;
    assert_eq!(c.language, "fi");
    assert!(
        c.routing_reasons
            .iter()
            .any(|r| r.contains("outside the Sámi homeland: served in Finnish")),
        "{:?}",
        c.routing_reasons
    );

    let mut finnish_only = go_online(&svc, "ina-sh-1").await;
    let inari = submit(&svc, sami("se-2", "Inari")).await;
    assert_eq!(inari.team_id, "inari");
    assert_eq!(case(&svc, &inari.case_id).await.language, "se");
    assert!(
        next_offer(&mut finnish_only, Duration::from_millis(500))
            .await
            .is_none(),
        "the Finnish-only nurse waits while a Sámi speaker may come"
    );
    let mut speaker = go_online(&svc, "ina-sh-2").await;
    let offer = next_offer(&mut speaker, WAIT)
        .await
        .expect("to the Sámi speaker");
    assert_eq!(offer.case_id, inari.case_id);
    assert!(!offer.interpreter_needed);
    drop((finnish_only, speaker));
    svc.stop().await;
}

/// Pekka chats at a busy moment: nobody can take the chat within its answer limit, so he is
/// offered a call-back; he takes it, and his case goes ahead of a call-back request that came
/// earlier but has a later deadline — it keeps its place.
#[tokio::test]
async fn an_unanswered_chat_is_offered_a_call_back_and_keeps_its_place() {
    let redis = RedisServer::start();
    let svc = Luotsi::start_with(&redis, |c| c.deadlines.chat_answer_minutes = 0).await;
    let earlier = submit(&svc, cough(pb::Channel::Phone, "cb-0")).await;
    let chat = submit(&svc, cough(pb::Channel::Chat, "cb-1")).await;
    let mut updates = svc
        .contact()
        .await
        .watch_case(pb::WatchCaseRequest {
            case_id: chat.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut offered = false;
    for _ in 0..5 {
        match tokio::time::timeout(WAIT, updates.message()).await {
            Ok(Ok(Some(u))) if u.callback_offered => {
                offered = true;
                break;
            }
            Ok(Ok(Some(_))) => continue,
            other => panic!("no call-back offer: {other:?}"),
        }
    }
    assert!(offered);
    let mut contacts = svc.contact().await;
    let err = contacts
        .accept_callback(pb::AcceptCallbackRequest {
            case_id: chat.case_id.clone(),
            callback_number: "not a number".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("callback_number"), "{err:?}");
    let now_phone = contacts
        .accept_callback(pb::AcceptCallbackRequest {
            case_id: chat.case_id.clone(),
            callback_number: "040 123 4567".into(),
        })
        .await
        .expect("call-back taken")
        .into_inner();
    assert_eq!(now_phone.channel, pb::Channel::Phone as i32);
    assert_eq!(now_phone.queue, "phone");
    let list = svc
        .supervisor()
        .await
        .list_queued_cases(pb::ListQueuedCasesRequest {
            team_id: "joensuu-keskus".into(),
            queue: "phone".into(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = list.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(ids, [chat.case_id.as_str(), earlier.case_id.as_str()]);
    // The nurse who takes it has the number to call.
    let mut nurse = go_online(&svc, "jns-sh-1").await;
    let offer = next_offer(&mut nurse, WAIT).await.unwrap();
    assert_eq!(offer.case_id, chat.case_id);
    let held = svc
        .work()
        .await
        .accept_offer(pb::AcceptOfferRequest {
            professional_id: "jns-sh-1".into(),
            case_id: chat.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(held.callback_number, "+358401234567");
    drop(nurse);
    svc.stop().await;
}

/// Sari (nurse) takes a case, asks the doctor to consult, and then hands it over to the
/// physiotherapist — never through the queue, and the citizen is not asked to call again.
#[tokio::test]
async fn inside_the_team_a_case_is_consulted_on_and_handed_over_without_the_queue() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut sari = go_online(&svc, "jns-sh-1").await;
    let mut doctor = go_online(&svc, "jns-lk-1").await;
    let mut physio = go_online(&svc, "jns-pt-1").await;
    let c = submit(
        &svc,
        contact(
            pb::Channel::EService,
            "team-1",
            "Polvi on turvonnut kaatumisen jälkeen ja kävely sattuu",
            "acute_symptoms",
            "Joensuu",
        ),
    )
    .await;
    // The least-loaded nurse or doctor gets it; make sure it is Sari's.
    let mut work = svc.work().await;
    let first = tokio::select! {
        o = next_offer(&mut sari, WAIT) => ("jns-sh-1", o.unwrap()),
        o = next_offer(&mut doctor, WAIT) => ("jns-lk-1", o.unwrap()),
    };
    if first.0 != "jns-sh-1" {
        work.transfer_case(pb::TransferCaseRequest {
            professional_id: first.0.into(),
            case_id: c.case_id.clone(),
            to_professional_id: "jns-sh-1".into(),
            reason: "set-up".into(),
        })
        .await
        .unwrap_err(); // not accepted yet: refused
        work.accept_offer(pb::AcceptOfferRequest {
            professional_id: first.0.into(),
            case_id: c.case_id.clone(),
        })
        .await
        .unwrap();
        work.transfer_case(pb::TransferCaseRequest {
            professional_id: first.0.into(),
            case_id: c.case_id.clone(),
            to_professional_id: "jns-sh-1".into(),
            reason: "nurse first".into(),
        })
        .await
        .unwrap();
        next_offer(&mut sari, WAIT).await.expect("handed to Sari");
    }
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: "jns-sh-1".into(),
        case_id: c.case_id.clone(),
    })
    .await
    .unwrap();

    // A consultation: the doctor is asked on their stream, answers, Sari keeps the case.
    work.request_consultation(pb::RequestConsultationRequest {
        professional_id: "jns-sh-1".into(),
        case_id: c.case_id.clone(),
        colleague_id: String::new(),
        profession: "doctor".into(),
    })
    .await
    .expect("consultation asked");
    let ask = next_offer(&mut doctor, WAIT)
        .await
        .expect("the doctor is asked");
    assert!(ask.consultation);
    assert_eq!(ask.requested_by, "jns-sh-1");
    assert_eq!(ask.case_id, c.case_id);
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: "jns-lk-1".into(),
        case_id: c.case_id.clone(),
    })
    .await
    .expect("consultation answered");
    let now = case(&svc, &c.case_id).await;
    assert_eq!(now.professional_id, "jns-sh-1");
    assert_eq!(now.status, pb::CaseStatus::InProgress as i32);
    assert_eq!(now.consultations, ["jns-lk-1:accepted"]);

    // A hand-over to the physiotherapist: offered to him at once, not queued.
    let err = work
        .transfer_case(pb::TransferCaseRequest {
            professional_id: "jns-sh-1".into(),
            case_id: c.case_id.clone(),
            to_professional_id: "poh-sh-1".into(),
            reason: "other team".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("to_professional_id"), "{err:?}");
    let handed = work
        .transfer_case(pb::TransferCaseRequest {
            professional_id: "jns-sh-1".into(),
            case_id: c.case_id.clone(),
            to_professional_id: "jns-pt-1".into(),
            reason: "knee rehabilitation".into(),
        })
        .await
        .expect("handed over")
        .into_inner();
    assert_eq!(handed.status, pb::CaseStatus::Offered as i32);
    assert_eq!(handed.professional_id, "jns-pt-1");
    let offer = next_offer(&mut physio, WAIT).await.expect("to the physio");
    assert_eq!(offer.case_id, c.case_id);
    assert!(!offer.consultation);
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: "jns-pt-1".into(),
        case_id: c.case_id.clone(),
    })
    .await
    .expect("the physio accepts");
    let reasons = case(&svc, &c.case_id).await.routing_reasons.join("\n");
    assert!(
        reasons
            .contains("handed over by jns-sh-1 to jns-pt-1 (physiotherapist): knee rehabilitation"),
        "{reasons}"
    );
    // Taken three times over, but one first response in the figures.
    let stats = svc
        .supervisor()
        .await
        .get_stats(pb::GetStatsRequest {
            team_id: "joensuu-keskus".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.deadlines_met + stats.deadlines_missed, 1);
    let board = svc
        .supervisor()
        .await
        .watch_queues(pb::WatchQueuesRequest {
            team_id: "joensuu-keskus".into(),
            heartbeat: None,
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(
        board.teams[0].taken_today, 1,
        "the service level counts it once"
    );
    // Sari's slot is free again.
    let state = work
        .set_presence(pb::SetPresenceRequest {
            professional_id: "jns-sh-1".into(),
            presence: pb::Presence::Available as i32,
            capacities: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(state.load.iter().all(|c| c.capacity == 0), "{state:?}");
    drop((sari, doctor, physio));
    svc.stop().await;
}

/// A Swedish-speaking 80-year-old in Joensuu calls about home care: a call-back the same
/// working day, the service-need assessment by the 7th working day, Swedish-speaking staff
/// first.
#[tokio::test]
async fn a_swedish_speaking_80_year_old_calls_about_home_care() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut req = contact(
        pb::Channel::Phone,
        "sv-80",
        "Jag är 80 år och klarar mig inte längre hemma, jag behöver hemvård",
        "",
        "Joensuu",
    );
    let citizen = req.citizen.as_mut().unwrap();
    citizen.language = "sv".into();
    citizen.age = Some(80);
    let c = submit(&svc, req).await;
    // A call-back window from the live queue, in Swedish.
    let (start, end) = (
        c.callback_window_start.expect("a window").seconds,
        c.callback_window_end.expect("a window").seconds,
    );
    assert!(end > start);
    assert!(
        c.citizen_message.contains("Vi ringer dig upp"),
        "{}",
        c.citizen_message
    );
    let case = case(&svc, &c.case_id).await;
    let again = case.callback_window_start.unwrap().seconds;
    assert!((again - start).abs() <= 2, "GetCase shows the window too");
    let update = svc
        .contact()
        .await
        .watch_case(pb::WatchCaseRequest {
            case_id: c.case_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .expect("the first update");
    let watched = update.callback_window_start.expect("WatchCase too").seconds;
    assert!((watched - start).abs() <= 2);
    assert_eq!(
        case.needs[0], "elderly_services",
        "{:?}",
        case.classification
    );
    assert_eq!(case.language, "sv");
    assert!(
        case.deadline_rule.starts_with("phone"),
        "{}",
        case.deadline_rule
    );
    assert!(
        case.statutory_rule.contains("7th working day") && case.statutory_rule.contains("75+"),
        "{}",
        case.statutory_rule
    );
    let contact_deadline = case.deadline.unwrap().seconds;
    let statutory = case.statutory_deadline.unwrap().seconds;
    assert!(
        statutory > contact_deadline + 5 * 86_400,
        "7 working days later"
    );
    svc.stop().await;
}

/// A county whose policy keeps e-service messages from someone on a call: the nurse on a
/// call-back gets the message only once the call is done. (With the default policy she would
/// get it at once, on her separate e-service capacity.)
#[tokio::test]
async fn on_a_call_no_e_service_work_when_policy_says_so() {
    for allow in [false, true] {
        let redis = RedisServer::start();
        let svc = Luotsi::start_with(&redis, |c| c.routing.e_service_during_call = allow).await;
        let mut nurse = go_online(&svc, "jns-sh-1").await;
        let call = submit(&svc, cough(pb::Channel::Phone, "call-1")).await;
        let offer = next_offer(&mut nurse, WAIT).await.expect("the call");
        assert_eq!(offer.case_id, call.case_id);
        let mut work = svc.work().await;
        work.accept_offer(pb::AcceptOfferRequest {
            professional_id: "jns-sh-1".into(),
            case_id: call.case_id.clone(),
        })
        .await
        .unwrap();
        let message = submit(
            &svc,
            contact(
                pb::Channel::EService,
                "msg-1",
                "Verenpainelääkkeen annosta pitäisi ehkä muuttaa, kysyisin hoitajalta",
                "acute_symptoms",
                "Joensuu",
            ),
        )
        .await;
        let during = next_offer(&mut nurse, Duration::from_millis(500)).await;
        if allow {
            assert_eq!(
                during.expect("offered during the call").case_id,
                message.case_id
            );
        } else {
            assert!(during.is_none(), "no e-service work during the call");
            work.complete_case(pb::CompleteCaseRequest {
                professional_id: "jns-sh-1".into(),
                case_id: call.case_id.clone(),
                outcome: pb::Outcome::ResolvedAtFirstContact as i32,
            })
            .await
            .unwrap();
            let after = next_offer(&mut nurse, WAIT).await.expect("after the call");
            assert_eq!(after.case_id, message.case_id);
        }
        drop(nurse);
        svc.stop().await;
    }
}

/// Kaija needs her blood-pressure prescription renewed and would like to talk about how she is
/// coping: one contact, one case, one team that has both a nurse and a psychiatric nurse.
#[tokio::test]
async fn a_contact_with_two_needs_is_one_case_for_a_team_covering_both() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let c = submit(
        &svc,
        contact(
            pb::Channel::EService,
            "two-needs",
            "Tarvitsisin reseptin uusimisen verenpainelääkkeelle ja lisäksi haluaisin jutella \
             jaksamisesta, olen ollut pitkään alakuloinen",
            "",
            "Joensuu",
        ),
    )
    .await;
    let case = case(&svc, &c.case_id).await;
    assert_eq!(case.needs, ["medication", "mental_health"]);
    assert_eq!(case.team_id, "joensuu-keskus");
    assert!(
        case.routing_reasons[0].contains("covers every need"),
        "{:?}",
        case.routing_reasons
    );
    // One case in one queue: the supervisor's list shows it once.
    let list = svc
        .supervisor()
        .await
        .list_queued_cases(pb::ListQueuedCasesRequest {
            team_id: "joensuu-keskus".into(),
            queue: String::new(),
            limit: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.cases.len(), 1);
    svc.stop().await;
}
