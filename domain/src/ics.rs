//! iCalendar (RFC 5545) text for calendar feeds: events as a calendar client shows them, escaped
//! and folded as the RFC says, times in UTC (unambiguous in every client, whatever its zone). Pure.
//!
//! Each occurrence of a series is its own event (its own UID, the appointment's id): a moved or
//! cancelled occurrence is then just that event changed, which every client shows right (recurrence
//! rules with overrides are where clients disagree).

use std::fmt::Write as _;

/// One event of a feed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Stable across fetches and changes (the appointment's id).
    pub uid: String,
    /// Rises with every change (the appointment's version), so clients take the new one.
    pub sequence: i64,
    /// When the event was created (unix seconds).
    pub stamp: i64,
    pub start: i64,
    pub end: i64,
    pub summary: String,
    pub location: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
    pub cancelled: bool,
}

/// A whole calendar: `name` is what a client calls the subscription.
pub fn calendar(name: &str, events: &[Event]) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&fold(&text));
        out.push_str("\r\n");
    };
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Practica//Calendar feed//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line("METHOD:PUBLISH".into());
    line(format!("X-WR-CALNAME:{}", escape(name)));
    line("REFRESH-INTERVAL;VALUE=DURATION:PT15M".into());
    line("X-PUBLISHED-TTL:PT15M".into());
    for e in events {
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}", escape(&e.uid)));
        line(format!("SEQUENCE:{}", e.sequence.max(0)));
        line(format!("DTSTAMP:{}", utc(e.stamp)));
        line(format!("DTSTART:{}", utc(e.start)));
        line(format!("DTEND:{}", utc(e.end)));
        line(format!("SUMMARY:{}", escape(&e.summary)));
        if let Some(location) = &e.location {
            line(format!("LOCATION:{}", escape(location)));
        }
        if let Some(description) = &e.description {
            line(format!("DESCRIPTION:{}", escape(description)));
        }
        if let Some(url) = &e.url {
            line(format!("URL:{url}"));
        }
        line(format!(
            "STATUS:{}",
            if e.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ));
        line("TRANSP:OPAQUE".into());
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

/// A UTC date-time, `YYYYMMDDTHHMMSSZ`.
fn utc(t: i64) -> String {
    match jiff::Timestamp::from_second(t) {
        Ok(ts) => ts.strftime("%Y%m%dT%H%M%SZ").to_string(),
        Err(_) => "19700101T000000Z".into(),
    }
}

/// TEXT escaping (RFC 5545 3.3.11); control characters other than newlines are dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Lines longer than 75 octets folded (CRLF and a space), never inside a UTF-8 character.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + line.len() / 70 * 3);
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out
}

/// A name's initials as a calendar shows them ("Jane Demo-Patient" → "J. D."): the first letter
/// of each of at most three words.
pub fn initials(name: &str) -> String {
    let mut out = String::new();
    for word in name.split_whitespace().take(3) {
        if let Some(c) = word.chars().find(|c| c.is_alphabetic()) {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{}.", c.to_uppercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn event(summary: &str) -> Event {
        Event {
            uid: "apt_1@practica".into(),
            sequence: 2,
            stamp: 1_795_438_800,
            start: 1_795_525_200,
            end: 1_795_527_000,
            summary: summary.into(),
            location: Some("12 River Street, Springfield".into()),
            url: None,
            description: None,
            cancelled: false,
        }
    }

    #[test]
    fn an_event_in_utc_with_its_text_escaped() {
        let text = calendar(
            "Dr. Rivera",
            &[event("Appointment: Follow-up; session, 30")],
        );
        assert!(text.contains("DTSTART:20261124T130000Z\r\n"), "{text}");
        assert!(text.contains("DTEND:20261124T133000Z\r\n"), "{text}");
        assert!(text.contains("SUMMARY:Appointment: Follow-up\\; session\\, 30\r\n"));
        assert!(text.contains("LOCATION:12 River Street\\, Springfield\r\n"));
        assert!(text.contains("STATUS:CONFIRMED\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
    }

    #[test]
    fn initials_of_names() {
        assert_eq!(initials("Jane Demo-Patient"), "J. D.");
        assert_eq!(initials("  émile   zola "), "É. Z.");
        assert_eq!(initials(""), "");
    }

    proptest! {
        /// Every physical line is at most 75 octets, and unfolding gives the text back.
        #[test]
        fn folding_keeps_lines_short_and_text_whole(summary in "\\PC{0,300}") {
            let text = calendar("x", &[event(&summary)]);
            for line in text.split("\r\n") {
                prop_assert!(line.len() <= 75, "{}", line);
            }
            let unfolded = text.replace("\r\n ", "");
            let expected = format!("SUMMARY:{}\r\n", escape(&summary));
            prop_assert!(unfolded.contains(&expected));
        }
    }
}
