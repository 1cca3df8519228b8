//! Bad input answers INVALID_ARGUMENT naming the field, and writes nothing.

use std::time::Duration;

use luotsi::pb;

use crate::county::TestCounty;
use crate::support::*;

#[tokio::test]
async fn each_bad_input_names_its_field_and_writes_nothing() {
    let county = TestCounty::start().await;
    let ok = || dental(pb::Channel::EService, "bad");
    let with = |f: &dyn Fn(&mut pb::SubmitContactRequest)| {
        let mut r = ok();
        f(&mut r);
        r
    };
    let cases: Vec<(&str, pb::SubmitContactRequest)> = vec![
        ("channel", with(&|r| r.channel = 0)),
        ("channel", with(&|r| r.channel = 42)),
        ("idempotency_key", with(&|r| r.idempotency_key.clear())),
        (
            "text",
            with(&|r| {
                r.text.clear();
                r.hints = None;
            }),
        ),
        ("text", with(&|r| r.text = "ä".repeat(8001))),
        (
            "citizen.identity_code",
            with(&|r| r.citizen.as_mut().unwrap().identity_code = "131052-308U".into()),
        ),
        (
            "citizen.identity_code",
            with(&|r| r.citizen.as_mut().unwrap().identity_code = "31.12.1999".into()),
        ),
        (
            "citizen.municipality",
            with(&|r| r.citizen.as_mut().unwrap().municipality = "Tampere".into()),
        ),
        (
            "citizen.language",
            with(&|r| r.citizen.as_mut().unwrap().language = "de".into()),
        ),
        (
            "citizen.callback_number",
            with(&|r| r.citizen.as_mut().unwrap().callback_number = "soita minulle".into()),
        ),
        (
            "hints.form_category",
            with(&|r| r.hints.as_mut().unwrap().form_category = "dentist".into()),
        ),
        (
            "citizen.own_professional_id",
            with(&|r| r.citizen.as_mut().unwrap().own_professional_id = "dr-who".into()),
        ),
        (
            "citizen.own_team_id",
            with(&|r| r.citizen.as_mut().unwrap().own_team_id = "no-such-team".into()),
        ),
    ];
    let before = county.dbsize();
    for (field, req) in cases {
        let err = county.try_submit(req).await.expect_err(field);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{field}: {}",
            err.message()
        );
        assert!(!err.message().contains("131052"), "the code is not echoed");
        // The same field as a google.rpc.BadRequest detail, for a front end to show beside it.
        let violations = tonic_types::StatusExt::get_details_bad_request(&err)
            .expect("a BadRequest detail")
            .field_violations;
        assert_eq!(violations.len(), 1, "{field}");
        assert_eq!(violations[0].field, field);
        assert!(!violations[0].description.is_empty(), "{field}");
    }
    assert_eq!(county.dbsize(), before, "nothing written");

    // Hints alone are enough; so is text alone.
    let mut hint_only = ok();
    hint_only.text.clear();
    hint_only.idempotency_key = "hint-only".into();
    county
        .try_submit(hint_only)
        .await
        .expect("a form category alone routes");

    // The other services check their input too.
    let err = county
        .try_complete("suu-hh-1", "x", pb::Outcome::ResolvedAtFirstContact)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("case_id:"));
    let err = county
        .try_set_presence("suu-hh-1", pb::Presence::Unspecified)
        .await
        .unwrap_err();
    assert!(err.message().starts_with("presence:"), "{}", err.message());
    let err = county
        .try_set_presence("nobody", pb::Presence::Available)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = county.try_queues("no-such-team").await.unwrap_err();
    assert!(err.message().starts_with("team_id:"));
    let err = county.try_case(UUID_LIKE).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = county.try_watch("nope").await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("case_id:"), "{}", err.message());
    let err = county.try_watch(UUID_LIKE).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = county.try_cancel_contact("").await.unwrap_err();
    assert!(
        err.message().starts_with("contact_id:"),
        "{}",
        err.message()
    );
    let err = county.try_cancel_contact(UUID_LIKE).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn the_policy_and_supervisor_calls_name_their_field_and_write_nothing() {
    let county = TestCounty::start().await;
    // A case in progress with a dental nurse, and a chat waiting in the queue.
    county.go_online("suu-hh-1").await;
    let held = county.submit(dental(pb::Channel::EService, "held")).await;
    county.next_offer("suu-hh-1").await;
    county.accept("suu-hh-1", &held).await;
    let before = county.stored();

    let expect = |field: &str, r: Result<pb::Case, tonic::Status>| {
        let err = r.expect_err(field);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{field}: {}",
            err.message()
        );
    };
    let pro = "suu-hh-1";
    let id = held.case_id.as_str();
    expect(
        "case_id",
        county.try_transfer(pro, "x", "suu-hl-1", "why").await,
    );
    expect(
        "to_professional_id",
        county.try_transfer(pro, id, "", "why").await,
    );
    expect(
        "to_professional_id",
        county.try_transfer(pro, id, "jns-sh-1", "why").await,
    );
    expect(
        "reason",
        county.try_transfer(pro, id, "suu-hl-1", " ").await,
    );
    expect(
        "reason",
        county.try_transfer(pro, id, "suu-hl-1", "a\nb").await,
    );
    expect(
        "profession",
        county.try_consult_profession(pro, id, "plumber").await,
    );
    expect(
        "colleague_id",
        county.try_consult_colleague(pro, id, "nobody").await,
    );
    expect(
        "colleague_id",
        county.try_consult_colleague(pro, id, "suu-hh-1").await,
    );

    expect(
        "case_id",
        county.try_accept_callback("x", "0401234567").await,
    );
    expect("callback_number", county.try_accept_callback(id, "").await);

    let anna = county.supervisor("sv-anna");
    expect("urgency", anna.try_set_urgency(id, 9, "why").await);
    expect(
        "reason",
        anna.try_set_urgency(id, 2, &"x".repeat(301)).await,
    );
    let err = county
        .try_stats("", Some(2_000_000_000), Some(1_900_000_000))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("from:"), "{}", err.message());
    let err = county.try_stats("nowhere", None, None).await.unwrap_err();
    assert!(err.message().starts_with("team_id:"), "{}", err.message());
    let err = county
        .try_queued_cases("suunterveys", "fax", 0)
        .await
        .unwrap_err();
    assert!(err.message().starts_with("queue:"), "{}", err.message());
    let err = county
        .try_queued_cases("suunterveys", "", 5000)
        .await
        .unwrap_err();
    assert!(err.message().starts_with("limit:"), "{}", err.message());
    let err = county
        .try_watch_queues("", Some(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("heartbeat:"), "{}", err.message());

    assert!(
        county.stored() == before,
        "nothing written by a refused request"
    );
}

#[tokio::test]
async fn a_damaged_record_is_an_internal_error_not_a_passing_outage() {
    let county = TestCounty::start().await;
    let _: () = redis::cmd("SET")
        .arg(county.keys().case(UUID_LIKE))
        .arg("not a hash")
        .query(&mut county.redis())
        .unwrap();
    let err = county.try_case(UUID_LIKE).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
}

/// A well-formed case or contact id that names nothing.
const UUID_LIKE: &str = "01900000-0000-7000-8000-000000000000";
