//! Throughput and latency of `Classifier::classify` on one thread, over the texts of the
//! evaluation sets. Run: `cargo bench --bench classify`.

use std::path::Path;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use luotsi::classify::{Classifier, Input};
use luotsi::domain::Need;

struct Case {
    text: String,
    form_category: Option<Need>,
}

fn load_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for file in [
        "tests/data/classify_tune.jsonl",
        "tests/data/classify_heldout.jsonl",
    ] {
        let src = std::fs::read_to_string(file).expect("eval file");
        for line in src.lines().filter(|l| !l.trim().is_empty()) {
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
    let classifier = Classifier::load(Path::new("config/classifier")).expect("classifier loads");
    let cases = load_cases();
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).expect("histogram");
    // Warm-up.
    for c in &cases {
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
        for c in &cases {
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
