//! A working day of the example county in virtual time: 5 000 mixed contacts from 08:00 to
//! 16:00 on Tuesday 24 November 2026, all 45 professionals online, taking and completing work,
//! against a real Redis. Checked all along: no case waits while a professional who fits it has a
//! free slot (so no deadline is missed while capacity was free), and at the end: no case lost or
//! assigned twice, language and continuity rules held, re-contacts joined their cases, every
//! emergency offered at once. Its own test binary: the whole process runs on the virtual clock.
//!
//! The professionals' desktops are simulated: each minute, every open offer is read from Redis
//! and accepted (a few are left to expire), and cases are completed after a handling time. Run
//! with `--nocapture` for the day's figures.

// The service tests' county, shared; this day uses only some of its verbs.
#[allow(dead_code)]
#[path = "service/county.rs"]
mod county;
#[allow(dead_code)]
#[path = "service/harness.rs"]
mod harness;

use std::collections::{BTreeMap, HashMap, HashSet};

use county::TestCounty;
use luotsi::pb;
use luotsi::store::{Keys, Store};

const CONTACTS: usize = 5000;
const MINUTE: i64 = 60_000;

/// A small deterministic generator (no dependency, same day every run).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(1000) < percent * 10
    }
}

fn hetu(i: usize) -> String {
    const CHECK: &[u8] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let (d, m, y) = (1 + i % 28, 1 + (i / 28) % 12, 40 + (i / 336) % 60);
    let n = 2 + i % 800;
    let number: u64 = format!("{d:02}{m:02}{y:02}{n:03}").parse().unwrap();
    format!(
        "{d:02}{m:02}{y:02}-{n:03}{}",
        CHECK[(number % 31) as usize] as char
    )
}

/// (form category, Finnish text, Swedish text)
const NEEDS: &[(&str, &str, &str)] = &[
    (
        "acute_symptoms",
        "Olen ollut flunssassa viikon ja yskä ei hellitä",
        "Jag har haft förkylning en vecka och hostan ger inte med sig",
    ),
    (
        "medication",
        "Verenpainelääkkeen resepti pitäisi uusia",
        "Mitt recept på blodtrycksmedicin behöver förnyas",
    ),
    (
        "oral_health",
        "Hammasta vihloo kylmästä, haluaisin ajan tarkastukseen",
        "Min tand ilar av kallt, jag vill ha en tid för kontroll",
    ),
    (
        "mental_health",
        "Olen ollut pitkään alakuloinen ja uni ei tule",
        "Jag har varit nedstämd länge och sover dåligt",
    ),
    (
        "social_support",
        "Tarvitsisin neuvoa toimeentulotuen hakemiseen",
        "Jag behöver råd om att ansöka om utkomststöd",
    ),
    (
        "elderly_services",
        "Äidin kotona pärjääminen on vaikeutunut, tarvitsisimme kotihoitoa",
        "Mamma klarar sig inte längre hemma, vi behöver hemvård",
    ),
    (
        "rehabilitation",
        "Polven leikkauksen jälkeen tarvitsisin fysioterapiaa",
        "Efter knäoperationen behöver jag fysioterapi",
    ),
    (
        "family_services",
        "Tarvitsisimme perheneuvolan apua lapsen uhmaan",
        "Vi behöver hjälp från familjerådgivningen med barnets trots",
    ),
    (
        "vaccination",
        "Milloin voisin tulla influenssarokotukseen?",
        "När kan jag komma på influensavaccination?",
    ),
];
const EMERGENCY: &str = "Isällä on kova puristava rintakipu ja hän hikoilee";

fn handling(channel: i32, r: &mut Rng) -> i64 {
    let base = match pb::Channel::try_from(channel).unwrap() {
        pb::Channel::Phone => 6,
        pb::Channel::Chat => 8,
        _ => 4,
    };
    (base + r.below(5) as i64 - 2) * MINUTE
}

