//! Routing policy scenarios, told as a county would tell them — against real Redis.

use std::time::Duration;

use luotsi::pb;

use crate::county::{CaseRef, TestCounty, WAIT};
use crate::support::{contact, cough};

fn with_citizen(mut r: pb::SubmitContactRequest, hetu: &str) -> pb::SubmitContactRequest {
    r.citizen.as_mut().unwrap().identity_code = hetu.into();
    r
}

/// The professional's next offer is `expected`; they take it and resolve it at once.
async fn take_and_complete(county: &TestCounty, pro: &str, expected: &impl CaseRef) {
    let offer = county.next_offer(pro).await;
    assert_eq!(offer.case_id, expected.case_id());
    county.accept(pro, &offer).await;
    county.complete(pro, &offer).await;
}

/// Matti writes about his tooth, then calls about the same tooth, then asks about his blood
/// pressure medicine. Liisa calls about her tooth, is helped, and calls again the same afternoon
/// about the same tooth. The county then asks how "one contact is enough" held.
#[tokio::test]
async fn one_contact_is_enough_is_measured_joins_links_and_recontacts() {
    let county = TestCounty::start().await;
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
    let first = county
        .submit(with_citizen(tooth(pb::Channel::EService, "m-1"), matti))
        .await;
    let again = county
        .submit(with_citizen(tooth(pb::Channel::Phone, "m-2"), matti))
        .await;
    assert!(again.joined_existing_case);
    assert_eq!(again.case_id, first.case_id);
    let medicine = county
        .submit(with_citizen(
            contact(
                pb::Channel::EService,
                "m-3",
                "Verenpainelääkkeen resepti pitäisi uusia",
                "medication",
                "Joensuu",
            ),
            matti,
        ))
        .await;
    assert_ne!(
        medicine.case_id, first.case_id,
        "a different need: its own case"
    );
    // Linked both ways, so each professional sees the whole picture.
    assert_eq!(
        county.case(&medicine).await.linked_case_ids,
        std::slice::from_ref(&first.case_id)
    );
    assert_eq!(
        county.case(&first).await.linked_case_ids,
        std::slice::from_ref(&medicine.case_id)
    );

    county.go_online("suu-hh-1").await;
    take_and_complete(&county, "suu-hh-1", &first).await;
    let l1 = county
        .submit(with_citizen(tooth(pb::Channel::Phone, "l-1"), liisa))
        .await;
    take_and_complete(&county, "suu-hh-1", &l1).await;
    let l2 = county
        .submit(with_citizen(tooth(pb::Channel::Phone, "l-2"), liisa))
        .await;
    assert!(!l2.joined_existing_case, "the first case is closed");
    let l2_case = county.case(&l2).await;
    assert!(l2_case.recontact);
    assert!(
        l2_case
            .routing_reasons
            .iter()
            .any(|r| r.starts_with("re-contact")),
        "{:?}",
        l2_case.routing_reasons
    );

    let stats = county.team_stats("suunterveys").await;
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
    let whole = county.county_stats().await;
    assert_eq!(whole.contacts, 5);
    assert_eq!(whole.cases, 4);
}

/// Aino's own nurse is Jenni (jns-sh-2). Aino writes about a rash: the case waits for Jenni even
/// though Sari (jns-sh-1) is free; when Jenni does not come online within the continuity wait,
/// Sari gets it, and the reasons say why.
#[tokio::test]
async fn the_own_nurse_first_then_a_colleague_after_the_continuity_wait() {
    let county = TestCounty::start_with(|c| c.routing.continuity_wait_secs = 2).await;
    county.go_online("jns-sh-1").await;
    let c = county.submit(ainos_rash("own-1")).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    assert_eq!(c.status, pb::CaseStatus::Queued as i32, "waits for Jenni");
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(1200))
            .await
            .is_none(),
        "not offered to a colleague during the continuity wait"
    );
    // To a colleague after the wait.
    let offer = county.next_offer("jns-sh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    let reasons = county.case(&c).await.routing_reasons.join("\n");
    assert!(
        reasons.contains("continuity: offered first to own professional jns-sh-2"),
        "{reasons}"
    );
}

