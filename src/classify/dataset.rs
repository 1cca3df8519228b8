//! Labelled contacts in JSON lines (`tests/data/*.jsonl`): what `luotsi train` learns from and
//! what `luotsi eval` measures. Lines starting with `#` are comments (a batch's header saying
//! who wrote it and what they had seen); blank lines are skipped; fields beyond the labels
//! (`voice`, `near_miss`, …) are accepted and the ones the reports use are kept.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::{ClassifyError, Input};
use crate::domain::{Channel, Language, Need, Urgency};

/// One labelled contact.
#[derive(Debug, Clone, Deserialize)]
pub struct Labelled {
    pub text: String,
    pub channel: Option<Channel>,
    pub lang: Language,
    pub form_category: Option<Need>,
    pub phone_menu: Option<Need>,
    pub age: Option<u32>,
    pub need: Need,
    /// Secondary needs.
    #[serde(default)]
    pub also: Vec<Need>,
    pub urgency: Urgency,
    /// Who the writer was speaking as (voices files).
    #[serde(default)]
    pub voice: Option<String>,
    /// Written to look like an emergency without being one (voices files).
    #[serde(default)]
    pub near_miss: Option<bool>,
}

impl Labelled {
    /// The contact as the classifier sees it: the citizen's language is not given, as in the
    /// evaluation since the start, so language detection is measured too.
    pub fn input(&self) -> Input<'_> {
        Input {
            text: &self.text,
            channel: self.channel,
            form_category: self.form_category,
            phone_menu: self.phone_menu,
            language: None,
            age: self.age,
            municipality: None,
        }
    }
}

/// The files of one data set, read in a fixed order.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub files: Vec<PathBuf>,
    pub items: Vec<Labelled>,
    /// SHA-256 over each file's name and its data lines (comments and blank lines left out),
    /// in file order: names what the model was trained on.
    pub sha256: String,
}

/// The training files under `data_dir` (normally `tests/data`): the tune and held-out sets and
/// every `voices/*.jsonl`, in name order. Never a file whose name says `blind`.
pub fn training_files(data_dir: &Path) -> Result<Vec<PathBuf>, ClassifyError> {
    let mut files = vec![
        data_dir.join("classify_tune.jsonl"),
        data_dir.join("classify_heldout.jsonl"),
    ];
    let voices = data_dir.join("voices");
    if voices.is_dir() {
        let mut more: Vec<PathBuf> = std::fs::read_dir(&voices)
            .map_err(|source| ClassifyError::Io {
                path: voices.display().to_string(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
            .collect();
        more.sort();
        files.extend(more);
    }
    Ok(files)
}

/// Whether a path names a blind evaluation file, which training must never read.
pub fn is_blind(path: &Path) -> bool {
    path.components().any(|c| {
        c.as_os_str()
            .to_string_lossy()
            .to_lowercase()
            .contains("blind")
    })
}

/// Reads one labelled file.
pub fn load_file(path: &Path) -> Result<Vec<Labelled>, ClassifyError> {
    Ok(read(path)?.0)
}

fn read(path: &Path) -> Result<(Vec<Labelled>, Vec<String>), ClassifyError> {
    let src = std::fs::read_to_string(path).map_err(|source| ClassifyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let mut items = Vec::new();
    let mut lines = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // serde_json's message names the field and column, not the value.
        let item: Labelled = serde_json::from_str(t).map_err(|e| ClassifyError::Data {
            path: path.display().to_string(),
            line: i + 1,
            message: e.to_string(),
        })?;
        items.push(item);
        lines.push(t.to_string());
    }
    Ok((items, lines))
}

/// Reads the files in order, refusing any blind file.
pub fn load(files: &[PathBuf]) -> Result<DataSet, ClassifyError> {
    let mut hash = Sha256::new();
    let mut items = Vec::new();
    for f in files {
        if is_blind(f) {
            return Err(ClassifyError::Model {
                path: f.display().to_string(),
                message: "a blind evaluation file is never training data".into(),
            });
        }
        let (mut more, lines) = read(f)?;
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        hash.update(name.as_bytes());
        hash.update(b"\n");
        for l in &lines {
            hash.update(l.as_bytes());
            hash.update(b"\n");
        }
        items.append(&mut more);
    }
    Ok(DataSet {
        files: files.to_vec(),
        items,
        sha256: hex::encode(hash.finalize()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_and_extra_fields_are_accepted_and_blind_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.jsonl");
        std::fs::write(
            &f,
            concat!(
                "# written by a nurse who had seen nothing of the engine\n",
                "\n",
                r#"{"text": "hammasta särkee", "channel": "chat", "lang": "fi", "need": "oral_health", "urgency": "soon", "voice": "elderly", "near_miss": false}"#,
                "\n",
            ),
        )
        .unwrap();
        let set = load(std::slice::from_ref(&f)).unwrap();
        assert_eq!(set.items.len(), 1);
        assert_eq!(set.items[0].voice.as_deref(), Some("elderly"));
        // A comment changes nothing the model learns from, so not the hash either.
        std::fs::write(
            &f,
            std::fs::read_to_string(&f)
                .unwrap()
                .replace("a nurse", "someone"),
        )
        .unwrap();
        assert_eq!(load(std::slice::from_ref(&f)).unwrap().sha256, set.sha256);

        let blind = dir.path().join("classify_blind.jsonl");
        std::fs::copy(&f, &blind).unwrap();
        assert!(matches!(load(&[blind]), Err(ClassifyError::Model { .. })));

        std::fs::write(&f, "{\"text\": \"x\", \"lang\": \"fi\"}\n").unwrap();
        match load(&[f]) {
            Err(ClassifyError::Data { line, .. }) => assert_eq!(line, 1),
            other => panic!("expected a data error, got {other:?}"),
        }
    }
}
