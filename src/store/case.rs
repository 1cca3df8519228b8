//! The case hash: the one place that knows its field names. A new case is encoded from its
//! plan; a stored case decodes into a typed record, and a damaged or missing field is a typed
//! error, never a panic or an empty string. (The Lua scripts spell the same names.)

use std::collections::HashMap;

use crate::domain::deadline::Marks;
use crate::domain::intake::CasePlan;
use crate::domain::{CaseStatus, Channel, Language, Need, Outcome, Profession, Urgency};

use super::StoreError;

/// Field names of `case:<case>`.
pub(crate) mod field {
    pub const STATUS: &str = "status";
    pub const CHANNEL: &str = "channel";
    pub const NEEDS: &str = "needs";
    pub const URGENCY: &str = "urgency";
    pub const URGENCY_RANK: &str = "urgency_rank";
    pub const LANGUAGE: &str = "language";
    pub const TEAM: &str = "team";
    pub const QUEUE: &str = "queue";
    pub const SUB_QUEUE: &str = "sub_queue";
    pub const PROFESSIONS: &str = "professions";
    pub const SCORE: &str = "score";
    pub const DEADLINE: &str = "deadline";
    pub const DEADLINE_RULE: &str = "deadline_rule";
    pub const DEADLINE_LAW: &str = "deadline_law";
    pub const STATUTORY_DEADLINE: &str = "statutory_deadline";
    pub const STATUTORY_RULE: &str = "statutory_rule";
    pub const STATUTORY_LAW: &str = "statutory_law";
    /// What the statutory limit was counted from (SetUrgency counts it again).
    pub const AGE: &str = "age";
    pub const MARKS: &str = "marks";
    pub const CREATED: &str = "created";
    pub const LANGUAGE_WAIT_UNTIL: &str = "language_wait_until";
    pub const CITIZEN: &str = "citizen";
    pub const DECLINED: &str = "declined";
    pub const ACTIVE_CONTACTS: &str = "active_contacts";
    pub const OWN_PROFESSIONAL: &str = "own_professional";
    pub const OWN_PROFESSIONAL_UNTIL: &str = "own_professional_until";
    pub const OVERFLOW_TEAMS: &str = "overflow_teams";
    pub const OVERFLOW_AT: &str = "overflow_at";
    pub const REASONS: &str = "reasons";
    pub const CLASSIFICATION: &str = "classification";
    pub const TEXT: &str = "text";
    pub const CALLBACK_NUMBER: &str = "callback_number";
    /// The data keys the case's words are sealed with (`seal.rs`), comma-separated: its first
    /// contact's day, then the day of each joined contact whose classification is sealed.
    pub const SEAL: &str = "seal";
    pub const HOLDER: &str = "holder";
    /// SHA-256 hashes of the case access tokens handed out, comma-separated (submit.lua).
    pub const ACCESS_HASHES: &str = "access_hashes";
    pub const OUTCOME: &str = "outcome";
    pub const INTERPRETER_NEEDED: &str = "interpreter_needed";
    pub const LINKED: &str = "linked";
    pub const RECONTACT: &str = "recontact";
    pub const CALLBACK_OFFERED: &str = "callback_offered";
    /// When the holder's presence lease lapsed while the case was in progress; cleared when
    /// they reconnect, hand it over or close it, or a supervisor takes it back.
    pub const HOLDER_DISCONNECTED: &str = "holder_disconnected";
    /// By when a person should have looked at the case (ms); the classification is provisional
    /// until `triage_confirmed` (ms) is set, by `triage_confirmed_by`.
    pub const FIRST_LOOK_DUE: &str = "first_look_due";
    /// The chosen call-back window (ms); offered to nobody before `retry_at` (its start).
    pub const WINDOW_FROM: &str = "window_from";
    pub const WINDOW_TO: &str = "window_to";
    pub const RETRY_AT: &str = "retry_at";
    pub const TRIAGE_CONFIRMED: &str = "triage_confirmed";
    pub const TRIAGE_CONFIRMED_BY: &str = "triage_confirmed_by";
    /// `consult:<professional>`: a consultation asked of a colleague, and its state.
    pub const CONSULT_PREFIX: &str = "consult:";
    /// The case's first contact (contacts joined later are in `case:<id>:contacts`).
    pub const CONTACT: &str = "contact";

