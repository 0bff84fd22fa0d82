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

/// One audit entry, as the report sees it.
#[derive(Clone, Debug)]
///
/// A month holds hundreds of thousands of these, and few distinct values: the strings are shared
/// (see [`Interner`]), so an entry costs its own few words, not eight allocations.
pub struct EntryFact {
    pub at: i64,
    /// The subject, or `system:<job>`.
    pub actor: Arc<str>,
    pub actor_name: Option<Arc<str>>,
    pub roles: Arc<[Arc<str>]>,
    pub action: Arc<str>,
    /// What kind of thing the entry is about (`appointment`, `message.reminder`, …).
    pub entity: Arc<str>,
    pub outcome: Arc<str>,
    pub entity_id: Arc<str>,
    pub patients: Arc<[Arc<str>]>,
    /// How many requests the entry stands for: 1, or an aggregate's count of refusals.
    pub count: usize,
}

/// Hands out one shared copy of each distinct string and list of strings.
#[derive(Default)]
pub struct Interner {
    strings: HashSet<Arc<str>>,
    lists: HashSet<Arc<[Arc<str>]>>,
}

impl Interner {
    pub fn str(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.strings.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        self.strings.insert(shared.clone());
        shared
    }

    pub fn list<'a>(&mut self, texts: impl IntoIterator<Item = &'a str>) -> Arc<[Arc<str>]> {
        let items: Vec<Arc<str>> = texts.into_iter().map(|t| self.str(t)).collect();
        if let Some(shared) = self.lists.get(items.as_slice()) {
            return shared.clone();
        }
        let shared: Arc<[Arc<str>]> = items.into();
        self.lists.insert(shared.clone());
        shared
    }
}

