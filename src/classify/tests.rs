//! Unit tests of the classifier against the shipped data in `config/classifier`: the rules
//! alone (the combination with the trained model is tested in `combine.rs`, and the shipped
//! model at the end of this file).

use std::path::Path;

use super::*;

fn clf() -> Classifier {
    Classifier::load_with(Path::new("config/classifier"), ModelMode::Off)
        .expect("shipped data loads")
}

fn text(t: &str) -> Classification {
    clf().classify(&Input {
        text: t,
        ..Input::default()
    })
}

#[test]
fn loads_shipped_data() {
    let c = text("minulla on hammassärkyä");
    assert_eq!(c.needs[0].need, Need::OralHealth);
}

fn top(t: &str) -> Need {
    text(t).needs[0].need
}

#[test]
fn inflected_forms_and_gradation_match() {
    for t in [
        "rintakipu",
        "rintakipua",
        "rintakivun takia soitan",
        "rintakipuja",
    ] {
        assert_eq!(text(t).urgency, Urgency::Emergency, "{t}");
    }
    assert_eq!(top("tandvärken är hemsk"), Need::OralHealth);
    assert_eq!(top("vaccinations for my kids"), Need::Vaccination);
}

#[test]
fn compounds_match_their_parts() {
    let c = text("viisaudenhampaan takia soitan");
    assert_eq!(c.needs[0].need, Need::OralHealth);
    let c = text("hammassärky");
    assert_eq!(c.needs[0].need, Need::OralHealth);
    assert!(c.evidence.iter().any(|e| e.detail.starts_with("fi:hammas")));
}

#[test]
fn typos_are_tolerated() {
    assert_eq!(text("rintakpiua").urgency, Urgency::Emergency);
    assert_eq!(top("prescripton renewal please"), Need::Medication);
    let c = text("vacine please");
    assert!(
        c.evidence.iter().any(|e| e.detail.contains("[typo]")),
        "{c:?}"
    );
}

#[test]
fn missing_diacritics_are_folded() {
    assert_eq!(top("paansarky ja kuumetta"), Need::AcuteSymptoms);
    assert_eq!(
        text("brostsmarta sedan en timme").urgency,
        Urgency::Emergency
    );
}

#[test]
fn negation_keeps_red_flags_off() {
    for t in [
        "ei rintakipua, mutta yskää",
        "inte bröstsmärta, men hosta",
        "no chest pain, just a cough",
        "Ei ole ollut rintakipua",
    ] {
        let c = text(t);
        assert_ne!(c.urgency, Urgency::Emergency, "{t}: {c:?}");
        assert!(c.red_flags.is_empty(), "{t}");
    }
    // A negation in another clause does not cancel the red flag.
    assert_eq!(
        text("en tiedä mitä tehdä, rintakipua on ollut tunnin").urgency,
        Urgency::Emergency
    );
}

#[test]
fn past_red_flag_is_not_an_emergency() {
    let c = text("Minulla oli aivoinfarkti vuosia sitten, nyt tarvitsisin fysioterapiaa");
    assert_ne!(c.urgency, Urgency::Emergency);
    assert_eq!(c.needs[0].need, Need::Rehabilitation);
}

#[test]
fn hints_alone_route() {
    let c = clf().classify(&Input {
        text: "",
        form_category: Some(Need::Medication),
        ..Input::default()
    });
    assert_eq!(c.needs[0].need, Need::Medication);
    assert!(!c.needs_triage);
    assert!(c.evidence.iter().any(|e| e.kind == EvidenceKind::Hint));
}

#[test]
fn low_confidence_goes_to_triage_with_suggestions() {
    let c = text("Hei, voisitteko soittaa");
    assert_eq!(c.needs[0].need, Need::ServiceGuidance);
    assert!(c.needs_triage);
    let c = text("sattuu vähän");
    assert!(c.needs_triage);
    assert!(c.suggestions.iter().any(|s| s.need == Need::AcuteSymptoms));
    assert!(c.evidence.iter().any(|e| e.kind == EvidenceKind::Fallback));
}

#[test]
fn several_needs_are_reported() {
    let c = text("Vauva itkee koko ajan ja rahat on ihan loppu, vuokrakin maksamatta");
    let needs = c.need_codes();
    assert!(needs.contains(&Need::FamilyServices), "{needs:?}");
    assert!(needs.contains(&Need::SocialSupport), "{needs:?}");
}

#[test]
fn urgent_rules_fire() {
    let c = text("3-vuotiaalla kuume 40 eikä laske panadolilla");
    assert_eq!(c.urgency, Urgency::Urgent);
    assert!(c.evidence.iter().any(|e| e.kind == EvidenceKind::Rule));
    assert_eq!(
        text("I have suicidal thoughts but no plan").urgency,
        Urgency::Urgent
    );
    assert_eq!(
        text("I have suicidal thoughts and a plan for tonight").urgency,
        Urgency::Emergency
    );
}

#[test]
fn language_is_detected() {
    assert_eq!(text("Jag har ont i magen").language, Language::Swedish);
    assert_eq!(text("I have a sore throat").language, Language::English);
    assert_eq!(text("Minulla on kurkku kipeä").language, Language::Finnish);
}

#[test]
fn evidence_never_echoes_free_text() {
    let c = text("Matti Meikäläinen, rintakipua ja hengenahdistusta");
    for e in &c.evidence {
        assert!(!e.detail.to_lowercase().contains("matti"), "{e:?}");
    }
}