/// Aino writes about a rash; her own nurse is Jenni.
fn ainos_rash(key: &str) -> pb::SubmitContactRequest {
    let mut req = contact(
        pb::Channel::EService,
        key,
        "Minulle on tullut ihottumaa käsivarsiin, kutisee kovasti",
        "acute_symptoms",
        "Joensuu",
    );
    req.citizen.as_mut().unwrap().own_professional_id = "jns-sh-2".into();
    req
}

/// The same, but Jenni is online: she gets it at once, though Sari is less loaded.
#[tokio::test]
async fn the_own_nurse_who_is_online_gets_the_case_at_once() {
    let county = TestCounty::start().await;
    county.go_online("jns-sh-1").await;
    county.go_online("jns-sh-2").await;
    let c = county.submit(ainos_rash("own-2")).await;
    let offer = county.next_offer("jns-sh-2").await;
    assert_eq!(offer.case_id, c.case_id);
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(300))
            .await
            .is_none()
    );
}

/// A citizen of Lieksa whose own team is the Joensuu station is routed there, not to the
/// northern area team that serves Lieksa.
#[tokio::test]
async fn the_own_team_is_chosen_over_the_area_team() {
    let county = TestCounty::start().await;
    let mut req = contact(
        pb::Channel::EService,
        "own-team-1",
        "Verenpaine on ollut koholla kotimittauksissa",
        "acute_symptoms",
        "Lieksa",
    );
    let area = county.submit(req.clone()).await;
    assert_eq!(area.team_id, "pohjoinen");
    req.idempotency_key = "own-team-2".into();
    req.citizen.as_mut().unwrap().own_team_id = "joensuu-keskus".into();
    let own = county.submit(req).await;
    assert_eq!(own.team_id, "joensuu-keskus");
    let reasons = county.case(&own).await.routing_reasons;
    assert!(
        reasons[0].contains("continuity, the citizen's own team"),
        "{reasons:?}"
    );
}

