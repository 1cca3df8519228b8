//! The per-contact pass: match lexicon terms in the text, decide language, negation and past
//! tense, fire rules, score needs and pick urgency. Reads only the precomputed `Model`; its
//! scratch buffers are reused per thread so a classification allocates little.

use std::cell::RefCell;

use super::data::{
    ConceptSet, FREE_ORDER_WINDOW, FW_BREAK, FW_NEGATION, FW_STOP, Key, Model, quad,
};
use super::text::{Prepared, prefix_within_one, prepare, within_one};
use super::{Classification, Evidence, EvidenceKind, Input, NeedScore};
use crate::domain::{Language, Need, Urgency};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MatchKind {
    Exact,
    Prefix,
    Compound,
    Typo,
    Stem,
}

impl MatchKind {
    fn label(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::Prefix => "inflected",
            MatchKind::Compound => "compound",
            MatchKind::Typo => "typo",
            MatchKind::Stem => "stem",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Match {
    term: u32,
    /// The form that matched: evidence names it, not the term's first form.
    variant: u32,
    start: u16,
    /// The last token of the match (a free-order form may start before its first part).
    end: u16,
    kind: MatchKind,
    negated: bool,
    past: bool,
}

impl Match {
    fn live(&self) -> bool {
        !self.negated && !self.past
    }
}

#[derive(Default)]
struct Scratch {
    text: Prepared,
    matches: Vec<Match>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

const NEEDS: usize = 16;

pub fn classify(model: &Model, input: &Input<'_>) -> Classification {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => run(model, input, &mut s),
        Err(_) => run(model, input, &mut Scratch::default()),
    })
}

fn run(model: &Model, input: &Input<'_>, s: &mut Scratch) -> Classification {
    prepare(input.text, &mut s.text);
    s.matches.clear();
    mark_function_words(model, &mut s.text);
    // Stems need a language before matching; function words alone guess it well enough, and
    // the matches then decide it.
    let guess = detect_language(model, &s.text, &[], input.language);
    compute_stems(model, guess, &mut s.text);
    for i in 0..s.text.tokens.len() {
        match_token(model, &s.text, i, &mut s.matches);
    }
    let language = detect_language(model, &s.text, &s.matches, input.language);
    keep_plausible(model, language, &s.text, &mut s.matches);
    mark_negation_and_past(model, language, &s.text, &mut s.matches);
    decide(model, input, language, &s.text, &s.matches)
}

/// Looks every word up once among the function words of all languages; clause-break words
/// ("mutta", "men", "but") start a new clause for negation scope.
fn mark_function_words(model: &Model, p: &mut Prepared) {
    let mut shift = 0u16;
    for i in 0..p.tokens.len() {
        let w = &p.folded[p.tokens[i].folded.clone()];
        let flags = model.function_words.get(w).copied().unwrap_or(0);
        p.flags.push(flags);
        if flags & (FW_BREAK * 0b111) != 0 {
            shift += 1;
        }
        p.tokens[i].clause += shift;
    }
}

/// The folded Snowball stem of every word of four letters or more, in `language` (none for
/// numbers).
fn compute_stems(model: &Model, language: Language, p: &mut Prepared) {
    let Some(lang) = model.langs.iter().find(|l| l.lang == language) else {
        return;
    };
    for i in 0..p.tokens.len() {
        let at = p.stem_text.len();
        let lower = &p.lower[p.tokens[i].lower.clone()];
        if lower.len() >= 4 && !lower.as_bytes()[0].is_ascii_digit() {
            let stem = lang.stemmer.stem(lower);
            p.stem_text.extend(stem.chars().map(super::text::fold_char));
        }
        let end = p.stem_text.len();
        p.stems.push(at..end);
    }
}

fn match_token(model: &Model, p: &Prepared, i: usize, out: &mut Vec<Match>) {
    let word = p.folded(&p.tokens[i]);
    let before = out.len();
    // Whole word or an inflected form of it (the key is a prefix of the word), walking the key
    // trie; keys are then tried longest first, so a whole-word match is recorded before an
    // inflected one.
    let bytes = word.as_bytes();
    let mut ends = [(0usize, 0u32); 64];
    let mut n = 0;
    let mut node = 0u32;
    for (k, &b) in bytes.iter().enumerate() {
        let Some(next) = model.key_trie.step(node, b) else {
            break;
        };
        node = next;
        if n < ends.len() && !model.key_trie.variants(node).is_empty() {
            ends[n] = (k + 1, node);
            n += 1;
        }
    }
    for &(end, node) in ends[..n].iter().rev() {
        let kind = if end == word.len() {
            MatchKind::Exact
        } else {
            MatchKind::Prefix
        };
        for &v in model.key_trie.variants(node) {
            let key = &model.variants[v as usize].words[0];
            if (kind == MatchKind::Exact || key.prefix) && key.surface_fits(word)
                || key.surface.is_some() && key.surface_fits(word)
            {
                try_variant(model, p, v, i, kind, out);
            }
        }
    }
    // Inside a compound: "hammas" in "viisaudenhammas", "kivu" in "rintakivun". Infix keys
    // have four letters or more.
    for (start, _) in word.char_indices().skip(1) {
        let Some(&quad_node) = quad(&bytes[start..]).and_then(|q| model.infix_quads.get(&q)) else {
            continue;
        };
        let mut node = quad_node;
        let mut k = start + 4;
        loop {
            for &v in model.infix_trie.variants(node) {
                try_variant(model, p, v, i, MatchKind::Compound, out);
            }
            match bytes.get(k).and_then(|&b| model.infix_trie.step(node, b)) {
                Some(next) => node = next,
                None => break,
            }
            k += 1;
        }
    }
    // By stem: Finnish stems are not always prefixes of the word ("sattuu" → "satu",
    // "rintaan" → "rin").
    if let Some(vs) = p.stem(i).and_then(|stem| model.by_key.get(stem)) {
        for &v in vs {
            if model.variants[v as usize].words[0].surface_fits(word) {
                try_variant(model, p, v, i, MatchKind::Stem, out);
            }
        }
    }
    // Typos are tried when nothing routed the word to a need: a concept-only cue ("rinta*"
    // for the chest) must not hide a misspelt red-flag word ("rintakpiua").
    let routed = out[before..]
        .iter()
        .any(|m| model.terms[m.term as usize].need.is_some());
    if !routed && word.len() >= 5 && p.flags[i] & (FW_STOP * 0b111) == 0 {
        let b = word.as_bytes()[0];
        let bucket = if b.is_ascii_lowercase() {
            usize::from(b - b'a')
        } else {
            26
        };
        let w = word.as_bytes();
        for &v in &model.typo_buckets[bucket] {
            let key = &model.variants[v as usize].words[0];
            let k = key.text.as_bytes();
            // Cheap necessary conditions for one edit after the shared first letter: the
            // word is long enough, and the second or third letters line up some way.
            if w.len() + 1 < k.len()
                || !(k[1] == w[1] || k[2] == w[2] || w[1] == k[2] || w[2] == k[1])
            {
                continue;
            }
            let ok = if key.prefix {
                prefix_within_one(word.as_bytes(), key.text.as_bytes())
            } else {
                within_one(word.as_bytes(), key.text.as_bytes())
            };
            if ok {
                try_variant(model, p, v, i, MatchKind::Typo, out);
            }
        }
    }
}

/// Whether a later word of a phrase matches token `j`: the same word, an inflection of it
/// (by prefix of four letters, of a short stem only where the word begins like the form, or
/// once stems are known by stem), a compound containing it, or one typo away. A short key is
/// not a prefix of everything: "to die" is not in "to change diet".
fn word_matches(p: &Prepared, j: usize, key: &Key) -> bool {
    let token = p.folded(&p.tokens[j]);
    let k = &*key.text;
    // `*` in a phrase stands for any one word.
    k.is_empty()
        || token == k
        || (token.starts_with(k) && (k.len() >= 4 || key.surface.is_some() && key.surface_fits(token)))
        || (key.compound && contains(token.as_bytes(), k.as_bytes()))
        || p.stem(j).is_some_and(|st| st == k && key.surface_fits(token))
        || (token.len() >= 5 && k.len() >= 5 && prefix_within_one(token.as_bytes(), k.as_bytes()))
        // A typo in a later word of a phrase: any one edit from five letters, only swapped
        // letters in a four-letter word ("chest pian", but "can't wake" is not "can't take").
        || (k.len() >= 5 && within_one(token.as_bytes(), k.as_bytes()))
        || (k.len() == 4 && swapped(token.as_bytes(), k.as_bytes()))
}

/// Whether `needle` (not empty) occurs in `hay`: `str::contains` without its searcher's
/// set-up, which costs more than the search itself for a word.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w[0] == needle[0] && w == needle)
}

