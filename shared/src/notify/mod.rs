//! Notifications: the outbox messages the booking and payment changes write in their own
//! transactions, and their delivery ([`deliver`]) through the [`Notifier`] port ([`port`]); what
//! delivery records about addresses and numbers is [`record`].
//!
//! Reminders are due-time messages written when the appointment is booked or moved, not a scan of
//! every appointment. A message names the appointment version it is about; when it comes due it
//! is withdrawn instead of sent if the appointment was cancelled or moved since, so cancelling or
//! rescheduling withdraws its pending reminders without reading them.

pub mod deliver;
pub mod port;
pub mod preferences;
pub mod record;

pub use deliver::{deliver_due, deliver_one};
pub use port::{Delivery, Envelope, Notifier, NotifyError, Sent};
pub use record::{EmailEvent, record_email_event};
