//! `luotsi train`: fits the trained signal (`model.rs`) to the labelled JSON lines and writes
//! `model.bin` and `model.toml`; `luotsi train --check` does the same in memory and fails when
//! the result differs from the committed files.
//!
//! The fit is stochastic gradient descent on the cross-entropy of both heads (needs, urgency)
//! with L2 regularisation, in f64, on one thread: a fixed seed, a fixed visiting order and
//! fixed summation order, and an `exp` of our own (a platform's libm may differ in the last
//! bit), so the output is byte-identical on every run and machine.
//!
//! Thresholds come from k-fold cross-validation inside the training data (`K` folds,
//! stratified by urgency and need): every contact is predicted by a model that did not see
//! it, through the same pruning and quantisation as the shipped model. The emergency
//! threshold is the lowest one (on a 0.005 grid, never above 0.5) at which the model alone
//! raises at most `FALSE_ALARM_BUDGET` of the non-emergencies out of fold: it finds as many
//! emergencies as that budget of false alarms allows. (A recall target was tried first: on
//! the voices data, 98 % recall from the model alone costs a false alarm on one contact in
//! four, which would bury the real emergencies on the alert path.) The need threshold is
//! the lowest at which the model's out-of-fold top need is right at least `NEED_PRECISION` of
//! the time (so a "confident" model is right nine times in ten), rounded up to 0.05.

use std::fmt::Write as _;
use std::path::Path;

use super::dataset::{DataSet, Labelled};
use super::model::{
    self, BUCKET_BITS, BUCKETS, FEATURE_VERSION, Features, NEED_OUTPUTS, OUTPUTS, Prediction,
    SETTINGS_FILE, Signal, Thresholds, URGENCY_OUTPUTS, WEIGHTS_FILE,
};
use crate::domain::Urgency;

/// Training settings. Changing one changes the model; they are written into `model.toml`.
#[derive(Debug, Clone, Copy)]
pub struct Hyper {
    pub epochs: usize,
    /// L2 regularisation per step.
    pub l2: f64,
    /// First learning rate; it decays as `eta0 / (1 + eta0 * l2 * step)`.
    pub eta0: f64,
    pub seed: u64,
    /// Weights whose magnitude is below this share of their output's largest weight are
    /// dropped before quantisation (keeps the file small).
    pub prune: f64,
}

pub const HYPER: Hyper = Hyper {
    epochs: 20,
    l2: 1e-5,
    eta0: 1.0,
    seed: 0x4c75_6f74_7369,
    prune: 0.02,
};

pub const K: usize = 5;
pub const FALSE_ALARM_BUDGET: f64 = 0.05;
pub const NEED_PRECISION: f64 = 0.90;

/// One training example: its features and the outputs it should light.
pub struct Example {
    pub features: Features,
    pub need: usize,
    pub urgency: usize,
}

pub fn examples(items: &[Labelled]) -> Vec<Example> {
    items
        .iter()
        .map(|it| {
            let mut features = Features::new();
            model::extract(&it.input(), &mut features);
            Example {
                features,
                need: model::need_output(it.need),
                urgency: it.urgency.rank() as usize,
            }
        })
        .collect()
}

/// SplitMix64: a tiny PRNG whose sequence is fixed by its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// e^x from + and × only: the same bits on every machine. Accurate to ~1e-15 relative for
/// the arguments softmax gives it (x ≤ 0).
fn det_exp(x: f64) -> f64 {
    if x < -700.0 {
        return 0.0;
    }
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    let k = (x * std::f64::consts::LOG2_E).round();
    let r = x - k * LN2_HI - k * LN2_LO;
    // Taylor series to r^13 / 13!, |r| ≤ 0.35.
    let mut p = 1.0;
    for i in (1..=13).rev() {
        p = 1.0 + p * r / f64::from(i);
    }
    p * f64::from_bits(((k as i64 + 1023) as u64) << 52)
}

fn softmax_det(z: &mut [f64]) {
    let max = z.iter().copied().fold(f64::MIN, f64::max);
    let mut sum = 0.0;
    for v in z.iter_mut() {
        *v = det_exp(*v - max);
        sum += *v;
    }
    for v in z.iter_mut() {
        *v /= sum;
    }
}