/// Whether `a` is `b` with two adjacent letters swapped.
fn swapped(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && (0..a.len().saturating_sub(1)).any(|i| {
            a[i] == b[i + 1] && a[i + 1] == b[i] && a[..i] == b[..i] && a[i + 2..] == b[i + 2..]
        })
}

/// Whether the phrase `keys` follows from token `i` on (each next word directly or after one
/// other word — directly if `adjacent` — in the same sentence); returns the token of its last
/// word.
fn phrase_from(p: &Prepared, keys: &[Key], i: usize) -> Option<usize> {
    let sentence = p.tokens[i].sentence;
    let mut at = i;
    for key in keys {
        let reach = if key.adjacent { 2 } else { 3 };
        at = (at + 1..p.tokens.len().min(at + reach))
            .take_while(|&j| p.tokens[j].sentence == sentence)
            .find(|&j| word_matches(p, j, key))?;
    }
    Some(at)
}

/// Where a free-order part (`a & b`) stands near the first part (tokens `first..=last`):
/// before or after it, within the window, in the same sentence. Returns its first and last
/// tokens.
fn free_part(p: &Prepared, keys: &[Key], first: usize, last: usize) -> Option<(usize, usize)> {
    let sentence = p.tokens[first].sentence;
    let lo = first.saturating_sub(FREE_ORDER_WINDOW);
    let hi = (last + FREE_ORDER_WINDOW).min(p.tokens.len() - 1);
    (lo..=hi)
        .filter(|&j| (j < first || j > last) && p.tokens[j].sentence == sentence)
        .find_map(|j| {
            if !word_matches(p, j, &keys[0]) {
                return None;
            }
            let end = phrase_from(p, &keys[1..], j)?;
            Some((j, end))
        })
}

