//! Encryption at rest: the citizen's words and call-back number, and what staff write as
//! reasons, are stored sealed with AES-256-GCM, so the Redis files (append-only file, snapshot,
//! a replica, a backup) hold no readable copy.
//!
//! Two layers. A **data key** per period (`w<yyyymmdd>` for a day's case words, `r<yyyymm>` for
//! a month's staff reasons) does the sealing; it is random, and kept in Redis (`keys`, see
//! `keys.rs`) only **wrapped** by the **key-encryption key** read from a file
//! (`privacy.data_key_file`; the development setup makes one). Every instance of the county
//! unwraps the same data keys, and keeps them in memory.
//!
//! **Crypto-shredding**: when everything sealed with a data key is past its retention, the
//! wrapped key is deleted (and the embedded Redis rewrites its append-only file, so no old copy
//! of the wrapped key stays there). Any copy of a sealed value, wherever it ended up, can then
//! no longer be opened by anyone. A day's words key lives until the last case sealed with it
//! closes (`sealed:<key>` lists them); a month's reasons key for the audit log's retention.
//!
//! A sealed value is ASCII: `s1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, its associated
//! data naming what it is (`<case>|text`), so a value cannot be moved to another case or field.
//! Inside a line of text (a routing reason) it stands between `{{` and `}}`.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// How long a month's reasons key lives after the month: the audit log's retention (its
/// entries carry the sealed reasons; `supervise.lua` keeps them 400 days).
pub const REASONS_KEEP_DAYS: u64 = 400;

/// The version tag every sealed value starts with.
const TAG: &str = "s1.";
const NONCE_LEN: usize = 12;

/// What a data key seals, and so how long it lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A case's text and call-back number: one key per (UTC) day.
    Words,
    /// Staff-written reasons (hand-overs, supervisors' actions): one key per month.
    Reasons,
}

impl Purpose {
    /// The id of the data key for this purpose at `ms`.
    pub fn key_id(self, ms: i64) -> String {
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
        match self {
            Purpose::Words => format!("w{}", t.format("%Y%m%d")),
            Purpose::Reasons => format!("r{}", t.format("%Y%m")),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The data key was destroyed at the end of its retention: what it sealed is gone.
    #[error("data key {0} was destroyed (crypto-shredded): the value can no longer be read")]
    Shredded(String),
    #[error(
        "data key {key} was wrapped by key-encryption key {wrapped_by}, but the key file in use \
         is {in_use}: give Luotsi the key file it started with (privacy.data_key_file)"
    )]
    WrongKeyFile {
        key: String,
        wrapped_by: String,
        in_use: String,
    },
    #[error("a sealed value or wrapped key does not open: {0}")]
    Damaged(String),
}

/// The key-encryption key and the data keys unwrapped so far. Cheap to clone.
#[derive(Clone)]
pub struct Sealer {
    kek: Arc<Aes256Gcm>,
    kek_id: Arc<str>,
    keys: Arc<RwLock<HashMap<String, Arc<Aes256Gcm>>>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("kek_id", &self.kek_id)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    /// From the key-encryption key's secret (at least 32 characters; `openssl rand -hex 32`).
    /// The AES key is derived from it, its id (shown, never secret) likewise.
    pub fn new(secret: &Secret) -> Self {
        let derive = |label: &[u8]| {
            let mut h = Sha256::new();
            h.update(label);
            h.update(secret.expose().as_bytes());
            h.finalize()
        };
        let key = derive(b"luotsi data-key wrapping v1\0");
        let id = hex::encode(&derive(b"luotsi data-key wrapping id v1\0")[..4]);
        Self {
            kek: Arc::new(Aes256Gcm::new(&key)),
            kek_id: id.into(),
            keys: Arc::default(),
        }
    }

