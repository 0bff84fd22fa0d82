//! Busy time from a provider's other calendars: the events of an iCalendar (RFC 5545) file their
//! calendar app publishes, as the blocks of time they fill in a window. Recurring events are
//! expanded by the `rrule` crate (RRULE, RDATE, EXDATE, in the event's own zone, so 09:00 stays
//! 09:00 across DST); a `RECURRENCE-ID` override replaces the instance it names (moved, or gone if
//! cancelled); all-day and floating times are read in the practice's zone; free (`TRANSP:TRANSPARENT`)
//! and cancelled events block nothing. Pure: the file in, the blocks out.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use std::collections::{BTreeMap, BTreeSet};

/// The most instances a file may expand to in a window (a provider's calendar, not a firehose).
pub const MAX_INSTANCES: usize = 5_000;
/// The most instances one recurring event may be walked through, from its first to the window's
/// end (fifty years of a daily event), and the most recurring events a file may hold: together they
/// bound what a hostile file can make the sweep compute.
pub const MAX_STEPS: usize = 20_000;
pub const MAX_RECURRING: usize = 500;

/// Why a file gives no blocks at all (its events' own faults are counted, not fatal).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IcsError {
    #[error("The answer is not an iCalendar file (no BEGIN:VCALENDAR).")]
    NotCalendar,
    #[error(
        "The calendar has too many events (more than 5,000 in the coming months, or 500 repeating ones)."
    )]
    TooManyEvents,
}

/// The blocks (unix seconds, `[start, end)`, sorted and merged) and how many events were skipped
/// because they could not be read (a broken date, a zone nobody knows).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Busy {
    pub blocks: Vec<(i64, i64)>,
    pub skipped: usize,
}

/// One content line: name (upper case), parameters, value; folded lines already joined.
#[derive(Clone, Debug)]
struct Line {
    name: String,
    params: Vec<(String, String)>,
    value: String,
}

impl Line {
    fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The line as RFC 5545 text again (for the recurrence set's parser).
    fn text(&self) -> String {
        let mut out = self.name.clone();
        for (n, v) in &self.params {
            out.push(';');
            out.push_str(n);
            out.push('=');
            out.push_str(v);
        }
        out.push(':');
        out.push_str(&self.value);
        out
    }
}

fn lines(text: &str) -> Vec<Line> {
    let mut joined: Vec<String> = Vec::new();
    for raw in text.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match raw.chars().next() {
            Some(' ' | '\t') if !joined.is_empty() => {
                if let Some(last) = joined.last_mut() {
                    last.push_str(&raw[1..]);
                }
            }
            _ => joined.push(raw.to_owned()),
        }
    }
    joined
        .into_iter()
        .filter_map(|l| {
            let (head, value) = l.split_once(':')?;
            let mut parts = head.split(';');
            let name = parts.next()?.trim().to_ascii_uppercase();
            let params = parts
                .filter_map(|p| {
                    let (n, v) = p.split_once('=')?;
                    Some((
                        n.trim().to_ascii_uppercase(),
                        v.trim().trim_matches('"').to_owned(),
                    ))
                })
                .collect();
            Some(Line {
                name,
                params,
                value: value.trim().to_owned(),
            })
        })
        .collect()
}

#[derive(Clone, Debug, Default)]
struct Event {
    uid: String,
    start: Option<Line>,
    end: Option<Line>,
    duration: Option<String>,
    rrules: Vec<Line>,
    rdates: Vec<Line>,
    exdates: Vec<Line>,
    recurrence_id: Option<Line>,
    free: bool,
}

