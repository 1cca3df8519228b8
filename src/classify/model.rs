//! The trained signal beside the rules: a sparse multinomial logistic regression over hashed
//! features of the text, with one head for the 16 needs and one for the 4 urgency classes.
//!
//! Features (`extract`): character 2–5-grams of each folded, lower-cased word padded with a
//! space on either side (so "rinta" at the start of a word differs from one inside it), word
//! unigrams and bigrams, the form category and phone menu hints, and an age band. Each is
//! hashed with xxh3 (a seed per kind) into 2^18 buckets; a bucket's value is 1 + ln(count),
//! and the vector is L2-normalised, so a long message does not weigh more than a short one.
//!
//! The weights live in `config/classifier/model.bin` (sparse rows of 20 signed bytes, one
//! scale per output) and the settings, thresholds and cross-validated figures in
//! `model.toml`, both written by `luotsi train` (`train.rs`). In memory: a 2^18 index of
//! `u32` (1 MiB) and the kept rows. Loading checks every byte: a broken or mismatched file is
//! refused, naming the file, like a broken lexicon.

use std::cell::RefCell;
use std::path::Path;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use super::text::fold_char;
use super::{ClassifyError, Input};
use crate::domain::{Need, Urgency};

/// Bumped whenever `extract` changes what it produces: a model trained on other features is
/// refused at load instead of silently scoring garbage.
pub const FEATURE_VERSION: u32 = 1;
pub const BUCKET_BITS: u32 = 18;
pub const BUCKETS: usize = 1 << BUCKET_BITS;
pub const NEED_OUTPUTS: usize = 16;
pub const URGENCY_OUTPUTS: usize = 4;
/// Needs first (in `Need::ALL` order), then urgency classes (in `Urgency::ALL` order).
pub const OUTPUTS: usize = NEED_OUTPUTS + URGENCY_OUTPUTS;

pub const WEIGHTS_FILE: &str = "model.bin";
pub const SETTINGS_FILE: &str = "model.toml";
const MAGIC: &[u8; 8] = b"LUOTSIM1";
const NO_ROW: u32 = u32::MAX;

/// Hash seeds, one per kind of feature, so a word and a character n-gram with the same
/// letters land in different buckets.
const SEED_CHAR: u64 = 0x6c75_6f74_7369_0001;
const SEED_WORD: u64 = 0x6c75_6f74_7369_0002;
const SEED_PAIR: u64 = 0x6c75_6f74_7369_0003;
const SEED_HINT: u64 = 0x6c75_6f74_7369_0004;
const SEED_NEGATED: u64 = 0x6c75_6f74_7369_0005;

/// Words that negate what follows in their clause ("ei rintakipua", "inte andfådd", "no chest
/// pain"). A word in such a scope also gives a `negated` feature, so the model can learn that
/// "no chest pain" is not chest pain; its other features stay (Finnish says "cannot breathe"
/// with the same negation verb: "en saa henkeä").
const NEGATIONS: &[&str] = &[
    "ei", "en", "et", "emme", "ette", "eivat", "eika", "enka", "ilman", "inte", "ej", "icke",
    "utan", "ingen", "inget", "inga", "no", "not", "never", "without", "don't", "doesn't",
    "didn't", "isn't", "wasn't", "nor",
];
/// Words that end a negation's scope: a new clause starts.
const CLAUSE_WORDS: &[&str] = &["mutta", "vaan", "men", "utan", "but"];
/// How many words after a negation it reaches.
const NEGATION_REACH: usize = 3;

/// What the settings file says besides the weights.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Settings {
    pub format: u32,
    pub feature_version: u32,
    pub bucket_bits: u32,
    pub weights_sha256: String,
    pub thresholds: Thresholds,
}

/// Decision thresholds chosen by k-fold cross-validation inside the training data (see
/// `train.rs` for the objectives).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct Thresholds {
    /// p(emergency) above which the model raises an emergency the rules did not see.
    pub emergency: f32,
    /// p(top need) at or above which the model's need counts as confident.
    pub need_confident: f32,
}

/// The loaded model.
#[derive(Debug, Clone)]
pub struct Signal {
    /// Bucket → row in `rows`, or `NO_ROW` for a bucket whose weights were all pruned.
    index: Vec<u32>,
    /// `OUTPUTS` quantised weights per kept bucket.
    rows: Vec<i8>,
    scale: [f32; OUTPUTS],
    bias: [f32; OUTPUTS],
    pub thresholds: Thresholds,
}

