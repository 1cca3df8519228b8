//! Batch classification of JSON lines (the `luotsi classify` subcommand): one JSON object in,
//! one out, in order. A bad line yields an error object and the batch goes on; it never
//! echoes the citizen's text back. Lines starting with `#` are comments (the labelled data
//! files say there who wrote each batch) and, like blank lines, yield nothing; fields the
//! classifier does not read (`need`, `urgency`, `voice`, `near_miss`) are ignored.

use std::io::{self, BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{Classifier, Evidence, Input, NeedScore};
use crate::domain::{Channel, Language, Need, Urgency};

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    text: String,
    channel: Option<Channel>,
    lang: Option<Language>,
    form_category: Option<Need>,
    phone_menu: Option<Need>,
    age: Option<u32>,
    municipality: Option<String>,
}

#[derive(Serialize)]
struct Out<'a> {
    line: usize,
    needs: &'a [NeedScore],
    urgency: Urgency,
    red_flags: &'a [String],
    language: Language,
    needs_triage: bool,
    suggestions: &'a [NeedScore],
    evidence: &'a [Evidence],
}

#[derive(Serialize)]
struct Failed {
    line: usize,
    error: String,
}

/// Classifies each JSON line of `reader` and writes one JSON line per input to `writer`.
/// Blank lines and `#` comments are skipped. Returns how many lines were classified.
pub fn classify_jsonl(
    reader: impl BufRead,
    mut writer: impl Write,
    classifier: &Classifier,
) -> io::Result<usize> {
    let mut ok = 0;
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        let n = i + 1;
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(l) => {
                let c = classifier.classify(&Input {
                    text: &l.text,
                    channel: l.channel,
                    form_category: l.form_category,
                    phone_menu: l.phone_menu,
                    language: l.lang,
                    age: l.age,
                    municipality: l.municipality.as_deref(),
                });
                let out = Out {
                    line: n,
                    needs: &c.needs,
                    urgency: c.urgency,
                    red_flags: &c.red_flags,
                    language: c.language,
                    needs_triage: c.needs_triage,
                    suggestions: &c.suggestions,
                    evidence: &c.evidence,
                };
                serde_json::to_writer(&mut writer, &out)?;
                ok += 1;
            }
            Err(e) => {
                // serde_json's message names the field and column, not the value.
                serde_json::to_writer(
                    &mut writer,
                    &Failed {
                        line: n,
                        error: e.to_string(),
                    },
                )?;
            }
        }
        writer.write_all(b"\n")?;
    }
    writer.flush()?;
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn classifies_lines_and_reports_bad_ones() {
        let c = Classifier::load(Path::new("config/classifier")).unwrap();
        let input = concat!(
            "# Writer W1, had seen nothing of the engine\n",
            r#"{"text": "rintakipua nyt", "channel": "phone", "lang": "fi", "need": "acute_symptoms", "voice": "elderly", "near_miss": false}"#,
            "\n",
            "this is not json\n",
            "\n",
            r#"{"text": "", "channel": "e_service", "form_category": "oral_health"}"#,
            "\n",
            r#"{"text": "x", "channel": "fax"}"#,
            "\n",
        );
        let mut out = Vec::new();
        let n = classify_jsonl(input.as_bytes(), &mut out, &c).unwrap();
        assert_eq!(n, 2);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["urgency"], "emergency");
        assert_eq!(lines[0]["needs"][0]["need"], "acute_symptoms");
        assert_eq!(lines[0]["red_flags"][0], "chest_pain");
        assert!(lines[0]["evidence"].as_array().unwrap().len() >= 2);
        assert_eq!(lines[1]["line"], 3);
        assert!(lines[1]["error"].is_string());
        assert_eq!(lines[2]["needs"][0]["need"], "oral_health");
        assert_eq!(lines[3]["line"], 6);
        assert!(lines[3]["error"].as_str().unwrap().contains("fax"));
    }
}
