//! The compliance and performance report: its period, the PHI-free facts it is computed from (ids,
//! times, amounts, codes, audit entries; never a sealed field), and the figures, each for the
//! period and the one before it. Pure: the same facts give the same report, value for value, so a
//! report can be regenerated and compared byte for byte (every collection here is ordered).
//! Collecting the facts is `shared::reports::collect`; drawing them, `shared::reports::render`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::feedback::Category;
use crate::progress::{CardChecks, CheckResult, Dispute, DisputeOutcome, PaymentStatus};

mod access;
mod booking;
mod consents;
mod facts;
mod feedback;
mod fees;
mod messages;
mod payments;
pub mod review;

pub use facts::*;

/// The longest period a report covers.
pub const MAX_DAYS: i32 = 366;

/// Why a period is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("--from must be before --to")]
    Empty,
    #[error("a report covers at most {MAX_DAYS} days")]
    TooLong,
    #[error("the period is outside the supported calendar")]
    OutOfRange,
}

/// Local dates `[from, to)` in the practice's zone, and the instants they start and end at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Period {
    pub from: Date,
    pub to: Date,
    #[serde(skip)]
    pub start: i64,
    #[serde(skip)]
    pub end: i64,
}

fn midnight(date: Date, zone: &TimeZone) -> Result<i64, PeriodError> {
    // A zone whose midnight falls in a gap starts the day at the first instant after it.
    zone.to_ambiguous_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
        .later()
        .map(|t| t.as_second())
        .map_err(|_| PeriodError::OutOfRange)
}

impl Period {
    pub fn new(from: Date, to: Date, zone: &TimeZone) -> Result<Period, PeriodError> {
        if from >= to {
            return Err(PeriodError::Empty);
        }
        let days = (to - from).get_days();
        if (to - from).get_months() != 0 || (to - from).get_years() != 0 || days > MAX_DAYS {
            // `Date - Date` is in days; anything else is out of our range.
            return Err(PeriodError::TooLong);
        }
        Ok(Period {
            from,
            to,
            start: midnight(from, zone)?,
            end: midnight(to, zone)?,
        })
    }

    /// The same number of days just before; a calendar month's is the month before.
    pub fn previous(&self, zone: &TimeZone) -> Result<Period, PeriodError> {
        let is_month = self.from.day() == 1
            && self.to.day() == 1
            && self.from.checked_add(jiff::Span::new().months(1)).ok() == Some(self.to);
        let from = if is_month {
            self.from.checked_sub(jiff::Span::new().months(1))
        } else {
            self.from
                .checked_sub(jiff::Span::new().days((self.to - self.from).get_days()))
        }
        .map_err(|_| PeriodError::OutOfRange)?;
        Period::new(from, self.from, zone)
    }

    /// The report's id: its dates.
    pub fn id(&self) -> String {
        format!("{}_{}", self.from, self.to)
    }

    /// The period's last day (`to` is the first day after it).
    pub fn last_day(&self) -> Date {
        self.to.yesterday().unwrap_or(self.to)
    }

    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }

    /// The week (Monday to Monday) that ended last before `now`, in `zone`.
    pub fn last_week(now: i64, zone: &TimeZone) -> Result<Period, PeriodError> {
        let today = local_date(now, zone)?;
        let monday = today
            .checked_sub(jiff::Span::new().days(i64::from(today.weekday().to_monday_zero_offset())))
            .map_err(|_| PeriodError::OutOfRange)?;
        let from = monday
            .checked_sub(jiff::Span::new().days(7))
            .map_err(|_| PeriodError::OutOfRange)?;
        Period::new(from, monday, zone)
    }

    /// The calendar quarter (January, April, July, October) that ended last before `now`.
    pub fn last_quarter(now: i64, zone: &TimeZone) -> Result<Period, PeriodError> {
        let today = local_date(now, zone)?;
        let first = today
            .first_of_month()
            .checked_sub(jiff::Span::new().months((today.month() - 1) % 3))
            .map_err(|_| PeriodError::OutOfRange)?;
        let from = first
            .checked_sub(jiff::Span::new().months(3))
            .map_err(|_| PeriodError::OutOfRange)?;
        Period::new(from, first, zone)
    }

    /// The calendar month that ended last before `now`, in `zone`.
    pub fn last_month(now: i64, zone: &TimeZone) -> Result<Period, PeriodError> {
        let first = local_date(now, zone)?.first_of_month();
        let from = first
            .checked_sub(jiff::Span::new().months(1))
            .map_err(|_| PeriodError::OutOfRange)?;
        Period::new(from, first, zone)
    }
}