    /// A sealer with a random key-encryption key kept only in memory: for tests and tools
    /// whose data does not outlive them. A service always has its key from a file.
    pub fn ephemeral() -> Self {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).expect("the system's random source");
        Self::new(&Secret::new(hex::encode(bytes)))
    }

    /// The key-encryption key's id (8 hex digits): which key file wrapped a data key.
    pub fn kek_id(&self) -> &str {
        &self.kek_id
    }

    /// The data key `id` if it is in memory.
    pub fn cached(&self, id: &str) -> Option<Arc<Aes256Gcm>> {
        self.keys.read().expect("key cache").get(id).cloned()
    }

    /// Forgets a data key (it was destroyed).
    pub fn forget(&self, id: &str) {
        self.keys.write().expect("key cache").remove(id);
    }

    /// A new random data key, wrapped for storing: `<kek id>.<base64(nonce ‖ wrapped)>`, with
    /// the county's prefix and the key's id as associated data.
    pub fn new_wrapped(&self, prefix: &str, id: &str) -> String {
        let mut key = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).expect("the system's random source");
        let aad = format!("{prefix}{id}");
        format!(
            "{}.{}",
            self.kek_id,
            B64.encode(seal_bytes(&self.kek, aad.as_bytes(), key.as_ref()))
        )
    }

    /// A stored data key wrapped again under this key-encryption key (`luotsi rewrap`): `old`
    /// is the sealer of the key file that wrapped it.
    pub fn rewrap(
        &self,
        old: &Sealer,
        prefix: &str,
        id: &str,
        wrapped: &str,
    ) -> Result<String, SealError> {
        let key = old.unwrap_bytes(prefix, id, wrapped)?;
        let aad = format!("{prefix}{id}");
        Ok(format!(
            "{}.{}",
            self.kek_id,
            B64.encode(seal_bytes(&self.kek, aad.as_bytes(), key.as_ref()))
        ))
    }

    /// Whether this key-encryption key wrapped the stored data key.
    pub fn wrapped_this(&self, wrapped: &str) -> bool {
        wrapped
            .split_once('.')
            .is_some_and(|(by, _)| by == &*self.kek_id)
    }

    fn unwrap_bytes(
        &self,
        prefix: &str,
        id: &str,
        wrapped: &str,
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, SealError> {
        let (by, body) = wrapped
            .split_once('.')
            .ok_or_else(|| SealError::Damaged(format!("wrapped key {id}")))?;
        if by != &*self.kek_id {
            return Err(SealError::WrongKeyFile {
                key: id.into(),
                wrapped_by: by.into(),
                in_use: self.kek_id.to_string(),
            });
        }
        let aad = format!("{prefix}{id}");
        let bytes = B64
            .decode(body)
            .map_err(|_| SealError::Damaged(format!("wrapped key {id}")))?;
        Ok(zeroize::Zeroizing::new(
            open_bytes(&self.kek, aad.as_bytes(), &bytes)
                .ok_or_else(|| SealError::Damaged(format!("wrapped key {id}")))?,
        ))
    }

    /// Unwraps a stored data key and keeps it in memory.
    pub fn unwrap_key(
        &self,
        prefix: &str,
        id: &str,
        wrapped: &str,
    ) -> Result<Arc<Aes256Gcm>, SealError> {
        let key = self.unwrap_bytes(prefix, id, wrapped)?;
        let cipher = Arc::new(
            Aes256Gcm::new_from_slice(&key)
                .map_err(|_| SealError::Damaged(format!("wrapped key {id}")))?,
        );
        self.keys
            .write()
            .expect("key cache")
            .insert(id.to_string(), cipher.clone());
        Ok(cipher)
    }
}

/// Seals `plain` with the data key `key` (id `id`) for `aad`.
pub fn seal(key: &Aes256Gcm, id: &str, aad: &str, plain: &str) -> String {
    seal_raw(key, id, aad, plain.as_bytes())
}

/// Seals bytes (an encoded classification) as [`seal`] does text.
pub fn seal_raw(key: &Aes256Gcm, id: &str, aad: &str, plain: &[u8]) -> String {
    let body = seal_bytes(key, aad.as_bytes(), plain);
    let mut out = String::with_capacity(TAG.len() + id.len() + 1 + body.len() * 4 / 3 + 4);
    out.push_str(TAG);
    out.push_str(id);
    out.push('.');
    B64.encode_string(&body, &mut out);
    out
}