#[derive(Default)]
struct Day {
    submitted: usize,
    cases: HashMap<String, i64>, // case → created (virtual ms)
    languages: HashMap<String, String>,
    emergency_cases: HashSet<String>,
    own: HashMap<String, (String, i64)>, // case → own professional, until when (planned)
    /// (hetu, need) → the open case and the contact that opened it.
    // Ordered, so that picking the k-th open case is the same on every run.
    open: BTreeMap<(String, String), (String, pb::SubmitContactRequest)>,
    first_offer: HashMap<String, (String, i64)>,
    accepted_by: HashMap<String, String>,
    completions: Vec<(i64, String, String)>, // due, case, pro
    done: HashSet<String>,
    joined: usize,
    emergencies: usize,
    left_to_expire: usize,
    free_slot_checks: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_working_day_of_the_county_in_virtual_time() {
    // Tue 24 Nov 2026 08:00 in Helsinki.
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-24T08:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    luotsi::clock::set_virtual(start);
    let county = TestCounty::start().await;
    let cfg = harness::config();
    let store = Store::connect(
        &county.redis_url(),
        &cfg.county.id,
        cfg.routing.offer_timeout(),
    )
    .await
    .unwrap();
    let keys = county.keys();
    let mut conn = county.redis();

    // Everybody online; the desktops' offers are read from Redis below, not from the streams.
    let members: Vec<(String, String, Vec<String>)> = cfg
        .county
        .teams
        .iter()
        .flat_map(|t| {
            t.members.iter().map(|m| {
                (
                    m.id.clone(),
                    t.id.clone(),
                    m.languages.iter().map(|l| l.code().to_string()).collect(),
                )
            })
        })
        .collect();
    for (id, _, _) in &members {
        county.go_online(id).await;
    }
    let speaks: HashMap<&str, &Vec<String>> =
        members.iter().map(|(id, _, l)| (id.as_str(), l)).collect();
    let mut r = Rng(0x5eed_1234_abcd);
    // Choices about offers (left to expire, handling time) draw from their own stream: how many
    // offers a minute sees depends on timing, and must not change which contacts arrive.
    let mut offers_rng = Rng(0x0ffe_12ed_5eed);
    let mut day = Day::default();
    let municipalities = cfg.county.municipalities.clone();

    let minutes = 8 * 60;
    for minute in 0..minutes + 120 {
        let now = start + minute as i64 * MINUTE;
        luotsi::clock::set_virtual(now);
        store.expire_offers(1000).await.unwrap();

        // Completions due.
        let (due, later): (Vec<_>, Vec<_>) =
            day.completions.drain(..).partition(|(t, _, _)| *t <= now);
        day.completions = later;
        for (_, case_id, pro) in due {
            let outcome = if offers_rng.chance(85) {
                pb::Outcome::ResolvedAtFirstContact
            } else {
                pb::Outcome::FollowUpBooked
            };
            county.complete_with(&pro, &case_id, outcome).await;
            day.open.retain(|_, (c, _)| *c != case_id);
            day.done.insert(case_id);
        }

        // This minute's arrivals (none after 16:00).
        let arrivals = if minute < minutes {
            CONTACTS * (minute + 1) / minutes - CONTACTS * minute / minutes
        } else {
            0
        };
        for _ in 0..arrivals {
            let i = day.submitted;
            day.submitted += 1;
            let channel = match r.below(100) {
                0..45 => pb::Channel::Phone,
                45..75 => pb::Channel::EService,
                _ => pb::Channel::Chat,
            };
            // A re-contact: a citizen with an open case gets in touch again about the same
            // need, in the same words, on whatever channel.
            // Both draws are made whatever the open cases: their number depends on timing.
            let (recontact, pick) = (r.chance(8), r.below(1 << 30));
            if recontact && !day.open.is_empty() {
                let k = (pick % day.open.len() as u64) as usize;
                let (case, first) = day.open.values().nth(k).unwrap();
                let mut req = first.clone();
                req.idempotency_key = format!("day-{i}");
                req.channel = channel as i32;
                let a = county.submit(req).await;
                assert!(a.joined_existing_case, "a re-contact joins its open case");
                assert_eq!(&a.case_id, case);
                day.joined += 1;
                continue;
            }
            let again: Option<(String, String, String)> = None;
            let emergency = again.is_none() && r.chance(1);
            let swedish = r.chance(6);
            let (need, fi, sv) = NEEDS[r.below(NEEDS.len() as u64) as usize];
            let need = again.as_ref().map_or(need, |a| {
                NEEDS.iter().find(|n| n.0 == a.1).map(|n| n.0).unwrap()
            });
            let (fi, sv) = NEEDS
                .iter()
                .find(|n| n.0 == need)
                .map(|n| (n.1, n.2))
                .unwrap_or((fi, sv));
            let id_code = match &again {
                Some((h, _, _)) => h.clone(),
                None if r.chance(70) => hetu(i),
                None => String::new(),
            };
            let language = if swedish && again.is_none() {
                "sv"
            } else {
                "fi"
            };
            let municipality = if language == "sv" || need == "elderly_services" {
                "Joensuu".to_string()
            } else {
                municipalities[r.below(municipalities.len() as u64) as usize].clone()
            };
            let own = (again.is_none() && !emergency && need == "acute_symptoms" && r.chance(20))
                .then(|| {
                    cfg.county
                        .teams
                        .iter()
                        .find(|t| t.serves(Some(&municipality)))
                })
                .flatten()
                .and_then(|t| t.members.iter().find(|m| m.profession.code() == "nurse"))
                .map(|m| m.id.clone());
            let req = pb::SubmitContactRequest {
                callback_window: None,
                channel: channel as i32,
                idempotency_key: format!("day-{i}"),
                citizen: Some(pb::Citizen {
                    identity_code: id_code.clone(),
                    language: language.into(),
                    municipality,
                    own_professional_id: own.clone().unwrap_or_default(),
                    // Every citizen leaves a number: a re-contact may come by phone.
                    callback_number: format!("040{i:07}"),
                    ..Default::default()
                }),
                text: if emergency {
                    EMERGENCY.into()
                } else if language == "sv" {
                    sv.into()
                } else {
                    fi.into()
                },
                hints: Some(pb::Hints {
                    form_category: if emergency { "" } else { need }.into(),
                    ..Default::default()
                }),
            };
            let a = county.submit(req.clone()).await;
            assert!(!a.joined_existing_case);
            if emergency {
                day.emergencies += 1;
                day.emergency_cases.insert(a.case_id.clone());
                assert!(a.call_emergency_number);
                assert_eq!(
                    a.status,
                    pb::CaseStatus::Offered as i32,
                    "an emergency is offered at once"
                );
            }
            day.cases.insert(a.case_id.clone(), now);
            day.languages.insert(a.case_id.clone(), language.into());
            if let Some(o) = own {
                // The continuity wait as planned: the configured one, or shorter when the
                // case's deadline is near (half the time left).
                let until: Option<i64> = redis::cmd("HGET")
                    .arg(keys.case(&a.case_id))
                    .arg("own_professional_until")
                    .query(&mut conn)
                    .unwrap();
                let until = until.unwrap_or(now);
                assert!(until <= now + 1000 * cfg.routing.continuity_wait_secs as i64);
                day.own.insert(a.case_id.clone(), (o, until));
            }
            if !id_code.is_empty() && !emergency {
                day.open
                    .entry((id_code, need.to_string()))
                    .or_insert((a.case_id.clone(), req));
            }
        }

        // The desktops: every open offer is accepted, a few left to expire.
        let offered: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.offers())
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .unwrap();
        for case_id in offered {
            let (pro, channel): (String, String) = redis::cmd("HMGET")
                .arg(keys.case(&case_id))
                .arg(&["holder", "channel"])
                .query(&mut conn)
                .unwrap();
            day.first_offer
                .entry(case_id.clone())
                .or_insert((pro.clone(), now));
            if offers_rng.chance(3) {
                day.left_to_expire += 1;
                continue;
            }
            let held = county.accept(&pro, &case_id).await;
            if let Some(before) = day.accepted_by.insert(case_id.clone(), pro.clone()) {
                panic!("case {case_id} accepted by {before} and again by {pro}");
            }
            // Language rights held: a speaker, or an interpreter after the language wait
            // (emergencies never wait for language).
            let lang = &day.languages[&case_id];
            if !speaks[pro.as_str()].contains(lang) && !day.emergency_cases.contains(&case_id) {
                assert!(held.interpreter_needed, "{case_id}: interpreter flagged");
                assert!(
                    now >= day.cases[&case_id] + 1000 * cfg.routing.language_wait_secs as i64,
                    "{case_id}: {lang} case to a non-speaker before the language wait ended"
                );
            }
            let ch = match channel.as_str() {
                "phone" => pb::Channel::Phone,
                "chat" => pb::Channel::Chat,
                _ => pb::Channel::EService,
            };
            day.completions
                .push((now + handling(ch as i32, &mut offers_rng), case_id, pro));
        }

        day.free_slot_checks += check_no_case_waits_beside_a_free_slot(&mut conn, keys, now);
    }