fn local_date(t: i64, zone: &TimeZone) -> Result<Date, PeriodError> {
    let ts = jiff::Timestamp::from_second(t).map_err(|_| PeriodError::OutOfRange)?;
    Ok(zone.to_datetime(ts).date())
}

/// A value of a table cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Text(String),
    Int(i64),
    /// A duration in minutes, shown as hours (`7.5 h`).
    Hours(i64),
    /// An amount in minor units of a currency, shown as money (`120.00 USD`).
    Money(i64, crate::money::Currency),
}

impl Cell {
    pub fn render(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Hours(minutes) => {
                let tenths = (minutes * 10 + 30) / 60;
                format!("{}.{} h", tenths / 10, tenths % 10)
            }
            Cell::Money(minor, currency) => currency.text(*minor),
        }
    }
    /// The number a chart draws (minutes, minor units).
    pub fn value(&self) -> i64 {
        match self {
            Cell::Int(n) | Cell::Hours(n) | Cell::Money(n, _) => *n,
            Cell::Text(_) => 0,
        }
    }
    pub fn is_number(&self) -> bool {
        !matches!(self, Cell::Text(_))
    }
}

/// Numbers stay numbers in JSON; hours and money are sent as people read them.
impl Serialize for Cell {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Cell::Int(n) => s.serialize_i64(*n),
            other => s.serialize_str(&other.render()),
        }
    }
}

/// One table of the report: one CSV file, one HTML table, maybe one chart.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Table {
    pub name: &'static str,
    pub title: &'static str,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    /// Drawn as bars: (label column, value columns) for this period and the previous one.
    #[serde(skip)]
    pub chart: Option<(usize, usize, usize)>,
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub id: String,
    /// What the report is: `practice` (compliance and performance) or `access_review`.
    pub kind: &'static str,
    pub practice: String,
    pub time_zone: String,
    pub period: Period,
    pub previous: Period,
    /// Things a reader must not miss (a surge in payment failures).
    pub flags: Vec<String>,
    pub audit_log: LogStatus,
    pub tables: Vec<Table>,
}

/// A percentage with one decimal, from integers (so it renders the same everywhere).
pub fn percent(num: usize, den: usize) -> String {
    if den == 0 {
        return "n/a".into();
    }
    let tenths = (num as u128 * 1000 + den as u128 / 2) / den as u128;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// The nearest-rank `p`th percentile (0-100) of sorted values.
pub fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn duration(secs: Option<i64>) -> Cell {
    match secs {
        None => Cell::Text("n/a".into()),
        Some(s) if s < 120 => Cell::Text(format!("{s} s")),
        Some(s) if s < 7200 => Cell::Text(format!("{} min", s / 60)),
        Some(s) if s < 172_800 => Cell::Text(format!("{} h", s / 3600)),
        Some(s) => Cell::Text(format!("{} d", s / 86_400)),
    }
}

/// An amount as money, in its currency (as stored, should it not be one we know).
fn money(minor: i64, currency: &str) -> Cell {
    match crate::money::Currency::parse(&currency.to_ascii_uppercase()) {
        Some(c) => Cell::Money(minor, c),
        None => text(format!("{minor} {currency}")),
    }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}
fn int(n: usize) -> Cell {
    Cell::Int(n as i64)
}

/// A failure rate "rose sharply": at least 3 failures, at least 10 points up, and at least double.
pub fn failure_surge(now: (usize, usize), before: (usize, usize)) -> bool {
    let (f, n) = now;
    let (pf, pn) = before;
    if f < 3 || n == 0 {
        return false;
    }
    // Compare f/n with pf/pn in integers: per-mille rates.
    let rate = f * 1000 / n;
    let previous = (pf * 1000).checked_div(pn).unwrap_or(0);
    rate >= previous + 100 && rate >= previous * 2
}

struct Split<'a> {
    current: &'a Period,
    previous: &'a Period,
}

impl Split<'_> {
    fn of(&self, t: i64) -> Option<usize> {
        if self.current.contains(t) {
            Some(0)
        } else if self.previous.contains(t) {
            Some(1)
        } else {
            None
        }
    }
}

/// What the sections add up: flags, tables (in section order) and rows of the summary table.
#[derive(Default)]
struct Sections {
    flags: Vec<String>,
    tables: Vec<Table>,
    summary: Vec<Vec<Cell>>,
}

