//! The county's monthly report. The statistics stream keeps 31 days; so that a month can be
//! reported for 13 months, each Helsinki day is rolled up, once it is over, into `agg:<date>`
//! (counters per team and channel, kept 400 days) by every instance's hourly roll-up loop and by
//! the report itself. A day rolled up is never rolled up again; a day whose statistics are gone
//! before it was rolled up is reported as missing, never as zeros.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, NaiveTime};

use crate::domain::calendar::{local_date, local_time};
use crate::domain::deadline::Rule;
use crate::store::{Store, StoreError};

/// How long a day's roll-up is kept: 13 months and more.
pub const KEEP_DAYS: u64 = 400;
/// The statistics stream's own keep (the `stats` stream is trimmed by time).
const STREAM_DAYS: i64 = 31;
/// Marks a day as rolled up, even a day without contacts.
const DONE: &str = "_done";

/// One team and channel's figures over a period, summed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters(pub BTreeMap<String, i64>);

impl Counters {
    fn add(&mut self, name: &str, n: i64) {
        *self.0.entry(name.to_string()).or_default() += n;
    }

    pub fn get(&self, name: &str) -> i64 {
        self.0.get(name).copied().unwrap_or(0)
    }
}

/// What one statistics entry adds to its team and channel's counters.
fn count(e: &HashMap<String, String>, c: &mut Counters) {
    let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("");
    match get("k") {
        "contact" => {
            c.add("contacts", 1);
            if get("joined") == "1" {
                c.add("joined", 1);
                c.add("recontacts", 1);
            } else {
                c.add("cases", 1);
                if get("recontact") == "1" {
                    c.add("recontacts", 1);
                }
            }
        }
        "first" => {
            c.add("first_responses", 1);
            c.add("first_response_ms", get("wait").parse().unwrap_or(0));
            if get("dlaw") == Rule::CareNeedAssessment.law().unwrap_or("") {
                c.add(
                    if get("late") == "1" {
                        "assessment_late"
                    } else {
                        "assessment_met"
                    },
                    1,
                );
            }
            let lang = get("lang");
            if !lang.is_empty() && lang != "fi" {
                c.add(&format!("lang_{lang}"), 1);
                if get("interp") == "1" {
                    c.add("interpreter", 1);
                } else {
                    c.add(&format!("lang_{lang}_own"), 1);
                }
            }
        }
        "done" => {
            c.add("completed", 1);
            if get("outcome") == "resolved_at_first_contact" && get("contacts") == "1" {
                c.add("one_contact", 1);
            }
            if get("slaw") == Rule::CareGuarantee.law().unwrap_or("") {
                c.add(
                    if get("slate") == "1" {
                        "guarantee_late"
                    } else {
                        "guarantee_met"
                    },
                    1,
                );
            }
        }
        "attempt" => c.add(&format!("attempts_{}", get("outcome")), 1),
        "unreachable" => c.add("unreachable", 1),
        _ => {}
    }
}

fn day_bounds(day: NaiveDate) -> (i64, i64) {
    let from = local_time(day, NaiveTime::MIN).timestamp_millis();
    let to = local_time(day.succ_opt().unwrap_or(day), NaiveTime::MIN).timestamp_millis() - 1;
    (from, to)
}

/// Rolls one finished day up into `agg:<date>` from the statistics stream. Whether there was
/// anything to roll up from (the stream keeps 31 days).
pub async fn roll_up(store: &Store, day: NaiveDate) -> Result<bool, StoreError> {
    let (from, to) = day_bounds(day);
    if from < crate::clock::now_ms() - STREAM_DAYS * 86_400_000 {
        return Ok(false);
    }
    let mut by: BTreeMap<(String, String), Counters> = BTreeMap::new();
    store
        .for_each_stats_entry(from, to, |e| {
            let team = e.get("team").cloned().unwrap_or_default();
            let ch = e.get("ch").cloned().unwrap_or_default();
            count(e, by.entry((team, ch)).or_default());
        })
        .await?;
    let mut fields: Vec<(String, i64)> = vec![(DONE.into(), 1)];
    for ((team, ch), c) in by {
        for (name, n) in c.0 {
            fields.push((format!("{team}|{ch}|{name}"), n));
        }
    }
    store
        .write_day_aggregate(&day.to_string(), &fields, KEEP_DAYS * 86_400)
        .await?;
    Ok(true)
}

/// Rolls up every finished day still in the statistics stream that is not rolled up yet.
pub async fn roll_up_missing(store: &Store) -> Result<u32, StoreError> {
    let today = local_date(crate::clock::now());
    let days: Vec<NaiveDate> = (1..STREAM_DAYS as u64)
        .filter_map(|d| today.checked_sub_days(chrono::Days::new(d)))
        .collect();
    let names: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    let present = store.day_aggregates_present(&names).await?;
    let mut n = 0;
    for (day, present) in days.into_iter().zip(present) {
        if !present && roll_up(store, day).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// One row of the report: a team and channel over the month.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub team: String,
    pub channel: String,
    pub counters: Counters,
}

/// A month, per team and channel.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyReport {
    pub month: String,
    pub rows: Vec<Row>,
    /// Days of the month (finished) with no roll-up and no statistics left to make one.
    pub missing_days: Vec<NaiveDate>,
    /// Days not over yet (the current month).
    pub days_to_come: u32,
}

