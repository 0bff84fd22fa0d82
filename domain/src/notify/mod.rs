//! Notifications as the domain sees them, with no I/O: the kinds of message, the channels, a
//! patient's preferences, the practice's settings (reminder offsets, quiet hours, the portal's
//! address, the daily limit) and the rendering of a message from a versioned template.
//!
//! Minimum necessary content: a message carries the patient's first name, the practice's name, a
//! date and time in the practice's zone (and an offer's expiry) and the portal's address, nothing
//! else: no reason for the visit, no service, no amounts, no ids in the link. Every message ends
//! with the same line saying the practice never asks for card numbers or passwords.

use crate::booking::{Appointment, Practice};
use crate::ids::{AppointmentId, HoldId, OutboxId, PatientId};

mod settings;
mod templates;

pub use settings::Settings;
pub use templates::*;

/// What a message is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Confirmation,
    Rescheduled,
    Cancelled,
    Reminder,
    WaitlistOffer,
    Receipt,
    Refund,
    /// To the address a patient replaced: that it was changed (sent to the old address only).
    AddressChanged,
    /// A repeating series booked (one message for all its visits; each still gets its reminders).
    SeriesBooked,
    /// A series moved from one visit on.
    SeriesMoved,
    /// A series cancelled from one visit on.
    SeriesCancelled,
    /// A booking's confirmation that also says the practice asks for forms before the visit
    /// (never which: a form's name can reveal a condition).
    ConfirmationForms,
    /// Forms still missing 48 hours before a visit that asks for them (withdrawn if filled in).
    FormsDue,
    /// A fee the cancellation policy charged is on the patient's account (never which visit).
    FeeCharged,
    /// The card on file could not pay a fee (declined, or the bank wants the cardholder): it is
    /// still owed, payable in the portal (never which visit or fee).
    CardDeclined,
}

impl Kind {
    pub const ALL: [Kind; 15] = [
        Kind::Confirmation,
        Kind::Rescheduled,
        Kind::Cancelled,
        Kind::Reminder,
        Kind::WaitlistOffer,
        Kind::Receipt,
        Kind::Refund,
        Kind::AddressChanged,
        Kind::SeriesBooked,
        Kind::SeriesMoved,
        Kind::SeriesCancelled,
        Kind::ConfirmationForms,
        Kind::FormsDue,
        Kind::FeeCharged,
        Kind::CardDeclined,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Confirmation => "confirmation",
            Kind::Rescheduled => "rescheduled",
            Kind::Cancelled => "cancelled",
            Kind::Reminder => "reminder",
            Kind::WaitlistOffer => "waitlist_offer",
            Kind::Receipt => "receipt",
            Kind::Refund => "refund",
            Kind::AddressChanged => "address_changed",
            Kind::SeriesBooked => "series_booked",
            Kind::SeriesMoved => "series_moved",
            Kind::SeriesCancelled => "series_cancelled",
            Kind::ConfirmationForms => "confirmation_forms",
            Kind::FormsDue => "forms_due",
            Kind::FeeCharged => "fee_charged",
            Kind::CardDeclined => "card_declined",
        }
    }

    pub fn parse(code: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.code() == code)
    }

    /// Whether the message is about one version of an appointment: it is withdrawn, not sent, once
    /// the appointment was cancelled or moved (a newer notice exists, or nothing is left to remind of).
    pub fn follows_appointment(self) -> bool {
        matches!(
            self,
            Kind::Confirmation
                | Kind::Rescheduled
                | Kind::Reminder
                | Kind::ConfirmationForms
                | Kind::FormsDue
        )
    }

    /// Whether, for a visit held online, the message's link opens the visit (and its email says
    /// how to join): the confirmations, the notice of a move and the reminder.
    pub fn joins_online(self) -> bool {
        matches!(
            self,
            Kind::Confirmation | Kind::ConfirmationForms | Kind::Rescheduled | Kind::Reminder
        )
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for its due time (in the due index).
    Pending,
    /// Claimed by a sender (still in the due index, so a claim left by a crash is taken again
    /// after [`CLAIM_LEASE_SECS`]).
    Sending,
    Sent,
    /// No longer true (the appointment was cancelled or moved, the offer lapsed): never sent.
    Withdrawn,
    /// Not sent on purpose: no consent, the day's limit, or too late.
    Skipped,
    /// Every attempt failed, or the address bounced.
    Failed,
}

