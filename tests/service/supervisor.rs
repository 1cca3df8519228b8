//! Duty supervisors: the live board (WatchQueues), the cases waiting, the recorded actions, and
//! the HTTP port's metrics and readiness — against real Redis.

use std::collections::HashMap;
use std::time::Duration;

use luotsi::pb;
use tonic::Code;

use crate::county::{TestCounty, Updates, WAIT};
use crate::support::{contact, cough, dental};

fn tile<'a>(b: &'a pb::QueueBoard, team: &str, queue: &str) -> &'a pb::QueueTile {
    b.teams
        .iter()
        .find(|t| t.team_id == team)
        .and_then(|t| t.queues.iter().find(|q| q.queue == queue))
        .unwrap_or_else(|| panic!("tile {team}/{queue}"))
}

fn staff<'a>(b: &'a pb::QueueBoard, team: &str, prof: &str) -> &'a pb::StaffFigures {
    b.teams
        .iter()
        .find(|t| t.team_id == team)
        .and_then(|t| t.staff.iter().find(|s| s.profession == prof))
        .unwrap_or_else(|| panic!("staff {team}/{prof}"))
}

/// Reads snapshots until one satisfies `ok`, or fails after `within`.
async fn until(
    stream: &mut Updates<pb::QueueBoard>,
    within: Duration,
    ok: impl Fn(&pb::QueueBoard) -> bool,
) -> pb::QueueBoard {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, stream.message()).await {
            Ok(Ok(Some(b))) if ok(&b) => return b,
            Ok(Ok(Some(_))) => continue,
            other => panic!("no snapshot as expected within {within:?}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn the_board_follows_every_change_and_beats_when_nothing_happens() {
    let county = TestCounty::start().await;
    let mut board = county
        .watch_queues("suunterveys", Some(Duration::from_secs(1)))
        .await;
    let first = board.message().await.unwrap().expect("a snapshot at once");
    assert_eq!(first.teams.len(), 1, "only the team asked for");
    assert!(!first.stale);
    assert_eq!(tile(&first, "suunterveys", "e_service").depth, 0);
    assert_eq!(staff(&first, "suunterveys", "dental_nurse").offline, 2);

    // Three dental messages arrive: the e-service tile shows them, by urgency.
    for i in 0..3 {
        county
            .submit(dental(pb::Channel::EService, &format!("board-{i}")))
            .await;
    }
    let b = until(&mut board, WAIT, |b| {
        tile(b, "suunterveys", "e_service").depth == 3
    })
    .await;
    let t = tile(&b, "suunterveys", "e_service");
    assert_eq!(t.emergency + t.urgent + t.soon + t.routine, 3);
    assert!(t.oldest_wait.is_some());

    // A dental nurse goes on break; another comes online and takes work.
    county.set_presence("suu-hh-2", pb::Presence::OnBreak).await;
    county.go_online("suu-hh-1").await;
    let offer = county.next_offer("suu-hh-1").await;
    let b = until(&mut board, WAIT, |b| {
        let s = staff(b, "suunterveys", "dental_nurse");
        s.on_break == 1 && s.busy == 1
    })
    .await;
    assert!(tile(&b, "suunterveys", "e_service").depth < 3);

    // Accepting counts towards today's service level.
    county.accept("suu-hh-1", &offer).await;
    until(&mut board, WAIT, |b| b.teams[0].taken_today == 1).await;

    // Nothing changes now: a heartbeat still arrives within about a second.
    let quiet = tokio::time::Instant::now();
    board.message().await.unwrap().expect("heartbeat");
    assert!(quiet.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn queued_cases_come_most_urgent_first_and_carry_no_personal_data() {
    // Rules only: this is about the list's order and privacy, and the trained signal raises
    // the feverish child below to an emergency (a false alarm SAFETY.md counts).
    let county =
        TestCounty::start_with(|c| c.classifier.model = luotsi::classify::ModelMode::Off).await;
    let hetu = "131052-308T";
    let number = "+358401234567";
    let mut routine = contact(
        pb::Channel::Phone,
        "list-1",
        "Haluaisin varata ajan verenpaineen seurantaan, ei kiirettä.",
        "",
        "Joensuu",
    );
    routine.citizen.as_mut().unwrap().identity_code = hetu.into();
    routine.citizen.as_mut().unwrap().callback_number = number.into();
    let first = county.submit(routine).await;
    let urgent = county
        .submit(contact(
            pb::Channel::Phone,
            "list-2",
            "Lapsella on ollut yli 40 asteen kuume eikä se laske lääkkeellä",
            "",
            "Joensuu",
        ))
        .await;
    assert_eq!(first.team_id, urgent.team_id);
    let list = county.queued_cases(&first.team_id, "", 0).await;
    let ids: Vec<&str> = list.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(ids, [urgent.case_id.as_str(), first.case_id.as_str()]);
    let top = &list[0];
    assert_eq!(top.urgency, pb::Urgency::Urgent as i32);
    assert_eq!(top.channel, pb::Channel::Phone as i32);
    assert_eq!(top.language, "fi");
    assert!(top.deadline.is_some() && top.waited.is_some());
    assert!(!top.routing_reasons.is_empty());
    let shown = format!("{list:?}");
    for secret in [hetu, number, "verenpaineen", "kuume"] {
        assert!(!shown.contains(secret), "`{secret}` shown to supervisors");
    }
}

#[tokio::test]
async fn a_moved_case_is_offered_in_its_new_team_and_the_move_is_recorded() {
    let county = TestCounty::start().await;
    let c = county.submit(cough(pb::Channel::EService, "move-1")).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    let anna = county.supervisor("sv-anna");
    // The oral health team has no nurse or doctor for this case: refused, nothing moved.
    let err = anna
        .try_move_case(&c, "suunterveys", "", "testing")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("team_id"), "{}", err.message());

    county.go_online("ete-sh-1").await;
    let moved = anna
        .move_case(&c, "etela", "phone", "Joensuu is short of nurses today")
        .await;
    assert_eq!(moved.team_id, "etela");
    assert_eq!(moved.channel, pb::Channel::Phone as i32);
    // Offered in the new team.
    let offer = county.next_offer("ete-sh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    let reasons = county.case(&c).await.routing_reasons.join("\n");
    assert!(
        reasons.contains("move by supervisor sv-anna")
            && reasons.contains("Joensuu is short of nurses today"),
        "{reasons}"
    );
    let audit: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(county.keys().audit())
        .arg("-")
        .arg("+")
        .query::<redis::streams::StreamRangeReply>(&mut county.redis())
        .unwrap()
        .ids
        .into_iter()
        .map(|e| {
            let m = e
                .map
                .iter()
                .map(|(k, v)| (k.clone(), redis::from_redis_value_ref::<String>(v).unwrap()))
                .collect();
            (e.id, m)
        })
        .collect();
    assert_eq!(audit.len(), 1, "the refused move is not recorded as done");
    let entry = &audit[0].1;
    assert_eq!(entry["by"], "sv-anna");
    assert_eq!(entry["action"], "move");
    assert_eq!(entry["case"], c.case_id);
    // What the supervisor wrote is stored sealed (encryption at rest) and opens again.
    let sealed = entry["reason"]
        .strip_prefix("{{")
        .and_then(|r| r.strip_suffix("}}"))
        .expect("a sealed reason");
    assert!(sealed.starts_with("s1.r"), "{sealed}");
    assert_eq!(
        county
            .store()
            .open_value(luotsi::store::seal::REASON_AAD, sealed.to_string())
            .await
            .unwrap()
            .as_deref(),
        Some("Joensuu is short of nurses today")
    );
}

#[tokio::test]
async fn raising_a_waiting_case_to_emergency_reaches_the_duty_nurse_at_once() {
    let county = TestCounty::start().await;
    // The nurse takes phone work only: an e-service message waits.
    county
        .go_online_with_capacity(
            "jns-sh-1",
            &[(pb::Channel::EService, 0), (pb::Channel::Chat, 0)],
        )
        .await;
    let c = county
        .submit(contact(
            pb::Channel::EService,
            "raise-1",
            "Isällä on ollut huimausta ja päänsärkyä muutaman päivän",
            "acute_symptoms",
            "Joensuu",
        ))
        .await;
    assert_eq!(c.status, pb::CaseStatus::Queued as i32);
    assert!(
        county
            .offer_within("jns-sh-1", Duration::from_millis(300))
            .await
            .is_none()
    );

    let raised = county
        .supervisor("sv-ville")
        .set_urgency(
            &c,
            pb::Urgency::Emergency,
            "daughter called back: speech slurred",
        )
        .await;
    assert_eq!(raised.urgency, pb::Urgency::Emergency as i32);
    assert_eq!(raised.queue, "alert");
    // Offered to the duty nurse at once.
    let offer = county.next_offer("jns-sh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    assert_eq!(offer.urgency, pb::Urgency::Emergency as i32);
    assert!(
        raised
            .routing_reasons
            .iter()
            .any(|r| r.contains("urgency by supervisor sv-ville") && r.contains("-> emergency")),
        "{:?}",
        raised.routing_reasons
    );
}

#[tokio::test]
async fn lowering_urgency_moves_the_case_behind_and_its_deadline_later() {
    let county = TestCounty::start().await;
    let urgent = county
        .submit(contact(
            pb::Channel::Phone,
            "lower-1",
            "Lapsella on ollut yli 40 asteen kuume eikä se laske lääkkeellä",
            "",
            "Joensuu",
        ))
        .await;
    let routine = county
        .submit(contact(
            pb::Channel::Phone,
            "lower-2",
            "Haluaisin varata ajan verenpaineen seurantaan, ei kiirettä.",
            "",
            "Joensuu",
        ))
        .await;
    let before = county.case(&urgent).await;
    let lowered = county
        .supervisor("sv-ville")
        .set_urgency(
            &urgent,
            pb::Urgency::Routine,
            "fever came down, parent says",
        )
        .await;
    assert_eq!(lowered.urgency, pb::Urgency::Routine as i32);
    assert!(lowered.deadline.unwrap().seconds >= before.deadline.unwrap().seconds);
    let list = county.queued_cases(&urgent.team_id, "phone", 10).await;
    let ids: Vec<&str> = list.iter().map(|c| c.case_id.as_str()).collect();
    // Both routine now, same-day call-back rule: the earlier arrival first.
    assert_eq!(ids, [urgent.case_id.as_str(), routine.case_id.as_str()]);
    assert!(
        list.iter()
            .all(|c| c.urgency == pb::Urgency::Routine as i32)
    );
}

#[tokio::test]
async fn a_released_offer_goes_to_a_colleague_not_back() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let c = county
        .submit(dental(pb::Channel::EService, "release-1"))
        .await;
    let offer = county.next_offer("suu-hh-1").await;
    assert_eq!(offer.case_id, c.case_id);
    let anna = county.supervisor("sv-anna");
    county.go_online("suu-hh-2").await;
    let released = anna.release_offer(&c, "no answer for 10 minutes").await;
    assert!(
        released
            .routing_reasons
            .iter()
            .any(|r| r.contains("release by supervisor sv-anna") && r.contains("suu-hh-1")),
        "{:?}",
        released.routing_reasons
    );
    // To the colleague.
    let again = county.next_offer("suu-hh-2").await;
    assert_eq!(again.case_id, c.case_id);
    assert!(
        county
            .offer_within("suu-hh-1", Duration::from_millis(300))
            .await
            .is_none()
    );
    // Not offered any more: a second release is refused and changes nothing.
    county.accept("suu-hh-2", &c).await;
    let err = anna.try_release_offer(&c, "again").await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        county.case(&c).await.status,
        pb::CaseStatus::InProgress as i32
    );
}

#[tokio::test]
async fn supervisor_requests_with_bad_fields_are_refused_naming_the_field() {
    let county = TestCounty::start().await;
    let c = county
        .submit(dental(pb::Channel::EService, "bad-sup-1"))
        .await;
    // (team, queue, supervisor, reason) of a move, and the field it is refused for.
    for (team, queue, by, why, field) in [
        ("etela", "", "sv-anna", " ", "reason"),
        ("nowhere", "", "sv-anna", "why", "team_id"),
        ("", "", "sv-anna", "why", "team_id"),
        ("", "fax", "sv-anna", "why", "queue"),
    ] {
        let err = county
            .supervisor(by)
            .try_move_case(&c, team, queue, why)
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }
    let err = county
        .supervisor("sv-anna")
        .try_set_urgency(&c, 0, "why")
        .await
        .unwrap_err();
    assert!(err.message().starts_with("urgency"), "{}", err.message());
    let err = county.try_queued_cases("", "", 0).await.unwrap_err();
    assert!(err.message().starts_with("team_id"), "{}", err.message());
    let err = county.try_watch_queues("nowhere", None).await.unwrap_err();
    assert!(err.message().starts_with("team_id"), "{}", err.message());
    // Nothing was changed or recorded by the refused requests.
    assert_eq!(county.case(&c).await.team_id, "suunterveys");
    let audit: usize = redis::cmd("XLEN")
        .arg(county.keys().audit())
        .query(&mut county.redis())
        .unwrap();
    assert_eq!(audit, 0);
}

/// Parses the Prometheus text format into `name{labels}` → value.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (name, value) = l.rsplit_once(' ').expect("`name value`");
            (name.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_what_happened_and_name_no_one() {
    let county = TestCounty::start().await;
    county.go_online("suu-hh-1").await;
    let mut req = dental(pb::Channel::EService, "metrics-1");
    req.citizen.as_mut().unwrap().identity_code = "131052-308T".into();
    county.submit(req.clone()).await;
    county.submit(req).await; // a retry
    county
        .submit(dental(pb::Channel::EService, "metrics-2"))
        .await;
    let offer = county.next_offer("suu-hh-1").await;
    for _ in 0..2 {
        // The second time is a harmless repeat, not a second acceptance.
        county.accept("suu-hh-1", &offer).await;
    }
    county.complete("suu-hh-1", &offer).await;
    // The board refresh (and so the queue gauges) follows within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, text) = county.http_get("/metrics").await;
    assert_eq!(status, 200);
    let m = parse_metrics(&text);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("{k} missing in\n{text}"));
    assert_eq!(
        get(
            r#"luotsi_contacts_submitted_total{channel="e_service",need="oral_health",result="new"}"#
        ),
        2.0
    );
    assert_eq!(
        get(
            r#"luotsi_contacts_submitted_total{channel="e_service",need="oral_health",result="duplicate"}"#
        ),
        1.0
    );
    assert_eq!(get(r#"luotsi_offers_total{result="accepted"}"#), 1.0);
    assert_eq!(
        get(r#"luotsi_cases_completed_total{outcome="resolved_at_first_contact"}"#),
        1.0
    );
    // The second case was pulled when the first completed: nothing waits.
    assert_eq!(
        get(r#"luotsi_queue_depth{team="suunterveys",queue="e_service"}"#),
        0.0
    );
    assert!(get(r#"luotsi_rpc_duration_seconds_count{method="SubmitContact"}"#) >= 3.0);
    assert!(get("luotsi_redis_roundtrip_seconds_count") >= 1.0);
    assert_eq!(get("luotsi_board_stale"), 0.0);
    assert!(!text.contains("131052"), "no identity code in metrics");
}

#[tokio::test]
async fn readiness_and_the_board_follow_redis_down_and_back() {
    let mut county = TestCounty::start().await;
    assert_eq!(county.http_get("/readyz").await.0, 200);
    assert_eq!(county.http_get("/healthz").await.0, 200);
    let (status, page) = county.http_get("/").await;
    assert_eq!(status, 200);
    assert!(page.contains("api/board"));
    let board = |body: String| -> serde_json::Value { serde_json::from_str(&body).unwrap() };
    let (_, b) = county.http_get("/api/board?team=suunterveys").await;
    let b = board(b);
    assert_eq!(b["stale"], false);
    assert_eq!(b["teams"].as_array().unwrap().len(), 1);

    county.stop_redis();
    assert!(
        board_turns(&county, true, 50).await,
        "the board says its figures are stale"
    );
    assert_eq!(county.http_get("/readyz").await.0, 503);
    assert_eq!(county.http_get("/healthz").await.0, 200);
    let (_, b) = county.http_get("/api/board").await;
    assert_eq!(
        board(b)["teams"].as_array().unwrap().len(),
        8,
        "last figures kept"
    );

    county.start_redis_again();
    assert!(board_turns(&county, false, 100).await, "the board recovers");
    assert_eq!(county.http_get("/readyz").await.0, 200);
}

/// Reads the HTTP board every 100 ms, at most `tries` times, until its `stale` flag is `stale`.
async fn board_turns(county: &TestCounty, stale: bool, tries: usize) -> bool {
    for _ in 0..tries {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, body) = county.http_get("/api/board").await;
        let b: serde_json::Value = serde_json::from_str(&body).unwrap();
        if b["stale"] == stale {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn the_terminal_table_shows_the_same_figures() {
    let county = TestCounty::start().await;
    for i in 0..2 {
        county
            .submit(dental(pb::Channel::EService, &format!("table-{i}")))
            .await;
    }
    let addr = format!("http://{}", county.grpc_addr());
    let token = crate::harness::token(luotsi::auth::Role::Ops, "ops-terminal");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_luotsi"))
            .args(["queues", "--addr", &addr, "--team", "suunterveys"])
            .env("LUOTSI_TOKEN", token)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("luotsi queues runs")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let row: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("suunterveys") && l.contains("e_service"))
        .unwrap_or_else(|| panic!("no e_service row in\n{text}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[2], "2", "two waiting: {text}");
    assert!(!text.contains("joensuu-keskus"), "only the team asked for");
    assert!(
        text.contains("nobody signed in"),
        "only professions someone is signed in for: {text}"
    );
    assert!(!text.contains("dental_nurse 0/0/0"), "{text}");
}

#[tokio::test]
async fn list_queues_answers_from_the_board_marked_stale_while_redis_is_down() {
    let mut county = TestCounty::start().await;
    county
        .submit(dental(pb::Channel::EService, "stale-1"))
        .await;
    let fresh = county.try_list_queues("suunterveys").await.unwrap();
    assert!(!fresh.stale);
    assert_eq!(fresh.queues.iter().map(|q| q.depth).sum::<u32>(), 1);
    // The board has read the case too before Redis goes.
    let mut seen = false;
    for _ in 0..50 {
        let (_, body) = county.http_get("/api/board?team=suunterveys").await;
        let b: serde_json::Value = serde_json::from_str(&body).unwrap();
        let depth: u64 = b["teams"][0]["queues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["depth"].as_u64().unwrap())
            .sum();
        if depth == 1 {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(seen, "the board shows the case");

    county.stop_redis();
    let during = county
        .try_list_queues("suunterveys")
        .await
        .expect("answered from the board");
    assert!(during.stale, "marked stale");
    let figures = |r: &pb::ListQueuesResponse| -> Vec<(String, String, u32)> {
        r.queues
            .iter()
            .map(|q| (q.team_id.clone(), q.queue.clone(), q.depth))
            .collect()
    };
    assert_eq!(figures(&during), figures(&fresh), "the last figures");

    county.start_redis_again();
    let mut recovered = false;
    for _ in 0..50 {
        if county
            .try_list_queues("suunterveys")
            .await
            .is_ok_and(|r| !r.stale)
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "fresh figures once Redis is back");
}

#[tokio::test]
async fn a_queue_row_counts_free_slots_and_offers_and_says_when_nobody_can_take_its_cases() {
    let county = TestCounty::start().await;
    let mut board = county.watch_queues("suunterveys", None).await;
    let first = county.submit(dental(pb::Channel::Phone, "row-1")).await;
    // Nobody signed in: the phone row is unstaffed.
    let b = until(&mut board, WAIT, |b| {
        tile(b, "suunterveys", "phone").depth == 1
    })
    .await;
    let t = tile(&b, "suunterveys", "phone");
    assert!(t.unstaffed, "{t:?}");
    assert_eq!((t.available_professionals, t.online_professionals), (0, 0));

    // One phone slot, taken at once by an offer: offered, no free slot, not unstaffed — where
    // the board once counted her as free on the phone while her staff line said busy.
    county
        .go_online_with_capacity(
            "suu-hh-1",
            &[
                (pb::Channel::Phone, 1),
                (pb::Channel::Chat, 2),
                (pb::Channel::EService, 0),
            ],
        )
        .await;
    let offer = county.next_offer("suu-hh-1").await;
    assert_eq!(offer.case_id, first.case_id);
    let b = until(&mut board, WAIT, |b| {
        tile(b, "suunterveys", "phone").offered == 1
    })
    .await;
    let phone = tile(&b, "suunterveys", "phone");
    assert_eq!(phone.depth, 0);
    assert_eq!(phone.available_professionals, 0, "no free phone slot");
    assert_eq!(phone.online_professionals, 1);
    assert!(!phone.unstaffed);
    // Her chat slots are free: the chat row counts her.
    assert_eq!(tile(&b, "suunterveys", "chat").available_professionals, 1);
    assert_eq!(staff(&b, "suunterveys", "dental_nurse").busy, 1);

    // Accepted: no longer offered; ListQueues says the same.
    county.accept("suu-hh-1", &offer).await;
    until(&mut board, WAIT, |b| {
        tile(b, "suunterveys", "phone").offered == 0
    })
    .await;
    county.submit(dental(pb::Channel::Phone, "row-2")).await;
    let listed = county.try_queues("suunterveys").await.unwrap();
    let phone = listed.iter().find(|q| q.queue == "phone").unwrap();
    assert_eq!((phone.depth, phone.offered), (1, 0));
    assert!(!phone.unstaffed, "she can take it when she is done");
}

#[tokio::test]
async fn the_boards_case_list_is_for_supervisors_of_the_team_and_each_opening_is_logged() {
    let county = TestCounty::start().await;
    let c = county
        .submit(dental(pb::Channel::EService, "drill-1"))
        .await;
    let (status, body) = county.http_get("/api/board/cases?team=suunterveys").await;
    assert_eq!(status, 200, "{body}");
    let rows: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["needs"][0], "oral_health");
    assert_eq!(rows[0]["queue"], "e_service");
    assert!(c.case_id.starts_with(rows[0]["case"].as_str().unwrap()));
    for private in ["text", "callback_number", "citizen", "reasons"] {
        assert!(rows[0].get(private).is_none(), "{private} in {body}");
    }
    let logged: Vec<_> = county
        .access_log()
        .await
        .into_iter()
        .filter(|e| e.action == "board_cases")
        .collect();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].case_id, c.case_id);
    assert_eq!(logged[0].purpose, pb::PurposeOfUse::Supervision as i32);

    // Ops see the figures, not the cases; a supervisor of another team neither; no team, no list.
    let ops = crate::harness::token(luotsi::auth::Role::Ops, "ops-1");
    let (status, _) = crate::harness::http_get(
        county.http_addr(),
        "/api/board/cases?team=suunterveys",
        Some(&ops),
    )
    .await;
    assert_eq!(status, 403);
    let other = crate::harness::supervisor_token("sup-perhe", &["perhe-ja-lastensuojelu"]);
    let (status, _) = crate::harness::http_get(
        county.http_addr(),
        "/api/board/cases?team=suunterveys",
        Some(&other),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = county.http_get("/api/board/cases").await;
    assert_eq!((status, body.trim()), (400, "team: required"));
    let (status, _) = county
        .http_get_anonymous("/api/board/cases?team=suunterveys")
        .await;
    assert_eq!(status, 401);
}

/// The staffing forecast reads the same weekday of the last four weeks: 200 call-backs between
/// 10 and 11 on each, three minutes each, is 10 Erlangs, and 80 % within 20 seconds needs 14
/// professionals (the classic Erlang C example). The contacts and completions the service
/// records carry what the forecast reads (channel, handling time).
#[tokio::test]
async fn plan_staffing_forecasts_each_hour_from_the_same_weekday() {
    let county = TestCounty::start_with(|c| {
        c.staffing.phone_within_secs = 20;
        c.staffing.max_occupancy = 1.0;
    })
    .await;
    let today = luotsi::domain::calendar::local_date(luotsi::clock::now());
    let mut conn = county.redis();
    for week in (1..=4u64).rev() {
        let day = today - chrono::Days::new(7 * week);
        let ten = luotsi::domain::calendar::local_time(
            day,
            chrono::NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
        )
        .timestamp_millis();
        for i in 0..200i64 {
            let at = ten + i * 17_000;
            let _: String = redis::cmd("XADD")
                .arg(county.keys().stats())
                .arg(format!("{at}-0"))
                .arg(&[
                    "k",
                    "contact",
                    "team",
                    "joensuu-keskus",
                    "need",
                    "acute_symptoms",
                ])
                .arg(&["joined", "0", "recontact", "0", "ch", "phone"])
                .query(&mut conn)
                .unwrap();
            let _: String = redis::cmd("XADD")
                .arg(county.keys().stats())
                .arg(format!("{at}-1"))
                .arg(&[
                    "k",
                    "done",
                    "team",
                    "joensuu-keskus",
                    "outcome",
                    "resolved_at_first_contact",
                ])
                .arg(&["contacts", "1", "ch", "phone", "handled", "180000"])
                .query(&mut conn)
                .unwrap();
        }
    }
    let plan = county
        .plan_staffing(&today.to_string(), "joensuu-keskus")
        .await;
    assert_eq!(plan.weeks, 4);
    assert_eq!(plan.hours.len(), 1, "{plan:?}");
    let h = &plan.hours[0];
    assert_eq!((h.hour, h.channel), (10, pb::Channel::Phone as i32));
    assert!((h.arrivals - 200.0).abs() < 1e-9);
    assert_eq!(h.average_handling.as_ref().unwrap().seconds, 180);
    assert_eq!(h.professionals, 14);
    assert!((h.service_level - 0.889).abs() < 0.001, "{h:?}");
    assert!(
        plan.csv
            .lines()
            .nth(1)
            .unwrap()
            .contains(",10,joensuu-keskus,phone,200.00,180,14,")
    );

    // What the service writes: a call-back contact and its completion carry channel and
    // handling time.
    county.go_online("jns-sh-1").await;
    let c = county.submit(cough(pb::Channel::Phone, "staffing-1")).await;
    county.next_offer("jns-sh-1").await;
    county.accept("jns-sh-1", &c).await;
    county.complete("jns-sh-1", &c).await;
    let entries: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(county.keys().stats())
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(3)
        .query(&mut conn)
        .unwrap();
    let kinds: Vec<(String, String, bool)> = entries
        .ids
        .iter()
        .map(|e| {
            let get = |k: &str| e.get::<String>(k).unwrap_or_default();
            (get("k"), get("ch"), e.map.contains_key("handled"))
        })
        .collect();
    assert!(
        kinds.contains(&("done".into(), "phone".into(), true)),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("contact".into(), "phone".into(), false)),
        "{kinds:?}"
    );
    // A bad day is refused naming the field.
    let e = county
        .try_plan_staffing("24.11.2026", "")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("date"), "{e:?}");
}

/// The monthly report: each finished day's statistics rolled up into an aggregate kept 400
/// days, so the month is reported after the 31-day statistics stream has let them go.
#[tokio::test]
async fn the_monthly_report_outlives_the_statistics_stream() {
    let county = TestCounty::start().await;
    let today = luotsi::domain::calendar::local_date(luotsi::clock::now());
    let day = today - chrono::Days::new(2);
    let month = day.format("%Y-%m").to_string();
    let noon = luotsi::domain::calendar::local_time(
        day,
        chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
    )
    .timestamp_millis();
    let assessment = "Health Care Act 1326/2010 §51";
    let guarantee = "Health Care Act 1326/2010 §51 a";
    let entries: Vec<Vec<(&str, &str)>> = vec![
        vec![("k", "contact"), ("joined", "0"), ("recontact", "0")],
        vec![("k", "contact"), ("joined", "0"), ("recontact", "1")],
        vec![("k", "contact"), ("joined", "1")],
        vec![
            ("k", "first"),
            ("wait", "600000"),
            ("late", "0"),
            ("dlaw", assessment),
            ("lang", "sv"),
            ("interp", "0"),
        ],
        vec![
            ("k", "first"),
            ("wait", "1800000"),
            ("late", "1"),
            ("dlaw", assessment),
            ("lang", "sv"),
            ("interp", "1"),
        ],
        vec![
            ("k", "done"),
            ("outcome", "resolved_at_first_contact"),
            ("contacts", "1"),
            ("slaw", guarantee),
            ("slate", "0"),
        ],
        vec![
            ("k", "done"),
            ("outcome", "referred_on"),
            ("contacts", "2"),
            ("slaw", ""),
            ("slate", "0"),
        ],
        vec![("k", "attempt"), ("outcome", "no_answer")],
        vec![("k", "unreachable"), ("reason", "attempts_exhausted")],
    ];
    let mut conn = county.redis();
    for (i, e) in entries.iter().enumerate() {
        let mut cmd = redis::cmd("XADD");
        cmd.arg(county.keys().stats())
            .arg(format!("{}-0", noon + i as i64))
            .arg(&["team", "joensuu-keskus", "ch", "phone"]);
        for (k, v) in e {
            cmd.arg(k).arg(v);
        }
        let _: String = cmd.query(&mut conn).unwrap();
    }
    let first = county.monthly_report(&month).await;
    let row = first
        .rows
        .iter()
        .find(|r| r.team_id == "joensuu-keskus" && r.channel == "phone")
        .unwrap_or_else(|| panic!("{first:?}"));
    let n = |k: &str| row.counters.get(k).copied().unwrap_or(0);
    assert_eq!((n("contacts"), n("cases"), n("recontacts")), (3, 2, 2));
    assert_eq!((n("completed"), n("one_contact")), (2, 1));
    assert_eq!((n("assessment_met"), n("assessment_late")), (1, 1));
    assert_eq!((n("guarantee_met"), n("guarantee_late")), (1, 0));
    assert_eq!(
        (n("lang_sv"), n("lang_sv_own"), n("interpreter")),
        (2, 1, 1)
    );
    assert_eq!((n("attempts_no_answer"), n("unreachable")), (1, 1));
    let line = first
        .csv
        .lines()
        .find(|l| l.contains(",joensuu-keskus,phone,"))
        .unwrap();
    // contacts, cases, recontacts, completed, one-contact %, first responses, mean first
    // response (min), same-day assessment %, care guarantee %, Swedish in Swedish %, Sámi,
    // call-back attempts, unreachable.
    assert!(
        line.ends_with(",joensuu-keskus,phone,3,2,2,2,50.0,2,20.0,50.0,100.0,50.0,,1,1"),
        "{line}"
    );
    assert!(first.html.contains("<table>") && first.html.contains("Siun sote"));
    let ttl: i64 = redis::cmd("TTL")
        .arg(county.keys().day_aggregate(&day.to_string()))
        .query(&mut conn)
        .unwrap();
    assert!(ttl > 399 * 86_400, "kept 400 days: {ttl}");

    // The statistics stream lets the day go; the report stays the same.
    let _: i64 = redis::cmd("XTRIM")
        .arg(county.keys().stats())
        .arg("MAXLEN")
        .arg(0)
        .query(&mut conn)
        .unwrap();
    let again = county.monthly_report(&month).await;
    assert_eq!(again.rows, first.rows);
    // A month long gone has no roll-ups: its days are reported missing, not as zeros.
    let old = county.monthly_report("2025-01").await;
    assert!(old.rows.is_empty());
    assert_eq!(old.missing_days.len(), 31);
    let e = county.try_monthly_report("11/2026").await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("month"), "{e:?}");
}
