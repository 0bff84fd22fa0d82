//! Scheduling rules and slot arithmetic, pure and synchronous: a provider's weekly hours, breaks
//! and date exceptions, read in the practice's time zone, become instants; the bookable starts are
//! the grid of those hours minus breaks, notice, advance window and occupied time.
//!
//! Time is kept as Unix seconds inside this module. Wall-clock times are converted per local date,
//! so a DST change is just a day whose hours are an hour shorter or longer. Where a wall time falls
//! in a DST gap or fold, working hours take the reading that keeps every minute inside their
//! wall-clock bounds and breaks take the reading that covers the most time.
//!
//! Occupied time (an appointment plus its buffers) is locked in [`UNIT_SECS`] units; every rule is
//! a multiple of five minutes and every modern UTC offset a multiple of fifteen, so two occupied
//! spans overlap exactly when they share a unit.

use std::collections::BTreeSet;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Granularity of slot locks.
pub const UNIT_SECS: i64 = 300;
/// Longest service: with both buffers at their maximum an appointment occupies at most four hours,
/// 48 lock units, so a reschedule (old and new units) fits one 100-item transaction.
pub const MAX_SERVICE_MINUTES: u16 = 180;
pub const MAX_BUFFER_MINUTES: u16 = 30;
/// Longest availability query.
pub const MAX_RANGE_SECS: i64 = 31 * 86_400;

/// A wall-clock time of day, `HH:MM`, on the five-minute grid; `24:00` ends a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WallTime(u16);

impl WallTime {
    pub fn parse(s: &str) -> Option<WallTime> {
        let (h, m) = s.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        let minutes = h.checked_mul(60)?.checked_add(m)?;
        (m < 60 && minutes <= 1440 && minutes.is_multiple_of(5)).then_some(WallTime(minutes))
    }
    pub fn minutes(self) -> u16 {
        self.0
    }
    pub fn from_minutes(minutes: u16) -> Option<WallTime> {
        (minutes <= 1440 && minutes.is_multiple_of(5)).then_some(WallTime(minutes))
    }
}

impl Serialize for WallTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:02}:{:02}", self.0 / 60, self.0 % 60))
    }
}

impl<'de> Deserialize<'de> for WallTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        WallTime::parse(&s).ok_or_else(|| {
            serde::de::Error::custom("a time is HH:MM on the five-minute grid, 00:00 to 24:00")
        })
    }
}

/// `[start, end)` in wall-clock time within one day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "IntervalWire")]
pub struct WallInterval {
    pub start: WallTime,
    pub end: WallTime,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntervalWire {
    start: WallTime,
    end: WallTime,
}

impl TryFrom<IntervalWire> for WallInterval {
    type Error = &'static str;
    fn try_from(w: IntervalWire) -> Result<Self, Self::Error> {
        if w.start < w.end {
            Ok(WallInterval {
                start: w.start,
                end: w.end,
            })
        } else {
            Err("an interval's start is before its end")
        }
    }
}

/// Intervals per weekday.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Week {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mon: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tue: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wed: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thu: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fri: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sat: Vec<WallInterval>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sun: Vec<WallInterval>,
}

impl Week {
    /// The same intervals on each of `days`.
    pub fn on(days: &[Weekday], intervals: &[WallInterval]) -> Week {
        let mut week = Week::default();
        for day in days {
            let slot = match day {
                Weekday::Monday => &mut week.mon,
                Weekday::Tuesday => &mut week.tue,
                Weekday::Wednesday => &mut week.wed,
                Weekday::Thursday => &mut week.thu,
                Weekday::Friday => &mut week.fri,
                Weekday::Saturday => &mut week.sat,
                Weekday::Sunday => &mut week.sun,
            };
            *slot = intervals.to_vec();
        }
        week
    }

    pub fn day(&self, weekday: Weekday) -> &[WallInterval] {
        match weekday {
            Weekday::Monday => &self.mon,
            Weekday::Tuesday => &self.tue,
            Weekday::Wednesday => &self.wed,
            Weekday::Thursday => &self.thu,
            Weekday::Friday => &self.fri,
            Weekday::Saturday => &self.sat,
            Weekday::Sunday => &self.sun,
        }
    }
    fn days(&self) -> [&Vec<WallInterval>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
    }
}

/// A date whose hours differ from the week: closed, and/or with extra hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DateException {
    pub date: Date,
    /// The weekly hours do not apply on this date.
    #[serde(default)]
    pub closed: bool,
    /// Hours added on this date (also on a closed date).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hours: Vec<WallInterval>,
}

/// A provider's scheduling rules.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rules {
    pub hours: Week,
    #[serde(default)]
    pub breaks: Week,
    #[serde(default)]
    pub exceptions: Vec<DateException>,
    /// Spacing of bookable starts from the start of each working interval.
    #[serde(default = "default_slot_minutes")]
    pub slot_minutes: u16,
    #[serde(default)]
    pub buffer_before_minutes: u16,
    #[serde(default)]
    pub buffer_after_minutes: u16,
    #[serde(default = "default_min_notice")]
    pub min_notice_minutes: u32,
    #[serde(default = "default_max_advance")]
    pub max_advance_days: u16,
    /// Patients may cancel or reschedule until this long before the start; staff at any time.
    #[serde(default = "default_cancel_cutoff")]
    pub cancel_cutoff_hours: u16,
}