impl Sections {
    fn row(&mut self, section: &str, figure: &str, values: [Cell; 2]) {
        let [a, b] = values;
        self.summary.push(vec![text(section), text(figure), a, b]);
    }
}

/// Counts per key for both periods, in key order.
#[derive(Default)]
struct Counts<K: Ord>(BTreeMap<K, [usize; 2]>);

impl<K: Ord> Counts<K> {
    fn add(&mut self, key: K, period: usize) {
        self.add_n(key, period, 1);
    }
    fn add_n(&mut self, key: K, period: usize, n: usize) {
        self.0.entry(key).or_default()[period] += n;
    }
}

/// Computes the report for `period`; the facts cover it and `previous`. A provider's reads count
/// as "no appointment" for patients who have none with that provider; anyone else's, for patients
/// who have none at all.
pub fn compute(facts: &Facts, period: &Period, previous: &Period) -> Report {
    let split = Split {
        current: period,
        previous,
    };
    let mut out = Sections::default();
    payments::section(facts, &split, &mut out);
    booking::section(facts, &split, &mut out);
    access::section(facts, &split, &mut out);
    messages::section(facts, &split, &mut out);
    feedback::section(facts, &split, &mut out);
    consents::section(facts, &split, &mut out);
    fees::section(facts, &split, &mut out);
    let Sections {
        flags,
        mut tables,
        summary,
    } = out;
    tables.insert(
        0,
        Table {
            name: "summary",
            title: "Summary",
            columns: vec!["section", "figure", "this period", "previous period"],
            rows: summary,
            chart: None,
        },
    );
    Report {
        id: period.id(),
        kind: "practice",
        practice: facts.practice.clone(),
        time_zone: facts.zone.iana_name().unwrap_or("UTC").to_owned(),
        period: period.clone(),
        previous: previous.clone(),
        flags,
        audit_log: facts.log.clone(),
        tables,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> TimeZone {
        TimeZone::get("America/New_York").unwrap()
    }

    #[test]
    fn periods_are_local_days_and_refuse_empty_or_long_spans() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let p = Period::new(d("2026-11-01"), d("2026-12-01"), &zone()).unwrap();
        // 1 November 2026 is the day New York leaves daylight time: 30 days and one hour.
        assert_eq!(p.end - p.start, 30 * 86_400 + 3600);
        assert_eq!(p.id(), "2026-11-01_2026-12-01");
        let before = p.previous(&zone()).unwrap();
        assert_eq!((before.from, before.to), (d("2026-10-01"), d("2026-11-01")));
        let week = Period::new(d("2026-11-16"), d("2026-11-23"), &zone()).unwrap();
        let prev = week.previous(&zone()).unwrap();
        assert_eq!((prev.from, prev.to), (d("2026-11-09"), d("2026-11-16")));
        assert_eq!(
            Period::new(d("2026-11-02"), d("2026-11-01"), &zone()),
            Err(PeriodError::Empty)
        );
        assert_eq!(
            Period::new(d("2026-11-01"), d("2026-11-01"), &zone()),
            Err(PeriodError::Empty)
        );
        assert_eq!(
            Period::new(d("2025-01-01"), d("2026-01-03"), &zone()),
            Err(PeriodError::TooLong)
        );
        assert!(Period::new(d("2024-01-01"), d("2025-01-01"), &zone()).is_ok());
    }

    #[test]
    fn the_scheduled_periods_are_the_week_and_month_just_ended() {
        // Monday 23 November 2026, 06:00 in New York.
        let now = 1_795_863_600;
        let week = Period::last_week(now, &zone()).unwrap();
        assert_eq!(week.id(), "2026-11-16_2026-11-23");
        let month = Period::last_month(now, &zone()).unwrap();
        assert_eq!(month.id(), "2026-10-01_2026-11-01");
    }

    #[test]
    fn percentages_and_percentiles_are_integer_arithmetic() {
        assert_eq!(percent(1, 3), "33.3%");
        assert_eq!(percent(2, 3), "66.7%");
        assert_eq!(percent(0, 0), "n/a");
        assert_eq!(percent(5, 5), "100.0%");
        let v = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn a_surge_needs_enough_failures_and_a_real_rise() {
        assert!(failure_surge((3, 10), (0, 10)));
        assert!(failure_surge((5, 10), (1, 10)));
        assert!(!failure_surge((2, 10), (0, 10)), "too few to call");
        assert!(!failure_surge((5, 10), (4, 10)), "no sharp rise");
        assert!(!failure_surge((0, 0), (0, 0)));
    }
}
