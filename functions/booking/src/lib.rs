//! The booking function's HTTP API: practice setup, availability, holds, appointments, patients,
//! the waitlist, feedback and complaints, and the audit log's readers (a patient's access log, an admin's search). Handlers stay thin: extract the caller and the request, call one use case in
//! `shared::booking`, return its reply. Every POST that changes something takes a
//! [`Change`] (an `Idempotency-Key` is required); PUTs take a [`Put`] (the key is optional).

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::ids::{
    AppointmentId, CalendarId, FeedbackId, PatientId, ProviderId, SeriesId, SignatureId,
    SubmissionId, WaitlistId,
};
use domain::schedule::Rules;
use serde::Serialize;
use shared::audit::{access, search};
use shared::auth::{Principal, Role, Subject};
use shared::booking::{
    appointments, availability, book, busy, changes, consents, feeds, forms, holds, patient_search,
    patients, series, setup, visits, waitlist,
};
use shared::common::paging::PageQuery;
use shared::feedback;
use shared::unit_of_work::{Idempotency, Reply};
use shared::web::idempotent::{Change, Operation, Put};
use shared::web::{ApiJson, ApiPath, ApiQuery, Caller, RequestId};
use shared::{error::ApiError, state::AppState};

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

async fn put_practice(put: Put<setup::PracticeRequest>) -> Result<Reply, ApiError> {
    put.run(Operation::PutPractice, setup::put_practice).await
}

async fn create_provider(change: Change<setup::ProviderRequest>) -> Result<Reply, ApiError> {
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        setup::create_provider(s, c, Some(i), req).await
    };
    change.run(Operation::CreateProvider, work).await
}

async fn list_providers(State(s): State<AppState>, caller: Caller) -> Json200 {
    Ok(Json(setup::list_providers(&s, &caller).await?))
}

async fn get_provider(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, ProviderId::parse)?;
    Ok(Json(setup::get_provider(&s, &caller, &id).await?))
}

async fn put_schedule(ApiPath(id): ApiPath<String>, put: Put<Rules>) -> Result<Reply, ApiError> {
    let id = path_id(&id, ProviderId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: Option<&Idempotency>, rules| {
        setup::put_schedule(s, c, i, &id, rules).await
    };
    put.run(Operation::PutSchedule(&id), work).await
}

async fn availability(
    State(s): State<AppState>,
    _caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<availability::AvailabilityQuery>,
) -> Json200 {
    let id = path_id(&id, ProviderId::parse)?;
    Ok(Json(availability::availability(&s, &id, &q).await?))
}

async fn create_service(change: Change<setup::ServiceRequest>) -> Result<Reply, ApiError> {
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        setup::create_service(s, c, Some(i), req).await
    };
    change.run(Operation::CreateService, work).await
}

async fn list_services(State(s): State<AppState>, _caller: Caller) -> Json200 {
    Ok(Json(setup::list_services(&s).await?))
}

async fn create_hold(change: Change<holds::HoldRequest>) -> Result<Reply, ApiError> {
    change.run(Operation::CreateHold, holds::create_hold).await
}

async fn book(change: Change<book::BookRequest>) -> Result<Reply, ApiError> {
    change.run(Operation::Book, book::book).await
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
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, AppointmentId::parse)?;
    Ok(Json(appointments::get_appointment(&s, &caller, &id).await?))
}

async fn reschedule(
    ApiPath(id): ApiPath<String>,
    change: Change<changes::RescheduleRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        changes::reschedule(s, c, i, &id, req).await
    };
    change.run(Operation::Reschedule(&id), work).await
}

async fn cancel(
    ApiPath(id): ApiPath<String>,
    change: Change<changes::CancelRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        changes::cancel(s, c, i, &id, req).await
    };
    change.run(Operation::Cancel(&id), work).await
}

async fn visit_room(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, AppointmentId::parse)?;
    Ok(Json(visits::room(&s, &caller, &id).await?))
}

/// A step in a visit's room: joining names the page's DTLS certificate (its fingerprint).
#[derive(Clone, Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
struct StepBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate: Option<String>,
}