/// The data key id a sealed value names, or None when the value is not sealed (written before
/// encryption at rest, or not sealed at all).
pub fn key_of(value: &str) -> Option<&str> {
    let rest = value.strip_prefix(TAG)?;
    let (id, body) = rest.split_once('.')?;
    let plausible = !id.is_empty()
        && id.len() <= 16
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plausible.then_some(id)
}

/// Opens a sealed value with its data key.
pub fn open(key: &Aes256Gcm, aad: &str, value: &str) -> Result<String, SealError> {
    String::from_utf8(open_raw(key, aad, value)?)
        .map_err(|_| SealError::Damaged(format!("value for {aad}")))
}

/// Opens a sealed value into bytes.
pub fn open_raw(key: &Aes256Gcm, aad: &str, value: &str) -> Result<Vec<u8>, SealError> {
    let damaged = || SealError::Damaged(format!("value for {aad}"));
    let id = key_of(value).ok_or_else(damaged)?;
    let body = &value[TAG.len() + id.len() + 1..];
    let bytes = B64.decode(body).map_err(|_| damaged())?;
    open_bytes(key, aad.as_bytes(), &bytes).ok_or_else(damaged)
}

/// The sealed values inside a line of text (`{{s1.…}}`), as byte ranges of the token with its
/// braces and of the sealed value within.
pub fn tokens(line: &str) -> Vec<(std::ops::Range<usize>, std::ops::Range<usize>)> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(start) = line[from..].find("{{s1.").map(|i| i + from) {
        let Some(end) = line[start..].find("}}").map(|i| i + start) else {
            break;
        };
        if key_of(&line[start + 2..end]).is_some() {
            found.push((start..end + 2, start + 2..end));
        }
        from = end + 2;
    }
    found
}

/// The associated data of a staff-written reason (not bound to one case: the same sealed
/// reason goes to the case and to the audit log).
pub const REASON_AAD: &str = "reason";

/// The associated data of a case's word field.
pub fn word_aad(case_id: &str, field: &str) -> String {
    format!("{case_id}|{field}")
}

fn seal_bytes(key: &Aes256Gcm, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    // A random 96-bit nonce per value, from the thread's CSPRNG (no system call).
    let mut nonce = [0u8; NONCE_LEN];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut nonce);
    let sealed = key
        .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
        .expect("AES-GCM seals any length Luotsi stores");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    out
}

