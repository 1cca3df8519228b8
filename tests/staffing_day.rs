//! The staffing forecast checked against Luotsi itself: call-backs arrive at random (Poisson) at
//! the rate the forecast is asked about, as many professionals as Erlang C recommends are
//! online, each takes what Luotsi offers at once and is busy for a random (exponential) handling
//! time — and the share of call-backs taken within the promise lands within ±5 points of what
//! Erlang C predicted. 200 virtual hours (~4 900 call-backs: 50 hours gave a spread of about
//! 5 points from run to run of the queue, too close to the bar). Its own test binary: the whole
//! process runs on the virtual clock, jumping from one arrival or completion to the next.

#[allow(dead_code)]
#[path = "service/county.rs"]
mod county;
#[allow(dead_code)]
#[path = "service/harness.rs"]
mod harness;
#[allow(dead_code)]
#[path = "service/support.rs"]
mod support;

use std::time::Duration;

use county::TestCounty;
use luotsi::domain::staffing::{Demand, Target, live};
use luotsi::pb;

/// A small deterministic generator (no dependency, the same run every time).
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Exponentially distributed, with this mean (ms).
    fn exp_ms(&mut self, mean_ms: f64) -> i64 {
        (-mean_ms * self.unit().ln()).round() as i64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_staffed_as_recommended_meets_the_predicted_service_level() {
    // Call-backs about acute symptoms to the Joensuu station: 24 an hour, 6 minutes each
    // (2.4 Erlangs), promised within 2 minutes to 80 %.
    let (per_hour, aht, within) = (24.0, Duration::from_secs(360), Duration::from_secs(120));
    let plan = live(
        Demand {
            arrivals: per_hour,
            aht,
        },
        Target {
            share: 0.8,
            within,
            max_occupancy: 1.0,
        },
    );
    // The station's nurses and doctors, as many as recommended.
    let staff = ["jns-sh-1", "jns-sh-2", "jns-sh-3", "jns-lk-1", "jns-lk-2"];
    let n = plan.professionals as usize;
    assert!((1..=staff.len()).contains(&n), "{plan:?}");

    let start = chrono::DateTime::parse_from_rfc3339("2026-11-24T08:00:00+02:00")
        .unwrap()
        .timestamp_millis();
    luotsi::clock::set_virtual(start);
    let county = TestCounty::start_with(|c| {
        c.routing.overflow_after_secs = vec![];
        c.routing.offer_timeout_secs = 24 * 3600;
    })
    .await;
    let keys = county.keys().clone();
    let mut conn = county.redis();
    for pro in &staff[..n] {
        county
            .go_online_with_capacity(
                pro,
                &[
                    (pb::Channel::Phone, 1),
                    (pb::Channel::Chat, 0),
                    (pb::Channel::EService, 0),
                ],
            )
            .await;
    }

    let mut rng = Rng(0x5eed_cafe_f00d_1234);
    let arrival_mean = 3_600_000.0 / per_hour;
    let aht_ms = aht.as_millis() as f64;
    let mut next_arrival = start + rng.exp_ms(arrival_mean);
    let mut completions: Vec<(i64, String, String)> = Vec::new();
    let mut submitted_at = std::collections::HashMap::new();
    let (mut answered_in_time, mut answered) = (0u32, 0u32);
    let end = start + 200 * 3_600_000;
    let mut i = 0;
    while next_arrival < end || !completions.is_empty() {
        completions.sort_by_key(|c| std::cmp::Reverse(c.0));
        let next_done = completions.last().map(|c| c.0);
        let now = match next_done {
            Some(t) if t <= next_arrival || next_arrival >= end => {
                let (t, case, pro) = completions.pop().unwrap();
                luotsi::clock::set_virtual(t);
                county.complete(&pro, &case).await;
                t
            }
            _ => {
                let t = next_arrival;
                luotsi::clock::set_virtual(t);
                i += 1;
                let c = county
                    .submit(support::cough(pb::Channel::Phone, &format!("erlang-{i}")))
                    .await;
                submitted_at.insert(c.case_id, t);
                next_arrival = t + rng.exp_ms(arrival_mean);
                t
            }
        };
        // The desktops take every offer at once; each call lasts an exponential time.
        let offered: Vec<String> = redis::cmd("ZRANGE")
            .arg(keys.offers())
            .arg(0)
            .arg(-1)
            .query(&mut conn)
            .unwrap();
        for case in offered {
            let holder: String = redis::cmd("HGET")
                .arg(keys.case(&case))
                .arg("holder")
                .query(&mut conn)
                .unwrap();
            county.accept(&holder, &case).await;
            let waited = now - submitted_at[&case];
            answered += 1;
            if waited <= within.as_millis() as i64 {
                answered_in_time += 1;
            }
            completions.push((now + rng.exp_ms(aht_ms), case, holder));
        }
    }
    let achieved = f64::from(answered_in_time) / f64::from(answered);
    println!(
        "{n} professionals, {answered} call-backs: {:.1} % within {} s, Erlang C predicted {:.1} %",
        100.0 * achieved,
        within.as_secs(),
        100.0 * plan.service_level
    );
    assert_eq!(
        answered as usize,
        submitted_at.len(),
        "every call-back taken"
    );
    assert!(answered > 4000, "{answered}");
    assert!(
        (achieved - plan.service_level).abs() <= 0.05,
        "achieved {achieved:.3}, predicted {:.3}",
        plan.service_level
    );
}
