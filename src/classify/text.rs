//! Text handling for the classifier: lower-casing and diacritic folding, tokenisation into
//! words with clause and sentence numbers, and the bounded edit distance used for typos.
//!
//! Folding is applied identically to lexicon and text, so "paansarky" meets "päänsärky".
//! Nothing here knows about needs or rules.

use std::hash::{BuildHasherDefault, Hasher};
use std::ops::Range;

/// FNV-1a: keys are short words, std's SipHash is needlessly slow for them.
#[derive(Default, Clone, Copy)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FastMap<K, V> = std::collections::HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Folds one lower-case character: Nordic and common Latin diacritics to plain letters.
pub fn fold_char(c: char) -> char {
    match c {
        'ä' | 'å' | 'á' | 'à' | 'â' => 'a',
        'ö' | 'ø' | 'ó' | 'ò' | 'ô' => 'o',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'ü' | 'ú' | 'ù' => 'u',
        'í' | 'ì' | 'ï' => 'i',
        'æ' => 'a',
        '’' | '`' | '´' => '\'',
        c => c,
    }
}

/// Lower-cases and folds a whole string.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        for l in c.to_lowercase() {
            out.push(fold_char(l));
        }
    }
    out
}

/// One word of the text: its range in the lower-cased text (for the stemmer) and in the
/// folded text (for matching), and which clause and sentence it belongs to.
#[derive(Debug, Clone)]
pub struct Token {
    pub lower: Range<usize>,
    pub folded: Range<usize>,
    pub clause: u16,
    pub sentence: u16,
}

/// The text prepared once per classification.
#[derive(Debug, Default)]
pub struct Prepared {
    pub lower: String,
    pub folded: String,
    pub tokens: Vec<Token>,
    /// Counts of å and of ä/ö: weak language cues.
    pub ring_a: u16,
    pub umlauts: u16,
    /// The folded Snowball stem of each token in the text's language, once it is known
    /// (empty before, and for words under four letters).
    pub stems: Vec<Range<usize>>,
    pub stem_text: String,
    /// Function-word flags of each token (stopword, negation, clause break per language),
    /// filled by the classifier.
    pub flags: Vec<u16>,
}

impl Prepared {
    pub fn folded(&self, t: &Token) -> &str {
        &self.folded[t.folded.clone()]
    }
    /// The stem of token `i`, if stems have been computed and the word has one.
    pub fn stem(&self, i: usize) -> Option<&str> {
        self.stems
            .get(i)
            .filter(|r| !r.is_empty())
            .map(|r| &self.stem_text[r.clone()])
    }
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}

/// Splits `text` into words. Clause breaks are punctuation; sentence breaks are . ! ? and
/// new lines. Clause-break words (like "mutta") are applied later by the caller.
pub fn prepare(text: &str, out: &mut Prepared) {
    out.lower.clear();
    out.folded.clear();
    out.tokens.clear();
    out.stems.clear();
    out.stem_text.clear();
    out.flags.clear();
    out.ring_a = 0;
    out.umlauts = 0;
    let mut clause = 0u16;
    let mut sentence = 0u16;
    let mut start: Option<(usize, usize)> = None;
    let mut pending_break = (false, false);
    // ASCII letters lower-case to one letter; only others go through Unicode lower-casing.
    let mut lowered = ['\0'; 3];
    for c in text.chars().chain(std::iter::once(' ')).flat_map(|c| {
        let n = if c.is_ascii() {
            lowered[0] = c.to_ascii_lowercase();
            1
        } else {
            let mut n = 0;
            for l in c.to_lowercase().take(3) {
                lowered[n] = l;
                n += 1;
            }
            n
        };
        lowered.into_iter().take(n)
    }) {
        match c {
            'å' => out.ring_a += 1,
            'ä' | 'ö' => out.umlauts += 1,
            _ => {}
        }
        let f = fold_char(c);
        if is_word_char(f) {
            if start.is_none() {
                if pending_break.0 {
                    clause = clause.saturating_add(1);
                }
                if pending_break.1 {
                    sentence = sentence.saturating_add(1);
                }
                pending_break = (false, false);
                start = Some((out.lower.len(), out.folded.len()));
            }
            out.lower.push(c);
            out.folded.push(f);
        } else {
            if let Some((ls, fs)) = start.take() {
                push_token(out, ls, fs, clause, sentence);
            }
            match c {
                '.' | '!' | '?' | '\n' => pending_break = (true, true),
                ',' | ';' | ':' | '(' | ')' | '-' | '–' => pending_break.0 = true,
                _ => {}
            }
        }
    }
}

