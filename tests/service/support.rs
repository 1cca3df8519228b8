//! The contacts the scenario tests submit.

use luotsi::pb;

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