/// The model's reading of one contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Probabilities of the needs, in `Need::ALL` order.
    pub needs: [f32; NEED_OUTPUTS],
    /// Probabilities of the urgency classes, in `Urgency::ALL` order.
    pub urgency: [f32; URGENCY_OUTPUTS],
}

impl Prediction {
    pub fn top_need(&self) -> (Need, f32) {
        let (i, p) = argmax(&self.needs);
        (Need::ALL[i], p)
    }

    pub fn emergency(&self) -> f32 {
        self.urgency[Urgency::Emergency.rank() as usize]
    }
}

fn argmax(xs: &[f32]) -> (usize, f32) {
    // The first of equal maxima wins: a fixed order, whatever the platform.
    xs.iter().enumerate().fold(
        (0, f32::MIN),
        |(bi, bp), (i, &p)| {
            if p > bp { (i, p) } else { (bi, bp) }
        },
    )
}

/// One feature of a text: a bucket and, for evidence, what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeatureName {
    Chars(String),
    Word(String),
    Words(String, String),
    Negated(String),
    Hint(&'static str, &'static str),
    Age(&'static str),
}

impl std::fmt::Display for FeatureName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FeatureName::Chars(s) => write!(f, "chars \"{}\"", s.replace(' ', "_")),
            FeatureName::Word(w) => write!(f, "word \"{w}\""),
            FeatureName::Words(a, b) => write!(f, "words \"{a} {b}\""),
            FeatureName::Negated(w) => write!(f, "negated \"{w}\""),
            FeatureName::Hint(k, v) => write!(f, "hint {k}={v}"),
            FeatureName::Age(band) => write!(f, "age {band}"),
        }
    }
}

/// The sparse feature vector of one text: (bucket, value) sorted by bucket, L2 norm 1.
pub type Features = Vec<(u32, f32)>;

#[derive(Default)]
struct Scratch {
    folded: String,
    words: Vec<std::ops::Range<usize>>,
    /// Whether punctuation that ends a clause came before each word.
    breaks: Vec<bool>,
    padded: String,
    bounds: Vec<usize>,
    buckets: Vec<u32>,
    sort_tmp: Vec<u32>,
}

/// Digits of the bucket sort: three passes of 6 bits cover the 18 bits of a bucket.
const RADIX_PASSES: usize = 3;
const RADIX_BITS: u32 = BUCKET_BITS / RADIX_PASSES as u32;
const RADIX: usize = 1 << RADIX_BITS;