/// Records variant `v` starting at token `i` if the rest of its phrase follows (each next
/// word directly or after one other word, in the same sentence) and its free-order parts
/// stand near it.
fn try_variant(
    model: &Model,
    p: &Prepared,
    v: u32,
    i: usize,
    kind: MatchKind,
    out: &mut Vec<Match>,
) {
    let variant = &model.variants[v as usize];
    // The second word must begin with its letter (a typo in a second word's first letter is
    // not looked for); most phrases fail here without being followed.
    if let Some(b) = variant.next_initial {
        let sentence = p.tokens[i].sentence;
        let reach = if variant.words[1].adjacent { 1 } else { 2 };
        let found = (i + 1..p.tokens.len().min(i + 1 + reach))
            .take_while(|&j| p.tokens[j].sentence == sentence)
            .any(|j| p.folded(&p.tokens[j]).as_bytes().first() == Some(&b));
        if !found {
            return;
        }
    }
    let first_end = variant
        .parts
        .first()
        .copied()
        .unwrap_or(variant.words.len());
    let Some(last) = phrase_from(p, &variant.words[1..first_end], i) else {
        return;
    };
    let mut start = i;
    let mut end = last;
    for (n, &from) in variant.parts.iter().enumerate() {
        let to = variant
            .parts
            .get(n + 1)
            .copied()
            .unwrap_or(variant.words.len());
        match free_part(p, &variant.words[from..to], i, last) {
            Some((j, k)) => {
                start = start.min(j);
                end = end.max(k);
            }
            None => return,
        }
    }
    if let Some(m) = out
        .iter_mut()
        .find(|m| m.term == variant.term && usize::from(m.start) == start)
    {
        // A real form of the word beats a typo of another form of the same entry.
        if m.kind == MatchKind::Typo && kind != MatchKind::Typo {
            m.kind = kind;
            m.variant = v;
            m.end = end as u16;
        }
        return;
    }
    out.push(Match {
        term: variant.term,
        variant: v,
        start: start as u16,
        end: end as u16,
        kind,
        negated: false,
        past: false,
    });
}