fn push_token(out: &mut Prepared, ls: usize, fs: usize, clause: u16, sentence: u16) {
    // Apostrophes at the edges are quoting, not part of the word.
    let trim = |s: &str, start: usize| {
        let word = &s[start..];
        let inner = word.trim_matches('\'');
        // Where `inner` first occurs in `word`: right after the quotes trimmed from its start.
        let off = word.len() - word.trim_start_matches('\'').len();
        (start + off)..(start + off + inner.len())
    };
    let lower = trim(&out.lower, ls);
    let folded = trim(&out.folded, fs);
    if folded.is_empty() {
        return;
    }
    out.tokens.push(Token {
        lower,
        folded,
        clause,
        sentence,
    });
}

/// Whether some prefix of `word` is within one edit (substitution, insertion, deletion or
/// adjacent transposition) of `key`. Allocation-free, linear in `key`.
pub fn prefix_within_one(word: &[u8], key: &[u8]) -> bool {
    let n = key.len();
    let i = word.iter().zip(key).take_while(|(a, b)| a == b).count();
    if i == n {
        return true;
    }
    let starts = |w: &[u8], k: &[u8]| w.len() >= k.len() && &w[..k.len()] == k;
    let w = &word[i..];
    let k = &key[i..];
    // substitution
    (w.len() > 1 && starts(&w[1..], &k[1..]))
        // extra letter in the word
        || (w.len() > 1 && starts(&w[1..], k))
        // letter missing from the word
        || starts(w, &k[1..])
        // adjacent transposition
        || (w.len() >= 2 && k.len() >= 2 && w[0] == k[1] && w[1] == k[0] && starts(&w[2..], &k[2..]))
}

/// Whether the whole `word` is within one edit of `key`.
pub fn within_one(word: &[u8], key: &[u8]) -> bool {
    if word.len().abs_diff(key.len()) > 1 {
        return false;
    }
    let i = word.iter().zip(key).take_while(|(a, b)| a == b).count();
    if i == word.len() && i == key.len() {
        return true;
    }
    let w = &word[i..];
    let k = &key[i..];
    (w.len() == k.len() && !w.is_empty() && w[1..] == k[1..])
        || (!w.is_empty() && w[1..] == *k)
        || (!k.is_empty() && *w == k[1..])
        || (w.len() == k.len() && w.len() >= 2 && w[0] == k[1] && w[1] == k[0] && w[2..] == k[2..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_nordic_letters() {
        assert_eq!(fold("Päänsärky Tandvärk ÅÄÖ"), "paansarky tandvark aao");
    }

    #[test]
    fn tokenises_with_clauses_and_sentences() {
        let mut p = Prepared::default();
        prepare("Ei rintakipua, mutta yskä. Can't sleep!", &mut p);
        let words: Vec<&str> = p.tokens.iter().map(|t| p.folded(t)).collect();
        assert_eq!(
            words,
            ["ei", "rintakipua", "mutta", "yska", "can't", "sleep"]
        );
        assert_eq!(p.tokens[1].clause, 0);
        assert_eq!(p.tokens[2].clause, 1);
        assert_eq!(p.tokens[4].sentence, 1);
    }

    #[test]
    fn one_edit_prefixes() {
        assert!(prefix_within_one(b"rintakpiua", b"rintakip"));
        assert!(prefix_within_one(b"rintakipua", b"rintakipu"));
        assert!(prefix_within_one(b"rntakipua", b"rintakipu"));
        assert!(prefix_within_one(b"riintakipua", b"rintakipu"));
        assert!(prefix_within_one(b"rintakupua", b"rintakipu"));
        assert!(!prefix_within_one(b"rantakupua", b"rintakipu"));
        assert!(within_one(b"vaccine", b"vacine"));
        assert!(within_one(b"fevre", b"fever"));
        assert!(!within_one(b"feverss", b"fever"));
    }
}
