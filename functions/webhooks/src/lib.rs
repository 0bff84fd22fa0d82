//! The webhooks function: processor events on `POST /v1/webhooks/stripe` (Stripe-Signature) and
//! `POST /v1/webhooks/standard` (Standard Webhooks). The signature is checked over the exact bytes
//! that arrived (lambda_http has already base64-decoded a binary API Gateway body) before
//! anything parses them; only then is the event read and applied.
//!
//! Answers: 200 when applied, a duplicate, nothing new or of a type we ignore; 400 for a signature or
//! event that fails its checks; 404 for a payment we do not know (yet: the processor retries);
//! 5xx when we cannot store it now, so the processor retries.

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use shared::config::payments::WebhookConfig;
use shared::payments::webhook_events::{self, Outcome};
use shared::web::webhooks::events;
use shared::web::webhooks::signature::{self, StandardHeaders};
use shared::web::{RawBody, RequestId};
use shared::{error::ApiError, state::AppState};

/// Largest accepted webhook body.
pub const WEBHOOK_MAX_BYTES: usize = 256 * 1024;

#[derive(Clone)]
pub struct WebhookState {
    pub app: AppState,
    pub config: Arc<WebhookConfig>,
}

#[derive(Debug, Serialize)]
pub struct Received {
    pub received: bool,
    pub outcome: Outcome,
}

async fn health() -> &'static str {
    "ok"
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

async fn stripe(
    State(s): State<WebhookState>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Received>, ApiError> {
    let now = s.app.clock.now().as_second();
    let verified = signature::verify_stripe(
        header(&headers, "stripe-signature"),
        &body,
        &s.config.stripe,
        now,
        s.config.tolerance_secs,
    );
    counted(&s, verified).await?;
    let (event_id, event) = events::stripe(&body)?;
    receive(&s, "stripe", &event_id, event, &request_id).await
}

/// Passes a signature check's result through, counting a failure (the report shows how many).
async fn counted<T, E: Into<ApiError>>(
    s: &WebhookState,
    verified: Result<T, E>,
) -> Result<T, ApiError> {
    match verified {
        Ok(v) => Ok(v),
        Err(e) => {
            shared::telemetry::count_webhook_signature_failure();
            let counter = shared::counters::WEBHOOK_SIGNATURE_FAILURES;
            shared::counters::count(&*s.app.table, &*s.app.clock, counter).await;
            Err(e.into())
        }
    }
}

/// Applies a verified, read event and acknowledges it.
async fn receive(
    s: &WebhookState,
    source: &'static str,
    event_id: &str,
    event: events::Event,
    request_id: &str,
) -> Result<Json<Received>, ApiError> {
    let outcome = webhook_events::apply_event(&s.app, source, event_id, event, request_id).await?;
    Ok(Json(Received {
        received: true,
        outcome,
    }))
}

async fn standard(
    State(s): State<WebhookState>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Json<Received>, ApiError> {
    let now = s.app.clock.now().as_second();
    let signed = StandardHeaders {
        id: header(&headers, "webhook-id"),
        timestamp: header(&headers, "webhook-timestamp"),
        signature: header(&headers, "webhook-signature"),
    };
    let verified = signature::verify_standard(
        signed,
        &body,
        &s.config.standard,
        now,
        s.config.tolerance_secs,
    );
    let id = counted(&s, verified).await?;
    // Verified above, so the timestamp is digits within the tolerance.
    let timestamp = signed.timestamp.and_then(|t| t.parse().ok()).unwrap_or(now);
    let event = events::standard(id, timestamp, &body)?;
    receive(&s, "standard", id, event, &request_id).await
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(app: AppState, config: WebhookConfig) -> Router {
    Router::new()
        .route("/health/webhooks", get(health))
        .route("/v1/webhooks/stripe", post(stripe))
        .route("/v1/webhooks/standard", post(standard))
        .layer(DefaultBodyLimit::max(WEBHOOK_MAX_BYTES))
        .layer(axum::Extension(shared::web::FunctionName("webhooks")))
        .with_state(WebhookState {
            app,
            config: Arc::new(config),
        })
}

/// The function's complete router, as Lambda runs it.
pub fn router(app: AppState, config: WebhookConfig) -> Router {
    shared::web::finish(routes(app, config))
}
