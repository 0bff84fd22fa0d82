//! Reading stored items back into records: a missing or malformed attribute is a bug or tampering,
//! never the client's fault (500, and the cause to the log). Writers and readers name attributes
//! only through [`crate::store::attr`].

pub mod audit;
pub mod booking;
pub mod feedback;
pub mod notify;
pub mod payments;

use crate::error::ApiError;
use crate::store::{AttrValue, Item};

/// A stored record that does not decode is a bug or tampering, never the client's fault.
pub fn corrupt(what: &str) -> ApiError {
    ApiError::Unexpected(anyhow::anyhow!("stored {what} is malformed"))
}

pub fn s<'a>(item: &'a Item, name: &str) -> Result<&'a str, ApiError> {
    item.get(name)
        .and_then(AttrValue::as_s)
        .ok_or_else(|| corrupt(name))
}
pub fn n(item: &Item, name: &str) -> Result<i64, ApiError> {
    item.get(name)
        .and_then(AttrValue::as_n)
        .ok_or_else(|| corrupt(name))
}
pub fn parsed<T>(
    item: &Item,
    name: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, ApiError> {
    parse(s(item, name)?).ok_or_else(|| corrupt(name))
}