fn default_slot_minutes() -> u16 {
    15
}
fn default_min_notice() -> u32 {
    120
}
fn default_max_advance() -> u16 {
    90
}
fn default_cancel_cutoff() -> u16 {
    24
}

impl Rules {
    /// The checks serde cannot express. The error text names the rule, never a value.
    pub fn validate(&self) -> Result<(), &'static str> {
        if !(5..=240).contains(&self.slot_minutes) || !self.slot_minutes.is_multiple_of(5) {
            return Err("slotMinutes is a multiple of 5 from 5 to 240");
        }
        for b in [self.buffer_before_minutes, self.buffer_after_minutes] {
            if b > MAX_BUFFER_MINUTES || !b.is_multiple_of(5) {
                return Err("buffers are multiples of 5 from 0 to 30 minutes");
            }
        }
        if self.min_notice_minutes > 30 * 24 * 60 {
            return Err("minNoticeMinutes is at most 30 days");
        }
        if !(1..=365).contains(&self.max_advance_days) {
            return Err("maxAdvanceDays is from 1 to 365");
        }
        if self.cancel_cutoff_hours > 720 {
            return Err("cancelCutoffHours is at most 720");
        }
        let too_many = |days: [&Vec<WallInterval>; 7]| days.iter().any(|d| d.len() > 12);
        if too_many(self.hours.days()) || too_many(self.breaks.days()) {
            return Err("at most 12 intervals per day");
        }
        if self.exceptions.len() > 366 || self.exceptions.iter().any(|e| e.extra_hours.len() > 12) {
            return Err("at most 366 exceptions of at most 12 intervals");
        }
        let dates: BTreeSet<Date> = self.exceptions.iter().map(|e| e.date).collect();
        if dates.len() != self.exceptions.len() {
            return Err("one exception per date");
        }
        Ok(())
    }

    pub fn buffer_before(&self) -> i64 {
        i64::from(self.buffer_before_minutes) * 60
    }
    pub fn buffer_after(&self) -> i64 {
        i64::from(self.buffer_after_minutes) * 60
    }
    pub fn min_notice(&self) -> i64 {
        i64::from(self.min_notice_minutes) * 60
    }
    pub fn max_advance(&self) -> i64 {
        i64::from(self.max_advance_days) * 86_400
    }
    pub fn cancel_cutoff(&self) -> i64 {
        i64::from(self.cancel_cutoff_hours) * 3600
    }
}

/// Monday to Friday.
pub const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];
/// Every day of the week.
pub const EVERY_DAY: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// Why a start cannot be booked (the occupancy check is the storage's job).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SlotError {
    /// Not a start the provider's hours, breaks and grid allow.
    #[error("start is not a bookable time in the provider's schedule.")]
    OffGrid,
    #[error("start is in the past.")]
    InPast,
    #[error("start is inside the provider's minimum notice.")]
    InsideNotice,
    #[error("start is further ahead than the provider books.")]
    BeyondAdvance,
}

/// One local date, resolved to instants.
#[derive(Debug, Default)]
struct Day {
    open: Vec<(i64, i64)>,
    breaks: Vec<(i64, i64)>,
}

/// A provider's rules read in the practice's zone.
#[derive(Clone, Copy, Debug)]
pub struct Calendar<'a> {
    pub rules: &'a Rules,
    pub zone: &'a TimeZone,
}

fn merge(mut intervals: Vec<WallInterval>) -> Vec<WallInterval> {
    intervals.sort();
    let mut out: Vec<WallInterval> = Vec::with_capacity(intervals.len());
    for i in intervals {
        match out.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => out.push(i),
        }
    }
    out
}

/// How a wall time in a DST gap or fold becomes an instant. In a fold the earlier reading is the
/// first pass; in a gap the later reading is the first instant after it.
#[derive(Clone, Copy)]
enum Edge {
    Earlier,
    Later,
}

fn instant(zone: &TimeZone, date: Date, wall: WallTime, edge: Edge) -> Option<i64> {
    let minutes = wall.minutes();
    let (date, minutes) = if minutes == 1440 {
        (date.tomorrow().ok()?, 0)
    } else {
        (date, minutes)
    };
    let dt = date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0);
    let ambiguous = zone.to_ambiguous_timestamp(dt);
    let resolved = match edge {
        Edge::Earlier => ambiguous.earlier(),
        Edge::Later => ambiguous.later(),
    };
    resolved.ok().map(|t| t.as_second())
}

