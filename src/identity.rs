//! Keyed pseudonyms for linking a citizen's contacts without keeping who they are.
//!
//! An identity code or call-back number goes in, an HMAC-SHA256 under the county's secret comes
//! out. Only the pseudonym is stored; the clear value is dropped after the request. Nothing here
//! may log its input.
//!
//! Every pseudonym names the key it was made with: `h<key id>:<128 bits hex>`, the key id being
//! four hex digits derived from the key itself (no setting to forget). A new key therefore
//! makes pseudonyms that never collide with the old key's, and a stored pseudonym says which key
//! made it. Rotation is one-way: a case opened under the old key is not joined by the citizen's
//! new contacts; it runs to its end and the old pseudonyms leave with it (README, "Keys").

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// Derives pseudonyms with the county's secret key.
#[derive(Clone)]
pub struct Pseudonymizer {
    key: Vec<u8>,
    /// Names the key in every pseudonym; it reveals nothing of the key (an HMAC of a constant).
    key_id: String,
}

impl std::fmt::Debug for Pseudonymizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymizer { key: <secret> }")
    }
}

impl Pseudonymizer {
    pub fn new(key: &Secret) -> Self {
        let key = key.expose().as_bytes().to_vec();
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
        mac.update(b"luotsi pseudonym key id");
        let key_id = hex::encode(&mac.finalize().into_bytes()[..2]);
        Self { key, key_id }
    }

    /// The key's id, as it prefixes every pseudonym.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn derive(&self, domain: &str, value: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(domain.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        // 128 bits are plenty to link one county's citizens and keep keys short.
        format!(
            "{}:{}",
            self.key_id,
            hex::encode(&mac.finalize().into_bytes()[..16])
        )
    }

    /// Pseudonym of a validated identity code (upper-cased, trimmed).
    pub fn identity_code(&self, code: &str) -> String {
        format!(
            "h{}",
            self.derive("hetu", &code.trim().to_ascii_uppercase())
        )
    }

    /// Pseudonym of a case id, for records that leave the service (the corrections export):
    /// the same case links across lines, but not back to its record.
    pub fn case(&self, id: &str) -> String {
        format!("c{}", self.derive("case", id))
    }

    /// Pseudonym of a professional's id, for the same records.
    pub fn professional(&self, id: &str) -> String {
        format!("s{}", self.derive("professional", id))
    }

    /// Pseudonym of a call-back number, normalised so that `040 123 4567` and
    /// `+358401234567` link.
    pub fn phone(&self, normalised: &str) -> String {
        format!("p{}", self.derive("phone", normalised))
    }
}

/// Reads the numbering plan now rather than on the first call-back number.
pub fn load_numbering_plan() {
    let _ = normalise_phone("040 1234567");
}

/// Normalises a phone number to international (E.164) form, or says why it is not one. The
/// number is checked against the numbering plan (`phonenumber`, Google's libphonenumber data):
/// a national number is read as Finnish, a `+` or `00` number as its own country's, and it
/// must be a number that can exist there, not merely 7–15 digits.
pub fn normalise_phone(raw: &str) -> Result<String, &'static str> {
    let raw = raw.trim();
    if !raw.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
    }) {
        return Err("may hold only digits, spaces, dashes, brackets and a leading +");
    }
    // libphonenumber reads 00 as Finland's international prefix only by region; say it plainly.
    let raw = match raw.strip_prefix("00") {
        Some(rest) => format!("+{rest}"),
        None => raw.to_string(),
    };
    let number = phonenumber::parse(Some(phonenumber::country::Id::FI), &raw)
        .map_err(|_| "not a phone number")?;
    if !phonenumber::is_valid(&number) {
        return Err("not a valid phone number (a Finnish number, or one with its country code)");
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_input_same_pseudonym_other_key_other_pseudonym() {
        let a = Pseudonymizer::new(&Secret::new("k1"));
        let b = Pseudonymizer::new(&Secret::new("k2"));
        assert_eq!(
            a.identity_code("131052-308t"),
            a.identity_code("131052-308T")
        );
        assert_ne!(
            a.identity_code("131052-308T"),
            b.identity_code("131052-308T")
        );
        assert!(!a.identity_code("131052-308T").contains("131052"));
    }

    #[test]
    fn a_pseudonym_names_its_key_and_another_key_another_id() {
        let a = Pseudonymizer::new(&Secret::new("k1"));
        let b = Pseudonymizer::new(&Secret::new("k2"));
        assert_ne!(a.key_id(), b.key_id());
        let p = a.identity_code("131052-308T");
        assert!(p.starts_with(&format!("h{}:", a.key_id())), "{p}");
        assert_eq!(p.len(), 1 + 4 + 1 + 32);
        assert!(
            a.phone("+358401234567")
                .starts_with(&format!("p{}:", a.key_id()))
        );
    }

    #[test]
    fn phone_forms_link() {
        let p = Pseudonymizer::new(&Secret::new("k"));
        let x = normalise_phone("040 123 4567").unwrap();
        let y = normalise_phone("+358401234567").unwrap();
        assert_eq!(x, y);
        assert_eq!(p.phone(&x), p.phone(&y));
        assert!(normalise_phone("call me").is_err());
        assert!(normalise_phone("123").is_err());
    }

    #[test]
    fn only_numbers_that_can_exist_pass() {
        assert_eq!(normalise_phone("09 310 1691").unwrap(), "+35893101691");
        assert_eq!(
            normalise_phone("0046 8 123 456 78").unwrap(),
            "+46812345678"
        );
        assert_eq!(normalise_phone("(050) 765-4321").unwrap(), "+358507654321");
        // Seven to fifteen digits, but no such numbers.
        assert!(normalise_phone("0000000").is_err());
        assert!(normalise_phone("+999 123456789").is_err());
        assert!(normalise_phone("040 1").is_err());
    }
}