    // Continuity held: the own nurse first, others only after the wait.
    for (case_id, (own, until)) in &day.own {
        if let Some((pro, at)) = day.first_offer.get(case_id)
            && pro != own
        {
            assert!(
                *at >= *until,
                "{case_id} offered to {pro} before the continuity wait for {own} ended"
            );
        }
    }
    // Nothing lost, nothing held twice: every case is in exactly one place.
    let mut places: HashMap<&str, usize> = HashMap::new();
    for case_id in day.cases.keys() {
        let (status, team, queue, sub): (String, String, String, String) = redis::cmd("HMGET")
            .arg(keys.case(case_id))
            .arg(&["status", "team", "queue", "sub_queue"])
            .query(&mut conn)
            .unwrap();
        let in_queue: Option<u64> = redis::cmd("ZRANK")
            .arg(keys.queue(&team, &queue, &sub))
            .arg(case_id)
            .query(&mut conn)
            .unwrap();
        let in_offers: Option<f64> = redis::cmd("ZSCORE")
            .arg(keys.offers())
            .arg(case_id)
            .query(&mut conn)
            .unwrap();
        match status.as_str() {
            "queued" => assert!(in_queue.is_some() && in_offers.is_none(), "{case_id}"),
            "offered" => assert!(in_queue.is_none() && in_offers.is_some(), "{case_id}"),
            "in_progress" | "completed" => {
                assert!(in_queue.is_none() && in_offers.is_none(), "{case_id}");
                assert!(day.accepted_by.contains_key(case_id), "{case_id}");
            }
            other => panic!("{case_id} is {other}"),
        }
        *places
            .entry(match status.as_str() {
                "queued" => "queued",
                "offered" => "offered",
                "in_progress" => "in progress",
                _ => "completed",
            })
            .or_default() += 1;
    }
    assert_eq!(places.values().sum::<usize>(), day.cases.len());