    /// The fields kept in `case:<id>:words`, not in the case hash: values that may be longer
    /// than Redis's compact-hash limit (64 bytes). `submit.lua` and `WORDS` in the prelude
    /// split by the same list (a unit test holds them to it).
    #[allow(dead_code)]
    pub const WORDS: [&str; 6] = [
        TEXT,
        CALLBACK_NUMBER,
        CLASSIFICATION,
        REASONS,
        LINKED,
        ACCESS_HASHES,
    ];
}

/// A new case, ready to be written: the plan and what the contact carries.
#[derive(Debug, Clone)]
pub struct NewCase<'a> {
    pub plan: &'a CasePlan,
    pub contact_id: String,
    pub case_id: String,
    pub idempotency_key: &'a str,
    pub idempotency_ttl_secs: u64,
    /// Pseudonym linking the citizen's contacts; None when anonymous.
    pub citizen: Option<&'a str>,
    /// prost-encoded `pb::Classification`, shown back to whoever reads the case.
    pub classification: Vec<u8>,
    pub text: &'a str,
    pub callback_number: Option<&'a str>,
    /// SHA-256 (hex) of the case access token answered to this contact.
    pub access_hash: &'a str,
    /// By when a person should have confirmed the classification (ms).
    pub first_look_due_ms: i64,
    /// The citizen's newest open case the plan assumed (`Some(None)`: none); `None` when the
    /// plan did not consult it (an anonymous contact, or one naming its own team). The submit
    /// script checks it and asks for a new plan when it is not what is stored.
    pub open_case: Option<Option<crate::domain::intake::OpenCase>>,
}

impl NewCase<'_> {
    /// The case hash as `submit.lua` writes it.
    pub(crate) fn fields(&self) -> Vec<(&'static str, Vec<u8>)> {
        use field::*;
        let p = self.plan;
        let s = |v: &str| v.as_bytes().to_vec();
        let n = |v: i64| v.to_string().into_bytes();
        let join = |it: &mut dyn Iterator<Item = String>| it.collect::<Vec<_>>().join(",");
        let mut f = vec![
            (STATUS, s(CaseStatus::Queued.code())),
            (CHANNEL, s(p.channel.code())),
            (
                NEEDS,
                s(&join(&mut p.needs.iter().map(|n| n.code().into()))),
            ),
            (URGENCY, s(p.urgency.code())),
            (URGENCY_RANK, n(p.urgency.rank().into())),
            (LANGUAGE, s(p.language.code())),
            (TEAM, s(&p.team)),
            (QUEUE, s(&p.queue)),
            (SUB_QUEUE, s(&p.sub_queue)),
            // Comma-delimited on both sides so that Lua can look for `,<profession>,`.
            (
                PROFESSIONS,
                s(&format!(
                    ",{},",
                    join(&mut p.professions.iter().map(|p| p.code().into()))
                )),
            ),
            (SCORE, s(&p.score.to_string())),
            (DEADLINE, n(p.deadline.at.timestamp_millis())),
            (DEADLINE_RULE, s(&p.deadline.name)),
            (DEADLINE_LAW, s(p.deadline.law.unwrap_or(""))),
            (CREATED, n(p.created_ms)),
            (LANGUAGE_WAIT_UNTIL, n(p.language_wait_until_ms)),
            (CITIZEN, s(self.citizen.unwrap_or(""))),
            (DECLINED, s(",")),
            (ACTIVE_CONTACTS, s("1")),
            (
                STATUTORY_DEADLINE,
                p.statutory
                    .as_ref()
                    .map(|d| n(d.at.timestamp_millis()))
                    .unwrap_or_default(),
            ),
            (
                STATUTORY_RULE,
                s(p.statutory.as_ref().map_or("", |d| &d.name)),
            ),
            (
                STATUTORY_LAW,
                s(p.statutory.as_ref().and_then(|d| d.law).unwrap_or("")),
            ),
            (AGE, s(&p.age.map(|a| a.to_string()).unwrap_or_default())),
            (MARKS, s(&p.marks.codes())),
            (
                OWN_PROFESSIONAL,
                s(p.continuity.as_ref().map_or("", |c| &c.professional)),
            ),
            (
                OWN_PROFESSIONAL_UNTIL,
                n(p.continuity.as_ref().map_or(0, |c| c.until_ms)),
            ),
            (
                OVERFLOW_TEAMS,
                s(&join(&mut p.overflow.iter().map(|o| o.team.clone()))),
            ),
            (
                OVERFLOW_AT,
                s(&join(&mut p.overflow.iter().map(|o| o.at_ms.to_string()))),
            ),
            (REASONS, s(&p.reasons.join("\n"))),
            (CLASSIFICATION, self.classification.clone()),
            (TEXT, s(self.text)),
            (FIRST_LOOK_DUE, n(self.first_look_due_ms)),
        ];
        if let Some(number) = self.callback_number {
            f.push((CALLBACK_NUMBER, s(number)));
        }
        if let Some((from, to)) = p.window {
            f.push((WINDOW_FROM, n(from)));
            f.push((WINDOW_TO, n(to)));
            if from > p.created_ms {
                f.push((RETRY_AT, n(from)));
            }
        }
        f
    }
}

