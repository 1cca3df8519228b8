//! Bad input answers INVALID_ARGUMENT naming the field, and writes nothing.

use luotsi::pb;

use crate::harness::{Luotsi, RedisServer};
use crate::support::*;

#[tokio::test]
async fn each_bad_input_names_its_field_and_writes_nothing() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut contact = svc.contact().await;
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
    ];
    let dbsize = || -> i64 { redis::cmd("DBSIZE").query(&mut redis.conn()).unwrap() };
    let before = dbsize();
    for (field, req) in cases {
        let err = contact.submit_contact(req).await.expect_err(field);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{field}: {}",
            err.message()
        );
        assert!(!err.message().contains("131052"), "the code is not echoed");
    }
    assert_eq!(dbsize(), before, "nothing written");

    // Hints alone are enough; so is text alone.
    let mut hint_only = ok();
    hint_only.text.clear();
    hint_only.idempotency_key = "hint-only".into();
    contact
        .submit_contact(hint_only)
        .await
        .expect("a form category alone routes");

    // The other services check their input too.
    let mut work = svc.work().await;
    let err = work
        .complete_case(pb::CompleteCaseRequest {
            professional_id: "suu-hh-1".into(),
            case_id: "x".into(),
            outcome: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("case_id:"));
    let err = work
        .set_presence(pb::SetPresenceRequest {
            professional_id: "suu-hh-1".into(),
            presence: 0,
            capacities: vec![],
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("presence:"), "{}", err.message());
    let err = work
        .set_presence(pb::SetPresenceRequest {
            professional_id: "nobody".into(),
            presence: 1,
            capacities: vec![],
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = svc
        .supervisor()
        .await
        .list_queues(pb::ListQueuesRequest {
            team_id: "no-such-team".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("team_id:"));
    let err = contact
        .get_case(pb::GetCaseRequest {
            case_id: uuid_like(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = contact
        .watch_case(pb::WatchCaseRequest {
            case_id: "nope".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("case_id:"), "{}", err.message());
    let err = contact
        .watch_case(pb::WatchCaseRequest {
            case_id: uuid_like(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    let err = contact
        .cancel_contact(pb::CancelContactRequest {
            contact_id: String::new(),
        })
        .await
        .unwrap_err();
    assert!(
        err.message().starts_with("contact_id:"),
        "{}",
        err.message()
    );
    let err = contact
        .cancel_contact(pb::CancelContactRequest {
            contact_id: uuid_like(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
    svc.stop().await;
}

#[tokio::test]
async fn a_damaged_record_is_an_internal_error_not_a_passing_outage() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let _: () = redis::cmd("SET")
        .arg(format!("lu:{{siun-sote}}:case:{}", uuid_like()))
        .arg("not a hash")
        .query(&mut redis.conn())
        .unwrap();
    let err = svc
        .contact()
        .await
        .get_case(pb::GetCaseRequest {
            case_id: uuid_like(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
    svc.stop().await;
}

fn uuid_like() -> String {
    "01900000-0000-7000-8000-000000000000".into()
}