/// Nobody of the Joensuu station is online. After the first overflow wait another team may take
/// the case too — a nurse online there gets it — and the Joensuu station still may: declined
/// there, it waits in both teams' queues, and the first Joensuu nurse to come online gets it.
#[tokio::test]
async fn overflow_widens_who_may_take_a_case_and_the_first_team_still_may() {
    let county = TestCounty::start_with(|c| c.routing.overflow_after_secs = vec![1, 1]).await;
    let c = county.submit(cough(pb::Channel::EService, "ovf-1")).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    county.go_online("poh-sh-1").await;
    // Offered in another team after the overflow wait.
    let offer = county.next_offer("poh-sh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    let widened = county.case(&c).await;
    assert_eq!(
        widened.team_id, "joensuu-keskus",
        "the case's own team stays"
    );
    assert!(
        widened
            .routing_reasons
            .iter()
            .any(|r| r.starts_with("overflow: nobody took it")
                && r.contains("team pohjoinen may take it too (team joensuu-keskus still may)")),
        "{:?}",
        widened.routing_reasons
    );
    // Declined there: listed in both teams' queues.
    county.decline("poh-sh-1", &c, "not for our team").await;
    let listed = |team: &'static str| {
        let county = &county;
        async move {
            county
                .queued_cases(team, "e_service", 10)
                .await
                .into_iter()
                .map(|q| q.case_id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed("joensuu-keskus").await, vec![c.case_id.clone()]);
    assert_eq!(listed("pohjoinen").await, vec![c.case_id.clone()]);
    // The first team takes it after all; it leaves both queues.
    county.go_online("jns-sh-1").await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, c.case_id);
    assert!(listed("joensuu-keskus").await.is_empty());
    assert!(listed("pohjoinen").await.is_empty());
}

/// Outside the Sámi homeland a North Sámi speaker is served in Finnish; in Inari, Sámi-speaking
/// staff come first and a Finnish-only nurse does not get the case during the language wait.
#[tokio::test]
async fn a_sami_speaker_in_inari_goes_to_sami_speaking_staff_first() {
    let county = TestCounty::start_with(|c| {
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
    let joensuu = county.submit(sami("se-1", "Joensuu")).await;
    let c = county.case(&joensuu).await;
    assert_eq!(c.language, "fi");
    assert!(
        c.routing_reasons
            .iter()
            .any(|r| r.contains("outside the Sámi homeland: served in Finnish")),
        "{:?}",
        c.routing_reasons
    );

    county.go_online("ina-sh-1").await; // Finnish only
    let inari = county.submit(sami("se-2", "Inari")).await;
    assert_eq!(inari.team_id, "inari");
    assert_eq!(county.case(&inari).await.language, "se");
    assert!(
        county
            .offer_within("ina-sh-1", Duration::from_millis(500))
            .await
            .is_none(),
        "the Finnish-only nurse waits while a Sámi speaker may come"
    );
    county.go_online("ina-sh-2").await; // speaks North Sámi
    let offer = county.next_offer("ina-sh-2").await;
    assert_eq!(offer.case_id, inari.case_id);
    assert!(!offer.interpreter_needed);
}

/// Pekka chats at a busy moment: nobody can take the chat within its answer limit, so he is
/// offered a call-back; he takes it, and his case goes ahead of a call-back request that came
/// earlier but has a later deadline — it keeps its place.
#[tokio::test]
async fn an_unanswered_chat_is_offered_a_call_back_and_keeps_its_place() {
    let county = TestCounty::start_with(|c| c.deadlines.chat_answer_minutes = 0).await;
    let earlier = county.submit(cough(pb::Channel::Phone, "cb-0")).await;
    let chat = county.submit(cough(pb::Channel::Chat, "cb-1")).await;
    let mut updates = county.watch(&chat).await;
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
    let err = county
        .try_accept_callback(&chat, "not a number")
        .await
        .unwrap_err();
    assert!(err.message().starts_with("callback_number"), "{err:?}");
    let now_phone = county.accept_callback(&chat, "040 123 4567").await;
    assert_eq!(now_phone.channel, pb::Channel::Phone as i32);
    assert_eq!(now_phone.queue, "phone");
    let list = county.queued_cases("joensuu-keskus", "phone", 10).await;
    let ids: Vec<&str> = list.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(ids, [chat.case_id.as_str(), earlier.case_id.as_str()]);
    // The nurse who takes it has the number to call.
    county.go_online("jns-sh-1").await;
    let offer = county.next_offer("jns-sh-1").await;
    assert_eq!(offer.case_id, chat.case_id);
    let held = county.accept("jns-sh-1", &chat).await;
    assert_eq!(held.callback_number, "+358401234567");
}

/// Sari (nurse) takes a case, asks the doctor to consult, and then hands it over to the
/// physiotherapist — never through the queue, and the citizen is not asked to call again.
#[tokio::test]
async fn inside_the_team_a_case_is_consulted_on_and_handed_over_without_the_queue() {
    let county = TestCounty::start().await;
    let (sari, doctor, physio) = ("jns-sh-1", "jns-lk-1", "jns-pt-1");
    for pro in [sari, doctor, physio] {
        county.go_online(pro).await;
    }
    let c = county
        .submit(contact(
            pb::Channel::EService,
            "team-1",
            "Polvi on turvonnut kaatumisen jälkeen ja kävely sattuu",
            "acute_symptoms",
            "Joensuu",
        ))
        .await;
    // The least-loaded nurse or doctor gets it; make sure it is Sari's.
    let first = tokio::select! {
        _ = county.next_offer(sari) => sari,
        _ = county.next_offer(doctor) => doctor,
    };
    if first != sari {
        // Not accepted yet: refused.
        county
            .try_transfer(first, &c, sari, "set-up")
            .await
            .unwrap_err();
        county.accept(first, &c).await;
        county.transfer(first, &c, sari, "nurse first").await;
        county.next_offer(sari).await; // handed to Sari
    }
    county.accept(sari, &c).await;

    // A consultation: the doctor is asked on their stream, answers, Sari keeps the case.
    county.consult_profession(sari, &c, "doctor").await;
    let ask = county.next_offer(doctor).await;
    assert!(ask.consultation);
    assert_eq!(ask.requested_by, "jns-sh-1");
    assert_eq!(ask.case_id, c.case_id);
    county.accept(doctor, &c).await; // the consultation answered
    let now = county.case(&c).await;
    assert_eq!(now.professional_id, "jns-sh-1");
    assert_eq!(now.status, pb::CaseStatus::InProgress as i32);
    assert_eq!(now.consultations, ["jns-lk-1:accepted"]);

    // A hand-over to the physiotherapist: offered to him at once, not queued.
    let err = county
        .try_transfer(sari, &c, "poh-sh-1", "other team")
        .await
        .unwrap_err();
    assert!(err.message().starts_with("to_professional_id"), "{err:?}");
    let handed = county
        .transfer(sari, &c, physio, "knee rehabilitation")
        .await;
    assert_eq!(handed.status, pb::CaseStatus::Offered as i32);
    assert_eq!(handed.professional_id, "jns-pt-1");
    let offer = county.next_offer(physio).await;
    assert_eq!(offer.case_id, c.case_id);
    assert!(!offer.consultation);
    county.accept(physio, &c).await;
    let reasons = county.case(&c).await.routing_reasons.join("\n");
    assert!(
        reasons
            .contains("handed over by jns-sh-1 to jns-pt-1 (physiotherapist): knee rehabilitation"),
        "{reasons}"
    );
    // Taken three times over, but one first response in the figures.
    let stats = county.team_stats("joensuu-keskus").await;
    assert_eq!(stats.deadlines_met + stats.deadlines_missed, 1);
    let board = county
        .watch_queues("joensuu-keskus", None)
        .await
        .message()
        .await
        .unwrap()
        .expect("a snapshot");
    assert_eq!(
        board.teams[0].taken_today, 1,
        "the service level counts it once"
    );
    // Sari's slot is free again.
    let state = county.set_presence(sari, pb::Presence::Available).await;
    assert!(state.load.iter().all(|c| c.capacity == 0), "{state:?}");
}

/// A Swedish-speaking 80-year-old in Joensuu calls about home care: a call-back the same
/// working day, the service-need assessment by the 7th working day, Swedish-speaking staff
/// first.
#[tokio::test]
async fn a_swedish_speaking_80_year_old_calls_about_home_care() {
    let county = TestCounty::start().await;
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
    let c = county.submit(req).await;
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
    let case = county.case(&c).await;
    let again = case.callback_window_start.unwrap().seconds;
    assert!((again - start).abs() <= 2, "GetCase shows the window too");
    let update = county
        .watch(&c)
        .await
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
}

/// A county whose policy keeps e-service messages from someone on a call: the nurse on a
/// call-back gets the message only once the call is done. (With the default policy she would
/// get it at once, on her separate e-service capacity.)
#[tokio::test]
async fn on_a_call_no_e_service_work_when_policy_says_so() {
    for allow in [false, true] {
        let county = TestCounty::start_with(|c| c.routing.e_service_during_call = allow).await;
        county.go_online("jns-sh-1").await;
        let call = county.submit(cough(pb::Channel::Phone, "call-1")).await;
        let offer = county.next_offer("jns-sh-1").await;
        assert_eq!(offer.case_id, call.case_id);
        county.accept("jns-sh-1", &call).await;
        let message = county
            .submit(contact(
                pb::Channel::EService,
                "msg-1",
                "Verenpainelääkkeen annosta pitäisi ehkä muuttaa, kysyisin hoitajalta",
                "acute_symptoms",
                "Joensuu",
            ))
            .await;
        let during = county
            .offer_within("jns-sh-1", Duration::from_millis(500))
            .await;
        if allow {
            assert_eq!(
                during.expect("offered during the call").case_id,
                message.case_id
            );
        } else {
            assert!(during.is_none(), "no e-service work during the call");
            county.complete("jns-sh-1", &call).await;
            let after = county.next_offer("jns-sh-1").await;
            assert_eq!(after.case_id, message.case_id);
        }
    }
}

/// The county changes its policy while a nurse is on a call: from the reload on, no e-service
/// work comes to her during the call, without her signing in again.
#[tokio::test]
async fn a_reloaded_policy_applies_to_professionals_already_online() {
    let county = TestCounty::start_with(|c| c.routing.e_service_during_call = true).await;
    county.go_online("jns-sh-1").await;
    let call = county
        .submit(cough(pb::Channel::Phone, "live-call-1"))
        .await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, call.case_id);
    county.accept("jns-sh-1", &call).await;
    let reloaded = county
        .reload(|c| c.routing.e_service_during_call = false)
        .await;
    assert!(reloaded.updated_online >= 1, "{reloaded:?}");
    assert!(reloaded.signed_out.is_empty(), "{reloaded:?}");
    let message = county
        .submit(contact(
            pb::Channel::EService,
            "live-msg-1",
            "Verenpainelääkkeen annosta pitäisi ehkä muuttaa, kysyisin hoitajalta",
            "acute_symptoms",
            "Joensuu",
        ))
        .await;
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(500))
            .await
            .is_none(),
        "no e-service work during the call after the reload"
    );
    county.complete("jns-sh-1", &call).await;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, message.case_id);
}

