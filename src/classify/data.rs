//! Loading the classifier's data files (`<lang>.toml` lexicons and `rules.toml`) and
//! precomputing everything matching needs: stemmed and folded keys, hash indexes, concept
//! bit sets. A broken file is reported with its path and line; nothing here runs per contact.

use std::path::Path;

use rust_stemmers::{Algorithm, Stemmer};
use serde::Deserialize;

use super::ClassifyError;
/// A set of concepts, one bit each: the lexicons and rules name up to `ConceptSet::CAPACITY`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConceptSet([u64; 4]);

impl ConceptSet {
    pub const CAPACITY: usize = 256;
    pub const EMPTY: ConceptSet = ConceptSet([0; 4]);

    fn bit(i: usize) -> Self {
        let mut s = Self::EMPTY;
        s.0[i / 64] = 1 << (i % 64);
        s
    }
    pub fn is_empty(self) -> bool {
        self.0 == [0; 4]
    }
}

impl std::ops::BitOr for ConceptSet {
    type Output = Self;
    fn bitor(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] | o.0[i]))
    }
}

impl std::ops::BitOrAssign for ConceptSet {
    fn bitor_assign(&mut self, o: Self) {
        *self = *self | o;
    }
}

impl std::ops::BitAnd for ConceptSet {
    type Output = Self;
    fn bitand(self, o: Self) -> Self {
        Self(std::array::from_fn(|i| self.0[i] & o.0[i]))
    }
}

impl std::ops::Not for ConceptSet {
    type Output = Self;
    fn not(self) -> Self {
        Self(self.0.map(|w| !w))
    }
}

use super::text::{FastMap, fold};
use crate::domain::{Language, Need, Urgency};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    language: Language,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    negations: Vec<String>,
    #[serde(default)]
    clause_breaks: Vec<String>,
    /// Phrases that negate the word just before them ("ei ole").
    #[serde(default)]
    post_negations: Vec<String>,
    #[serde(default)]
    term: Vec<TermFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TermFile {
    /// Word forms or phrases. A word ending in `*` is a literal prefix, not stemmed; one
    /// ending in `!` is that whole word only; `*` alone stands for any one word. The words of a phrase may have one other word between them,
    /// unless joined by `_` ("i_dag").
    /// Parts joined by `&` ("rinta* & painaa") may come in any order near each other in one
    /// sentence: Finnish and Swedish word order is free.
    forms: Vec<String>,
    need: Option<Need>,
    #[serde(default = "one")]
    weight: f32,
    #[serde(default)]
    concepts: Vec<String>,
    urgency: Option<Urgency>,
    /// Whether the word may be found inside a compound (default: 4+ letters in fi/sv).
    compound: Option<bool>,
    /// Whether a negation before it cancels it (default yes; "ei laske" must not cancel
    /// the child in "kuume ei laske lapsella").
    #[serde(default = "yes")]
    negatable: bool,
    /// Whether the words of this form mean this entry and nothing else: shorter entries that
    /// start inside its match are dropped ("löi päänsä" is a head injury, not violence;
    /// "hjärtat slår" is a heartbeat, not a blow). Meant for phrases, not `&` forms.
    #[serde(default)]
    masks: bool,
    /// Whether the entry may be matched only in a text of its own language: a false friend
    /// ("pappa" is a grandfather in Finnish and a father in Swedish).
    #[serde(default)]
    local: bool,
}

fn yes() -> bool {
    true
}

fn one() -> f32 {
    1.0
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    scoring: Scoring,
    #[serde(default)]
    default_urgency: FastMap<Need, Urgency>,
    #[serde(default)]
    rule: Vec<RuleFile>,
}

/// Tunable numbers of the scoring, all in `rules.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    pub form_category_weight: f32,
    pub phone_menu_weight: f32,
    /// Weight factor for a word that is negated or in a past-tense sentence.
    pub negated_factor: f32,
    /// Weight factor for a word in a sentence about the distant past ("vuosi sitten").
    pub past_factor: f32,
    /// Weight factor for a word matched only with a typo.
    pub typo_factor: f32,
    /// Weight factor for a word from another language's lexicon than the detected one.
    pub foreign_factor: f32,
    /// Below this confidence the contact goes to human triage.
    pub triage_below: f32,
    /// A second need is reported when its score is at least this share of the best.
    pub secondary_share: f32,
    /// …and at least this score.
    pub secondary_min: f32,
    /// How many words before a term a negation reaches.
    pub negation_window: usize,
    pub child_age_below: u32,
    pub elderly_age_from: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    #[serde(default)]
    all: Vec<String>,
    #[serde(default)]
    any: Vec<String>,
    #[serde(default)]
    none: Vec<String>,
    urgency: Option<Urgency>,
    red_flag: Option<String>,
    need: Option<Need>,
    #[serde(default)]
    boost: f32,
    /// If set, the rule's concepts must all come from words within this many words of each
    /// other in one sentence ("painon tunne … rinnassa"), not anywhere in the text.
    near: Option<usize>,
}