/// Fits weights to `examples` (those at `use_idx`): returns the model as shipped (pruned,
/// quantised) with the given thresholds.
pub fn fit(examples: &[Example], use_idx: &[usize], h: Hyper, thresholds: Thresholds) -> Signal {
    // Only buckets seen in training can get weights: index them densely.
    let mut dense = vec![u32::MAX; BUCKETS];
    let mut buckets: Vec<u32> = use_idx
        .iter()
        .flat_map(|&i| examples[i].features.iter().map(|f| f.0))
        .collect();
    buckets.sort_unstable();
    buckets.dedup();
    for (d, &b) in buckets.iter().enumerate() {
        dense[b as usize] = d as u32;
    }
    let mut w = vec![0f64; buckets.len() * OUTPUTS];
    let mut bias = [0f64; OUTPUTS];
    // w_true = scale * w: the L2 shrinkage of every weight is one multiplication.
    let mut scale = 1.0f64;
    let mut order: Vec<usize> = use_idx.to_vec();
    let mut rng = Rng(h.seed);
    let mut step = 0u64;
    for _ in 0..h.epochs {
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for &i in &order {
            let ex = &examples[i];
            let mut z = bias;
            for &(b, v) in &ex.features {
                let row = &w[dense[b as usize] as usize * OUTPUTS..][..OUTPUTS];
                for (zc, wc) in z.iter_mut().zip(row) {
                    *zc += scale * f64::from(v) * wc;
                }
            }
            softmax_det(&mut z[..NEED_OUTPUTS]);
            softmax_det(&mut z[NEED_OUTPUTS..]);
            z[ex.need] -= 1.0;
            z[NEED_OUTPUTS + ex.urgency] -= 1.0;
            let eta = h.eta0 / (1.0 + h.eta0 * h.l2 * step as f64);
            step += 1;
            scale *= 1.0 - eta * h.l2;
            for &(b, v) in &ex.features {
                let row = &mut w[dense[b as usize] as usize * OUTPUTS..][..OUTPUTS];
                let k = eta * f64::from(v) / scale;
                for (wc, g) in row.iter_mut().zip(&z) {
                    *wc -= k * g;
                }
            }
            for (bc, g) in bias.iter_mut().zip(&z) {
                *bc -= eta * g;
            }
            if scale < 1e-6 {
                for x in &mut w {
                    *x *= scale;
                }
                scale = 1.0;
            }
        }
    }
    let mut largest = [0f64; OUTPUTS];
    for row in w.chunks_exact(OUTPUTS) {
        for (l, x) in largest.iter_mut().zip(row) {
            *l = l.max((x * scale).abs());
        }
    }
    let rows: Vec<(u32, [f32; OUTPUTS])> = buckets
        .iter()
        .zip(w.chunks_exact(OUTPUTS))
        .map(|(&b, row)| {
            let mut out = [0f32; OUTPUTS];
            for ((o, x), l) in out.iter_mut().zip(row).zip(&largest) {
                let x = x * scale;
                *o = if x.abs() < h.prune * l { 0.0 } else { x as f32 };
            }
            (b, out)
        })
        .collect();
    Signal::from_weights(&rows, bias.map(|b| b as f32), thresholds)
}

/// Fold of each example: stratified by urgency then need, in an order fixed by the text's
/// hash (not by file order), dealt round-robin.
pub fn folds(items: &[Labelled], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..items.len()).collect();
    idx.sort_by_key(|&i| {
        let it = &items[i];
        (
            it.urgency.rank(),
            model::need_output(it.need),
            xxhash_rust::xxh3::xxh3_64(it.text.as_bytes()),
            i,
        )
    });
    let mut fold = vec![0; items.len()];
    for (n, &i) in idx.iter().enumerate() {
        fold[i] = n % k;
    }
    fold
}

/// Out-of-fold predictions: each example predicted by a model trained on the other folds.
pub fn out_of_fold(examples: &[Example], fold: &[usize], k: usize, h: Hyper) -> Vec<Prediction> {
    let placeholder = Thresholds {
        emergency: 0.5,
        need_confident: 0.5,
    };
    let mut out = vec![
        Prediction {
            needs: [0.0; NEED_OUTPUTS],
            urgency: [0.0; URGENCY_OUTPUTS],
        };
        examples.len()
    ];
    for f in 0..k {
        let train: Vec<usize> = (0..examples.len()).filter(|&i| fold[i] != f).collect();
        let m = fit(examples, &train, h, placeholder);
        for i in (0..examples.len()).filter(|&i| fold[i] == f) {
            out[i] = m.predict_features(&examples[i].features);
        }
    }
    out
}

