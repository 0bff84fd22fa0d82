//! Reading the signed audit log's own records where a use case cites them (an entry's leaf, the
//! latest checkpoint): the audit use cases and the dispute evidence alike.

use crate::error::ApiError;
use crate::store::codec::{corrupt, n, s};
use crate::store::keys::*;
use crate::store::{Consistency, Key, Query, Table, attr};

/// The leaf index of an integrated entry, if it is integrated.
pub async fn leaf_index_of(
    table: &dyn Table,
    entry_pk: &str,
    entry_sk: &str,
) -> Result<Option<u64>, ApiError> {
    let mark = Key::new(audit_integrated_partition(entry_pk), entry_sk);
    match table.get(&mark, Consistency::Eventual).await? {
        None => Ok(None),
        Some(item) => Ok(Some(
            u64::try_from(n(&item, attr::LEAF_INDEX)?).map_err(|_| corrupt(attr::LEAF_INDEX))?,
        )),
    }
}

/// The latest signed checkpoint, as its signed note's text (none before the first).
pub async fn latest_note(table: &dyn Table) -> Result<Option<String>, ApiError> {
    let query = Query::partition(AUDIT_LOG_CHECKPOINTS)
        .backward()
        .limit(1)
        .consistent();
    match table.query(&query).await?.items.first() {
        Some(item) => Ok(Some(s(item, attr::NOTE)?.to_owned())),
        None => Ok(None),
    }
}
