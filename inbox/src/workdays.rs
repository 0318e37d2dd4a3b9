//! Working days in Italy: Monday to Friday, minus the national holidays
//! (Easter Monday included), counted in Italian time (CET/CEST). Reminders
//! and the desk's "in attesa da N giorni lavorativi" count only the time
//! that falls on working days.

use time::{Date, Duration, Month, OffsetDateTime, Time, UtcOffset, Weekday};

/// Easter Sunday (Gregorian calendar; anonymous algorithm, Meeus/Jones/Butcher).
pub fn easter(year: i32) -> Date {
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
    let month = if month == 3 {
        Month::March
    } else {
        Month::April
    };
    Date::from_calendar_date(year, month, day as u8).unwrap_or(Date::MIN)
}

/// National holidays (fixed dates, Easter Monday). 4 October (San
/// Francesco) is a national holiday again from 2026. Patron saints' days
/// are local and not counted.
pub fn is_holiday(d: Date) -> bool {
    use Month::*;
    let fixed = matches!(
        (d.month(), d.day()),
        (January, 1)
            | (January, 6)
            | (April, 25)
            | (May, 1)
            | (June, 2)
            | (August, 15)
            | (November, 1)
            | (December, 8)
            | (December, 25)
            | (December, 26)
    );
    let san_francesco = d.year() >= 2026 && d.month() == October && d.day() == 4;
    fixed || san_francesco || easter(d.year()).next_day() == Some(d)
}

pub fn is_working_day(d: Date) -> bool {
    !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_holiday(d)
}

/// Last Sunday of a month.
fn last_sunday(year: i32, month: Month) -> Date {
    let mut d = Date::from_calendar_date(year, month, time::util::days_in_month(month, year))
        .unwrap_or(Date::MIN);
    while d.weekday() != Weekday::Sunday {
        d = d.previous_day().unwrap_or(d);
    }
    d
}

/// Italian time offset at `t`: CEST (+2) from the last Sunday of March,
/// 01:00 UTC, to the last Sunday of October, 01:00 UTC; CET (+1) otherwise.
pub fn rome_offset(t: OffsetDateTime) -> UtcOffset {
    let t = t.to_offset(UtcOffset::UTC);
    let at1 = |d: Date| {
        d.with_time(Time::from_hms(1, 0, 0).unwrap_or(Time::MIDNIGHT))
            .assume_utc()
    };
    let start = at1(last_sunday(t.year(), Month::March));
    let end = at1(last_sunday(t.year(), Month::October));
    let hours = if t >= start && t < end { 2 } else { 1 };
    UtcOffset::from_hms(hours, 0, 0).unwrap_or(UtcOffset::UTC)
}

fn local(t: OffsetDateTime) -> OffsetDateTime {
    t.to_offset(rome_offset(t))
}

/// Start of the next local day after `t`'s local date.
fn next_midnight(t: OffsetDateTime) -> OffsetDateTime {
    let l = local(t);
    let next = l.date().next_day().unwrap_or(l.date());
    let naive = next.with_time(Time::MIDNIGHT);
    // The offset of that midnight (DST changes happen at 01:00 UTC, never
    // across a midnight in a way that matters here).
    let guess = naive.assume_offset(l.offset());
    naive.assume_offset(rome_offset(guess))
}

/// Time between `from` and `to` that falls on working days.
pub fn working_time(from: OffsetDateTime, to: OffsetDateTime) -> Duration {
    let mut total = Duration::ZERO;
    let mut t = from;
    while t < to {
        let end = next_midnight(t).min(to);
        if is_working_day(local(t).date()) {
            total += end - t;
        }
        t = end;
    }
    total
}

/// The moment when `amount` of working time has passed since `from`.
pub fn add_working_time(from: OffsetDateTime, amount: Duration) -> OffsetDateTime {
    let mut left = amount;
    let mut t = from;
    // At most a few weeks of holidays in a row: bounded loop.
    for _ in 0..10_000 {
        let end = next_midnight(t);
        if is_working_day(local(t).date()) {
            let span = end - t;
            if span >= left {
                return t + left;
            }
            left -= span;
        }
        t = end;
    }
    t
}

/// Whole working days elapsed between `from` and `to`.
pub fn working_days(from: OffsetDateTime, to: OffsetDateTime) -> i64 {
    working_time(from, to).whole_days()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn easter_dates() {
        assert_eq!(easter(2024), date!(2024 - 03 - 31));
        assert_eq!(easter(2025), date!(2025 - 04 - 20));
        assert_eq!(easter(2026), date!(2026 - 04 - 05));
        assert_eq!(easter(2027), date!(2027 - 03 - 28));
        assert_eq!(easter(2038), date!(2038 - 04 - 25));
        assert!(is_holiday(date!(2026 - 04 - 06)), "Easter Monday");
        assert!(!is_working_day(date!(2026 - 04 - 06)));
        assert!(is_working_day(date!(2026 - 04 - 07)));
    }

    #[test]
    fn counting_skips_a_weekend() {
        // Friday 4 December 2026, 16:00 in Rome (15:00 UTC), 24 working hours:
        // Friday's last 8 hours, then Monday 7 December until 16:00.
        let from = datetime!(2026-12-04 15:00 UTC);
        let due = add_working_time(from, Duration::hours(24));
        assert_eq!(due, datetime!(2026-12-07 15:00 UTC));
        assert_eq!(working_time(from, due), Duration::hours(24));
        assert_eq!(working_days(from, datetime!(2026-12-07 14:59 UTC)), 0);
        assert_eq!(working_days(from, due), 1);
    }

    #[test]
    fn counting_skips_a_holiday_and_the_weekend_after() {
        // Monday 7 December 2026, 10:00 Rome; Tuesday 8 is the Immacolata.
        // 72 working hours: the rest of Monday (14 h), then Wednesday,
        // Thursday (48 h), then Friday until 10:00 (10 h).
        let from = datetime!(2026-12-07 09:00 UTC);
        assert!(is_holiday(date!(2026 - 12 - 08)));
        let due = add_working_time(from, Duration::hours(72));
        assert_eq!(due, datetime!(2026-12-11 09:00 UTC));
        // Christmas: Thursday 24 at 12:00 Rome + 24 h -> Monday 28 at 12:00
        // (25 and 26 holidays, 27 Sunday).
        let from = datetime!(2026-12-24 11:00 UTC);
        assert_eq!(
            add_working_time(from, Duration::hours(24)),
            datetime!(2026-12-28 11:00 UTC)
        );
    }

    #[test]
    fn summer_time_is_two_hours_ahead() {
        assert_eq!(
            rome_offset(datetime!(2026-07-01 12:00 UTC)).whole_hours(),
            2
        );
        assert_eq!(
            rome_offset(datetime!(2026-12-01 12:00 UTC)).whole_hours(),
            1
        );
        // Friday 3 July 2026, 23:30 UTC is already Saturday in Rome.
        assert!(!is_working_day(
            local(datetime!(2026-07-03 23:30 UTC)).date()
        ));
    }
}
