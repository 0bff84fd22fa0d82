//! The clock port: domain code asks it for the time, so tests can set it. Instants are
//! `jiff::Timestamp`s (the one time library: it also carries the practices' time zones).

use std::sync::Mutex;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// The system clock moved by a fixed offset: it runs from the instant it was started at (a local
/// server showing a practice at another time: `practica serve --clock-start`).
#[derive(Clone, Copy, Debug)]
pub struct ShiftedClock(SignedDuration);

impl ShiftedClock {
    /// A clock that reads `start` now and runs on from there.
    pub fn starting_at(start: Timestamp) -> Self {
        ShiftedClock(start.duration_since(Timestamp::now()))
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
            .checked_add(self.0)
            .unwrap_or(Timestamp::MAX)
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Mutex::new(start))
    }

    /// A clock at `second` seconds since the Unix epoch (tests and benchmarks).
    ///
    /// # Panics
    /// When `second` is outside the years -9999 to 9999.
    pub fn at_second(second: i64) -> Self {
        Self::new(Timestamp::from_second(second).expect("a second within jiff's range"))
    }

    pub fn advance(&self, by: SignedDuration) {
        let mut now = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *now = now.saturating_add(by).unwrap_or(*now);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The civil date and time of `at` in UTC (partitions, counters and log days are UTC days).
pub fn utc(at: Timestamp) -> DateTime {
    TimeZone::UTC.to_datetime(at)
}

/// The UTC day of `at`.
pub fn utc_day(at: Timestamp) -> Date {
    utc(at).date()
}

/// The UTC hour of `at`, 0 to 23.
pub fn utc_hour(at: Timestamp) -> u8 {
    u8::try_from(utc(at).hour()).unwrap_or(0)
}

/// The first instant of the UTC day `day` (the last representable instant for 9999-12-31, whose
/// midnight is beyond jiff's range).
pub fn utc_start(day: Date) -> Timestamp {
    TimeZone::UTC
        .to_timestamp(day.to_datetime(Time::midnight()))
        .unwrap_or(Timestamp::MAX)
}

/// A day written `YYYY-MM-DD` (four-digit year, two-digit month and day), nothing else.
pub fn parse_day(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    let shaped = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shaped {
        return None;
    }
    let number = |range: std::ops::Range<usize>| text.get(range)?.parse::<i16>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    Date::new(year, i8::try_from(month).ok()?, i8::try_from(day).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::at_second(1_795_000_000);
        assert_eq!(clock.now().as_second(), 1_795_000_000);
        clock.advance(SignedDuration::from_mins(5));
        assert_eq!(clock.now().as_second(), 1_795_000_300);
    }

    #[test]
    fn utc_days_turn_at_midnight_utc() {
        let before = Timestamp::from_second(1_795_391_999).unwrap(); // 2026-11-22T23:59:59Z
        assert_eq!(utc_day(before).to_string(), "2026-11-22");
        assert_eq!(utc(before).hour(), 23);
        let after = Timestamp::from_second(1_795_392_000).unwrap();
        assert_eq!(utc_day(after).to_string(), "2026-11-23");
        assert_eq!(
            utc_start(utc_day(before)).as_second(),
            1_795_392_000 - 86_400
        );
        assert_eq!(utc_start(jiff::civil::date(9999, 12, 31)), Timestamp::MAX);
    }

    #[test]
    fn days_parse_in_one_shape_only() {
        assert_eq!(
            parse_day("2026-11-22"),
            Some(jiff::civil::date(2026, 11, 22))
        );
        assert_eq!(
            parse_day("2024-02-29"),
            Some(jiff::civil::date(2024, 2, 29))
        );
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "2026-11-31",
            "2026-1-22",
            "26-11-22",
            "2026-11-22T00:00",
            "2026/11/22",
            "+202-11-22",
            "\u{ff12}026-11-22",
            "",
            "0000-00-00",
        ] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
    }
}
