//! Evaluation of the classifier on hand-written contacts (`tests/data/classify_*.jsonl`).
//!
//! `classify_tune.jsonl` is what the lexicon and rules were tuned against.
//!
//! `classify_blind.jsonl` (105 contacts) was written after the engine was finished, by someone
//! who had seen only the suicide and plan entries of the lexicon, and run once on 2026-11-22 with
//! no change afterwards: need top-1 81.0 %, urgency exact 73.3 %, emergency recall 9/14, false
//! emergencies 0/91. It must never be tuned against.
//!
//! 2026-11-23: 83 new tune items (44 red flags, 39 near-misses, fi/sv/en) were written without
//! opening the blind file, but knowing the *categories* of its five missed emergencies (chest
//! pressure or heaviness with breathlessness, bleeding that does not stop, a farewell message
//! with talk of ending one's life, Swedish "I have decided … tonight", a Swedish-speaking parent
//! whose child has blue lips) — not the items themselves. The lexicon, the rules and the engine
//! (free-order `&` forms, `near` rules) were changed against the tune set only; then the blind
//! set was run once, with no change afterwards (`cargo test --test classify_eval --
//! --nocapture`):
//!
//! | set | n | need top-1 | urgency exact | emergency recall | false emergencies |
//! |---|---|---|---|---|---|
//! | tune | 522 | 98.3 % | 99.0 % | 97/97 | 1/425 (0.2 %) |
//! | held-out | 115 | 95.7 % | 98.3 % | 15/15 | 1/100 (1.0 %) |
//! | blind | 105 | 81.0 % | 75.2 % | 11/14 | 0/91 (0.0 %) |
//!
//! The blind set is still below the bars (and its emergencies were partly the categories named
//! above, so its 11/14 flatters a truly blind measure), so `blind_set_reported` asserts only that
//! it loads; it prints no per-line misses. Improve the classifier through new tune items, and
//! only against a fresh blind set add `blind_set_meets_the_bars`.
//!
//! 2026-11-23, issue 13: the voices files (`tests/data/voices/*.jsonl`, 2 020 contacts in
//! fi/sv/en written in citizens' voices by writers who had not seen the lexicon, rules or
//! model; comment lines say who wrote each batch) were added and tuned against, by classes of
//! phrasing rather than sentences. The blind set was not opened or run. Figures before → after
//! (`cargo test --test classify_eval -- --skip blind --nocapture`; the voices are tuned
//! against, so their figures are optimistic):
//!
//! | set | n | need top-1 | urgency exact | emergency recall | false emergencies |
//! |---|---|---|---|---|---|
//! | voices fi | 1160 | 62.5 → 84.1 % | 53.4 → 79.7 % | 64 → 164/165 | 31 → 4/995 |
//! | voices sv | 430 | 63.5 → 88.6 % | 55.8 → 78.8 % | 29 → 60/60 | 14 → 2/370 |
//! | voices en | 430 | 60.5 → 89.1 % | 54.7 → 77.2 % | 24 → 58/58 | 16 → 0/372 |
//! | voices, all | 2020 | 62.3 → 86.1 % | 54.2 → 79.0 % | 117 → 282/283 | 61 → 6/1737 |
//! | tune | 522 | 98.3 → 95.6 % | 99.0 → 91.6 % | 97 → 98/98 | 1 → 0/424 |
//! | held-out (measured only) | 115 | 95.7 → 94.8 % | 98.3 → 89.6 % | 15/15 | 1 → 0/100 |
//!
//! Urgency on the tune and held-out sets fell because the voices writers, like the independent
//! sets of the issue, call a present problem (a symptom, something broken or getting worse) at
//! least *soon* where this project's first labels said *routine*; when the two disagree the
//! rules now err up. `voices_meet_the_emergency_bars` asserts what is reached on every language
//! (emergency recall ≥ 98 %, false emergencies ≤ 3 %); urgency exact (goal 85 %) and need top-1
//! (goal 88 %) are printed, not asserted, until they are reached.
//!
//! Tune line 27 ("vauvalla on 39 kuumetta ja se on ihan veltto") was relabelled urgent →
//! emergency: the issue names "an infant, limp with fever" among the missed emergencies.
//!
//! `classify_heldout.jsonl` was written before tuning and is never tuned against. Both must
//! pass the same bars: need top-1 ≥ 90 %, urgency exact ≥ 85 %, every emergency recognised,
//! and at most 2 % of non-emergencies flagged as emergencies.
//!
//! Labelling policy: `emergency` = a red flag now (DOMAIN.md §3); `urgent` = the same-day
//! examples of §3 (child's high or unresponsive fever, suicidal thoughts without plan,
//! withdrawal, a child in danger, a carer suddenly gone, no roof or food today); `soon` =
//! acute symptoms, toothache or a broken tooth, medicine running out within days;
//! `routine` = the rest. Run with `--nocapture` to see the confusion summary.
//!
//! The bars above are the rules' own (`ModelMode::Off`): the trained model learns from the
//! tune and held-out files, so on them only its cross-validated figures mean anything —
//! `cross_validated_figures` prints rules, model and the combination with every contact read
//! by a model that did not see it, per language with Wilson 95 % intervals. A blind file is
//! measured with `luotsi eval FILE` (the same table, the committed model), once, by hand.