/// Sorts bucket numbers (all below `BUCKETS`) ascending: a least-significant-digit radix sort,
/// linear in the number of features where a comparison sort is not. Equal numbers are
/// indistinguishable, so the result is exactly that of `sort_unstable`.
fn radix_sort(v: &mut Vec<u32>, tmp: &mut Vec<u32>) {
    const { assert!(RADIX_PASSES as u32 * RADIX_BITS == BUCKET_BITS) };
    if v.len() < 64 {
        v.sort_unstable();
        return;
    }
    debug_assert!(v.iter().all(|&b| (b as usize) < BUCKETS));
    tmp.clear();
    tmp.extend_from_slice(v);
    let mut counts = [[0u32; RADIX]; RADIX_PASSES];
    for &b in v.iter() {
        for (pass, count) in counts.iter_mut().enumerate() {
            count[((b >> (pass as u32 * RADIX_BITS)) as usize) & (RADIX - 1)] += 1;
        }
    }
    for (pass, count) in counts.iter_mut().enumerate() {
        let mut at = 0u32;
        for c in count.iter_mut() {
            let n = *c;
            *c = at;
            at += n;
        }
        let shift = pass as u32 * RADIX_BITS;
        let (from, to) = if pass % 2 == 0 {
            (&*v, &mut *tmp)
        } else {
            (&*tmp, &mut *v)
        };
        for &b in from.iter() {
            let d = ((b >> shift) as usize) & (RADIX - 1);
            to[count[d] as usize] = b;
            count[d] += 1;
        }
    }
    if RADIX_PASSES % 2 == 1 {
        std::mem::swap(v, tmp);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn bucket(h: u64) -> u32 {
    (h & (BUCKETS as u64 - 1)) as u32
}

/// Calls `f` with the bucket of every feature occurrence of `input`, in text order, and a
/// closure naming it (evaluated only when asked for, for evidence).
/// Which part of the contact a feature came from, for evidence: a word (its character
/// n-grams, itself, its negated form), a pair of words, a hint or the age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Word(usize),
    Pair(usize),
    Hint(usize),
    Age,
}

/// Generic rather than `dyn` so that extraction, which never asks for names, compiles to a
/// loop without them.
fn each_feature<F>(input: &Input<'_>, s: &mut Scratch, f: &mut F)
where
    F: FnMut(u32, Part, &dyn Fn() -> FeatureName),
{
    s.folded.clear();
    s.words.clear();
    s.breaks.clear();
    let mut start = None;
    let mut pending_break = false;
    let mut push = |c: char, s: &mut Scratch| {
        if c.is_alphanumeric() || c == '\'' {
            start.get_or_insert(s.folded.len());
            s.folded.push(c);
            return;
        }
        if let Some(b) = start.take() {
            let word = &s.folded[b..];
            let w = word.trim_matches('\'');
            if !w.is_empty() {
                // Where `w` first occurs in `word`: right after the quotes trimmed from its
                // start (the text before that is quotes only, and `w` does not start with one).
                let off = b + (word.len() - word.trim_start_matches('\'').len());
                s.words.push(off..off + w.len());
                s.breaks.push(std::mem::take(&mut pending_break));
            }
        }
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '(' | ')') {
            pending_break = true;
        }
    };
    for c in input.text.chars() {
        if c.is_ascii() {
            // An ASCII letter lower-cases to one ASCII letter.
            push(fold_char(c.to_ascii_lowercase()), s);
        } else {
            for l in c.to_lowercase() {
                push(fold_char(l), s);
            }
        }
    }
    push(' ', s);
    let folded = &s.folded;
    // Words left in the current negation's scope.
    let mut negated = 0usize;
    for (i, w) in s.words.iter().enumerate() {
        let word = &folded[w.clone()];
        if s.breaks[i] || CLAUSE_WORDS.contains(&word) {
            negated = 0;
        }
        f(
            bucket(xxh3_64_with_seed(word.as_bytes(), SEED_WORD)),
            Part::Word(i),
            &|| FeatureName::Word(word.to_string()),
        );
        if NEGATIONS.contains(&word) {
            negated = NEGATION_REACH;
        } else if negated > 0 {
            negated -= 1;
            f(
                bucket(xxh3_64_with_seed(word.as_bytes(), SEED_NEGATED)),
                Part::Word(i),
                &|| FeatureName::Negated(word.to_string()),
            );
        }
        if let Some(next) = s.words.get(i + 1) {
            let second = &folded[next.clone()];
            let h = xxh3_64_with_seed(
                second.as_bytes(),
                xxh3_64_with_seed(word.as_bytes(), SEED_PAIR),
            );
            f(bucket(h), Part::Pair(i), &|| {
                FeatureName::Words(word.to_string(), second.to_string())
            });
        }
        s.padded.clear();
        s.padded.push(' ');
        s.padded.push_str(word);
        s.padded.push(' ');
        s.bounds.clear();
        s.bounds.extend(s.padded.char_indices().map(|(i, _)| i));
        s.bounds.push(s.padded.len());
        let chars = s.bounds.len() - 1;
        for n in 2..=5usize {
            for a in 0..chars.saturating_sub(n - 1) {
                let gram = &s.padded[s.bounds[a]..s.bounds[a + n]];
                let h = xxh3_64_with_seed(gram.as_bytes(), SEED_CHAR + n as u64);
                f(bucket(h), Part::Word(i), &|| {
                    FeatureName::Chars(gram.to_string())
                });
            }
        }
    }
    for (n, (kind, hint)) in [
        ("form_category", input.form_category),
        ("phone_menu", input.phone_menu),
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(need) = hint {
            let h = xxh3_64_with_seed(need.code().as_bytes(), SEED_HINT + kind.len() as u64);
            f(bucket(h), Part::Hint(n), &|| {
                FeatureName::Hint(kind, need.code())
            });
        }
    }
    if let Some(age) = input.age {
        let band = age_band(age);
        let h = xxh3_64_with_seed(band.as_bytes(), SEED_HINT);
        f(bucket(h), Part::Age, &|| FeatureName::Age(band));
    }
}

fn age_band(age: u32) -> &'static str {
    match age {
        0 => "under 1",
        1..=6 => "1-6",
        7..=17 => "7-17",
        18..=64 => "18-64",
        65..=74 => "65-74",
        _ => "75+",
    }
}