/// One lexicon entry: what its forms mean (evidence names the form that matched).
#[derive(Debug)]
pub struct Term {
    pub lang: Language,
    pub need: Option<Need>,
    pub weight: f32,
    pub concepts: ConceptSet,
    pub urgency: Option<Urgency>,
    pub negatable: bool,
    pub masks: bool,
    pub local: bool,
}

/// One word of a form, as matched against a folded token.
#[derive(Debug)]
pub struct Key {
    pub text: Box<str>,
    pub prefix: bool,
    pub compound: bool,
    /// The folded word a short stem came from, when the stemmer cut it to under four letters
    /// (Finnish "rintaan" → "rin"). Such a key stands for a word only if the word begins like
    /// the form (its first five letters): "rintaa" is meant; "rinne", "kättä" (→ "kat", like
    /// "katko") and "silloin" (→ "sil", like "sillalla") are not.
    pub surface: Option<Box<str>>,
    /// Joined to the word before it by `_` in the lexicon ("i_dag"): it must follow at once,
    /// with no other word between ("i tre dagar" is not "i dag").
    pub adjacent: bool,
}

impl Key {
    /// Whether `word`, which the key matched by inflection or stem, begins like the form.
    pub fn surface_fits(&self, word: &str) -> bool {
        self.surface.as_deref().is_none_or(|s| {
            let n = s.chars().count().min(5);
            s == word || (word.chars().count() >= n && s.chars().take(n).eq(word.chars().take(n)))
        })
    }
}

/// One form of a term: one word, or a phrase of several.
#[derive(Debug)]
pub struct Variant {
    pub term: u32,
    /// The form as written in the lexicon, as evidence names it (`fi:verenpainelääk`): the
    /// entry that actually matched, not the first form of its term.
    pub label: Box<str>,
    pub words: Vec<Key>,
    /// Where each later `&` part starts in `words`: those parts may stand before or after
    /// the first part, within `FREE_ORDER_WINDOW` words of it in the same sentence. Empty
    /// for an ordinary phrase.
    pub parts: Vec<usize>,
    /// The first letter every form of the phrase's second word begins with, when there is one
    /// (not a wildcard, not a compound part): a quick test before the phrase is followed.
    pub next_initial: Option<u8>,
}

/// How far (in words) an `&` part may stand from the first part of its form.
pub const FREE_ORDER_WINDOW: usize = 6;

#[derive(Debug)]
pub struct Rule {
    pub id: Box<str>,
    pub all: ConceptSet,
    pub any: ConceptSet,
    pub none: ConceptSet,
    pub urgency: Option<Urgency>,
    pub red_flag: Option<Box<str>>,
    pub need: Option<Need>,
    pub boost: f32,
    pub near: Option<usize>,
}

pub struct LangData {
    pub lang: Language,
    pub stemmer: Stemmer,
    pub post_negations: Vec<Vec<Box<str>>>,
}

/// Flags of a function word for the language at index `i` of `Model::langs` (shift by `i`):
/// a stopword, a negation, a clause break. One lookup per word gives all three languages.
pub const FW_STOP: u16 = 1;
pub const FW_NEGATION: u16 = 1 << 3;
pub const FW_BREAK: u16 = 1 << 6;

impl std::fmt::Debug for LangData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LangData")
            .field("lang", &self.lang)
            .finish()
    }
}

