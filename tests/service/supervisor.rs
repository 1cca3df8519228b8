//! Duty supervisors: the live board (WatchQueues), the cases waiting, the recorded actions, and
//! the HTTP port's metrics and readiness — against real Redis.

use std::collections::HashMap;
use std::time::Duration;

use luotsi::pb;
use tonic::Code;

use crate::harness::{Luotsi, RedisServer, http_get};
use crate::support::{case, contact, cough, dental, go_online, next_offer, submit};

const WAIT: Duration = Duration::from_secs(5);

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
    stream: &mut tonic::Streaming<pb::QueueBoard>,
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
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut sup = svc.supervisor().await;
    let mut board = sup
        .watch_queues(pb::WatchQueuesRequest {
            team_id: "suunterveys".into(),
            heartbeat: Some(prost_types::Duration {
                seconds: 1,
                nanos: 0,
            }),
        })
        .await
        .expect("watch")
        .into_inner();
    let first = board.message().await.unwrap().expect("a snapshot at once");
    assert_eq!(first.teams.len(), 1, "only the team asked for");
    assert!(!first.stale);
    assert_eq!(tile(&first, "suunterveys", "e_service").depth, 0);
    assert_eq!(staff(&first, "suunterveys", "dental_nurse").offline, 2);

    // Three dental messages arrive: the e-service tile shows them, by urgency.
    for i in 0..3 {
        submit(&svc, dental(pb::Channel::EService, &format!("board-{i}"))).await;
    }
    let b = until(&mut board, WAIT, |b| {
        tile(b, "suunterveys", "e_service").depth == 3
    })
    .await;
    let t = tile(&b, "suunterveys", "e_service");
    assert_eq!(t.emergency + t.urgent + t.soon + t.routine, 3);
    assert!(t.oldest_wait.is_some());

    // A dental nurse goes on break; another comes online and takes work.
    let mut work = svc.work().await;
    work.set_presence(pb::SetPresenceRequest {
        professional_id: "suu-hh-2".into(),
        presence: pb::Presence::OnBreak as i32,
        capacities: vec![],
    })
    .await
    .unwrap();
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let offer = next_offer(&mut offers, WAIT).await.expect("an offer");
    let b = until(&mut board, WAIT, |b| {
        let s = staff(b, "suunterveys", "dental_nurse");
        s.on_break == 1 && s.busy == 1
    })
    .await;
    assert!(tile(&b, "suunterveys", "e_service").depth < 3);

    // Accepting counts towards today's service level.
    work.accept_offer(pb::AcceptOfferRequest {
        case_id: offer.case_id.clone(),
        professional_id: "suu-hh-1".into(),
    })
    .await
    .unwrap();
    until(&mut board, WAIT, |b| b.teams[0].taken_today == 1).await;

    // Nothing changes now: a heartbeat still arrives within about a second.
    let quiet = tokio::time::Instant::now();
    board.message().await.unwrap().expect("heartbeat");
    assert!(quiet.elapsed() < Duration::from_secs(3));
    drop(offers);
    svc.stop().await;
}

#[tokio::test]
async fn queued_cases_come_most_urgent_first_and_carry_no_personal_data() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
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
    let first = submit(&svc, routine).await;
    let urgent = submit(
        &svc,
        contact(
            pb::Channel::Phone,
            "list-2",
            "Lapsella on ollut yli 40 asteen kuume eikä se laske lääkkeellä",
            "",
            "Joensuu",
        ),
    )
    .await;
    assert_eq!(first.team_id, urgent.team_id);
    let list = svc
        .supervisor()
        .await
        .list_queued_cases(pb::ListQueuedCasesRequest {
            team_id: first.team_id.clone(),
            queue: String::new(),
            limit: 0,
        })
        .await
        .expect("list")
        .into_inner();
    let ids: Vec<&str> = list.cases.iter().map(|c| c.case_id.as_str()).collect();
    assert_eq!(ids, [urgent.case_id.as_str(), first.case_id.as_str()]);
    let top = &list.cases[0];
    assert_eq!(top.urgency, pb::Urgency::Urgent as i32);
    assert_eq!(top.channel, pb::Channel::Phone as i32);
    assert_eq!(top.language, "fi");
    assert!(top.deadline.is_some() && top.waited.is_some());
    assert!(!top.routing_reasons.is_empty());
    let shown = format!("{list:?}");
    for secret in [hetu, number, "verenpaineen", "kuume"] {
        assert!(!shown.contains(secret), "`{secret}` shown to supervisors");
    }
    svc.stop().await;
}

