//! The safety net beside the classifier: every new case's classification is provisional until
//! a professional looks at it (`ListUnconfirmed`, `ConfirmTriage`); a correction re-routes the
//! case at once and is recorded; a case nobody looked at in time turns red on the board and in
//! the metrics; `GetStats` and `luotsi corrections` report what people did.

use std::time::Duration;

use luotsi::config::ChannelSecs;
use luotsi::pb;
use pb::TriageReason as Why;
use pb::Urgency as U;

use crate::county::TestCounty;
use crate::support::{cough, dental};

const TEAM: &str = "joensuu-keskus";

fn ms(t: Option<prost_types::Timestamp>) -> i64 {
    let t = t.expect("a time");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

/// A county whose first look is due one second after arrival.
async fn impatient_county() -> TestCounty {
    TestCounty::start_with(|c| {
        c.triage.first_look_secs = ChannelSecs {
            phone: 1,
            chat: 1,
            e_service: 1,
        }
    })
    .await
}

/// Every entry of the county's first-look record, oldest first.
fn triage_record(county: &TestCounty) -> Vec<std::collections::HashMap<String, String>> {
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg(county.keys().triage())
        .arg("-")
        .arg("+")
        .query(&mut county.redis())
        .unwrap();
    reply
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
async fn unconfirmed_cases_are_listed_oldest_first_with_routing_facts_only() {
    let county = TestCounty::start().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(
            county
                .submit(cough(pb::Channel::Chat, &format!("look-{i}")))
                .await
                .case_id,
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Another team's case is not on this team's list.
    county
        .submit(dental(pb::Channel::EService, "look-dental"))
        .await;

    let list = county.unconfirmed(TEAM, 0, 0).await;
    assert_eq!(list.total, 3);
    let listed: Vec<&str> = list.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(listed, ids, "oldest first");
    let first = &list.cases[0];
    assert!(first.classification_provisional);
    assert!(!first.overdue);
    assert_eq!(first.needs, ["acute_symptoms"]);
    assert_eq!(first.channel, pb::Channel::Chat as i32);
    assert_eq!(
        ms(first.first_look_due) - ms(first.arrived_at),
        900_000,
        "the default chat first look: 15 minutes"
    );

    let page = county.unconfirmed(TEAM, 2, 1).await;
    assert_eq!(page.total, 3);
    assert_eq!(page.cases.len(), 1);
    assert_eq!(page.cases[0].case_id, ids[2]);

    let case = county.case(&ids[0]).await;
    assert!(
        case.classification_provisional,
        "provisional until confirmed"
    );
    assert_eq!(case.first_look_due, first.first_look_due);
    assert!(case.triage_confirmed_at.is_none());
}

#[tokio::test]
async fn confirming_keeps_the_classification_and_ends_the_provisional_mark() {
    let county = TestCounty::start().await;
    let c = county.submit(cough(pb::Channel::Chat, "keep")).await;
    let before = county.case(&c).await;

    let answer = county
        .confirm_triage("jns-sh-1", &c, &[], U::Unspecified, Why::Unspecified)
        .await;
    assert_eq!(answer.urgency_change, "kept");
    assert!(!answer.needs_changed);
    let case = answer.case.unwrap();
    assert!(!case.classification_provisional);
    assert_eq!(case.triage_confirmed_by, "jns-sh-1");
    assert_eq!(case.urgency, before.urgency);
    assert_eq!(case.deadline, before.deadline);
    assert_eq!(county.unconfirmed(TEAM, 0, 0).await.total, 0);

    let again = county
        .try_confirm_triage("jns-sh-2", &c, &[], U::Unspecified, Why::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(again.code(), tonic::Code::FailedPrecondition, "{again:?}");
    let record = triage_record(&county);
    assert_eq!(record.len(), 1, "one first look recorded");
    assert_eq!(record[0]["direction"], "kept");
    assert_eq!(record[0]["by"], "jns-sh-1");
}

#[tokio::test]
async fn raising_to_emergency_reroutes_the_case_at_once_to_a_connected_clinician() {
    let county = TestCounty::start().await;
    // The nurse is connected but has no free slot: a normal case waits for her.
    county
        .go_online_with_capacity(
            "jns-sh-1",
            &[
                (pb::Channel::Phone, 0),
                (pb::Channel::Chat, 0),
                (pb::Channel::EService, 0),
            ],
        )
        .await;
    let c = county.submit(cough(pb::Channel::Chat, "raise")).await;
    assert_eq!(county.case(&c).await.status, pb::CaseStatus::Queued as i32);
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(300))
            .await
            .is_none()
    );

    let answer = county
        .confirm_triage("jns-sh-2", &c, &[], U::Emergency, Why::MoreSevere)
        .await;
    assert_eq!(answer.urgency_change, "raised");
    let offer = county.next_offer("jns-sh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    assert_eq!(offer.urgency, U::Emergency as i32);
    let case = county.case(&c).await;
    assert_eq!(case.queue, "alert");
    assert_eq!(case.status, pb::CaseStatus::Offered as i32);
    assert!(!case.classification_provisional);
    assert!(
        case.routing_reasons
            .iter()
            .any(|r| r.contains("triage corrected by jns-sh-2") && r.contains("more_severe")),
        "{:?}",
        case.routing_reasons
    );
}

#[tokio::test]
async fn lowering_urgency_takes_a_reason_and_is_recorded() {
    let county = TestCounty::start().await;
    let c = county.submit(cough(pb::Channel::EService, "lower")).await;
    let before = county.case(&c).await;
    assert_eq!(
        before.urgency,
        U::Soon as i32,
        "the cough is classified soon"
    );
    let stored = county.stored();

    let err = county
        .try_confirm_triage("jns-sh-1", &c, &[], U::Routine, Why::Unspecified)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let violations = tonic_types::StatusExt::get_details_bad_request(&err)
        .expect("a BadRequest detail")
        .field_violations;
    assert_eq!(violations[0].field, "reason", "{err:?}");
    assert_eq!(
        county.stored(),
        stored,
        "a refused correction writes nothing"
    );

    let answer = county
        .confirm_triage("jns-sh-1", &c, &[], U::Routine, Why::LessSevere)
        .await;
    assert_eq!(answer.urgency_change, "lowered");
    let case = answer.case.unwrap();
    assert_eq!(case.urgency, U::Routine as i32);
    assert!(ms(case.deadline) >= ms(before.deadline));
    let record = triage_record(&county);
    assert_eq!(record.len(), 1);
    let r = &record[0];
    assert_eq!(
        (r["urgency_from"].as_str(), r["urgency_to"].as_str()),
        ("soon", "routine")
    );
    assert_eq!(r["direction"], "lowered");
    assert_eq!(r["reason"], "less_severe");
    assert_eq!(r["needs_from"], "acute_symptoms");
    assert_eq!(r["late"], "0");
    assert!(
        !r.values().any(|v| v.contains("yskä")),
        "no words in the record"
    );
}

#[tokio::test]
async fn a_new_need_moves_the_case_to_a_team_with_its_professions() {
    let county = TestCounty::start().await;
    let c = county
        .submit(cough(pb::Channel::EService, "other-need"))
        .await;
    let answer = county
        .confirm_triage(
            "jns-sh-1",
            &c,
            &["oral_health"],
            U::Unspecified,
            Why::OtherNeed,
        )
        .await;
    assert!(answer.needs_changed);
    assert_eq!(answer.urgency_change, "kept");
    let case = answer.case.unwrap();
    assert_eq!(case.needs, ["oral_health"]);
    assert_eq!(case.team_id, "suunterveys");
    let queued = county.queued_cases("suunterveys", "", 0).await;
    assert_eq!(queued.len(), 1, "waiting in the dental team's queue");
    assert_eq!(queued[0].case_id, c.case_id);

    let bad = county
        .try_confirm_triage("jns-sh-1", &c, &["teeth"], U::Unspecified, Why::OtherNeed)
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("needs[0]"), "{}", bad.message());
}

/// Reads the HTTP board every 100 ms until the team's first-look-overdue figure is `n`.
async fn board_shows_overdue(county: &TestCounty, team: &str, n: u64) -> bool {
    for _ in 0..50 {
        let (_, body) = county.http_get(&format!("/api/board?team={team}")).await;
        let b: serde_json::Value = serde_json::from_str(&body).unwrap();
        if b["teams"][0]["first_look_overdue"].as_u64() == Some(n) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn a_contact_not_looked_at_in_time_turns_red_on_the_board_and_in_the_metric() {
    let county = impatient_county().await;
    let c = county
        .submit(dental(pb::Channel::EService, "overdue"))
        .await;
    assert!(
        board_shows_overdue(&county, "suunterveys", 1).await,
        "overdue on the board"
    );
    let (_, metrics) = county.http_get("/metrics").await;
    assert!(
        metrics
            .lines()
            .any(|l| l == r#"luotsi_first_look_overdue{team="suunterveys"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&c.case_id),
        "no case in the metrics' labels"
    );
    let listed = county.unconfirmed("suunterveys", 0, 0).await;
    assert!(listed.cases[0].overdue);
    let (_, board) = county.http_get("/api/board?team=etela").await;
    let board: serde_json::Value = serde_json::from_str(&board).unwrap();
    assert_eq!(
        board["teams"][0]["first_look_overdue"], 0,
        "other teams stay"
    );

    county
        .confirm_triage("suu-hh-1", &c, &[], U::Unspecified, Why::Unspecified)
        .await;
    assert!(
        board_shows_overdue(&county, "suunterveys", 0).await,
        "looked at: no longer red"
    );
    let stats = county.team_stats("suunterveys").await;
    assert_eq!((stats.first_looks, stats.first_looks_late), (1, 1));
}

#[tokio::test]
async fn get_stats_reports_time_to_first_look_and_what_people_did_per_need() {
    let county = TestCounty::start().await;
    let mut coughs = Vec::new();
    for i in 0..3 {
        coughs.push(
            county
                .submit(cough(pb::Channel::EService, &format!("stats-{i}")))
                .await,
        );
    }
    let tooth = county
        .submit(dental(pb::Channel::EService, "stats-tooth"))
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    county
        .confirm_triage(
            "jns-sh-1",
            &coughs[0],
            &[],
            U::Unspecified,
            Why::Unspecified,
        )
        .await;
    county
        .confirm_triage("jns-sh-1", &coughs[1], &[], U::Urgent, Why::MoreSevere)
        .await;
    county
        .confirm_triage("jns-sh-2", &coughs[2], &[], U::Routine, Why::PastEvent)
        .await;
    county
        .confirm_triage("suu-hh-1", &tooth, &[], U::Unspecified, Why::Unspecified)
        .await;

    let s = county.county_stats().await;
    assert_eq!(s.first_looks, 4);
    assert_eq!(s.first_looks_late, 0);
    let median = s.first_look_median.expect("a median");
    assert!(
        median.seconds > 0 || median.nanos >= 50_000_000,
        "the wait before the first look: {median:?}"
    );
    assert!(s.first_look_p90.is_some());
    let acute = &s.triage_by_need["acute_symptoms"];
    assert_eq!(
        (
            acute.urgency_kept,
            acute.urgency_raised,
            acute.urgency_lowered
        ),
        (1, 1, 1)
    );
    assert_eq!(s.triage_by_need["oral_health"].urgency_kept, 1);

    let team = county.team_stats("suunterveys").await;
    assert_eq!(team.first_looks, 1, "only the team's own");
    assert!(!team.triage_by_need.contains_key("acute_symptoms"));
}

#[tokio::test]
async fn corrections_are_exported_pseudonymised_as_json_lines() {
    let county = TestCounty::start().await;
    let c = county.submit(cough(pb::Channel::Chat, "export")).await;
    county
        .confirm_triage("jns-sh-1", &c, &[], U::Urgent, Why::NewInformation)
        .await;
    let url = county.redis_url();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_luotsi"))
            .args(["corrections", "--from", "2020-01-01", "--redis", &url])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("luotsi corrections runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let l = &lines[0];
    assert_eq!(l["urgency_change"], "raised");
    assert_eq!(l["urgency_from"], "soon");
    assert_eq!(l["urgency_to"], "urgent");
    assert_eq!(l["reason"], "new_information");
    assert_eq!(l["needs_from"][0], "acute_symptoms");
    assert!(l["case"].as_str().unwrap().starts_with('c'));
    assert!(!text.contains(&c.case_id), "no case id in clear: {text}");
    assert!(
        !text.contains("jns-sh-1"),
        "no professional id in clear: {text}"
    );
}
