//! A workforce login's standing on the table (`STAFF#<subject>`): whether, and since when, it is
//! disabled. Written by `crate::staff` when an administrator disables the login; read with every
//! workforce token, and by what a login made that outlives its session (a calendar feed's link).

use crate::error::ApiError;
use crate::store::keys::staff_key;
use crate::store::{AttrValue, Consistency, Table, attr};
use domain::access::Subject;

/// When `subject`'s login was disabled, if it was (a strongly consistent read: a disabling is
/// seen by the very next request).
pub async fn disabled_at(table: &dyn Table, subject: &Subject) -> Result<Option<i64>, ApiError> {
    let item = table.get(&staff_key(subject), Consistency::Strong).await?;
    Ok(item
        .as_ref()
        .and_then(|i| i.get(attr::DISABLED_AT))
        .and_then(AttrValue::as_n))
}
