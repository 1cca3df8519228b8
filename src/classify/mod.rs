//! The classifier: reads a contact (free text, channel, structured hints, what is known of the
//! citizen) and names its needs, urgency and red flags, with the evidence for each decision.
//!
//! It is pure and synchronous: no I/O after `Classifier::load`, no Redis. It must never guess
//! silently: low confidence routes to `service_guidance` for a person to triage.
//!
//! This is the starter rule set of the core issue; the full engine replaces the internals
//! behind the same `Classifier::load` / `Classifier::classify` interface.

use std::path::Path;

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

/// A loaded classifier. Cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Classifier {
    rules: Vec<(&'static str, Need)>,
    red_flags: Vec<(&'static str, &'static str)>,
}

impl Classifier {
    /// Loads the lexicon and rules from `dir` (the starter set is built in).
    pub fn load(_dir: &Path) -> Result<Self, ClassifyError> {
        Ok(Self::starter())
    }

    fn starter() -> Self {
        use Need::*;
        Self {
            rules: vec![
                ("hammas", OralHealth),
                ("tand", OralHealth),
                ("tooth", OralHealth),
                ("kuume", AcuteSymptoms),
                ("feber", AcuteSymptoms),
                ("fever", AcuteSymptoms),
                ("resept", Medication),
                ("recept", Medication),
                ("prescription", Medication),
                ("rokot", Vaccination),
                ("masenn", MentalHealth),
                ("ahdist", MentalHealth),
                ("toimeentulo", SocialSupport),
                ("kotihoi", ElderlyServices),
                ("neuvola", FamilyServices),
            ],
            red_flags: vec![
                ("rintakip", "chest_pain"),
                ("bröstsmärt", "chest_pain"),
                ("chest pain", "chest_pain"),
                ("en saa henkeä", "cannot_breathe"),
                ("can't breathe", "cannot_breathe"),
                ("tajuton", "unconscious"),
            ],
        }
    }

    pub fn classify(&self, input: &Input<'_>) -> Classification {
        let text = input.text.to_lowercase();
        let mut evidence = Vec::new();
        let mut needs: Vec<NeedScore> = Vec::new();
        for (hint, need) in [
            ("form_category", input.form_category),
            ("phone_menu", input.phone_menu),
        ] {
            if let Some(need) = need {
                evidence.push(Evidence {
                    kind: EvidenceKind::Hint,
                    detail: format!("{hint}={need}"),
                    supports: need.code().into(),
                });
                push_need(&mut needs, need, 0.9);
            }
        }
        for (stem, need) in &self.rules {
            if text.contains(stem) {
                evidence.push(Evidence {
                    kind: EvidenceKind::Word,
                    detail: (*stem).into(),
                    supports: need.code().into(),
                });
                push_need(&mut needs, *need, 0.7);
            }
        }
        let red_flags: Vec<String> = self
            .red_flags
            .iter()
            .filter(|(p, _)| text.contains(p))
            .map(|(p, flag)| {
                evidence.push(Evidence {
                    kind: EvidenceKind::RedFlag,
                    detail: (*p).into(),
                    supports: Urgency::Emergency.code().into(),
                });
                (*flag).to_string()
            })
            .collect();
        let needs_triage = needs.is_empty();
        if needs_triage {
            evidence.push(Evidence {
                kind: EvidenceKind::Fallback,
                detail: "no confident need: human triage".into(),
                supports: Need::ServiceGuidance.code().into(),
            });
            needs.push(NeedScore {
                need: Need::ServiceGuidance,
                confidence: 0.3,
            });
        }
        let urgency = if !red_flags.is_empty() {
            Urgency::Emergency
        } else if needs.iter().any(|n| n.need == Need::AcuteSymptoms) {
            Urgency::Soon
        } else {
            Urgency::Routine
        };
        Classification {
            needs,
            urgency,
            red_flags,
            language: input.language.unwrap_or(Language::Finnish),
            evidence,
            needs_triage,
            suggestions: Vec::new(),
        }
    }
}

fn push_need(needs: &mut Vec<NeedScore>, need: Need, confidence: f32) {
    match needs.iter_mut().find(|n| n.need == need) {
        Some(n) => n.confidence = n.confidence.max(confidence),
        None => needs.push(NeedScore { need, confidence }),
    }
    needs.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
}