fn detect_language(
    model: &Model,
    p: &Prepared,
    matches: &[Match],
    chosen: Option<Language>,
) -> Language {
    let mut score = [0f32; 3];
    let idx = |l: Language| match l {
        Language::Swedish => 1,
        Language::English => 2,
        _ => 0,
    };
    for &flags in &p.flags {
        for (i, l) in model.langs.iter().enumerate() {
            if flags & ((FW_STOP | FW_NEGATION) << i) != 0 {
                score[idx(l.lang)] += 1.0;
            }
        }
    }
    for m in matches {
        score[idx(model.terms[m.term as usize].lang)] += 0.5;
    }
    score[0] += 0.2 * f32::from(p.umlauts);
    score[1] += f32::from(p.ring_a);
    let fallback = match chosen {
        Some(l @ (Language::Finnish | Language::Swedish | Language::English)) => l,
        _ => Language::Finnish,
    };
    let best = score.iter().cloned().fold(0f32, f32::max);
    if best <= 0.0 || score[idx(fallback)] >= best {
        return fallback;
    }
    [Language::Finnish, Language::Swedish, Language::English]
        [score.iter().position(|&x| x == best).unwrap_or(0)]
}

/// Drops matches the text cannot mean. An entry of another language than the text's counts
/// only as a whole word of four letters or more (English "pain" is not inside Finnish
/// "painaa", Swedish "hit" is not English "hits"), and a false friend
/// (`local`) not at all. A masking phrase ("löi päänsä") takes its words from every other
/// entry that starts inside it.
fn keep_plausible(model: &Model, language: Language, p: &Prepared, matches: &mut Vec<Match>) {
    matches.retain(|m| {
        let term = &model.terms[m.term as usize];
        term.lang == language
            || (m.kind == MatchKind::Exact
                && !term.local
                && p.tokens[usize::from(m.start)].folded.len() >= 4)
    });
    let spans: Vec<(u16, u16)> = matches
        .iter()
        .filter(|m| model.terms[m.term as usize].masks)
        .map(|m| (m.start, m.end))
        .collect();
    if spans.is_empty() {
        return;
    }
    // A masking phrase drops the shorter entries that start inside it; an entry as long as
    // the phrase ("blood pressure" the chronic condition) means the same words and stays.
    matches.retain(|m| {
        !spans
            .iter()
            .any(|&(a, b)| (a..=b).contains(&m.start) && m.end - m.start < b - a)
    });
}

fn mark_negation_and_past(model: &Model, language: Language, p: &Prepared, matches: &mut [Match]) {
    let Some(li) = model.langs.iter().position(|l| l.lang == language) else {
        return;
    };
    let lang = &model.langs[li];
    let negation = FW_NEGATION << li;
    let window = model.scoring.negation_window;
    let mut past_sentences = 0u64;
    for m in matches.iter() {
        if !(model.terms[m.term as usize].concepts & model.concept_past).is_empty() {
            past_sentences |= 1u64 << (p.tokens[usize::from(m.start)].clause.min(63));
        }
    }
    for m in matches.iter_mut() {
        let start = usize::from(m.start);
        let tok = &p.tokens[start];
        let term = &model.terms[m.term as usize];
        let before = (start.saturating_sub(window)..start)
            .any(|j| p.tokens[j].clause == tok.clause && p.flags[j] & negation != 0);
        // "astmaa ei ole": a negating phrase right after the word.
        let after = lang.post_negations.iter().any(|phrase| {
            phrase.iter().enumerate().all(|(k, w)| {
                p.tokens
                    .get(start + 1 + k)
                    .is_some_and(|t| t.clause == tok.clause && p.folded(t) == &**w)
            })
        });
        m.negated = term.negatable && (before || after);
        m.past = (term.concepts & model.concept_past).is_empty()
            && past_sentences & (1u64 << tok.clause.min(63)) != 0;
    }
}