#[test]
fn broken_data_file_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "fi.toml",
        "sv.toml",
        "en.toml",
        "rules.toml",
        "model.toml",
        "model.bin",
    ] {
        std::fs::copy(Path::new("config/classifier").join(f), dir.path().join(f)).unwrap();
    }
    let path = dir.path().join("rules.toml");
    let mut src = std::fs::read_to_string(&path).unwrap();
    src.push_str("\n[[rule]]\nid = \"broken\"\nall = [\"child\"\nurgency = \"urgent\"\n");
    let broken_line = src.lines().count() - 1;
    std::fs::write(&path, &src).unwrap();
    match Classifier::load(dir.path()) {
        Err(ClassifyError::Data { path, line, .. }) => {
            assert!(path.ends_with("rules.toml"), "{path}");
            assert!(
                (broken_line..=broken_line + 1).contains(&line),
                "line {line}, expected about {broken_line}"
            );
        }
        other => panic!("expected a data error, got {other:?}"),
    }
    // An unknown need code is a data error too, with its line.
    std::fs::copy("config/classifier/rules.toml", &path).unwrap();
    let fi = dir.path().join("fi.toml");
    let src = std::fs::read_to_string(&fi).unwrap().replace(
        "need = \"oral_health\", weight = 2.0",
        "need = \"teeth\", weight = 2.0",
    );
    std::fs::write(&fi, &src).unwrap();
    let want = src.lines().position(|l| l.contains("\"teeth\"")).unwrap() + 1;
    match Classifier::load(dir.path()) {
        Err(ClassifyError::Data { line, .. }) => assert_eq!(line, want),
        other => panic!("expected a data error, got {other:?}"),
    }
}

#[test]
fn classifier_is_shareable() {
    fn assert_send_sync<T: Clone + Send + Sync>() {}
    assert_send_sync::<Classifier>();
}

#[test]
fn near_rules_need_the_words_close_together() {
    // Chest and pressure in either order, a few words apart, in one sentence.
    for t in [
        "painon tunnetta rinnassa ja hengästyttää",
        "rinnassa on ollut painava tunne",
        "Heavy pressure on my chest",
    ] {
        assert_eq!(text(t).urgency, Urgency::Emergency, "{t}");
    }
    // Pressure in the head, or the words in different sentences: no red flag.
    for t in [
        "painon tunnetta päässä flunssan jälkeen",
        "Rinta on kunnossa. Päätä painaa flunssan jälkeen koko ajan",
        "ei puristusta rinnassa, vain yskää",
    ] {
        assert_ne!(text(t).urgency, Urgency::Emergency, "{t}");
    }
}

#[test]
fn free_order_forms_match_either_way() {
    for t in ["lopetan tän elämän tänä yönä", "elämän lopetan tänä yönä"] {
        assert_eq!(text(t).urgency, Urgency::Emergency, "{t}");
    }
    assert_ne!(
        text("koira jouduttiin lopettamaan tänä yönä").urgency,
        Urgency::Emergency
    );
}

#[test]
fn the_shipped_model_raises_what_the_rules_missed_and_says_why() {
    let c = Classifier::load(Path::new("config/classifier")).expect("shipped model loads");
    assert!(c.signal().is_some());
    // Messages from the issue that the rules alone read as routine or soon.
    for t in [
        "Rintaan sattuu ja vasen käsi puutuu, hengitys ahdistaa",
        "My dad fell and hit his head, now he is confused and vomiting",
        "En jaksa enää… enkä näe mitään syytä jatkaa",
    ] {
        let out = c.classify(&Input {
            text: t,
            ..Input::default()
        });
        assert_eq!(out.urgency, Urgency::Emergency, "{t}");
        if out.model_raised {
            assert!(out.needs_triage);
            let model: Vec<&Evidence> = out
                .evidence
                .iter()
                .filter(|e| e.kind == EvidenceKind::Model && e.supports == "emergency")
                .collect();
            assert!(model.len() >= 2, "{t}: {model:?}");
            // Evidence names words of the text, never more than a word pair of it.
            for e in &model[1..] {
                assert!(
                    e.detail.starts_with("word")
                        || e.detail.starts_with("words")
                        || e.detail.starts_with("negated"),
                    "{e:?}"
                );
                assert!(e.detail.split('"').nth(1).unwrap().split(' ').count() <= 2);
            }
        }
    }
    // The model off: the rules alone.
    let off = Classifier::load_with(Path::new("config/classifier"), ModelMode::Off).unwrap();
    assert!(off.signal().is_none());
}

#[test]
fn a_broken_model_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "fi.toml",
        "sv.toml",
        "en.toml",
        "rules.toml",
        "model.toml",
        "model.bin",
    ] {
        std::fs::copy(Path::new("config/classifier").join(f), dir.path().join(f)).unwrap();
    }
    let bin = dir.path().join("model.bin");
    let mut bytes = std::fs::read(&bin).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&bin, &bytes).unwrap();
    match Classifier::load(dir.path()) {
        Err(e @ ClassifyError::Model { .. }) => assert!(e.to_string().contains("model.bin"), "{e}"),
        other => panic!("expected a model error, got {other:?}"),
    }
    // Off does not read the model at all.
    assert!(Classifier::load_with(dir.path(), ModelMode::Off).is_ok());
    std::fs::remove_file(&bin).unwrap();
    match Classifier::load(dir.path()) {
        Err(e @ ClassifyError::Io { .. }) => assert!(e.to_string().contains("model.bin"), "{e}"),
        other => panic!("expected a read error, got {other:?}"),
    }
}
