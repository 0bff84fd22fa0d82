//! The production SMS channel: AWS End User Messaging SMS (`pinpoint-sms-voice-v2`)
//! `SendTextMessage`, transactional, from the practice's origination identity, each text carrying
//! its outbox id in the message context (for delivery events).
//!
//! Opt-outs are the service's: a number that answered STOP is on the account's opt-out list and
//! `SendTextMessage` refuses it (`ConflictException`, reason `DESTINATION_PHONE_NUMBER_OPTED_OUT`),
//! which is recorded on the patient's preferences and stops SMS until they turn it on again. The
//! service has no idempotency key: a resend after a lapsed claim reaches the patient twice.

use async_trait::async_trait;
use aws_sdk_pinpointsmsvoicev2::Client;
use aws_sdk_pinpointsmsvoicev2::error::SdkError;
use aws_sdk_pinpointsmsvoicev2::operation::send_text_message::SendTextMessageError;
use aws_sdk_pinpointsmsvoicev2::types::{ConflictExceptionReason, MessageType};

use crate::notify::{Envelope, Notifier, NotifyError, Sent};
use domain::notify::Channel;

pub struct EndUserSms {
    client: Client,
    /// A phone number, sender id or pool (id or ARN) texts are sent from.
    origination: String,
    configuration_set: Option<String>,
}

impl EndUserSms {
    pub fn new(
        client: Client,
        origination: impl Into<String>,
        configuration_set: Option<String>,
    ) -> Self {
        EndUserSms {
            client,
            origination: origination.into(),
            configuration_set,
        }
    }
}

/// A stored phone number as E.164 (`+` and 8-15 digits), or None when it is not international
/// (the country cannot be guessed).
pub fn e164(phone: &str) -> Option<String> {
    let trimmed = phone.trim();
    let rest = trimmed.strip_prefix('+')?;
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let only_separators = rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -().".contains(c));
    (only_separators && (8..=15).contains(&digits.len())).then(|| format!("+{digits}"))
}

/// Opt-outs are recorded; refusals no retry can change fail the message; the rest are retried.
/// The error's text (the caller logs it) is its kind and code only, never the service's message,
/// which may quote the recipient's number.
fn classify(e: SdkError<SendTextMessageError>) -> NotifyError {
    enum Kind {
        OptedOut,
        Permanent,
        Retry,
    }
    let kind = match &e {
        SdkError::ServiceError(service) => match service.err() {
            SendTextMessageError::ConflictException(c)
                if c.reason() == Some(&ConflictExceptionReason::DestinationPhoneNumberOptedOut) =>
            {
                Kind::OptedOut
            }
            SendTextMessageError::ValidationException(_)
            | SendTextMessageError::AccessDeniedException(_)
            | SendTextMessageError::ResourceNotFoundException(_)
            | SendTextMessageError::ConflictException(_) => Kind::Permanent,
            _ => Kind::Retry,
        },
        _ => Kind::Retry,
    };
    let text = super::sdk_error::summary(&e);
    match kind {
        Kind::OptedOut => NotifyError::OptedOut,
        Kind::Permanent => NotifyError::Rejected(text),
        Kind::Retry => NotifyError::Unavailable(anyhow::anyhow!(text)),
    }
}

#[async_trait]
impl Notifier for EndUserSms {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError> {
        if envelope.channel != Channel::Sms {
            return Err(NotifyError::Rejected(
                "End User Messaging sends SMS only".into(),
            ));
        }
        let to = e164(envelope.to.expose()).ok_or_else(|| {
            NotifyError::Rejected(
                "the patient's phone number is not international (+country)".into(),
            )
        })?;
        let message = envelope
            .dedupe_key
            .split('.')
            .next()
            .unwrap_or_default()
            .to_owned();
        let sent = self
            .client
            .send_text_message()
            .destination_phone_number(&to)
            .origination_identity(&self.origination)
            .message_body(&envelope.text)
            .message_type(MessageType::Transactional)
            .set_configuration_set_name(self.configuration_set.clone())
            .context("message", message)
            .send()
            .await
            .map_err(classify)?;
        Ok(Sent {
            provider_id: sent.message_id().unwrap_or_default().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_sent_as_e164_or_not_at_all() {
        assert_eq!(e164("+1 555 0100 123").as_deref(), Some("+15550100123"));
        assert_eq!(
            e164(" +44 (20) 7946-0958 ").as_deref(),
            Some("+442079460958")
        );
        assert_eq!(e164("555 0100 123"), None, "no country");
        assert_eq!(e164("+1 555"), None, "too short");
        assert_eq!(e164("+1 555 0100 123 ext 4"), None);
        assert_eq!(e164("+1234567890123456"), None, "too long");
    }
}
