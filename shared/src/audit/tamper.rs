//! Changes to audit entries, caught: an entry is written once and never changed (the request path
//! puts it on the condition that it is absent, IAM denies updating or deleting it and writing an
//! expiry into it), so the table's stream showing one modified or removed (by anyone, TTL
//! included) is tampering. Each such change becomes a `tamper.detected` entry of its own, sealed
//! like any other, naming the entry's keys and how it changed (never its content), written once
//! per stream record (a redelivered batch changes nothing). The blind-index key (`KEYRING`) is
//! watched the same way: it is created once and never changed, and replacing it would orphan every
//! blind index.

use jiff::Timestamp;

use crate::error::ApiError;
use crate::store::keys::audit_tamper_marker;
use crate::store::{Condition, Item, Key, Table, TableError, TransactOp};
use crate::unit_of_work::{Actor, Audit};

/// The action of the entries this module writes.
pub const TAMPER_ACTION: &str = "tamper.detected";

/// How an audit entry was changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Modified,
    Removed,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Modified => "modified",
            ChangeKind::Removed => "removed",
        }
    }
}

/// One change to an audit entry, as the table's stream reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The stream record's id: what makes recording it idempotent.
    pub event_id: String,
    pub kind: ChangeKind,
    /// The entry's keys.
    pub entry: Key,
}

/// Records each change as a sealed-to-be `tamper.detected` entry, once per stream record. Returns
/// how many were recorded now (a redelivered record is not recorded again).
pub async fn record(
    table: &dyn Table,
    now: Timestamp,
    changes: &[Change],
) -> Result<u64, ApiError> {
    let mut recorded = 0;
    for change in changes {
        let target = format!(
            "{}|{}|{}",
            change.entry.pk,
            change.entry.sk,
            change.kind.as_str()
        );
        let actor = Actor::System {
            name: "audit",
            request_id: &change.event_id,
        };
        let entity = if change.entry.pk.starts_with("AUDIT#") {
            "audit_entry"
        } else {
            "keyring"
        };
        let entry = Audit::new(TAMPER_ACTION, entity, target).item_at(now, actor);
        let ops = vec![
            TransactOp::Put {
                item: Item::new(audit_tamper_marker(&change.event_id)),
                condition: Some(Condition::ItemAbsent),
            },
            TransactOp::Put {
                item: entry,
                condition: Some(Condition::ItemAbsent),
            },
        ];
        match table.transact_write(ops).await {
            Ok(()) => {
                tracing::error!(
                    pk = %change.entry.pk,
                    sk = %change.entry.sk,
                    change = change.kind.as_str(),
                    "an audit entry was changed on the table"
                );
                recorded += 1;
            }
            // Recorded by an earlier delivery of the same record.
            Err(TableError::TransactionConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(recorded)
}
