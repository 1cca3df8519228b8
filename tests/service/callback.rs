//! Call-back attempts (`WorkService.RecordCallAttempt`): a missed call keeps the case with its
//! deadline and place and offers it again after the spacing; after the last attempt the case is
//! unreachable, listed for supervisors, announced once on the outbound stream, and a new contact
//! from the citizen queues it again — never dropped.

use std::time::Duration;

use luotsi::pb;
use tonic::Code;

use crate::county::TestCounty;
use crate::support::cough;

/// Three attempts, 1.2 s apart (fractions of a minute), so the test sees the spacing pass.
async fn county() -> TestCounty {
    TestCounty::start_with(|c| {
        c.callback.attempts = 3;
        c.callback.spacing_minutes = vec![0.02, 0.02];
    })
    .await
}

fn notifications(county: &TestCounty) -> Vec<std::collections::HashMap<String, String>> {
    let entries: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(county.keys().notify())
        .arg("-")
        .arg("+")
        .query(&mut county.redis())
        .unwrap();
    entries
        .ids
        .iter()
        .map(|e| {
            e.map
                .iter()
                .map(|(k, v)| (k.clone(), redis::from_redis_value_ref::<String>(v).unwrap()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn missed_calls_keep_the_case_and_after_the_last_it_is_unreachable_until_the_citizen_calls_again()
 {
    let county = county().await;
    county
        .go_online_with_capacity(
            "jns-sh-1",
            &[
                (pb::Channel::Phone, 1),
                (pb::Channel::Chat, 0),
                (pb::Channel::EService, 0),
            ],
        )
        .await;
    let first = county
        .submit(cough(pb::Channel::Phone, "cb-attempt-1"))
        .await;
    let deadline = county.case(&first).await.deadline;
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, first.case_id);
    county.accept("jns-sh-1", &first).await;

    for attempt in 1..=2u32 {
        let before = luotsi::clock::now_ms();
        let r = county
            .call_attempt("jns-sh-1", &first, pb::CallOutcome::NoAnswer)
            .await;
        assert_eq!(r.failed_attempts, attempt);
        assert!(!r.unreachable);
        let next = r.next_attempt_at.expect("a next attempt");
        let next_ms = next.seconds * 1000 + i64::from(next.nanos) / 1_000_000;
        assert!((next_ms - before - 1200).abs() < 1000, "1.2 s later");
        // Waiting with its deadline, offered to nobody before the spacing has passed, though
        // the nurse's phone slot is free again.
        let c = county.case(&first).await;
        assert_eq!(c.status, pb::CaseStatus::Queued as i32);
        assert_eq!(c.deadline, deadline, "the deadline is kept");
        assert!(
            county
                .offer_within("jns-sh-1", Duration::from_millis(400))
                .await
                .is_none(),
            "not before the spacing"
        );
        assert_eq!(county.next_offer("jns-sh-1").await.case_id, first.case_id);
        county.accept("jns-sh-1", &first).await;
    }
    let r = county
        .call_attempt("jns-sh-1", &first, pb::CallOutcome::Busy)
        .await;
    assert_eq!((r.failed_attempts, r.unreachable), (3, true));
    assert!(r.next_attempt_at.is_none());
    let c = county.case(&first).await;
    assert_eq!(c.status, pb::CaseStatus::Unreachable as i32);
    // Visible to the supervisor; on the outbound stream once, for the SMS gateway.
    let listed = county.unreachable("").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].case_id, first.case_id);
    assert_eq!(
        (listed[0].attempts, listed[0].reason.as_str()),
        (3, "attempts_exhausted")
    );
    let sent = notifications(&county);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["case"], first.case_id);
    assert_eq!(sent[0]["reason"], "attempts_exhausted");
    // The number is stored sealed, as on the case; the gateway's reader opens it.
    assert!(sent[0]["number"].starts_with("s1.w"), "{sent:?}");
    let opened = county.store().notifications("0", 10, None).await.unwrap();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].case_id, first.case_id);
    assert_eq!(opened[0].reason, "attempts_exhausted");
    assert_eq!(
        opened[0].number.as_deref(),
        Some(format!("+358{}", &crate::support::number_for("cb-attempt-1")[1..]).as_str())
    );
    assert_eq!(opened[0].attempts, 3);
    // Offered to nobody, in no queue.
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(400))
            .await
            .is_none()
    );
    assert!(
        county
            .queued_cases("joensuu-keskus", "phone", 10)
            .await
            .is_empty()
    );

    // Counted: attempts by outcome, the unreachable case.
    let s = county.county_stats().await;
    assert_eq!(s.call_attempts.get("no_answer"), Some(&2), "{s:?}");
    assert_eq!(s.call_attempts.get("busy"), Some(&1), "{s:?}");
    assert_eq!(s.unreachable, 1, "{s:?}");
    let (_, metrics) = county.http_get("/metrics").await;
    assert!(
        metrics.contains("luotsi_cases_unreachable_total 1"),
        "{metrics}"
    );

    // The citizen calls again about the same thing: the contact joins the case, which is
    // queued again and offered at once.
    let mut again = cough(pb::Channel::Phone, "cb-attempt-again");
    again.citizen.as_mut().unwrap().callback_number = cough(pb::Channel::Phone, "cb-attempt-1")
        .citizen
        .unwrap()
        .callback_number;
    let joined = county.submit(again).await;
    assert!(joined.joined_existing_case);
    assert_eq!(joined.case_id, first.case_id);
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, first.case_id);
    assert!(county.unreachable("").await.is_empty());
}