impl State {
    pub fn code(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sending => "sending",
            State::Sent => "sent",
            State::Withdrawn => "withdrawn",
            State::Skipped => "skipped",
            State::Failed => "failed",
        }
    }
    pub fn parse(code: &str) -> Option<State> {
        [
            State::Pending,
            State::Sending,
            State::Sent,
            State::Withdrawn,
            State::Skipped,
            State::Failed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// How long a claim holds before another sender may take the message again (a sender that
/// crashed between its claim and its mark).
pub const CLAIM_LEASE_SECS: i64 = 300;
/// Attempts before a message is given up as failed.
pub const MAX_ATTEMPTS: u32 = 5;

/// The wait before attempt `attempts + 1`: 1, 2, 4, 8 minutes.
pub fn backoff_secs(attempts: u32) -> i64 {
    60 << attempts.min(6)
}

/// An outbox message: what to tell whom, when; never the message's text (it is rendered when
/// sent, from PHI-free references).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: OutboxId,
    pub kind: Kind,
    pub patient: PatientId,
    pub due_at: i64,
    pub created_at: i64,
    /// The appointment and the version of it the message is about.
    pub appointment: Option<(AppointmentId, i64)>,
    /// The time the message names (the appointment's or the offered start).
    pub start: Option<i64>,
    pub hold: Option<HoldId>,
    /// A waitlist offer's expiry.
    pub offer_expires_at: Option<i64>,
    pub state: State,
    pub attempts: u32,
    pub claim: Option<String>,
    pub claimed_at: Option<i64>,
}

impl Message {
    pub fn new(kind: Kind, patient: &PatientId, due_at: i64, now: i64) -> Message {
        Message {
            id: OutboxId::new(),
            kind,
            patient: patient.clone(),
            due_at,
            created_at: now,
            appointment: None,
            start: None,
            hold: None,
            offer_expires_at: None,
            state: State::Pending,
            attempts: 0,
            claim: None,
            claimed_at: None,
        }
    }

    pub fn about(mut self, appointment: &AppointmentId, version: i64, start: i64) -> Message {
        self.appointment = Some((appointment.clone(), version));
        self.start = Some(start);
        self
    }
}

/// The reminders of an appointment starting at `start`, booked at `now`: one per offset still
/// ahead, due `offset` minutes before the start.
pub fn reminder_times(settings: &Settings, start: i64, now: i64) -> Vec<i64> {
    let mut due: Vec<i64> = settings
        .reminder_minutes
        .iter()
        .map(|m| start - i64::from(*m) * 60)
        .filter(|due| *due > now)
        .collect();
    due.sort_unstable();
    due.dedup();
    due
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn code(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }
}

/// A patient's choices per channel. Email is on by default once the address is verified; SMS
/// only after the patient turned it on themselves, and never after they answered STOP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    /// `None`: never chosen, the default applies.
    pub email: Option<bool>,
    pub sms: bool,
    /// When the patient turned SMS on (their consent).
    pub sms_consent_at: Option<i64>,
    /// The patient answered STOP (or the carrier reported an opt-out): no SMS until they turn it
    /// on again themselves.
    pub sms_stopped_at: Option<i64>,
    /// The address bounced: no email until the patient changes or confirms it.
    pub email_bounced_at: Option<i64>,
}

impl Preferences {
    /// The channels a message may go to now.
    pub fn channels(&self, email_verified: bool) -> Vec<Channel> {
        let mut out = Vec::new();
        if self.email.unwrap_or(email_verified) && self.email_bounced_at.is_none() {
            out.push(Channel::Email);
        }
        if self.sms && self.sms_consent_at.is_some() && self.sms_stopped_at.is_none() {
            out.push(Channel::Sms);
        }
        out
    }
}

/// The messages of a change to an appointment: the notice of `kind` (due now), and for a booking
/// or a move the reminders still ahead of the (new) start.
pub fn appointment_messages(
    kind: Kind,
    appt: &Appointment,
    practice: &Practice,
    now: i64,
) -> Vec<Message> {
    let notice =
        Message::new(kind, &appt.patient, now, now).about(&appt.id, appt.version, appt.start);
    let mut out = vec![notice];
    if matches!(
        kind,
        Kind::Confirmation | Kind::Rescheduled | Kind::ConfirmationForms
    ) {
        for due in reminder_times(&practice.notifications, appt.start, now) {
            out.push(Message::new(Kind::Reminder, &appt.patient, due, now).about(
                &appt.id,
                appt.version,
                appt.start,
            ));
        }
    }
    out
}

/// How long before a visit the reminder of missing forms is due.
pub const FORMS_DUE_BEFORE_SECS: i64 = 48 * 3600;

/// The reminder of missing forms for a visit that asks for them, when 48 hours before it is
/// still ahead.
pub fn forms_reminder(appt: &Appointment, now: i64) -> Option<Message> {
    let due = appt.start - FORMS_DUE_BEFORE_SECS;
    (due > now).then(|| {
        Message::new(Kind::FormsDue, &appt.patient, due, now).about(
            &appt.id,
            appt.version,
            appt.start,
        )
    })
}

#[cfg(test)]
mod tests;