fn open_bytes(key: &Aes256Gcm, aad: &[u8], bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    key.decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad })
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_key(s: &Sealer) -> Arc<Aes256Gcm> {
        let wrapped = s.new_wrapped("lu:{c}:", "w20261124");
        s.unwrap_key("lu:{c}:", "w20261124", &wrapped).unwrap()
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_key_and_its_associated_data() {
        let s = Sealer::ephemeral();
        let key = data_key(&s);
        let text = "Rintaan sattuu ja vasen käsi puutuu";
        let sealed = seal(&key, "w20261124", "case-1|text", text);
        assert!(sealed.starts_with("s1.w20261124."), "{sealed}");
        assert!(!sealed.contains("Rintaan") && !sealed.contains("sattuu"));
        assert_eq!(key_of(&sealed), Some("w20261124"));
        assert_eq!(open(&key, "case-1|text", &sealed).unwrap(), text);
        // Moved to another case or field: refused.
        assert!(open(&key, "case-2|text", &sealed).is_err());
        assert!(open(&key, "case-1|callback_number", &sealed).is_err());
        // Another data key: refused.
        let other = data_key(&Sealer::ephemeral());
        assert!(open(&other, "case-1|text", &sealed).is_err());
        // One character changed: refused.
        let mut bent = sealed.clone().into_bytes();
        let last = bent.len() - 2;
        bent[last] = if bent[last] == b'A' { b'B' } else { b'A' };
        assert!(open(&key, "case-1|text", &String::from_utf8(bent).unwrap()).is_err());
        // Two seals of one text differ (a fresh nonce each time).
        assert_ne!(seal(&key, "w20261124", "case-1|text", text), sealed);
    }

    #[test]
    fn a_wrapped_key_opens_only_with_the_key_file_that_wrapped_it() {
        let a = Sealer::new(&Secret::new("a".repeat(64)));
        let b = Sealer::new(&Secret::new("b".repeat(64)));
        assert_ne!(a.kek_id(), b.kek_id());
        let wrapped = a.new_wrapped("lu:{c}:", "r202611");
        assert!(wrapped.starts_with(a.kek_id()));
        match b.unwrap_key("lu:{c}:", "r202611", &wrapped) {
            Err(SealError::WrongKeyFile { wrapped_by, .. }) => assert_eq!(wrapped_by, a.kek_id()),
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Another county's prefix (or key id): refused.
        assert!(a.unwrap_key("lu:{d}:", "r202611", &wrapped).is_err());
        assert!(a.unwrap_key("lu:{c}:", "r202612", &wrapped).is_err());
        assert!(a.unwrap_key("lu:{c}:", "r202611", &wrapped).is_ok());
        assert!(a.cached("r202611").is_some());
        a.forget("r202611");
        assert!(a.cached("r202611").is_none());
        // The same secret gives the same key-encryption key (another instance, a restart).
        let again = Sealer::new(&Secret::new("a".repeat(64)));
        assert!(again.unwrap_key("lu:{c}:", "r202611", &wrapped).is_ok());
        // Wrapped again under b: the same data key, which a alone can no longer unwrap.
        let data = a.unwrap_key("lu:{c}:", "r202611", &wrapped).unwrap();
        let sealed = seal(&data, "r202611", REASON_AAD, "reason");
        let moved = b.rewrap(&a, "lu:{c}:", "r202611", &wrapped).unwrap();
        assert!(b.wrapped_this(&moved) && !a.wrapped_this(&moved));
        let under_b = b.unwrap_key("lu:{c}:", "r202611", &moved).unwrap();
        assert_eq!(open(&under_b, REASON_AAD, &sealed).unwrap(), "reason");
        assert!(a.unwrap_key("lu:{c}:", "r202611", &moved).is_err());
        assert!(
            b.rewrap(&b, "lu:{c}:", "r202611", &wrapped).is_err(),
            "not b's to unwrap"
        );
    }

    #[test]
    fn key_ids_follow_the_day_and_the_month() {
        let ms = chrono::DateTime::parse_from_rfc3339("2026-11-24T23:59:59Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(Purpose::Words.key_id(ms), "w20261124");
        assert_eq!(Purpose::Reasons.key_id(ms), "r202611");
        assert_eq!(Purpose::Words.key_id(ms + 1000), "w20261125");
    }

    #[test]
    fn plain_text_is_not_taken_for_a_sealed_value() {
        for plain in [
            "s1.",
            "s1.w1.",
            "s1..abc",
            "s1.w1.has space",
            "hello",
            "040 123 4567",
        ] {
            assert_eq!(key_of(plain), None, "{plain}");
        }
    }

    #[test]
    fn sealed_values_are_found_inside_a_line() {
        let s = Sealer::ephemeral();
        let key = data_key(&s);
        let why = seal(
            &key,
            "r202611",
            REASON_AAD,
            "the citizen asked for a doctor",
        );
        let line = format!("handed over by p1 to p2 (doctor): {{{{{why}}}}} and {{not}}");
        let found = tokens(&line);
        assert_eq!(found.len(), 1);
        let (token, value) = &found[0];
        assert_eq!(&line[value.clone()], why);
        assert_eq!(&line[token.clone()], format!("{{{{{why}}}}}"));
        assert_eq!(
            open(&key, REASON_AAD, &line[value.clone()]).unwrap(),
            "the citizen asked for a doctor"
        );
    }
}
