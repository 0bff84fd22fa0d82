//! Request fields read into domain values: range bounds and slot starts (RFC 3339 as clients send
//! them), provider ids in queries, free-text reasons. Each refusal is a typed [`InputError`] or
//! [`BookingError`].

use crate::error::{ApiError, InputError};
use domain::ids::ProviderId;
use domain::refusals::BookingError;
use domain::schedule::{MAX_RANGE_SECS, SlotError};

/// A range bound (`from`, `to`): an RFC 3339 timestamp with an explicit offset; a fraction of a
/// second is accepted and truncated to the second.
pub fn parse_bound(text: &str) -> Option<i64> {
    domain::instant::parse(text).map(|i| i.second)
}

/// Longest text a patient may give as a reason for visit or for cancelling.
pub(crate) const MAX_REASON_CHARS: usize = 1000;

/// A range bound in a JSON body (422 when malformed); fractions of a second are truncated.
pub fn body_instant(text: &str, field: &'static str) -> Result<i64, ApiError> {
    parse_bound(text).ok_or(ApiError::Input(InputError::InvalidBodyTimestamp(field)))
}

/// A range bound in a query string (400 when malformed); fractions of a second are truncated.
pub fn query_instant(text: &str, field: &'static str) -> Result<i64, ApiError> {
    parse_bound(text).ok_or(ApiError::Input(InputError::InvalidTimestamp(field)))
}

/// A slot start in a JSON body: a zero fraction (`.000Z`) is the same start; any other fraction
/// is not on the schedule's grid.
pub fn body_start(text: &str) -> Result<i64, ApiError> {
    match domain::instant::parse(text) {
        None => Err(ApiError::Input(InputError::InvalidBodyTimestamp("start"))),
        Some(i) if i.nanos != 0 => Err(SlotError::OffGrid.into()),
        Some(i) => Ok(i.second),
    }
}

/// A `providerId` query parameter.
pub(crate) fn query_provider_id(text: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(text).ok_or_else(|| ApiError::Input(InputError::InvalidProviderId))
}

/// `[from, to)` of at most 31 days, from query parameters.
pub fn query_range(from: &str, to: &str) -> Result<(i64, i64), ApiError> {
    let (from, to) = (query_instant(from, "from")?, query_instant(to, "to")?);
    if to <= from {
        return Err(ApiError::Input(InputError::InvalidRange));
    }
    if to - from > MAX_RANGE_SECS {
        return Err(ApiError::Input(InputError::RangeTooLong));
    }
    Ok((from, to))
}

pub(crate) fn reason_text(reason: Option<String>) -> Result<Option<String>, ApiError> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) => {
            Err(ApiError::Booking(BookingError::InvalidReason))
        }
        Some(r) if r.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests;