fn need_index(n: Need) -> usize {
    n as usize
}

fn decide(
    model: &Model,
    input: &Input<'_>,
    language: Language,
    p: &Prepared,
    matches: &[Match],
) -> Classification {
    let sc = &model.scoring;
    let mut evidence = Vec::new();
    let mut score = [0f32; NEEDS];
    let mut live = ConceptSet::EMPTY;
    if let Some(age) = input.age {
        if age < sc.child_age_below {
            live |= model.concept_child;
        }
        if age >= sc.elderly_age_from {
            live |= model.concept_elderly;
        }
    }
    let mut term_urgency: Vec<(Need, Urgency)> = Vec::new();
    // (need, token) pairs already credited: a word matched by several lexicons (fi "influenssa"
    // and sv "influensa") counts once per need.
    let mut credited: Vec<(Need, u16, f32)> = Vec::new();
    // How many times each term has been credited: repeats add less (1, 1/2, 1/4).
    let mut repeats: Vec<(u32, u8)> = Vec::new();
    // Forms already named in the evidence.
    let mut named: Vec<u32> = Vec::new();
    for m in matches {
        let term = &model.terms[m.term as usize];
        // A word recognised only through a typo may route and count for urgent and soon
        // rules, but raises a red flag only when its key is long enough to be unmistakable
        // ("rintakpiua", not "prison" for "poison").
        if m.live() {
            live |= if m.kind != MatchKind::Typo || typo_is_clear(model, m) {
                term.concepts
            } else {
                term.concepts & !model.alarm_concepts
            };
        }
        let Some(need) = term.need else { continue };
        if let (true, Some(u)) = (m.live(), term.urgency) {
            term_urgency.push((need, u));
        }
        let seen = match repeats.iter_mut().find(|(t, _)| *t == m.term) {
            Some((_, n)) => {
                *n += 1;
                *n - 1
            }
            None => {
                repeats.push((m.term, 1));
                0
            }
        };
        if seen > 2 {
            continue;
        }
        let mut factor = if m.negated {
            sc.negated_factor
        } else if m.past {
            sc.past_factor
        } else {
            1.0
        };
        if m.kind == MatchKind::Typo {
            factor *= sc.typo_factor;
        }
        if term.lang != language {
            factor *= sc.foreign_factor;
        }
        let w = term.weight * factor / f32::from(1u8 << seen);
        let add = match credited
            .iter_mut()
            .find(|(n, t, _)| *n == need && *t == m.start)
        {
            Some((_, _, prev)) if *prev >= w => continue,
            Some((_, _, prev)) => {
                let add = w - *prev;
                *prev = w;
                add
            }
            None => {
                credited.push((need, m.start, w));
                w
            }
        };
        score[need_index(need)] += add;
        // Each entry once: a word repeated in the text adds weight, not evidence lines.
        if named.contains(&m.variant) {
            continue;
        }
        named.push(m.variant);
        let mut detail = format!(
            "{} [{}]",
            model.variants[m.variant as usize].label,
            m.kind.label()
        );
        if m.negated {
            detail.push_str(" negated");
        } else if m.past {
            detail.push_str(" past");
        }
        evidence.push(Evidence {
            kind: EvidenceKind::Word,
            detail,
            supports: need.code().into(),
        });
    }
    for (name, hint, weight) in [
        (
            "form_category",
            input.form_category,
            sc.form_category_weight,
        ),
        ("phone_menu", input.phone_menu, sc.phone_menu_weight),
    ] {
        if let Some(need) = hint {
            score[need_index(need)] += weight;
            evidence.push(Evidence {
                kind: EvidenceKind::Hint,
                detail: format!("{name}={need}"),
                supports: need.code().into(),
            });
        }
    }

    let mut urgency = Urgency::Routine;
    let mut red_flags: Vec<String> = Vec::new();
    for rule in &model.rules {
        let fires = covers(live, rule)
            && (live & rule.none).is_empty()
            && rule
                .near
                .is_none_or(|n| near_concepts(model, p, matches, n).any(|c| covers(c, rule)));
        if !fires {
            continue;
        }
        if let Some(need) = rule.need {
            score[need_index(need)] += rule.boost;
        }
        let via = rule_sources(model, p, matches, rule, live);
        if let Some(flag) = &rule.red_flag {
            if !red_flags.iter().any(|f| f == &**flag) {
                red_flags.push(flag.to_string());
            }
            evidence.push(Evidence {
                kind: EvidenceKind::RedFlag,
                detail: format!("{flag}: rule:{} via {via}", rule.id),
                supports: Urgency::Emergency.code().into(),
            });
            urgency = urgency.min(Urgency::Emergency);
        } else {
            let supports = rule
                .urgency
                .map(|u| u.code())
                .or(rule.need.map(|n| n.code()))
                .unwrap_or("");
            evidence.push(Evidence {
                kind: EvidenceKind::Rule,
                detail: format!("rule:{} via {via}", rule.id),
                supports: supports.into(),
            });
        }
        if let Some(u) = rule.urgency {
            urgency = urgency.min(u);
        }
    }

    // Rank needs.
    let mut ranked: Vec<NeedScore> = Need::ALL
        .iter()
        .filter(|n| score[need_index(**n)] > 0.0)
        .map(|&need| NeedScore {
            need,
            confidence: confidence(score[need_index(need)]),
        })
        .collect();
    ranked.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    let top = ranked.first().copied();
    let needs_triage = red_flags.is_empty() && top.is_none_or(|t| t.confidence < sc.triage_below);
    let (needs, suggestions) = if needs_triage {
        evidence.push(Evidence {
            kind: EvidenceKind::Fallback,
            detail: format!("best confidence below {:.2}: human triage", sc.triage_below),
            supports: Need::ServiceGuidance.code().into(),
        });
        let conf = top.map_or(0.0, |t| t.confidence);
        ranked.retain(|n| n.need != Need::ServiceGuidance);
        (
            vec![NeedScore {
                need: Need::ServiceGuidance,
                confidence: conf.max(0.3),
            }],
            ranked,
        )
    } else {
        let best = score[need_index(ranked[0].need)];
        let split = ranked
            .iter()
            .position(|n| {
                let s = score[need_index(n.need)];
                s < best * sc.secondary_share || s < sc.secondary_min
            })
            .unwrap_or(ranked.len())
            .max(1);
        let suggestions = ranked.split_off(split);
        (ranked, suggestions)
    };

    if let Some(u) = model.default_urgency.get(&needs[0].need) {
        urgency = urgency.min(*u);
    }
    for (need, u) in term_urgency {
        if needs.iter().any(|n| n.need == need) {
            urgency = urgency.min(u);
        }
    }
    // Failing safe: a contact the rules could not place is not known to be routine. It waits
    // at most as long as a *soon* one and goes to a person (service guidance, whose health-care
    // deadline is the same working day) to be triaged. "Could not place" means: no red flag
    // or urgency rule fired, the best need is below `triage_below`, and the text holds more
    // than words about the service itself.
    // Words of the service itself (fees, bookings, opening hours) and nothing else are
    // understood well enough: such a contact is routine however weakly it scored.
    let only_service_words = score
        .iter()
        .enumerate()
        .all(|(i, s)| *s == 0.0 || i == need_index(Need::ServiceGuidance))
        && score[need_index(Need::ServiceGuidance)] > 0.0;
    if needs_triage && urgency > Urgency::Soon && !only_service_words {
        urgency = Urgency::Soon;
        evidence.push(Evidence {
            kind: EvidenceKind::Fallback,
            detail: "urgency not established: at least soon, human triage the same day".into(),
            supports: Urgency::Soon.code().into(),
        });
    }

    Classification {
        needs,
        urgency,
        red_flags,
        language,
        evidence,
        needs_triage,
        suggestions,
        model_raised: false,
    }
}