#[tokio::test]
async fn a_moved_case_is_offered_in_its_new_team_and_the_move_is_recorded() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let c = submit(&svc, cough(pb::Channel::EService, "move-1")).await;
    assert_eq!(c.team_id, "joensuu-keskus");
    let mut sup = svc.supervisor().await;
    // The oral health team has no nurse or doctor for this case: refused, nothing moved.
    let err = sup
        .move_case(pb::MoveCaseRequest {
            case_id: c.case_id.clone(),
            team_id: "suunterveys".into(),
            queue: String::new(),
            supervisor_id: "sv-anna".into(),
            reason: "testing".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("team_id"), "{}", err.message());

    let mut offers = go_online(&svc, "ete-sh-1").await;
    let moved = sup
        .move_case(pb::MoveCaseRequest {
            case_id: c.case_id.clone(),
            team_id: "etela".into(),
            queue: "phone".into(),
            supervisor_id: "sv-anna".into(),
            reason: "Joensuu is short of nurses today".into(),
        })
        .await
        .expect("moved")
        .into_inner();
    assert_eq!(moved.team_id, "etela");
    assert_eq!(moved.channel, pb::Channel::Phone as i32);
    let offer = next_offer(&mut offers, WAIT)
        .await
        .expect("offered in the new team");
    assert_eq!(offer.case_id, c.case_id);
    let reasons = case(&svc, &c.case_id).await.routing_reasons.join("\n");
    assert!(
        reasons.contains("move by supervisor sv-anna")
            && reasons.contains("Joensuu is short of nurses today"),
        "{reasons}"
    );
    let audit: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg("lu:{siun-sote}:audit")
        .arg("-")
        .arg("+")
        .query::<redis::streams::StreamRangeReply>(&mut redis.conn())
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
    assert_eq!(entry["reason"], "Joensuu is short of nurses today");
    drop(offers);
    svc.stop().await;
}

#[tokio::test]
async fn raising_a_waiting_case_to_emergency_reaches_the_duty_nurse_at_once() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    // The nurse takes phone work only: an e-service message waits.
    let mut work = svc.work().await;
    work.set_presence(pb::SetPresenceRequest {
        professional_id: "jns-sh-1".into(),
        presence: pb::Presence::Available as i32,
        capacities: vec![
            pb::ChannelCapacity {
                channel: pb::Channel::EService as i32,
                capacity: 0,
            },
            pb::ChannelCapacity {
                channel: pb::Channel::Chat as i32,
                capacity: 0,
            },
        ],
    })
    .await
    .unwrap();
    let mut offers = work
        .offers(pb::OffersRequest {
            professional_id: "jns-sh-1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    let c = submit(
        &svc,
        contact(
            pb::Channel::EService,
            "raise-1",
            "Isällä on ollut huimausta ja päänsärkyä muutaman päivän",
            "acute_symptoms",
            "Joensuu",
        ),
    )
    .await;
    assert_eq!(c.status, pb::CaseStatus::Queued as i32);
    assert!(
        next_offer(&mut offers, Duration::from_millis(300))
            .await
            .is_none()
    );

    let raised = svc
        .supervisor()
        .await
        .set_urgency(pb::SetUrgencyRequest {
            case_id: c.case_id.clone(),
            urgency: pb::Urgency::Emergency as i32,
            supervisor_id: "sv-ville".into(),
            reason: "daughter called back: speech slurred".into(),
        })
        .await
        .expect("raised")
        .into_inner();
    assert_eq!(raised.urgency, pb::Urgency::Emergency as i32);
    assert_eq!(raised.queue, "alert");
    let offer = next_offer(&mut offers, WAIT)
        .await
        .expect("offered to the duty nurse at once");
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
    drop(offers);
    svc.stop().await;
}

