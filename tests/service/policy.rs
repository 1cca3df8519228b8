//! Routing policy scenarios, told as a county would tell them — against real Redis.

use std::time::Duration;

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::{case, contact, go_online, next_offer};

const WAIT: Duration = Duration::from_secs(5);

fn with_citizen(mut r: pb::SubmitContactRequest, hetu: &str) -> pb::SubmitContactRequest {
    r.citizen.as_mut().unwrap().identity_code = hetu.into();
    r
}

async fn submit(svc: &Luotsi, req: pb::SubmitContactRequest) -> pb::SubmitContactResponse {
    svc.contact()
        .await
        .submit_contact(req)
        .await
        .expect("submitted")
        .into_inner()
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
