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
    /// A refused series: each occurrence that cannot be booked, with the nearest free starts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflicts: Option<Vec<domain::series::Conflict>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<crate::error::RequiredConsent>>,
    /// A refused answer: the question it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    /// A cancellation not sent with the fee it costs: the fee.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fee: Option<domain::money::Money>,
}

use crate::error::InputError as I;
use domain::refusals::SetupError as S;
use domain::refusals::{
    BookingError as B, FeedbackError as F, PatientError as Pa, PaymentError as P,
};
use domain::schedule::SlotError;

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
            I::InvalidTreeSizes => (BAD, "invalid_tree_sizes"),
            I::RangeTooLong => (BAD, "range_too_long"),
            I::InvalidCursor => (BAD, "invalid_cursor"),
            I::InvalidLimit => (BAD, "invalid_limit"),
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
            B::InsideFeeWindow => (CONFLICT, "inside_fee_window"),
            B::PolicyChanged => (CONFLICT, "policy_changed"),
            B::SameStart => (INVALID, "same_start"),
            B::AwaitingDeposit => (CONFLICT, "awaiting_deposit"),
            B::VisitModeNotOffered => (INVALID, "visit_mode_not_offered"),
            B::NotOnline => (CONFLICT, "not_online"),
            B::VisitNotOpen => (CONFLICT, "visit_not_open"),
            B::NobodyWaiting => (CONFLICT, "nobody_waiting"),
            B::InvalidCertificate => (INVALID, "invalid_certificate"),
            B::AppointmentChanged => (CONFLICT, "appointment_changed"),
            B::InvalidWindow => (INVALID, "invalid_range"),
            B::WindowPassed => (INVALID, "in_past"),
            B::LimitReached(_) => (CONFLICT, "limit_reached"),
            B::WaitlistEntryChanged => (CONFLICT, "waitlist_entry_changed"),
            B::AlreadyWaiting => (CONFLICT, "already_waiting"),
            B::AttendanceNotAllowed => (CONFLICT, "attendance_not_allowed"),
            B::AttendanceTooEarly => (CONFLICT, "attendance_too_early"),
            B::AttendanceRecorded => (CONFLICT, "attendance_recorded"),
            B::SeriesEvery => (INVALID, "invalid_recurrence"),
            B::SeriesEnd => (INVALID, "invalid_recurrence"),
            B::SeriesTooLong => (INVALID, "series_too_long"),
            B::SeriesNotSelfBookable => (INVALID, "series_not_self_bookable"),
            B::SeriesOccurrenceLimit => (INVALID, "series_limit"),
            B::SeriesChanged => (CONFLICT, "series_changed"),
            B::NotInSeries => (INVALID, "not_in_series"),
        },
        ApiError::Setup(s) => match s {
            S::InvalidName => (INVALID, "invalid_name"),
            S::InvalidRules(_) => (INVALID, "invalid_rules"),
            S::InvalidTimeZone => (INVALID, "invalid_time_zone"),
            S::InvalidPolicy => (INVALID, "invalid_policy"),
            S::InvalidLimits(_) => (INVALID, "invalid_limits"),
            S::InvalidContact(_) => (INVALID, "invalid_contact"),
            S::InvalidDuration => (INVALID, "invalid_duration"),
            S::InvalidProviders => (INVALID, "invalid_providers"),
            S::UnknownProvider => (INVALID, "unknown_provider"),
            S::FeedInitials => (INVALID, "feed_initials"),
            S::CalendarAddress => (INVALID, "calendar_address"),
            S::CalendarPrivate => (INVALID, "calendar_address_private"),
            S::CalendarLabel => (INVALID, "invalid_label"),
            S::UnknownConsent => (INVALID, "unknown_document"),
            S::UnknownForm => (INVALID, "unknown_form"),
            S::PolicyNeedsPrice => (INVALID, "policy_needs_price"),
            S::InvalidCancellationPolicy => (INVALID, "invalid_cancellation_policy"),
            S::TooManyCalendars => (CONFLICT, "too_many_calendars"),
            S::ChangedMeanwhile => (CONFLICT, "conflict"),
        },
        ApiError::Patient(p) => match p {
            Pa::InvalidName => (INVALID, "invalid_name"),
            Pa::InvalidDateOfBirth => (INVALID, "invalid_date_of_birth"),
            Pa::InvalidPhone => (INVALID, "invalid_phone"),
            Pa::InvalidEmail => (INVALID, "invalid_email"),
            Pa::PatientExists => (CONFLICT, "patient_exists"),
            Pa::EmailNotVouched => (INVALID, "email_not_vouched"),
            Pa::EmailDiffers => (CONFLICT, "email_differs"),
            Pa::ChangedMeanwhile => (CONFLICT, "conflict"),
            Pa::InvalidIdToken => (INVALID, "invalid_id_token"),
            Pa::SearchTooShort => (INVALID, "search_too_short"),
            Pa::SearchTooLong => (INVALID, "search_too_long"),
            Pa::SearchDateFormat => (INVALID, "search_date_format"),
            Pa::SearchEitherEmailOrQuery => (INVALID, "invalid_body"),
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
            P::NotAFee => (INVALID, "not_a_fee"),
            P::NoCardOnFile => (StatusCode::NOT_FOUND, "no_card_on_file"),
            P::NoDepositDue => (StatusCode::CONFLICT, "no_deposit_due"),
            P::DepositLapsed => (StatusCode::CONFLICT, "deposit_lapsed"),
            P::CardChanged => (StatusCode::CONFLICT, "card_changed"),
            P::EvidenceNotDrafted => (StatusCode::CONFLICT, "evidence_not_drafted"),
            P::EvidenceSubmitted => (StatusCode::CONFLICT, "evidence_submitted"),
            P::DisputeClosed => (StatusCode::CONFLICT, "dispute_closed"),
            P::EvidenceChanged => (StatusCode::CONFLICT, "evidence_changed"),
            P::FeeAlreadyWaived => (CONFLICT, "fee_already_waived"),
            P::FeeNothingLeft => (CONFLICT, "fee_nothing_left"),
            P::WaiverReasonReserved => (INVALID, "waiver_reason_reserved"),
            P::PaymentInProgress => (CONFLICT, "payment_in_progress"),
            P::PaymentExists => (CONFLICT, "payment_exists"),
            P::Declined => (CONFLICT, "payment_declined"),
            P::ProcessorKeyReused => (CONFLICT, "processor_idempotency_conflict"),
            P::EventInconsistent => (INVALID, "event_inconsistent"),
        },
        ApiError::Feedback(f) => match f {
            F::InvalidText => (INVALID, "invalid_text"),
            F::InvalidRating => (INVALID, "invalid_rating"),
            F::UnknownAppointment => (INVALID, "unknown_appointment"),
            F::InvalidNote => (INVALID, "invalid_note"),
            F::AlreadyResolved => (CONFLICT, "already_resolved"),
        },
        ApiError::Staff(s) => {
            use domain::refusals::StaffError as S;
            match s {
                S::InvalidEmail => (INVALID, "invalid_email"),
                S::InvalidName => (INVALID, "invalid_name"),
                S::InvalidRole => (INVALID, "invalid_role"),
                S::Exists => (CONFLICT, "staff_exists"),
                S::DisableSelf => (CONFLICT, "cannot_disable_self"),
                S::LastAdministrator => (CONFLICT, "last_administrator"),
            }
        }
        ApiError::SeriesConflicts(_) => (CONFLICT, "series_conflicts"),
        ApiError::ConsentRequired(_) => (CONFLICT, "consent_required"),
        ApiError::FeeApplies(_) => (CONFLICT, "fee_applies"),
        ApiError::Form(f) => {
            use domain::forms::FormError as F;
            match f {
                F::InvalidDefinition(_) => (INVALID, "invalid_form"),
                F::UnknownQuestion(_) => (INVALID, "unknown_question"),
                F::InvalidAnswer(..) => (INVALID, "invalid_answer"),
                F::Missing(_) => (INVALID, "answer_required"),
                F::TooLarge => (INVALID, "answers_too_large"),
                F::VersionChanged => (CONFLICT, "form_version_changed"),
            }
        }
        ApiError::Consent(c) => {
            use domain::consent::ConsentError as C;
            match c {
                C::InvalidTitle => (INVALID, "invalid_title"),
                C::InvalidText => (INVALID, "invalid_text"),
                C::InvalidTypedName => (INVALID, "invalid_typed_name"),
                C::NotAgreed => (INVALID, "not_agreed"),
                C::VersionChanged => (CONFLICT, "consent_version_changed"),
                C::AlreadySigned => (CONFLICT, "consent_already_signed"),
                C::NotSigned => (CONFLICT, "consent_not_signed"),
                C::UnknownDocument => (StatusCode::NOT_FOUND, "unknown_document"),
            }
        }
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
            ApiError::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ApiError::UnknownFeed => StatusCode::NOT_FOUND,
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
            ApiError::TooManyRequests => "rate_limited",
            ApiError::UnknownFeed => "unknown_feed",
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
            ApiError::Feedback(e) => e.to_string(),
            ApiError::Staff(e) => e.to_string(),
            ApiError::Consent(e) => e.to_string(),
            ApiError::Form(e) => e.to_string(),
            ApiError::ConsentRequired(_) => "Sign the documents listed in documents first (their current versions): this asks for them. Nothing was changed.".into(),
            ApiError::FeeApplies(_) => "Cancelling now costs the late-cancellation fee named in fee, under the cancellation policy this visit was booked under. Nothing was cancelled; to cancel, send it again with acceptFee set to that fee.".into(),
            ApiError::SeriesConflicts(_) => "Some occurrences of the series cannot be booked: each is listed in conflicts with the nearest free starts that day. Nothing was booked; change the time, or send conflicts: skip to book the free ones.".into(),
            ApiError::Unauthorized(_) => "A valid bearer token is required.".into(),
            ApiError::Forbidden => "You may not do this.".into(),
            ApiError::NotFound => "No such resource.".into(),
            ApiError::PayloadTooLarge => "The request body is too large.".into(),
            ApiError::TooManyRequests => "Too many requests; try again later.".into(),
            ApiError::UnknownFeed => "No calendar feed has this link: it may have been replaced or turned off.".into(),
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
            conflicts: match self {
                ApiError::SeriesConflicts(c) => Some(c.clone()),
                _ => None,
            },
            documents: match self {
                ApiError::ConsentRequired(d) => Some(d.clone()),
                _ => None,
            },
            question: match self {
                ApiError::Form(f) => f.question().map(str::to_owned),
                _ => None,
            },
            fee: match self {
                ApiError::FeeApplies(fee) => Some(*fee),
                _ => None,
            },
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
            ApiError::TooManyRequests => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("600"));
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests;
