//! The notify function: delivers the outbox. Three triggers, one job:
//!
//! - the table's stream, filtered to inserted messages (`MSG#…`): a message due now is sent within
//!   seconds; records whose delivery failed are reported back (`batchItemFailures`) and retried
//!   by the stream, the others are not sent twice (each message is claimed before it is sent);
//! - a schedule every minute: reminders as they come due, retries after backoff, SMS held over
//!   the quiet hours, and anything the stream missed;
//! - SES's bounce and complaint events (EventBridge, `aws.ses`): recorded on the patient's
//!   preferences through the message's tag, so a bounced address is not written to again.
//!
//! The stream records are not trusted for content: only the message's key is read from them.

use std::sync::Arc;

use domain::ids::OutboxId;
use serde_json::{Value, json};
use shared::notify::{Delivery, EmailEvent, deliver_due, deliver_one, record_email_event};
use shared::state::AppState;
use shared::store::keys::OUTBOX_PREFIX;

/// Messages one scheduled run delivers at most (the next run takes the rest).
pub const SCHEDULED_BATCH: usize = 2_000;

/// Why a run failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum NotifyJobError {
    #[error("{0}")]
    InvalidEvent(String),
    #[error("{0}")]
    Failed(String),
}

impl From<NotifyJobError> for lambda_runtime::Diagnostic {
    fn from(e: NotifyJobError) -> Self {
        let kind = match &e {
            NotifyJobError::InvalidEvent(_) => "Permanent.InvalidEvent",
            NotifyJobError::Failed(_) => "Retryable.DeliveryFailed",
        };
        shared::lambda::diagnostic(kind, &e)
    }
}

/// What started a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Stream records: (sequence number, the message they are about).
    Stream(Vec<(String, OutboxId)>),
    Schedule,
    /// An SES event about a message: (message, what happened); None for events we do not act on.
    Email(Option<(OutboxId, EmailEvent)>),
}

fn invalid(why: &str) -> NotifyJobError {
    NotifyJobError::InvalidEvent(why.into())
}

/// Reads an invocation's event; anything no trigger of this function sends is refused.
pub fn trigger_of(event: &Value) -> Result<Trigger, NotifyJobError> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        if records.is_empty() {
            return Err(invalid("a stream batch without records"));
        }
        let mut out = Vec::new();
        for record in records {
            if record.get("eventSource").and_then(Value::as_str) != Some("aws:dynamodb") {
                return Err(invalid("a record that is not from a DynamoDB stream"));
            }
            let pk = record
                .pointer("/dynamodb/Keys/pk/S")
                .and_then(Value::as_str)
                .ok_or_else(|| invalid("a stream record without a key"))?;
            let id = pk
                .strip_prefix(OUTBOX_PREFIX)
                .and_then(OutboxId::parse)
                .ok_or_else(|| invalid("a stream record that is not an outbox message"))?;
            let sequence = record
                .pointer("/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            out.push((sequence, id));
        }
        return Ok(Trigger::Stream(out));
    }
    if shared::scheduled::job_of(event) == Some("notify") {
        return Ok(Trigger::Schedule);
    }
    if event.get("source").and_then(Value::as_str) == Some("aws.ses") {
        let kind = match event.get("detail-type").and_then(Value::as_str) {
            Some("Email Bounced")
                if event
                    .pointer("/detail/bounce/bounceType")
                    .and_then(Value::as_str)
                    == Some("Permanent") =>
            {
                Some(EmailEvent::Bounced)
            }
            Some("Email Complaint Received") => Some(EmailEvent::Complained),
            Some(_) => None,
            None => return Err(invalid("an SES event without a detail-type")),
        };
        let id = event
            .pointer("/detail/mail/tags/message/0")
            .and_then(Value::as_str)
            .and_then(|tag| tag.split('.').next())
            .and_then(OutboxId::parse);
        return Ok(Trigger::Email(kind.zip(id).map(|(k, id)| (id, k))));
    }
    Err(invalid(
        "not a stream batch, a notify schedule or an SES event",
    ))
}

