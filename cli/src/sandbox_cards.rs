//! The sandbox processor's saved cards: customers, setup intents, payment methods and off-session
//! charges, kept in a second JSON file beside the intents. As at Stripe, a card is saved when the
//! card form confirms its setup intent (the local form's "save" here), which sends
//! `payment_method.attached` and `setup_intent.succeeded`; an off-session charge answers at once
//! and sends its intent's events afterwards, retried until the webhook route accepts them (as
//! Stripe retries a 404 while our record of the intent is being written).
//!
//! The test cards behave as Stripe's do: `4242` pays, `3184` always asks for authentication when
//! charged off-session, `0341` saves but is declined when charged.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use shared::payments::processor::{
    DisputeEvidence, Intent, OffSession, OffSessionCharge, OffSessionRequest, ProcessorError,
    SetupRequest,
};
use shared::web::webhooks::signature::WebhookSecrets;

use crate::sandbox::{Completion, SandboxIntent, event, events, unavailable};

/// A test card the local form offers.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TestCard {
    /// 4242 4242 4242 4242: charges succeed.
    Succeeds,
    /// 4000 0027 6000 3184: an off-session charge needs the cardholder (`authentication_required`).
    AuthenticationRequired,
    /// 4000 0000 0000 0341: saves, but charges are declined (`card_declined`).
    Declines,
}