/// The feature vector of `input` (see the module comment), written into `out`.
pub fn extract(input: &Input<'_>, out: &mut Features) {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => extract_with(input, &mut s, out),
        Err(_) => extract_with(input, &mut Scratch::default(), out),
    })
}

fn extract_with(input: &Input<'_>, s: &mut Scratch, out: &mut Features) {
    let mut buckets = std::mem::take(&mut s.buckets);
    buckets.clear();
    each_feature(input, s, &mut |b, _, _| buckets.push(b));
    radix_sort(&mut buckets, &mut s.sort_tmp);
    out.clear();
    let mut i = 0;
    while i < buckets.len() {
        let j = i + buckets[i..]
            .iter()
            .take_while(|&&b| b == buckets[i])
            .count();
        out.push((buckets[i], 1.0 + ln_count(j - i)));
        i = j;
    }
    // Summed in bucket order: the same norm on every machine.
    let norm = out.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        for (_, v) in out.iter_mut() {
            *v /= norm;
        }
    }
    s.buckets = buckets;
}

/// ln(n) for a feature count. Counts repeat few times; the table keeps training independent
/// of the platform's `ln` (a libm may differ in the last bit between machines).
fn ln_count(n: usize) -> f32 {
    const LN: [f32; 9] = [
        0.0,
        0.0,
        std::f32::consts::LN_2,
        1.098_612_3,
        1.386_294_4,
        1.609_438,
        1.791_759_5,
        1.945_910_1,
        2.079_441_5,
    ];
    match LN.get(n) {
        Some(v) => *v,
        // Nine or more repeats of one feature: rare enough to cap.
        None => LN[8],
    }
}

