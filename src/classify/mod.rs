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
//!
//! Beside the rules runs a trained signal (`model.rs`, trained by `luotsi train` in
//! `train.rs` from the labelled lines in `dataset.rs`): a linear model over hashed n-grams
//! whose weights are in `config/classifier/model.{bin,toml}`. `combine.rs` joins the two so
//! that the model only adds safety (it may raise an emergency, marked `model_raised`, or name
//! a need where the rules abstained; it never lowers urgency). `eval.rs` measures rules, model
//! and the combination (`luotsi eval`, `tests/classify_eval.rs`).

pub mod batch;
pub mod combine;
mod data;
pub mod dataset;
mod engine;
pub mod eval;
pub mod model;
#[cfg(test)]
mod tests;
mod text;
pub mod train;

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
    /// The trained signal: a decision it took part in, and the features that weighed most.
    Model,
}

impl EvidenceKind {
    pub fn code(self) -> &'static str {
        match self {
            EvidenceKind::Word => "word",
            EvidenceKind::Hint => "hint",
            EvidenceKind::Rule => "rule",
            EvidenceKind::RedFlag => "red_flag",
            EvidenceKind::Fallback => "fallback",
            EvidenceKind::Model => "model",
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
    /// A person should triage: the rules' confidence was too low (routed to service
    /// guidance), the model raised an emergency the rules did not see, or the model confidently
    /// named another need.
    pub needs_triage: bool,
    /// Runner-up needs kept for the triage (the model's need first when it disagreed).
    pub suggestions: Vec<NeedScore>,
    /// The emergency was raised by the trained model alone, not by a rule.
    pub model_raised: bool,
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
    #[error("{path}: {message}")]
    Model { path: String, message: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Whether the trained model takes part (`classifier.model` in `luotsi.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelMode {
    /// Rules only; the model files are not read.
    Off,
    /// The model may raise urgency and name a need where the rules abstained, never lower.
    #[default]
    RaiseOnly,
}

/// A loaded classifier. Cheap to clone and share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Classifier {
    model: Arc<data::Model>,
    signal: Option<Arc<model::Signal>>,
}

impl Classifier {
    /// Loads the lexicons (`fi.toml`, `sv.toml`, `en.toml`), `rules.toml` and the trained
    /// model (`model.toml`, `model.bin`) from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ClassifyError> {
        Self::load_with(dir, ModelMode::RaiseOnly)
    }

    /// Loads as `load`; with `ModelMode::Off` the model files are not read.
    pub fn load_with(dir: &Path, mode: ModelMode) -> Result<Self, ClassifyError> {
        let signal = match mode {
            ModelMode::Off => None,
            ModelMode::RaiseOnly => Some(Arc::new(model::Signal::load(dir)?)),
        };
        Ok(Self {
            model: Arc::new(data::load(dir)?),
            signal,
        })
    }

    /// The same lexicon and rules with another model (or none).
    pub fn with_signal(&self, signal: Option<model::Signal>) -> Self {
        Self {
            model: self.model.clone(),
            signal: signal.map(Arc::new),
        }
    }

    /// The trained model in use, if any.
    pub fn signal(&self) -> Option<&model::Signal> {
        self.signal.as_deref()
    }

    /// Names the needs, urgency and red flags of one contact, with the evidence for each.
    pub fn classify(&self, input: &Input<'_>) -> Classification {
        let rules = self.classify_rules(input);
        let Some(signal) = &self.signal else {
            return rules;
        };
        let (prediction, features) = signal.predict(input);
        let explain =
            |output: usize| signal.explain(input, &features, output, combine::EXPLAIN_FEATURES);
        combine::combine(
            rules,
            &combine::ModelView {
                prediction: &prediction,
                thresholds: signal.thresholds,
                explain: &explain,
            },
        )
    }

    /// The rules alone, whatever the model setting.
    pub fn classify_rules(&self, input: &Input<'_>) -> Classification {
        engine::classify(&self.model, input)
    }
}
