//! What encryption at rest costs per contact, on one thread: sealing a submitted contact's
//! words and call-back number (the work added to every SubmitContact) and opening them again
//! (a professional reading the case), with the day's data key in memory as it is after the
//! first contact of the day. The texts are the project's labelled contacts, so their lengths
//! are real ones. Run: `cargo bench --bench at_rest`. (The Redis side — one `SADD` and a
//! short field in the submit script, longer values — is measured with `INFO latencystats`:
//! BENCHMARKS.md, "Encryption at rest".)

use std::time::Instant;

use hdrhistogram::Histogram;
use luotsi::store::seal::{self, Sealer};

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "  {name:<40} p50 {:>6.2} µs  p99 {:>6.2} µs  max {:>7.2} µs  (n = {})",
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
        h.len()
    );
}

fn main() {
    let texts: Vec<String> = std::fs::read_to_string("tests/data/classify_tune.jsonl")
        .expect("run from the repository root")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(String::from))
        .collect();
    assert!(!texts.is_empty());
    let mean = texts.iter().map(String::len).sum::<usize>() / texts.len();
    let sealer = Sealer::ephemeral();
    let wrapped = sealer.new_wrapped("lu:{bench}:", "w20261124");
    let key = sealer
        .unwrap_key("lu:{bench}:", "w20261124", &wrapped)
        .unwrap();
    let number = "+358401234567";
    let rounds = 200_000;
    let mut sealing = Histogram::<u64>::new(3).unwrap();
    let mut opening = Histogram::<u64>::new(3).unwrap();
    let mut submit = Histogram::<u64>::new(3).unwrap();
    // An encoded classification as a submit stores it: about 300 bytes (needs, scores, evidence).
    let class: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut kept = Vec::with_capacity(texts.len());
    for i in 0..rounds {
        let text = &texts[i % texts.len()];
        let case = format!("019ab3c4-0000-7000-8000-{i:012}");
        let (ta, na) = (
            seal::word_aad(&case, "text"),
            seal::word_aad(&case, "callback_number"),
        );
        let t = Instant::now();
        let st = seal::seal(&key, "w20261124", &ta, text);
        let sn = seal::seal(&key, "w20261124", &na, number);
        sealing.record(t.elapsed().as_nanos() as u64).unwrap();
        // Everything a submit seals: also its encoded classification, twice (for the case and
        // for the contact, should it join an open case).
        let ca = seal::word_aad(&case, "classification");
        let t = Instant::now();
        let st2 = seal::seal(&key, "w20261124", &ta, text);
        let sn2 = seal::seal(&key, "w20261124", &na, number);
        let c1 = seal::seal_raw(&key, "w20261124", &ca, &class);
        let c2 = seal::seal_raw(&key, "w20261124", &ca, &class);
        submit.record(t.elapsed().as_nanos() as u64).unwrap();
        assert!(st2.len() + sn2.len() + c1.len() + c2.len() > 0);
        let t = Instant::now();
        let ot = seal::open(&key, &ta, &st).unwrap();
        let on = seal::open(&key, &na, &sn).unwrap();
        opening.record(t.elapsed().as_nanos() as u64).unwrap();
        assert_eq!((ot.len(), on.len()), (text.len(), number.len()));
        if i < texts.len() {
            kept.push(st.len());
        }
    }
    let sealed_mean = kept.iter().sum::<usize>() / kept.len();
    println!(
        "encryption at rest, one thread, {} texts (mean {mean} bytes; sealed {sealed_mean} bytes):",
        texts.len()
    );
    report("seal words + number", &sealing);
    report("all a submit seals (+ classification x2)", &submit);
    report("open words + number (per case read)", &opening);
}