/// Everything `classify` reads, built once by `load`.
#[derive(Debug)]
pub struct Model {
    pub langs: Vec<LangData>,
    pub terms: Vec<Term>,
    pub variants: Vec<Variant>,
    /// First-word key → variants, for whole-word and prefix matches.
    pub by_key: FastMap<Box<str>, Vec<u32>>,
    /// First-word key → variants that may sit inside a compound.
    pub by_infix: FastMap<Box<str>, Vec<u32>>,
    /// The same keys as tries: a walk along a word's bytes stops as soon as no key begins
    /// like it, without hashing each prefix anew.
    pub key_trie: Trie,
    pub infix_trie: Trie,
    /// The infix trie's nodes four bytes deep, by those bytes: a compound is searched from
    /// a position only if a key begins with the next four bytes.
    pub infix_quads: FastMap<u32, u32>,
    /// Stopwords, negations and clause breaks of every language, as `FW_*` flags.
    pub function_words: FastMap<Box<str>, u16>,
    /// Single-word variants of 5+ letters by first letter, for typo matching.
    pub typo_buckets: Vec<Vec<u32>>,
    pub concepts: Vec<Box<str>>,
    pub concept_child: ConceptSet,
    pub concept_elderly: ConceptSet,
    pub concept_past: ConceptSet,
    /// Concepts some red-flag rule reads: a word matched only through a typo does not give
    /// them unless its key is long enough to be unmistakable.
    pub alarm_concepts: ConceptSet,
    pub rules: Vec<Rule>,
    pub default_urgency: FastMap<Need, Urgency>,
    pub scoring: Scoring,
}

/// Shortest key matched with a typo: five-letter keys drew too many neighbours
/// ("laske" ~ "laake"), so typos are tolerated from six letters of stem on.
const TYPO_MIN_KEY: usize = 6;

const LANGS: [(&str, Language, Algorithm); 3] = [
    ("fi.toml", Language::Finnish, Algorithm::Finnish),
    ("sv.toml", Language::Swedish, Algorithm::Swedish),
    ("en.toml", Language::English, Algorithm::English),
];

