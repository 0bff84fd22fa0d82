//! Reading stored items back into records: a missing or malformed attribute is a bug or tampering,
//! never the client's fault (500, and the cause to the log). Writers and readers name attributes
//! only through [`crate::store::attr`].

pub mod audit;
pub mod booking;
pub mod busy;
pub mod consents;
pub mod feedback;
pub mod feeds;
pub mod forms;
pub mod notify;
pub mod payments;

use crate::store::{AttrValue, Item};

/// A record that does not decode (or encode): a bug or tampering, never the client's fault. The
/// store's own error; the use cases turn it into a 500 whose cause goes to the log only.
#[derive(Debug, thiserror::Error)]
#[error("stored {0} is malformed")]
pub struct Corrupt(pub String);

pub fn corrupt(what: &str) -> Corrupt {
    Corrupt(what.to_owned())
}

pub fn s<'a>(item: &'a Item, name: &str) -> Result<&'a str, Corrupt> {
    item.get(name)
        .and_then(AttrValue::as_s)
        .ok_or_else(|| corrupt(name))
}
pub fn n(item: &Item, name: &str) -> Result<i64, Corrupt> {
    item.get(name)
        .and_then(AttrValue::as_n)
        .ok_or_else(|| corrupt(name))
}
pub fn parsed<T>(item: &Item, name: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, Corrupt> {
    parse(s(item, name)?).ok_or_else(|| corrupt(name))
}
