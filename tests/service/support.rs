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
        callback_window: None,
        channel: channel as i32,
        idempotency_key: key.to_string(),
        citizen: Some(pb::Citizen {
            municipality: municipality.to_string(),
            language: "fi".into(),
            callback_number: if channel == pb::Channel::Phone {
                number_for(key)
            } else {
                String::new()
            },
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

/// A call-back number of the contact's own (a phone contact needs one), from its key: contacts
/// are linked by their number only where a test gives them the same one.
pub fn number_for(key: &str) -> String {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    format!("040{:07}", h % 10_000_000)
}
