//! The local test card form's back end, in `practica serve` only (never in a Lambda binary): the
//! portal's pay page, where production mounts the processor's own card element, shows a clearly
//! labelled form whose outcomes complete the sandbox intent through the same signed-webhook path
//! as `practica pay`; the form that saves a test card on file (`/local/sandbox-setup`); and a
//! cardholder's dispute of a paid test payment (`/local/sandbox-dispute`). The page then waits for the balance to show what the webhooks recorded; this
//! route's answer only says the processor's events were sent.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use domain::clock::Clock;
use domain::refusals::PaymentError;
use serde::Deserialize;
use shared::config::payments::WebhookConfig;
use shared::error::ApiError;
use shared::web::ApiJson;
use tower::ServiceExt as _;

use crate::sandbox::{CompleteError, Completion, SandboxProcessor, Which};
use crate::sandbox_cards::TestCard;

pub const SANDBOX_PAY_PATH: &str = "/local/sandbox-pay";
pub const SANDBOX_SETUP_PATH: &str = "/local/sandbox-setup";
pub const SANDBOX_DISPUTE_PATH: &str = "/local/sandbox-dispute";

/// What the local form may ask the sandbox for: the outcomes a practice tests its pay page with.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// Paid, but the address line and postal code checks fail (the practice decides what to do).
    AddressCheckFails,
    DeclinedInsufficientFunds,
    DeclinedGeneric,
}

impl Outcome {
    fn completion(self) -> Completion {
        match self {
            Outcome::Success => Completion::Succeed { avs_fail: false },
            Outcome::AddressCheckFails => Completion::Succeed { avs_fail: true },
            Outcome::DeclinedInsufficientFunds => Completion::Fail {
                decline_code: "insufficient_funds".into(),
            },
            Outcome::DeclinedGeneric => Completion::Fail {
                decline_code: "generic_decline".into(),
            },
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Pay {
    /// The secret of the intent the page was given when it created the payment, as a processor's
    /// client library confirms a payment with it.
    client_secret: String,
    outcome: Outcome,
}

#[derive(Clone)]
struct Checkout {
    sandbox: Arc<SandboxProcessor>,
    config: Arc<WebhookConfig>,
    /// The server's clock, which dates the processor's events.
    clock: Arc<dyn Clock>,
    /// The webhooks function's router: each event goes through its signature check on the raw
    /// bytes, as a processor's delivery does.
    webhooks: axum::Router,
}

/// `POST` completes an intent (the portal knows the form is there from its `config.json`).
pub fn routes(
    sandbox: Arc<SandboxProcessor>,
    config: Arc<WebhookConfig>,
    clock: Arc<dyn Clock>,
    webhooks: axum::Router,
) -> Router {
    Router::new()
        .route(SANDBOX_PAY_PATH, post(pay))
        .route(SANDBOX_SETUP_PATH, post(save))
        .route(SANDBOX_DISPUTE_PATH, post(dispute))
        .with_state(Checkout {
            sandbox,
            config,
            clock,
            webhooks,
        })
}

/// Posts one signed event body to the webhooks function's router, as a processor's delivery does;
/// returns the answer's status and body.
pub async fn deliver_to(
    webhooks: axum::Router,
    bytes: Vec<u8>,
    signature: String,
) -> anyhow::Result<(u16, String)> {
    let request = axum::http::Request::post("/v1/webhooks/stripe")
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(bytes))?;
    let response = webhooks.oneshot(request).await?;
    let status = response.status().as_u16();
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OpenDispute {
    /// A paid sandbox intent (`pi_sbx_...`).
    payment_intent_id: String,
    /// One of Stripe's dispute reasons.
    reason: String,
}

/// `POST /local/sandbox-dispute`: the cardholder disputes a paid sandbox payment with her bank,
/// as `charge.dispute.created` arrives from a processor (for trying the practice's evidence).
async fn dispute(
    State(checkout): State<Checkout>,
    ApiJson(body): ApiJson<OpenDispute>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if !domain::progress::DISPUTE_REASONS.contains(&body.reason.as_str()) {
        return Err(ApiError::NotFound);
    }
    let deliver = |bytes, signature| deliver_to(checkout.webhooks.clone(), bytes, signature);
    let sent = checkout
        .sandbox
        .complete(
            Which::Id(&body.payment_intent_id),
            Completion::Dispute {
                reason: body.reason,
            },
            &checkout.config.stripe,
            checkout.clock.now().as_second(),
            deliver,
        )
        .await
        .map_err(|e| match e {
            CompleteError::Unexpected(e) => ApiError::Unexpected(e),
            _ => ApiError::NotFound,
        })?;
    answered(sent)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Save {
    /// The secret of the setup intent the page was given (`POST /v1/cards/setup`).
    client_secret: String,
    card: TestCard,
}

/// `POST /local/sandbox-setup`: saves a test card with a sandbox setup intent, as the
/// processor's card form in setup mode does; the card is on file once the webhooks say so.
async fn save(
    State(checkout): State<Checkout>,
    ApiJson(body): ApiJson<Save>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let deliver = |bytes, signature| deliver_to(checkout.webhooks.clone(), bytes, signature);
    let sent = checkout
        .sandbox
        .confirm_setup(
            &body.client_secret,
            body.card,
            &checkout.config.stripe,
            deliver,
        )
        .await
        .map_err(ApiError::Unexpected)?
        .ok_or(ApiError::NotFound)?;
    answered(sent)
}

/// The route's answer once the events were delivered: the webhook route must have accepted each.
fn answered(
    sent: Vec<(String, u16, String)>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    if let Some((kind, status, _)) = sent.iter().find(|(_, status, _)| *status >= 300) {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "the webhook route answered {kind} with {status}"
        )));
    }
    let events: Vec<_> = sent.iter().map(|(kind, _, _)| kind.as_str()).collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(serde_json::json!({ "sent": events })),
    ))
}

async fn pay(
    State(checkout): State<Checkout>,
    ApiJson(body): ApiJson<Pay>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let deliver = |bytes, signature| deliver_to(checkout.webhooks.clone(), bytes, signature);
    let sent = checkout
        .sandbox
        .complete(
            Which::ClientSecret(&body.client_secret),
            body.outcome.completion(),
            &checkout.config.stripe,
            checkout.clock.now().as_second(),
            deliver,
        )
        .await
        .map_err(|e| match e {
            CompleteError::NotFound | CompleteError::Canceled => ApiError::NotFound,
            CompleteError::AlreadyPaid => ApiError::Payment(PaymentError::PaymentExists),
            CompleteError::BadRefund | CompleteError::NotPaid => {
                ApiError::Unexpected(anyhow::anyhow!("not a payment completion"))
            }
            CompleteError::Unexpected(e) => ApiError::Unexpected(e),
        })?;
    answered(sent)
}
