//! Deadlines end to end: contacts submitted through `SubmitContact` with identity codes at fixed
//! times on the virtual clock, their deadlines read back with `GetCase`, changed with
//! `SetUrgency`, and counted by `GetStats`. The rows of `tests/deadlines.rs` hold every rule;
//! these check that the service carries them to the API.
//!
//! Its own test binary (not a module of `tests/service/main.rs`): the virtual clock belongs to
//! the whole process, so these tests take turns on it and nothing else runs beside them.

#[allow(dead_code)]
mod county;
#[allow(dead_code)]
mod harness;
#[allow(dead_code)]
mod support;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use county::TestCounty;
use luotsi::domain::calendar;
use luotsi::pb;

/// One test at a time on the process's clock.
static CLOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn helsinki(s: &str) -> DateTime<Utc> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("YYYY-MM-DD HH:MM");
    calendar::local_time(t.date(), t.time())
}

fn end_of(day: &str) -> DateTime<Utc> {
    calendar::end_of_day(NaiveDate::parse_from_str(day, "%Y-%m-%d").expect("YYYY-MM-DD"))
}

fn set_clock(at: DateTime<Utc>) {
    luotsi::clock::set_virtual(at.timestamp_millis());
}

fn ms(t: Option<prost_types::Timestamp>) -> Option<i64> {
    t.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

/// A valid identity code for a birth date `DDMMYY` in the 1900s (`-`) or 2000s (`A`).
fn identity_code(ddmmyy: &str, century: char, individual: u32) -> String {
    let n: u64 = format!("{ddmmyy}{individual:03}").parse().expect("digits");
    let check = b"0123456789ABCDEFHJKLMNPRSTUVWXY"[(n % 31) as usize] as char;
    format!("{ddmmyy}{century}{individual:03}{check}")
}

/// An e-service message with a form category, from the citizen with this identity code.
fn e_service(key: &str, text: &str, form: &str, identity_code: &str) -> pb::SubmitContactRequest {
    let mut req = support::contact(pb::Channel::EService, key, text, form, "Joensuu");
    req.citizen.as_mut().expect("a citizen").identity_code = identity_code.to_string();
    req
}

#[tokio::test]
async fn a_75_year_olds_evening_contact_is_assessed_by_the_7th_working_day_after_its_day() {
    let _clock = CLOCK.lock().await;
    // Monday 23 Nov 2026 at 17:17, after office hours; born 15 March 1951.
    set_clock(helsinki("2026-11-23 17:17"));
    let county = TestCounty::start().await;
    let c = county
        .submit(e_service(
            "sna-75",
            "Äitini ei enää pärjää kotona, tarvitsisimme kotihoitoa.",
            "elderly_services",
            &identity_code("150351", '-', 123),
        ))
        .await;
    let got = county.case(&c.case_id).await;
    assert_eq!(
        ms(got.statutory_deadline),
        Some(end_of("2026-12-02").timestamp_millis()),
        "Wednesday 2 Dec, not Thursday 3 Dec: {}",
        got.statutory_rule
    );
    assert_eq!(
        got.statutory_rule,
        "service-need assessment started by the 7th working day, aged 75+"
    );
    assert_eq!(got.statutory_law, "Social Welfare Act 1301/2014 §36");
    county.stop().await;
}

#[tokio::test]
async fn a_saturday_child_welfare_notification_is_decided_by_tuesday_8_december() {
    let _clock = CLOCK.lock().await;
    set_clock(helsinki("2026-11-28 14:00"));
    let county = TestCounty::start().await;
    let c = county
        .submit(support::contact(
            pb::Channel::EService,
            "cw-sat",
            "Haluan tehdä lastensuojeluilmoituksen naapurin lapsista.",
            "child_welfare",
            "Joensuu",
        ))
        .await;
    let got = county.case(&c.case_id).await;
    assert_eq!(
        ms(got.statutory_deadline),
        Some(end_of("2026-12-08").timestamp_millis()),
        "{}",
        got.statutory_rule
    );
    assert_eq!(got.statutory_law, "Child Welfare Act 417/2007 §26");
    // Its urgency is assessed at once: within the urgent hours, on a Saturday too.
    assert_eq!(
        ms(got.deadline),
        Some(helsinki("2026-11-28 17:00").timestamp_millis())
    );
    county.stop().await;
}

#[tokio::test]
async fn an_evening_social_assistance_application_is_decided_by_the_7th_working_day() {
    let _clock = CLOCK.lock().await;
    set_clock(helsinki("2026-11-23 17:17"));
    let county = TestCounty::start().await;
    let c = county
        .submit(e_service(
            "sa-1",
            "Haen toimeentulotukea ensi kuun vuokraan.",
            "social_support",
            &identity_code("010186", '-', 234),
        ))
        .await;
    let got = county.case(&c.case_id).await;
    assert_eq!(got.urgency, pb::Urgency::Routine as i32, "{got:?}");
    assert_eq!(
        ms(got.statutory_deadline),
        Some(end_of("2026-12-02").timestamp_millis()),
        "{}",
        got.statutory_rule
    );
    assert_eq!(
        got.statutory_rule,
        "social-assistance decision by the 7th working day"
    );
    assert_eq!(
        got.statutory_law,
        "Act on Social Assistance 1412/1997 §14 a"
    );
    county.stop().await;
}

#[tokio::test]
async fn the_statutory_deadline_follows_the_urgency_a_supervisor_sets() {
    let _clock = CLOCK.lock().await;
    set_clock(helsinki("2026-11-23 10:00"));
    let county = TestCounty::start().await;
    // Aged 40: the care guarantee of 3 calendar months, to Tuesday 23 Feb 2027.
    let c = county
        .submit(e_service(
            "cg-40",
            "Olen ollut flunssassa viikon ja yskä ei hellitä",
            "acute_symptoms",
            &identity_code("010186", '-', 345),
        ))
        .await;
    let three_months = Some(end_of("2027-02-23").timestamp_millis());
    let got = county.case(&c.case_id).await;
    assert_eq!(
        ms(got.statutory_deadline),
        three_months,
        "{}",
        got.statutory_rule
    );
    assert_eq!(
        got.statutory_rule,
        "non-urgent care within 3 months, aged 23+"
    );
    assert_eq!(got.statutory_law, "Health Care Act 1326/2010 §51 a");
    // Its handling deadline: the care need assessed by the end of Monday.
    assert_eq!(
        ms(got.deadline),
        Some(end_of("2026-11-23").timestamp_millis())
    );
    assert_eq!(got.deadline_law, "Health Care Act 1326/2010 §51");

    let sup = county.supervisor("sv-anna");
    let set = |urgency: pb::Urgency| sup.set_urgency(&c.case_id, urgency, "triage call");
    for urgency in [pb::Urgency::Urgent, pb::Urgency::Emergency] {
        let raised = set(urgency).await;
        assert_eq!(
            raised.statutory_deadline, None,
            "{urgency:?}: {}",
            raised.statutory_rule
        );
        assert_eq!(raised.statutory_rule, "");
        assert_eq!(raised.statutory_law, "");
    }
    let lowered = set(pb::Urgency::Routine).await;
    assert_eq!(ms(lowered.statutory_deadline), three_months);
    assert_eq!(lowered.statutory_law, "Health Care Act 1326/2010 §51 a");
    // GetCase reads the same.
    let again = county.case(&c.case_id).await;
    assert_eq!(ms(again.statutory_deadline), three_months);
    county.stop().await;
}

#[tokio::test]
async fn an_emergency_has_no_care_guarantee_deadline() {
    let _clock = CLOCK.lock().await;
    set_clock(helsinki("2026-11-23 10:00"));
    let county = TestCounty::start().await;
    let c = county
        .submit(e_service(
            "emerg-1",
            "Isällä puristava rintakipu ja kylmä hiki",
            "",
            &identity_code("010186", '-', 456),
        ))
        .await;
    assert!(c.call_emergency_number);
    let got = county.case(&c.case_id).await;
    assert_eq!(got.urgency, pb::Urgency::Emergency as i32);
    assert_eq!(got.statutory_deadline, None, "{}", got.statutory_rule);
    assert_eq!(got.statutory_rule, "");
    assert!(
        got.deadline_rule.starts_with("emergency"),
        "{}",
        got.deadline_rule
    );
    county.stop().await;
}

/// GetStats counts a first response as met on any millisecond of its date limit's last day,
/// and as missed from the next day on.
#[tokio::test]
async fn a_date_limit_is_met_until_the_end_of_its_day() {
    let _clock = CLOCK.lock().await;
    set_clock(helsinki("2026-11-23 10:00"));
    // No overflow: the two cases stay with the one team whose nurse comes online.
    let county = TestCounty::start_with(|c| c.routing.overflow_after_secs = vec![]).await;
    let mut ids = Vec::new();
    for (key, individual) in [("eod-a", 567), ("eod-b", 678)] {
        let c = county
            .submit(e_service(
                key,
                "Olen ollut flunssassa viikon ja yskä ei hellitä",
                "acute_symptoms",
                &identity_code("010186", '-', individual),
            ))
            .await;
        assert_eq!(
            ms(c.deadline),
            Some(end_of("2026-11-23").timestamp_millis())
        );
        ids.push(c.case_id);
    }
    // The last millisecond of Monday: the nurse comes online and takes the first case.
    set_clock(end_of("2026-11-23"));
    county.go_online("jns-sh-1").await;
    let mut offered = vec![
        county.next_offer("jns-sh-1").await.case_id,
        county.next_offer("jns-sh-1").await.case_id,
    ];
    offered.sort();
    ids.sort();
    assert_eq!(offered, ids);
    county.accept("jns-sh-1", &ids[0]).await;
    // A millisecond later it is Tuesday: the second case is taken after its deadline.
    set_clock(helsinki("2026-11-24 00:00"));
    county.accept("jns-sh-1", &ids[1]).await;
    let stats = county
        .try_stats(
            "",
            Some(helsinki("2026-11-23 00:00").timestamp()),
            Some(helsinki("2026-11-24 01:00").timestamp()),
        )
        .await
        .expect("stats");
    assert_eq!(
        (stats.deadlines_met, stats.deadlines_missed),
        (1, 1),
        "{stats:?}"
    );
    county.set_presence("jns-sh-1", pb::Presence::Offline).await;
    county.stop().await;
}