fn events(lines: &[Line]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut current: Option<Event> = None;
    // Components inside an event (alarms) are skipped whole.
    let mut nested = 0usize;
    for line in lines {
        match (line.name.as_str(), line.value.to_ascii_uppercase().as_str()) {
            ("BEGIN", "VEVENT") if current.is_none() => current = Some(Event::default()),
            ("BEGIN", _) if current.is_some() => nested += 1,
            ("END", "VEVENT") if nested == 0 => {
                if let Some(e) = current.take() {
                    out.push(e);
                }
            }
            ("END", _) if current.is_some() && nested > 0 => nested -= 1,
            _ if nested > 0 => {}
            _ => {
                let Some(e) = current.as_mut() else { continue };
                match line.name.as_str() {
                    "UID" => e.uid = line.value.clone(),
                    "DTSTART" => e.start = Some(line.clone()),
                    "DTEND" => e.end = Some(line.clone()),
                    "DURATION" => e.duration = Some(line.value.clone()),
                    "RRULE" => e.rrules.push(line.clone()),
                    "RDATE" => e.rdates.push(line.clone()),
                    "EXDATE" => e.exdates.push(line.clone()),
                    "RECURRENCE-ID" => e.recurrence_id = Some(line.clone()),
                    "TRANSP" => e.free |= line.value.eq_ignore_ascii_case("TRANSPARENT"),
                    "STATUS" => e.free |= line.value.eq_ignore_ascii_case("CANCELLED"),
                    _ => {}
                }
            }
        }
    }
    out
}

/// A date or date-time value as an instant: UTC (`Z`), in its `TZID`, or (floating, all-day) in
/// `zone`. Also says whether it was a date (all-day).
fn instant(line: &Line, value: &str, zone: &TimeZone) -> Option<(i64, bool)> {
    let date_only = line
        .param("VALUE")
        .is_some_and(|v| v.eq_ignore_ascii_case("DATE"))
        || (value.len() == 8 && value.bytes().all(|b| b.is_ascii_digit()));
    if date_only {
        let d = Date::strptime("%Y%m%d", value).ok()?;
        let t = zone.to_ambiguous_timestamp(d.to_datetime(jiff::civil::Time::midnight()));
        return Some((t.compatible().ok()?.as_second(), true));
    }
    if let Some(utc) = value.strip_suffix('Z') {
        let dt = DateTime::strptime("%Y%m%dT%H%M%S", utc).ok()?;
        return Some((TimeZone::UTC.to_timestamp(dt).ok()?.as_second(), false));
    }
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", value).ok()?;
    let tz = match line.param("TZID") {
        Some(name) => TimeZone::get(name).ok()?,
        None => zone.clone(),
    };
    let t = tz.to_ambiguous_timestamp(dt).compatible().ok()?;
    Some((t.as_second(), false))
}

/// A line rewritten so the recurrence parser reads it in the right zone: floating and all-day
/// values get the practice's zone (never the machine's).
fn zoned_text(line: &Line, zone: &TimeZone) -> Option<String> {
    let zone_name = zone.iana_name().unwrap_or("UTC");
    let values: Vec<&str> = line.value.split(',').map(str::trim).collect();
    let all_utc = values.iter().all(|v| v.ends_with('Z'));
    if line.param("TZID").is_some() || all_utc {
        let known = line.param("TZID").is_none_or(|n| TimeZone::get(n).is_ok());
        return known.then(|| line.text());
    }
    let values: Vec<String> = values
        .iter()
        .map(|v| {
            if v.len() == 8 {
                format!("{v}T000000")
            } else {
                (*v).to_owned()
            }
        })
        .collect();
    Some(format!(
        "{};TZID={zone_name}:{}",
        line.name,
        values.join(",")
    ))
}

/// The length of an event: DTEND minus DTSTART, or DURATION, or (RFC 5545) a day for an all-day
/// event and nothing for a timed one.
fn length(e: &Event, start: i64, all_day: bool, zone: &TimeZone) -> Option<i64> {
    if let Some(end) = &e.end {
        let (t, _) = instant(end, &end.value, zone)?;
        return Some((t - start).max(0));
    }
    if let Some(d) = &e.duration {
        let span: jiff::Span = d.parse().ok()?;
        return span.total(jiff::Unit::Second).ok().map(|s| s as i64);
    }
    Some(if all_day { 86_400 } else { 0 })
}