/// A reload that would change a setting read only at start is refused whole: the county part
/// of it is not put in use either.
#[tokio::test]
async fn a_reload_touching_a_restart_only_setting_changes_nothing() {
    let county = TestCounty::start().await;
    let err = county
        .instances_reload_error(|c| {
            c.server.keepalive_secs += 1;
            c.county.teams.retain(|t| t.id != "suunterveys");
        })
        .await;
    assert!(err.contains("server change only with a restart"), "{err}");
    // The oral health team is still there.
    county.go_online("suu-hh-1").await;
}

/// Kaija needs her blood-pressure prescription renewed and would like to talk about how she is
/// coping: one contact, one case, one team that has both a nurse and a psychiatric nurse.
#[tokio::test]
async fn a_contact_with_two_needs_is_one_case_for_a_team_covering_both() {
    let county = TestCounty::start().await;
    let c = county
        .submit(contact(
            pb::Channel::EService,
            "two-needs",
            "Tarvitsisin reseptin uusimisen verenpainelääkkeelle ja lisäksi haluaisin jutella \
             jaksamisesta, olen ollut pitkään alakuloinen",
            "",
            "Joensuu",
        ))
        .await;
    let case = county.case(&c).await;
    assert_eq!(case.needs, ["medication", "mental_health"]);
    assert_eq!(case.team_id, "joensuu-keskus");
    assert!(
        case.routing_reasons[0].contains("covers every need"),
        "{:?}",
        case.routing_reasons
    );
    // One case in one queue: the supervisor's list shows it once.
    let list = county.queued_cases("joensuu-keskus", "", 0).await;
    assert_eq!(list.len(), 1);
}

