//! The one mapping from errors to HTTP: every [`ApiError`] (and through it every domain refusal)
//! gets its status and stable `code` here, and exactly one place (`impl IntoResponse for
//! ApiError`) turns it into an RFC 9457 `application/problem+json` response.
//! Internal causes go to the log with the request id; the client gets a stable `code` and a generic text.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::error::ApiError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The problem document (RFC 9457), with our stable `code` extension member.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    pub status: u16,
    pub detail: String,
    pub code: &'static str,
}

use crate::domain::refusals::SetupError as S;
use crate::domain::refusals::{BookingError as B, PatientError as Pa, PaymentError as P};
use crate::domain::schedule::SlotError;
use crate::error::InputError as I;

const BAD: StatusCode = StatusCode::BAD_REQUEST;
const INVALID: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;
const CONFLICT: StatusCode = StatusCode::CONFLICT;

/// The table: every reason a request is refused, its status and its stable `code`.
fn refusal(e: &ApiError) -> Option<(StatusCode, &'static str)> {
    Some(match e {
        ApiError::Input(i) => match i {
            I::InvalidQuery => (BAD, "invalid_query"),
            I::IdempotencyKeyRequired => (BAD, "idempotency_key_required"),
            I::InvalidIdempotencyKey => (BAD, "invalid_idempotency_key"),
            I::IdempotencyKeyReused => (INVALID, "idempotency_key_reused"),
            I::UnreadableBody => (BAD, "unreadable_body"),
            I::MalformedJson => (BAD, "malformed_json"),
            I::InvalidBody => (INVALID, "invalid_body"),
            I::InvalidTimestamp(_) => (BAD, "invalid_timestamp"),
            I::InvalidBodyTimestamp(_) => (INVALID, "invalid_timestamp"),
            I::InvalidProviderId => (BAD, "invalid_provider_id"),
            I::InvalidServiceId => (BAD, "invalid_service_id"),
            I::InvalidRange => (BAD, "invalid_range"),
            I::RangeTooLong => (BAD, "range_too_long"),
            I::RangeRequired => (BAD, "range_required"),
            I::CalendarProviderRequired | I::WaitlistProviderRequired => (BAD, "provider_required"),
            I::InvalidEvent => (BAD, "invalid_event"),
            I::SignatureMissing => (BAD, "signature_missing"),
            I::SignatureMalformed => (BAD, "signature_malformed"),
            I::SignatureOutsideTolerance => (BAD, "signature_timestamp_out_of_tolerance"),
            I::SignatureMismatch => (BAD, "signature_mismatch"),
        },
        ApiError::Booking(b) => match b {
            B::PracticeNotConfigured => (CONFLICT, "practice_not_configured"),
            B::ServiceNotOffered => (INVALID, "service_not_offered"),
            B::PatientRequired => (INVALID, "patient_required"),
            B::UnknownPatient => (INVALID, "unknown_patient"),
            B::Slot(SlotError::OffGrid) => (INVALID, "off_grid"),
            B::Slot(SlotError::InPast) => (INVALID, "in_past"),
            B::Slot(SlotError::InsideNotice) => (INVALID, "inside_minimum_notice"),
            B::Slot(SlotError::BeyondAdvance) => (INVALID, "beyond_booking_window"),
            B::SlotTaken => (CONFLICT, "slot_taken"),
            B::HoldExpired => (CONFLICT, "hold_expired"),
            B::HoldMismatch => (INVALID, "hold_mismatch"),
            B::InvalidReason => (INVALID, "invalid_reason"),
            B::AppointmentCancelled => (CONFLICT, "appointment_cancelled"),
            B::AppointmentStarted => (CONFLICT, "appointment_started"),
            B::CutoffPassed => (CONFLICT, "cutoff_passed"),
            B::SameStart => (INVALID, "same_start"),
            B::AppointmentChanged => (CONFLICT, "appointment_changed"),
            B::InvalidWindow => (INVALID, "invalid_range"),
            B::WindowPassed => (INVALID, "in_past"),
            B::LimitReached(_) => (CONFLICT, "limit_reached"),
        },
        ApiError::Setup(s) => match s {
            S::InvalidName => (INVALID, "invalid_name"),
            S::InvalidRules(_) => (INVALID, "invalid_rules"),
            S::InvalidTimeZone => (INVALID, "invalid_time_zone"),
            S::InvalidPolicy => (INVALID, "invalid_policy"),
            S::InvalidLimits(_) => (INVALID, "invalid_limits"),
            S::InvalidDuration => (INVALID, "invalid_duration"),
            S::InvalidProviders => (INVALID, "invalid_providers"),
            S::UnknownProvider => (INVALID, "unknown_provider"),
            S::ChangedMeanwhile => (CONFLICT, "conflict"),
        },
        ApiError::Patient(p) => match p {
            Pa::InvalidName => (INVALID, "invalid_name"),
            Pa::InvalidDateOfBirth => (INVALID, "invalid_date_of_birth"),
            Pa::InvalidPhone => (INVALID, "invalid_phone"),
            Pa::InvalidEmail => (INVALID, "invalid_email"),
            Pa::PatientExists => (CONFLICT, "patient_exists"),
        },
        ApiError::Payment(p) => match p {
            P::InvalidLineItems => (INVALID, "invalid_line_items"),
            P::InvalidDescription => (INVALID, "invalid_description"),
            P::InvalidLineAmount | P::NonPositiveCharge => (INVALID, "invalid_amount"),
            P::InvalidAmount | P::AmountOutOfRange => (INVALID, "invalid_amount"),
            P::UnknownCharge => (INVALID, "unknown_charge"),
            P::AdjustmentCurrency => (INVALID, "currency_mismatch"),
            P::NoChargesInCurrency | P::ChargeInOtherCurrency => (INVALID, "currency_mismatch"),
            P::AdjustsAdjustment => (INVALID, "invalid_adjustment"),
            P::AdjustmentExceedsCharge => (INVALID, "adjustment_exceeds_charge"),
            P::UnknownAppointment => (INVALID, "unknown_appointment"),
            P::UnknownPatient => (INVALID, "unknown_patient"),
            P::BalanceChanged => (CONFLICT, "balance_changed"),
            P::AmountExceedsBalance => (INVALID, "amount_exceeds_balance"),
            P::NothingDue => (INVALID, "nothing_due"),
            P::PaymentInProgress => (CONFLICT, "payment_in_progress"),
            P::PaymentExists => (CONFLICT, "payment_exists"),
            P::Declined => (CONFLICT, "payment_declined"),
            P::ProcessorKeyReused => (CONFLICT, "processor_idempotency_conflict"),
            P::EventInconsistent => (INVALID, "event_inconsistent"),
        },
        _ => return None,
    })
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        if let Some((status, _)) = refusal(self) {
            return status;
        }
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        if let Some((_, code)) = refusal(self) {
            return code;
        }
        match self {
            ApiError::Unavailable { code, .. } => code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::MethodNotAllowed => "method_not_allowed",
            _ => "internal",
        }
    }

    pub fn problem(&self) -> Problem {
        let status = self.status();
        let detail = match self {
            ApiError::Input(e) => e.to_string(),
            ApiError::Booking(e) => e.to_string(),
            ApiError::Setup(e) => e.to_string(),
            ApiError::Patient(e) => e.to_string(),
            ApiError::Payment(e) => e.to_string(),
            ApiError::Unauthorized(_) => "A valid bearer token is required.".into(),
            ApiError::Forbidden => "You may not do this.".into(),
            ApiError::NotFound => "No such resource.".into(),
            ApiError::PayloadTooLarge => "The request body is too large.".into(),
            ApiError::UnsupportedMediaType => "The request body must be application/json.".into(),
            ApiError::MethodNotAllowed => "This method is not allowed here.".into(),
            ApiError::Unavailable { .. } => {
                "A dependency is unavailable; try again shortly.".into()
            }
            ApiError::Unexpected(_) => "An internal error occurred.".into(),
        };
        let code = self.code();
        Problem {
            type_uri: format!("urn:practica:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            detail,
            code,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        match &self {
            ApiError::Unexpected(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::Unavailable { source, code } => {
                tracing::warn!(error = ?source, code, "dependency unavailable")
            }
            ApiError::Unauthorized(reason) => {
                tracing::info!(reason = %reason, "request refused: unauthorized")
            }
            _ => tracing::info!(
                code = problem.code,
                status = problem.status,
                "request refused"
            ),
        }
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self {
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable { .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::CryptoError;
    use crate::store::TableError;
    use http_body_util::BodyExt as _;

    async fn render(e: ApiError) -> (StatusCode, String, serde_json::Value) {
        let response = e.into_response();
        let status = response.status();
        let ct = response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, ct, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn internal_errors_never_reach_the_body() {
        let secret_cause =
            anyhow::anyhow!("patient Jane Doe: table practica-prod key PAT#123 exploded");
        let (status, ct, body) = render(ApiError::Unexpected(secret_cause)).await;
        assert_eq!(status, 500);
        assert_eq!(ct, PROBLEM_JSON);
        assert_eq!(body["code"], "internal");
        assert!(!body.to_string().contains("Jane"));
        assert!(!body.to_string().contains("PAT#123"));
    }

    #[tokio::test]
    async fn key_service_outage_is_503_with_retry_after() {
        let e: ApiError =
            CryptoError::KeyServiceUnavailable(anyhow::anyhow!("DisabledException")).into();
        let response = e.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let (_, _, body) =
            render(CryptoError::KeyServiceUnavailable(anyhow::anyhow!("x")).into()).await;
        assert_eq!(body["type"], "urn:practica:problem:key_service_unavailable");
        assert!(!body.to_string().contains("Disabled"));
    }

    #[tokio::test]
    async fn unreachable_table_is_503() {
        let (status, _, body) =
            render(TableError::Unavailable(anyhow::anyhow!("connection refused")).into()).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "storage_unavailable");
        assert!(!body.to_string().contains("refused"));
    }

    #[tokio::test]
    async fn throttled_table_is_503() {
        let (status, _, body) = render(TableError::Throttled.into()).await;
        assert_eq!(status, 503);
        assert_eq!(body["code"], "storage_busy");
        assert_eq!(body["status"], 503);
    }

    /// Every refusal keeps the status, code and text it had before the domain errors were typed
    /// (the table was taken from the call sites they replaced).
    #[test]
    fn every_refusal_keeps_its_status_code_and_text() {
        use crate::domain::refusals::*;
        use crate::domain::schedule::SlotError;
        use crate::error::InputError;
        let cases = [
            (
                ApiError::Patient(PatientError::InvalidName),
                422,
                "invalid_name",
                "name is 1 to 200 characters.",
            ),
            (
                ApiError::Patient(PatientError::InvalidDateOfBirth),
                422,
                "invalid_date_of_birth",
                "dateOfBirth is a date from 1900 to today.",
            ),
            (
                ApiError::Patient(PatientError::InvalidPhone),
                422,
                "invalid_phone",
                "phone has 7 to 15 digits.",
            ),
            (
                ApiError::Patient(PatientError::InvalidEmail),
                422,
                "invalid_email",
                "email is not an email address.",
            ),
            (
                ApiError::Patient(PatientError::PatientExists),
                409,
                "patient_exists",
                "A patient is already registered under this patientId.",
            ),
            (
                ApiError::Booking(BookingError::SlotTaken),
                409,
                "slot_taken",
                "That time, or part of it, is no longer available.",
            ),
            (
                ApiError::Input(InputError::InvalidProviderId),
                400,
                "invalid_provider_id",
                "providerId is not a provider id.",
            ),
            (
                ApiError::Input(InputError::InvalidRange),
                400,
                "invalid_range",
                "to must be after from.",
            ),
            (
                ApiError::Input(InputError::RangeTooLong),
                400,
                "range_too_long",
                "A range is at most 31 days.",
            ),
            (
                ApiError::Booking(BookingError::InvalidReason),
                422,
                "invalid_reason",
                "A reason is at most 1000 characters without control characters.",
            ),
            (
                ApiError::Booking(BookingError::PracticeNotConfigured),
                409,
                "practice_not_configured",
                "The practice has not been set up yet.",
            ),
            (
                ApiError::Booking(BookingError::ServiceNotOffered),
                422,
                "service_not_offered",
                "The provider does not offer this service.",
            ),
            (
                ApiError::Booking(BookingError::PatientRequired),
                422,
                "patient_required",
                "Staff must name the patient (patientId).",
            ),
            (
                ApiError::Input(InputError::InvalidServiceId),
                400,
                "invalid_service_id",
                "serviceId is not a service id.",
            ),
            (
                ApiError::Booking(BookingError::HoldExpired),
                409,
                "hold_expired",
                "The hold has expired or was released.",
            ),
            (
                ApiError::Booking(BookingError::HoldMismatch),
                422,
                "hold_mismatch",
                "The hold is for another provider, service or start.",
            ),
            (
                ApiError::Booking(BookingError::UnknownPatient),
                422,
                "unknown_patient",
                "No patient is registered under patientId.",
            ),
            (
                ApiError::Input(InputError::RangeRequired),
                400,
                "range_required",
                "A provider's calendar is listed with from and to.",
            ),
            (
                ApiError::Input(InputError::CalendarProviderRequired),
                400,
                "provider_required",
                "Staff and providers list a provider's calendar (providerId, from, to).",
            ),
            (
                ApiError::Booking(BookingError::AppointmentCancelled),
                409,
                "appointment_cancelled",
                "The appointment is cancelled.",
            ),
            (
                ApiError::Booking(BookingError::AppointmentStarted),
                409,
                "appointment_started",
                "The appointment has already started.",
            ),
            (
                ApiError::Booking(BookingError::CutoffPassed),
                409,
                "cutoff_passed",
                "It is too close to the appointment to change it online; please call the practice.",
            ),
            (
                ApiError::Booking(BookingError::SameStart),
                422,
                "same_start",
                "The appointment already starts then.",
            ),
            (
                ApiError::Booking(BookingError::AppointmentChanged),
                409,
                "appointment_changed",
                "The appointment changed meanwhile; read it and try again.",
            ),
            (
                ApiError::Booking(BookingError::InvalidWindow),
                422,
                "invalid_range",
                "to must be after from, at most 31 days later.",
            ),
            (
                ApiError::Booking(BookingError::WindowPassed),
                422,
                "in_past",
                "The window has already passed.",
            ),
            (
                ApiError::Input(InputError::WaitlistProviderRequired),
                400,
                "provider_required",
                "Staff list a provider's waitlist (providerId).",
            ),
            (
                ApiError::Setup(SetupError::InvalidName),
                422,
                "invalid_name",
                "A name is 1 to 200 characters without control characters.",
            ),
            (
                ApiError::Setup(SetupError::InvalidTimeZone),
                422,
                "invalid_time_zone",
                "timeZone must be an IANA zone name.",
            ),
            (
                ApiError::Setup(SetupError::InvalidPolicy),
                422,
                "invalid_policy",
                "holdMinutes is 1 to 60; waitlistOfferMinutes is 5 to 1440.",
            ),
            (
                ApiError::Setup(SetupError::ChangedMeanwhile),
                409,
                "conflict",
                "Try again.",
            ),
            (
                ApiError::Setup(SetupError::InvalidDuration),
                422,
                "invalid_duration",
                "durationMinutes is a multiple of 5 from 5 to 180.",
            ),
            (
                ApiError::Setup(SetupError::InvalidProviders),
                422,
                "invalid_providers",
                "providerIds lists 1 to 50 providers.",
            ),
            (
                ApiError::Setup(SetupError::UnknownProvider),
                422,
                "unknown_provider",
                "providerIds names an unknown provider.",
            ),
            (
                ApiError::Payment(PaymentError::InvalidLineItems),
                422,
                "invalid_line_items",
                "A charge has 1 to 50 line items.",
            ),
            (
                ApiError::Payment(PaymentError::InvalidDescription),
                422,
                "invalid_description",
                "A line-item description is 1 to 200 characters without control characters.",
            ),
            (
                ApiError::Payment(PaymentError::InvalidLineAmount),
                422,
                "invalid_amount",
                "A line-item amount is a non-zero whole number of minor units within range.",
            ),
            (
                ApiError::Payment(PaymentError::NonPositiveCharge),
                422,
                "invalid_amount",
                "A charge totals more than zero; corrections are adjusting entries (adjusts).",
            ),
            (
                ApiError::Payment(PaymentError::UnknownCharge),
                422,
                "unknown_charge",
                "The patient has no charge with this id.",
            ),
            (
                ApiError::Payment(PaymentError::AdjustmentCurrency),
                422,
                "currency_mismatch",
                "An adjustment is in the currency of the charge it corrects.",
            ),
            (
                ApiError::Payment(PaymentError::AdjustsAdjustment),
                422,
                "invalid_adjustment",
                "Adjust the original charge, not an adjustment.",
            ),
            (
                ApiError::Payment(PaymentError::AdjustmentExceedsCharge),
                422,
                "adjustment_exceeds_charge",
                "The adjustment would take the charge below zero.",
            ),
            (
                ApiError::Payment(PaymentError::UnknownAppointment),
                422,
                "unknown_appointment",
                "The patient has no appointment with this id.",
            ),
            (
                ApiError::Payment(PaymentError::UnknownPatient),
                422,
                "unknown_patient",
                "No patient is registered under patientId.",
            ),
            (
                ApiError::Payment(PaymentError::BalanceChanged),
                409,
                "balance_changed",
                "The patient's ledger changed while this request was prepared; retry with the same Idempotency-Key.",
            ),
            (
                ApiError::Payment(PaymentError::InvalidAmount),
                422,
                "invalid_amount",
                "amount is a whole number of minor units greater than zero.",
            ),
            (
                ApiError::Payment(PaymentError::NoChargesInCurrency),
                422,
                "currency_mismatch",
                "The patient has no charges in this currency.",
            ),
            (
                ApiError::Payment(PaymentError::ChargeInOtherCurrency),
                422,
                "currency_mismatch",
                "A chosen charge is in another currency.",
            ),
            (
                ApiError::Payment(PaymentError::AmountExceedsBalance),
                422,
                "amount_exceeds_balance",
                "The amount is more than is outstanding.",
            ),
            (
                ApiError::Payment(PaymentError::NothingDue),
                422,
                "nothing_due",
                "Nothing is outstanding.",
            ),
            (
                ApiError::Payment(PaymentError::AmountOutOfRange),
                422,
                "invalid_amount",
                "The amount is out of range.",
            ),
            (
                ApiError::Payment(PaymentError::PaymentInProgress),
                409,
                "payment_in_progress",
                "An earlier payment is being completed; check the balance before paying again.",
            ),
            (
                ApiError::Payment(PaymentError::PaymentExists),
                409,
                "payment_exists",
                "This payment was already recorded.",
            ),
            (
                ApiError::Input(InputError::InvalidEvent),
                400,
                "invalid_event",
                "The event is not valid JSON of a known shape.",
            ),
            (
                ApiError::Payment(PaymentError::EventInconsistent),
                422,
                "event_inconsistent",
                "The event's amount or currency does not match the payment.",
            ),
            (
                ApiError::Input(InputError::InvalidQuery),
                400,
                "invalid_query",
                "The query parameters do not match the operation (see the OpenAPI document).",
            ),
            (
                ApiError::Input(InputError::IdempotencyKeyRequired),
                400,
                "idempotency_key_required",
                "This operation needs an Idempotency-Key header.",
            ),
            (
                ApiError::Input(InputError::InvalidIdempotencyKey),
                400,
                "invalid_idempotency_key",
                "An Idempotency-Key is 1 to 128 characters of A-Z a-z 0-9 - _ . :",
            ),
            (
                ApiError::Input(InputError::UnreadableBody),
                400,
                "unreadable_body",
                "The body could not be read.",
            ),
            (
                ApiError::Input(InputError::MalformedJson),
                400,
                "malformed_json",
                "The body is not valid JSON.",
            ),
            (
                ApiError::from(SlotError::OffGrid),
                422,
                "off_grid",
                "start is not a bookable time in the provider's schedule.",
            ),
            (
                ApiError::from(SlotError::InPast),
                422,
                "in_past",
                "start is in the past.",
            ),
            (
                ApiError::from(SlotError::InsideNotice),
                422,
                "inside_minimum_notice",
                "start is inside the provider's minimum notice.",
            ),
            (
                ApiError::from(SlotError::BeyondAdvance),
                422,
                "beyond_booking_window",
                "start is further ahead than the provider books.",
            ),
            (
                ApiError::Input(InputError::InvalidBodyTimestamp("from")),
                422,
                "invalid_timestamp",
                "from must be an RFC 3339 timestamp with an offset (Z or ±hh:mm).",
            ),
            (
                ApiError::Input(InputError::InvalidTimestamp("to")),
                400,
                "invalid_timestamp",
                "to must be an RFC 3339 timestamp with an offset (Z or ±hh:mm).",
            ),
            (
                ApiError::Booking(BookingError::LimitReached(Limited::Holds)),
                409,
                "limit_reached",
                "You already have as many held times as the practice allows; cancel one or call the practice.",
            ),
            (
                ApiError::Setup(SetupError::InvalidRules(
                    "slotMinutes is a multiple of 5 from 5 to 240",
                )),
                422,
                "invalid_rules",
                "slotMinutes is a multiple of 5 from 5 to 240",
            ),
            (
                ApiError::Input(InputError::InvalidBody),
                422,
                "invalid_body",
                "The body does not match the expected schema (see the OpenAPI document).",
            ),
            (
                ApiError::Input(InputError::IdempotencyKeyReused),
                422,
                "idempotency_key_reused",
                "This Idempotency-Key was used with a different request.",
            ),
            (
                ApiError::Payment(PaymentError::Declined),
                409,
                "payment_declined",
                "The payment processor declined the payment.",
            ),
            (
                ApiError::Payment(PaymentError::ProcessorKeyReused),
                409,
                "processor_idempotency_conflict",
                "The processor saw this Idempotency-Key with a different amount; use a new key.",
            ),
            (
                ApiError::Input(InputError::SignatureMissing),
                400,
                "signature_missing",
                "The webhook carries no signature.",
            ),
            (
                ApiError::Input(InputError::SignatureMalformed),
                400,
                "signature_malformed",
                "The webhook's signature headers are malformed.",
            ),
            (
                ApiError::Input(InputError::SignatureOutsideTolerance),
                400,
                "signature_timestamp_out_of_tolerance",
                "The webhook's signed timestamp is too far from the current time.",
            ),
            (
                ApiError::Input(InputError::SignatureMismatch),
                400,
                "signature_mismatch",
                "No webhook signature matches a configured secret.",
            ),
        ];
        for (error, status, code, detail) in cases {
            let problem = error.problem();
            assert_eq!((problem.status, problem.code), (status, code), "{error:?}");
            assert_eq!(problem.detail, detail, "{error:?}");
            assert!(
                error.is_refusal() || status == 400 || code == "invalid_body",
                "{error:?}"
            );
        }
    }
}