/// Chooses the thresholds from out-of-fold predictions (see the module comment).
pub fn choose_thresholds(items: &[Labelled], oof: &[Prediction]) -> Thresholds {
    let mut calm: Vec<f32> = items
        .iter()
        .zip(oof)
        .filter(|(it, _)| it.urgency != Urgency::Emergency)
        .map(|(_, p)| p.emergency())
        .collect();
    calm.sort_by(|a, b| b.total_cmp(a));
    // The lowest t with at most `allowed` non-emergencies above it, on a 0.005 grid.
    let allowed = (FALSE_ALARM_BUDGET * calm.len() as f64).floor() as usize;
    let at = calm.get(allowed).copied().unwrap_or(0.0);
    let emergency = ((f64::from(at) * 200.0).ceil() / 200.0).clamp(0.005, 0.5) as f32;

    let mut by_conf: Vec<(f32, bool)> = items
        .iter()
        .zip(oof)
        .map(|(it, p)| {
            let (n, c) = p.top_need();
            (c, n == it.need)
        })
        .collect();
    by_conf.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut need_confident = 0.95f32;
    let mut right = 0usize;
    for (n, (c, ok)) in by_conf.iter().enumerate() {
        right += usize::from(*ok);
        if right as f64 >= NEED_PRECISION * (n + 1) as f64 {
            need_confident = *c;
        }
    }
    let need_confident = ((f64::from(need_confident) * 20.0).ceil() / 20.0).clamp(0.3, 0.95) as f32;
    Thresholds {
        emergency,
        need_confident,
    }
}

/// Figures of the model alone, out of fold, for `model.toml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelFigures {
    pub n: usize,
    pub need_ok: usize,
    pub urgency_ok: usize,
    pub emergencies: usize,
    pub emergencies_found: usize,
    pub non_emergencies: usize,
    pub false_emergencies: usize,
}

pub fn model_figures(items: &[Labelled], oof: &[Prediction], t: Thresholds) -> ModelFigures {
    let mut f = ModelFigures {
        n: items.len(),
        need_ok: 0,
        urgency_ok: 0,
        emergencies: 0,
        emergencies_found: 0,
        non_emergencies: 0,
        false_emergencies: 0,
    };
    for (it, p) in items.iter().zip(oof) {
        f.need_ok += usize::from(p.top_need().0 == it.need);
        let raised = p.emergency() > t.emergency;
        let urgency = if raised {
            Urgency::Emergency
        } else {
            // The most probable of the other classes.
            let (i, _) = p.urgency[1..]
                .iter()
                .enumerate()
                .fold((0, f32::MIN), |b, (i, &x)| if x > b.1 { (i, x) } else { b });
            Urgency::ALL[i + 1]
        };
        f.urgency_ok += usize::from(urgency == it.urgency);
        if it.urgency == Urgency::Emergency {
            f.emergencies += 1;
            f.emergencies_found += usize::from(raised);
        } else {
            f.non_emergencies += 1;
            f.false_emergencies += usize::from(raised);
        }
    }
    f
}

/// Wilson score interval for k successes in n, 95 %: (low, high) as fractions.
pub fn wilson(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = n as f64;
    let p = k as f64 / n;
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
    ((c - h).max(0.0), (c + h).min(1.0))
}

/// The output of one training run: the two files' contents.
pub struct Trained {
    pub signal: Signal,
    pub weights: Vec<u8>,
    pub settings: String,
    pub figures: ModelFigures,
}

/// Trains on the data set: cross-validation for thresholds and figures, then the final fit on
/// everything. `files` are named in `model.toml` relative to `root`.
pub fn train(data: &DataSet, root: &Path) -> Trained {
    let items = &data.items;
    let ex = examples(items);
    let fold = folds(items, K);
    let oof = out_of_fold(&ex, &fold, K, HYPER);
    let thresholds = choose_thresholds(items, &oof);
    let figures = model_figures(items, &oof, thresholds);
    let all: Vec<usize> = (0..ex.len()).collect();
    let signal = fit(&ex, &all, HYPER, thresholds);
    let weights = signal.encode();
    let settings = settings_toml(data, root, &signal, &weights, thresholds, &figures);
    Trained {
        signal,
        weights,
        settings,
        figures,
    }
}