#[tokio::test]
async fn a_wrong_number_is_unreachable_at_once_and_a_supervisor_can_send_it_back() {
    let county = county().await;
    county.go_online("jns-sh-1").await;
    let c = county.submit(cough(pb::Channel::Phone, "cb-wrong")).await;
    county.next_offer("jns-sh-1").await;
    county.accept("jns-sh-1", &c).await;
    // Answered: only recorded; the case stays with her.
    let r = county
        .call_attempt("jns-sh-1", &c, pb::CallOutcome::Answered)
        .await;
    assert_eq!((r.failed_attempts, r.unreachable), (0, false));
    assert_eq!(
        county.case(&c).await.status,
        pb::CaseStatus::InProgress as i32
    );
    let r = county
        .call_attempt("jns-sh-1", &c, pb::CallOutcome::WrongNumber)
        .await;
    assert_eq!((r.failed_attempts, r.unreachable), (1, true));
    let listed = county.unreachable("joensuu-keskus").await;
    assert_eq!(listed[0].reason, "wrong_number");
    assert!(county.unreachable("suunterveys").await.is_empty());
    // The supervisor sends it back to the queue: offered again.
    county
        .supervisor("sv-anna")
        .move_case(
            &c,
            "joensuu-keskus",
            "",
            "the citizen gave a new number by letter",
        )
        .await;
    assert_eq!(county.case(&c).await.status, pb::CaseStatus::Offered as i32);
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, c.case_id);
}

#[tokio::test]
async fn a_call_attempt_is_refused_naming_why_and_nothing_is_written() {
    let county = county().await;
    county.go_online("jns-sh-1").await;
    let phone = county.submit(cough(pb::Channel::Phone, "cb-bad-1")).await;
    county.next_offer("jns-sh-1").await;
    let before = county.stored();
    // No outcome.
    let e = county
        .try_call_attempt("jns-sh-1", &phone, 0)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("outcome"), "{e:?}");
    // Offered, not yet accepted: not hers to call.
    let e = county
        .try_call_attempt("jns-sh-1", &phone, pb::CallOutcome::NoAnswer as i32)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    // Not her case at all.
    let e = county
        .try_call_attempt("jns-sh-2", &phone, pb::CallOutcome::NoAnswer as i32)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert_eq!(county.stored(), before, "nothing written");
    // A message is no call-back.
    county.accept("jns-sh-1", &phone).await;
    county.complete("jns-sh-1", &phone).await;
    let message = county
        .submit(cough(pb::Channel::EService, "cb-bad-2"))
        .await;
    county.next_offer("jns-sh-1").await;
    county.accept("jns-sh-1", &message).await;
    let e = county
        .try_call_attempt("jns-sh-1", &message, pb::CallOutcome::NoAnswer as i32)
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
    assert!(e.message().contains("call-backs"), "{e:?}");
}

