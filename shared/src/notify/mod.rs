//! Notifications: the outbox messages the booking and payment changes write in their own
//! transactions, and their delivery ([`deliver`]) through a [`Notifier`] port.
//!
//! Reminders are due-time messages written when the appointment is booked or moved, not a scan of
//! every appointment. A message names the appointment version it is about; when it comes due it
//! is withdrawn instead of sent if the appointment was cancelled or moved since, so cancelling or
//! rescheduling withdraws its pending reminders without reading them.

pub mod deliver;
pub mod preferences;

pub use deliver::{
    Delivery, EmailEvent, Envelope, Notifier, NotifyError, Sent, deliver_due, deliver_one,
    record_email_event,
};

use std::path::Path;

use crate::domain::booking::{Appointment, Practice};
use crate::domain::notify::{Channel, Kind, Message, Templates, reminder_times};

/// The templates: the shipped ones, with any a practice put in `dir` as `<kind>.<channel>.txt`
/// (e.g. `reminder.sms.txt`) in their place, each checked before use. The version names the
/// edited set by the files' latest change.
pub fn templates_from_dir(dir: &Path) -> anyhow::Result<Templates> {
    let mut texts = Vec::new();
    let mut latest = None;
    for kind in Kind::ALL {
        for channel in [Channel::Email, Channel::Sms] {
            let path = dir.join(format!("{}.{}.txt", kind.code(), channel.code()));
            match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let modified = std::fs::metadata(&path)?.modified()?;
                    latest = latest.max(Some(modified));
                    texts.push((kind, channel, text));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(anyhow::Error::new(e).context(path.display().to_string())),
            }
        }
    }
    let Some(latest) = latest else {
        return Ok(Templates::builtin());
    };
    let stamp = latest
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Templates::from_texts(&format!("v1+edited-{stamp}"), texts)?)
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
    if matches!(kind, Kind::Confirmation | Kind::Rescheduled) {
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
