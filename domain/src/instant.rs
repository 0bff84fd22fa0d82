//! RFC 3339 timestamps as clients send them: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
//!
//! The offset is required (a time without one names no instant). `t`/`z` may be lower case, the
//! fraction has 1 to 9 digits: JavaScript's `toISOString()` (`.123Z`), Python's `isoformat()`
//! (`.123456+00:00`) and Go's `time.RFC3339Nano` all parse. The parser reads bytes through `get`,
//! never by index, so no input can make it panic.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::Offset;

/// A parsed instant: whole seconds since the epoch and the fraction's nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instant {
    pub second: i64,
    pub nanos: u32,
}

/// Longest text accepted: a 9-digit fraction and a numeric offset.
const MAX_LEN: usize = 35;

fn digits(bytes: &[u8], from: usize, len: usize) -> Option<i32> {
    let part = bytes.get(from..from + len)?;
    part.iter().try_fold(0i32, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i32::from(b - b'0'))
    })
}

fn byte_is(bytes: &[u8], at: usize, allowed: &[u8]) -> bool {
    bytes.get(at).is_some_and(|b| allowed.contains(b))
}

/// Parses an RFC 3339 timestamp with an explicit offset; `None` for anything else.
pub fn parse(text: &str) -> Option<Instant> {
    let b = text.as_bytes();
    if b.len() > MAX_LEN {
        return None;
    }
    let separators = byte_is(b, 4, b"-")
        && byte_is(b, 7, b"-")
        && byte_is(b, 10, b"Tt")
        && byte_is(b, 13, b":")
        && byte_is(b, 16, b":");
    if !separators {
        return None;
    }
    let (year, month, day) = (digits(b, 0, 4)?, digits(b, 5, 2)?, digits(b, 8, 2)?);
    let (hour, minute, second) = (digits(b, 11, 2)?, digits(b, 14, 2)?, digits(b, 17, 2)?);
    let mut at = 19;
    let mut nanos = 0u32;
    if byte_is(b, at, b".") {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        let len = at - start;
        if !(1..=9).contains(&len) {
            return None;
        }
        let fraction = u32::try_from(digits(b, start, len)?).ok()?;
        nanos = fraction * 10u32.pow(9 - u32::try_from(len).ok()?);
    }
    let offset_seconds = match b.get(at..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let (h, m) = (digits(b, at + 1, 2)?, digits(b, at + 4, 2)?);
            if h > 23 || m > 59 {
                return None;
            }
            let magnitude = h * 3600 + m * 60;
            if *sign == b'-' { -magnitude } else { magnitude }
        }
        _ => return None,
    };
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let civil = DateTime::new(
        i16::try_from(year).ok()?,
        i8::try_from(month).ok()?,
        i8::try_from(day).ok()?,
        i8::try_from(hour).ok()?,
        i8::try_from(minute).ok()?,
        i8::try_from(second).ok()?,
        0,
    )
    .ok()?;
    let offset = Offset::from_seconds(offset_seconds).ok()?;
    let ts: Timestamp = offset.to_timestamp(civil).ok()?;
    Some(Instant {
        second: ts.as_second(),
        nanos,
    })
}

/// An instant (unix seconds) as RFC 3339 with `zone`'s offset at that instant: how times are shown
/// to people of the practice and its patients.
pub fn render_in(t: i64, zone: &jiff::tz::TimeZone) -> String {
    render(t, Some(zone))
}

/// An instant (unix seconds) as RFC 3339 in UTC (`Z`): how ledger times are shown.
pub fn render_utc(t: i64) -> String {
    render(t, None)
}

fn render(t: i64, zone: Option<&jiff::tz::TimeZone>) -> String {
    match (jiff::Timestamp::from_second(t), zone) {
        (Ok(ts), Some(zone)) => ts.display_with_offset(zone.to_offset(ts)).to_string(),
        (Ok(ts), None) => ts.to_string(),
        // Outside jiff's range (year ±9999): no real record holds such a time.
        (Err(_), _) => t.to_string(),
    }
}