impl EntryFact {
    /// A person acting for the practice (staff, a provider, an admin), not a patient or a job.
    pub fn is_workforce(&self) -> bool {
        !self.roles.is_empty() && self.roles.iter().any(|r| &**r != "patient")
    }
    pub fn who(&self) -> String {
        match &self.actor_name {
            Some(name) => format!("{name} ({})", self.actor),
            None => self.actor.to_string(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct PaymentFact {
    pub created_at: i64,
    pub currency: String,
    pub status: PaymentStatus,
    /// When the success event was created, for a payment that succeeded.
    pub succeeded_at: Option<i64>,
    /// Whether an attempt failed (the latest failure's codes).
    pub failure: Option<(String, Option<String>)>,
    pub checks: Option<CardChecks>,
    /// What was refunded in the end (failed refunds back out).
    pub refunded: i64,
    /// Refunds that failed after being made: (first seen, amount).
    pub failed_refunds: Vec<(i64, i64)>,
    pub disputes: Vec<Dispute>,
}

#[derive(Clone, Debug)]
pub struct AppointmentFact {
    pub id: String,
    pub provider: String,
    pub created_at: i64,
    pub start: i64,
    pub end: i64,
    pub cancelled: bool,
    pub from_hold: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ProviderFact {
    pub id: String,
    pub name: String,
    /// The provider's own login, if any: their reads are held to their own patients.
    pub subject: Option<String>,
    pub cancel_cutoff: i64,
    /// Working time per period (current, previous), in seconds.
    pub working: (i64, i64),
}

/// One charge of a ledger, and the ledger's payments, for the ageing of what is owed.
#[derive(Clone, Debug)]
pub struct LedgerFact {
    pub currency: String,
    /// (created at, net total) of each charge.
    pub charges: Vec<(i64, i64)>,
    /// (succeeded at, amount − refunded) of each payment that succeeded.
    pub paid: Vec<(i64, i64)>,
}

#[derive(Clone, Debug)]
pub struct FeedbackFact {
    pub category: Category,
    pub created_at: i64,
    pub resolved_at: Option<i64>,
}

/// The audit log's state when the report was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogStatus {
    /// The first checkpoint signed after the period ended (it covers the period), else the latest.
    pub checkpoint_size: Option<u64>,
    pub checkpoint_signed_at: Option<i64>,
    pub covers_period: bool,
    /// The verification run by the job: `ok`, or what it found.
    pub verification: String,
}

/// Everything a report is computed from.
#[derive(Clone, Debug)]
pub struct Facts {
    pub practice: String,
    pub zone: TimeZone,
    pub entries: Vec<EntryFact>,
    pub payments: Vec<PaymentFact>,
    pub appointments: BTreeMap<String, AppointmentFact>,
    pub providers: Vec<ProviderFact>,
    /// Per provider id, the working intervals of every day of both periods.
    pub working: BTreeMap<String, Vec<(i64, i64)>>,
    pub ledgers: Vec<LedgerFact>,
    pub feedback: Vec<FeedbackFact>,
    /// Refusals counted, not stored: per name (`shared::counters`), this period and the one before.
    pub counters: BTreeMap<String, [i64; 2]>,
    /// Patients with at least one appointment: (patient, provider) pairs.
    pub patient_providers: BTreeSet<(String, String)>,
    pub log: LogStatus,
}

/// A value of a table cell.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    Text(String),
    Int(i64),
}

impl Cell {
    pub fn render(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Int(n) => n.to_string(),
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
    let mut flags = Vec::new();
    let mut tables = Vec::new();
    let mut summary: Vec<Vec<Cell>> = Vec::new();
    let mut row = |section: &str, figure: &str, values: [Cell; 2]| {
        let [a, b] = values;
        summary.push(vec![text(section), text(figure), a, b]);
    };

    // Payments.
    let mut created = [0usize; 2];
    let mut succeeded = [0usize; 2];
    let mut failed = [0usize; 2];
    let mut times: [Vec<i64>; 2] = Default::default();
    let mut declines = Counts::default();
    let mut checks = Counts::default();
    let mut refunds: Counts<String> = Counts::default();
    let mut refunded: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    let mut refunds_failed = [0usize; 2];
    let (mut opened, mut won, mut lost) = ([0usize; 2], [0usize; 2], [0usize; 2]);
    let mut disputed: BTreeMap<String, [i64; 2]> = BTreeMap::new();
    for p in &facts.payments {
        // Disputes and failed refunds count in the period they happened in.
        for (at, _) in &p.failed_refunds {
            if let Some(i) = split.of(*at) {
                refunds_failed[i] += 1;
            }
        }
        for d in &p.disputes {
            if let Some(i) = split.of(d.opened_at) {
                opened[i] += 1;
                disputed.entry(p.currency.clone()).or_default()[i] += d.amount;
            }
            if let Some(i) = d.closed_at.and_then(|t| split.of(t)) {
                match d.outcome {
                    Some(DisputeOutcome::Won) => won[i] += 1,
                    Some(DisputeOutcome::Lost) => lost[i] += 1,
                    None => {}
                }
            }
        }
        let Some(i) = split.of(p.created_at) else {
            continue;
        };
        created[i] += 1;
        if p.status == PaymentStatus::Succeeded {
            succeeded[i] += 1;
            if let Some(at) = p.succeeded_at {
                times[i].push((at - p.created_at).max(0));
            }
        }
        if let Some((code, decline)) = &p.failure {
            failed[i] += 1;
            declines.add(decline.clone().unwrap_or_else(|| code.clone()), i);
        }
        match &p.checks {
            Some(c) => {
                for (name, r) in [
                    ("address line 1", c.address_line1),
                    ("postal code", c.postal_code),
                    ("CVC", c.cvc),
                ] {
                    checks.add((name, r.as_str()), i);
                }
            }
            None => {
                for name in ["address line 1", "postal code", "CVC"] {
                    checks.add((name, CheckResult::Unchecked.as_str()), i);
                }
            }
        }
        if p.refunded > 0 {
            refunds.add(p.currency.clone(), i);
            refunded.entry(p.currency.clone()).or_default()[i] += p.refunded;
        }
    }
    times.iter_mut().for_each(|t| t.sort_unstable());
    row("payments", "intents created", created.map(int));
    row("payments", "succeeded", succeeded.map(int));
    row(
        "payments",
        "completion rate",
        [0, 1].map(|i| text(percent(succeeded[i], created[i]))),
    );
    row("payments", "with a failed attempt", failed.map(int));
    row(
        "payments",
        "failure rate",
        [0, 1].map(|i| text(percent(failed[i], created[i]))),
    );
    row(
        "payments",
        "median time to success",
        [0, 1].map(|i| duration(percentile(&times[i], 50))),
    );
    row(
        "payments",
        "p90 time to success",
        [0, 1].map(|i| duration(percentile(&times[i], 90))),
    );
    for (currency, counts) in &refunds.0 {
        let amounts = refunded.get(currency).copied().unwrap_or_default();
        row("payments", "refunds", counts.map(int));
        row(
            "payments",
            "refunded (minor units)",
            amounts.map(|a| text(format!("{a} {currency}"))),
        );
    }
    row("payments", "refunds that failed", refunds_failed.map(int));
    row("payments", "disputes opened", opened.map(int));
    for (currency, amounts) in &disputed {
        row(
            "payments",
            "disputed (minor units)",
            amounts.map(|a| text(format!("{a} {currency}"))),
        );
    }
    row("payments", "disputes won", won.map(int));
    row("payments", "disputes lost", lost.map(int));
    if failure_surge((failed[0], created[0]), (failed[1], created[1])) {
        flags.push(format!(
            "Payment failures rose sharply: {} of intents failed, against {} the period before.",
            percent(failed[0], created[0]),
            percent(failed[1], created[1])
        ));
    }
    tables.push(Table {
        name: "declines",
        title: "Declines and failures by code",
        columns: vec!["code", "this period", "previous period"],
        rows: declines
            .0
            .iter()
            .map(|(code, [a, b])| vec![text(code.clone()), int(*a), int(*b)])
            .collect(),
        chart: Some((0, 1, 2)),
    });
    tables.push(Table {
        name: "card_checks",
        title: "Card checks (address line 1, postal code, CVC)",
        columns: vec![
            "check",
            "result",
            "this period",
            "share",
            "previous period",
            "share",
        ],
        rows: checks
            .0
            .iter()
            .map(|((name, result), [a, b])| {
                vec![
                    text(*name),
                    text(*result),
                    int(*a),
                    text(percent(*a, created[0])),
                    int(*b),
                    text(percent(*b, created[1])),
                ]
            })
            .collect(),
        chart: None,
    });
    tables.push(ageing(facts, period));

    // Booking.
    let mut bookings = [0usize; 2];
    let mut by_patient = [0usize; 2];
    let mut by_staff = [0usize; 2];
    let mut late = [0usize; 2];
    let mut reschedules = [0usize; 2];
    let mut lapsed = [0usize; 2];
    let mut offers = [0usize; 2];
    let mut lead = Counts::default();
    let mut offered = BTreeSet::new();
    let cutoff: BTreeMap<&str, i64> = facts
        .providers
        .iter()
        .map(|p| (p.id.as_str(), p.cancel_cutoff))
        .collect();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        if &*e.outcome != "success" {
            continue;
        }
        match &*e.action {
            "appointment.create" => {
                bookings[i] += 1;
                if let Some(a) = facts.appointments.get(&*e.entity_id) {
                    let days = (a.start - a.created_at).max(0) / 86_400;
                    let bucket = match days {
                        0 => "0: same day",
                        1..=7 => "1: 1-7 days",
                        8..=30 => "2: 8-30 days",
                        _ => "3: over 30 days",
                    };
                    lead.add(bucket, i);
                }
            }
            "appointment.cancel" => {
                if e.roles.iter().any(|r| &**r == "patient") {
                    by_patient[i] += 1;
                } else {
                    by_staff[i] += 1;
                }
                if let Some(a) = facts.appointments.get(&*e.entity_id) {
                    let limit = cutoff.get(a.provider.as_str()).copied().unwrap_or(0);
                    if a.start - e.at < limit {
                        late[i] += 1;
                    }
                }
            }
            "appointment.reschedule" => reschedules[i] += 1,
            "hold.sweep" => lapsed[i] += 1,
            "hold.offer" => {
                offers[i] += 1;
                offered.insert(e.entity_id.to_string());
            }
            _ => {}
        }
    }
    let mut taken = [0usize; 2];
    for a in facts.appointments.values() {
        if let (Some(i), Some(h)) = (split.of(a.created_at), &a.from_hold)
            && offered.contains(h)
        {
            taken[i] += 1;
        }
    }
    row("booking", "bookings", bookings.map(int));
    row("booking", "cancelled by patients", by_patient.map(int));
    row("booking", "cancelled by staff", by_staff.map(int));
    row("booking", "cancelled inside the cut-off", late.map(int));
    row("booking", "reschedules", reschedules.map(int));
    row("booking", "holds that lapsed", lapsed.map(int));
    row("booking", "waitlist offers made", offers.map(int));
    row("booking", "waitlist offers taken", taken.map(int));
    tables.push(Table {
        name: "lead_time",
        title: "Lead time: from booking to the appointment",
        columns: vec!["lead time", "this period", "previous period"],
        rows: lead
            .0
            .iter()
            .map(|(bucket, [a, b])| vec![text(&bucket[3..]), int(*a), int(*b)])
            .collect(),
        chart: Some((0, 1, 2)),
    });
    tables.push(utilisation(facts, &split));

    // Access and security.
    let mut reads: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut patients_read: BTreeMap<String, [BTreeSet<&str>; 2]> = BTreeMap::new();
    let mut after_hours: BTreeMap<String, [usize; 2]> = BTreeMap::new();
    let mut strangers: BTreeMap<String, [BTreeSet<&str>; 2]> = BTreeMap::new();
    let mut refusals: Counts<String> = Counts::default();
    let open_hours: Vec<(i64, i64)> = {
        let mut all: Vec<_> = facts.working.values().flatten().copied().collect();
        all.sort_unstable();
        all
    };
    let is_open = |t: i64| {
        let after = open_hours.partition_point(|&(a, _)| a <= t);
        open_hours[..after].iter().any(|&(_, b)| t < b)
    };
    let providers_by_subject: BTreeMap<&str, &str> = facts
        .providers
        .iter()
        .filter_map(|p| Some((p.subject.as_deref()?, p.id.as_str())))
        .collect();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        if &*e.outcome != "success" {
            if &*e.outcome == "denied" {
                refusals.add_n(e.who(), i, e.count);
            }
            continue;
        }
        let is_read = crate::audit::ActionKind::of(&e.action) == crate::audit::ActionKind::Read;
        if !(e.is_workforce() && is_read && !e.patients.is_empty()) {
            continue;
        }
        let who = e.who();
        reads.entry(who.clone()).or_default()[i] += 1;
        let seen = patients_read.entry(who.clone()).or_default();
        for p in e.patients.iter() {
            seen[i].insert(p);
            let known = facts
                .patient_providers
                .range((p.to_string(), String::new())..)
                .take_while(|(q, _)| q.as_str() == &**p)
                .any(|(_, prv)| {
                    providers_by_subject
                        .get(&*e.actor)
                        .is_none_or(|mine| mine == prv)
                });
            if !known {
                strangers.entry(who.clone()).or_default()[i].insert(p);
            }
        }
        if !is_open(e.at) {
            after_hours.entry(who).or_default()[i] += 1;
        }
    }
    let access_rows = reads
        .iter()
        .map(|(who, [a, b])| {
            let seen = patients_read.get(who);
            let after = after_hours.get(who).copied().unwrap_or_default();
            let strange = strangers.get(who);
            let n = |s: Option<&[BTreeSet<&str>; 2]>, i: usize| s.map_or(0, |s| s[i].len());
            vec![
                text(who.clone()),
                int(*a),
                int(*b),
                int(n(seen, 0)),
                int(after[0]),
                int(after[1]),
                int(n(strange, 0)),
                int(n(strange, 1)),
            ]
        })
        .collect();
    let total = |m: &BTreeMap<String, [usize; 2]>, i: usize| m.values().map(|v| v[i]).sum();
    row(
        "access",
        "reads of patient data by staff",
        [0, 1].map(|i| int(total(&reads, i))),
    );
    row(
        "access",
        "after-hours reads",
        [0, 1].map(|i| int(total(&after_hours, i))),
    );
    let counted = |name: &str, i: usize| facts.counters.get(name).map_or(0, |c| c[i]);
    row(
        "access",
        "requests refused for their token (401)",
        [0, 1].map(|i| Cell::Int(counted("token_failures", i))),
    );
    row(
        "access",
        "webhook deliveries with a bad signature",
        [0, 1].map(|i| Cell::Int(counted("webhook_signature_failures", i))),
    );
    row(
        "access",
        "refused requests",
        [0, 1].map(|i| int(refusals.0.values().map(|v| v[i]).sum())),
    );
    tables.push(Table {
        name: "access_by_staff",
        title: "Reads of patient data by staff member",
        columns: vec![
            "staff member",
            "reads",
            "reads (previous)",
            "patients",
            "after hours",
            "after hours (previous)",
            "patients with no appointment",
            "patients with no appointment (previous)",
        ],
        rows: access_rows,
        chart: Some((0, 1, 2)),
    });
    tables.push(Table {
        name: "refusals",
        title: "Refused requests by subject",
        columns: vec!["subject", "this period", "previous period"],
        rows: refusals
            .0
            .iter()
            .map(|(who, [a, b])| vec![text(who.clone()), int(*a), int(*b)])
            .collect(),
        chart: None,
    });

    // Messages to patients, from the notify job's audit entries (entity `message.<kind>`).
    let mut messages: Counts<(String, &str)> = Counts::default();
    for e in &facts.entries {
        let Some(i) = split.of(e.at) else {
            continue;
        };
        let (Some(what), Some(kind)) = (
            e.action.strip_prefix("notification."),
            e.entity.strip_prefix("message."),
        ) else {
            continue;
        };
        let what = match what {
            "send" => "sent",
            "fail" => "failed",
            "bounce" | "optout" | "complaint" => "bounced, opted out or complained",
            _ => continue,
        };
        messages.add((kind.to_owned(), what), i);
    }
    let total = |what: &str, i: usize| {
        messages
            .0
            .iter()
            .filter(|((_, w), _)| *w == what)
            .map(|(_, v)| v[i])
            .sum::<usize>()
    };
    for what in ["sent", "failed", "bounced, opted out or complained"] {
        row(
            "messages",
            &format!("messages {what}"),
            [0, 1].map(|i| int(total(what, i))),
        );
    }
    let kinds: BTreeSet<&String> = messages.0.keys().map(|(k, _)| k).collect();
    tables.push(Table {
        name: "messages",
        title: "Messages to patients by kind",
        columns: vec![
            "kind",
            "sent",
            "sent (previous)",
            "failed",
            "failed (previous)",
        ],
        rows: kinds
            .into_iter()
            .map(|kind| {
                let get = |what: &str| {
                    messages
                        .0
                        .get(&(kind.clone(), what))
                        .copied()
                        .unwrap_or_default()
                };
                let (sent, failed) = (get("sent"), get("failed"));
                vec![
                    text(kind.clone()),
                    int(sent[0]),
                    int(sent[1]),
                    int(failed[0]),
                    int(failed[1]),
                ]
            })
            .collect(),
        chart: None,
    });

    // Feedback.
    let mut opened = Counts::default();
    let mut resolved = Counts::default();
    let mut resolve_times: [Vec<i64>; 2] = Default::default();
    let mut stale = 0usize;
    for f in &facts.feedback {
        if let Some(i) = split.of(f.created_at) {
            opened.add(f.category.as_str(), i);
        }
        if let Some(at) = f.resolved_at
            && let Some(i) = split.of(at)
        {
            resolved.add(f.category.as_str(), i);
            resolve_times[i].push(at - f.created_at);
        }
        let open_at_end =
            f.created_at < period.end && f.resolved_at.is_none_or(|r| r >= period.end);
        if open_at_end && period.end - f.created_at > 30 * 86_400 {
            stale += 1;
        }
    }
    resolve_times.iter_mut().for_each(|t| t.sort_unstable());
    let sum = |c: &Counts<&str>, i: usize| c.0.values().map(|v| v[i]).sum::<usize>();
    row("feedback", "opened", [0, 1].map(|i| int(sum(&opened, i))));
    row(
        "feedback",
        "resolved",
        [0, 1].map(|i| int(sum(&resolved, i))),
    );
    row(
        "feedback",
        "median time to resolve",
        [0, 1].map(|i| duration(percentile(&resolve_times[i], 50))),
    );
    row(
        "feedback",
        "open for more than 30 days",
        [int(stale), text("")],
    );
    tables.push(Table {
        name: "feedback",
        title: "Feedback and complaints by category",
        columns: vec![
            "category",
            "opened",
            "opened (previous)",
            "resolved",
            "resolved (previous)",
        ],
        rows: Category::ALL
            .iter()
            .map(|c| {
                let o = opened.0.get(c.as_str()).copied().unwrap_or_default();
                let r = resolved.0.get(c.as_str()).copied().unwrap_or_default();
                vec![text(c.as_str()), int(o[0]), int(o[1]), int(r[0]), int(r[1])]
            })
            .collect(),
        chart: Some((0, 1, 2)),
    });

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
        practice: facts.practice.clone(),
        time_zone: facts.zone.iana_name().unwrap_or("UTC").to_owned(),
        period: period.clone(),
        previous: previous.clone(),
        flags,
        audit_log: facts.log.clone(),
        tables,
    }
}

/// What is owed at the period's end, by the age of the charges it is owed on (payments settle the
/// oldest charges first).
fn ageing(facts: &Facts, period: &Period) -> Table {
    const BUCKETS: [&str; 4] = ["0-30 days", "31-60 days", "61-90 days", "over 90 days"];
    let mut owed: BTreeMap<(&str, usize), (i64, usize)> = BTreeMap::new();
    for ledger in &facts.ledgers {
        let mut charges: Vec<_> = ledger
            .charges
            .iter()
            .filter(|(at, _)| *at < period.end)
            .copied()
            .collect();
        charges.sort_unstable();
        let mut paid: i64 = ledger
            .paid
            .iter()
            .filter(|(at, _)| *at < period.end)
            .map(|(_, amount)| amount)
            .sum();
        for (at, total) in charges {
            let settled = paid.clamp(0, total.max(0));
            paid -= settled;
            let due = total - settled;
            if due <= 0 {
                continue;
            }
            let days = (period.end - at) / 86_400;
            let bucket = match days {
                0..=30 => 0,
                31..=60 => 1,
                61..=90 => 2,
                _ => 3,
            };
            let slot = owed.entry((ledger.currency.as_str(), bucket)).or_default();
            slot.0 += due;
            slot.1 += 1;
        }
    }
    Table {
        name: "ageing",
        title: "Outstanding balances by age at the period's end",
        columns: vec!["currency", "age", "amount (minor units)", "charges"],
        rows: owed
            .iter()
            .map(|((currency, bucket), (amount, n))| {
                vec![
                    text(*currency),
                    text(BUCKETS[*bucket]),
                    Cell::Int(*amount),
                    int(*n),
                ]
            })
            .collect(),
        chart: None,
    }
}

/// Booked time against working time, per provider.
fn utilisation(facts: &Facts, split: &Split<'_>) -> Table {
    let mut booked: BTreeMap<&str, [i64; 2]> = BTreeMap::new();
    for a in facts.appointments.values().filter(|a| !a.cancelled) {
        if let Some(i) = split.of(a.start) {
            booked.entry(a.provider.as_str()).or_default()[i] += a.end - a.start;
        }
    }
    let rows = facts
        .providers
        .iter()
        .map(|p| {
            let b = booked.get(p.id.as_str()).copied().unwrap_or_default();
            let (w0, w1) = p.working;
            vec![
                text(p.name.clone()),
                Cell::Int(b[0] / 60),
                Cell::Int(w0 / 60),
                text(percent(b[0] as usize, w0.max(0) as usize)),
                Cell::Int(b[1] / 60),
                Cell::Int(w1 / 60),
                text(percent(b[1] as usize, w1.max(0) as usize)),
            ]
        })
        .collect();
    Table {
        name: "utilisation",
        title: "Utilisation per provider (booked minutes of working minutes)",
        columns: vec![
            "provider",
            "booked",
            "working",
            "utilisation",
            "booked (previous)",
            "working (previous)",
            "utilisation (previous)",
        ],
        rows,
        chart: Some((0, 1, 4)),
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
