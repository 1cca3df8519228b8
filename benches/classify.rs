//! Throughput and latency of `Classifier::classify` on one thread, over the texts of the
//! training sets: the rules alone, then rules and the trained model. Run:
//! `cargo bench --bench classify`.

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use luotsi::classify::{Classifier, Input, ModelMode};
use luotsi::domain::Need;

struct Case {
    text: String,
    form_category: Option<Need>,
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let files = luotsi::classify::dataset::training_files(Path::new("tests/data")).expect("files");
    for file in files {
        let src = std::fs::read_to_string(file).expect("eval file");
        for line in src
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let v: serde_json::Value = serde_json::from_str(line).expect("json line");
            cases.push(Case {
                text: v["text"].as_str().unwrap_or_default().to_string(),
                form_category: v["form_category"].as_str().and_then(|s| s.parse().ok()),
            });
        }
    }
    cases
}

fn main() {
    let cases = load_cases();
    for (name, mode) in [
        ("rules alone", ModelMode::Off),
        ("rules + model", ModelMode::RaiseOnly),
    ] {
        let classifier =
            Classifier::load_with(Path::new("config/classifier"), mode).expect("classifier loads");
        println!("== {name}");
        if let Some(s) = classifier.signal() {
            println!(
                "model: {} buckets kept, {:.1} MiB in memory",
                s.rows(),
                s.memory_bytes() as f64 / (1024.0 * 1024.0)
            );
        }
        run(&classifier, &cases);
    }
}

fn run(classifier: &Classifier, cases: &[Case]) {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    // Warm-up.
    for c in cases {
        std::hint::black_box(classifier.classify(&Input {
            text: &c.text,
            form_category: c.form_category,
            ..Input::default()
        }));
    }
    let budget = Duration::from_secs(4);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for c in cases {
            let t = Instant::now();
            let out = classifier.classify(&Input {
                text: &c.text,
                form_category: c.form_category,
                ..Input::default()
            });
            let ns = t.elapsed().as_nanos() as u64;
            std::hint::black_box(out);
            hist.record(ns.max(1)).expect("record");
            n += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "texts: {} distinct, {n} classified in {secs:.2} s on one thread",
        cases.len()
    );
    println!("throughput: {:.0} texts/s", n as f64 / secs);
    println!(
        "latency per text: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        hist.value_at_quantile(0.50) as f64 / 1000.0,
        hist.value_at_quantile(0.99) as f64 / 1000.0,
        hist.max() as f64 / 1000.0
    );
}