impl TestCard {
    fn last4(self) -> &'static str {
        match self {
            TestCard::Succeeds => "4242",
            TestCard::AuthenticationRequired => "3184",
            TestCard::Declines => "0341",
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Cards {
    #[serde(default)]
    customers: Vec<Keyed>,
    #[serde(default)]
    setups: Vec<Setup>,
    #[serde(default)]
    methods: Vec<Method>,
    /// Events not yet accepted by the webhook route (bodies, oldest first).
    #[serde(default)]
    outbox: Vec<Pending>,
    /// The evidence saved on disputes, as the processor keeps it.
    #[serde(default)]
    pub disputes: Vec<SandboxDispute>,
    /// Refunds made through the API (by their idempotency keys).
    #[serde(default)]
    refunds: Vec<Refund>,
}

/// A dispute's evidence at the sandbox: the last saved, and whether it was submitted.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct SandboxDispute {
    pub id: String,
    pub evidence: DisputeEvidence,
    pub submitted: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Keyed {
    id: String,
    idempotency_key: String,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Refund {
    idempotency_key: String,
    intent: String,
    amount: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Setup {
    id: String,
    client_secret: String,
    customer: String,
    idempotency_key: String,
    payment_method: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Method {
    id: String,
    customer: Option<String>,
    card: TestCard,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
struct Pending {
    body: String,
    attempts: u32,
}

/// Deliveries tried before an event is dropped (Stripe retries for three days).
const MAX_ATTEMPTS: u32 = 20;

pub fn path_beside(intents: &Path) -> PathBuf {
    intents.with_file_name("sandbox-cards.json")
}

pub async fn load(path: &Path) -> anyhow::Result<Cards> {
    match tokio::fs::read(path).await {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Cards::default()),
        Err(e) => Err(e.into()),
    }
}

pub async fn store(path: &Path, cards: &Cards) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(cards)?;
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        shared::adapters::files::replace_private_file(&path, &bytes)
    })
    .await?
}

fn sandbox_id(prefix: &str) -> String {
    format!("{prefix}_sbx_{}", ulid::Ulid::new())
}

fn payment_method_object(method: &Method) -> serde_json::Value {
    serde_json::json!({
        "id": method.id,
        "object": "payment_method",
        "type": "card",
        "customer": method.customer,
        "card": { "brand": "visa", "last4": method.card.last4() },
    })
}

impl Cards {
    pub fn create_customer(&mut self, key: &str) -> String {
        if let Some(seen) = self.customers.iter().find(|c| c.idempotency_key == key) {
            return seen.id.clone();
        }
        let id = sandbox_id("cus");
        self.customers.push(Keyed {
            id: id.clone(),
            idempotency_key: key.to_owned(),
        });
        id
    }

    pub fn create_setup(&mut self, request: &SetupRequest) -> Result<Intent, ProcessorError> {
        let key = request.idempotency_key.as_str();
        if let Some(seen) = self.setups.iter().find(|s| s.idempotency_key == key) {
            if seen.customer != request.customer {
                return Err(ProcessorError::IdempotencyConflict);
            }
            return Ok(Intent {
                id: seen.id.clone(),
                client_secret: seen.client_secret.clone().into(),
            });
        }
        if !self.customers.iter().any(|c| c.id == request.customer) {
            return Err(ProcessorError::Rejected {
                code: "resource_missing".into(),
            });
        }
        let id = sandbox_id("seti");
        let client_secret = format!("{id}_secret_{}", ulid::Ulid::new());
        self.setups.push(Setup {
            id: id.clone(),
            client_secret: client_secret.clone(),
            customer: request.customer.clone(),
            idempotency_key: key.to_owned(),
            payment_method: None,
        });
        Ok(Intent {
            id,
            client_secret: client_secret.into(),
        })
    }

    /// Confirms the setup intent whose client secret the card form holds with `card`: the events
    /// Stripe sends, in its order. `None` for an unknown or already confirmed setup.
    pub fn confirm_setup(
        &mut self,
        client_secret: &str,
        card: TestCard,
        now: i64,
    ) -> Option<Vec<Vec<u8>>> {
        let setup = self
            .setups
            .iter_mut()
            .find(|s| s.client_secret == client_secret && s.payment_method.is_none())?;
        let method = Method {
            id: sandbox_id("pm"),
            customer: Some(setup.customer.clone()),
            card,
        };
        setup.payment_method = Some(method.id.clone());
        let setup_object = serde_json::json!({
            "id": setup.id,
            "object": "setup_intent",
            "status": "succeeded",
            "usage": "off_session",
            "customer": setup.customer,
            "payment_method": method.id,
            "metadata": { shared::payments::processor::SETUP_METADATA_KEY: "card" },
        });
        let sent = vec![
            event(
                "payment_method.attached",
                now,
                payment_method_object(&method),
            ),
            event("setup_intent.succeeded", now, setup_object),
        ];
        self.methods.push(method);
        Some(sent)
    }

    /// Detaches a saved card (unknown or detached before: nothing to do) and queues the event.
    pub fn detach(&mut self, id: &str, now: i64) {
        let Some(method) = self
            .methods
            .iter_mut()
            .find(|m| m.id == id && m.customer.is_some())
        else {
            return;
        };
        method.customer = None;
        let body = event(
            "payment_method.detached",
            now,
            payment_method_object(method),
        );
        self.queue(vec![body]);
    }

    /// The card a charge may use: saved for this customer and not detached.
    fn usable(&self, request: &OffSessionRequest) -> Result<TestCard, ProcessorError> {
        self.methods
            .iter()
            .find(|m| {
                m.id == request.payment_method && m.customer.as_deref() == Some(&request.customer)
            })
            .map(|m| m.card)
            .ok_or(ProcessorError::Rejected {
                code: "resource_missing".into(),
            })
    }

    /// Charges a saved card with no one present: the intent (added to `intents`) and how it ended;
    /// its events are queued. The same key returns what the first charge did.
    pub fn charge(
        &mut self,
        intents: &mut Vec<SandboxIntent>,
        request: &OffSessionRequest,
        now: i64,
    ) -> Result<OffSessionCharge, ProcessorError> {
        let key = request.intent.idempotency_key.as_str();
        let amount = request.intent.amount.amount();
        let currency = request.intent.amount.currency().code().to_lowercase();
        if let Some(seen) = intents.iter().find(|i| i.idempotency_key == key) {
            if seen.amount != amount || seen.currency != currency {
                return Err(ProcessorError::IdempotencyConflict);
            }
            return Ok(OffSessionCharge {
                intent: seen.id.clone(),
                outcome: outcome_of(seen),
            });
        }
        let card = self.usable(request)?;
        let id = sandbox_id("pi");
        let (status, last_error) = match card {
            TestCard::Succeeds => ("succeeded", None),
            TestCard::AuthenticationRequired => {
                ("requires_payment_method", Some("authentication_required"))
            }
            TestCard::Declines => ("requires_payment_method", Some("card_declined")),
        };
        let intent = SandboxIntent {
            id: id.clone(),
            client_secret: format!("{id}_secret_{}", ulid::Ulid::new()),
            amount,
            currency,
            idempotency_key: key.to_owned(),
            metadata: request
                .intent
                .metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_str().to_owned()))
                .collect(),
            refunded: 0,
            status: status.into(),
            last_error: last_error.map(str::to_owned),
            card_last4: Some(card.last4().to_owned()),
            disputed: false,
        };
        let completion = match last_error {
            None => Completion::Succeed { avs_fail: false },
            Some(code) => Completion::Fail {
                decline_code: code.to_owned(),
            },
        };
        self.queue(events(&intent, &completion, now));
        let charged = OffSessionCharge {
            intent: id,
            outcome: outcome_of(&intent),
        };
        intents.push(intent);
        Ok(charged)
    }

