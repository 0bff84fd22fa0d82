//! Booking records and their rules: the practice and its per-patient limits, providers, services,
//! appointments, holds and waitlist entries, and the JSON views people see (times in the practice's
//! zone). How they are stored is `shared::store::codec::booking`; where, `shared::store::keys`.

use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::access::Subject;
use crate::ids::{AppointmentId, HoldId, PatientId, ProviderId, SeriesId, ServiceId, WaitlistId};
use crate::instant::render_in;
use crate::money::Money;
use crate::refusals::BookingError;
use crate::schedule::Rules;

/// The practice: its time zone and booking policies.
#[derive(Clone, Debug)]
pub struct Practice {
    pub name: String,
    pub zone: TimeZone,
    pub hold_minutes: u16,
    pub waitlist_offer_minutes: u16,
    pub limits: Limits,
    pub notifications: crate::notify::Settings,
    pub contact: Contact,
    /// Visits no one checked in to are marked no-shows this many minutes after their start (by the
    /// sweep); `None`: only the front desk marks them.
    pub auto_no_show_minutes: Option<u16>,
    /// When an online visit's room opens and closes, around the visit.
    pub visit_room: VisitRoom,
}

/// When an online visit's room is open: from `opens_minutes_before` its start (0-60) to
/// `closes_minutes_after` its end (0-120). Left out: 15 and 30.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VisitRoom {
    #[serde(default = "VisitRoom::default_opens")]
    pub opens_minutes_before: u16,
    #[serde(default = "VisitRoom::default_closes")]
    pub closes_minutes_after: u16,
}

impl VisitRoom {
    fn default_opens() -> u16 {
        15
    }
    fn default_closes() -> u16 {
        30
    }
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.opens_minutes_before > 60 {
            return Err("visitRoom.opensMinutesBefore is 0 to 60.");
        }
        if self.closes_minutes_after > 120 {
            return Err("visitRoom.closesMinutesAfter is 0 to 120.");
        }
        Ok(())
    }
}

impl Default for VisitRoom {
    fn default() -> Self {
        VisitRoom {
            opens_minutes_before: VisitRoom::default_opens(),
            closes_minutes_after: VisitRoom::default_closes(),
        }
    }
}

/// The range of [`Practice::auto_no_show_minutes`].
pub const AUTO_NO_SHOW_MINUTES: std::ops::RangeInclusive<u16> = 15..=240;

/// Where the practice is and how patients reach it: said in confirmations, reminders and wherever
/// the portal asks a patient to call.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contact {
    /// The street address visits take place at, on one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The phone number patients call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Contact {
    pub fn validate(&self) -> Result<(), &'static str> {
        let text_ok = |t: &str| {
            !t.trim().is_empty() && t.chars().count() <= 200 && !t.chars().any(char::is_control)
        };
        if self.address.as_deref().is_some_and(|a| !text_ok(a)) {
            return Err("contact.address is 1 to 200 characters on one line.");
        }
        let phone_ok = |p: &str| {
            let digits = p.chars().filter(char::is_ascii_digit).count();
            (7..=15).contains(&digits)
                && p.chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        };
        if self.phone.as_deref().is_some_and(|p| !phone_ok(p)) {
            return Err("contact.phone has 7 to 15 digits.");
        }
        Ok(())
    }
}

impl Practice {
    pub fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "timeZone": self.zone_name(),
            "holdMinutes": self.hold_minutes,
            "waitlistOfferMinutes": self.waitlist_offer_minutes,
            "limits": self.limits,
            "notifications": self.notifications,
            "contact": self.contact,
            "autoNoShowMinutes": self.auto_no_show_minutes,
            "visitRoom": self.visit_room,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    /// The provider's own login, if they have one: it may read this provider's calendar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub rules: Rules,
}

/// Where a service's visits happen: at the practice, online (a video visit), or either, as the
/// patient chooses when booking.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum VisitMode {
    #[default]
    InPerson,
    Online,
    Either,
}

