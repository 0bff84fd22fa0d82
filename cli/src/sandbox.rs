//! The local sandbox processor: what `practica serve` uses instead of Stripe, so the whole payment
//! flow runs with no network. Intents are kept in a JSON file in the data directory; `practica pay`
//! reads it, builds the Stripe-shaped events a real processor would send, signs them with the
//! local webhook secret and posts them to the local webhook route.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use shared::payments::processor::{
    Cancel, DisputeEvidence, Intent, IntentRequest, OffSessionCharge, OffSessionRequest,
    PaymentProcessor, ProcessorError, ProcessorKey, SetupRequest,
};

use crate::sandbox_cards::{TestCard, with_cards};
use shared::web::webhooks::signature::WebhookSecrets;

/// One intent the sandbox created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxIntent {
    pub id: String,
    pub client_secret: String,
    pub amount: i64,
    pub currency: String,
    pub idempotency_key: String,
    pub metadata: BTreeMap<String, String>,
    /// Refunded so far (cumulative), as Stripe reports it.
    #[serde(default)]
    pub refunded: i64,
    /// `requires_payment_method`, `succeeded` or `canceled`, as at Stripe.
    #[serde(default = "requires_payment_method")]
    pub status: String,
    /// Why an off-session charge of a saved card failed (`authentication_required`, a decline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The saved card an off-session charge used (its last four); the test card 4242 otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_last4: Option<String>,
    /// Disputed by the cardholder (a charge is disputed once).
    #[serde(default)]
    pub disputed: bool,
}

fn requires_payment_method() -> String {
    "requires_payment_method".into()
}

pub struct SandboxProcessor {
    path: PathBuf,
    /// Customers, setup intents and saved cards ([`crate::sandbox_cards`]).
    cards: PathBuf,
    lock: tokio::sync::Mutex<()>,
    /// The time of the events an off-session charge or a detach queues.
    clock: Arc<dyn domain::clock::Clock>,
}

pub(crate) fn unavailable(e: impl Into<anyhow::Error>) -> ProcessorError {
    ProcessorError::Unavailable(e.into())
}

/// Reads the sandbox's intents (none when the file does not exist yet).
pub async fn load(path: &Path) -> anyhow::Result<Vec<SandboxIntent>> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Writes the intents atomically (a reader never sees half a file), readable by the owner only
/// (they hold client secrets).
pub async fn store(path: &Path, intents: &[SandboxIntent]) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(intents)?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        shared::adapters::files::replace_private_file(&path, &bytes)
    })
    .await?
}

impl SandboxProcessor {
    pub fn new(path: PathBuf) -> Self {
        Self::on_clock(path, Arc::new(domain::clock::SystemClock))
    }

    /// A sandbox whose events are dated by `clock` (the server's, under `--clock-start`).
    pub fn on_clock(path: PathBuf, clock: Arc<dyn domain::clock::Clock>) -> Self {
        SandboxProcessor {
            cards: crate::sandbox_cards::path_beside(&path),
            path,
            lock: tokio::sync::Mutex::new(()),
            clock,
        }
    }
}

