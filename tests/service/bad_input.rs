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
        (
            "citizen.own_professional_id",
            with(&|r| r.citizen.as_mut().unwrap().own_professional_id = "dr-who".into()),
        ),
        (
            "citizen.own_team_id",
            with(&|r| r.citizen.as_mut().unwrap().own_team_id = "no-such-team".into()),
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

/// Every key and its serialised value: equal before and after means nothing was written.
fn snapshot(redis: &RedisServer) -> Vec<(String, Vec<u8>)> {
    let mut conn = redis.conn();
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut conn).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let v: Vec<u8> = redis::cmd("DUMP").arg(&k).query(&mut conn).unwrap();
            (k, v)
        })
        .collect()
}

#[tokio::test]
async fn the_policy_and_supervisor_calls_name_their_field_and_write_nothing() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    // A case in progress with a dental nurse, and a chat waiting in the queue.
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let held = submit(&svc, dental(pb::Channel::EService, "held")).await;
    next_offer(&mut offers, std::time::Duration::from_secs(5))
        .await
        .expect("offered");
    let mut work = svc.work().await;
    work.accept_offer(pb::AcceptOfferRequest {
        professional_id: "suu-hh-1".into(),
        case_id: held.case_id.clone(),
    })
    .await
    .unwrap();
    let before = snapshot(&redis);

    let expect = |field: &str, r: Result<tonic::Response<pb::Case>, tonic::Status>| {
        let err = r.expect_err(field);
        assert_eq!(err.code(), tonic::Code::InvalidArgument, "{field}: {err:?}");
        assert!(
            err.message().starts_with(&format!("{field}:")),
            "{field}: {}",
            err.message()
        );
    };
    let transfer = |to: &str, reason: &str, case: &str| pb::TransferCaseRequest {
        professional_id: "suu-hh-1".into(),
        case_id: case.into(),
        to_professional_id: to.into(),
        reason: reason.into(),
    };
    let id = held.case_id.as_str();
    expect(
        "case_id",
        work.transfer_case(transfer("suu-hl-1", "why", "x")).await,
    );
    expect(
        "to_professional_id",
        work.transfer_case(transfer("", "why", id)).await,
    );
    expect(
        "to_professional_id",
        work.transfer_case(transfer("jns-sh-1", "why", id)).await,
    );
    expect(
        "reason",
        work.transfer_case(transfer("suu-hl-1", " ", id)).await,
    );
    expect(
        "reason",
        work.transfer_case(transfer("suu-hl-1", "a\nb", id)).await,
    );
    let consult = |colleague: &str, profession: &str| pb::RequestConsultationRequest {
        professional_id: "suu-hh-1".into(),
        case_id: id.into(),
        colleague_id: colleague.into(),
        profession: profession.into(),
    };
    expect(
        "profession",
        work.request_consultation(consult("", "plumber")).await,
    );
    expect(
        "colleague_id",
        work.request_consultation(consult("nobody", "")).await,
    );
    expect(
        "colleague_id",
        work.request_consultation(consult("suu-hh-1", "")).await,
    );

    let mut contact = svc.contact().await;
    let callback = |case: &str, number: &str| pb::AcceptCallbackRequest {
        case_id: case.into(),
        callback_number: number.into(),
    };
    expect(
        "case_id",
        contact.accept_callback(callback("x", "0401234567")).await,
    );
    expect(
        "callback_number",
        contact.accept_callback(callback(id, "")).await,
    );

    let mut sup = svc.supervisor().await;
    let urgency = |u: i32, reason: String| pb::SetUrgencyRequest {
        case_id: id.into(),
        urgency: u,
        supervisor_id: "sv-anna".into(),
        reason,
    };
    expect("urgency", sup.set_urgency(urgency(9, "why".into())).await);
    expect("reason", sup.set_urgency(urgency(2, "x".repeat(301))).await);
    expect(
        "supervisor_id",
        sup.release_offer(pb::ReleaseOfferRequest {
            case_id: id.into(),
            supervisor_id: "a".repeat(65),
            reason: "why".into(),
        })
        .await,
    );
    let err = sup
        .get_stats(pb::GetStatsRequest {
            team_id: String::new(),
            from: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            to: Some(prost_types::Timestamp {
                seconds: 1_900_000_000,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("from:"), "{}", err.message());
    let err = sup
        .get_stats(pb::GetStatsRequest {
            team_id: "nowhere".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("team_id:"), "{}", err.message());
    let list = |queue: &str, limit: u32| pb::ListQueuedCasesRequest {
        team_id: "suunterveys".into(),
        queue: queue.into(),
        limit,
    };
    let err = sup.list_queued_cases(list("fax", 0)).await.unwrap_err();
    assert!(err.message().starts_with("queue:"), "{}", err.message());
    let err = sup.list_queued_cases(list("", 5000)).await.unwrap_err();
    assert!(err.message().starts_with("limit:"), "{}", err.message());
    let err = sup
        .watch_queues(pb::WatchQueuesRequest {
            team_id: String::new(),
            heartbeat: Some(prost_types::Duration {
                seconds: 0,
                nanos: 0,
            }),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("heartbeat:"), "{}", err.message());

    assert!(
        snapshot(&redis) == before,
        "nothing written by a refused request"
    );
    drop(offers);
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