#[tokio::test]
async fn lowering_urgency_moves_the_case_behind_and_its_deadline_later() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let urgent = submit(
        &svc,
        contact(
            pb::Channel::Phone,
            "lower-1",
            "Lapsella on ollut yli 40 asteen kuume eikä se laske lääkkeellä",
            "",
            "Joensuu",
        ),
    )
    .await;
    let routine = submit(
        &svc,
        contact(
            pb::Channel::Phone,
            "lower-2",
            "Haluaisin varata ajan verenpaineen seurantaan, ei kiirettä.",
            "",
            "Joensuu",
        ),
    )
    .await;
    let before = case(&svc, &urgent.case_id).await;
    let mut sup = svc.supervisor().await;
    let lowered = sup
        .set_urgency(pb::SetUrgencyRequest {
            case_id: urgent.case_id.clone(),
            urgency: pb::Urgency::Routine as i32,
            supervisor_id: "sv-ville".into(),
            reason: "fever came down, parent says".into(),
        })
        .await
        .expect("lowered")
        .into_inner();
    assert_eq!(lowered.urgency, pb::Urgency::Routine as i32);
    assert!(lowered.deadline.unwrap().seconds >= before.deadline.unwrap().seconds);
    let list = sup
        .list_queued_cases(pb::ListQueuedCasesRequest {
            team_id: urgent.team_id.clone(),
            queue: "phone".into(),
            limit: 10,
        })
        .await
        .unwrap()
        .into_inner();
    let ids: Vec<&str> = list.cases.iter().map(|c| c.case_id.as_str()).collect();
    // Both routine now, same-day call-back rule: the earlier arrival first.
    assert_eq!(ids, [urgent.case_id.as_str(), routine.case_id.as_str()]);
    assert!(
        list.cases
            .iter()
            .all(|c| c.urgency == pb::Urgency::Routine as i32)
    );
    svc.stop().await;
}

#[tokio::test]
async fn a_released_offer_goes_to_a_colleague_not_back() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut first = go_online(&svc, "suu-hh-1").await;
    let c = submit(&svc, dental(pb::Channel::EService, "release-1")).await;
    let offer = next_offer(&mut first, WAIT).await.expect("offered");
    assert_eq!(offer.case_id, c.case_id);
    let mut sup = svc.supervisor().await;
    let mut second = go_online(&svc, "suu-hh-2").await;
    let released = sup
        .release_offer(pb::ReleaseOfferRequest {
            case_id: c.case_id.clone(),
            supervisor_id: "sv-anna".into(),
            reason: "no answer for 10 minutes".into(),
        })
        .await
        .expect("released")
        .into_inner();
    assert!(
        released
            .routing_reasons
            .iter()
            .any(|r| r.contains("release by supervisor sv-anna") && r.contains("suu-hh-1")),
        "{:?}",
        released.routing_reasons
    );
    let again = next_offer(&mut second, WAIT)
        .await
        .expect("to the colleague");
    assert_eq!(again.case_id, c.case_id);
    assert!(
        next_offer(&mut first, Duration::from_millis(300))
            .await
            .is_none()
    );
    // Not offered any more: a second release is refused and changes nothing.
    svc.work()
        .await
        .accept_offer(pb::AcceptOfferRequest {
            case_id: c.case_id.clone(),
            professional_id: "suu-hh-2".into(),
        })
        .await
        .unwrap();
    let err = sup
        .release_offer(pb::ReleaseOfferRequest {
            case_id: c.case_id.clone(),
            supervisor_id: "sv-anna".into(),
            reason: "again".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        case(&svc, &c.case_id).await.status,
        pb::CaseStatus::InProgress as i32
    );
    drop((first, second));
    svc.stop().await;
}

