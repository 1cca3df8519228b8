//! The deadline rules of the domain brief, row by row: the Helsinki date and time of a contact,
//! the citizen's age, the need, urgency and channel → the deadline and the rule that set it,
//! with its section of law. Evenings, weekends, holidays, month ends, 29 February and both
//! daylight-saving changes. Run against the domain code with the policy of the shipped
//! `config/luotsi.toml`, each contact made on the virtual clock at its own time. Its own test
//! binary: the whole process runs on the virtual clock.
//!
//! Expected dates were counted by hand on the calendar (Act 150/1930: days from the day after
//! the contact's day; months to the same-numbered day or the month's last day; a date limit
//! lasts to the end of its day) and checked against an independent count.

use std::path::PathBuf;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use luotsi::config::Config;
use luotsi::domain::calendar;
use luotsi::domain::deadline::{DeadlineFacts, DeadlinePolicy, Marks, Rule};
use luotsi::domain::{Channel, Need, Urgency};

use Channel::{Chat, EService, Phone};
use Need::*;
use Rule::*;
use Urgency::{Emergency, Routine, Soon, Urgent};

/// What a row expects.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// The statutory deadline: the end of this Helsinki day, by this rule.
    Statutory(&'static str, Rule),
    /// No statutory limit applies.
    NoStatutory,
    /// The handling deadline: this Helsinki time ("YYYY-MM-DD HH:MM"), or the end of this day
    /// ("YYYY-MM-DD"), by this rule.
    Handling(&'static str, Rule),
}
use Expect::*;

struct Row {
    /// Helsinki local time of the contact.
    at: &'static str,
    age: Option<u32>,
    needs: &'static [Need],
    urgency: Urgency,
    channel: Channel,
    /// The e-service form category or phone-menu choice, when there is one.
    hint: Option<Need>,
    expect: Expect,
}

const fn row(
    at: &'static str,
    age: Option<u32>,
    needs: &'static [Need],
    urgency: Urgency,
    channel: Channel,
    expect: Expect,
) -> Row {
    Row {
        at,
        age,
        needs,
        urgency,
        channel,
        hint: None,
        expect,
    }
}

/// A contact through the e-service with a form category.
const fn form(
    at: &'static str,
    age: Option<u32>,
    needs: &'static [Need],
    urgency: Urgency,
    category: Need,
    expect: Expect,
) -> Row {
    Row {
        hint: Some(category),
        ..row(at, age, needs, urgency, EService, expect)
    }
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // Service-need assessment by the 7th working day at 75+ (Social Welfare Act §36).
    row("2026-11-23 10:00", Some(75), &[ElderlyServices], Routine, Phone, Statutory("2026-12-02", ServiceNeedAssessment)),
    row("2026-11-23 17:17", Some(75), &[ElderlyServices], Routine, Phone, Statutory("2026-12-02", ServiceNeedAssessment)),
    row("2026-11-28 11:00", Some(80), &[ElderlyServices], Routine, EService, Statutory("2026-12-08", ServiceNeedAssessment)),
    row("2026-12-21 09:00", Some(82), &[ElderlyServices], Routine, Phone, Statutory("2027-01-04", ServiceNeedAssessment)),
    row("2026-12-24 12:00", Some(90), &[ElderlyServices], Soon, Phone, Statutory("2027-01-07", ServiceNeedAssessment)),
    row("2026-04-01 10:00", Some(80), &[ElderlyServices], Routine, Phone, Statutory("2026-04-14", ServiceNeedAssessment)),
    row("2027-05-05 16:30", Some(75), &[SocialSupport], Routine, Phone, Statutory("2027-05-17", ServiceNeedAssessment)),
    row("2027-06-22 20:00", Some(76), &[ElderlyServices], Routine, Chat, Statutory("2027-07-02", ServiceNeedAssessment)),
    row("2026-11-23 10:00", Some(74), &[ElderlyServices], Routine, Phone, NoStatutory),
    // Child-welfare notification: urgency at once, the decision by the 7th working day (§26).
    row("2026-11-23 17:17", None, &[ChildWelfare], Routine, EService, Statutory("2026-12-02", ChildWelfareDecision)),
    row("2026-11-28 14:00", None, &[ChildWelfare], Routine, EService, Statutory("2026-12-08", ChildWelfareDecision)),
    row("2026-12-31 23:30", None, &[ChildWelfare], Urgent, Phone, Statutory("2027-01-13", ChildWelfareDecision)),
    row("2026-11-23 10:00", None, &[ChildWelfare], Emergency, Phone, Statutory("2026-12-02", ChildWelfareDecision)),
    row("2026-11-23 17:17", None, &[ChildWelfare], Routine, EService, Handling("2026-11-23 20:17", ChildWelfareUrgency)),
    // Care guarantee from 23: 3 calendar months (Health Care Act §51 a).
    row("2026-11-23 10:00", Some(40), &[AcuteSymptoms], Routine, Phone, Statutory("2027-02-23", CareGuarantee)),
    row("2026-11-30 09:00", Some(45), &[ChronicCare], Routine, Phone, Statutory("2027-02-28", CareGuarantee)),
    row("2026-12-16 12:00", Some(60), &[Medication], Soon, EService, Statutory("2027-03-16", CareGuarantee)),
    row("2026-08-31 10:00", Some(30), &[AcuteSymptoms], Routine, Chat, Statutory("2026-11-30", CareGuarantee)),
    row("2027-11-30 10:00", Some(50), &[Rehabilitation], Routine, Phone, Statutory("2028-02-29", CareGuarantee)),
    row("2028-02-29 10:00", Some(33), &[AcuteSymptoms], Routine, Phone, Statutory("2028-05-29", CareGuarantee)),
    row("2026-10-24 23:30", Some(50), &[Lifestyle], Routine, EService, Statutory("2027-01-24", CareGuarantee)),
    row("2026-11-23 10:00", Some(23), &[AcuteSymptoms], Routine, Phone, Statutory("2027-02-23", CareGuarantee)),
    row("2026-11-23 10:00", None, &[AcuteSymptoms], Routine, Phone, Statutory("2027-02-23", CareGuarantee)),
    // Care guarantee under 23: 14 days, counted from the day after the contact's day.
    row("2026-11-23 17:17", Some(22), &[AcuteSymptoms], Routine, Phone, Statutory("2026-12-07", CareGuaranteeUnder23)),
    row("2026-03-28 23:30", Some(19), &[AcuteSymptoms], Routine, EService, Statutory("2026-04-11", CareGuaranteeUnder23)),
    row("2026-10-24 23:30", Some(10), &[Vaccination], Routine, EService, Statutory("2026-11-07", CareGuaranteeUnder23)),
    row("2026-12-18 22:00", Some(16), &[ChronicCare], Soon, EService, Statutory("2027-01-01", CareGuaranteeUnder23)),
    row("2026-06-19 12:00", Some(0), &[FamilyServices], Routine, Chat, Statutory("2026-07-03", CareGuaranteeUnder23)),
    // Oral care: 6 months from 23, 3 months under 23 (§51 a).
    row("2026-11-22 23:30", Some(40), &[OralHealth], Routine, EService, Statutory("2027-05-22", OralCare)),
    row("2026-08-31 10:00", Some(50), &[OralHealth], Routine, Phone, Statutory("2027-02-28", OralCare)),
    row("2026-11-23 10:00", Some(12), &[OralHealth], Routine, Phone, Statutory("2027-02-23", OralCareUnder23)),
    row("2026-11-30 10:00", Some(22), &[OralHealth], Soon, Phone, Statutory("2027-02-28", OralCareUnder23)),
    // Brief psychotherapy under 23: 28 days (§53); from 23 the care guarantee.
    row("2026-11-23 10:00", Some(17), &[MentalHealth], Routine, Chat, Statutory("2026-12-21", BriefPsychotherapyUnder23)),
    row("2026-12-06 21:00", Some(20), &[MentalHealth], Routine, EService, Statutory("2027-01-03", BriefPsychotherapyUnder23)),
    row("2026-11-23 10:00", Some(40), &[MentalHealth], Routine, Chat, Statutory("2027-02-23", CareGuarantee)),
    // Social assistance: the decision by the 7th working day; urgent, the same or the next
    // working day (Act on Social Assistance §14 a). An application is an e-service form.
    form("2026-11-23 17:17", Some(40), &[SocialSupport], Routine, SocialSupport, Statutory("2026-12-02", SocialAssistance)),
    form("2026-11-27 15:00", Some(35), &[SocialSupport], Urgent, SocialSupport, Statutory("2026-11-30", SocialAssistanceUrgent)),
    form("2026-12-23 18:00", Some(29), &[SocialSupport], Urgent, SocialSupport, Statutory("2026-12-28", SocialAssistanceUrgent)),
    form("2026-11-23 10:00", Some(80), &[SocialSupport], Routine, SocialSupport, Statutory("2026-12-02", SocialAssistance)),
    row("2026-11-23 10:00", Some(40), &[SocialSupport], Routine, Chat, NoStatutory),
    // An emergency or urgent contact is not non-urgent care; service guidance is not care.
    row("2026-11-23 10:00", Some(40), &[AcuteSymptoms], Emergency, Phone, NoStatutory),
    row("2026-11-23 10:00", Some(40), &[AcuteSymptoms], Urgent, Phone, NoStatutory),
    row("2026-11-23 10:00", Some(15), &[MentalHealth], Urgent, Chat, NoStatutory),
    row("2026-11-23 10:00", Some(40), &[OralHealth], Emergency, Phone, NoStatutory),
    row("2026-11-23 10:00", Some(40), &[ServiceGuidance], Routine, Phone, NoStatutory),
    // The handling deadline: the care need assessed the same working day (Health Care Act §51)
    // — the day the health centre has the contact in office hours — and the channel promises.
    row("2026-11-23 10:00", Some(40), &[AcuteSymptoms], Routine, EService, Handling("2026-11-23", CareNeedAssessment)),
    row("2026-11-23 17:17", Some(40), &[AcuteSymptoms], Routine, EService, Handling("2026-11-24", CareNeedAssessment)),
    row("2026-11-28 10:00", Some(40), &[AcuteSymptoms], Routine, EService, Handling("2026-11-30", CareNeedAssessment)),
    row("2026-12-23 16:30", Some(40), &[AcuteSymptoms], Routine, EService, Handling("2026-12-28", CareNeedAssessment)),
    row("2026-11-23 10:00", Some(40), &[Medication], Routine, Phone, Handling("2026-11-23 16:00", PhoneCallBack)),
    row("2026-12-04 17:00", Some(40), &[Medication], Routine, Phone, Handling("2026-12-07 16:00", PhoneCallBack)),
    row("2026-11-23 10:00", Some(40), &[AcuteSymptoms], Emergency, Chat, Handling("2026-11-23 10:00", Rule::Emergency)),
    row("2026-11-23 10:00", Some(40), &[MentalHealth], Urgent, EService, Handling("2026-11-23 13:00", Rule::Urgent)),
    row("2026-11-23 23:50", Some(40), &[SocialSupport], Routine, Chat, Handling("2026-11-24 00:00", ChatAnswer)),
    row("2026-12-22 17:00", Some(40), &[SocialSupport], Routine, EService, Handling("2026-12-28 16:00", EServiceAnswer)),
];

/// The section of law each rule names, written out here rather than read from the code.
fn law_of(rule: Rule) -> Option<&'static str> {
    match rule {
        Rule::Emergency | Rule::Urgent | PhoneCallBack | ChatAnswer | EServiceAnswer => None,
        CareNeedAssessment => Some("Health Care Act 1326/2010 §51"),
        CareGuarantee | CareGuaranteeUnder23 | OralCare | OralCareUnder23 => {
            Some("Health Care Act 1326/2010 §51 a")
        }
        BriefPsychotherapyUnder23 => Some("Health Care Act 1326/2010 §53"),
        ServiceNeedAssessment => Some("Social Welfare Act 1301/2014 §36"),
        SocialAssistance | SocialAssistanceUrgent => {
            Some("Act on Social Assistance 1412/1997 §14 a")
        }
        ChildWelfareUrgency | ChildWelfareDecision => Some("Child Welfare Act 417/2007 §26"),
    }
}