/// The job and its ports.
pub struct NotifyJob {
    pub state: AppState,
    pub delivery: Delivery,
}

impl NotifyJob {
    /// One invocation. Returns a summary with no message content (counts and outcomes only); for a
    /// stream batch, the records to retry.
    pub async fn run(&self, event: Value) -> Result<Value, NotifyJobError> {
        match trigger_of(&event)? {
            Trigger::Stream(records) => {
                let mut failures = Vec::new();
                let mut outcomes = Vec::new();
                for (sequence, id) in records {
                    match deliver_one(&self.state, &self.delivery, &id).await {
                        Ok(outcome) => outcomes.push(format!("{outcome:?}")),
                        Err(e) => {
                            tracing::warn!(message = %id, error = %e, "delivery failed; the stream retries it");
                            failures.push(json!({"itemIdentifier": sequence}));
                        }
                    }
                }
                tracing::info!(
                    records = outcomes.len() + failures.len(),
                    failed = failures.len(),
                    "stream batch delivered"
                );
                Ok(json!({"batchItemFailures": failures, "outcomes": outcomes}))
            }
            Trigger::Schedule => {
                let done = deliver_due(&self.state, &self.delivery, SCHEDULED_BATCH)
                    .await
                    .map_err(|e| NotifyJobError::Failed(e.to_string()))?;
                tracing::info!(messages = done.len(), "due messages delivered");
                let outcomes: Vec<String> = done.iter().map(|(_, o)| format!("{o:?}")).collect();
                Ok(json!({"trigger": "schedule", "outcomes": outcomes}))
            }
            Trigger::Email(None) => Ok(json!({"trigger": "ses", "recorded": false})),
            Trigger::Email(Some((id, event))) => {
                let recorded = record_email_event(&self.state, &id, event)
                    .await
                    .map_err(|e| NotifyJobError::Failed(e.to_string()))?;
                Ok(json!({"trigger": "ses", "recorded": recorded}))
            }
        }
    }

    /// The Lambda cold start: the application state from the environment, SES for email from
    /// the practice's verified identity, End User Messaging for SMS from its origination identity
    /// (`PRACTICA_SMS_ORIGINATION`; without one, texts are refused and audited, and email-and-SMS
    /// patients get email).
    pub async fn cold_start() -> anyhow::Result<NotifyJob> {
        let (state, sdk) = shared::app::cold_start().await?;
        // The SES identity messages are sent from.
        let from = std::env::var("PRACTICA_SES_FROM")
            .ok()
            .filter(|s| !s.trim().is_empty())
            .ok_or(shared::config::ConfigError::Missing("PRACTICA_SES_FROM"))?;
        let configuration_set = std::env::var("PRACTICA_SES_CONFIGURATION_SET")
            .ok()
            .filter(|s| !s.is_empty());
        let email = shared::adapters::ses::SesEmail::new(
            aws_sdk_sesv2::Client::new(&sdk),
            from,
            configuration_set,
        );
        let sms: Arc<dyn shared::notify::Notifier> = match std::env::var("PRACTICA_SMS_ORIGINATION")
            .ok()
            .filter(|s| !s.is_empty())
        {
            Some(origination) => Arc::new(shared::adapters::sms::EndUserSms::new(
                aws_sdk_pinpointsmsvoicev2::Client::new(&sdk),
                origination,
                std::env::var("PRACTICA_SMS_CONFIGURATION_SET")
                    .ok()
                    .filter(|s| !s.is_empty()),
            )),
            None => Arc::new(shared::adapters::ses::NoSms),
        };
        Ok(NotifyJob {
            state,
            delivery: Delivery {
                notifier: Arc::new(shared::adapters::ses::ByChannel {
                    email: Arc::new(email),
                    sms,
                }),
                templates: Arc::new(domain::notify::Templates::builtin()),
            },
        })
    }
}
