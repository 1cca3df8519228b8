//! The one calendar every time limit uses: Helsinki local dates, the Finnish working days, and
//! periods counted the way the Act on the calculation of statutory time limits (150/1930)
//! counts them. Nothing else in Luotsi adds days, working days or months to a date.
//!
//! - **The contact's day** is its Helsinki local date. The time of day never changes which day
//!   it was: a contact at 23:30 on Sunday is a Sunday contact, in winter and in summer time.
//! - **A period in days or working days** starts the day after the contact's day: the day of
//!   the event is not counted (150/1930 §2). "By the 7th working day" is therefore the 7th
//!   working day after the contact's day, whatever the day of the contact was (a Saturday
//!   contact's first working day is the Monday). "0 working days" is the contact's day itself
//!   when it is a working day, else the next working day.
//! - **A period of months** ends on the day of the month with the contact day's number, or on
//!   the last day of the month where there is no such day (150/1930 §3): 30 November + 3 months
//!   is 28 February, 29 February 2028 + 12 months is 28 February 2029.
//! - **A limit ending on a weekend or holiday** may be done on the next working day
//!   (150/1930 §5). Whether a rule moves is its own setting (`Limit::next_working_day`).
//! - **A date limit means the end of that day** in Helsinki, i.e. its last millisecond: a case
//!   handled at any time on the last day is within the limit.
//! - **Office hours** decide only when someone can act (the channel promises: a call-back by
//!   office close), never the legal day count; see `office_day` and `office_close`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// Luotsi counts days in Finnish local time.
pub const TZ: Tz = chrono_tz::Europe::Helsinki;

/// An instant as Helsinki wall-clock text with its UTC offset, e.g. `2026-11-24 16:00 +02:00`.
pub fn local_text(at: DateTime<Utc>) -> String {
    at.with_timezone(&TZ)
        .format("%Y-%m-%d %H:%M %:z")
        .to_string()
}

/// The Helsinki local date of an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&TZ).date_naive()
}

/// The instant of a Helsinki wall-clock time. A time that does not exist (the hour skipped when
/// summer time starts) is read as the first instant after the gap.
pub fn local_time(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut wall = date.and_time(time);
    // The spring gap is one hour; two steps of 30 minutes cover any gap chrono-tz knows.
    for _ in 0..4 {
        if let Some(t) = TZ.from_local_datetime(&wall).earliest() {
            return t.with_timezone(&Utc);
        }
        wall += Duration::minutes(30);
    }
    unreachable!("Helsinki has no gap longer than an hour")
}

/// The last millisecond of `date` in Helsinki: the instant a date limit means.
pub fn end_of_day(date: NaiveDate) -> DateTime<Utc> {
    let next = date.succ_opt().expect("a date before the end of time");
    local_time(next, NaiveTime::MIN) - Duration::milliseconds(1)
}

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

/// The public holidays of one year, and Christmas Eve and Midsummer Eve, which are not public
/// holidays but on which public services are closed (and which 150/1930 §5 lists with them).
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

/// Monday to Friday and not a holiday (nor Christmas Eve or Midsummer Eve).
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && holiday(date).is_none()
}

/// `date` when it is a working day, else the next working day.
pub fn same_or_next_working_day(date: NaiveDate) -> NaiveDate {
    let mut day = date;
    while !is_working_day(day) {
        day += Duration::days(1);
    }
    day
}

/// The `n`th working day after `date`, `date` itself not counted (150/1930 §2); for `n = 0`,
/// `date` when it is a working day, else the next one.
pub fn working_day_after(date: NaiveDate, n: u32) -> NaiveDate {
    if n == 0 {
        return same_or_next_working_day(date);
    }
    let mut day = date;
    for _ in 0..n {
        day = same_or_next_working_day(day + Duration::days(1));
    }
    day
}

/// A length of time in the law's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Days(u32),
    WorkingDays(u32),
    Months(u32),
}

impl Period {
    /// The last day of the period for an event on `from` (150/1930 §§2–3).
    pub fn last_day(self, from: NaiveDate) -> NaiveDate {
        match self {
            Period::Days(n) => from + Duration::days(n.into()),
            Period::WorkingDays(n) => working_day_after(from, n),
            // chrono clamps to the month's last day where the day number does not exist,
            // which is what 150/1930 §3 says.
            Period::Months(n) => from
                .checked_add_months(Months::new(n))
                .expect("a date before the end of time"),
        }
    }
}

