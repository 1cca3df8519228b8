//! Measuring the classifier on labelled contacts: need top-1, urgency exact, under-triage,
//! emergency recall and false emergencies, each with a Wilson 95 % interval, for all contacts
//! and per language — for the rules alone, the model alone and the combination.
//!
//! Two uses: `luotsi eval FILE` prints the table for any labelled file with the committed
//! model (the one way to run a blind set, once, by hand); `cross_validated` gives the same
//! table on the training data with every contact predicted by a model that did not see it
//! (`tests/classify_eval.rs`). The rules are not trained, but they were tuned on the tune set
//! by people who read it, so their figures on the training data flatter them.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::combine::{self, ModelView};
use super::dataset::Labelled;
use super::model::{Prediction, Thresholds};
use super::train::{self, wilson};
use super::{Classification, Classifier};
use crate::domain::{Need, Urgency};

/// Counts for one row of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub n: usize,
    pub need_ok: usize,
    pub urgency_ok: usize,
    /// Read as less urgent than labelled.
    pub under_triage: usize,
    pub emergencies: usize,
    pub emergencies_found: usize,
    pub non_emergencies: usize,
    pub false_emergencies: usize,
    /// Labelled near-misses (look like an emergency, are not) read as emergencies.
    pub near_misses: usize,
    pub near_miss_alarms: usize,
}

impl Tally {
    fn add(&mut self, it: &Labelled, need: Need, urgency: Urgency) {
        self.n += 1;
        self.need_ok += usize::from(need == it.need);
        self.urgency_ok += usize::from(urgency == it.urgency);
        // Rank 0 is the most urgent: a larger rank than labelled is under-triage.
        self.under_triage += usize::from(urgency.rank() > it.urgency.rank());
        let alarm = urgency == Urgency::Emergency;
        if it.urgency == Urgency::Emergency {
            self.emergencies += 1;
            self.emergencies_found += usize::from(alarm);
        } else {
            self.non_emergencies += 1;
            self.false_emergencies += usize::from(alarm);
            if it.near_miss == Some(true) {
                self.near_misses += 1;
                self.near_miss_alarms += usize::from(alarm);
            }
        }
    }
}

/// One table: a row for all contacts and one per language, in that order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub all: Tally,
    pub by_language: BTreeMap<&'static str, Tally>,
}

impl Table {
    fn add(&mut self, it: &Labelled, need: Need, urgency: Urgency) {
        self.all.add(it, need, urgency);
        self.by_language
            .entry(it.lang.code())
            .or_default()
            .add(it, need, urgency);
    }
}

/// The three readings of one data set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rules: Table,
    pub model: Table,
    pub combined: Table,
    /// Of the combination: emergencies raised by the model alone, and how many were real.
    pub model_raised: usize,
    pub model_raised_right: usize,
    /// Of the combination: contacts asking for human triage.
    pub needs_triage: usize,
}

/// The model's own reading: its top need, and emergency when p(emergency) is above the
/// threshold, else its most probable other urgency class.
pub fn model_reading(p: &Prediction, t: Thresholds) -> (Need, Urgency) {
    let urgency = if p.emergency() > t.emergency {
        Urgency::Emergency
    } else {
        let i = (1..4).fold(1, |b, i| if p.urgency[i] > p.urgency[b] { i } else { b });
        Urgency::ALL[i]
    };
    (p.top_need().0, urgency)
}

fn record(
    r: &mut Report,
    it: &Labelled,
    rules: &Classification,
    combined: &Classification,
    model: (Need, Urgency),
) {
    r.rules.add(it, rules.needs[0].need, rules.urgency);
    r.model.add(it, model.0, model.1);
    r.combined.add(it, combined.needs[0].need, combined.urgency);
    if combined.model_raised {
        r.model_raised += 1;
        r.model_raised_right += usize::from(it.urgency == Urgency::Emergency);
    }
    r.needs_triage += usize::from(combined.needs_triage);
}

/// Measures `classifier` (rules and its committed model) on `items`.
pub fn evaluate(classifier: &Classifier, items: &[Labelled]) -> Report {
    let mut r = Report::default();
    for it in items {
        let input = it.input();
        let rules = classifier.classify_rules(&input);
        let combined = classifier.classify(&input);
        let model = match classifier.signal() {
            Some(s) => model_reading(&s.predict(&input).0, s.thresholds),
            None => (rules.needs[0].need, rules.urgency),
        };
        record(&mut r, it, &rules, &combined, model);
    }
    r
}

/// Measures rules, model and combination on the training data with the model k-fold
/// cross-validated: each contact is read by a model trained without it. The thresholds are
/// chosen on the same out-of-fold predictions, as `luotsi train` does.
pub fn cross_validated(classifier: &Classifier, items: &[Labelled], k: usize) -> Report {
    let ex = train::examples(items);
    let fold = train::folds(items, k);
    let oof = train::out_of_fold(&ex, &fold, k, train::HYPER);
    let thresholds = train::choose_thresholds(items, &oof);
    let none = |_: usize| Vec::new();
    let mut r = Report::default();
    for (it, p) in items.iter().zip(&oof) {
        let rules = classifier.classify_rules(&it.input());
        let combined = combine::combine(
            rules.clone(),
            &ModelView {
                prediction: p,
                thresholds,
                explain: &none,
            },
        );
        record(&mut r, it, &rules, &combined, model_reading(p, thresholds));
    }
    r
}

/// `k/n = p % [lo–hi]`.
pub fn rate(k: usize, n: usize) -> String {
    if n == 0 {
        return "–".into();
    }
    let (lo, hi) = wilson(k, n);
    format!(
        "{k}/{n} {:.1} % [{:.1}–{:.1}]",
        100.0 * k as f64 / n as f64,
        100.0 * lo,
        100.0 * hi
    )
}

/// The report as a Markdown table (Wilson 95 % intervals in brackets).
pub fn render(title: &str, r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "== {title}");
    let _ = writeln!(
        s,
        "| reading | lang | n | need top-1 | urgency exact | under-triage | emergency recall | false emergencies | near-miss alarms |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (name, t) in [
        ("rules", &r.rules),
        ("model", &r.model),
        ("rules + model", &r.combined),
    ] {
        for (lang, x) in
            std::iter::once(("all", &t.all)).chain(t.by_language.iter().map(|(l, x)| (*l, x)))
        {
            let _ = writeln!(
                s,
                "| {name} | {lang} | {} | {} | {} | {} | {} | {} | {} |",
                x.n,
                rate(x.need_ok, x.n),
                rate(x.urgency_ok, x.n),
                rate(x.under_triage, x.n),
                rate(x.emergencies_found, x.emergencies),
                rate(x.false_emergencies, x.non_emergencies),
                rate(x.near_miss_alarms, x.near_misses),
            );
        }
    }
    let _ = writeln!(
        s,
        "rules + model: {} emergencies raised by the model alone ({} of them real); {} of {} contacts ask for human triage",
        r.model_raised, r.model_raised_right, r.needs_triage, r.combined.all.n
    );
    s
}
