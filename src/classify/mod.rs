//! The classifier: reads a contact (free text, channel, structured hints, what is known of the
//! citizen) and names its needs, urgency and red flags, with the evidence for each decision.
//!
//! It is pure and synchronous: no I/O after `Classifier::load`, no Redis. It must never guess
//! silently: low confidence routes to `service_guidance` for a person to triage.
//!
//! How it works: the lexicons (`config/classifier/{fi,sv,en}.toml`) map stemmed, folded word
//! forms to needs (with weights) and to *concepts*; `rules.toml` combines concepts into urgency
//! rules and red flags. Matching is compound-, inflection-, typo- and diacritic-tolerant
//! (`text.rs`, `data.rs`); negation and past-tense sentences weaken a word and keep it out of
//! the rules, so "ei rintakipua" is not a red flag. A form's `&` parts may come in any order
//! near each other, and a rule with `near` wants its concepts from words close together in
//! one sentence ("painon tunnetta rinnassa"). Everything is precomputed at load.

pub mod batch;
mod data;
mod engine;
#[cfg(test)]
mod tests;
mod text;

use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::domain::{Channel, Language, Need, Urgency};

/// One contact as the classifier sees it.
#[derive(Debug, Clone, Default)]
pub struct Input<'a> {
    pub text: &'a str,
    pub channel: Option<Channel>,
    /// E-service form category: strong evidence, enough alone to route.
    pub form_category: Option<Need>,
    /// Phone menu choice: strong evidence.
    pub phone_menu: Option<Need>,
    /// The language the citizen chose, if any.
    pub language: Option<Language>,
    pub age: Option<u32>,
    pub municipality: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NeedScore {
    pub need: Need,
    pub confidence: f32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Word,
    Hint,
    Rule,
    RedFlag,
    Fallback,
}

impl EvidenceKind {
    pub fn code(self) -> &'static str {
        match self {
            EvidenceKind::Word => "word",
            EvidenceKind::Hint => "hint",
            EvidenceKind::Rule => "rule",
            EvidenceKind::RedFlag => "red_flag",
            EvidenceKind::Fallback => "fallback",
        }
    }
}

/// Why a decision was made. `detail` names a lexicon entry, hint or rule — never the
/// citizen's text beyond the matched term.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub detail: String,
    /// A need code or urgency class.
    pub supports: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Best first; never empty.
    pub needs: Vec<NeedScore>,
    pub urgency: Urgency,
    pub red_flags: Vec<String>,
    pub language: Language,
    pub evidence: Vec<Evidence>,
    /// Confidence was too low: routed to service guidance for a person to triage.
    pub needs_triage: bool,
    /// Runner-up needs kept for the triage.
    pub suggestions: Vec<NeedScore>,
}

impl Classification {
    pub fn need_codes(&self) -> Vec<Need> {
        self.needs.iter().map(|n| n.need).collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    #[error("{path}:{line}: {message}")]
    Data {
        path: String,
        line: usize,
        message: String,
    },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// A loaded classifier. Cheap to clone and share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Classifier {
    model: Arc<data::Model>,
}

impl Classifier {
    /// Loads the lexicons (`fi.toml`, `sv.toml`, `en.toml`) and `rules.toml` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ClassifyError> {
        Ok(Self {
            model: Arc::new(data::load(dir)?),
        })
    }

    /// Names the needs, urgency and red flags of one contact, with the evidence for each.
    pub fn classify(&self, input: &Input<'_>) -> Classification {
        engine::classify(&self.model, input)
    }
}