#[async_trait]
impl PaymentProcessor for SandboxProcessor {
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, ProcessorError> {
        let _guard = self.lock.lock().await;
        let mut intents = load(&self.path).await.map_err(unavailable)?;
        let key = request.idempotency_key.as_str();
        let amount = request.amount.amount();
        let currency = request.amount.currency().code().to_lowercase();
        if let Some(seen) = intents.iter().find(|i| i.idempotency_key == key) {
            // As Stripe: the same key with other parameters is an error, not a new intent.
            if seen.amount != amount || seen.currency != currency {
                return Err(ProcessorError::IdempotencyConflict);
            }
            return Ok(Intent {
                id: seen.id.clone(),
                client_secret: seen.client_secret.clone().into(),
            });
        }
        let id = format!("pi_sbx_{}", ulid::Ulid::new());
        let secret: String = format!("{id}_secret_{}", ulid::Ulid::new());
        intents.push(SandboxIntent {
            id: id.clone(),
            client_secret: secret.clone(),
            amount,
            currency,
            idempotency_key: key.to_owned(),
            metadata: request
                .metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_str().to_owned()))
                .collect(),
            refunded: 0,
            status: requires_payment_method(),
            last_error: None,
            card_last4: None,
            disputed: false,
        });
        store(&self.path, &intents).await.map_err(unavailable)?;
        Ok(Intent {
            id,
            client_secret: secret.into(),
        })
    }

    async fn create_customer(&self, key: &ProcessorKey) -> Result<String, ProcessorError> {
        let _guard = self.lock.lock().await;
        with_cards(&self.cards, |cards| Ok(cards.create_customer(key.as_str()))).await
    }

    async fn create_setup_intent(&self, request: &SetupRequest) -> Result<Intent, ProcessorError> {
        let _guard = self.lock.lock().await;
        with_cards(&self.cards, |cards| cards.create_setup(request)).await
    }

    async fn charge_off_session(
        &self,
        request: &OffSessionRequest,
    ) -> Result<OffSessionCharge, ProcessorError> {
        let _guard = self.lock.lock().await;
        let mut intents = load(&self.path).await.map_err(unavailable)?;
        let now = self.clock.now().as_second();
        let charged = with_cards(&self.cards, |cards| {
            cards.charge(&mut intents, request, now)
        })
        .await?;
        store(&self.path, &intents).await.map_err(unavailable)?;
        Ok(charged)
    }

    async fn detach_payment_method(&self, id: &str) -> Result<(), ProcessorError> {
        let _guard = self.lock.lock().await;
        let now = self.clock.now().as_second();
        with_cards(&self.cards, |cards| {
            cards.detach(id, now);
            Ok(())
        })
        .await
    }

    async fn refund(
        &self,
        intent: &str,
        amount: domain::money::Money,
        key: &ProcessorKey,
    ) -> Result<(), ProcessorError> {
        let _guard = self.lock.lock().await;
        let mut intents = load(&self.path).await.map_err(unavailable)?;
        let now = self.clock.now().as_second();
        with_cards(&self.cards, |cards| {
            cards.refund(&mut intents, intent, amount.amount(), key.as_str(), now)
        })
        .await?;
        store(&self.path, &intents).await.map_err(unavailable)
    }

    async fn update_dispute(
        &self,
        id: &str,
        evidence: &DisputeEvidence,
        submit: bool,
    ) -> Result<(), ProcessorError> {
        let _guard = self.lock.lock().await;
        with_cards(&self.cards, |cards| {
            cards.update_dispute(id, evidence, submit)
        })
        .await
    }

    async fn cancel_intent(&self, id: &str, _: &ProcessorKey) -> Result<Cancel, ProcessorError> {
        let _guard = self.lock.lock().await;
        let mut intents = load(&self.path).await.map_err(unavailable)?;
        let intent = intents
            .iter_mut()
            .find(|i| i.id == id)
            .ok_or(ProcessorError::Rejected {
                code: "resource_missing".into(),
            })?;
        match intent.status.as_str() {
            "succeeded" => Ok(Cancel::TooLate),
            "canceled" => Ok(Cancel::Canceled),
            _ => {
                intent.status = "canceled".into();
                store(&self.path, &intents).await.map_err(unavailable)?;
                Ok(Cancel::Canceled)
            }
        }
    }
}