use std::collections::BTreeMap;
use std::path::Path;

use luotsi::classify::{Classifier, Input, ModelMode, dataset, eval, train};
use luotsi::domain::{Channel, Language, Need, Urgency};
use serde::Deserialize;

#[derive(Deserialize)]
struct Case {
    text: String,
    channel: Channel,
    lang: Language,
    form_category: Option<Need>,
    phone_menu: Option<Need>,
    age: Option<u32>,
    need: Need,
    #[serde(default)]
    also: Vec<Need>,
    urgency: Urgency,
    /// A non-emergency written to look alarming (voices files).
    #[serde(default)]
    near_miss: bool,
}

/// One labelled contact with where it came from, for the list of misses.
struct Labelled {
    origin: String,
    case: Case,
}

/// Reads a JSON-lines file. Lines starting with `#` are comments (who wrote the batch and
/// what they had seen); extra fields (`voice`) are accepted.
fn read_cases(file: &str) -> Vec<Labelled> {
    let src = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    src.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|(i, line)| Labelled {
            origin: format!("{file}:{}", i + 1),
            case: serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1)),
        })
        .collect()
}

struct Report {
    n: usize,
    need_ok: usize,
    urgency_ok: usize,
    lang_ok: usize,
    also_found: usize,
    also_total: usize,
    emergencies: usize,
    emergencies_found: usize,
    non_emergencies: usize,
    false_emergencies: usize,
    near_misses: usize,
    near_misses_flagged: usize,
    /// Expected urgent or soon, got a lower class: the under-triage the issue is about.
    under_triaged: usize,
}

fn evaluate(file: &str) -> Report {
    evaluate_cases(
        file,
        &read_cases(file),
        !file.contains("heldout") && !file.contains("blind"),
    )
}