impl VisitMode {
    pub fn as_str(self) -> &'static str {
        match self {
            VisitMode::InPerson => "inPerson",
            VisitMode::Online => "online",
            VisitMode::Either => "either",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [VisitMode::InPerson, VisitMode::Online, VisitMode::Either]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
    /// Whether a visit booked with `requested` (the patient's choice, if she made one) is online:
    /// an online service's always are, an in-person one's never; "either" is in person unless
    /// she asks.
    pub fn online(self, requested: Option<bool>) -> Result<bool, BookingError> {
        match (self, requested) {
            (VisitMode::Online, None | Some(true)) => Ok(true),
            (VisitMode::InPerson, None | Some(false)) => Ok(false),
            (VisitMode::Either, choice) => Ok(choice.unwrap_or(false)),
            _ => Err(BookingError::VisitModeNotOffered),
        }
    }
}

/// How long before its start an online visit's room opens, and how long after its end it closes.

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub duration_minutes: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    pub provider_ids: Vec<ProviderId>,
    /// Whether patients may book this service as a weekly (or fortnightly...) series themselves;
    /// staff book series of any service.
    pub self_book_series: bool,
    /// The consent documents a patient signs (their current versions) before this service is
    /// booked, held or booked as a series for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_consents: Vec<crate::consent::DocumentId>,
    /// Forms a patient fills in before her first visit (once), and before every visit.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forms_before_first_visit: Vec<crate::forms::FormId>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forms_before_every_visit: Vec<crate::forms::FormId>,
    /// Late-cancellation and no-show fees (the service has a price when it has a policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_policy: Option<crate::fees::Policy>,
    /// In person, online (video), or either.
    pub visit_mode: VisitMode,
}

impl Service {
    pub fn duration(&self) -> i64 {
        i64::from(self.duration_minutes) * 60
    }
    pub fn offered_by(&self, provider: &ProviderId) -> bool {
        self.provider_ids.contains(provider)
    }
    /// The terms a booking of this service is made under now (none without a policy).
    pub fn terms(&self) -> Option<crate::fees::Terms> {
        Some(self.cancellation_policy?.terms(self.price?))
    }
    /// The service as the API shows it: with its policy's terms in money and words.
    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(terms) = self.terms() {
            v["cancellationTerms"] = terms.view(terms.deposit);
        }
        v
    }
}

/// An appointment's state: booked (or cancelled) until the day, then what the front desk records:
/// the patient arrived (checked in), the visit completed, or the patient did not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Booked under a deposit not paid yet: the time is held until the deposit's `due_by`.
    AwaitingDeposit,
    Booked,
    Cancelled,
    Arrived,
    Completed,
    NoShow,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::AwaitingDeposit => "awaiting_deposit",
            Status::Booked => "booked",
            Status::Cancelled => "cancelled",
            Status::Arrived => "arrived",
            Status::Completed => "completed",
            Status::NoShow => "no_show",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "awaiting_deposit" => Some(Status::AwaitingDeposit),
            "booked" => Some(Status::Booked),
            "cancelled" => Some(Status::Cancelled),
            "arrived" => Some(Status::Arrived),
            "completed" => Some(Status::Completed),
            "no_show" => Some(Status::NoShow),
            _ => None,
        }
    }
}

/// How long before its start a patient may be checked in.
pub const CHECK_IN_EARLY_SECS: i64 = 2 * 3600;

/// Attendance the front desk records: check in, a completed visit, a no-show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attendance {
    Arrived,
    Completed,
    NoShow,
}

impl Attendance {
    pub fn status(self) -> Status {
        match self {
            Attendance::Arrived => Status::Arrived,
            Attendance::Completed => Status::Completed,
            Attendance::NoShow => Status::NoShow,
        }
    }
}

/// The plaintext part of an appointment (the reason for visit is sealed separately).
#[derive(Clone, Debug)]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub start: i64,
    pub end: i64,
    /// Occupied span, buffers included: the lock units it holds.
    pub occupied: (i64, i64),
    pub status: Status,
    pub version: i64,
    pub created_at: i64,
    /// The patient's allowance slot it holds (booked by the patient, not by staff).
    pub quota_slot: Option<u16>,
    /// The hold it was booked from (a waitlist offer is a hold): what the report counts as taken.
    pub from_hold: Option<HoldId>,
    /// The series it is an occurrence of.
    pub series: Option<SeriesId>,
    /// The cancellation policy it was booked under (fees come from these, not today's policy).
    pub terms: Option<crate::fees::Terms>,
    /// Cancelled by the practice (staff said so): no late-cancellation fee, and not counted as
    /// the patient's late cancellation.
    pub by_practice: bool,
    /// The deposit its terms asked when it was booked (patients booking for themselves).
    pub deposit: Option<crate::fees::Deposit>,
    /// Held online, by video, in its visit room.
    pub online: bool,
}

