//! The notifier port: one message for one channel as a provider gets it, what the provider answers,
//! and what delivery needs besides the application state.

use std::sync::Arc;

use async_trait::async_trait;
use domain::notify::{Channel, Kind, Templates};
use domain::sensitive::Sensitive;

/// One message for one channel, as the provider gets it.
#[derive(Clone, Debug)]
pub struct Envelope {
    /// `<message id>.<channel>`: the same on every attempt, for providers that deduplicate.
    pub dedupe_key: String,
    pub kind: Kind,
    pub channel: Channel,
    /// An email address or a phone number.
    pub to: Sensitive<String>,
    pub subject: Option<String>,
    pub text: String,
    pub html: Option<String>,
}

/// The provider's id for a message it accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sent {
    pub provider_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The address does not take mail (a hard bounce, a suppressed address): recorded, not retried.
    #[error("the address bounced")]
    Bounced,
    /// The number opted out (STOP): recorded, not retried.
    #[error("the number opted out")]
    OptedOut,
    /// The provider refused the message itself (a sender not verified, content it does not take):
    /// no retry can help; the message fails and the failure is audited.
    #[error("the provider refused the message: {0}")]
    Rejected(String),
    /// The provider could not be reached or refused for now: retried with backoff.
    #[error("the provider is unavailable: {0}")]
    Unavailable(anyhow::Error),
}

/// The port every channel's provider implements (SES, End User Messaging SMS, a local mailbox).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError>;
}

/// What delivery needs besides the application state.
#[derive(Clone)]
pub struct Delivery {
    pub notifier: Arc<dyn Notifier>,
    pub templates: Arc<Templates>,
}