async fn visit_step(
    id: String,
    step: visits::Step,
    change: Change<StepBody>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, body: StepBody| {
        visits::step(s, c, i, &id, step, body.certificate).await
    };
    change
        .run(Operation::VisitStep(&id, step.as_str()), work)
        .await
}

async fn join_visit(
    ApiPath(id): ApiPath<String>,
    change: Change<StepBody>,
) -> Result<Reply, ApiError> {
    visit_step(id, visits::Step::Join, change).await
}

async fn admit_to_visit(
    ApiPath(id): ApiPath<String>,
    change: Change<StepBody>,
) -> Result<Reply, ApiError> {
    visit_step(id, visits::Step::Admit, change).await
}

async fn leave_visit(
    ApiPath(id): ApiPath<String>,
    change: Change<StepBody>,
) -> Result<Reply, ApiError> {
    visit_step(id, visits::Step::Leave, change).await
}

async fn record_attendance(
    ApiPath(id): ApiPath<String>,
    change: Change<changes::AttendanceRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, AppointmentId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        changes::record_attendance(s, c, i, &id, req).await
    };
    change.run(Operation::Attendance(&id), work).await
}

async fn create_series(change: Change<series::create::SeriesRequest>) -> Result<Reply, ApiError> {
    change
        .run(Operation::CreateSeries, series::create::create_series)
        .await
}

async fn list_series(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<series::read::SeriesListQuery>,
) -> Json200 {
    Ok(Json(series::read::list_series(&s, &caller, &q).await?))
}

async fn get_series(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, SeriesId::parse)?;
    Ok(Json(series::read::get_series(&s, &caller, &id).await?))
}

async fn cancel_series(
    ApiPath(id): ApiPath<String>,
    change: Change<series::change::CancelFollowingRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, SeriesId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        series::change::cancel_following(s, c, i, &id, req).await
    };
    change.run(Operation::CancelSeries(&id), work).await
}

async fn move_series(
    ApiPath(id): ApiPath<String>,
    change: Change<series::change::MoveFollowingRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, SeriesId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        series::change::move_following(s, c, i, &id, req).await
    };
    change.run(Operation::MoveSeries(&id), work).await
}

async fn create_feed(change: Change<feeds::FeedRequest>) -> Result<Reply, ApiError> {
    change.run(Operation::CreateFeed, feeds::create_feed).await
}

async fn revoke_feed(change: Change<feeds::RevokeRequest>) -> Result<Reply, ApiError> {
    change.run(Operation::RevokeFeed, feeds::revoke_feed).await
}

async fn add_busy_calendar(
    ApiPath(id): ApiPath<String>,
    change: Change<busy::manage::AddCalendarRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, ProviderId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        busy::manage::add_calendar(s, c, i, &id, req).await
    };
    change.run(Operation::AddBusyCalendar(&id), work).await
}

async fn list_busy_calendars(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, ProviderId::parse)?;
    Ok(Json(busy::manage::list_calendars(&s, &caller, &id).await?))
}

async fn remove_busy_calendar(
    ApiPath((provider, calendar)): ApiPath<(String, String)>,
    change: Change<busy::manage::RemoveCalendarRequest>,
) -> Result<Reply, ApiError> {
    let provider = path_id(&provider, ProviderId::parse)?;
    let calendar = path_id(&calendar, CalendarId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, _| {
        busy::manage::remove_calendar(s, c, i, &provider, &calendar).await
    };
    change
        .run(Operation::RemoveBusyCalendar(&provider, &calendar), work)
        .await
}

async fn list_forms(State(s): State<AppState>, caller: Caller) -> Json200 {
    Ok(Json(forms::list(&s, &caller).await?))
}

async fn put_form(
    ApiPath(id): ApiPath<String>,
    put: Put<domain::forms::Form>,
) -> Result<Reply, ApiError> {
    let id = forms::form_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: Option<&Idempotency>, form| {
        forms::put_form(s, c, i, &id, form).await
    };
    put.run(Operation::PutForm(&id), work).await
}

async fn get_form_draft(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = forms::form_id(&id)?;
    Ok(Json(forms::fill::draft(&s, &caller, &id).await?))
}

async fn put_form_draft(
    ApiPath(id): ApiPath<String>,
    put: Put<forms::fill::AnswersRequest>,
) -> Result<Reply, ApiError> {
    let id = forms::form_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: Option<&Idempotency>, req| {
        forms::fill::save_draft(s, c, i, &id, req).await
    };
    put.run(Operation::SaveFormDraft(&id), work).await
}

async fn submit_form(
    ApiPath(id): ApiPath<String>,
    change: Change<forms::fill::AnswersRequest>,
) -> Result<Reply, ApiError> {
    let id = forms::form_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        forms::fill::submit(s, c, i, &id, req).await
    };
    change.run(Operation::SubmitForm(&id), work).await
}

