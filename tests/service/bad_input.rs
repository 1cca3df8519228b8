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
        ("text", with(&|r| r.text = "Hammasta särkee\0".into())),
        (
            "idempotency_key",
            with(&|r| r.idempotency_key = "key\0".into()),
        ),
        (
            "idempotency_key",
            with(&|r| r.idempotency_key = LONG.into()),
        ),
        // Valid check-wise, but nobody is born yet on these dates.
        (
            "citizen.identity_code",
            with(&|r| r.citizen.as_mut().unwrap().identity_code = "010199A123Y".into()),
        ),
        (
            "citizen.identity_code",
            with(&|r| r.citizen.as_mut().unwrap().identity_code = "010630A0550".into()),
        ),
        // Born in 1852: the code is what is wrong, not an age the caller gave.
        (
            "citizen.identity_code",
            with(&|r| r.citizen.as_mut().unwrap().identity_code = "131052+308T".into()),
        ),
        (
            "citizen.own_professional_id",
            with(&|r| r.citizen.as_mut().unwrap().own_professional_id = LONG.into()),
        ),
        (
            "citizen.own_professional_id",
            with(&|r| r.citizen.as_mut().unwrap().own_professional_id = "suu-hh-1\0".into()),
        ),
        (
            "citizen.own_team_id",
            with(&|r| r.citizen.as_mut().unwrap().own_team_id = LONG.into()),
        ),
        (
            "hints.phone_menu",
            with(&|r| r.hints.as_mut().unwrap().phone_menu = LONG.into()),
        ),
        (
            "citizen.municipality",
            with(&|r| r.citizen.as_mut().unwrap().municipality = LONG.into()),
        ),
        // A phone contact is a call-back request: the number is required, and must be one.
        ("citizen.callback_number", {
            let mut r = with(&|_| {});
            r.channel = pb::Channel::Phone as i32;
            r.citizen.as_mut().unwrap().callback_number.clear();
            r
        }),
        (
            "citizen.callback_number",
            with(&|r| r.citizen.as_mut().unwrap().callback_number = "0000000".into()),
        ),
        (
            "citizen.callback_number",
            with(&|r| r.citizen.as_mut().unwrap().callback_number = "+999 123456789".into()),
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
        assert_short(field, &err);
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

    // Ids of 20 000 characters are refused by their length, and only a prefix is quoted.
    let before = county.dbsize();
    // (With a token of its own: a 20 000-character subject would not fit in a header.)
    let token = crate::harness::token(luotsi::auth::Role::Professional, "suu-hh-1");
    let err = pb::work_service_client::WorkServiceClient::new(county.channel().await)
        .set_presence(luotsi::client::authorized(
            pb::SetPresenceRequest {
                professional_id: LONG.into(),
                presence: pb::Presence::Available as i32,
                capacities: Vec::new(),
            },
            &token,
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(
        err.message().starts_with("professional_id:"),
        "{}",
        err.message()
    );
    assert_short("professional_id", &err);
    let err = county.try_queues(LONG).await.unwrap_err();
    assert!(err.message().starts_with("team_id:"), "{}", err.message());
    assert_short("team_id", &err);
    // An unknown id is quoted, but only its beginning.
    let err = county.try_queues(&"x".repeat(100)).await.unwrap_err();
    assert!(err.message().starts_with("team_id:"), "{}", err.message());
    assert_short("team_id", &err);
    assert_eq!(county.dbsize(), before, "nothing written");
}

/// A 20 000-character value.
const LONG: &str = concat_long();

const fn concat_long() -> &'static str {
    const X: &[u8; 20_000] = &[b'x'; 20_000];
    match std::str::from_utf8(X) {
        Ok(s) => s,
        Err(_) => panic!("ASCII"),
    }
}

/// The error quotes no more than a short prefix of what it was given: far below the 16 KB a
/// gRPC error may take, and never a long run of the bad value.
fn assert_short(field: &str, err: &tonic::Status) {
    assert!(
        err.message().len() < 600,
        "{field}: {} bytes of message",
        err.message().len()
    );
    assert!(
        !err.message().contains(&"x".repeat(40)),
        "{field}: the value is echoed: {}",
        err.message()
    );
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
    expect(
        "callback_number",
        county.try_accept_callback(id, "040 1").await,
    );

    // A reason is one line of at most 300 characters, a declined offer's too.
    let err = county
        .try_decline(pro, id, &"x".repeat(1_000_000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
    assert!(err.message().starts_with("reason:"), "{}", err.message());
    assert_short("reason", &err);
    expect(
        "reason",
        county.try_transfer(pro, id, "suu-hl-1", "why\0").await,
    );

    let anna = county.supervisor("sv-anna");
    expect("urgency", anna.try_set_urgency(id, 9, "why").await);
    expect(
        "reason",
        anna.try_set_urgency(id, 2, &"x".repeat(301)).await,
    );
    let now = chrono::Utc::now().timestamp();
    let err = county
        .try_stats("", Some(now), Some(now - 3600))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("from:"), "{}", err.message());
    // A `to` far in the future or long past is `to`'s fault, not `from`'s.
    for to in [2_000_000_000_000, now + 7 * 86_400, -62_000_000_000] {
        let err = county.try_stats("", None, Some(to)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err:?}");
        assert!(err.message().starts_with("to:"), "{to}: {}", err.message());
    }
    let bad_nanos = |nanos| prost_types::Timestamp {
        seconds: now - 60,
        nanos,
    };
    let err = county
        .try_stats_at("", Some(bad_nanos(-1)), None)
        .await
        .unwrap_err();
    assert!(err.message().starts_with("from:"), "{}", err.message());
    let err = county
        .try_stats_at("", None, Some(bad_nanos(-5)))
        .await
        .unwrap_err();
    assert!(err.message().starts_with("to:"), "{}", err.message());
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

    let after = county.stored();
    let changed: Vec<&String> = after
        .iter()
        .filter(|kv| !before.contains(kv))
        .map(|(k, _)| k)
        .collect();
    assert!(
        after == before,
        "nothing written by a refused request: {changed:?}"
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
