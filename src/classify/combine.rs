//! How the trained signal joins the rules. It only adds safety:
//!
//! - **Emergency**: the rules' emergency stands; an emergency the rules did not see is raised
//!   when p(emergency) is above the cross-validated threshold. Such a classification is marked
//!   `model_raised`, asks for human triage, and takes the alert path like any emergency.
//! - **Urgency** is never lowered: the model can only raise it.
//! - **Need**: the rules' need stands unless the rules abstained (their low-confidence fallback
//!   to service guidance); then a confident model names the need, and an unconfident one is
//!   offered first among the suggestions while the contact stays with service guidance.
//! - **Disagreement**: a confident model naming a need the rules did not find asks for human
//!   triage and offers the model's need as the first suggestion; the rules' need still routes.
//!
//! Every decision the model took part in carries `model` evidence: the features that weighed
//! most with their contributions to the score. Evidence is returned to the caller and never
//! logged.

use super::model::{Prediction, Thresholds, need_output, urgency_output};
use super::{Classification, Evidence, EvidenceKind, NeedScore};
use crate::domain::{Need, Urgency};

/// How many features are named per model decision.
pub const EXPLAIN_FEATURES: usize = 4;

/// What the combination needs of the model: its prediction, thresholds and a way to name the
/// features that weighed most for an output (name, contribution).
pub struct ModelView<'a> {
    pub prediction: &'a Prediction,
    pub thresholds: Thresholds,
    pub explain: &'a dyn Fn(usize) -> Vec<(String, f32)>,
}

/// Whether the rules abstained: their own fallback sent the contact to service guidance.
pub fn rules_abstained(c: &Classification) -> bool {
    c.needs_triage && c.evidence.iter().any(|e| e.kind == EvidenceKind::Fallback)
}

pub fn combine(mut c: Classification, m: &ModelView<'_>) -> Classification {
    let p = m.prediction;
    let t = m.thresholds;
    let (model_need, need_p) = p.top_need();
    let confident = need_p >= t.need_confident;

    if c.urgency != Urgency::Emergency && p.emergency() > t.emergency {
        c.urgency = Urgency::Emergency;
        c.model_raised = true;
        c.needs_triage = true;
        push_model_evidence(
            &mut c,
            m,
            urgency_output(Urgency::Emergency),
            format!(
                "p(emergency) {:.2} > {}: model-raised emergency, human triage",
                p.emergency(),
                t.emergency
            ),
            Urgency::Emergency.code(),
        );
    }

    let model_score = NeedScore {
        need: model_need,
        confidence: round2(need_p),
    };
    if rules_abstained(&c) && model_need != Need::ServiceGuidance {
        if confident {
            // The rules had nothing to go on; the model is right nine times in ten at this
            // confidence (cross-validated), so it routes.
            c.needs = vec![model_score];
            c.needs_triage = c.model_raised;
            c.suggestions.retain(|s| s.need != model_need);
            push_model_evidence(
                &mut c,
                m,
                need_output(model_need),
                format!("rules abstained; model need p {need_p:.2}"),
                model_need.code(),
            );
        } else {
            suggest(&mut c, model_score);
            push_model_evidence(
                &mut c,
                m,
                need_output(model_need),
                format!(
                    "rules abstained; model need p {need_p:.2} below {}: suggestion only",
                    t.need_confident
                ),
                model_need.code(),
            );
        }
    } else if confident && !c.needs.iter().any(|n| n.need == model_need) {
        c.needs_triage = true;
        suggest(&mut c, model_score);
        push_model_evidence(
            &mut c,
            m,
            need_output(model_need),
            format!("model disagrees with the rules' need, p {need_p:.2}: human triage"),
            model_need.code(),
        );
    }
    c
}

fn round2(x: f32) -> f32 {
    (x * 100.0).round() / 100.0
}

/// Puts the model's need first among the suggestions, once.
fn suggest(c: &mut Classification, s: NeedScore) {
    c.suggestions.retain(|x| x.need != s.need);
    c.suggestions.insert(0, s);
}