impl Appointment {
    /// The deposit it was confirmed with, if any (a late cancellation or a no-show keeps the fee
    /// from it; with no fee set, it is the fee).
    /// The span an online visit's room is open: from shortly before its start to a while after
    /// its end, as the practice sets it.
    pub fn visit_window(&self, room: &VisitRoom) -> (i64, i64) {
        (
            self.start - i64::from(room.opens_minutes_before) * 60,
            self.end + i64::from(room.closes_minutes_after) * 60,
        )
    }

    pub fn paid_deposit(&self) -> Option<Money> {
        self.deposit
            .filter(|d| d.state == crate::fees::DepositState::Paid)
            .map(|d| d.amount)
    }

    /// The JSON view; `reason` only where the caller may read it (and the read is audited).
    /// Whether `to` may be recorded at `now`: a booked appointment is checked in (from
    /// [`CHECK_IN_EARLY_SECS`] before its start) or, once it started, marked a no-show; a no-show
    /// who turns up late is checked in (until the visit's end); an arrived patient's visit is
    /// completed once it started.
    pub fn attendance(&self, to: Attendance, now: i64) -> Result<(), BookingError> {
        use Status::*;
        let allowed = matches!(
            (self.status, to.status()),
            (Booked, Arrived) | (NoShow, Arrived) | (Booked, NoShow) | (Arrived, Completed)
        );
        if !allowed {
            return Err(BookingError::AttendanceNotAllowed);
        }
        let opens = match to {
            Attendance::Arrived => self.start - CHECK_IN_EARLY_SECS,
            Attendance::Completed | Attendance::NoShow => self.start,
        };
        if now < opens {
            return Err(BookingError::AttendanceTooEarly);
        }
        // A no-show is checked in only while the visit lasts: later, the mark (and any fee it
        // charged) stands, and only a waiver with a reason undoes the fee.
        if self.status == NoShow && now >= self.end {
            return Err(BookingError::AttendanceNotAllowed);
        }
        Ok(())
    }

    pub fn view(&self, zone: &TimeZone, reason: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "start": render_in(self.start, zone),
            "end": render_in(self.end, zone),
            "timeZone": zone.iana_name().unwrap_or("UTC"),
            "status": self.status.as_str(),
            "version": self.version,
        });
        if let Some(series) = &self.series {
            v["seriesId"] = series.as_str().into();
        }
        if let Some(terms) = &self.terms {
            v["cancellationTerms"] = terms.view(self.paid_deposit());
        }
        if self.by_practice {
            v["cancelledByPractice"] = true.into();
        }
        if let Some(deposit) = &self.deposit {
            v["deposit"] = deposit.view();
        }
        if self.online {
            v["online"] = true.into();
        }
        if let Some(reason) = reason {
            v["reason"] = reason.into();
        }
        v
    }
}

/// An online visit's room: whether the patient is waiting, and since when; whether (and when) the
/// provider's side admitted her. Admitted once, she may leave and rejoin while the room is open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Visit {
    pub waiting_since: Option<i64>,
    pub admitted_at: Option<i64>,
    /// Each side's DTLS certificate fingerprint (`sha-256 AB:CD:...`), as its page registered it
    /// when joining: the other side checks the connection it gets is to that certificate, and
    /// both derive the safety code from the two.
    pub patient_certificate: Option<String>,
    pub host_certificate: Option<String>,
    pub version: i64,
}