impl Signal {
    /// Loads `model.toml` and `model.bin` from `dir`, checking that they belong together and
    /// to the feature extraction of this build.
    pub fn load(dir: &Path) -> Result<Self, ClassifyError> {
        let settings_path = dir.join(SETTINGS_FILE);
        let settings_text =
            std::fs::read_to_string(&settings_path).map_err(|source| ClassifyError::Io {
                path: settings_path.display().to_string(),
                source,
            })?;
        let settings: Settings = toml::from_str(&settings_text).map_err(|e| {
            let line = e
                .span()
                .map_or(0, |s| settings_text[..s.start].lines().count().max(1));
            ClassifyError::Data {
                path: settings_path.display().to_string(),
                line,
                message: e.message().to_string(),
            }
        })?;
        let bad = |message: String| ClassifyError::Model {
            path: settings_path.display().to_string(),
            message,
        };
        if settings.format != 1 {
            return Err(bad(format!("format {} is not 1", settings.format)));
        }
        if settings.feature_version != FEATURE_VERSION || settings.bucket_bits != BUCKET_BITS {
            return Err(bad(format!(
                "trained on features version {} with 2^{} buckets; this build extracts version {FEATURE_VERSION} with 2^{BUCKET_BITS}: run `luotsi train`",
                settings.feature_version, settings.bucket_bits
            )));
        }
        let t = settings.thresholds;
        for (name, v) in [
            ("thresholds.emergency", t.emergency),
            ("thresholds.need_confident", t.need_confident),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return Err(bad(format!("{name} = {v} is not between 0 and 1")));
            }
        }
        let weights_path = dir.join(WEIGHTS_FILE);
        let bytes = std::fs::read(&weights_path).map_err(|source| ClassifyError::Io {
            path: weights_path.display().to_string(),
            source,
        })?;
        if hex::encode(Sha256::digest(&bytes)) != settings.weights_sha256 {
            return Err(ClassifyError::Model {
                path: weights_path.display().to_string(),
                message: format!(
                    "its SHA-256 is not the weights_sha256 of {SETTINGS_FILE}: the two files do not belong together"
                ),
            });
        }
        Self::decode(&bytes, t).map_err(|message| ClassifyError::Model {
            path: weights_path.display().to_string(),
            message,
        })
    }

    /// Builds a model from float weights (`OUTPUTS` per bucket, `None` = all zero): quantises
    /// each output's weights to signed bytes. What `train` writes is `encode` of this.
    pub fn from_weights(
        rows: &[(u32, [f32; OUTPUTS])],
        bias: [f32; OUTPUTS],
        thresholds: Thresholds,
    ) -> Self {
        let mut scale = [0f32; OUTPUTS];
        for (_, w) in rows {
            for (s, x) in scale.iter_mut().zip(w) {
                *s = s.max(x.abs());
            }
        }
        for s in &mut scale {
            *s = if *s > 0.0 { *s / 127.0 } else { 1.0 };
        }
        let mut index = vec![NO_ROW; BUCKETS];
        let mut q = Vec::with_capacity(rows.len() * OUTPUTS);
        let mut kept = 0u32;
        for (b, w) in rows {
            let row: Vec<i8> = w
                .iter()
                .zip(&scale)
                .map(|(x, s)| (x / s).round().clamp(-127.0, 127.0) as i8)
                .collect();
            if row.iter().all(|&x| x == 0) {
                continue;
            }
            index[*b as usize] = kept;
            kept += 1;
            q.extend(row);
        }
        Self {
            index,
            rows: q,
            scale,
            bias,
            thresholds,
        }
    }

    /// The weights file: magic, counts, scales and biases, then per kept bucket the gap from
    /// the previous one (LEB128) and its `OUTPUTS` bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.rows.len() * 22 / 20);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&BUCKET_BITS.to_le_bytes());
        out.extend_from_slice(&(OUTPUTS as u32).to_le_bytes());
        out.extend_from_slice(&((self.rows.len() / OUTPUTS) as u32).to_le_bytes());
        for v in self.scale.iter().chain(&self.bias) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut prev = 0u32;
        for (b, &r) in self.index.iter().enumerate() {
            if r == NO_ROW {
                continue;
            }
            let mut gap = b as u32 - prev;
            prev = b as u32;
            loop {
                let byte = (gap & 0x7f) as u8;
                gap >>= 7;
                if gap == 0 {
                    out.push(byte);
                    break;
                }
                out.push(byte | 0x80);
            }
            let row = &self.rows[r as usize * OUTPUTS..][..OUTPUTS];
            out.extend(row.iter().map(|&x| x as u8));
        }
        out
    }

    fn decode(bytes: &[u8], thresholds: Thresholds) -> Result<Self, String> {
        let mut r = Reader { bytes, at: 0 };
        if r.take(8)? != MAGIC {
            return Err("not a Luotsi model (bad magic)".into());
        }
        let bits = r.u32()?;
        let outputs = r.u32()?;
        let count = r.u32()? as usize;
        if bits != BUCKET_BITS || outputs as usize != OUTPUTS {
            return Err(format!(
                "has 2^{bits} buckets and {outputs} outputs; this build expects 2^{BUCKET_BITS} and {OUTPUTS}"
            ));
        }
        if count > BUCKETS {
            return Err(format!("claims {count} rows, more than the buckets"));
        }
        let mut floats = [0f32; 2 * OUTPUTS];
        for f in &mut floats {
            *f = f32::from_le_bytes(r.take(4)?.try_into().expect("4 bytes"));
            if !f.is_finite() {
                return Err("a scale or bias is not a finite number".into());
            }
        }
        let mut scale = [0f32; OUTPUTS];
        let mut bias = [0f32; OUTPUTS];
        scale.copy_from_slice(&floats[..OUTPUTS]);
        bias.copy_from_slice(&floats[OUTPUTS..]);
        let mut index = vec![NO_ROW; BUCKETS];
        let mut rows = Vec::with_capacity(count * OUTPUTS);
        let mut prev: Option<u64> = None;
        for row in 0..count {
            let mut gap = 0u64;
            let mut shift = 0;
            loop {
                let byte = r.take(1)?[0];
                gap |= u64::from(byte & 0x7f) << shift;
                shift += 7;
                if byte & 0x80 == 0 {
                    break;
                }
                if shift > 28 {
                    return Err(format!("row {row}: bucket gap too long"));
                }
            }
            let b = prev.map_or(gap, |p| p + gap);
            if prev.is_some() && gap == 0 || b >= BUCKETS as u64 {
                return Err(format!("row {row}: bucket {b} out of order or range"));
            }
            prev = Some(b);
            index[b as usize] = row as u32;
            rows.extend(r.take(OUTPUTS)?.iter().map(|&x| x as i8));
        }
        if r.at != bytes.len() {
            return Err(format!("{} bytes after the last row", bytes.len() - r.at));
        }
        Ok(Self {
            index,
            rows,
            scale,
            bias,
            thresholds,
        })
    }

    /// How many buckets kept weights.
    pub fn rows(&self) -> usize {
        self.rows.len() / OUTPUTS
    }

    /// Bytes held in memory by the weights and index.
    pub fn memory_bytes(&self) -> usize {
        self.index.len() * 4 + self.rows.len()
    }

    /// The row of bucket `b` in `rows`, if it kept weights.
    #[inline]
    fn row(&self, b: u32) -> Option<usize> {
        let r = self.index[b as usize];
        (r != NO_ROW).then_some(r as usize)
    }

    /// The raw scores (logits) of every output for a feature vector.
    pub fn logits(&self, features: &Features) -> [f32; OUTPUTS] {
        let mut acc = [0f32; OUTPUTS];
        // A text's index entries and rows lie far apart in 2.2 MiB: most are cache misses.
        // Each chunk's rows are first looked up and touched (independent loads the processor overlaps), then
        // summed, in the same order as ever.
        const CHUNK: usize = 32;
        let mut at = [NO_ROW; CHUNK];
        let mut touched = 0u8;
        for chunk in features.chunks(CHUNK) {
            for (a, &(b, _)) in at.iter_mut().zip(chunk) {
                *a = match self.row(b) {
                    Some(r) => {
                        let row = &self.rows[r * OUTPUTS..][..OUTPUTS];
                        touched ^= row[0] as u8 ^ row[OUTPUTS - 1] as u8;
                        r as u32
                    }
                    None => NO_ROW,
                };
            }
            for (&r, &(_, v)) in at.iter().zip(chunk) {
                if r == NO_ROW {
                    continue;
                }
                let row = &self.rows[r as usize * OUTPUTS..][..OUTPUTS];
                for (a, &w) in acc.iter_mut().zip(row) {
                    *a += v * f32::from(w);
                }
            }
        }
        std::hint::black_box(touched);
        for ((a, s), b) in acc.iter_mut().zip(&self.scale).zip(&self.bias) {
            *a = *a * s + b;
        }
        acc
    }

    pub fn predict_features(&self, features: &Features) -> Prediction {
        let z = self.logits(features);
        let mut needs = [0f32; NEED_OUTPUTS];
        let mut urgency = [0f32; URGENCY_OUTPUTS];
        softmax(&z[..NEED_OUTPUTS], &mut needs);
        softmax(&z[NEED_OUTPUTS..], &mut urgency);
        Prediction { needs, urgency }
    }

    pub fn predict(&self, input: &Input<'_>) -> (Prediction, Features) {
        let mut f = Features::with_capacity(512);
        extract(input, &mut f);
        (self.predict_features(&f), f)
    }

    /// What weighed most for `output` in `input` (whose feature vector is `features`): the
    /// contributions to its score summed per word (its character n-grams, itself, its
    /// negated form), per pair of words and per hint, largest positive first, at most `n`.
    /// Names the matched words only, never more of the text.
    pub fn explain(
        &self,
        input: &Input<'_>,
        features: &Features,
        output: usize,
        n: usize,
    ) -> Vec<(String, f32)> {
        let weight = |b: u32| {
            let Some(r) = self.row(b) else {
                return 0.0;
            };
            let x = features
                .binary_search_by_key(&b, |f| f.0)
                .map_or(0.0, |i| features[i].1);
            x * f32::from(self.rows[r * OUTPUTS + output]) * self.scale[output]
        };
        let mut s = Scratch::default();
        // A bucket's weight is shared by all its occurrences.
        let mut occurrences: Vec<u32> = Vec::new();
        each_feature(input, &mut s, &mut |b, _, _| occurrences.push(b));
        radix_sort(&mut occurrences, &mut s.sort_tmp);
        let count = |b: u32| {
            let lo = occurrences.partition_point(|&x| x < b);
            let hi = occurrences.partition_point(|&x| x <= b);
            (hi - lo).max(1) as f32
        };
        // Where each part is in `parts` (which keeps the order parts were first seen in):
        // words, then pairs, then the two hints and the age.
        let words = s.words.len();
        let slot_of = |part: Part| match part {
            Part::Word(i) => i,
            Part::Pair(i) => words + i,
            Part::Hint(n) => 2 * words + n,
            Part::Age => 2 * words + 2,
        };
        let mut slots = vec![u32::MAX; 2 * words + 3];
        let mut parts: Vec<(Part, String, f32)> = Vec::new();
        each_feature(input, &mut s, &mut |b, part, name| {
            let c = weight(b) / count(b);
            let slot = &mut slots[slot_of(part)];
            match parts.get_mut(*slot as usize) {
                Some(p) => p.2 += c,
                // A part's first feature names it: the word, the pair or the hint itself.
                None => {
                    *slot = parts.len() as u32;
                    parts.push((part, name().to_string(), c));
                }
            }
        });
        // The same word twice is one piece of evidence.
        let mut merged: Vec<(Part, String, f32)> = Vec::with_capacity(parts.len());
        for p in parts {
            match merged.iter_mut().find(|m| m.1 == p.1) {
                Some(m) => m.2 += p.2,
                None => merged.push(p),
            }
        }
        let mut parts = merged;
        parts.retain(|p| p.2 > 0.0);
        parts.sort_by(|a, b| b.2.total_cmp(&a.2));
        parts.truncate(n);
        parts.into_iter().map(|(_, name, c)| (name, c)).collect()
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or_else(|| format!("ends early, at byte {}", self.at))?;
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
}

