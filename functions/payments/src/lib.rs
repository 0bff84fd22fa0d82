//! The payments function's HTTP API: staff post charges, patients and staff read balances and
//! create payment intents, patients (or staff for them) pay a booking's deposit, patients save a card on file and she or staff remove it, staff draft
//! and submit the evidence answering a dispute. Handlers stay thin: extract and authorize the caller, parse, call
//! the use cases in `shared::payments`, return their reply.

use std::sync::Arc;

use axum::extract::{FromRef, FromRequestParts, State};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ids::{AppointmentId, ChargeId, PatientId};
use serde::Deserialize;
use shared::auth::Verifier;
use shared::payments::cards;
use shared::payments::charges::{self, ChargeRequest};
use shared::payments::deposits;
use shared::payments::disputes;
use shared::payments::fees;
use shared::payments::intents::{self, IntentRequestBody};
use shared::payments::processor::PaymentProcessor;
use shared::unit_of_work::{Idempotency, Reply};
use shared::web::idempotent::{Change, Operation};
use shared::web::{ApiPath, ApiQuery, Caller};
use shared::{error::ApiError, state::AppState};

/// What the payments routes run on: the common state and the processor adapter.
#[derive(Clone)]
pub struct PaymentsState {
    pub app: AppState,
    pub processor: Arc<dyn PaymentProcessor>,
}

impl FromRef<PaymentsState> for AppState {
    fn from_ref(state: &PaymentsState) -> Self {
        state.app.clone()
    }
}

impl FromRequestParts<PaymentsState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &PaymentsState,
    ) -> Result<Self, ApiError> {
        shared::web::caller_of(parts, &state.app).await
    }
}

impl FromRef<PaymentsState> for Arc<Verifier> {
    fn from_ref(state: &PaymentsState) -> Self {
        state.app.verifier.clone()
    }
}

async fn health() -> &'static str {
    "ok"
}

async fn create_charge(change: Change<ChargeRequest>) -> Result<Reply, ApiError> {
    change
        .run(Operation::CreateCharge, charges::create_charge)
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

async fn waive_fee(
    ApiPath(id): ApiPath<String>,
    change: Change<fees::WaiveRequest>,
) -> Result<Reply, ApiError> {
    let id = ChargeId::parse(&id).ok_or(ApiError::NotFound)?;
    let work =
        async |s: &AppState, c: &Caller, i: &Idempotency, req| fees::waive(s, c, i, &id, req).await;
    change.run(Operation::WaiveFee(&id), work).await
}

async fn create_payment_intent(
    State(s): State<PaymentsState>,
    change: Change<IntentRequestBody>,
) -> Result<Reply, ApiError> {
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, req| {
        intents::create_intent(app, processor, caller, idem, req).await
    };
    change.run(Operation::CreatePaymentIntent, work).await
}

async fn card(
    State(s): State<PaymentsState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<BalanceQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(cards::view(&s.app, &caller, q.patient_id).await?))
}

async fn setup_card(
    State(s): State<PaymentsState>,
    change: Change<cards::SetupBody>,
) -> Result<Reply, ApiError> {
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, req| {
        cards::setup(app, processor, caller, idem, req).await
    };
    change.run(Operation::SetupCard, work).await
}

async fn remove_card(
    State(s): State<PaymentsState>,
    change: Change<cards::RemoveBody>,
) -> Result<Reply, ApiError> {
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, req| {
        cards::remove(app, processor, caller, idem, req).await
    };
    change.run(Operation::RemoveCard, work).await
}

async fn pay_deposit(
    State(s): State<PaymentsState>,
    ApiPath(id): ApiPath<String>,
    change: Change<Empty>,
) -> Result<Reply, ApiError> {
    let id = AppointmentId::parse(&id).ok_or(ApiError::NotFound)?;
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, _: Empty| {
        deposits::checkout(app, processor, caller, idem, &id).await
    };
    change.run(Operation::PayDeposit(&id), work).await
}

async fn list_disputes(
    State(s): State<PaymentsState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(disputes::list(&s.app, &caller).await?))
}

/// No body: what is drafted or submitted comes from the records.
#[derive(Clone, Debug, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

async fn draft_evidence(
    State(s): State<PaymentsState>,
    ApiPath(id): ApiPath<String>,
    change: Change<Empty>,
) -> Result<Reply, ApiError> {
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, _: Empty| {
        disputes::draft(app, processor, caller, idem, &id).await
    };
    change.run(Operation::DraftDisputeEvidence(&id), work).await
}

async fn submit_evidence(
    State(s): State<PaymentsState>,
    ApiPath(id): ApiPath<String>,
    change: Change<Empty>,
) -> Result<Reply, ApiError> {
    let processor = &*s.processor;
    let work = async |app: &AppState, caller: &Caller, idem: &Idempotency, _: Empty| {
        disputes::submit(app, processor, caller, idem, &id).await
    };
    change
        .run(Operation::SubmitDisputeEvidence(&id), work)
        .await
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(app: AppState, processor: Arc<dyn PaymentProcessor>) -> Router {
    Router::new()
        .route("/health/payments", get(health))
        .route("/v1/charges", post(create_charge))
        .route("/v1/charges/{chargeId}/waive", post(waive_fee))
        .route("/v1/balance", get(balance))
        .route("/v1/payment-intents", post(create_payment_intent))
        .route("/v1/cards", get(card))
        .route("/v1/cards/setup", post(setup_card))
        .route("/v1/cards/remove", post(remove_card))
        .route(
            "/v1/appointments/{appointmentId}/deposit",
            post(pay_deposit),
        )
        .route("/v1/disputes", get(list_disputes))
        .route("/v1/disputes/{disputeId}/evidence", post(draft_evidence))
        .route("/v1/disputes/{disputeId}/submit", post(submit_evidence))
        .layer(axum::Extension(shared::web::FunctionName("payments")))
        .with_state(PaymentsState { app, processor })
}

/// The function's complete router, as Lambda runs it.
pub fn router(app: AppState, processor: Arc<dyn PaymentProcessor>) -> Router {
    shared::web::finish(routes(app, processor))
}