/// Which sandbox intent to complete: by its id (`practica pay`) or by the client secret the
/// checkout page holds, as Stripe.js confirms a payment with it.
#[derive(Clone, Copy, Debug)]
pub enum Which<'a> {
    Id(&'a str),
    ClientSecret(&'a str),
}

/// A completion the sandbox refuses (and why), before any event is sent.
#[derive(Debug, thiserror::Error)]
pub enum CompleteError {
    #[error("no such sandbox intent")]
    NotFound,
    #[error("the intent was cancelled (a newer intent superseded it)")]
    Canceled,
    #[error("the intent is already paid")]
    AlreadyPaid,
    #[error("only a paid intent can be disputed, once")]
    NotPaid,
    #[error("a refund is of a paid intent, more than zero and at most the amount not yet refunded")]
    BadRefund,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl SandboxProcessor {
    /// Completes (or fails, or refunds) one intent the way a processor does: the events it would
    /// send, signed with `secrets` as the processor signs them, each handed to `deliver` (which
    /// posts it to the webhook route and returns the answer's status and body), dated `now`
    /// (epoch seconds). The intent's new state is stored after the events were delivered. Returns
    /// each event's type and answer.
    pub async fn complete<Deliver, Delivered>(
        &self,
        which: Which<'_>,
        completion: Completion,
        secrets: &WebhookSecrets,
        now: i64,
        deliver: Deliver,
    ) -> Result<Vec<(String, u16, String)>, CompleteError>
    where
        Deliver: Fn(Vec<u8>, String) -> Delivered,
        Delivered: std::future::Future<Output = anyhow::Result<(u16, String)>>,
    {
        let _guard = self.lock.lock().await;
        let mut intents = load(&self.path).await?;
        let intent = intents
            .iter_mut()
            .find(|i| match which {
                Which::Id(id) => i.id == id,
                Which::ClientSecret(secret) => i.client_secret == secret,
            })
            .ok_or(CompleteError::NotFound)?;
        if intent.status == "canceled" {
            return Err(CompleteError::Canceled);
        }
        let completion = match completion {
            Completion::Refund { refunded } => {
                if intent.status != "succeeded"
                    || refunded <= 0
                    || intent.refunded + refunded > intent.amount
                {
                    return Err(CompleteError::BadRefund);
                }
                intent.refunded += refunded;
                Completion::Refund {
                    refunded: intent.refunded,
                }
            }
            Completion::Dispute { .. } if intent.status != "succeeded" || intent.disputed => {
                return Err(CompleteError::NotPaid);
            }
            dispute @ Completion::Dispute { .. } => {
                intent.disputed = true;
                dispute
            }
            _ if intent.status == "succeeded" => return Err(CompleteError::AlreadyPaid),
            other => other,
        };
        if matches!(completion, Completion::Succeed { .. }) {
            intent.status = "succeeded".into();
        }
        let answers = send_signed(events(intent, &completion, now), secrets, now, deliver).await?;
        store(&self.path, &intents).await?;
        Ok(answers)
    }
}

/// Signs each event body as the processor does and hands it to `deliver`, in order: each event's
/// type and the route's answer.
async fn send_signed<Deliver, Delivered>(
    bodies: Vec<Vec<u8>>,
    secrets: &WebhookSecrets,
    now: i64,
    deliver: Deliver,
) -> anyhow::Result<Vec<(String, u16, String)>>
where
    Deliver: Fn(Vec<u8>, String) -> Delivered,
    Delivered: std::future::Future<Output = anyhow::Result<(u16, String)>>,
{
    let mut answers = Vec::new();
    for body in bodies {
        let kind = serde_json::from_slice::<serde_json::Value>(&body)?["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let signature = secrets.sign_stripe(now, &body);
        let (status, answer) = deliver(body, signature).await?;
        answers.push((kind, status, answer));
    }
    Ok(answers)
}

impl SandboxProcessor {
    /// Saves `card` with the setup intent whose client secret the card form holds: its events,
    /// signed and handed to `deliver` at once (as `complete` does). Returns each event's type and
    /// answer; `None` for an unknown or already confirmed setup.
    pub async fn confirm_setup<Deliver, Delivered>(
        &self,
        client_secret: &str,
        card: TestCard,
        secrets: &WebhookSecrets,
        deliver: Deliver,
    ) -> anyhow::Result<Option<Vec<(String, u16, String)>>>
    where
        Deliver: Fn(Vec<u8>, String) -> Delivered,
        Delivered: std::future::Future<Output = anyhow::Result<(u16, String)>>,
    {
        let _guard = self.lock.lock().await;
        let now = self.clock.now().as_second();
        let mut cards = crate::sandbox_cards::load(&self.cards).await?;
        let Some(sent) = cards.confirm_setup(client_secret, card, now) else {
            return Ok(None);
        };
        crate::sandbox_cards::store(&self.cards, &cards).await?;
        Ok(Some(send_signed(sent, secrets, now, deliver).await?))
    }

    /// Delivers the events off-session charges and detaches queued (see
    /// [`crate::sandbox_cards::Cards::deliver`]); returns how many the route accepted.
    pub async fn deliver_pending<Deliver, Delivered>(
        &self,
        secrets: &WebhookSecrets,
        deliver: Deliver,
    ) -> anyhow::Result<usize>
    where
        Deliver: Fn(Vec<u8>, String) -> Delivered,
        Delivered: std::future::Future<Output = anyhow::Result<(u16, String)>>,
    {
        let _guard = self.lock.lock().await;
        let mut cards = crate::sandbox_cards::load(&self.cards).await?;
        if !cards.has_pending() {
            return Ok(0);
        }
        let accepted = cards
            .deliver(secrets, self.clock.now().as_second(), deliver)
            .await;
        crate::sandbox_cards::store(&self.cards, &cards).await?;
        Ok(accepted)
    }
}

/// How a sandbox payment ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Completion {
    /// Paid; with `avs_fail` the address line and postal code checks fail (the CVC passes).
    Succeed { avs_fail: bool },
    /// Declined with this decline code (e.g. `insufficient_funds`).
    Fail { decline_code: String },
    /// Refunded up to this cumulative amount.
    Refund { refunded: i64 },
    /// The cardholder disputes the whole payment with her bank, for this reason (Stripe's codes,
    /// e.g. `product_unacceptable`).
    Dispute { reason: String },
}

pub(crate) fn event(kind: &str, created: i64, object: serde_json::Value) -> Vec<u8> {
    serde_json::json!({
        "id": format!("evt_sbx_{}", ulid::Ulid::new()),
        "object": "event",
        "api_version": shared::adapters::stripe::STRIPE_API_VERSION,
        "type": kind,
        "created": created,
        "livemode": false,
        "data": { "object": object },
    })
    .to_string()
    .into_bytes()
}

/// The Stripe events that complete `intent` as `completion`, in the order Stripe sends them.
pub fn events(intent: &SandboxIntent, completion: &Completion, now: i64) -> Vec<Vec<u8>> {
    let charge = |status: &str, checks: (&str, &str), failure: Option<&str>, refunded: i64| {
        serde_json::json!({
            "id": format!("ch_sbx_{}", ulid::Ulid::new()),
            "object": "charge",
            "payment_intent": intent.id,
            "amount": intent.amount,
            "amount_refunded": refunded,
            "currency": intent.currency,
            "status": status,
            "failure_code": failure.map(|_| "card_declined"),
            "outcome": { "reason": failure },
            "metadata": intent.metadata,
            // The sandbox's card, named as Stripe names one (brand and last four only).
            "payment_method_details": { "type": "card", "card": {
                "brand": "visa",
                "last4": intent.card_last4.as_deref().unwrap_or("4242"),
                "checks": {
                    "address_line1_check": checks.0,
                    "address_postal_code_check": checks.1,
                    "cvc_check": "pass",
                },
            }},
        })
    };
    let payment_intent = |status: &str, error: Option<&str>| {
        serde_json::json!({
            "id": intent.id,
            "object": "payment_intent",
            "amount": intent.amount,
            "currency": intent.currency,
            "status": status,
            "metadata": intent.metadata,
            "last_payment_error": error.map(|d| serde_json::json!({
                "type": "card_error", "code": "card_declined", "decline_code": d,
            })),
        })
    };
    match completion {
        Completion::Succeed { avs_fail } => {
            let checks = if *avs_fail {
                ("fail", "fail")
            } else {
                ("pass", "pass")
            };
            vec![
                event(
                    "charge.succeeded",
                    now,
                    charge("succeeded", checks, None, 0),
                ),
                event(
                    "payment_intent.succeeded",
                    now,
                    payment_intent("succeeded", None),
                ),
            ]
        }
        Completion::Fail { decline_code } => vec![
            event(
                "charge.failed",
                now,
                charge("failed", ("pass", "pass"), Some(decline_code), 0),
            ),
            event(
                "payment_intent.payment_failed",
                now,
                payment_intent("requires_payment_method", Some(decline_code)),
            ),
        ],
        Completion::Refund { refunded } => vec![event(
            "charge.refunded",
            now,
            charge("succeeded", ("pass", "pass"), None, *refunded),
        )],
        Completion::Dispute { reason } => vec![event(
            "charge.dispute.created",
            now,
            serde_json::json!({
                "id": format!("dp_sbx_{}", ulid::Ulid::new()),
                "object": "dispute",
                "amount": intent.amount,
                "currency": intent.currency,
                "payment_intent": intent.id,
                "reason": reason,
                "status": "needs_response",
            }),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::ids::PaymentId;
    use domain::money::{Currency, Money};
    use domain::progress::{CheckResult, PaymentStatus};
    use shared::web::webhooks::events::{self, Event};

    #[tokio::test]
    async fn intents_are_idempotent_and_complete_through_parsable_events() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = SandboxProcessor::new(dir.path().join("sandbox.json"));
        let usd = Currency::parse("USD").unwrap();
        let payment = PaymentId::new();
        let request = |amount| {
            IntentRequest::for_payment(
                &payment,
                &[],
                Money::new(amount, usd).unwrap(),
                ProcessorKey::new("k1"),
            )
        };
        let first = sandbox.create_intent(&request(500)).await.unwrap();
        assert_eq!(sandbox.create_intent(&request(500)).await.unwrap(), first);
        assert!(matches!(
            sandbox.create_intent(&request(600)).await,
            Err(ProcessorError::IdempotencyConflict)
        ));
        let stored = load(&dir.path().join("sandbox.json")).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].metadata["practica_payment"], payment.as_str());
        let sent = events(&stored[0], &Completion::Succeed { avs_fail: true }, 10);
        let Event::Payment { observation, .. } = events::stripe(&sent[0]).unwrap().1 else {
            panic!("a payment event")
        };
        assert_eq!(observation.status, Some(PaymentStatus::Succeeded));
        assert_eq!(
            observation.checks.map(|c| c.address_line1),
            Some(CheckResult::Fail)
        );
    }
}