/// A statutory limit shown with a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statutory {
    pub at_ms: i64,
    pub rule: String,
    /// The section of law it comes from.
    pub law: String,
}

/// A case as stored, typed.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub id: String,
    pub status: CaseStatus,
    pub channel: Channel,
    /// Best first.
    pub needs: Vec<Need>,
    pub urgency: Urgency,
    pub language: Language,
    pub team: String,
    pub queue: String,
    pub sub_queue: String,
    pub professions: Vec<Profession>,
    pub deadline_ms: i64,
    pub deadline_rule: String,
    pub deadline_law: String,
    pub statutory: Option<Statutory>,
    /// The citizen's age on the day of the contact, when known.
    pub age: Option<u32>,
    pub marks: Marks,
    pub created_ms: i64,
    pub reasons: Vec<String>,
    /// prost-encoded `pb::Classification`.
    pub classification: Vec<u8>,
    pub holder: Option<String>,
    pub outcome: Option<Outcome>,
    pub interpreter_needed: bool,
    pub linked_cases: Vec<String>,
    pub recontact: bool,
    pub callback_offered: bool,
    /// `(colleague, state)` of each consultation, sorted by colleague.
    pub consultations: Vec<(String, String)>,
    /// The citizen's words, until the case closes.
    pub text: Option<String>,
    pub callback_number: Option<String>,
    /// Hashes of the case's access tokens.
    pub access_hashes: Vec<String>,
    /// Contact ids joined to the case, sorted.
    pub contacts: Vec<String>,
    pub first_look_due_ms: Option<i64>,
    /// The call-back window the citizen chose, if any (ms).
    pub window: Option<(i64, i64)>,
    /// When and by whom the classification was confirmed; None while it is provisional.
    pub triage_confirmed: Option<(i64, String)>,
    /// 0-based place in its sub-queue while queued.
    pub position: Option<u64>,
    /// Professionals available on its channel in its team (while queued).
    pub available: u64,
}

/// Decodes fields of one hash, naming what is missing or damaged.
pub(crate) struct Fields<'a> {
    what: &'static str,
    map: &'a HashMap<String, Vec<u8>>,
}

impl<'a> Fields<'a> {
    pub(crate) fn new(what: &'static str, map: &'a HashMap<String, Vec<u8>>) -> Self {
        Self { what, map }
    }