/// Whether `text` is a certificate fingerprint as WebRTC writes one: a hash's name and its bytes
/// in hex pairs (`sha-256 AB:CD:...`).
pub fn certificate_fingerprint_ok(text: &str) -> bool {
    let Some((algorithm, value)) = text.split_once(' ') else {
        return false;
    };
    let bytes = match algorithm {
        "sha-256" => 32,
        "sha-384" => 48,
        "sha-512" => 64,
        _ => return false,
    };
    let pairs: Vec<&str> = value.split(':').collect();
    pairs.len() == bytes
        && pairs
            .iter()
            .all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Visit {
    pub fn state(&self) -> &'static str {
        match (self.admitted_at, self.waiting_since) {
            (Some(_), _) => "admitted",
            (None, Some(_)) => "waiting",
            (None, None) => "empty",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Hold {
    pub id: HoldId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub start: i64,
    pub end: i64,
    pub occupied: (i64, i64),
    pub expires_at: i64,
    /// Set when the hold is a waitlist offer.
    pub waitlist: Option<WaitlistId>,
    /// The patient's allowance slot it holds (a hold the patient made, not an offer).
    pub quota_slot: Option<u16>,
}

impl Hold {
    pub fn view(&self, zone: &TimeZone) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "start": render_in(self.start, zone),
            "end": render_in(self.end, zone),
            "timeZone": zone.iana_name().unwrap_or("UTC"),
            "expiresAt": render_in(self.expires_at, zone),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    Waiting,
    Offered,
    /// Its offer lapsed unbooked: the request is closed (the booking function removes it, with its
    /// allowance slot, when the patient next asks; the sweep that lapses it writes no patient keys).
    Lapsed,
}

impl WaitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitStatus::Waiting => "waiting",
            WaitStatus::Offered => "offered",
            WaitStatus::Lapsed => "lapsed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(WaitStatus::Waiting),
            "offered" => Some(WaitStatus::Offered),
            "lapsed" => Some(WaitStatus::Lapsed),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WaitlistEntry {
    pub id: WaitlistId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub from: i64,
    pub to: i64,
    pub status: WaitStatus,
    pub hold: Option<HoldId>,
    /// The patient's allowance slot it holds (joined by the patient, not by staff).
    pub quota_slot: Option<u16>,
}

impl WaitlistEntry {
    pub fn view(&self, zone: &TimeZone) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "from": render_in(self.from, zone),
            "to": render_in(self.to, zone),
            "status": self.status.as_str(),
            "holdId": self.hold,
        })
    }
}

/// The most any limit may be set to.
pub const MAX_LIMIT: u16 = 50;

/// What a patient may have at once; staff acting for a patient are not limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_appointments")]
    pub active_appointments_per_patient: u16,
    #[serde(default = "default_holds")]
    pub active_holds_per_patient: u16,
    #[serde(default = "default_waitlist")]
    pub open_waitlist_entries_per_patient: u16,
    /// Feedback and complaints a patient may send in 24 hours.
    #[serde(default = "default_feedback")]
    pub feedback_per_patient_per_day: u16,
    /// Occurrences a series a patient books herself may have (it counts once against her
    /// appointments); staff book series of up to 52.
    #[serde(default = "default_series_occurrences")]
    pub series_occurrences_per_patient: u16,
}

fn default_appointments() -> u16 {
    4
}
fn default_holds() -> u16 {
    1
}
fn default_waitlist() -> u16 {
    3
}
fn default_feedback() -> u16 {
    5
}
fn default_series_occurrences() -> u16 {
    16
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            active_appointments_per_patient: default_appointments(),
            active_holds_per_patient: default_holds(),
            open_waitlist_entries_per_patient: default_waitlist(),
            feedback_per_patient_per_day: default_feedback(),
            series_occurrences_per_patient: default_series_occurrences(),
        }
    }
}

impl Limits {
    pub fn validate(&self) -> Result<(), &'static str> {
        let all = [
            self.active_appointments_per_patient,
            self.active_holds_per_patient,
            self.open_waitlist_entries_per_patient,
            self.feedback_per_patient_per_day,
        ];
        let series = self.series_occurrences_per_patient;
        if all.iter().all(|n| (1..=MAX_LIMIT).contains(n))
            && (2..=crate::series::MAX_OCCURRENCES).contains(&series)
        {
            Ok(())
        } else {
            Err("Each limit is 1 to 50; seriesOccurrencesPerPatient is 2 to 52.")
        }
    }

    pub fn of(&self, kind: Kind) -> u16 {
        match kind {
            Kind::Appointment => self.active_appointments_per_patient,
            Kind::Hold => self.active_holds_per_patient,
            Kind::Waitlist => self.open_waitlist_entries_per_patient,
            Kind::Feedback => self.feedback_per_patient_per_day,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Appointment,
    Hold,
    Waitlist,
    /// Feedback sent in the last 24 hours.
    Feedback,
}