/// The busy blocks of `text` in `[from, to)`, all-day and floating times read in `zone`.
pub fn busy(text: &str, zone: &TimeZone, from: i64, to: i64) -> Result<Busy, IcsError> {
    let lines = lines(text);
    if !lines
        .iter()
        .any(|l| l.name == "BEGIN" && l.value.eq_ignore_ascii_case("VCALENDAR"))
    {
        return Err(IcsError::NotCalendar);
    }
    let all = events(&lines);
    if all.iter().filter(|e| !e.rrules.is_empty()).count() > MAX_RECURRING {
        return Err(IcsError::TooManyEvents);
    }
    let mut skipped = 0;
    // Instances an override replaces: uid → the instants named by RECURRENCE-ID.
    let mut replaced: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for e in all.iter().filter(|e| e.recurrence_id.is_some()) {
        match e
            .recurrence_id
            .as_ref()
            .and_then(|r| instant(r, &r.value, zone))
        {
            Some((t, _)) => {
                replaced.entry(e.uid.clone()).or_default().insert(t);
            }
            None => skipped += 1,
        }
    }
    let mut blocks: Vec<(i64, i64)> = Vec::new();
    for e in &all {
        let Some(start_line) = &e.start else {
            skipped += 1;
            continue;
        };
        let Some((start, all_day)) = instant(start_line, &start_line.value, zone) else {
            skipped += 1;
            continue;
        };
        let Some(len) = length(e, start, all_day, zone) else {
            skipped += 1;
            continue;
        };
        let starts: Vec<i64> =
            if e.rrules.is_empty() && e.rdates.is_empty() || e.recurrence_id.is_some() {
                vec![start]
            } else {
                match expand(e, start_line, zone, from - len, to) {
                    Some(s) => s,
                    None => {
                        skipped += 1;
                        continue;
                    }
                }
            };
        if e.free {
            continue;
        }
        let gone = if e.recurrence_id.is_none() {
            replaced.get(&e.uid)
        } else {
            None
        };
        for s in starts {
            if gone.is_some_and(|g| g.contains(&s)) {
                continue;
            }
            let (a, b) = (s, s + len);
            if b > from && a < to && b > a {
                blocks.push((a.max(from), b.min(to)));
            }
            if blocks.len() > MAX_INSTANCES {
                return Err(IcsError::TooManyEvents);
            }
        }
    }
    blocks.sort_unstable();
    let mut merged: Vec<(i64, i64)> = Vec::with_capacity(blocks.len());
    for (a, b) in blocks {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    Ok(Busy {
        blocks: merged,
        skipped,
    })
}

/// The starts of a recurring event's instances in `[from, to)`, by the `rrule` crate; None when
/// the event cannot be read or would cost too much to expand: a rule by the second or minute, or
/// more than [`MAX_STEPS`] instances from its first one to the window's end (the crate iterates
/// from DTSTART, so a daily rule from the year 1 is refused rather than walked).
fn expand(e: &Event, start: &Line, zone: &TimeZone, from: i64, to: i64) -> Option<Vec<i64>> {
    if e.rrules.iter().any(|r| {
        let rule = r.value.to_ascii_uppercase();
        rule.contains("FREQ=SECONDLY") || rule.contains("FREQ=MINUTELY")
    }) {
        return None;
    }
    let mut text = vec![zoned_text(start, zone)?];
    for r in &e.rrules {
        text.push(r.text());
    }
    for d in e.rdates.iter().chain(&e.exdates) {
        text.push(zoned_text(d, zone)?);
    }
    let set: rrule::RRuleSet = text.join("\n").parse().ok()?;
    let mut starts = Vec::new();
    for (step, instance) in set.into_iter().enumerate() {
        let t = instance.timestamp();
        if t >= to {
            break;
        }
        if step >= MAX_STEPS || starts.len() > MAX_INSTANCES {
            return None;
        }
        if t >= from {
            starts.push(t);
        }
    }
    Some(starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn t(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn calendar(events: &str) -> String {
        format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{events}END:VCALENDAR\r\n")
    }

    const WEEKLY: &str = "BEGIN:VEVENT\r\nUID:team@x\r\nDTSTART;TZID=America/New_York:20270302T090000\r\nDTEND;TZID=America/New_York:20270302T100000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Team meeting\r\nEND:VEVENT\r\n";

    #[test]
    fn a_weekly_event_stays_at_nine_across_the_march_change() {
        let got = busy(
            &calendar(WEEKLY),
            &ny(),
            t("2027-03-01T00:00:00Z"),
            t("2027-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            got.blocks,
            vec![
                (t("2027-03-02T14:00:00Z"), t("2027-03-02T15:00:00Z")),
                (t("2027-03-09T14:00:00Z"), t("2027-03-09T15:00:00Z")),
                (t("2027-03-16T13:00:00Z"), t("2027-03-16T14:00:00Z")),
                (t("2027-03-23T13:00:00Z"), t("2027-03-23T14:00:00Z")),
            ]
        );
        assert_eq!(got.skipped, 0);
    }

    #[test]
    fn an_exception_and_a_moved_occurrence() {
        let weekly = WEEKLY.replace(
            "RRULE:FREQ=WEEKLY;COUNT=4\r\n",
            "RRULE:FREQ=WEEKLY;COUNT=4\r\nEXDATE;TZID=America/New_York:20270309T090000\r\n",
        );
        let moved = "BEGIN:VEVENT\r\nUID:team@x\r\nRECURRENCE-ID;TZID=America/New_York:20270316T090000\r\nDTSTART;TZID=America/New_York:20270317T110000\r\nDTEND;TZID=America/New_York:20270317T113000\r\nEND:VEVENT\r\n";
        let got = busy(
            &calendar(&format!("{weekly}{moved}")),
            &ny(),
            t("2027-03-01T00:00:00Z"),
            t("2027-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            got.blocks,
            vec![
                (t("2027-03-02T14:00:00Z"), t("2027-03-02T15:00:00Z")),
                (t("2027-03-17T15:00:00Z"), t("2027-03-17T15:30:00Z")),
                (t("2027-03-23T13:00:00Z"), t("2027-03-23T14:00:00Z")),
            ]
        );
    }

    #[test]
    fn an_all_day_event_fills_the_practices_day_and_free_or_cancelled_ones_nothing() {
        let events = "BEGIN:VEVENT\r\nUID:a@x\r\nDTSTART;VALUE=DATE:20270305\r\nDTEND;VALUE=DATE:20270306\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:b@x\r\nDTSTART:20270308T150000Z\r\nDTEND:20270308T160000Z\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:c@x\r\nDTSTART:20270308T170000Z\r\nDTEND:20270308T180000Z\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n";
        let got = busy(
            &calendar(events),
            &ny(),
            t("2027-03-01T00:00:00Z"),
            t("2027-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            got.blocks,
            vec![(t("2027-03-05T05:00:00Z"), t("2027-03-06T05:00:00Z"))]
        );
    }

    #[test]
    fn folded_lines_alarms_and_a_broken_event() {
        let events = "BEGIN:VEVENT\r\nUID:f@x\r\nDTSTART:20270310T1\r\n 50000Z\r\nDURATION:PT45M\r\nBEGIN:VALARM\r\nTRIGGER:-PT15M\r\nDTSTART:19990101T000000Z\r\nEND:VALARM\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:g@x\r\nDTSTART:not-a-date\r\nEND:VEVENT\r\n\
BEGIN:VEVENT\r\nUID:h@x\r\nDTSTART;TZID=Mars/Olympus:20270310T090000\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n";
        let got = busy(
            &calendar(events),
            &ny(),
            t("2027-03-01T00:00:00Z"),
            t("2027-04-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(
            got.blocks,
            vec![(t("2027-03-10T15:00:00Z"), t("2027-03-10T15:45:00Z"))]
        );
        assert_eq!(got.skipped, 2);
    }

    #[test]
    fn not_a_calendar_and_an_endless_rule() {
        assert_eq!(
            busy("<html>hello</html>", &ny(), 0, 1),
            Err(IcsError::NotCalendar)
        );
        let (from, to) = (t("2027-03-01T00:00:00Z"), t("2027-04-01T00:00:00Z"));
        // Rules that would make the expansion walk for hours are not walked: counted unreadable.
        let every_minute = "BEGIN:VEVENT\r\nUID:m@x\r\nDTSTART:20270301T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n";
        let every_second_since_year_one = "BEGIN:VEVENT\r\nUID:s@x\r\nDTSTART:00010101T000000Z\r\nDURATION:PT1S\r\nRRULE:FREQ=SECONDLY\r\nEND:VEVENT\r\n";
        let daily_since_1800 = "BEGIN:VEVENT\r\nUID:d@x\r\nDTSTART:18000101T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n";
        let hourly_this_month = "BEGIN:VEVENT\r\nUID:h@x\r\nDTSTART:20270301T000000Z\r\nDURATION:PT5M\r\nRRULE:FREQ=HOURLY;COUNT=3\r\nEND:VEVENT\r\n";
        let text = calendar(
            &[
                every_minute,
                every_second_since_year_one,
                daily_since_1800,
                hourly_this_month,
            ]
            .concat(),
        );
        let started = std::time::Instant::now();
        let got = busy(&text, &ny(), from, to).unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(got.skipped, 3);
        assert_eq!(got.blocks.len(), 3);
        // Too many repeating events, or too many instances in the window: the file gives nothing.
        let many: String = (0..=MAX_RECURRING)
            .map(|i| format!("BEGIN:VEVENT\r\nUID:{i}@x\r\nDTSTART:20270301T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;COUNT=2\r\nEND:VEVENT\r\n"))
            .collect();
        assert_eq!(
            busy(&calendar(&many), &ny(), from, to),
            Err(IcsError::TooManyEvents)
        );
        let single: String = (0..=MAX_INSTANCES as i64)
            .map(|i| {
                format!(
                    "BEGIN:VEVENT\r\nUID:{i}@x\r\nDTSTART:{}\r\nDURATION:PT1M\r\nEND:VEVENT\r\n",
                    jiff::Timestamp::from_second(from + i * 120)
                        .unwrap()
                        .strftime("%Y%m%dT%H%M%SZ")
                )
            })
            .collect();
        assert_eq!(
            busy(&calendar(&single), &ny(), from, to),
            Err(IcsError::TooManyEvents)
        );
    }

    use proptest::prelude::*;

    proptest! {
        /// A weekly event in any of these zones, from any day of two years, keeps its wall time
        /// on every instance (DST or not), and an RDATE adds one instance.
        #[test]
        fn weekly_instances_keep_their_wall_time(
            day in 0i64..730,
            minutes in (7 * 60i64..19 * 60).prop_map(|m| m - m % 15),
            zone_name in proptest::sample::select(vec!["America/New_York", "Europe/London", "Australia/Sydney", "UTC"]),
        ) {
            let zone = TimeZone::get(zone_name).unwrap();
            let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
            let wall = jiff::civil::time((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
            let stamp = |d: Date| d.to_datetime(wall).strftime("%Y%m%dT%H%M%S").to_string();
            let extra = date.checked_add(jiff::Span::new().days(3)).unwrap();
            let event = format!(
                "BEGIN:VEVENT\r\nUID:p@x\r\nDTSTART;TZID={zone_name}:{}\r\nDURATION:PT30M\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\nRDATE;TZID={zone_name}:{}\r\nEND:VEVENT\r\n",
                stamp(date), stamp(extra)
            );
            let from = zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight())).compatible().unwrap().as_second();
            let got = busy(&calendar(&event), &zone, from, from + 80 * 86_400).unwrap();
            prop_assert_eq!(got.blocks.len(), 11);
            for (a, b) in &got.blocks {
                prop_assert_eq!(b - a, 1800);
                let local = zone.to_datetime(jiff::Timestamp::from_second(*a).unwrap());
                prop_assert_eq!(local.time(), wall);
            }
        }
    }
}
