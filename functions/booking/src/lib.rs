//! The booking function's HTTP API: practice setup, availability, holds, appointments, patients
//! and the waitlist. Handlers stay thin: extract and authorize the caller, parse, call the domain
//! in `shared::booking`, return its reply. Every POST that changes something needs an
//! `Idempotency-Key`.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use shared::auth::{Principal, Role, Subject};
use shared::booking::{
    appointments, availability, book, changes, holds, patients, setup, waitlist,
};
use shared::domain::ids::{AppointmentId, PatientId, ProviderId};
use shared::domain::schedule::Rules;
use shared::store::commit::Reply;
use shared::web::idempotent::{Operation, idempotent, idempotent_if_keyed};
use shared::web::{ApiJson, ApiQuery, Caller, IdempotencyHeader};
use shared::{ApiError, AppState};

type Json200 = Result<Json<serde_json::Value>, ApiError>;

#[derive(Debug, Serialize)]
pub struct Me {
    pub sub: Subject,
    pub roles: Vec<Role>,
}

async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        sub: principal.subject,
        roles: principal.roles.into_iter().collect(),
    })
}

async fn health(State(_): State<AppState>) -> &'static str {
    "ok"
}

/// Ids in a path: a malformed one names nothing, so it is a 404 like an unknown one.
fn path_id<T>(raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(raw).ok_or(ApiError::NotFound)
}

async fn get_practice(State(s): State<AppState>, _caller: Caller) -> Json200 {
    Ok(Json(setup::get_practice(&s).await?))
}

async fn put_practice(
    State(s): State<AppState>,
    caller: Caller,
    key: Option<IdempotencyHeader>,
    ApiJson(req): ApiJson<setup::PracticeRequest>,
) -> Result<Reply, ApiError> {
    let key = key.map(|IdempotencyHeader(k)| k);
    idempotent_if_keyed(
        &s,
        &caller,
        key.as_ref(),
        Operation::PutPractice,
        req,
        async |idem, req| setup::put_practice(&s, &caller, idem, req).await,
    )
    .await
}

async fn create_provider(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<setup::ProviderRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::CreateProvider,
        req,
        async |idem, req| setup::create_provider(&s, &caller, Some(idem), req).await,
    )
    .await
}

async fn list_providers(State(s): State<AppState>, _caller: Caller) -> Json200 {
    Ok(Json(setup::list_providers(&s).await?))
}

async fn get_provider(
    State(s): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
) -> Json200 {
    let id = path_id(&id, ProviderId::parse)?;
    Ok(Json(setup::get_provider(&s, &id).await?))
}

async fn put_schedule(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    key: Option<IdempotencyHeader>,
    ApiJson(rules): ApiJson<Rules>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, ProviderId::parse)?;
    let key = key.map(|IdempotencyHeader(k)| k);
    let op = Operation::PutSchedule(&id);
    idempotent_if_keyed(&s, &caller, key.as_ref(), op, rules, async |idem, rules| {
        setup::put_schedule(&s, &caller, idem, &id, rules).await
    })
    .await
}

async fn availability(
    State(s): State<AppState>,
    _caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<availability::AvailabilityQuery>,
) -> Json200 {
    let id = path_id(&id, ProviderId::parse)?;
    Ok(Json(availability::availability(&s, &id, &q).await?))
}

async fn create_service(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<setup::ServiceRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::CreateService,
        req,
        async |idem, req| setup::create_service(&s, &caller, Some(idem), req).await,
    )
    .await
}

async fn list_services(State(s): State<AppState>, _caller: Caller) -> Json200 {
    Ok(Json(setup::list_services(&s).await?))
}

async fn create_hold(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<holds::HoldRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::CreateHold,
        req,
        async |idem, req| holds::create_hold(&s, &caller, idem, req).await,
    )
    .await
}

async fn book(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<book::BookRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::Book,
        req,
        async |idem, req| book::book(&s, &caller, idem, req).await,
    )
    .await
}

async fn list_appointments(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<appointments::ListQuery>,
) -> Json200 {
    Ok(Json(
        appointments::list_appointments(&s, &caller, &q).await?,
    ))
}

