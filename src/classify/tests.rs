//! Unit tests of the classifier against the shipped data in `config/classifier`.

use std::path::Path;

use super::*;

fn clf() -> Classifier {
    Classifier::load(Path::new("config/classifier")).expect("shipped data loads")
}

fn text(t: &str) -> Classification {
    clf().classify(&Input {
        text: t,
        ..Input::default()
    })
}

#[test]
#[ignore = "debug aid: prints the stemmed keys"]
fn dump_keys() {
    let c = clf();
    for v in &c.model.variants {
        let words: Vec<&str> = v.words.iter().map(|k| &*k.text).collect();
        println!("{} => {:?}", c.model.terms[v.term as usize].id, words);
    }
}

#[test]
fn loads_shipped_data() {
    let c = text("minulla on hammassärkyä");
    assert_eq!(c.needs[0].need, Need::OralHealth);
}

#[test]
#[ignore = "debug aid: LUOTSI_DEBUG_TEXT=... prints token matches"]
fn debug_text() {
    let t = std::env::var("LUOTSI_DEBUG_TEXT").unwrap_or_default();
    for line in engine::debug_matches(&clf().model, &t) {
        println!("{line}");
    }
}
