//! How many professionals an hour needs: Erlang C for the channels answered live (phone
//! call-backs, chat), workload for e-service. Pure: arrivals and handling times in, counts out.
//!
//! Erlang C (M/M/N): arrivals at rate λ, handling times exponential with mean `aht`, `n`
//! professionals, one queue served in order. Traffic `a = λ · aht` (Erlangs). The probability
//! that a contact waits at all is
//!
//! ```text
//! C(n, a) = (aⁿ/n! · n/(n−a)) / (Σ_{k<n} aᵏ/k! + aⁿ/n! · n/(n−a))      for n > a
//! ```
//!
//! and the service level — the share answered within `t` — is `1 − C · e^{−(n−a)·t/aht}`.
//! `C` is computed through the Erlang B recursion `B(k) = a·B(k−1) / (k + a·B(k−1))`, which
//! never forms a factorial and stays exact to rounding for hundreds of professionals.

use std::time::Duration;

/// The probability that a contact waits (Erlang C), with `n` professionals and `a` Erlangs of
/// traffic. 1 when `n ≤ a` (the queue grows without end).
pub fn erlang_c(n: u32, a: f64) -> f64 {
    if a <= 0.0 {
        return 0.0;
    }
    if f64::from(n) <= a {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=n {
        b = a * b / (f64::from(k) + a * b);
    }
    let rho = a / f64::from(n);
    b / (1.0 - rho + rho * b)
}

/// The share of contacts answered within `target`.
pub fn service_level(n: u32, a: f64, aht: Duration, target: Duration) -> f64 {
    if a <= 0.0 {
        return 1.0;
    }
    if f64::from(n) <= a {
        return 0.0;
    }
    let c = erlang_c(n, a);
    1.0 - c * (-(f64::from(n) - a) * target.as_secs_f64() / aht.as_secs_f64()).exp()
}

/// What an hour of one channel asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// Contacts expected in the hour.
    pub arrivals: f64,
    /// Mean handling time.
    pub aht: Duration,
}

/// The service the county promises on a live channel: `share` answered within `within`, no
/// professional busier than `max_occupancy` of the hour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    pub share: f64,
    pub within: Duration,
    pub max_occupancy: f64,
}

/// The recommendation for one hour of one channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Staffing {
    pub professionals: u32,
    /// Traffic in Erlangs (professionals busy on average).
    pub erlangs: f64,
    /// The service level expected with `professionals` (1 for e-service: no live wait).
    pub service_level: f64,
    pub occupancy: f64,
}

/// The fewest professionals meeting `target` on a live channel (phone, chat).
pub fn live(demand: Demand, target: Target) -> Staffing {
    let a = demand.arrivals * demand.aht.as_secs_f64() / 3600.0;
    if a <= 0.0 {
        return Staffing {
            professionals: 0,
            erlangs: 0.0,
            service_level: 1.0,
            occupancy: 0.0,
        };
    }
    let mut n = (a.floor() as u32).max(1);
    loop {
        let sl = service_level(n, a, demand.aht, target.within);
        let occupancy = a / f64::from(n);
        if (sl >= target.share && occupancy <= target.max_occupancy) || n >= 100_000 {
            return Staffing {
                professionals: n,
                erlangs: a,
                service_level: sl,
                occupancy,
            };
        }
        n += 1;
    }
}