fn read(path: &Path) -> Result<String, ClassifyError> {
    std::fs::read_to_string(path).map_err(|source| ClassifyError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, src: &str) -> Result<T, ClassifyError> {
    toml::from_str(src).map_err(|e| ClassifyError::Data {
        path: path.display().to_string(),
        line: e.span().map(|s| line_of(src, s.start)).unwrap_or(0),
        message: e.message().to_string(),
    })
}

/// A semantic error (not a syntax error): points at the first line mentioning `needle`.
fn data_error(path: &Path, src: &str, needle: &str, message: String) -> ClassifyError {
    let line = src
        .lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or(0);
    ClassifyError::Data {
        path: path.display().to_string(),
        line,
        message,
    }
}

struct Concepts(Vec<Box<str>>);

impl Concepts {
    fn id(&mut self, name: &str) -> Option<ConceptSet> {
        let i = match self.0.iter().position(|c| &**c == name) {
            Some(i) => i,
            None => {
                self.0.push(name.into());
                self.0.len() - 1
            }
        };
        (i < ConceptSet::CAPACITY).then(|| ConceptSet::bit(i))
    }
    fn known(&self, name: &str) -> Option<ConceptSet> {
        self.0
            .iter()
            .position(|c| &**c == name)
            .map(ConceptSet::bit)
    }
}

pub fn load(dir: &Path) -> Result<Model, ClassifyError> {
    let mut concepts = Concepts(Vec::new());
    let concept_child = concepts.id("child").unwrap_or_default();
    let concept_elderly = concepts.id("elderly").unwrap_or_default();
    let concept_past = concepts.id("past").unwrap_or_default();
    let mut model = Model {
        langs: Vec::new(),
        terms: Vec::new(),
        variants: Vec::new(),
        by_key: FastMap::default(),
        by_infix: FastMap::default(),
        key_trie: Trie::default(),
        infix_trie: Trie::default(),
        infix_quads: FastMap::default(),
        function_words: FastMap::default(),
        typo_buckets: vec![Vec::new(); 27],
        concepts: Vec::new(),
        concept_child,
        concept_elderly,
        concept_past,
        alarm_concepts: ConceptSet::EMPTY,
        rules: Vec::new(),
        default_urgency: FastMap::default(),
        scoring: Scoring {
            form_category_weight: 0.0,
            phone_menu_weight: 0.0,
            negated_factor: 0.0,
            past_factor: 0.0,
            typo_factor: 0.0,
            foreign_factor: 0.0,
            triage_below: 0.0,
            secondary_share: 0.0,
            secondary_min: 0.0,
            negation_window: 0,
            child_age_below: 0,
            elderly_age_from: 0,
        },
    };
    for (file, lang, algorithm) in LANGS {
        let path = dir.join(file);
        let src = read(&path)?;
        let lex: LexiconFile = parse(&path, &src)?;
        if lex.language != lang {
            return Err(data_error(
                &path,
                &src,
                "language",
                format!("expected language = \"{lang}\""),
            ));
        }
        let stemmer = Stemmer::create(algorithm);
        for t in &lex.term {
            add_term(&mut model, &mut concepts, &stemmer, lang, t)
                .map_err(|m| data_error(&path, &src, t.forms.first().map_or("", |f| f), m))?;
        }
        let i = model.langs.len();
        for (words, flag) in [
            (&lex.stopwords, FW_STOP),
            (&lex.negations, FW_NEGATION),
            (&lex.clause_breaks, FW_BREAK),
        ] {
            for w in words {
                *model.function_words.entry(fold(w).into()).or_default() |= flag << i;
            }
        }
        model.langs.push(LangData {
            lang,
            stemmer,
            post_negations: lex
                .post_negations
                .iter()
                .map(|p| p.split_whitespace().map(|w| fold(w).into()).collect())
                .collect(),
        });
    }
    let path = dir.join("rules.toml");
    let src = read(&path)?;
    let rules: RulesFile = parse(&path, &src)?;
    for r in rules.rule {
        let bits = |names: &[String]| -> Result<ConceptSet, ClassifyError> {
            names.iter().try_fold(ConceptSet::EMPTY, |acc, n| {
                concepts.known(n).map(|b| acc | b).ok_or_else(|| {
                    data_error(
                        &path,
                        &src,
                        &format!("\"{n}\""),
                        format!("rule `{}`: no lexicon term has concept `{n}`", r.id),
                    )
                })
            })
        };
        let all = bits(&r.all)?;
        let any = bits(&r.any)?;
        let none = bits(&r.none)?;
        if all.is_empty() && any.is_empty() {
            return Err(data_error(
                &path,
                &src,
                &r.id,
                format!("rule `{}` needs `all` or `any`", r.id),
            ));
        }
        if r.red_flag.is_some() {
            model.alarm_concepts |= all | any;
        }
        model.rules.push(Rule {
            id: r.id.into(),
            all,
            any,
            none,
            urgency: r.urgency,
            red_flag: r.red_flag.map(Into::into),
            need: r.need,
            boost: r.boost,
            near: r.near,
        });
    }
    model.key_trie = Trie::build(&model.by_key);
    model.infix_trie = Trie::build(&model.by_infix);
    for k in model.by_infix.keys() {
        if let Some(q) = quad(k.as_bytes()) {
            let node = k.as_bytes()[..4]
                .iter()
                .try_fold(0u32, |n, &b| model.infix_trie.step(n, b))
                .expect("a key's own bytes are in the trie");
            model.infix_quads.insert(q, node);
        }
    }
    model.default_urgency = rules.default_urgency;
    model.scoring = rules.scoring;
    model.concepts = concepts.0;
    Ok(model)
}

/// The first four bytes of `b` as one number, if it has four.
pub fn quad(b: &[u8]) -> Option<u32> {
    b.get(..4)
        .map(|q| u32::from_le_bytes([q[0], q[1], q[2], q[3]]))
}

/// A byte trie over lexicon keys, its edges sorted per node so that a step is a short binary
/// search, not a hash. Node 0 is the root; a node where a key ends holds its variants.
#[derive(Debug, Default)]
pub struct Trie {
    /// Per node: where its edges start in `edges` and how many there are.
    nodes: Vec<(u32, u32)>,
    edges: Vec<(u8, u32)>,
    /// Per node: the variants of the key ending there (empty if none).
    ends: Vec<Vec<u32>>,
}

impl Trie {
    fn build(keys: &FastMap<Box<str>, Vec<u32>>) -> Self {
        // Build with a map, then lay the edges out node by node.
        let mut children: Vec<std::collections::BTreeMap<u8, u32>> = vec![Default::default()];
        let mut ends: Vec<Vec<u32>> = vec![Vec::new()];
        for (k, vs) in keys {
            let mut node = 0usize;
            for &b in k.as_bytes() {
                let next = children.len();
                node = *children[node].entry(b).or_insert(next as u32) as usize;
                if node == next {
                    children.push(Default::default());
                    ends.push(Vec::new());
                }
            }
            ends[node].extend_from_slice(vs);
        }
        let mut t = Trie {
            nodes: Vec::with_capacity(children.len()),
            edges: Vec::new(),
            ends,
        };
        for c in children {
            t.nodes.push((t.edges.len() as u32, c.len() as u32));
            t.edges.extend(c);
        }
        t
    }

    /// The node reached from `node` by byte `b`, if some key continues so.
    pub fn step(&self, node: u32, b: u8) -> Option<u32> {
        let (start, len) = self.nodes[node as usize];
        let edges = &self.edges[start as usize..(start + len) as usize];
        edges
            .binary_search_by_key(&b, |e| e.0)
            .ok()
            .map(|i| edges[i].1)
    }

    /// The variants whose key ends at `node`.
    pub fn variants(&self, node: u32) -> &[u32] {
        &self.ends[node as usize]
    }
}

fn add_term(
    model: &mut Model,
    concepts: &mut Concepts,
    stemmer: &Stemmer,
    lang: Language,
    t: &TermFile,
) -> Result<(), String> {
    let first = t.forms.first().ok_or("a term needs at least one form")?;
    if t.need.is_none() && t.concepts.is_empty() {
        return Err(format!("term `{first}` has neither need nor concepts"));
    }
    let mut bits = ConceptSet::EMPTY;
    for c in &t.concepts {
        bits |= concepts.id(c).ok_or_else(|| {
            format!(
                "too many concepts at `{c}` (at most {})",
                ConceptSet::CAPACITY
            )
        })?;
    }
    let term = model.terms.len() as u32;
    model.terms.push(Term {
        lang,
        need: t.need,
        weight: t.weight,
        concepts: bits,
        urgency: t.urgency,
        negatable: t.negatable,
        masks: t.masks,
        local: t.local,
    });
    let compounding = matches!(lang, Language::Finnish | Language::Swedish);
    for form in &t.forms {
        let mut words: Vec<Key> = Vec::new();
        let mut parts = Vec::new();
        for (n, part) in form.split('&').enumerate() {
            if n > 0 {
                parts.push(words.len());
            }
            let before = words.len();
            for w in part.split_whitespace() {
                for (k, piece) in w.split('_').filter(|p| !p.is_empty()).enumerate() {
                    let mut key = make_key(stemmer, piece, compounding, t.compound);
                    key.adjacent = k > 0;
                    words.push(key);
                }
            }
            if words.len() == before {
                return Err(format!("term `{first}` has an empty form or `&` part"));
            }
            if words[before].text.is_empty() {
                return Err(format!(
                    "term `{first}`: a form or `&` part cannot start with `*`"
                ));
            }
        }
        let v = model.variants.len() as u32;
        let k = &words[0];
        model.by_key.entry(k.text.clone()).or_default().push(v);
        if k.compound {
            model.by_infix.entry(k.text.clone()).or_default().push(v);
        }
        // Only words that route are looked for with a typo: a misspelt cue word (a time, a
        // negation, a concept without a need) would reach too far ("lapsen" is not "lapsena").
        if words.len() == 1 && k.text.len() >= TYPO_MIN_KEY && t.need.is_some() {
            let b = k.text.as_bytes()[0];
            let bucket = if b.is_ascii_lowercase() {
                usize::from(b - b'a')
            } else {
                26
            };
            model.typo_buckets[bucket].push(v);
        }
        let shown: Vec<&str> = form
            .split_whitespace()
            .map(|w| {
                if w == "*" {
                    w
                } else {
                    w.trim_end_matches(['*', '!'])
                }
            })
            .collect();
        let label = format!("{lang}:{}", shown.join(" ").replace('_', " ")).into();
        let first_end = parts.first().copied().unwrap_or(words.len());
        let next_initial = (first_end > 1)
            .then(|| &words[1])
            .filter(|k| !k.compound && !k.text.is_empty())
            .map(|k| k.text.as_bytes()[0]);
        model.variants.push(Variant {
            term,
            label,
            words,
            parts,
            next_initial,
        });
    }
    Ok(())
}

/// Stems (unless the form ends in `*`) and folds one word of a lexicon form.
fn make_key(stemmer: &Stemmer, word: &str, compounding: bool, compound: Option<bool>) -> Key {
    let lower = word.to_lowercase();
    if let Some(raw) = lower.strip_suffix('!') {
        // The whole word only: "blod!" is blood, not "blodtryck".
        return Key {
            text: fold(raw).into(),
            prefix: false,
            compound: false,
            surface: None,
            adjacent: false,
        };
    }
    let (text, literal, surface) = match lower.strip_suffix('*') {
        Some(raw) => (fold(raw), true, None),
        None => {
            let stem = fold(&stemmer.stem(&lower));
            let whole = fold(&lower);
            if stem.chars().count() >= 3 {
                let short = stem.chars().count() < 4 && whole.chars().count() > 3;
                (stem, false, short.then(|| whole.into()))
            } else {
                (whole, false, None)
            }
        }
    };
    let len = text.chars().count();
    Key {
        prefix: literal || len >= 4,
        compound: compound.unwrap_or(compounding && len >= 4),
        text: text.into(),
        surface,
        adjacent: false,
    }
}