fn settings_toml(
    data: &DataSet,
    root: &Path,
    signal: &Signal,
    weights: &[u8],
    t: Thresholds,
    f: &ModelFigures,
) -> String {
    use sha2::{Digest, Sha256};
    let mut s = String::new();
    let h = HYPER;
    let files: Vec<String> = data
        .files
        .iter()
        .map(|p| {
            let p = p.strip_prefix(root).unwrap_or(p);
            format!("\"{}\"", p.display())
        })
        .collect();
    let pct = |k: usize, n: usize| {
        let (lo, hi) = wilson(k, n);
        format!(
            "\"{k}/{n} = {:.1} % (95 % CI {:.1}–{:.1})\"",
            100.0 * k as f64 / n.max(1) as f64,
            100.0 * lo,
            100.0 * hi
        )
    };
    let _ = write!(
        s,
        "\
# The trained signal of the classifier (src/classify/model.rs), written by `luotsi train`.
# Do not edit: `luotsi train --check` (run by .ci/run) fails when this or {WEIGHTS_FILE} differs
# from what the training data gives. Change the data or the code, then run `luotsi train`.
format = 1
feature_version = {FEATURE_VERSION}
bucket_bits = {BUCKET_BITS}
weights_sha256 = \"{wsha}\"

[thresholds]
# p(emergency) above which the model raises an emergency the rules did not see: the lowest
# threshold at which the model alone raised at most {budget:.0} % of the non-emergencies in
# {K}-fold cross-validation (never above 0.5).
emergency = {te}
# p(top need) from which the model's need counts as confident: the lowest at which its
# out-of-fold top need was right {prec:.0} % of the time.
need_confident = {tn}

[training]
files = [{files}]
lines = {lines}
data_sha256 = \"{dsha}\"
features = \"char 2-5-grams of space-padded folded words, word 1-2-grams, hints, age band; 1+ln(tf), L2-normalised\"
epochs = {ep}
l2 = {l2:e}
eta0 = {eta}
seed = {seed}
prune = {prune}
kept_buckets = {rows}
memory_bytes = {mem}

[cross_validation]
# The model alone, each contact predicted by a model that did not see it ({K} folds,
# stratified by urgency and need). The thresholds above were chosen on these same
# predictions, so the emergency figures are slightly optimistic.
folds = {K}
need_top1 = {need}
urgency_exact = {urg}
emergency_recall = {er}
false_emergencies = {fe}
",
        wsha = hex::encode(Sha256::digest(weights)),
        budget = FALSE_ALARM_BUDGET * 100.0,
        te = t.emergency,
        prec = NEED_PRECISION * 100.0,
        tn = t.need_confident,
        files = files.join(", "),
        lines = data.items.len(),
        dsha = data.sha256,
        ep = h.epochs,
        l2 = h.l2,
        eta = h.eta0,
        seed = h.seed,
        prune = h.prune,
        rows = signal.rows(),
        mem = signal.memory_bytes(),
        need = pct(f.need_ok, f.n),
        urg = pct(f.urgency_ok, f.n),
        er = pct(f.emergencies_found, f.emergencies),
        fe = pct(f.false_emergencies, f.non_emergencies),
    );
    s
}

/// Writes the trained files into `dir`.
pub fn write(t: &Trained, dir: &Path) -> std::io::Result<()> {
    std::fs::write(dir.join(WEIGHTS_FILE), &t.weights)?;
    std::fs::write(dir.join(SETTINGS_FILE), &t.settings)
}

/// Compares the trained files with those in `dir`: `None` when identical, else what differs.
pub fn check(t: &Trained, dir: &Path) -> Option<String> {
    let mut diffs = Vec::new();
    match std::fs::read(dir.join(WEIGHTS_FILE)) {
        Ok(b) if b == t.weights => {}
        Ok(_) => diffs.push(format!("{WEIGHTS_FILE} differs")),
        Err(e) => diffs.push(format!("{WEIGHTS_FILE}: {e}")),
    }
    match std::fs::read_to_string(dir.join(SETTINGS_FILE)) {
        Ok(s) if s == t.settings => {}
        Ok(s) => {
            let line = s
                .lines()
                .zip(t.settings.lines())
                .position(|(a, b)| a != b)
                .map_or(s.lines().count().min(t.settings.lines().count()), |l| l)
                + 1;
            diffs.push(format!("{SETTINGS_FILE} differs from line {line}"));
        }
        Err(e) => diffs.push(format!("{SETTINGS_FILE}: {e}")),
    }
    (!diffs.is_empty()).then(|| diffs.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        for x in [-700.0, -50.0, -3.3, -1.0, -0.5, -1e-9, 0.0, 0.7, 5.0] {
            let (a, b) = (det_exp(x), f64::exp(x));
            assert!((a - b).abs() <= 1e-14 * b.max(1e-300), "{x}: {a} vs {b}");
        }
    }

    #[test]
    fn wilson_interval_matches_the_formula() {
        let (lo, hi) = wilson(9, 10);
        assert!(
            (lo - 0.5958).abs() < 1e-3 && (hi - 0.9821).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
    }
}