async fn get_appointment(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Json200 {
    let id = path_id(&id, AppointmentId::parse)?;
    Ok(Json(appointments::get_appointment(&s, &caller, &id).await?))
}

async fn reschedule(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<changes::RescheduleRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    idempotent(
        &s,
        &caller,
        &key,
        Operation::Reschedule(&id),
        req,
        async |idem, req| changes::reschedule(&s, &caller, idem, &id, req).await,
    )
    .await
}

async fn cancel(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<changes::CancelRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    idempotent(
        &s,
        &caller,
        &key,
        Operation::Cancel(&id),
        req,
        async |idem, req| changes::cancel(&s, &caller, idem, &id, req).await,
    )
    .await
}

async fn create_patient(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<patients::NewPatient>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::CreatePatient,
        req,
        async |idem, req| patients::create(&s, &caller, Some(idem), req).await,
    )
    .await
}

async fn search_patients(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(search): ApiJson<patients::PatientSearch>,
) -> Json200 {
    let found = patients::find_by_email(&s, &caller, search).await?;
    Ok(Json(serde_json::json!({ "patients": found })))
}

type PatientJson = Result<Json<patients::PatientView>, ApiError>;

async fn get_patient(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> PatientJson {
    let id = path_id(&id, PatientId::parse)?;
    Ok(Json(patients::get(&s, &caller, &id).await?))
}

async fn get_me(State(s): State<AppState>, caller: Caller) -> PatientJson {
    caller
        .principal
        .authorize(&[Role::Patient], shared::auth::Resource::Shared)?;
    let id = PatientId::of(&caller.principal.subject);
    Ok(Json(patients::get(&s, &caller, &id).await?))
}

async fn put_me(
    State(s): State<AppState>,
    caller: Caller,
    key: Option<IdempotencyHeader>,
    ApiJson(req): ApiJson<patients::PatientDetails>,
) -> Result<Reply, ApiError> {
    let key = key.map(|IdempotencyHeader(k)| k);
    idempotent_if_keyed(
        &s,
        &caller,
        key.as_ref(),
        Operation::PutMe,
        req,
        async |idem, req| patients::put_me(&s, &caller, idem, req).await,
    )
    .await
}

async fn join_waitlist(
    State(s): State<AppState>,
    caller: Caller,
    IdempotencyHeader(key): IdempotencyHeader,
    ApiJson(req): ApiJson<waitlist::WaitlistRequest>,
) -> Result<Reply, ApiError> {
    idempotent(
        &s,
        &caller,
        &key,
        Operation::JoinWaitlist,
        req,
        async |idem, req| waitlist::join_waitlist(&s, &caller, idem, req).await,
    )
    .await
}

async fn list_waitlist(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<waitlist::WaitlistQuery>,
) -> Json200 {
    Ok(Json(waitlist::list_waitlist(&s, &caller, &q).await?))
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/practice", get(get_practice).put(put_practice))
        .route("/v1/providers", get(list_providers).post(create_provider))
        .route("/v1/providers/{providerId}", get(get_provider))
        .route(
            "/v1/providers/{providerId}/schedule",
            axum::routing::put(put_schedule),
        )
        .route("/v1/providers/{providerId}/availability", get(availability))
        .route("/v1/services", get(list_services).post(create_service))
        .route("/v1/holds", post(create_hold))
        .route("/v1/appointments", get(list_appointments).post(book))
        .route("/v1/appointments/{appointmentId}", get(get_appointment))
        .route(
            "/v1/appointments/{appointmentId}/reschedule",
            post(reschedule),
        )
        .route("/v1/appointments/{appointmentId}/cancel", post(cancel))
        .route("/v1/patients", post(create_patient))
        .route("/v1/patients/search", post(search_patients))
        .route("/v1/patients/me", get(get_me).put(put_me))
        .route("/v1/patients/{patientId}", get(get_patient))
        .route("/v1/waitlist", get(list_waitlist).post(join_waitlist))
        .route("/health/booking", get(health))
        .with_state(state)
}

/// The function's complete router, as Lambda runs it.
pub fn router(state: AppState) -> Router {
    shared::web::finish(routes(state))
}