/// GetStats counts continuity: kept when the own professional took the case, broken when
/// someone else did, and why — the wait passed, or was cut short by a near deadline.
#[tokio::test]
async fn get_stats_counts_continuity_kept_and_broken_and_why() {
    let county = TestCounty::start_with(|c| {
        c.routing.continuity_wait_secs = 1;
        c.deadlines.chat_answer_minutes = 0;
    })
    .await;
    let own = |channel, key: &str, pro: &str| {
        let mut c = cough(channel, key);
        c.citizen.as_mut().unwrap().own_professional_id = pro.into();
        c
    };
    // Kept: the own nurse is there and takes it.
    county.go_online("jns-sh-1").await;
    let kept = county
        .submit(own(pb::Channel::EService, "own-kept", "jns-sh-1"))
        .await;
    county.accept("jns-sh-1", &kept).await;
    county.set_presence("jns-sh-1", pb::Presence::OnBreak).await;
    // Broken, the wait passed: the own nurse is away; after a second a colleague takes it.
    county.go_online("jns-sh-3").await;
    let waited = county
        .submit(own(pb::Channel::EService, "own-waited", "jns-sh-2"))
        .await;
    assert!(
        county
            .offer_within("jns-sh-3", Duration::from_millis(300))
            .await
            .is_none(),
        "the own nurse first"
    );
    assert_eq!(county.next_offer("jns-sh-3").await.case_id, waited.case_id);
    county.accept("jns-sh-3", &waited).await;
    // Broken, the deadline near: a chat must be answered now, so no waiting for the own nurse.
    let chat = county
        .submit(own(pb::Channel::Chat, "own-chat", "jns-sh-2"))
        .await;
    assert_eq!(county.next_offer("jns-sh-3").await.case_id, chat.case_id);
    county.accept("jns-sh-3", &chat).await;

    let s = county.try_stats("", None, None).await.unwrap();
    assert_eq!(s.continuity_kept, 1, "{s:?}");
    assert_eq!(s.continuity_broken, 2, "{s:?}");
    assert_eq!(s.continuity_broken_by.get("wait_ended"), Some(&1), "{s:?}");
    assert_eq!(
        s.continuity_broken_by.get("deadline_near"),
        Some(&1),
        "{s:?}"
    );
}