fn push_model_evidence(
    c: &mut Classification,
    m: &ModelView<'_>,
    output: usize,
    decision: String,
    supports: &str,
) {
    c.evidence.push(Evidence {
        kind: EvidenceKind::Model,
        detail: decision,
        supports: supports.into(),
    });
    for (name, weight) in (m.explain)(output) {
        c.evidence.push(Evidence {
            kind: EvidenceKind::Model,
            detail: format!("{name} {weight:+.2}"),
            supports: supports.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language;

    fn rules(need: Need, urgency: Urgency, abstained: bool) -> Classification {
        Classification {
            needs: vec![NeedScore {
                need: if abstained {
                    Need::ServiceGuidance
                } else {
                    need
                },
                confidence: 0.8,
            }],
            urgency,
            red_flags: vec![],
            language: Language::Finnish,
            evidence: if abstained {
                vec![Evidence {
                    kind: EvidenceKind::Fallback,
                    detail: "low".into(),
                    supports: "service_guidance".into(),
                }]
            } else {
                vec![]
            },
            needs_triage: abstained,
            suggestions: vec![],
            model_raised: false,
        }
    }

    fn predict(need: Need, p_need: f32, p_emergency: f32) -> Prediction {
        let mut needs = [(1.0 - p_need) / 15.0; 16];
        needs[need_output(need)] = p_need;
        let rest = (1.0 - p_emergency) / 3.0;
        Prediction {
            needs,
            urgency: [p_emergency, rest, rest, rest],
        }
    }

    fn run(c: Classification, p: &Prediction) -> Classification {
        let explain = |_: usize| vec![("word \"x\"".to_string(), 0.5f32)];
        combine(
            c,
            &ModelView {
                prediction: p,
                thresholds: Thresholds {
                    emergency: 0.3,
                    need_confident: 0.6,
                },
                explain: &explain,
            },
        )
    }

    #[test]
    fn the_model_raises_an_emergency_and_marks_it() {
        let c = run(
            rules(Need::MentalHealth, Urgency::Routine, false),
            &predict(Need::MentalHealth, 0.9, 0.45),
        );
        assert_eq!(c.urgency, Urgency::Emergency);
        assert!(c.model_raised && c.needs_triage);
        assert_eq!(c.needs[0].need, Need::MentalHealth);
        assert!(
            c.evidence
                .iter()
                .any(|e| e.kind == EvidenceKind::Model && e.supports == "emergency")
        );
    }

    #[test]
    fn the_model_never_lowers_urgency_nor_marks_the_rules_emergency() {
        let c = run(
            rules(Need::AcuteSymptoms, Urgency::Emergency, false),
            &predict(Need::AcuteSymptoms, 0.9, 0.01),
        );
        assert_eq!(c.urgency, Urgency::Emergency);
        assert!(!c.model_raised && !c.needs_triage);
        let c = run(
            rules(Need::AcuteSymptoms, Urgency::Urgent, false),
            &predict(Need::AcuteSymptoms, 0.9, 0.1),
        );
        assert_eq!(c.urgency, Urgency::Urgent);
        assert!(c.evidence.is_empty(), "{:?}", c.evidence);
    }

    #[test]
    fn the_model_names_the_need_only_when_the_rules_abstain_and_it_is_confident() {
        let c = run(
            rules(Need::AcuteSymptoms, Urgency::Soon, true),
            &predict(Need::OralHealth, 0.8, 0.0),
        );
        assert_eq!(c.needs[0].need, Need::OralHealth);
        assert!(!c.needs_triage);
        let c = run(
            rules(Need::AcuteSymptoms, Urgency::Soon, true),
            &predict(Need::OralHealth, 0.4, 0.0),
        );
        assert_eq!(c.needs[0].need, Need::ServiceGuidance);
        assert!(c.needs_triage);
        assert_eq!(c.suggestions[0].need, Need::OralHealth);
    }

    #[test]
    fn a_confident_disagreement_asks_for_triage_and_keeps_the_rules_need() {
        let c = run(
            rules(Need::ChildWelfare, Urgency::Urgent, false),
            &predict(Need::AcuteSymptoms, 0.85, 0.0),
        );
        assert_eq!(c.needs[0].need, Need::ChildWelfare);
        assert!(c.needs_triage);
        assert_eq!(c.suggestions[0].need, Need::AcuteSymptoms);
        // An unconfident one changes nothing.
        let c = run(
            rules(Need::ChildWelfare, Urgency::Urgent, false),
            &predict(Need::AcuteSymptoms, 0.5, 0.0),
        );
        assert!(!c.needs_triage && c.suggestions.is_empty());
    }
}