/// Classifies `cases` and prints the figures. Per-line misses are printed only when
/// `show_misses` (sets one may tune against).
fn evaluate_cases(name: &str, cases: &[Labelled], show_misses: bool) -> Report {
    // The rules alone: the bars below are the rules' (the combination is measured by
    // `cross_validated_figures` and `luotsi eval`).
    let classifier = Classifier::load_with(Path::new("config/classifier"), ModelMode::Off)
        .expect("classifier loads");
    let mut r = Report {
        n: 0,
        need_ok: 0,
        urgency_ok: 0,
        lang_ok: 0,
        also_found: 0,
        also_total: 0,
        emergencies: 0,
        emergencies_found: 0,
        non_emergencies: 0,
        false_emergencies: 0,
        near_misses: 0,
        near_misses_flagged: 0,
        under_triaged: 0,
    };
    let mut per_need: BTreeMap<Need, (usize, usize)> = BTreeMap::new();
    let mut confusion = [[0usize; 4]; 4];
    let mut misses = Vec::new();
    for Labelled { origin, case } in cases {
        let c = classifier.classify(&Input {
            text: &case.text,
            channel: Some(case.channel),
            form_category: case.form_category,
            phone_menu: case.phone_menu,
            language: None,
            age: case.age,
            municipality: None,
        });
        r.n += 1;
        let top = c.needs[0].need;
        let entry = per_need.entry(case.need).or_default();
        entry.1 += 1;
        if top == case.need {
            r.need_ok += 1;
            entry.0 += 1;
        }
        if c.urgency == case.urgency {
            r.urgency_ok += 1;
        }
        if c.urgency.rank() > case.urgency.rank() && case.urgency != Urgency::Emergency {
            r.under_triaged += 1;
        }
        if c.language == case.lang || case.text.is_empty() {
            r.lang_ok += 1;
        }
        for a in &case.also {
            r.also_total += 1;
            if c.needs.iter().any(|n| n.need == *a) {
                r.also_found += 1;
            }
        }
        confusion[case.urgency.rank() as usize][c.urgency.rank() as usize] += 1;
        if case.urgency == Urgency::Emergency {
            r.emergencies += 1;
            if c.urgency == Urgency::Emergency {
                r.emergencies_found += 1;
            }
        } else {
            r.non_emergencies += 1;
            if c.urgency == Urgency::Emergency {
                r.false_emergencies += 1;
            }
            if case.near_miss {
                r.near_misses += 1;
                if c.urgency == Urgency::Emergency {
                    r.near_misses_flagged += 1;
                }
            }
        }
        if top != case.need || c.urgency != case.urgency {
            misses.push(format!(
                "  {origin}: want {}/{} got {}/{}{} {:?}",
                case.need,
                case.urgency,
                top,
                c.urgency,
                if c.needs_triage { " (triage)" } else { "" },
                c.evidence
                    .iter()
                    .map(|e| e.detail.as_str())
                    .collect::<Vec<_>>()
            ));
        }
    }
    println!("== {name}: {} contacts", r.n);
    println!(
        "need top-1 {:.1}%  urgency exact {:.1}%  language {:.1}%  secondary needs found {}/{}",
        pct(r.need_ok, r.n),
        pct(r.urgency_ok, r.n),
        pct(r.lang_ok, r.n),
        r.also_found,
        r.also_total
    );
    println!(
        "emergency recall {}/{} ({:.1}%)  false emergencies {}/{} ({:.1}%)  near misses flagged {}/{}  under-triaged (urgent/soon read lower) {}",
        r.emergencies_found,
        r.emergencies,
        pct(r.emergencies_found, r.emergencies),
        r.false_emergencies,
        r.non_emergencies,
        pct(r.false_emergencies, r.non_emergencies),
        r.near_misses_flagged,
        r.near_misses,
        r.under_triaged,
    );
    println!("per-need top-1:");
    for (need, (ok, n)) in &per_need {
        println!("  {:<18} {ok:>3}/{n:<3} {:.0}%", need.code(), pct(*ok, *n));
    }
    println!("urgency confusion (rows = expected, columns = got):");
    println!(
        "  {:<10} {:>9} {:>9} {:>9} {:>9}",
        "", "emergency", "urgent", "soon", "routine"
    );
    for (u, row) in Urgency::ALL.iter().zip(confusion) {
        println!(
            "  {:<10} {:>9} {:>9} {:>9} {:>9}",
            u.code(),
            row[0],
            row[1],
            row[2],
            row[3]
        );
    }
    // Per-line misses only for sets one may tune against: the held-out and blind sets must not be.
    if show_misses && !misses.is_empty() {
        println!("misses:");
        for m in &misses {
            println!("{m}");
        }
    }
    r
}

fn pct(a: usize, b: usize) -> f64 {
    if b == 0 {
        100.0
    } else {
        100.0 * a as f64 / b as f64
    }
}

fn assert_bars(r: &Report, file: &str) {
    assert!(pct(r.need_ok, r.n) >= 90.0, "{file}: need top-1 below 90%");
    assert!(
        pct(r.urgency_ok, r.n) >= 85.0,
        "{file}: urgency exact below 85%"
    );
    assert_eq!(
        r.emergencies_found, r.emergencies,
        "{file}: an emergency was missed"
    );
    assert!(
        pct(r.false_emergencies, r.non_emergencies) <= 2.0,
        "{file}: too many false emergencies"
    );
}

#[test]
fn tune_set_meets_the_bars() {
    let file = "tests/data/classify_tune.jsonl";
    let r = evaluate(file);
    assert!(r.n >= 300, "tune set has {} items", r.n);
    assert_bars(&r, file);
}