    /// Refunds `amount` of a paid intent, once per key (a key seen before answers as the first
    /// time did); its `charge.refunded` event is queued. As Stripe: only a paid intent, and never
    /// more than is left of it.
    pub fn refund(
        &mut self,
        intents: &mut [SandboxIntent],
        intent: &str,
        amount: i64,
        key: &str,
        now: i64,
    ) -> Result<(), ProcessorError> {
        // As Stripe: a key seen before answers as the first time did, unless it asks another
        // refund (then it is an error, not a second refund).
        if let Some(seen) = self.refunds.iter().find(|r| r.idempotency_key == key) {
            if seen.intent != intent || seen.amount != amount {
                return Err(ProcessorError::IdempotencyConflict);
            }
            return Ok(());
        }
        let paid = intents
            .iter_mut()
            .find(|i| i.id == intent)
            .ok_or(ProcessorError::Rejected {
                code: "resource_missing".into(),
            })?;
        if paid.status != "succeeded" {
            return Err(ProcessorError::UnexpectedState {
                status: paid.status.clone(),
            });
        }
        if paid.refunded >= paid.amount {
            return Err(ProcessorError::Rejected {
                code: "charge_already_refunded".into(),
            });
        }
        if amount <= 0 || paid.refunded + amount > paid.amount {
            return Err(ProcessorError::Rejected {
                code: "amount_too_large".into(),
            });
        }
        paid.refunded += amount;
        let completion = Completion::Refund {
            refunded: paid.refunded,
        };
        let sent = events(paid, &completion, now);
        self.queue(sent);
        self.refunds.push(Refund {
            idempotency_key: key.to_owned(),
            intent: intent.to_owned(),
            amount,
        });
        Ok(())
    }

    fn queue(&mut self, bodies: Vec<Vec<u8>>) {
        self.outbox.extend(bodies.into_iter().map(|body| Pending {
            body: String::from_utf8_lossy(&body).into_owned(),
            attempts: 0,
        }));
    }

    /// The queued events, each signed and handed to `deliver`, in order; those the route did not
    /// accept stay queued for the next round (until [`MAX_ATTEMPTS`]). Returns how many it accepted.
    pub async fn deliver<Deliver, Delivered>(
        &mut self,
        secrets: &WebhookSecrets,
        now: i64,
        deliver: Deliver,
    ) -> usize
    where
        Deliver: Fn(Vec<u8>, String) -> Delivered,
        Delivered: std::future::Future<Output = anyhow::Result<(u16, String)>>,
    {
        let mut kept = Vec::new();
        let mut accepted = 0;
        for mut pending in std::mem::take(&mut self.outbox) {
            let body = pending.body.clone().into_bytes();
            let signature = secrets.sign_stripe(now, &body);
            match deliver(body, signature).await {
                Ok((status, _)) if (200..300).contains(&status) => accepted += 1,
                outcome => {
                    pending.attempts += 1;
                    if pending.attempts < MAX_ATTEMPTS {
                        kept.push(pending);
                    } else {
                        tracing::warn!(?outcome, "sandbox event dropped after its retries");
                    }
                }
            }
        }
        self.outbox = kept;
        accepted
    }

    /// Saves evidence on a dispute; once submitted it cannot change (as at Stripe).
    pub fn update_dispute(
        &mut self,
        id: &str,
        evidence: &DisputeEvidence,
        submit: bool,
    ) -> Result<(), ProcessorError> {
        let saved = SandboxDispute {
            id: id.to_owned(),
            evidence: evidence.clone(),
            submitted: submit,
        };
        match self.disputes.iter_mut().find(|d| d.id == id) {
            // The same submission again (its idempotency key): answered as the first.
            Some(d) if d.submitted && submit && d.evidence == *evidence => Ok(()),
            Some(d) if d.submitted => Err(ProcessorError::Rejected {
                code: "dispute_already_submitted".into(),
            }),
            Some(d) => {
                *d = saved;
                Ok(())
            }
            None => {
                self.disputes.push(saved);
                Ok(())
            }
        }
    }

    pub fn has_pending(&self) -> bool {
        !self.outbox.is_empty()
    }
}

fn outcome_of(intent: &SandboxIntent) -> OffSession {
    match intent.last_error.as_deref() {
        None => OffSession::Accepted,
        Some("authentication_required") => OffSession::AuthenticationRequired,
        Some(code) => OffSession::Declined {
            code: code.to_owned(),
        },
    }
}

/// Loads, changes and stores the cards file in one step (the caller holds the sandbox's lock).
pub async fn with_cards<T>(
    path: &Path,
    change: impl FnOnce(&mut Cards) -> Result<T, ProcessorError>,
) -> Result<T, ProcessorError> {
    let mut cards = load(path).await.map_err(unavailable)?;
    let out = change(&mut cards)?;
    store(path, &cards).await.map_err(unavailable)?;
    Ok(out)
}