    /// A field that may be absent or empty.
    pub(crate) fn opt(&self, k: &str) -> Result<Option<&'a str>, StoreError> {
        match self.map.get(k) {
            None => Ok(None),
            Some(v) if v.is_empty() => Ok(None),
            Some(v) => std::str::from_utf8(v)
                .map(Some)
                .map_err(|_| self.damaged(k)),
        }
    }

    pub(crate) fn text(&self, k: &str) -> Result<&'a str, StoreError> {
        self.opt(k)?.ok_or_else(|| self.damaged(k))
    }

    pub(crate) fn parse<T: std::str::FromStr>(&self, k: &str) -> Result<T, StoreError> {
        self.text(k)?.parse().map_err(|_| self.damaged(k))
    }

    pub(crate) fn parse_opt<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>, StoreError> {
        self.opt(k)?
            .map(|v| v.parse().map_err(|_| self.damaged(k)))
            .transpose()
    }

    pub(crate) fn flag(&self, k: &str) -> Result<bool, StoreError> {
        Ok(self.opt(k)? == Some("1"))
    }

    /// A comma-separated list of codes, empty entries left out.
    pub(crate) fn list<T: std::str::FromStr>(&self, k: &str) -> Result<Vec<T>, StoreError> {
        self.opt(k)?
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|v| v.parse().map_err(|_| self.damaged(k)))
            .collect()
    }

    pub(crate) fn bytes(&self, k: &str) -> Vec<u8> {
        self.map.get(k).cloned().unwrap_or_default()
    }

    fn damaged(&self, k: &str) -> StoreError {
        StoreError::Corrupt(format!("{} field `{k}`", self.what))
    }
}

impl CaseRecord {
    /// What a change of urgency or a first look decides on.
    pub fn steering_facts(&self) -> crate::domain::steering::CaseFacts<'_> {
        crate::domain::steering::CaseFacts {
            needs: &self.needs,
            channel: self.channel,
            urgency: self.urgency,
            created: chrono::DateTime::from_timestamp_millis(self.created_ms)
                .unwrap_or_else(crate::clock::now),
            deadline_ms: self.deadline_ms,
            deadline_rule: &self.deadline_rule,
            deadline_law: &self.deadline_law,
            age: self.age,
            marks: self.marks,
            queue: &self.queue,
            sub_queue: &self.sub_queue,
        }
    }

    /// Decodes a stored case (both hashes, merged); `contacts` are the ids joined to it
    /// after the first.
    pub(crate) fn decode(
        id: &str,
        map: &HashMap<String, Vec<u8>>,
        mut contacts: Vec<String>,
    ) -> Result<Self, StoreError> {
        use field::*;
        let f = Fields::new("case", map);
        if let Some(first) = f.opt(CONTACT)?
            && !contacts.iter().any(|c| c == first)
        {
            contacts.push(first.to_string());
        }
        contacts.sort();
        let mut consultations: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(CONSULT_PREFIX)
                    .map(|p| (p.to_string(), String::from_utf8_lossy(v).into_owned()))
            })
            .collect();
        consultations.sort();
        Ok(CaseRecord {
            id: id.to_string(),
            status: f.parse(STATUS)?,
            channel: f.parse(CHANNEL)?,
            needs: f.list(NEEDS)?,
            urgency: f.parse(URGENCY)?,
            language: f.parse(LANGUAGE)?,
            team: f.text(TEAM)?.to_string(),
            queue: f.text(QUEUE)?.to_string(),
            sub_queue: f.text(SUB_QUEUE)?.to_string(),
            professions: f.list(PROFESSIONS)?,
            deadline_ms: f.parse(DEADLINE)?,
            deadline_rule: f.opt(DEADLINE_RULE)?.unwrap_or("").to_string(),
            deadline_law: f.opt(DEADLINE_LAW)?.unwrap_or("").to_string(),
            statutory: match f.parse_opt::<i64>(STATUTORY_DEADLINE)? {
                Some(at_ms) if at_ms > 0 => Some(Statutory {
                    at_ms,
                    rule: f.opt(STATUTORY_RULE)?.unwrap_or("").to_string(),
                    law: f.opt(STATUTORY_LAW)?.unwrap_or("").to_string(),
                }),
                _ => None,
            },
            age: f.parse_opt(AGE)?,
            marks: Marks::from_codes(f.opt(MARKS)?.unwrap_or("")),
            created_ms: f.parse(CREATED)?,
            reasons: f
                .opt(REASONS)?
                .unwrap_or("")
                .lines()
                .map(String::from)
                .collect(),
            classification: f.bytes(CLASSIFICATION),
            holder: f.opt(HOLDER)?.map(String::from),
            outcome: f.parse_opt(OUTCOME)?,
            interpreter_needed: f.flag(INTERPRETER_NEEDED)?,
            linked_cases: f.list(LINKED)?,
            recontact: f.flag(RECONTACT)?,
            callback_offered: f.opt(CALLBACK_OFFERED)?.is_some(),
            consultations,
            text: f.opt(TEXT)?.map(String::from),
            callback_number: f.opt(CALLBACK_NUMBER)?.map(String::from),
            access_hashes: f
                .opt(ACCESS_HASHES)?
                .unwrap_or("")
                .split(',')
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect(),
            contacts,
            first_look_due_ms: f.parse_opt(FIRST_LOOK_DUE)?,
            window: f.parse_opt(WINDOW_FROM)?.zip(f.parse_opt(WINDOW_TO)?),
            triage_confirmed: match f.parse_opt::<i64>(TRIAGE_CONFIRMED)? {
                Some(at) => Some((at, f.opt(TRIAGE_CONFIRMED_BY)?.unwrap_or("").to_string())),
                None => None,
            },
            position: None,
            available: 0,
        })
    }
}