fn shipped_policy() -> DeadlinePolicy {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/luotsi.toml");
    Config::load(&path)
        .expect("the shipped configuration")
        .deadlines
}

fn helsinki(s: &str) -> DateTime<Utc> {
    let t = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("YYYY-MM-DD HH:MM");
    calendar::local_time(t.date(), t.time())
}

/// "YYYY-MM-DD HH:MM" is that instant; "YYYY-MM-DD" the end of that day.
fn expected_instant(s: &str) -> DateTime<Utc> {
    match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        Ok(day) => calendar::end_of_day(day),
        Err(_) => helsinki(s),
    }
}

#[test]
fn every_rule_gives_the_date_the_law_gives() {
    assert!(ROWS.len() >= 40, "{} rows", ROWS.len());
    let policy = shipped_policy();
    assert_eq!(
        policy,
        DeadlinePolicy::default(),
        "the shipped file says the defaults"
    );
    let mut failures = Vec::new();
    for (i, r) in ROWS.iter().enumerate() {
        // The contact is made on the virtual clock at its own time.
        luotsi::clock::set_virtual(helsinki(r.at).timestamp_millis());
        let facts = DeadlineFacts {
            needs: r.needs,
            urgency: r.urgency,
            channel: r.channel,
            contact_at: luotsi::clock::now(),
            age: r.age,
            marks: policy.marks(r.channel, r.hint, r.hint),
        };
        let what = format!(
            "row {i}: {} age {:?} {:?} {:?} {:?}",
            r.at, r.age, r.needs, r.urgency, r.channel
        );
        let (got, expected) = match r.expect {
            Statutory(day, rule) => (
                policy.statutory(&facts),
                Some((expected_instant(day), rule)),
            ),
            NoStatutory => (policy.statutory(&facts), None),
            Handling(when, rule) => (
                Some(policy.deadline(&facts)),
                Some((expected_instant(when), rule)),
            ),
        };
        let got_pair = got.as_ref().map(|d| (d.at, d.rule));
        if got_pair != expected {
            failures.push(format!(
                "{what}\n    expected {:?}\n    got      {:?}",
                expected.map(|(at, rule)| (at.with_timezone(&calendar::TZ), rule)),
                got.as_ref()
                    .map(|d| (d.at.with_timezone(&calendar::TZ), d.rule, d.name.clone())),
            ));
            continue;
        }
        if let Some(d) = got {
            if d.law != law_of(d.rule) {
                failures.push(format!("{what}: law {:?} for {:?}", d.law, d.rule));
            }
            if d.name.is_empty() {
                failures.push(format!("{what}: the rule has no name"));
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_rule_names_say_the_period_and_who_it_is_for() {
    let p = shipped_policy();
    let name = |needs: &'static [Need], age, urgency| {
        p.statutory(&DeadlineFacts {
            needs,
            urgency,
            channel: Phone,
            contact_at: helsinki("2026-11-23 10:00"),
            age,
            marks: Marks::default(),
        })
        .map(|d| d.name)
        .unwrap_or_default()
    };
    assert_eq!(
        name(&[AcuteSymptoms], Some(40), Routine),
        "non-urgent care within 3 months, aged 23+"
    );
    assert_eq!(
        name(&[AcuteSymptoms], Some(19), Routine),
        "non-urgent care within 14 days, under 23"
    );
    assert_eq!(
        name(&[OralHealth], Some(12), Routine),
        "non-urgent oral care within 3 months, under 23"
    );
    assert_eq!(
        name(&[MentalHealth], Some(17), Routine),
        "brief psychotherapy started within 28 days, under 23"
    );
    assert_eq!(
        name(&[ElderlyServices], Some(80), Routine),
        "service-need assessment started by the 7th working day, aged 75+"
    );
    assert_eq!(
        name(&[ChildWelfare], None, Routine),
        "decision on a child-welfare investigation by the 7th working day"
    );
    assert_eq!(
        name(&[AcuteSymptoms], None, Routine),
        "non-urgent care within 3 months, aged 23+ (no age given)"
    );
}

#[test]
fn a_county_can_move_limits_off_weekends_and_set_its_own_periods() {
    let mut p = shipped_policy();
    p.care_guarantee.next_working_day = true;
    p.oral_care_under_23.period = "4 months".parse().unwrap();
    let statutory = |needs: &'static [Need], age, at| {
        p.statutory(&DeadlineFacts {
            needs,
            urgency: Routine,
            channel: Phone,
            contact_at: helsinki(at),
            age,
            marks: Marks::default(),
        })
        .unwrap()
    };
    // 30 Nov 2026 + 3 months is Sunday 28 Feb 2027: moved to Monday 1 March (150/1930 §5).
    let d = statutory(&[ChronicCare], Some(45), "2026-11-30 09:00");
    assert_eq!(d.at, expected_instant("2027-03-01"));
    // 23 Nov 2026 + 4 months = 23 March 2027, and the name says so.
    let d = statutory(&[OralHealth], Some(12), "2026-11-23 10:00");
    assert_eq!(d.at, expected_instant("2027-03-23"));
    assert_eq!(d.name, "non-urgent oral care within 4 months, under 23");
}
