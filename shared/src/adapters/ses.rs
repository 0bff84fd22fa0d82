//! The production email channel: Amazon SES (API v2) `SendEmail`, from the practice's verified
//! identity, each message tagged with its outbox id (`message` tag) so SES's bounce and complaint
//! events can be traced back to the message and its patient (the notify function records them).
//!
//! SES has no idempotency key on `SendEmail`: a resend after a lapsed claim (the documented
//! window, `crate::notify::deliver`) reaches the patient twice. Bounces are asynchronous in SES
//! (an accepted message bounces later), so they arrive as events, not as errors here.

use async_trait::async_trait;
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::SdkError;
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message, MessageTag};

use crate::notify::{Envelope, Notifier, NotifyError, Sent};
use domain::notify::Channel;

pub struct SesEmail {
    client: Client,
    from: String,
    configuration_set: Option<String>,
}

impl SesEmail {
    pub fn new(client: Client, from: impl Into<String>, configuration_set: Option<String>) -> Self {
        SesEmail {
            client,
            from: from.into(),
            configuration_set,
        }
    }
}

fn content(data: &str) -> Result<Content, NotifyError> {
    Content::builder()
        .data(data)
        .charset("UTF-8")
        .build()
        .map_err(|e| NotifyError::Rejected(format!("message content: {e}")))
}

/// SES tag values are letters, digits, `_`, `-` and `.`: the dedupe key (`<ulid>.<channel>`) is.
fn tag_value(key: &str) -> String {
    key.chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_-.".contains(*c))
        .collect()
}

/// Which SES refusals no retry can change (the sender or the message is not acceptable); the
/// rest (throttling, a paused account, the service unreachable) are retried with backoff. The
/// error's text is logged by the caller: its kind and code only, never the service's message, which
/// may quote the recipient's address.
fn classify(e: SdkError<SendEmailError>) -> NotifyError {
    let permanent = match &e {
        SdkError::ServiceError(service) => matches!(
            service.err(),
            SendEmailError::MessageRejected(_)
                | SendEmailError::MailFromDomainNotVerifiedException(_)
                | SendEmailError::BadRequestException(_)
                | SendEmailError::NotFoundException(_)
        ),
        _ => false,
    };
    let text = super::sdk_error::summary(&e);
    if permanent {
        NotifyError::Rejected(text)
    } else {
        NotifyError::Unavailable(anyhow::anyhow!(text))
    }
}

#[async_trait]
impl Notifier for SesEmail {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError> {
        if envelope.channel != Channel::Email {
            return Err(NotifyError::Rejected("SES sends email only".into()));
        }
        let mut body = Body::builder().text(content(&envelope.text)?);
        if let Some(html) = &envelope.html {
            body = body.html(content(html)?);
        }
        let message = Message::builder()
            .subject(content(envelope.subject.as_deref().unwrap_or_default())?)
            .body(body.build())
            .build();
        let tag = MessageTag::builder()
            .name("message")
            .value(tag_value(&envelope.dedupe_key))
            .build()
            .map_err(|e| NotifyError::Rejected(format!("message tag: {e}")))?;
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.from)
            .destination(
                Destination::builder()
                    .to_addresses(envelope.to.expose())
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .email_tags(tag)
            .set_configuration_set_name(self.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        Ok(Sent {
            provider_id: sent.message_id().unwrap_or_default().to_owned(),
        })
    }
}

/// Routes each envelope to its channel's provider.
pub struct ByChannel {
    pub email: std::sync::Arc<dyn Notifier>,
    pub sms: std::sync::Arc<dyn Notifier>,
}

#[async_trait]
impl Notifier for ByChannel {
    async fn send(&self, envelope: &Envelope) -> Result<Sent, NotifyError> {
        match envelope.channel {
            Channel::Email => self.email.send(envelope).await,
            Channel::Sms => self.sms.send(envelope).await,
        }
    }
}

/// The SMS channel where none is configured: every text is refused (not retried), so the
/// message fails visibly and is audited instead of waiting forever.
pub struct NoSms;

#[async_trait]
impl Notifier for NoSms {
    async fn send(&self, _envelope: &Envelope) -> Result<Sent, NotifyError> {
        Err(NotifyError::Rejected(
            "no SMS provider is configured".into(),
        ))
    }
}