fn at(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn with_window(
    mut r: pb::SubmitContactRequest,
    from: Option<i64>,
    to: Option<i64>,
) -> pb::SubmitContactRequest {
    r.callback_window = Some(pb::CallbackWindow {
        not_before: from.map(at),
        not_after: to.map(at),
    });
    r
}

/// The citizen chooses when to be called: nobody is offered the case before the window opens,
/// though a nurse is free; the answer and GetCase say the chosen window, in the citizen's words.
#[tokio::test]
async fn a_chosen_call_back_time_is_kept_and_said() {
    let county = county().await;
    county.go_online("jns-sh-1").await;
    let now = luotsi::clock::now_ms();
    let (from, to) = (now + 1500, now + 3_600_000);
    let a = county
        .submit(with_window(
            cough(pb::Channel::Phone, "win-1"),
            Some(from),
            Some(to),
        ))
        .await;
    assert_eq!(a.status, pb::CaseStatus::Queued as i32);
    assert_eq!(a.callback_window_start, Some(at(from)));
    assert_eq!(a.callback_window_end, Some(at(to)));
    assert!(
        a.citizen_message.contains("valitsemanasi aikana"),
        "{}",
        a.citizen_message
    );
    let c = county.case(&a).await;
    assert_eq!(c.callback_window_start, Some(at(from)));
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(700))
            .await
            .is_none(),
        "not before the window opens"
    );
    assert_eq!(county.next_offer("jns-sh-1").await.case_id, a.case_id);
}

/// Cases are ordered by the chosen window's end: a message whose citizen asked to be contacted
/// within the hour goes ahead of one due tomorrow.
#[tokio::test]
async fn a_chosen_window_orders_the_case_by_its_end() {
    let county = county().await;
    let plain = county
        .submit(cough(pb::Channel::EService, "win-order-1"))
        .await;
    let now = luotsi::clock::now_ms();
    let soon = county
        .submit(with_window(
            cough(pb::Channel::EService, "win-order-2"),
            None,
            Some(now + 3_600_000),
        ))
        .await;
    let listed: Vec<String> = county
        .queued_cases("joensuu-keskus", "e_service", 10)
        .await
        .into_iter()
        .map(|q| q.case_id)
        .collect();
    assert_eq!(listed, vec![soon.case_id, plain.case_id]);
}

#[tokio::test]
async fn a_window_is_refused_naming_its_field_and_nothing_is_written() {
    let county = county().await;
    let now = luotsi::clock::now_ms();
    let before = county.stored();
    let refused = |r: Result<pb::SubmitContactResponse, tonic::Status>, field: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
        assert!(e.message().starts_with(field), "{field}: {e:?}");
        e.message().to_string()
    };
    // Past the deadline: the latest allowed end is named.
    let far = now + 400 * 86_400_000;
    let m = refused(
        county
            .try_submit(with_window(
                cough(pb::Channel::Phone, "win-bad-1"),
                None,
                Some(far),
            ))
            .await,
        "callback_window.not_after",
    );
    assert!(m.contains("latest allowed end is 20"), "{m}");
    refused(
        county
            .try_submit(with_window(
                cough(pb::Channel::Chat, "win-bad-2"),
                None,
                Some(now + 600_000),
            ))
            .await,
        "callback_window",
    );
    refused(
        county
            .try_submit(with_window(
                cough(pb::Channel::Phone, "win-bad-3"),
                None,
                Some(now - 60_000),
            ))
            .await,
        "callback_window.not_after",
    );
    refused(
        county
            .try_submit(with_window(
                cough(pb::Channel::Phone, "win-bad-4"),
                Some(now + 7_200_000),
                Some(now + 3_600_000),
            ))
            .await,
        "callback_window.not_after",
    );
    assert_eq!(county.stored(), before, "nothing written");
}