/// "14 days", "7 working days", "3 months" (also "1 day", "1 working day", "1 month").
impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{s}` is not a period: write e.g. \"14 days\", \"7 working days\" or \"3 months\""
            )
        };
        let (n, unit) = s.trim().split_once(' ').ok_or_else(bad)?;
        let n: u32 = n.parse().map_err(|_| bad())?;
        match unit.trim() {
            "day" | "days" => Ok(Period::Days(n)),
            "working day" | "working days" => Ok(Period::WorkingDays(n)),
            "month" | "months" => Ok(Period::Months(n)),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Period::Days(n) => (n, "day"),
            Period::WorkingDays(n) => (n, "working day"),
            Period::Months(n) => (n, "month"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A statutory time limit: a period counted from the contact's day and whether a limit that
/// ends on a weekend or holiday moves to the next working day (150/1930 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub period: Period,
    #[serde(default)]
    pub next_working_day: bool,
}

impl Limit {
    pub const fn new(period: Period) -> Self {
        Limit {
            period,
            next_working_day: false,
        }
    }

    /// The last day of the limit for an event on `from`.
    pub fn last_day(self, from: NaiveDate) -> NaiveDate {
        let day = self.period.last_day(from);
        if self.next_working_day {
            same_or_next_working_day(day)
        } else {
            day
        }
    }

    /// The end of the limit's last day for an event at `at`.
    pub fn ends(self, at: DateTime<Utc>) -> DateTime<Utc> {
        end_of_day(self.last_day(local_date(at)))
    }
}

/// The working day on which an office closing at `close_hour` first has a contact made at `at`
/// open: the same day when that is a working day and the office has not closed yet, else the
/// next working day. This is about when someone can act, not about a legal day count.
pub fn office_day(at: DateTime<Utc>, close_hour: u32) -> NaiveDate {
    let local = at.with_timezone(&TZ);
    let day = local.date_naive();
    if is_working_day(day) && local.time() < close(close_hour) {
        day
    } else {
        working_day_after(day, 1)
    }
}

/// Office close on the `n`th working day after the office day of a contact made at `at`: the
/// channel promises ("a call-back the same working day").
pub fn office_close(at: DateTime<Utc>, close_hour: u32, n: u32) -> DateTime<Utc> {
    let day = office_day(at, close_hour);
    let day = if n == 0 {
        day
    } else {
        working_day_after(day, n)
    };
    local_time(day, close(close_hour))
}

/// The first moment at or after `at` within office hours: a working day from `open_hour` to
/// `close_hour`, local time. When someone can actually call back.
pub fn office_open_at(at: DateTime<Utc>, open_hour: u32, close_hour: u32) -> DateTime<Utc> {
    let local = at.with_timezone(&TZ);
    let day = local.date_naive();
    if is_working_day(day) {
        if local.time() < close(open_hour) {
            return local_time(day, close(open_hour));
        }
        if local.time() < close(close_hour) {
            return at;
        }
    }
    local_time(working_day_after(day, 1), close(open_hour))
}

/// Office close on the local day of `at`.
pub fn office_close_on(at: DateTime<Utc>, close_hour: u32) -> DateTime<Utc> {
    local_time(local_date(at), close(close_hour))
}

fn close(hour: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour.min(23), 0, 0).expect("an hour of the day")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn helsinki(s: &str) -> DateTime<Utc> {
        let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        local_time(t.date(), t.time())
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
    fn working_days_are_counted_from_the_day_after() {
        // Thursday 2 April 2026 + 1 working day skips Good Friday, the weekend and Easter Monday.
        assert_eq!(working_day_after(date(2026, 4, 2), 1), date(2026, 4, 7));
        // Seven working days after Monday 21 Dec 2026: 24, 25, 26 Dec and 1 Jan are not.
        assert_eq!(working_day_after(date(2026, 12, 21), 7), date(2027, 1, 4));
        // A Saturday is not rolled to Monday before counting: Monday is the first working day.
        assert_eq!(working_day_after(date(2026, 11, 28), 1), date(2026, 11, 30));
        assert_eq!(working_day_after(date(2026, 11, 28), 7), date(2026, 12, 8));
        // Zero: the day itself, or the next working day.
        assert_eq!(working_day_after(date(2026, 11, 23), 0), date(2026, 11, 23));
        assert_eq!(working_day_after(date(2026, 11, 21), 0), date(2026, 11, 23));
        assert!(!is_working_day(date(2026, 12, 6)));
        assert!(!is_working_day(date(2026, 12, 24)), "Christmas Eve");
        assert!(!is_working_day(date(2026, 6, 19)), "Midsummer Eve");
    }

    #[test]
    fn months_end_on_the_same_numbered_day_or_the_last_of_the_month() {
        let m = |n| Period::Months(n);
        assert_eq!(m(3).last_day(date(2026, 11, 23)), date(2027, 2, 23));
        assert_eq!(m(3).last_day(date(2026, 11, 30)), date(2027, 2, 28));
        assert_eq!(
            m(3).last_day(date(2027, 11, 30)),
            date(2028, 2, 29),
            "leap year"
        );
        assert_eq!(m(6).last_day(date(2026, 8, 31)), date(2027, 2, 28));
        assert_eq!(m(12).last_day(date(2028, 2, 29)), date(2029, 2, 28));
        assert_eq!(m(3).last_day(date(2028, 2, 29)), date(2028, 5, 29));
        assert_eq!(
            Period::Days(14).last_day(date(2026, 11, 23)),
            date(2026, 12, 7)
        );
    }

    #[test]
    fn a_limit_may_move_off_a_weekend_or_holiday() {
        // 30 Nov 2026 + 3 months = Sunday 28 Feb 2027.
        let stay = Limit::new(Period::Months(3));
        let moving = Limit {
            next_working_day: true,
            ..stay
        };
        assert_eq!(stay.last_day(date(2026, 11, 30)), date(2027, 2, 28));
        assert_eq!(moving.last_day(date(2026, 11, 30)), date(2027, 3, 1));
        // 6 Nov 2026 + 30 days = Sunday 6 Dec, Independence Day, → Monday 7 Dec.
        let days = Limit {
            period: Period::Days(30),
            next_working_day: true,
        };
        assert_eq!(days.last_day(date(2026, 11, 6)), date(2026, 12, 7));
    }

    #[test]
    fn a_date_limit_ends_at_the_end_of_the_helsinki_day() {
        // Winter time: 23:59:59.999 +02:00.
        assert_eq!(
            end_of_day(date(2027, 2, 23)).to_rfc3339(),
            "2027-02-23T21:59:59.999+00:00"
        );
        // Summer time: +03:00.
        assert_eq!(
            end_of_day(date(2027, 5, 22)).to_rfc3339(),
            "2027-05-22T20:59:59.999+00:00"
        );
        // The day summer time starts is 23 hours long, and still ends at local midnight.
        assert_eq!(
            end_of_day(date(2026, 3, 29)).to_rfc3339(),
            "2026-03-29T20:59:59.999+00:00"
        );
    }

    #[test]
    fn the_contact_day_is_the_helsinki_date() {
        // 23:30 on Sunday in Helsinki is still Sunday, though 21:30 UTC; 00:30 on Monday in
        // Helsinki is Monday, though Sunday in UTC.
        assert_eq!(local_date(helsinki("2026-11-22 23:30")), date(2026, 11, 22));
        assert_eq!(local_date(helsinki("2026-11-23 00:30")), date(2026, 11, 23));
        // A wall time in the spring gap is read as just after it.
        assert_eq!(
            helsinki("2026-03-29 03:30").to_rfc3339(),
            "2026-03-29T01:00:00+00:00"
        );
    }

    #[test]
    fn office_hours_decide_when_someone_can_act() {
        let d = |s| local_date(s);
        // Monday 10:00: today; 17:17: Tuesday; Saturday: Monday.
        assert_eq!(
            office_day(helsinki("2026-11-23 10:00"), 16),
            date(2026, 11, 23)
        );
        assert_eq!(
            office_day(helsinki("2026-11-23 17:17"), 16),
            date(2026, 11, 24)
        );
        assert_eq!(
            office_day(helsinki("2026-11-28 10:00"), 16),
            date(2026, 11, 30)
        );
        // Friday 4 Dec 2026 17:00, before Independence Day weekend: Monday 7 Dec, 16:00.
        let close = office_close(helsinki("2026-12-04 17:00"), 16, 0);
        assert_eq!(close, helsinki("2026-12-07 16:00"));
        assert_eq!(
            d(office_close(helsinki("2026-12-22 17:00"), 16, 1)),
            date(2026, 12, 28)
        );
    }

    #[test]
    fn periods_read_and_print_as_the_settings_write_them() {
        for (s, p) in [
            ("14 days", Period::Days(14)),
            ("1 day", Period::Days(1)),
            ("7 working days", Period::WorkingDays(7)),
            ("1 working day", Period::WorkingDays(1)),
            ("3 months", Period::Months(3)),
        ] {
            assert_eq!(s.parse::<Period>().unwrap(), p);
            assert_eq!(p.to_string(), s);
        }
        assert!("3 weeks".parse::<Period>().is_err());
        assert!("three months".parse::<Period>().is_err());
        assert!("91".parse::<Period>().is_err());
    }
}