/// For each live match, the concepts of the live matches within `n` words of it in the
/// same sentence (itself included).
fn near_concepts<'a>(
    model: &'a Model,
    p: &'a Prepared,
    matches: &'a [Match],
    n: usize,
) -> impl Iterator<Item = ConceptSet> + 'a {
    matches.iter().filter(|m| m.live()).map(move |a| {
        let at = usize::from(a.start);
        matches
            .iter()
            .filter(|m| m.live())
            .filter(|m| {
                let j = usize::from(m.start);
                j.abs_diff(at) <= n && p.tokens[j].sentence == p.tokens[at].sentence
            })
            .fold(ConceptSet::EMPTY, |acc, m| {
                acc | model.terms[m.term as usize].concepts
            })
    })
}

/// The live matches within `n` words (in one sentence) of the first live match whose
/// neighbourhood satisfies `ok`, by index into `matches`: the group that made a `near` rule
/// fire. Only evidence asks for it, so it may allocate.
fn near_group(
    model: &Model,
    p: &Prepared,
    matches: &[Match],
    n: usize,
    ok: impl Fn(ConceptSet) -> bool,
) -> Option<Vec<usize>> {
    let close = |a: &Match, m: &Match| {
        let (at, j) = (usize::from(a.start), usize::from(m.start));
        m.live() && j.abs_diff(at) <= n && p.tokens[j].sentence == p.tokens[at].sentence
    };
    matches.iter().filter(|m| m.live()).find_map(|a| {
        let have = matches
            .iter()
            .filter(|m| close(a, m))
            .fold(ConceptSet::EMPTY, |acc, m| {
                acc | model.terms[m.term as usize].concepts
            });
        ok(have).then(|| {
            (0..matches.len())
                .filter(|&k| close(a, &matches[k]))
                .collect()
        })
    })
}

