//! The Finnish personal identity code (henkilötunnus): validation and the birth date it carries.
//!
//! A code is only ever held long enough to validate it, read the age and derive a keyed
//! pseudonym (see `crate::identity`). It must never be stored, logged or echoed back.

use chrono::NaiveDate;

const CHECK_CHARS: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";

/// Why a code is not valid. Messages never repeat the code itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HetuError {
    #[error("must be 11 characters: DDMMYY, century sign, 3 digits, check character")]
    Length,
    #[error("unknown century sign")]
    CenturySign,
    #[error("date part is not a real date")]
    Date,
    #[error("individual number must be 3 digits from 002 to 999")]
    IndividualNumber,
    #[error("check character does not match")]
    Checksum,
    #[error("the birth date it carries is in the future")]
    BornInFuture,
    #[error("the birth date it carries is more than {MAX_AGE} years ago")]
    TooOld,
}

/// The oldest age a code is taken to carry: a code of someone older is a mistake.
pub const MAX_AGE: u32 = 130;

/// A validated identity code, reduced to what routing may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidHetu {
    pub birth_date: NaiveDate,
    /// Individual numbers 900–999 are temporary or test codes.
    pub temporary: bool,
}

/// Validates a code as described in the domain brief §9.
pub fn validate(code: &str) -> Result<ValidHetu, HetuError> {
    let code = code.trim();
    let b = code.as_bytes();
    if b.len() != 11 || !code.is_ascii() {
        return Err(HetuError::Length);
    }
    let century = match b[6] {
        b'+' => 1800,
        b'-' | b'Y' | b'X' | b'W' | b'V' | b'U' => 1900,
        b'A' | b'B' | b'C' | b'D' | b'E' | b'F' => 2000,
        _ => return Err(HetuError::CenturySign),
    };
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        code[r]
            .chars()
            .try_fold(0u32, |acc, c| Some(acc * 10 + c.to_digit(10)?))
    };
    let (dd, mm, yy) = match (digits(0..2), digits(2..4), digits(4..6)) {
        (Some(d), Some(m), Some(y)) => (d, m, y),
        _ => return Err(HetuError::Date),
    };
    let birth_date = NaiveDate::from_ymd_opt(century + yy as i32, mm, dd).ok_or(HetuError::Date)?;
    let individual = digits(7..10).ok_or(HetuError::IndividualNumber)?;
    if individual < 2 {
        return Err(HetuError::IndividualNumber);
    }
    let number = dd * 10_000_000 + mm * 100_000 + yy * 1_000 + individual;
    let expected = CHECK_CHARS[(number % 31) as usize];
    if b[10].to_ascii_uppercase() != expected {
        return Err(HetuError::Checksum);
    }
    Ok(ValidHetu {
        birth_date,
        temporary: individual >= 900,
    })
}

/// The age a valid code's holder has on `today`, refusing a birth date in the future (a
/// code can be valid check-wise and still not be anyone's yet) or more than [`MAX_AGE`] years
/// ago.
pub fn age_of(code: &ValidHetu, today: NaiveDate) -> Result<u32, HetuError> {
    if code.birth_date > today {
        return Err(HetuError::BornInFuture);
    }
    let age = age_on(code.birth_date, today);
    if age > MAX_AGE {
        return Err(HetuError::TooOld);
    }
    Ok(age)
}

/// Age in whole years on `today`.
pub fn age_on(birth: NaiveDate, today: NaiveDate) -> u32 {
    use chrono::Datelike;
    let mut years = today.year() - birth.year();
    if (today.month(), today.day()) < (birth.month(), birth.day()) {
        years -= 1;
    }
    years.max(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_brief_examples() {
        let a = validate("131052-308T").unwrap();
        assert_eq!(a.birth_date, NaiveDate::from_ymd_opt(1952, 10, 13).unwrap());
        assert!(!a.temporary);
        let b = validate("010101A123N").unwrap();
        assert_eq!(b.birth_date, NaiveDate::from_ymd_opt(2001, 1, 1).unwrap());
    }

    #[test]
    fn accepts_new_century_signs_and_lowercase_check() {
        // Same number as 010101A123N with another 2000s sign: the check is on digits only.
        assert!(validate("010101B123N").is_ok());
        assert!(validate("131052Y308T").is_ok());
        assert!(validate("131052-308t").is_ok());
    }

    #[test]
    fn rejects_bad_codes() {
        assert_eq!(validate("131052-308U"), Err(HetuError::Checksum));
        assert_eq!(validate("131052Q308T"), Err(HetuError::CenturySign));
        assert_eq!(validate("311352-308T"), Err(HetuError::Date));
        assert_eq!(validate("131052-30"), Err(HetuError::Length));
        assert_eq!(validate("131052-0x8T"), Err(HetuError::IndividualNumber));
    }

    #[test]
    fn marks_temporary_codes() {
        // 010101-900 check: 010101900 % 31
        let n: u32 = 10_101_900;
        let c = CHECK_CHARS[(n % 31) as usize] as char;
        let code = format!("010101-900{c}");
        assert!(validate(&code).unwrap().temporary);
    }

    #[test]
    fn a_birth_date_in_the_future_or_before_living_memory_is_refused() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        for future in ["010199A123Y", "010630A0550"] {
            let valid = validate(future).expect("valid check-wise");
            assert_eq!(
                age_of(&valid, today),
                Err(HetuError::BornInFuture),
                "{future}"
            );
        }
        let old = validate("131052+308T").expect("valid check-wise");
        assert_eq!(age_of(&old, today), Err(HetuError::TooOld));
        assert_eq!(age_of(&validate("131052-308T").unwrap(), today), Ok(74));
    }

    #[test]
    fn age_counts_birthdays() {
        let b = NaiveDate::from_ymd_opt(2000, 6, 15).unwrap();
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2023, 6, 14).unwrap()), 22);
        assert_eq!(age_on(b, NaiveDate::from_ymd_opt(2023, 6, 15).unwrap()), 23);
    }
}