#[tokio::test]
async fn supervisor_requests_with_bad_fields_are_refused_naming_the_field() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let c = submit(&svc, dental(pb::Channel::EService, "bad-sup-1")).await;
    let mut sup = svc.supervisor().await;
    let mv = |team: &str, queue: &str, by: &str, why: &str| pb::MoveCaseRequest {
        case_id: c.case_id.clone(),
        team_id: team.into(),
        queue: queue.into(),
        supervisor_id: by.into(),
        reason: why.into(),
    };
    for (req, field) in [
        (mv("etela", "", "", "why"), "supervisor_id"),
        (mv("etela", "", "sv anna", "why"), "supervisor_id"),
        (mv("etela", "", "sv-anna", " "), "reason"),
        (mv("nowhere", "", "sv-anna", "why"), "team_id"),
        (mv("", "", "sv-anna", "why"), "team_id"),
        (mv("", "fax", "sv-anna", "why"), "queue"),
    ] {
        let err = sup.move_case(req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(
            err.message().starts_with(field),
            "{field}: {}",
            err.message()
        );
    }
    let err = sup
        .set_urgency(pb::SetUrgencyRequest {
            case_id: c.case_id.clone(),
            urgency: 0,
            supervisor_id: "sv-anna".into(),
            reason: "why".into(),
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("urgency"), "{}", err.message());
    let err = sup
        .list_queued_cases(pb::ListQueuedCasesRequest {
            team_id: String::new(),
            queue: String::new(),
            limit: 0,
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("team_id"), "{}", err.message());
    let err = sup
        .watch_queues(pb::WatchQueuesRequest {
            team_id: "nowhere".into(),
            heartbeat: None,
        })
        .await
        .unwrap_err();
    assert!(err.message().starts_with("team_id"), "{}", err.message());
    // Nothing was changed or recorded by the refused requests.
    assert_eq!(case(&svc, &c.case_id).await.team_id, "suunterveys");
    let audit: usize = redis::cmd("XLEN")
        .arg("lu:{siun-sote}:audit")
        .query(&mut redis.conn())
        .unwrap();
    assert_eq!(audit, 0);
    svc.stop().await;
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
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    let mut offers = go_online(&svc, "suu-hh-1").await;
    let mut req = dental(pb::Channel::EService, "metrics-1");
    req.citizen.as_mut().unwrap().identity_code = "131052-308T".into();
    submit(&svc, req.clone()).await;
    submit(&svc, req).await; // a retry
    submit(&svc, dental(pb::Channel::EService, "metrics-2")).await;
    let offer = next_offer(&mut offers, WAIT).await.unwrap();
    let mut work = svc.work().await;
    for _ in 0..2 {
        // The second time is a harmless repeat, not a second acceptance.
        work.accept_offer(pb::AcceptOfferRequest {
            case_id: offer.case_id.clone(),
            professional_id: "suu-hh-1".into(),
        })
        .await
        .unwrap();
    }
    work.complete_case(pb::CompleteCaseRequest {
        case_id: offer.case_id.clone(),
        professional_id: "suu-hh-1".into(),
        outcome: pb::Outcome::ResolvedAtFirstContact as i32,
    })
    .await
    .unwrap();
    // The board refresh (and so the queue gauges) follows within a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, text) = http_get(svc.http_addr, "/metrics").await;
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
    drop(offers);
    svc.stop().await;
}

#[tokio::test]
async fn readiness_and_the_board_follow_redis_down_and_back() {
    let mut redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    assert_eq!(http_get(svc.http_addr, "/readyz").await.0, 200);
    assert_eq!(http_get(svc.http_addr, "/healthz").await.0, 200);
    let (status, page) = http_get(svc.http_addr, "/").await;
    assert_eq!(status, 200);
    assert!(page.contains("api/board"));
    let board = |body: String| -> serde_json::Value { serde_json::from_str(&body).unwrap() };
    let (_, b) = http_get(svc.http_addr, "/api/board?team=suunterveys").await;
    let b = board(b);
    assert_eq!(b["stale"], false);
    assert_eq!(b["teams"].as_array().unwrap().len(), 1);

    redis.stop();
    let mut stale = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        stale = board(http_get(svc.http_addr, "/api/board").await.1)["stale"] == true;
        if stale {
            break;
        }
    }
    assert!(stale, "the board says its figures are stale");
    assert_eq!(http_get(svc.http_addr, "/readyz").await.0, 503);
    assert_eq!(http_get(svc.http_addr, "/healthz").await.0, 200);
    let (_, b) = http_get(svc.http_addr, "/api/board").await;
    assert_eq!(
        board(b)["teams"].as_array().unwrap().len(),
        8,
        "last figures kept"
    );

    redis.start_again();
    let mut fresh = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fresh = board(http_get(svc.http_addr, "/api/board").await.1)["stale"] == false;
        if fresh {
            break;
        }
    }
    assert!(fresh, "the board recovers");
    assert_eq!(http_get(svc.http_addr, "/readyz").await.0, 200);
    svc.stop().await;
}

#[tokio::test]
async fn the_terminal_table_shows_the_same_figures() {
    let redis = RedisServer::start();
    let svc = Luotsi::start(&redis).await;
    for i in 0..2 {
        submit(&svc, dental(pb::Channel::EService, &format!("table-{i}"))).await;
    }
    let addr = svc.addr.to_string();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_luotsi"))
            .args(["queues", "--addr", &addr, "--team", "suunterveys"])
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
    assert!(text.contains("dental_nurse 0/0/0"), "{text}");
    svc.stop().await;
}
