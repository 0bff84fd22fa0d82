//! Recurring series: the same weekday and local wall time every 1, 2, 3 or 4 weeks in the
//! practice's zone (10:00 stays 10:00 across a DST change), ending after a number of occurrences or
//! on a date. Pure: the starts a recurrence gives; whether each may be booked is
//! [`crate::schedule::Calendar`]'s and the table's to say.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};

use serde::{Deserialize, Serialize};

use crate::ids::{AppointmentId, PatientId, ProviderId, SeriesId, ServiceId};
use crate::instant::render_in;
use crate::refusals::BookingError;

/// The most occurrences a series has.
pub const MAX_OCCURRENCES: u16 = 52;
/// How far ahead a series may end, in months from today.
pub const MAX_MONTHS_AHEAD: i64 = 12;

/// How a series ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// After this many occurrences (2 to [`MAX_OCCURRENCES`]).
    After(u16),
    /// With the last occurrence on or before this local date (at most [`MAX_MONTHS_AHEAD`] ahead).
    On(Date),
}

/// A checked recurrence: every `every_weeks` weeks, ending as `end` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recurrence {
    every_weeks: u8,
    end: End,
}

impl Recurrence {
    pub fn new(every_weeks: u8, end: End) -> Result<Recurrence, BookingError> {
        if !(1..=4).contains(&every_weeks) {
            return Err(BookingError::SeriesEvery);
        }
        if let End::After(n) = end
            && !(2..=MAX_OCCURRENCES).contains(&n)
        {
            return Err(BookingError::SeriesEnd);
        }
        Ok(Recurrence { every_weeks, end })
    }

    pub fn every_weeks(self) -> u8 {
        self.every_weeks
    }

    pub fn end(self) -> End {
        self.end
    }

    /// The starts of the series whose first occurrence is `first`, read in `zone`, decided at
    /// `now`: each `every_weeks` weeks of dates later at the same wall time (a wall time a DST
    /// change skips that day becomes the instant after the gap, which the calendar then refuses
    /// as off the grid).
    pub fn starts(self, first: i64, zone: &TimeZone, now: i64) -> Result<Vec<i64>, BookingError> {
        let local = |t: i64| {
            Timestamp::from_second(t)
                .map(|ts| zone.to_datetime(ts))
                .map_err(|_| BookingError::SeriesEnd)
        };
        let start = local(first)?;
        let (first_date, wall) = (start.date(), start.time());
        let (count, last_date) = match self.end {
            End::After(n) => (n, None),
            End::On(date) => {
                let today = local(now)?.date();
                let latest = today
                    .checked_add(Span::new().months(MAX_MONTHS_AHEAD))
                    .map_err(|_| BookingError::SeriesEnd)?;
                if date <= first_date || date > latest {
                    return Err(BookingError::SeriesEnd);
                }
                (MAX_OCCURRENCES + 1, Some(date))
            }
        };
        let mut out = Vec::new();
        for k in 0..i64::from(count) {
            let date = first_date
                .checked_add(Span::new().days(k * 7 * i64::from(self.every_weeks)))
                .map_err(|_| BookingError::SeriesEnd)?;
            if last_date.is_some_and(|last| date > last) {
                break;
            }
            if out.len() == usize::from(MAX_OCCURRENCES) {
                return Err(BookingError::SeriesTooLong);
            }
            out.push(at_wall(zone, date, wall)?);
        }
        if out.len() < 2 {
            return Err(BookingError::SeriesEnd);
        }
        Ok(out)
    }
}

/// An occurrence that cannot be booked as asked, with the nearest free starts that day: what a
/// refused series lists (times rendered in the practice's zone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Conflict {
    /// The local date, YYYY-MM-DD.
    pub date: String,
    pub start: String,
    /// Why: `slot_taken`, or the calendar's code (`off_grid`, `beyond_booking_window`...).
    pub reason: &'static str,
    pub alternatives: Vec<String>,
}

/// One occurrence: an ordinary appointment that knows its series.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Occurrence {
    pub id: AppointmentId,
    pub start: i64,
}

