//! The staffing forecast: from the statistics stream, contacts per hour, team and channel on
//! the same weekday over recent weeks, and handling times; from those, the professionals each
//! hour needs (`domain::staffing`: Erlang C for phone and chat, workload for e-service). Read by
//! `luotsi staffing` and `SupervisorService.PlanStaffing`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Days, NaiveDate, NaiveTime, Timelike};

use crate::config::Config;
use crate::domain::Channel;
use crate::domain::calendar::{TZ, local_time};
use crate::domain::staffing::{self, Demand, Target};
use crate::store::{Store, StoreError};

/// One hour of one team's channel.
#[derive(Debug, Clone, PartialEq)]
pub struct HourPlan {
    /// Helsinki hour of the day, 0–23.
    pub hour: u32,
    pub team: String,
    pub channel: Channel,
    /// Contacts expected (the mean of the weeks read).
    pub arrivals: f64,
    pub aht: Duration,
    pub professionals: u32,
    pub service_level: f64,
    pub occupancy: f64,
}

/// The forecast for one day.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffingPlan {
    pub date: NaiveDate,
    /// Same weekdays with statistics recorded (within the 31 days kept, already past).
    pub weeks: u32,
    /// By hour, team, channel; hours without contacts left out.
    pub hours: Vec<HourPlan>,
}

#[derive(Default)]
struct Tally {
    arrivals: u64,
}

/// The forecast for `date` (Helsinki), for `team` or (empty) every team.
pub async fn plan(
    store: &Store,
    config: &Config,
    date: NaiveDate,
    team: &str,
) -> Result<StaffingPlan, StoreError> {
    let now = crate::clock::now_ms();
    let kept_from = now - 31 * 86_400_000;
    let mut by_hour: BTreeMap<(u32, String, Channel), Tally> = BTreeMap::new();
    let mut handled: BTreeMap<(String, Channel), (i64, u64)> = BTreeMap::new();
    let mut weeks = 0;
    for week in 1..=u64::from(config.staffing.weeks) {
        let Some(day) = date.checked_sub_days(Days::new(7 * week)) else {
            continue;
        };
        let from = local_time(day, NaiveTime::MIN).timestamp_millis();
        let to = local_time(day.succ_opt().unwrap_or(day), NaiveTime::MIN).timestamp_millis() - 1;
        if from < kept_from || to > now {
            continue;
        }
        let mut recorded = false;
        store
            .for_each_stats_entry(from, to, |e| {
                // A day with anything recorded counts as a week of history, even if this team
                // had no contacts that day.
                recorded = true;
                let get = |k: &str| e.get(k).map(String::as_str).unwrap_or("");
                if !team.is_empty() && get("team") != team {
                    return;
                }
                let Ok(channel) = get("ch").parse::<Channel>() else {
                    return;
                };
                match get("k") {
                    "contact" if get("joined") != "1" => {
                        let at = get("_ms").parse::<i64>().unwrap_or(from);
                        let hour = chrono::DateTime::from_timestamp_millis(at)
                            .map_or(0, |t| t.with_timezone(&TZ).hour());
                        by_hour
                            .entry((hour, get("team").to_string(), channel))
                            .or_default()
                            .arrivals += 1;
                    }
                    "done" => {
                        if let Ok(ms) = get("handled").parse::<i64>() {
                            let h = handled
                                .entry((get("team").to_string(), channel))
                                .or_default();
                            h.0 += ms;
                            h.1 += 1;
                        }
                    }
                    _ => {}
                }
            })
            .await?;
        if recorded {
            weeks += 1;
        }
    }
    let st = &config.staffing;
    let hours = by_hour
        .into_iter()
        .map(|((hour, team, channel), t)| {
            let aht = match handled.get(&(team.clone(), channel)) {
                Some(&(ms, n)) if n > 0 && ms > 0 => Duration::from_millis((ms / n as i64) as u64),
                _ => Duration::from_secs(config.routing.average_handling_secs.get(channel)),
            };
            let demand = Demand {
                arrivals: t.arrivals as f64 / f64::from(weeks.max(1)),
                aht,
            };
            let within = match channel {
                Channel::Chat => {
                    Duration::from_secs(60 * config.deadlines.chat_answer_minutes.max(0) as u64)
                }
                _ => Duration::from_secs(st.phone_within_secs),
            };
            let s = match channel {
                Channel::EService => staffing::workload(demand, st.max_occupancy),
                _ => staffing::live(
                    demand,
                    Target {
                        share: st.service_level,
                        within,
                        max_occupancy: st.max_occupancy,
                    },
                ),
            };
            HourPlan {
                hour,
                team,
                channel,
                arrivals: demand.arrivals,
                aht,
                professionals: s.professionals,
                service_level: s.service_level,
                occupancy: s.occupancy,
            }
        })
        .collect();
    Ok(StaffingPlan { date, weeks, hours })
}

impl StaffingPlan {
    /// As CSV: a header, then one line per hour, team and channel.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "date,hour,team,channel,arrivals,aht_secs,professionals,service_level,occupancy\n",
        );
        for h in &self.hours {
            out.push_str(&format!(
                "{},{:02},{},{},{:.2},{},{},{:.3},{:.3}\n",
                self.date,
                h.hour,
                h.team,
                h.channel.code(),
                h.arrivals,
                h.aht.as_secs(),
                h.professionals,
                h.service_level,
                h.occupancy
            ));
        }
        out
    }

    /// As a table for a terminal.
    pub fn table(&self) -> String {
        let mut out = format!(
            "Staffing for {} (same weekday, {} week(s) of history)\n{:<5} {:<24} {:<9} {:>8} {:>6} {:>5} {:>7} {:>6}\n",
            self.date,
            self.weeks,
            "hour",
            "team",
            "channel",
            "contacts",
            "aht",
            "staff",
            "service",
            "busy"
        );
        for h in &self.hours {
            out.push_str(&format!(
                "{:02}:00 {:<24} {:<9} {:>8.1} {:>4}m {:>5} {:>6.0}% {:>5.0}%\n",
                h.hour,
                h.team,
                h.channel.code(),
                h.arrivals,
                h.aht.as_secs().div_ceil(60),
                h.professionals,
                100.0 * h.service_level,
                100.0 * h.occupancy
            ));
        }
        if self.hours.is_empty() {
            out.push_str("no contacts on this weekday in the statistics kept (31 days)\n");
        }
        out
    }
}