    let stats = county
        .try_stats("", Some(start / 1000), None)
        .await
        .unwrap();
    assert_eq!(stats.contacts as usize, day.submitted);
    assert_eq!(stats.cases as usize, day.cases.len());
    assert_eq!(stats.joined_contacts as usize, day.joined);
    let secs = |d: Option<prost_types::Duration>| d.map_or(0, |d| d.seconds);
    println!(
        "A day of Siun sote, 24 Nov 2026 08:00–16:00 (then 2 h of clearing), virtual time:\n\
         contacts {} ({} joined an open case), cases {}, emergencies {} (all offered at once)\n\
         at 18:00: completed {}, in progress {}, offered {}, still queued {}\n\
         offers left to expire and re-offered: {}; free-slot checks of waiting cases: {}\n\
         first response median {} min, p90 {} min; deadlines met {}, missed {}\n\
         one-contact share of completed {:.1} %, re-contacts within 7 days {}",
        stats.contacts,
        stats.joined_contacts,
        stats.cases,
        day.emergencies,
        places.get("completed").unwrap_or(&0),
        places.get("in progress").unwrap_or(&0),
        places.get("offered").unwrap_or(&0),
        places.get("queued").unwrap_or(&0),
        day.left_to_expire,
        day.free_slot_checks,
        secs(stats.first_response_median) / 60,
        secs(stats.first_response_p90) / 60,
        stats.deadlines_met,
        stats.deadlines_missed,
        100.0 * stats.one_contact_share,
        stats.recontacts_within_7_days,
    );
    assert!(day.emergencies > 0 && day.joined > 0 && !day.own.is_empty());
}

/// No queued case has a professional who fits it (team, profession, channel, language rules,
/// continuity, not a decliner) with a free slot on its channel. Returns the cases checked.
fn check_no_case_waits_beside_a_free_slot(
    conn: &mut redis::Connection,
    keys: &Keys,
    now: i64,
) -> usize {
    let queues: Vec<String> = redis::cmd("KEYS")
        .arg(keys.queue_by_priority("*", "*"))
        .query(conn)
        .unwrap();
    let mut checked = 0;
    for key in queues {
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(&key)
            .arg(0)
            .arg(-1)
            .query(conn)
            .unwrap();
        for id in ids {
            checked += 1;
            let f: Vec<Option<String>> = redis::cmd("HMGET")
                .arg(keys.case(&id))
                .arg(&[
                    "team",
                    "queue",
                    "channel",
                    "professions",
                    "declined",
                    "language",
                    "language_wait_until",
                    "own_professional",
                    "own_professional_until",
                ])
                .query(conn)
                .unwrap();
            let s = |i: usize| f[i].clone().unwrap_or_default();
            if s(1) == "alert" {
                continue; // emergencies: checked at submission
            }
            for prof in s(3).split(',').filter(|p| !p.is_empty()) {
                let free: Vec<String> = redis::cmd("ZRANGE")
                    .arg(keys.free(&s(0), &s(2), prof))
                    .arg(0)
                    .arg(-1)
                    .query(conn)
                    .unwrap();
                for pro in free {
                    let langs: String = redis::cmd("HGET")
                        .arg(keys.professional(&pro))
                        .arg("langs")
                        .query(conn)
                        .unwrap();
                    let lang_ok = langs.contains(&format!(",{},", s(5)))
                        || s(6).parse::<i64>().unwrap_or(0) <= now;
                    let own_ok =
                        s(7).is_empty() || s(7) == pro || s(8).parse::<i64>().unwrap_or(0) <= now;
                    let declined = s(4).contains(&format!(",{pro},"));
                    assert!(
                        !(lang_ok && own_ok && !declined),
                        "case {id} waits in {key} while {pro} ({prof}) has a free slot"
                    );
                }
            }
        }
    }
    checked
}
