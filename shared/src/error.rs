//! The error a use case answers with: a domain refusal, a missing or refused caller, or a
//! dependency that cannot serve. It names no HTTP type; `crate::web::problem` maps it to a status and
//! a problem document.

use crate::auth::AuthError;
use crate::crypto::CryptoError;
use crate::store::TableError;
use domain::refusals::{BookingError, FeedbackError, PatientError, PaymentError, SetupError};
use domain::schedule::SlotError;

/// What a client sent that cannot be read as a request: 400, or 422 for a well-formed JSON body
/// whose values are not (`InvalidBody`, `InvalidBodyTimestamp`, `IdempotencyKeyReused`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("The query parameters do not match the operation (see the OpenAPI document).")]
    InvalidQuery,
    #[error("This operation needs an Idempotency-Key header.")]
    IdempotencyKeyRequired,
    #[error("An Idempotency-Key is 1 to 128 characters of A-Z a-z 0-9 - _ . :")]
    InvalidIdempotencyKey,
    #[error("This Idempotency-Key was used with a different request.")]
    IdempotencyKeyReused,
    #[error("The body could not be read.")]
    UnreadableBody,
    #[error("The body is not valid JSON.")]
    MalformedJson,
    #[error("The body does not match the expected schema (see the OpenAPI document).")]
    InvalidBody,
    /// A malformed timestamp in the query string.
    #[error("{0} {TIMESTAMP_FORM}")]
    InvalidTimestamp(&'static str),
    /// A malformed timestamp in a JSON body.
    #[error("{0} {TIMESTAMP_FORM}")]
    InvalidBodyTimestamp(&'static str),
    #[error("providerId is not a provider id.")]
    InvalidProviderId,
    #[error("serviceId is not a service id.")]
    InvalidServiceId,
    #[error("to must be after from.")]
    InvalidRange,
    #[error("A range is at most 31 days.")]
    RangeTooLong,
    #[error(
        "from must be a size the log signed, at most to, and to at most the latest signed checkpoint's size."
    )]
    InvalidTreeSizes,
    #[error("cursor is not one this list returned.")]
    InvalidCursor,
    #[error("limit is 1 to 50.")]
    InvalidLimit,
    #[error("A provider's calendar is listed with from and to.")]
    RangeRequired,
    #[error("Staff and providers list a provider's calendar (providerId, from, to).")]
    CalendarProviderRequired,
    #[error("Staff list a provider's waitlist (providerId).")]
    WaitlistProviderRequired,
    #[error("The event is not valid JSON of a known shape.")]
    InvalidEvent,
    #[error("The webhook carries no signature.")]
    SignatureMissing,
    #[error("The webhook's signature headers are malformed.")]
    SignatureMalformed,
    #[error("The webhook's signed timestamp is too far from the current time.")]
    SignatureOutsideTolerance,
    #[error("No webhook signature matches a configured secret.")]
    SignatureMismatch,
}

const TIMESTAMP_FORM: &str = "must be an RFC 3339 timestamp with an offset (Z or ±hh:mm).";

/// A consent document a patient must sign before the service is booked: its current version.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiredConsent {
    pub document_id: domain::consent::DocumentId,
    pub title: String,
    pub version_hash: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request that cannot be read; its text says why.
    #[error("bad input: {0:?}")]
    Input(#[from] InputError),
    #[error("booking refused: {0:?}")]
    Booking(#[from] BookingError),
    #[error("setup refused: {0:?}")]
    Setup(#[from] SetupError),
    #[error("patient refused: {0:?}")]
    Patient(#[from] PatientError),
    #[error("payment refused: {0:?}")]
    Payment(#[from] PaymentError),
    #[error("feedback refused: {0:?}")]
    Feedback(#[from] FeedbackError),
    #[error("staff refused: {0:?}")]
    Staff(#[from] domain::refusals::StaffError),
    #[error("form refused: {0:?}")]
    Form(#[from] domain::forms::FormError),
    #[error("consent refused: {0:?}")]
    Consent(#[from] domain::consent::ConsentError),
    /// The service requires consents the patient has not signed (their current versions).
    #[error("consents required: {}", .0.len())]
    ConsentRequired(Vec<RequiredConsent>),
    /// A patient's cancellation that would charge the policy's fee, which the request did not
    /// accept (`acceptFee`): the fee, so the page can say it and ask again.
    #[error("late-cancellation fee not accepted")]
    FeeApplies(domain::money::Money),
    /// Occurrences of a series that cannot be booked as asked, each listed.
    #[error("series refused: {} conflicts", .0.len())]
    SeriesConflicts(Vec<domain::series::Conflict>),
    #[error("unauthorized")]
    Unauthorized(#[source] AuthError),
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("payload too large")]
    PayloadTooLarge,
    /// No calendar feed has this link (never made, replaced or turned off).
    #[error("unknown feed")]
    UnknownFeed,
    /// A caller (a calendar feed's link) asked more often than its limit allows.
    #[error("too many requests")]
    TooManyRequests,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A dependency (key service, table) cannot serve now; the client may retry.
    #[error("service unavailable: {code}")]
    Unavailable {
        code: &'static str,
        #[source]
        source: anyhow::Error,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::JwksUnavailable(source) => ApiError::Unavailable {
                code: "identity_provider_unavailable",
                source,
            },
            other => ApiError::Unauthorized(other),
        }
    }
}

impl From<domain::access::Denied> for ApiError {
    fn from(_: domain::access::Denied) -> Self {
        ApiError::Forbidden
    }
}

impl From<CryptoError> for ApiError {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::KeyServiceUnavailable(source) => ApiError::Unavailable {
                code: "key_service_unavailable",
                source,
            },
            CryptoError::Integrity => {
                ApiError::Unexpected(anyhow::anyhow!("sealed value failed integrity check"))
            }
            CryptoError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

impl From<TableError> for ApiError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::Throttled | TableError::TransactionConflict => ApiError::Unavailable {
                code: "storage_busy",
                source: anyhow::Error::new(e),
            },
            TableError::Unavailable(source) => ApiError::Unavailable {
                code: "storage_unavailable",
                source,
            },
            // A condition the domain did not map itself is a bug, not the client's fault.
            other => ApiError::Unexpected(anyhow::Error::new(other).context("table")),
        }
    }
}

impl From<crate::store::codec::Corrupt> for ApiError {
    fn from(e: crate::store::codec::Corrupt) -> Self {
        ApiError::Unexpected(anyhow::Error::new(e))
    }
}

impl ApiError {
    /// A refusal by the rules, given what the table holds now (409/422): the kind of answer an
    /// idempotent retry of a request that already succeeded gets, and which its stored reply wins.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            ApiError::Booking(_)
                | ApiError::Setup(_)
                | ApiError::Patient(_)
                | ApiError::Payment(_)
                | ApiError::Feedback(_)
                | ApiError::Staff(_)
                | ApiError::SeriesConflicts(_)
                | ApiError::Consent(_)
                | ApiError::Form(_)
                | ApiError::ConsentRequired(_)
                | ApiError::FeeApplies(_)
                | ApiError::Input(InputError::InvalidBodyTimestamp(_))
                | ApiError::Input(InputError::IdempotencyKeyReused)
        )
    }
}

impl From<SlotError> for ApiError {
    fn from(e: SlotError) -> Self {
        ApiError::Booking(e.into())
    }
}