/// An occurrence's place in a change reserved on the table and not committed yet: the start it
/// is to have, the span its lock units at that start cover, and the span it already holds (a
/// move), whose units are not the change's to give back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Planned {
    pub id: AppointmentId,
    pub start: i64,
    pub occupied: (i64, i64),
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<(i64, i64)>,
}

/// A reserved change: its lock units are taken (owned by each occurrence's appointment id), the
/// change is not committed; after `deadline` the sweep gives the units back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub deadline: i64,
    /// The request attempt that reserved it.
    pub attempt: String,
    pub plan: Vec<Planned>,
}

/// A recurring series of a patient with a provider for a service. `occurrences` is the committed
/// plan (empty while a new series is only reserved); the appointments follow it (the last writes
/// of a change too large for one transaction land right after its commit, or when the series is
/// next read).
#[derive(Clone, Debug)]
pub struct Series {
    pub id: SeriesId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub every_weeks: u8,
    pub occurrences: Vec<Occurrence>,
    /// Starts that were not free when the series was booked with `conflicts: skip`.
    pub skipped: Vec<i64>,
    pub pending: Option<Pending>,
    pub created_at: i64,
    /// The patient's appointment allowance slot the series holds (booked by the patient).
    pub quota_slot: Option<u16>,
    pub version: i64,
}

impl Series {
    /// Committed: a new series whose reservation never committed has no occurrences.
    pub fn committed(&self) -> bool {
        !self.occurrences.is_empty()
    }

    /// The JSON view: `statuses` gives each occurrence's appointment status where it was read.
    pub fn view(&self, zone: &TimeZone, statuses: &[Option<&'static str>]) -> serde_json::Value {
        let occurrences: Vec<_> = self
            .occurrences
            .iter()
            .enumerate()
            .map(|(i, o)| {
                serde_json::json!({
                    "appointmentId": o.id,
                    "start": render_in(o.start, zone),
                    "status": statuses.get(i).copied().flatten().unwrap_or("booked"),
                })
            })
            .collect();
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "everyWeeks": self.every_weeks,
            "timeZone": zone.iana_name().unwrap_or("UTC"),
            "occurrences": occurrences,
            "skipped": self.skipped.iter().map(|&t| render_in(t, zone)).collect::<Vec<_>>(),
            "version": self.version,
        })
    }
}

/// The instant of a local wall time (a time a DST change skips becomes the instant after the gap).
fn at_wall(zone: &TimeZone, date: Date, wall: jiff::civil::Time) -> Result<i64, BookingError> {
    zone.to_ambiguous_timestamp(date.to_datetime(wall))
        .compatible()
        .map(|t| t.as_second())
        .map_err(|_| BookingError::SeriesEnd)
}