async fn patient_forms(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, PatientId::parse)?;
    Ok(Json(forms::read::of_patient(&s, &caller, &id).await?))
}

async fn form_submission(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((patient, submission)): ApiPath<(String, String)>,
) -> Json200 {
    let patient = path_id(&patient, PatientId::parse)?;
    let id = path_id(&submission, SubmissionId::parse)?;
    Ok(Json(
        forms::read::submission(&s, &caller, &patient, &id).await?,
    ))
}

async fn list_consents(State(s): State<AppState>, caller: Caller) -> Json200 {
    Ok(Json(consents::read::list(&s, &caller).await?))
}

async fn put_consent_document(
    ApiPath(id): ApiPath<String>,
    put: Put<consents::DocumentRequest>,
) -> Result<Reply, ApiError> {
    let id = consents::document_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: Option<&Idempotency>, req| {
        consents::put_document(s, c, i, &id, req).await
    };
    put.run(Operation::PutConsentDocument(&id), work).await
}

async fn sign_consent(
    ApiPath(id): ApiPath<String>,
    change: Change<consents::sign::SignRequest>,
) -> Result<Reply, ApiError> {
    let id = consents::document_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        consents::sign::sign(s, c, i, &id, req).await
    };
    change.run(Operation::SignConsent(&id), work).await
}

async fn withdraw_consent(
    ApiPath(id): ApiPath<String>,
    change: Change<consents::sign::WithdrawRequest>,
) -> Result<Reply, ApiError> {
    let id = consents::document_id(&id)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        consents::sign::withdraw(s, c, i, &id, req).await
    };
    change.run(Operation::WithdrawConsent(&id), work).await
}

async fn patient_consents(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, PatientId::parse)?;
    Ok(Json(consents::read::of_patient(&s, &caller, &id).await?))
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyQuery {
    #[serde(default)]
    format: CopyFormat,
}

#[derive(Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
enum CopyFormat {
    #[default]
    Json,
    Html,
}