/// `t` in words in `zone`, as a printed page says it: "Monday, December 7, 2026 at 10:05 AM EST".
pub fn render_words(t: i64, zone: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_second(t) {
        Ok(ts) => ts
            .to_zoned(zone.clone())
            .strftime("%A, %B %-d, %Y at %-I:%M %p %Z")
            .to_string(),
        Err(_) => render_utc(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MONDAY_14_UTC: i64 = 1_795_442_400;

    #[test]
    fn instants_render_with_the_practice_offset() {
        let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
        assert_eq!(render_in(1_795_442_400, &zone), "2026-11-23T09:00:00-05:00");
        assert_eq!(render_in(1_782_223_200, &zone), "2026-06-23T10:00:00-04:00");
    }

    #[test]
    fn utc_renders_with_z() {
        assert_eq!(render_utc(1_795_442_400), "2026-11-23T14:00:00Z");
    }

    #[test]
    fn what_real_clients_send() {
        let at = |second, nanos| Some(Instant { second, nanos });
        // JavaScript: new Date(...).toISOString()
        assert_eq!(
            parse("2026-11-23T14:00:00.123Z"),
            at(MONDAY_14_UTC, 123_000_000)
        );
        assert_eq!(parse("2026-11-23T14:00:00.000Z"), at(MONDAY_14_UTC, 0));
        // Python: datetime.isoformat() on an aware datetime, with and without microseconds
        assert_eq!(
            parse("2026-11-23T14:00:00.123456+00:00"),
            at(MONDAY_14_UTC, 123_456_000)
        );
        assert_eq!(parse("2026-11-23T09:00:00-05:00"), at(MONDAY_14_UTC, 0));
        // Go: time.RFC3339Nano (trailing zeros trimmed)
        assert_eq!(
            parse("2026-11-23T14:00:00.123456789Z"),
            at(MONDAY_14_UTC, 123_456_789)
        );
        assert_eq!(
            parse("2026-11-23T09:00:00.5-05:00"),
            at(MONDAY_14_UTC, 500_000_000)
        );
        assert_eq!(parse("2026-11-23t14:00:00z"), at(MONDAY_14_UTC, 0));
    }

    #[test]
    fn what_is_refused() {
        for bad in [
            "",
            "+1",
            "-",
            "+01",
            "2026-11-23",
            "2026-11-23T14:00:00",
            "2026-11-23T14:00Z",
            "2026-11-23 14:00:00Z",
            "2026-11-23T14:00:00.Z",
            "2026-11-23T14:00:00.1234567890Z",
            "2026-11-23T14:00:00+0500",
            "2026-11-23T14:00:00+05",
            "2026-11-23T14:00:00+24:00",
            "2026-11-23T24:00:00Z",
            "2026-11-23T14:60:00Z",
            "2026-11-23T14:00:60Z",
            "2026-02-30T14:00:00Z",
            "2026-13-01T14:00:00Z",
            "+2026-11-23T14:00:00Z",
            "2026-11-23T14:00:00-05:00[America/New_York]",
            "2026-11-23T14:00:00Zjunk",
            "２０２６-11-23T14:00:00Z",
            "2026-11-23T14:00:00.１Z",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn any_text_parses_or_is_refused(text in ".{0,40}") {
            let _ = parse(&text);
        }

        #[test]
        fn any_bytes_of_the_right_shape_parse_or_are_refused(
            text in "[0-9+\\-:.TZtz ]{0,36}"
        ) {
            let _ = parse(&text);
        }

        #[test]
        fn rendered_instants_round_trip(
            second in 0i64..4_102_444_800,
            nanos in 0u32..1_000_000_000,
            offset_minutes in -(23 * 60 + 59)..=(23 * 60 + 59i32),
        ) {
            let ts = Timestamp::new(second, i32::try_from(nanos).unwrap()).unwrap();
            let offset = Offset::from_seconds(offset_minutes * 60).unwrap();
            let text = ts.display_with_offset(offset).to_string();
            prop_assert_eq!(parse(&text), Some(Instant { second, nanos }), "{}", text);
        }
    }
}
