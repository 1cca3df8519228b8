//! The Finnish working-day calendar: public holidays (including the Easter-based and
//! weekday-shifted ones) and counting working days. Dates are local (Europe/Helsinki) dates.

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("easter is a real date")
}

/// The first `weekday` on or after `from`.
fn first_on_or_after(from: NaiveDate, weekday: Weekday) -> NaiveDate {
    let ahead = (7 + weekday.num_days_from_monday() - from.weekday().num_days_from_monday()) % 7;
    from + Duration::days(ahead as i64)
}

/// The public holidays that fall on weekdays or weekends alike, for one year.
pub fn public_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let d = |m, day| NaiveDate::from_ymd_opt(year, m, day).expect("fixed holiday date");
    let easter = easter_sunday(year);
    let midsummer_eve = first_on_or_after(d(6, 19), Weekday::Fri);
    vec![
        (d(1, 1), "New Year's Day"),
        (d(1, 6), "Epiphany"),
        (easter - Duration::days(2), "Good Friday"),
        (easter, "Easter Sunday"),
        (easter + Duration::days(1), "Easter Monday"),
        (d(5, 1), "May Day"),
        (easter + Duration::days(39), "Ascension Day"),
        (easter + Duration::days(49), "Whit Sunday"),
        (midsummer_eve, "Midsummer Eve"),
        (midsummer_eve + Duration::days(1), "Midsummer Day"),
        (
            first_on_or_after(d(10, 31), Weekday::Sat),
            "All Saints' Day",
        ),
        (d(12, 6), "Independence Day"),
        (d(12, 24), "Christmas Eve"),
        (d(12, 25), "Christmas Day"),
        (d(12, 26), "Boxing Day"),
    ]
}

/// The name of the holiday on `date`, if it is one.
pub fn holiday(date: NaiveDate) -> Option<&'static str> {
    public_holidays(date.year())
        .into_iter()
        .find(|(d, _)| *d == date)
        .map(|(_, name)| name)
}

/// Monday to Friday and not a public holiday.
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && holiday(date).is_none()
}

/// The working day `n` working days after `date` (n = 0: `date` itself if it is a working day,
/// else the next one).
pub fn add_working_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut day = date;
    while !is_working_day(day) {
        day += Duration::days(1);
    }
    for _ in 0..n {
        day += Duration::days(1);
        while !is_working_day(day) {
            day += Duration::days(1);
        }
    }
    day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn easter_matches_known_years() {
        // Published Easter Sundays.
        for (y, m, d) in [
            (2019, 4, 21),
            (2020, 4, 12),
            (2021, 4, 4),
            (2022, 4, 17),
            (2023, 4, 9),
            (2024, 3, 31),
            (2025, 4, 20),
            (2026, 4, 5),
            (2027, 3, 28),
            (2038, 4, 25),
        ] {
            assert_eq!(easter_sunday(y), date(y, m, d), "{y}");
        }
    }

    #[test]
    fn moving_holidays_of_2024_to_2026() {
        assert_eq!(holiday(date(2024, 3, 29)), Some("Good Friday"));
        assert_eq!(holiday(date(2024, 4, 1)), Some("Easter Monday"));
        assert_eq!(holiday(date(2024, 5, 9)), Some("Ascension Day"));
        assert_eq!(holiday(date(2024, 6, 21)), Some("Midsummer Eve"));
        assert_eq!(holiday(date(2024, 11, 2)), Some("All Saints' Day"));
        assert_eq!(holiday(date(2025, 5, 29)), Some("Ascension Day"));
        assert_eq!(holiday(date(2025, 6, 20)), Some("Midsummer Eve"));
        assert_eq!(holiday(date(2025, 11, 1)), Some("All Saints' Day"));
        assert_eq!(holiday(date(2026, 4, 3)), Some("Good Friday"));
        assert_eq!(holiday(date(2026, 5, 14)), Some("Ascension Day"));
        assert_eq!(holiday(date(2026, 6, 19)), Some("Midsummer Eve"));
        assert_eq!(holiday(date(2026, 10, 31)), Some("All Saints' Day"));
        assert_eq!(holiday(date(2026, 5, 13)), None);
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        // Thursday 2 April 2026 + 1 working day skips Good Friday, the weekend and Easter Monday.
        assert_eq!(add_working_days(date(2026, 4, 2), 1), date(2026, 4, 7));
        // Seven working days from Monday 21 Dec 2026: 24, 25, 26 Dec are holidays.
        assert_eq!(add_working_days(date(2026, 12, 21), 7), date(2027, 1, 4));
        // A Saturday rolls to Monday before counting.
        assert_eq!(add_working_days(date(2026, 11, 21), 0), date(2026, 11, 23));
        assert!(!is_working_day(date(2026, 12, 6)));
    }
}
