//! The payments function's HTTP API: staff post charges, patients and staff read balances and
//! create payment intents. Handlers stay thin: extract and authorize the caller, parse, call
//! the use cases in `shared::payments`, return their reply.

use std::sync::Arc;

use axum::extract::{FromRef, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::auth::Verifier;
use shared::domain::ids::PatientId;
use shared::payments::charges::{self, ChargeRequest};
use shared::payments::intents::{self, IntentRequestBody};
use shared::payments::processor::PaymentProcessor;
use shared::store::commit::Reply;
use shared::web::idempotent::{Operation, idempotent};
use shared::web::{ApiJson, ApiQuery, Caller, IdempotencyHeader};
use shared::{ApiError, AppState};

/// What the payments routes run on: the common state and the processor adapter.
#[derive(Clone)]
pub struct PaymentsState {
    pub app: AppState,
    pub processor: Arc<dyn PaymentProcessor>,
}

impl FromRef<PaymentsState> for Arc<Verifier> {
    fn from_ref(state: &PaymentsState) -> Self {
        state.app.verifier.clone()
    }
}

async fn health() -> &'static str {
    "ok"
}

async fn create_charge(
    State(s): State<PaymentsState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<ChargeRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s.app,
        &caller,
        &key,
        Operation::CreateCharge,
        req,
        async |idem, req| charges::create_charge(&s.app, &caller, idem, req).await,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct BalanceQuery {
    patient_id: Option<PatientId>,
}

async fn balance(
    State(s): State<PaymentsState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(charges::balance(&s.app, &caller, q.patient_id).await?))
}

async fn create_payment_intent(
    State(s): State<PaymentsState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<IntentRequestBody>,
) -> Result<Reply, ApiError> {
    let op = Operation::CreatePaymentIntent;
    idempotent(&s.app, &caller, &key, op, req, async |idem, req| {
        intents::create_intent(&s.app, &*s.processor, &caller, &key, idem, req).await
    })
    .await
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(app: AppState, processor: Arc<dyn PaymentProcessor>) -> Router {
    Router::new()
        .route("/health/payments", get(health))
        .route("/v1/charges", post(create_charge))
        .route("/v1/balance", get(balance))
        .route("/v1/payment-intents", post(create_payment_intent))
        .with_state(PaymentsState { app, processor })
}

/// The function's complete router, as Lambda runs it.
pub fn router(app: AppState, processor: Arc<dyn PaymentProcessor>) -> Router {
    shared::web::finish(routes(app, processor))
}