/// `count` starts from `first`, every `every_weeks` weeks at its local wall time: where the
/// following occurrences of a series go when they are moved to a new first start.
pub fn every_weeks_from(
    first: i64,
    every_weeks: u8,
    count: usize,
    zone: &TimeZone,
) -> Result<Vec<i64>, BookingError> {
    let start = Timestamp::from_second(first)
        .map(|ts| zone.to_datetime(ts))
        .map_err(|_| BookingError::SeriesEnd)?;
    (0..count as i64)
        .map(|k| {
            let date = start
                .date()
                .checked_add(Span::new().days(k * 7 * i64::from(every_weeks)))
                .map_err(|_| BookingError::SeriesEnd)?;
            at_wall(zone, date, start.time())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn ny() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    fn at(zone: &TimeZone, d: Date, h: i8, m: i8) -> i64 {
        zone.to_ambiguous_timestamp(d.at(h, m, 0, 0))
            .compatible()
            .unwrap()
            .as_second()
    }

    fn wall(zone: &TimeZone, t: i64) -> (Date, jiff::civil::Time) {
        let dt = zone.to_datetime(Timestamp::from_second(t).unwrap());
        (dt.date(), dt.time())
    }

    #[test]
    fn ten_oclock_stays_ten_oclock_across_the_march_change() {
        let zone = ny();
        // Tuesdays from 2027-02-23; the clocks go forward on Sunday 2027-03-14.
        let first = at(&zone, date(2027, 2, 23), 10, 0);
        let now = at(&zone, date(2027, 2, 1), 9, 0);
        let rec = Recurrence::new(1, End::After(4)).unwrap();
        let starts = rec.starts(first, &zone, now).unwrap();
        let dates: Vec<_> = starts.iter().map(|&t| wall(&zone, t)).collect();
        let ten = jiff::civil::time(10, 0, 0, 0);
        assert_eq!(
            dates,
            vec![
                (date(2027, 2, 23), ten),
                (date(2027, 3, 2), ten),
                (date(2027, 3, 9), ten),
                (date(2027, 3, 16), ten),
            ]
        );
        // A week across the change is 167 hours of absolute time, not 168.
        assert_eq!(starts[3] - starts[2], 167 * 3600);
    }

    #[test]
    fn ends_on_a_date_inclusive_and_within_twelve_months() {
        let zone = ny();
        let now = at(&zone, date(2026, 12, 7), 9, 0);
        let first = at(&zone, date(2026, 12, 8), 10, 0);
        let every2 = Recurrence::new(2, End::On(date(2027, 1, 5))).unwrap();
        assert_eq!(every2.starts(first, &zone, now).unwrap().len(), 3);
        let too_far = Recurrence::new(4, End::On(date(2027, 12, 8))).unwrap();
        assert_eq!(
            too_far.starts(first, &zone, now),
            Err(BookingError::SeriesEnd)
        );
        let weekly_year = Recurrence::new(1, End::On(date(2027, 12, 7))).unwrap();
        assert_eq!(
            weekly_year.starts(first, &zone, now),
            Err(BookingError::SeriesTooLong)
        );
        let before = Recurrence::new(1, End::On(date(2026, 12, 8))).unwrap();
        assert_eq!(
            before.starts(first, &zone, now),
            Err(BookingError::SeriesEnd)
        );
    }

    #[test]
    fn out_of_range_recurrences_are_refused() {
        assert_eq!(
            Recurrence::new(0, End::After(3)),
            Err(BookingError::SeriesEvery)
        );
        assert_eq!(
            Recurrence::new(5, End::After(3)),
            Err(BookingError::SeriesEvery)
        );
        assert_eq!(
            Recurrence::new(1, End::After(1)),
            Err(BookingError::SeriesEnd)
        );
        assert_eq!(
            Recurrence::new(1, End::After(53)),
            Err(BookingError::SeriesEnd)
        );
    }

    proptest! {
        /// Every occurrence falls on the first's weekday at its wall time, `every` weeks of dates
        /// apart, in zones with and without DST, from any day of a few years.
        #[test]
        fn occurrences_keep_weekday_and_wall_time(
            day in 0i64..1500,
            minutes in (7 * 60i64..19 * 60).prop_map(|m| m - m % 5),
            every in 1u8..=4,
            count in 2u16..=52,
            zone_name in prop::sample::select(vec!["America/New_York", "Europe/London", "Australia/Sydney", "Asia/Tokyo", "UTC"]),
        ) {
            let zone = TimeZone::get(zone_name).unwrap();
            let d = date(2026, 1, 1).checked_add(Span::new().days(day)).unwrap();
            let first = at(&zone, d, (minutes / 60) as i8, (minutes % 60) as i8);
            let rec = Recurrence::new(every, End::After(count)).unwrap();
            let starts = rec.starts(first, &zone, first - 86_400).unwrap();
            prop_assert_eq!(starts.len(), usize::from(count));
            let (d0, t0) = wall(&zone, starts[0]);
            for (k, &s) in starts.iter().enumerate() {
                let (dk, tk) = wall(&zone, s);
                prop_assert_eq!(tk, t0);
                prop_assert_eq!(dk.weekday(), d0.weekday());
                let gap = d0.until(dk).unwrap().get_days();
                prop_assert_eq!(i64::from(gap), k as i64 * 7 * i64::from(every));
            }
        }
    }
}
