//! The one way a route runs a change under an `Idempotency-Key`: the key is bound to the caller, the
//! [`Operation`] and the exact request ([`Idempotency::new`]); the use case commits its reply with the
//! change; a retry that the table now refuses (409/422) gets the stored reply instead
//! ([`Idempotency::run`]). Use cases authorize before any such refusal, so a caller who may not
//! make the request never sees a stored reply.
//!
//! Routes take a [`Change`] (POST: the key is required) or a [`Put`] (the key is optional) and hand
//! it the use case: `change.run(Operation::Book, book::book)`.

use std::fmt;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ApiJson, IdempotencyHeader};
use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::unit_of_work::{Idempotency, Reply};
use domain::access::Caller;
use domain::consent::DocumentId;
use domain::ids::{
    AppointmentId, CalendarId, ChargeId, FeedbackId, IdempotencyKey, ProviderId, SeriesId,
    WaitlistId,
};

/// What a key is bound to: the route and its path ids. These names are inside every stored
/// fingerprint, so renaming one would make that route's stored replies unreachable.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    PutPractice,
    CreateProvider,
    PutSchedule(&'a ProviderId),
    CreateService,
    CreateHold,
    Book,
    Reschedule(&'a AppointmentId),
    Cancel(&'a AppointmentId),
    Attendance(&'a AppointmentId),
    CreatePatient,
    PutMe,
    VerifyEmail,
    PutNotifications,
    JoinWaitlist,
    LeaveWaitlist(&'a WaitlistId),
    CreateCharge,
    CreatePaymentIntent,
    SubmitFeedback,
    ResolveFeedback(&'a FeedbackId),
    CreateSeries,
    CancelSeries(&'a SeriesId),
    MoveSeries(&'a SeriesId),
    CreateFeed,
    RevokeFeed,
    AddBusyCalendar(&'a ProviderId),
    RemoveBusyCalendar(&'a ProviderId, &'a CalendarId),
    PutConsentDocument(&'a DocumentId),
    SignConsent(&'a DocumentId),
    WithdrawConsent(&'a DocumentId),
    PutForm(&'a DocumentId),
    SaveFormDraft(&'a DocumentId),
    SubmitForm(&'a DocumentId),
    WaiveFee(&'a ChargeId),
    SetupCard,
    RemoveCard,
    PayDeposit(&'a AppointmentId),
    VisitStep(&'a AppointmentId, &'static str),
    DraftDisputeEvidence(&'a str),
    SubmitDisputeEvidence(&'a str),
    AddStaff,
    DisableStaff(&'a str),
}

impl fmt::Display for Operation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::PutPractice => f.write_str("put_practice"),
            Operation::CreateProvider => f.write_str("create_provider"),
            Operation::PutSchedule(id) => write!(f, "put_schedule:{id}"),
            Operation::CreateService => f.write_str("create_service"),
            Operation::CreateHold => f.write_str("create_hold"),
            Operation::Book => f.write_str("book"),
            Operation::Reschedule(id) => write!(f, "reschedule:{id}"),
            Operation::Cancel(id) => write!(f, "cancel:{id}"),
            Operation::Attendance(id) => write!(f, "attendance:{id}"),
            Operation::CreatePatient => f.write_str("create_patient"),
            Operation::PutMe => f.write_str("put_me"),
            Operation::VerifyEmail => f.write_str("verify_email"),
            Operation::PutNotifications => f.write_str("put_notifications"),
            Operation::JoinWaitlist => f.write_str("join_waitlist"),
            Operation::LeaveWaitlist(id) => write!(f, "leave_waitlist:{id}"),
            Operation::CreateCharge => f.write_str("create_charge"),
            Operation::CreatePaymentIntent => f.write_str("create_payment_intent"),
            Operation::SubmitFeedback => f.write_str("submit_feedback"),
            Operation::ResolveFeedback(id) => write!(f, "resolve_feedback:{id}"),
            Operation::CreateSeries => f.write_str("create_series"),
            Operation::CancelSeries(id) => write!(f, "cancel_series:{id}"),
            Operation::MoveSeries(id) => write!(f, "move_series:{id}"),
            Operation::CreateFeed => f.write_str("create_feed"),
            Operation::RevokeFeed => f.write_str("revoke_feed"),
            Operation::AddBusyCalendar(p) => write!(f, "add_busy_calendar:{p}"),
            Operation::RemoveBusyCalendar(p, c) => write!(f, "remove_busy_calendar:{p}:{c}"),
            Operation::PutConsentDocument(d) => write!(f, "put_consent_document:{d}"),
            Operation::SignConsent(d) => write!(f, "sign_consent:{d}"),
            Operation::WithdrawConsent(d) => write!(f, "withdraw_consent:{d}"),
            Operation::PutForm(d) => write!(f, "put_form:{d}"),
            Operation::SaveFormDraft(d) => write!(f, "save_form_draft:{d}"),
            Operation::SubmitForm(d) => write!(f, "submit_form:{d}"),
            Operation::WaiveFee(c) => write!(f, "waive_fee:{c}"),
            Operation::SetupCard => f.write_str("setup_card"),
            Operation::PayDeposit(a) => write!(f, "pay_deposit:{a}"),
            Operation::VisitStep(a, step) => write!(f, "visit_{step}:{a}"),
            Operation::RemoveCard => f.write_str("remove_card"),
            Operation::DraftDisputeEvidence(d) => write!(f, "draft_dispute_evidence:{d}"),
            Operation::SubmitDisputeEvidence(d) => write!(f, "submit_dispute_evidence:{d}"),
            Operation::AddStaff => f.write_str("add_staff"),
            Operation::DisableStaff(s) => write!(f, "disable_staff:{s}"),
        }
    }
}

/// Runs `work` on the request `body` under `key` (a POST, where the key is required).
pub async fn idempotent<B: Serialize>(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    operation: Operation<'_>,
    body: B,
    work: impl AsyncFnOnce(&Idempotency, B) -> Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    let idem = Idempotency::new(state, caller, key, &operation.to_string(), &body).await?;
    idem.run(state, work(&idem, body)).await
}

/// Runs `work` under `key` if the client sent one (a PUT, idempotent by its nature).
pub async fn idempotent_if_keyed<B: Serialize>(
    state: &AppState,
    caller: &Caller,
    key: Option<&IdempotencyKey>,
    operation: Operation<'_>,
    body: B,
    work: impl AsyncFnOnce(Option<&Idempotency>, B) -> Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    match key {
        Some(key) => {
            let work = async |idem: &Idempotency, body| work(Some(idem), body).await;
            idempotent(state, caller, key, operation, body, work).await
        }
        None => work(None, body).await,
    }
}

/// A changing request, extracted in the order its refusals take precedence: the caller (401/403),
/// the `Idempotency-Key` (400 when missing or malformed), then the JSON body (400/413/415/422).
pub struct Change<B> {
    state: AppState,
    caller: Caller,
    key: IdempotencyKey,
    body: B,
}

/// A replacing request (PUT): as [`Change`], but the key is optional.
pub struct Put<B> {
    state: AppState,
    caller: Caller,
    key: Option<IdempotencyKey>,
    body: B,
}

async fn extract<S, B>(
    req: Request,
    state: &S,
    key_required: bool,
) -> Result<(AppState, Caller, Option<IdempotencyKey>, B), ApiError>
where
    B: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    let (mut parts, body) = req.into_parts();
    let app = AppState::from_ref(state);
    let caller = super::caller_of(&mut parts, &app).await?;
    let key = if key_required {
        Some(IdempotencyHeader::from_request_parts(&mut parts, state).await?)
    } else {
        <Option<IdempotencyHeader>>::from_request_parts(&mut parts, state).await?
    };
    let ApiJson(body) = ApiJson::<B>::from_request(Request::from_parts(parts, body), state).await?;
    let key = key.map(|IdempotencyHeader(k)| k);
    Ok((app, caller, key, body))
}

impl<S, B> FromRequest<S> for Change<B>
where
    B: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (state, caller, key, body) = extract(req, state, true).await?;
        let key = key.ok_or(ApiError::Input(InputError::IdempotencyKeyRequired))?;
        Ok(Change {
            state,
            caller,
            key,
            body,
        })
    }
}

impl<S, B> FromRequest<S> for Put<B>
where
    B: DeserializeOwned,
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let (state, caller, key, body) = extract(req, state, false).await?;
        Ok(Put {
            state,
            caller,
            key,
            body,
        })
    }
}

impl<B: Serialize> Change<B> {
    /// Runs the use case `work` under this request's key.
    pub async fn run(
        self,
        operation: Operation<'_>,
        work: impl AsyncFnOnce(&AppState, &Caller, &Idempotency, B) -> Result<Reply, ApiError>,
    ) -> Result<Reply, ApiError> {
        let Change {
            state,
            caller,
            key,
            body,
        } = self;
        let work = async |idem: &Idempotency, body| work(&state, &caller, idem, body).await;
        idempotent(&state, &caller, &key, operation, body, work).await
    }
}

impl<B: Serialize> Put<B> {
    /// Runs the use case `work` under this request's key, if it has one.
    pub async fn run(
        self,
        operation: Operation<'_>,
        work: impl AsyncFnOnce(&AppState, &Caller, Option<&Idempotency>, B) -> Result<Reply, ApiError>,
    ) -> Result<Reply, ApiError> {
        let Put {
            state,
            caller,
            key,
            body,
        } = self;
        let work = async |idem: Option<&Idempotency>, body| work(&state, &caller, idem, body).await;
        idempotent_if_keyed(&state, &caller, key.as_ref(), operation, body, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_the_stored_ones() {
        let p = ProviderId::new();
        let a = AppointmentId::new();
        let w = WaitlistId::new();
        let names = [
            (Operation::PutPractice, "put_practice".to_owned()),
            (Operation::CreateProvider, "create_provider".into()),
            (Operation::PutSchedule(&p), format!("put_schedule:{p}")),
            (Operation::CreateService, "create_service".into()),
            (Operation::CreateHold, "create_hold".into()),
            (Operation::Book, "book".into()),
            (Operation::Reschedule(&a), format!("reschedule:{a}")),
            (Operation::Cancel(&a), format!("cancel:{a}")),
            (Operation::Attendance(&a), format!("attendance:{a}")),
            (Operation::CreatePatient, "create_patient".into()),
            (Operation::PutMe, "put_me".into()),
            (Operation::VerifyEmail, "verify_email".into()),
            (Operation::PutNotifications, "put_notifications".into()),
            (Operation::JoinWaitlist, "join_waitlist".into()),
            (Operation::LeaveWaitlist(&w), format!("leave_waitlist:{w}")),
            (Operation::CreateCharge, "create_charge".into()),
            (
                Operation::CreatePaymentIntent,
                "create_payment_intent".into(),
            ),
        ];
        for (op, name) in names {
            assert_eq!(op.to_string(), name);
        }
    }
}
