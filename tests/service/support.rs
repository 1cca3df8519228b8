//! Small helpers shared by the scenario tests.

use std::time::Duration;

use luotsi::pb;
use tonic::Streaming;

use crate::harness::Luotsi;

pub fn contact(
    channel: pb::Channel,
    key: &str,
    text: &str,
    form: &str,
    municipality: &str,
) -> pb::SubmitContactRequest {
    pb::SubmitContactRequest {
        channel: channel as i32,
        idempotency_key: key.to_string(),
        citizen: Some(pb::Citizen {
            municipality: municipality.to_string(),
            language: "fi".into(),
            ..Default::default()
        }),
        text: text.to_string(),
        hints: Some(pb::Hints {
            form_category: form.to_string(),
            ..Default::default()
        }),
    }
}

/// A dental contact: routed to the county-wide oral health team.
pub fn dental(channel: pb::Channel, key: &str) -> pb::SubmitContactRequest {
    contact(
        channel,
        key,
        "Hammasta särkee, voisiko joku soittaa?",
        "oral_health",
        "Joensuu",
    )
}

/// A week-long cough in Joensuu: acute symptoms for the Joensuu station's nurses.
pub fn cough(channel: pb::Channel, key: &str) -> pb::SubmitContactRequest {
    contact(
        channel,
        key,
        "Olen ollut flunssassa viikon ja yskä ei hellitä",
        "acute_symptoms",
        "Joensuu",
    )
}

/// Sets the professional available and opens their offers stream.
pub async fn go_online(svc: &Luotsi, pro: &str) -> Streaming<pb::Offer> {
    let mut work = svc.work().await;
    work.set_presence(pb::SetPresenceRequest {
        professional_id: pro.into(),
        presence: pb::Presence::Available as i32,
        capacities: vec![],
    })
    .await
    .expect("presence set");
    work.offers(pb::OffersRequest {
        professional_id: pro.into(),
    })
    .await
    .expect("offers stream")
    .into_inner()
}

pub async fn next_offer(stream: &mut Streaming<pb::Offer>, within: Duration) -> Option<pb::Offer> {
    match tokio::time::timeout(within, stream.message()).await {
        Ok(Ok(Some(o))) => Some(o),
        Ok(other) => panic!("offers stream ended: {other:?}"),
        Err(_) => None,
    }
}

pub async fn case(svc: &Luotsi, id: &str) -> pb::Case {
    svc.contact()
        .await
        .get_case(pb::GetCaseRequest { case_id: id.into() })
        .await
        .expect("case")
        .into_inner()
}

pub async fn depth(svc: &Luotsi, team: &str) -> u32 {
    svc.supervisor()
        .await
        .list_queues(pb::ListQueuesRequest {
            team_id: team.into(),
        })
        .await
        .expect("queues")
        .into_inner()
        .queues
        .iter()
        .map(|q| q.depth)
        .sum()
}

pub async fn submit(svc: &Luotsi, req: pb::SubmitContactRequest) -> pb::SubmitContactResponse {
    svc.contact()
        .await
        .submit_contact(req)
        .await
        .expect("submitted")
        .into_inner()
}