/// The report for `month` (`YYYY-MM`), for `team` or every team (empty).
pub async fn monthly(store: &Store, month: &str, team: &str) -> Result<MonthlyReport, String> {
    let first = NaiveDate::parse_from_str(&format!("{month}-01"), "%Y-%m-%d")
        .map_err(|_| format!("month: `{month}` is not a month (YYYY-MM)"))?;
    let today = local_date(crate::clock::now());
    let mut days = Vec::new();
    let mut day = first;
    let mut to_come = 0;
    while day.month() == first.month() {
        if day < today {
            days.push(day);
        } else {
            to_come += 1;
        }
        day = day.succ_opt().ok_or("month: out of range")?;
    }
    roll_up_missing(store).await.map_err(|e| e.to_string())?;
    let names: Vec<String> = days.iter().map(|d| d.to_string()).collect();
    let hashes = store
        .day_aggregates(&names)
        .await
        .map_err(|e| e.to_string())?;
    let mut rows: BTreeMap<(String, String), Counters> = BTreeMap::new();
    let mut missing = Vec::new();
    for (day, h) in days.into_iter().zip(hashes) {
        if !h.contains_key(DONE) {
            missing.push(day);
            continue;
        }
        for (field, n) in h {
            let mut parts = field.splitn(3, '|');
            let (Some(t), Some(ch), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if !team.is_empty() && t != team {
                continue;
            }
            rows.entry((t.to_string(), ch.to_string()))
                .or_default()
                .add(name, n);
        }
    }
    Ok(MonthlyReport {
        month: month.to_string(),
        rows: rows
            .into_iter()
            .map(|((team, channel), counters)| Row {
                team,
                channel,
                counters,
            })
            .collect(),
        missing_days: missing,
        days_to_come: to_come,
    })
}

/// The report's columns: (header, how a row's value is computed).
type Column = (&'static str, fn(&Counters) -> String);

fn share(num: i64, den: i64) -> String {
    if den == 0 {
        String::new()
    } else {
        format!("{:.1}", 100.0 * num as f64 / den as f64)
    }
}

const COLUMNS: [Column; 13] = [
    ("contacts", |c| c.get("contacts").to_string()),
    ("cases", |c| c.get("cases").to_string()),
    ("recontacts", |c| c.get("recontacts").to_string()),
    ("completed", |c| c.get("completed").to_string()),
    ("one_contact_pct", |c| {
        share(c.get("one_contact"), c.get("completed"))
    }),
    ("first_responses", |c| c.get("first_responses").to_string()),
    ("first_response_mean_min", |c| {
        let n = c.get("first_responses");
        if n == 0 {
            String::new()
        } else {
            format!(
                "{:.1}",
                c.get("first_response_ms") as f64 / n as f64 / 60_000.0
            )
        }
    }),
    ("same_day_assessment_met_pct", |c| {
        share(
            c.get("assessment_met"),
            c.get("assessment_met") + c.get("assessment_late"),
        )
    }),
    ("care_guarantee_met_pct", |c| {
        share(
            c.get("guarantee_met"),
            c.get("guarantee_met") + c.get("guarantee_late"),
        )
    }),
    ("swedish_in_swedish_pct", |c| {
        share(c.get("lang_sv_own"), c.get("lang_sv"))
    }),
    ("sami_in_sami_pct", |c| {
        let own = c.get("lang_se_own") + c.get("lang_smn_own") + c.get("lang_sms_own");
        share(
            own,
            c.get("lang_se") + c.get("lang_smn") + c.get("lang_sms"),
        )
    }),
    ("callback_attempts", |c| {
        c.0.iter()
            .filter(|(k, _)| k.starts_with("attempts_"))
            .map(|(_, n)| n)
            .sum::<i64>()
            .to_string()
    }),
    ("unreachable", |c| c.get("unreachable").to_string()),
];

impl MonthlyReport {
    pub fn csv(&self) -> String {
        let mut out = String::from("month,team,channel");
        for (h, _) in COLUMNS {
            out.push(',');
            out.push_str(h);
        }
        out.push('\n');
        for r in &self.rows {
            out.push_str(&format!("{},{},{}", self.month, r.team, r.channel));
            for (_, f) in COLUMNS {
                out.push(',');
                out.push_str(&f(&r.counters));
            }
            out.push('\n');
        }
        out
    }

    /// A printable page, self-contained.
    pub fn html(&self, county: &str) -> String {
        let esc = |s: &str| {
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        };
        let mut out = format!(
            "<!doctype html><html lang=\"fi\"><meta charset=\"utf-8\"><title>{c} {m}</title>\
             <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:11pt}}\
             th,td{{border:1px solid #999;padding:3px 6px;text-align:right}}td:nth-child(-n+2),th:nth-child(-n+2){{text-align:left}}\
             @media print{{body{{margin:0}}}}</style><h1>{c}: {m}</h1>",
            c = esc(county),
            m = esc(&self.month)
        );
        if !self.missing_days.is_empty() {
            out.push_str(&format!(
                "<p><b>Missing days</b> (no statistics kept): {}</p>",
                self.missing_days
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if self.days_to_come > 0 {
            out.push_str(&format!(
                "<p>The month is not over: {} day(s) to come.</p>",
                self.days_to_come
            ));
        }
        out.push_str("<table><tr><th>team</th><th>channel</th>");
        for (h, _) in COLUMNS {
            out.push_str(&format!("<th>{}</th>", h.replace('_', " ")));
        }
        out.push_str("</tr>");
        for r in &self.rows {
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td>",
                esc(&r.team),
                esc(&r.channel)
            ));
            for (_, f) in COLUMNS {
                out.push_str(&format!("<td>{}</td>", f(&r.counters)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</table></html>\n");
        out
    }
}