/// A page to read and print, which has no scripts and no external assets (and is allowed none).
fn printable(page: String) -> axum::response::Response {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse as _;
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

/// A patient's copy of her record (JSON, or `?format=html`, the page to read and print).
async fn patient_record(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CopyQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let id = path_id(&id, PatientId::parse)?;
    let record = shared::record::export(&s, &caller, &id).await?;
    Ok(match q.format {
        CopyFormat::Html => printable(domain::record::printable(&record)),
        CopyFormat::Json => Json(record).into_response(),
    })
}

/// A signature's copy: JSON with the signed log's proof (what `practica audit check-proof`
/// verifies), or `?format=html`, the printable page.
async fn consent_copy(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((patient, signature)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<CopyQuery>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse as _;
    let html = q.format == CopyFormat::Html;
    let patient = path_id(&patient, PatientId::parse)?;
    let id = path_id(&signature, SignatureId::parse)?;
    let copy = consents::read::copy(&s, &caller, &patient, &id).await?;
    let (checkpoint, entries) = shared::audit::access::entity_proof(
        &s,
        "consent",
        id.as_str(),
        &["consent.sign", "consent.withdraw"],
        &patient,
    )
    .await?;
    let sig = &copy.signature;
    let at = domain::instant::render_in(sig.at, &copy.zone);
    if html {
        let at = domain::instant::render_words(sig.at, &copy.zone);
        let leaf_index = entries
            .first()
            .and_then(|e| e.inclusion.as_ref())
            .map(|i| i.leaf_index);
        let page = domain::consent::printable(&domain::consent::Printable {
            practice: &copy.practice,
            title: &sig.title,
            text: &copy.text,
            version_hash: &sig.version_hash,
            kind: sig.kind,
            typed_name: &copy.typed_name,
            at: &at,
            signature_id: sig.id.as_str(),
            leaf_index,
        });
        return Ok(printable(page));
    }
    Ok(Json(serde_json::json!({
        "patientId": patient,
        "signatureId": sig.id,
        "documentId": sig.document,
        "title": sig.title,
        "kind": sig.kind.as_str(),
        "at": at,
        "typedName": copy.typed_name,
        "nameOpening": copy.name_opening,
        "signedAtUtc": domain::instant::render_utc(sig.at),
        "practice": copy.practice,
        "versionHash": sig.version_hash,
        "text": copy.text,
        "checkpoint": checkpoint,
        "entries": entries,
    }))
    .into_response())
}

async fn list_feeds(State(s): State<AppState>, caller: Caller) -> Json200 {
    Ok(Json(feeds::list_feeds(&s, &caller).await?))
}

/// A calendar app's fetch of a feed link: no token (the link is the credential), text/calendar.
async fn calendar_feed(
    State(s): State<AppState>,
    ApiPath(file): ApiPath<String>,
    axum::Extension(RequestId(request_id)): axum::Extension<RequestId>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    let served = feeds::serve_feed(&s, &file, if_none_match, &request_id).await?;
    let common = [
        (header::ETAG, served.etag),
        (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
    ];
    Ok(match served.body {
        Some(body) => (
            StatusCode::OK,
            common,
            [(header::CONTENT_TYPE, "text/calendar; charset=utf-8")],
            body,
        )
            .into_response(),
        None => (StatusCode::NOT_MODIFIED, common).into_response(),
    })
}

async fn list_staff(State(s): State<AppState>, caller: Caller) -> Json200 {
    let directory = shared::staff::directory(&s)?;
    Ok(Json(shared::staff::list(&s, directory, &caller).await?))
}

async fn add_staff(change: Change<shared::staff::AddRequest>) -> Result<Reply, ApiError> {
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        shared::staff::add(s, shared::staff::directory(s)?, c, i, req).await
    };
    change.run(Operation::AddStaff, work).await
}

async fn disable_staff(
    ApiPath(subject): ApiPath<String>,
    change: Change<shared::staff::DisableRequest>,
) -> Result<Reply, ApiError> {
    let subject = path_id(&subject, shared::auth::Subject::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, _| {
        shared::staff::disable(s, shared::staff::directory(s)?, c, i, &subject).await
    };
    change
        .run(Operation::DisableStaff(subject.as_str()), work)
        .await
}

async fn create_patient(change: Change<patients::NewPatient>) -> Result<Reply, ApiError> {
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        patients::create(s, c, Some(i), req).await
    };
    change.run(Operation::CreatePatient, work).await
}

async fn search_patients(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(search): ApiJson<patient_search::PatientSearch>,
) -> Result<Json<patient_search::Found>, ApiError> {
    Ok(Json(patient_search::search(&s, &caller, search).await?))
}

type PatientJson = Result<Json<shared::common::patients::PatientView>, ApiError>;

async fn get_patient(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> PatientJson {
    let id = path_id(&id, PatientId::parse)?;
    Ok(Json(patients::get(&s, &caller, &id).await?))
}

async fn patient_messages(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Json200 {
    let id = path_id(&id, PatientId::parse)?;
    let messages = shared::booking::patient_messages::list(&s, &caller, &id).await?;
    Ok(Json(serde_json::json!({ "messages": messages })))
}

async fn patient_access_log(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<access::AccessLog>, ApiError> {
    let id = path_id(&id, PatientId::parse)?;
    Ok(Json(access::access_log(&s, &caller, &id, &q).await?))
}

async fn my_access_log(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<access::AccessLog>, ApiError> {
    caller
        .principal
        .authorize(&[Role::Patient], shared::auth::Resource::Shared)?;
    let id = PatientId::of(&caller.principal.subject);
    Ok(Json(access::access_log(&s, &caller, &id, &q).await?))
}

async fn audit_consistency(
    State(s): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<access::ConsistencyQuery>,
) -> Result<Json<access::ConsistencyProof>, ApiError> {
    Ok(Json(access::consistency(&s, &q).await?))
}

async fn search_audit(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<search::SearchQuery>,
) -> Result<Json<search::SearchPage>, ApiError> {
    Ok(Json(search::search(&s, &caller, &q).await?))
}

async fn get_me(State(s): State<AppState>, caller: Caller) -> PatientJson {
    caller
        .principal
        .authorize(&[Role::Patient], shared::auth::Resource::Shared)?;
    let id = PatientId::of(&caller.principal.subject);
    Ok(Json(patients::get(&s, &caller, &id).await?))
}

async fn put_me(put: Put<patients::PatientDetails>) -> Result<Reply, ApiError> {
    put.run(Operation::PutMe, patients::put_me).await
}

async fn verify_my_email(
    headers: axum::http::HeaderMap,
    change: Change<patients::VerifyEmail>,
) -> Result<Reply, ApiError> {
    // The bearer token was verified by `Change`; the ID token is checked by the use case.
    let text = |name| headers.get(name).map(|v| v.to_str().unwrap_or_default());
    let bearer = shared::auth::bearer(text(axum::http::header::AUTHORIZATION.as_str()))?;
    let id_token = text(shared::web::ID_TOKEN_HEADER).map(str::trim);
    let tokens = patients::LoginTokens { bearer, id_token };
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        patients::verify_email(s, c, Some(i), req, tokens).await
    };
    change.run(Operation::VerifyEmail, work).await
}

async fn get_notifications(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<shared::notify::preferences::PreferencesView>, ApiError> {
    Ok(Json(shared::notify::preferences::get(&s, &caller).await?))
}

async fn put_notifications(
    put: Put<shared::notify::preferences::PreferencesRequest>,
) -> Result<Reply, ApiError> {
    put.run(
        Operation::PutNotifications,
        shared::notify::preferences::put,
    )
    .await
}

async fn join_waitlist(change: Change<waitlist::WaitlistRequest>) -> Result<Reply, ApiError> {
    change
        .run(Operation::JoinWaitlist, waitlist::join_waitlist)
        .await
}

async fn leave_waitlist(
    ApiPath(id): ApiPath<String>,
    change: Change<waitlist::LeaveRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, WaitlistId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        waitlist::leave(s, c, i, &id, req).await
    };
    change.run(Operation::LeaveWaitlist(&id), work).await
}

async fn list_waitlist(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<waitlist::WaitlistQuery>,
) -> Json200 {
    Ok(Json(waitlist::list_waitlist(&s, &caller, &q).await?))
}

async fn submit_feedback(change: Change<feedback::FeedbackRequest>) -> Result<Reply, ApiError> {
    change
        .run(Operation::SubmitFeedback, feedback::submit)
        .await
}

async fn list_feedback(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<feedback::ListQuery>,
) -> Json200 {
    Ok(Json(feedback::list(&s, &caller, &q).await?))
}

async fn resolve_feedback(
    ApiPath(id): ApiPath<String>,
    change: Change<feedback::ResolveRequest>,
) -> Result<Reply, ApiError> {
    let id = path_id(&id, FeedbackId::parse)?;
    let work = async |s: &AppState, c: &Caller, i: &Idempotency, req| {
        feedback::resolve(s, c, i, &id, req).await
    };
    change.run(Operation::ResolveFeedback(&id), work).await
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
        .route(
            "/v1/providers/{providerId}/calendars",
            get(list_busy_calendars).post(add_busy_calendar),
        )
        .route(
            "/v1/providers/{providerId}/calendars/{calendarId}/remove",
            post(remove_busy_calendar),
        )
        .route("/v1/services", get(list_services).post(create_service))
        .route("/v1/holds", post(create_hold))
        .route("/v1/appointments", get(list_appointments).post(book))
        .route("/v1/appointments/{appointmentId}", get(get_appointment))
        .route(
            "/v1/appointments/{appointmentId}/reschedule",
            post(reschedule),
        )
        .route("/v1/appointments/{appointmentId}/cancel", post(cancel))
        .route(
            "/v1/appointments/{appointmentId}/attendance",
            post(record_attendance),
        )
        .route("/v1/appointments/{appointmentId}/visit", get(visit_room))
        .route(
            "/v1/appointments/{appointmentId}/visit/join",
            post(join_visit),
        )
        .route(
            "/v1/appointments/{appointmentId}/visit/admit",
            post(admit_to_visit),
        )
        .route(
            "/v1/appointments/{appointmentId}/visit/leave",
            post(leave_visit),
        )
        .route("/v1/forms", get(list_forms))
        .route("/v1/forms/{formId}", axum::routing::put(put_form))
        .route(
            "/v1/forms/{formId}/draft",
            get(get_form_draft).put(put_form_draft),
        )
        .route("/v1/forms/{formId}/submissions", post(submit_form))
        .route("/v1/patients/{patientId}/forms", get(patient_forms))
        .route(
            "/v1/patients/{patientId}/forms/{submissionId}",
            get(form_submission),
        )
        .route("/v1/consents", get(list_consents))
        .route(
            "/v1/consents/{documentId}",
            axum::routing::put(put_consent_document).layer(axum::extract::DefaultBodyLimit::max(
                shared::web::DOCUMENT_BODY_BYTES,
            )),
        )
        .route("/v1/consents/{documentId}/sign", post(sign_consent))
        .route("/v1/consents/{documentId}/withdraw", post(withdraw_consent))
        .route("/v1/patients/{patientId}/consents", get(patient_consents))
        .route(
            "/v1/patients/{patientId}/consents/{signatureId}",
            get(consent_copy),
        )
        .route("/v1/calendar-feeds", get(list_feeds).post(create_feed))
        .route("/v1/calendar-feeds/revoke", post(revoke_feed))
        .route("/v1/feeds/{file}", get(calendar_feed))
        .route("/v1/series", get(list_series).post(create_series))
        .route("/v1/series/{seriesId}", get(get_series))
        .route("/v1/series/{seriesId}/cancel", post(cancel_series))
        .route("/v1/series/{seriesId}/move", post(move_series))
        .route("/v1/staff", get(list_staff).post(add_staff))
        .route("/v1/staff/{subject}/disable", post(disable_staff))
        .route("/v1/patients", post(create_patient))
        .route("/v1/patients/search", post(search_patients))
        .route("/v1/patients/me", get(get_me).put(put_me))
        .route("/v1/patients/{patientId}", get(get_patient))
        .route("/v1/patients/{patientId}/messages", get(patient_messages))
        .route("/v1/patients/me/access-log", get(my_access_log))
        .route("/v1/patients/{patientId}/record", get(patient_record))
        .route("/v1/patients/me/email-verification", post(verify_my_email))
        .route(
            "/v1/patients/me/notifications",
            get(get_notifications).put(put_notifications),
        )
        .route(
            "/v1/patients/{patientId}/access-log",
            get(patient_access_log),
        )
        .route("/v1/audit", get(search_audit))
        .route("/v1/audit/consistency", get(audit_consistency))
        .route("/v1/waitlist", get(list_waitlist).post(join_waitlist))
        .route("/v1/waitlist/{waitlistId}/leave", post(leave_waitlist))
        .route("/v1/feedback", get(list_feedback).post(submit_feedback))
        .route("/v1/feedback/{feedbackId}/resolve", post(resolve_feedback))
        .route("/health/booking", get(health))
        .layer(axum::Extension(shared::web::FunctionName("booking")))
        .with_state(state)
}

/// The function's complete router, as Lambda runs it.
pub fn router(state: AppState) -> Router {
    shared::web::finish(routes(state))
}