/// Whether the concepts `have` satisfy a rule's `all` and `any` (its `none` is checked
/// against the whole text).
fn covers(have: ConceptSet, rule: &super::data::Rule) -> bool {
    have & rule.all == rule.all && (rule.any.is_empty() || !(have & rule.any).is_empty())
}

/// Shortest key whose typo may still feed the rules.
const TYPO_RULE_MIN_KEY: usize = 8;

fn typo_is_clear(model: &Model, m: &Match) -> bool {
    model.variants[m.variant as usize].words[0].text.len() >= TYPO_RULE_MIN_KEY
}

fn confidence(score: f32) -> f32 {
    let c = score / (score + 1.0);
    (c * 100.0).round() / 100.0
}

/// Names the lexicon forms that gave a rule its concepts, each once, e.g. `fi:lapsi, fi:kuume`.
/// For a `near` rule only the words of the group that made it fire are named.
fn rule_sources(
    model: &Model,
    p: &Prepared,
    matches: &[Match],
    rule: &super::data::Rule,
    have: ConceptSet,
) -> String {
    let bits = rule.all | rule.any;
    let group = rule
        .near
        .and_then(|n| near_group(model, p, matches, n, |c| covers(c, rule)));
    let mut out = String::new();
    let mut seen = ConceptSet::EMPTY;
    let mut named: Vec<u32> = Vec::new();
    for (k, m) in matches.iter().enumerate().filter(|(_, m)| m.live()) {
        if group.as_ref().is_some_and(|g| !g.contains(&k)) {
            continue;
        }
        let term = &model.terms[m.term as usize];
        let hit = term.concepts & bits & !seen;
        if hit.is_empty() || named.contains(&m.variant) {
            continue;
        }
        seen |= hit;
        named.push(m.variant);
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(&model.variants[m.variant as usize].label);
    }
    if !(bits & !seen & have & (model.concept_child | model.concept_elderly)).is_empty() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str("fact:age");
    }
    out
}