#[test]
fn heldout_set_meets_the_bars() {
    let file = "tests/data/classify_heldout.jsonl";
    let r = evaluate(file);
    assert!(r.n >= 100, "held-out set has {} items", r.n);
    assert_bars(&r, file);
}

/// Rules, model and combination on the training data, the model 5-fold cross-validated.
#[test]
fn cross_validated_figures() {
    let classifier = Classifier::load_with(Path::new("config/classifier"), ModelMode::Off)
        .expect("classifier loads");
    let files = dataset::training_files(Path::new("tests/data")).expect("training files");
    let data = dataset::load(&files).expect("training data loads");
    let r = eval::cross_validated(&classifier, &data.items, train::K);
    println!(
        "{}",
        eval::render("training data, model cross-validated", &r)
    );
    let (c, rules, m) = (&r.combined.all, &r.rules.all, &r.model.all);
    // The combination only adds emergencies: it finds every one either signal finds.
    assert!(c.emergencies_found >= rules.emergencies_found.max(m.emergencies_found));
    assert!(c.false_emergencies <= rules.false_emergencies + m.false_emergencies);
    // Floors under today's figures (2026-11-23: model need 71 %, model emergency recall 85 %
    // at 4.9 % false alarms, combination 90 %): a change to features or training that loses
    // ground fails here. The aims (recall ≥ 98 %, false emergencies ≤ 3 %) are not
    // met yet; see SAFETY.md.
    let share = |k: usize, n: usize| k as f64 / n as f64;
    assert!(
        share(m.need_ok, m.n) >= 0.68,
        "model need top-1 {}/{}",
        m.need_ok,
        m.n
    );
    assert!(
        share(m.emergencies_found, m.emergencies) >= 0.82,
        "model emergency recall {}/{}",
        m.emergencies_found,
        m.emergencies
    );
    assert!(
        share(m.false_emergencies, m.non_emergencies) <= 0.055,
        "model false emergencies {}/{}",
        m.false_emergencies,
        m.non_emergencies
    );
    assert!(
        share(c.emergencies_found, c.emergencies) >= 0.88,
        "combined emergency recall {}/{}",
        c.emergencies_found,
        c.emergencies
    );
}

#[test]
fn blind_set_reported() {
    let file = "tests/data/classify_blind.jsonl";
    let r = evaluate(file);
    assert!(r.n >= 100, "blind set has {} items", r.n);
}

/// `luotsi train --check` as a test: retraining on the shipped data gives the committed
/// files byte for byte (the training is deterministic, and nobody edited the model by hand).
#[test]
fn committed_model_is_what_the_data_gives() {
    let files = dataset::training_files(Path::new("tests/data")).expect("training files");
    let data = dataset::load(&files).expect("training data loads");
    let trained = train::train(&data, Path::new("."));
    if let Some(diff) = train::check(&trained, Path::new("config/classifier")) {
        panic!("{diff}: run `cargo run --release -- train` and commit config/classifier/model.*");
    }
}

/// The voices files (`tests/data/voices/*.jsonl`), by language: contacts written in the voices
/// of real citizens by writers who had not seen the lexicon, rules or model. They are tuned
/// against, so their figures are optimistic.
const VOICES: [(&str, &[&str]); 3] = [
    ("fi", &["fi-everyday", "fi-colloquial"]),
    ("sv", &["sv"]),
    ("en", &["en"]),
];

fn voices(files: &[&str]) -> Vec<Labelled> {
    files
        .iter()
        .flat_map(|f| read_cases(&format!("tests/data/voices/{f}.jsonl")))
        .collect()
}

#[test]
fn voices_meet_the_emergency_bars() {
    let mut all = Vec::new();
    for (lang, files) in VOICES {
        let cases = voices(files);
        assert!(cases.len() >= 400, "voices {lang}: {} items", cases.len());
        let r = evaluate_cases(&format!("voices {lang}"), &cases, false);
        assert!(
            pct(r.emergencies_found, r.emergencies) >= 98.0,
            "voices {lang}: emergency recall below 98%"
        );
        assert!(
            pct(r.false_emergencies, r.non_emergencies) <= 3.0,
            "voices {lang}: more than 3% false emergencies"
        );
        all.extend(cases);
    }
    let r = evaluate_cases("voices, all languages", &all, true);
    assert!(r.n >= 2000, "voices: {} items", r.n);
}