impl Calendar<'_> {
    fn day(&self, date: Date) -> Day {
        let exception = self.rules.exceptions.iter().find(|e| e.date == date);
        let mut hours = match exception {
            Some(e) if e.closed => Vec::new(),
            _ => self.rules.hours.day(date.weekday()).to_vec(),
        };
        if let Some(e) = exception {
            hours.extend_from_slice(&e.extra_hours);
        }
        // Working hours take the readings that stay inside their wall-clock bounds; breaks take
        // the readings that cover the most time.
        let resolve = |intervals: Vec<WallInterval>, start: Edge, end: Edge| {
            merge(intervals)
                .into_iter()
                .filter_map(|i| {
                    let a = instant(self.zone, date, i.start, start)?;
                    let b = instant(self.zone, date, i.end, end)?;
                    (a < b).then_some((a, b))
                })
                .collect::<Vec<_>>()
        };
        Day {
            open: resolve(hours, Edge::Later, Edge::Earlier),
            breaks: resolve(
                self.rules.breaks.day(date.weekday()).to_vec(),
                Edge::Earlier,
                Edge::Later,
            ),
        }
    }

    /// The grid starts of `date` (local) for a service of `duration` seconds: inside working hours,
    /// clear of breaks. Notice, advance window and occupancy are not applied.
    pub fn starts_on(&self, date: Date, duration: i64) -> Vec<i64> {
        let day = self.day(date);
        let step = i64::from(self.rules.slot_minutes) * 60;
        let mut starts = Vec::new();
        for &(open, close) in &day.open {
            let mut t = open;
            while t + duration <= close {
                let clear = day.breaks.iter().all(|&(a, b)| t + duration <= a || b <= t);
                if clear && t % UNIT_SECS == 0 {
                    starts.push(t);
                }
                t += step;
            }
        }
        starts
    }

    /// The working time of `date` (local): its open hours with the breaks cut out, as instants.
    pub fn working(&self, date: Date) -> Vec<(i64, i64)> {
        let day = self.day(date);
        let mut out = Vec::new();
        for &(open, close) in &day.open {
            let mut cursor = open;
            let mut breaks = day.breaks.to_vec();
            breaks.sort_unstable();
            for (a, b) in breaks {
                if b <= cursor || a >= close {
                    continue;
                }
                if a > cursor {
                    out.push((cursor, a));
                }
                cursor = cursor.max(b);
            }
            if cursor < close {
                out.push((cursor, close));
            }
        }
        out
    }

    /// The local date of an instant.
    pub fn date_of(&self, t: i64) -> Option<Date> {
        let ts = jiff::Timestamp::from_second(t).ok()?;
        Some(self.zone.to_datetime(ts).date())
    }

    /// The span an appointment at `start` occupies, buffers included.
    pub fn occupied(&self, start: i64, duration: i64) -> (i64, i64) {
        (
            start - self.rules.buffer_before(),
            start + duration + self.rules.buffer_after(),
        )
    }

    /// Whether `start` may be booked for `duration` at `now`, by the rules alone.
    pub fn check(&self, start: i64, duration: i64, now: i64) -> Result<(), SlotError> {
        if start < now {
            return Err(SlotError::InPast);
        }
        if start < now + self.rules.min_notice() {
            return Err(SlotError::InsideNotice);
        }
        if start > now + self.rules.max_advance() {
            return Err(SlotError::BeyondAdvance);
        }
        let date = self.date_of(start).ok_or(SlotError::OffGrid)?;
        // Merged intervals are disjoint and sorted, so the starts are too.
        if self.starts_on(date, duration).binary_search(&start).is_ok() {
            Ok(())
        } else {
            Err(SlotError::OffGrid)
        }
    }

    /// Bookable starts in `[from, to)`: the grid, minus notice and advance limits, minus starts
    /// whose occupied span touches a unit in `busy`.
    pub fn available(
        &self,
        duration: i64,
        from: i64,
        to: i64,
        now: i64,
        busy: &BTreeSet<i64>,
    ) -> Vec<i64> {
        let earliest = from.max(now + self.rules.min_notice());
        let latest = (to - 1).min(now + self.rules.max_advance());
        let (Some(first), Some(last)) = (self.date_of(from - 86_400), self.date_of(to)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut date = first;
        while date <= last {
            for t in self.starts_on(date, duration) {
                if t < earliest || t > latest {
                    continue;
                }
                let (a, b) = self.occupied(t, duration);
                if busy.range(unit_floor(a)..b).next().is_none() {
                    out.push(t);
                }
            }
            match date.tomorrow() {
                Ok(next) => date = next,
                Err(_) => break,
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }
}

fn unit_floor(t: i64) -> i64 {
    t.div_euclid(UNIT_SECS) * UNIT_SECS
}

/// The lock units covering `[a, b)`.
pub fn units(a: i64, b: i64) -> impl Iterator<Item = i64> {
    let first = unit_floor(a);
    (0..)
        .map(move |i| first + i * UNIT_SECS)
        .take_while(move |u| *u < b)
}

#[cfg(test)]
mod tests;