/// E-service messages wait in a queue with a deadline of days, not seconds: the professionals
/// needed are the hour's work divided by the productive share of an hour.
pub fn workload(demand: Demand, max_occupancy: f64) -> Staffing {
    let a = demand.arrivals * demand.aht.as_secs_f64() / 3600.0;
    let n = (a / max_occupancy.max(0.01)).ceil() as u32;
    Staffing {
        professionals: n,
        erlangs: a,
        service_level: 1.0,
        occupancy: if n == 0 { 0.0 } else { a / f64::from(n) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The textbook form with factorials, for small cases: a second, independent computation.
    fn erlang_c_direct(n: u32, a: f64) -> f64 {
        let fact = |k: u32| (1..=k).map(f64::from).product::<f64>();
        let top = a.powi(n as i32) / fact(n) * f64::from(n) / (f64::from(n) - a);
        let sum: f64 = (0..n).map(|k| a.powi(k as i32) / fact(k)).sum();
        top / (sum + top)
    }

    #[test]
    fn erlang_c_matches_the_textbook_formula_and_published_values() {
        for (n, a) in [
            (1, 0.5),
            (2, 1.5),
            (5, 3.0),
            (11, 10.0),
            (14, 10.0),
            (30, 25.0),
        ] {
            let (r, d) = (erlang_c(n, a), erlang_c_direct(n, a));
            assert!((r - d).abs() < 1e-12, "C({n}, {a}): {r} vs {d}");
        }
        // M/M/1: the probability of waiting is the utilisation.
        assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
        // Published Erlang C table, A = 10 Erlangs: P(wait) for 11..=15 agents
        // (e.g. the tables in Cooper, "Introduction to Queueing Theory", and any Erlang C
        // calculator): 0.6821, 0.4494, 0.2853, 0.1741, 0.1020.
        for (n, want) in [
            (11, 0.6821),
            (12, 0.4494),
            (13, 0.2853),
            (14, 0.1741),
            (15, 0.1020),
        ] {
            let got = erlang_c(n, 10.0);
            assert!(
                (got - want).abs() < 5e-4,
                "C({n}, 10) = {got}, table {want}"
            );
        }
        assert_eq!(
            erlang_c(10, 10.0),
            1.0,
            "no more agents than Erlangs: everyone waits"
        );
    }

    /// The classic worked example: 200 calls an hour, 3 minutes each (10 Erlangs), 80 % within
    /// 20 seconds: 14 agents, service level 88.9 % (13 give 79.6 %, just short) — from the table
    /// above: 1 − 0.1741·e^(−4·20/180) and 1 − 0.2853·e^(−3·20/180).
    #[test]
    fn the_classic_example_needs_fourteen() {
        let demand = Demand {
            arrivals: 200.0,
            aht: Duration::from_secs(180),
        };
        let target = Target {
            share: 0.8,
            within: Duration::from_secs(20),
            max_occupancy: 1.0,
        };
        let s = live(demand, target);
        assert_eq!(s.professionals, 14);
        assert!((s.erlangs - 10.0).abs() < 1e-12);
        assert!((s.service_level - 0.889).abs() < 0.001, "{s:?}");
        let thirteen = service_level(13, 10.0, demand.aht, target.within);
        assert!((thirteen - 0.796).abs() < 0.001, "{thirteen}");
        // An occupancy cap of 70 % asks for more: 10 / 0.7 → 15.
        let capped = live(
            demand,
            Target {
                max_occupancy: 0.7,
                ..target
            },
        );
        assert_eq!(capped.professionals, 15);
    }

    #[test]
    fn e_service_is_workload_and_a_quiet_hour_needs_nobody() {
        let w = workload(
            Demand {
                arrivals: 30.0,
                aht: Duration::from_secs(300),
            },
            0.85,
        );
        // 30 × 5 min = 2.5 h of work in the hour: 3 professionals at 85 %.
        assert_eq!(w.professionals, 3);
        let none = live(
            Demand {
                arrivals: 0.0,
                aht: Duration::from_secs(300),
            },
            Target {
                share: 0.8,
                within: Duration::from_secs(60),
                max_occupancy: 0.85,
            },
        );
        assert_eq!(none.professionals, 0);
    }

    /// The maths against a simulated queue: a discrete-event simulation of the same M/M/n
    /// queue (Poisson arrivals, exponential handling, first come first served) over many
    /// simulated hours lands within ±5 points of the service level Erlang C predicts.
    #[test]
    fn a_simulated_queue_lands_within_five_points_of_the_prediction() {
        // A small deterministic generator (no dependency; the same run every time).
        struct Rng(u64);
        impl Rng {
            fn unit(&mut self) -> f64 {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
            }
            fn exp(&mut self, mean: f64) -> f64 {
                -mean * self.unit().ln()
            }
        }
        for (arrivals, aht, within) in [
            (200.0, 180.0, 20.0),
            (30.0, 420.0, 60.0),
            (12.0, 600.0, 120.0),
        ] {
            let demand = Demand {
                arrivals,
                aht: Duration::from_secs_f64(aht),
            };
            let target = Target {
                share: 0.8,
                within: Duration::from_secs_f64(within),
                max_occupancy: 1.0,
            };
            let plan = live(demand, target);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
            let n = plan.professionals as usize;
            let mut free_at = vec![0.0f64; n];
            let (mut t, mut answered, mut total) = (0.0, 0u64, 0u64);
            let horizon = 2000.0 * 3600.0;
            while t < horizon {
                t += rng.exp(3600.0 / arrivals);
                // First come, first served: the professional free soonest takes the next.
                let (i, &free) = free_at
                    .iter()
                    .enumerate()
                    .min_by(|a, b| a.1.total_cmp(b.1))
                    .unwrap();
                let start = free.max(t);
                free_at[i] = start + rng.exp(aht);
                total += 1;
                if start - t <= within {
                    answered += 1;
                }
            }
            let simulated = answered as f64 / total as f64;
            assert!(
                (simulated - plan.service_level).abs() <= 0.05,
                "{arrivals}/h × {aht} s, {n} professionals: simulated {simulated:.3}, predicted {:.3}",
                plan.service_level
            );
        }
    }
}