fn softmax(z: &[f32], out: &mut [f32]) {
    let max = z.iter().copied().fold(f32::MIN, f32::max);
    let mut sum = 0.0;
    for (o, &x) in out.iter_mut().zip(z) {
        *o = (x - max).exp();
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
}

/// The output index of a need or an urgency class.
pub fn need_output(n: Need) -> usize {
    Need::ALL.iter().position(|&x| x == n).expect("a need")
}

pub fn urgency_output(u: Urgency) -> usize {
    NEED_OUTPUTS + u.rank() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(text: &str) -> Features {
        let mut f = Features::new();
        extract(
            &Input {
                text,
                ..Input::default()
            },
            &mut f,
        );
        f
    }

    #[test]
    fn features_are_sorted_unique_and_unit_length() {
        let f = features("Rintaan sattuu, rintaan sattuu ja vasen käsi puutuu");
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        let norm: f32 = f.iter().map(|(_, v)| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
        assert!(features("").is_empty());
    }

    #[test]
    fn folding_makes_missing_diacritics_the_same_features() {
        assert_eq!(features("Päänsärky"), features("paansarky"));
        assert_ne!(features("paansarky"), features("paansarkyy"));
    }

    #[test]
    fn features_are_named_by_what_matched() {
        let mut names = Vec::new();
        let mut s = Scratch::default();
        each_feature(
            &Input {
                text: "ei hengitä. Ei, hengittää kyllä",
                ..Input::default()
            },
            &mut s,
            &mut |_, part, name| names.push((part, name().to_string())),
        );
        let has = |part: Part, name: &str| names.contains(&(part, name.to_string()));
        assert!(has(Part::Word(1), "word \"hengita\""), "{names:?}");
        assert!(has(Part::Pair(0), "words \"ei hengita\""));
        assert!(has(Part::Word(1), "chars \"_hen\""));
        assert!(has(Part::Word(1), "negated \"hengita\""));
        // After a comma the negation no longer reaches.
        assert!(!has(Part::Word(3), "negated \"hengittaa\""));
        assert!(has(Part::Word(3), "word \"hengittaa\""));
    }

    #[test]
    fn weights_survive_encoding_and_a_changed_byte_is_refused() {
        let t = Thresholds {
            emergency: 0.3,
            need_confident: 0.6,
        };
        let mut w = [0f32; OUTPUTS];
        w[0] = 1.5;
        w[19] = -0.75;
        let m = Signal::from_weights(
            &[(7, w), (300_000 % BUCKETS as u32, w), (9, [0.0; OUTPUTS])],
            [0.1; OUTPUTS],
            t,
        );
        assert_eq!(m.rows(), 2);
        let bytes = m.encode();
        let back = Signal::decode(&bytes, t).unwrap();
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.logits(&vec![(7, 1.0)]), m.logits(&vec![(7, 1.0)]));
        assert!(Signal::decode(&bytes[..bytes.len() - 1], t).is_err());
        let mut more = bytes.clone();
        more.push(0);
        assert!(Signal::decode(&more, t).is_err());
    }
}