impl CaseRecord {
    /// Does the case accept a case access token with this hash?
    pub fn accepts_token(&self, hash: &str) -> bool {
        !hash.is_empty() && self.access_hashes.iter().any(|h| h == hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> HashMap<String, Vec<u8>> {
        [
            ("status", "queued"),
            ("channel", "phone"),
            ("needs", "acute_symptoms,medication"),
            ("urgency", "soon"),
            ("language", "fi"),
            ("team", "t"),
            ("queue", "phone"),
            ("sub_queue", "acute_symptoms"),
            ("professions", ",nurse,doctor,"),
            ("deadline", "1000"),
            ("deadline_rule", "r"),
            ("statutory_deadline", ""),
            ("created", "5"),
            ("consult:dr-1", "requested"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
        .collect()
    }

    #[test]
    fn a_stored_case_decodes_into_its_types() {
        let r = CaseRecord::decode("c1", &stored(), vec!["b".into(), "a".into()]).unwrap();
        assert_eq!(r.status, CaseStatus::Queued);
        assert_eq!(r.needs, [Need::AcuteSymptoms, Need::Medication]);
        assert_eq!(r.professions, [Profession::Nurse, Profession::Doctor]);
        assert_eq!(r.statutory, None);
        assert_eq!(r.holder, None);
        assert_eq!(r.contacts, ["a", "b"]);
        assert_eq!(r.consultations, [("dr-1".into(), "requested".into())]);
    }

    #[test]
    fn the_prelude_keeps_the_same_fields_with_the_words() {
        let prelude = include_str!("lua/prelude.lua");
        let table: String = prelude
            .lines()
            .skip_while(|l| !l.starts_with("local WORDS"))
            .take(2)
            .collect();
        for f in field::WORDS {
            assert!(table.contains(&format!("{f} = true")), "{f} in {table}");
        }
        assert_eq!(table.matches("= true").count(), field::WORDS.len());
    }

    #[test]
    fn a_damaged_or_missing_field_is_named() {
        let mut m = stored();
        m.insert("urgency".into(), b"very".to_vec());
        let e = CaseRecord::decode("c1", &m, vec![]).unwrap_err();
        assert!(e.to_string().contains("`urgency`"), "{e}");
        let mut m = stored();
        m.remove("team");
        let e = CaseRecord::decode("c1", &m, vec![]).unwrap_err();
        assert!(e.to_string().contains("`team`"), "{e}");
    }
}
