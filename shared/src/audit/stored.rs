//! The log's stored items read back, for every part of the log that reads them (integration,
//! proofs, export, archive): a leaf (its index, the entry it names, its hash and subtrees) and the
//! latest signed checkpoint.

use super::verify::Leaf;
use crate::error::ApiError;
use crate::store::codec::{Corrupt, corrupt, n, s};
use crate::store::keys::AUDIT_LOG_CHECKPOINTS;
use crate::store::{AttrValue, Item, Query, Table, attr};
use domain::checkpoint::{Checkpoint, open_note};
use domain::merkle::Hash;

/// How the verifier names an entry: its partition and sort key.
pub fn entry_name(pk: &str, sk: &str) -> String {
    format!("{pk}|{sk}")
}

/// The subtree hashes stored with a leaf (none for an even index).
pub(crate) fn nodes_of(leaf: &Item) -> Result<Vec<Hash>, Corrupt> {
    match leaf.get(attr::NODES) {
        None => Ok(Vec::new()),
        Some(value) => value
            .as_b()
            .filter(|b| b.len() % 32 == 0)
            .ok_or_else(|| corrupt(attr::NODES))?
            .chunks(32)
            .map(|c| c.try_into().map_err(|_| corrupt(attr::NODES)))
            .collect(),
    }
}

/// A stored leaf item read back: its index, the entry it names, its hash and stored subtrees.
pub(crate) fn leaf_of(item: &Item) -> Result<Leaf, ApiError> {
    let index = item
        .key
        .sk
        .parse::<u64>()
        .map_err(|_| corrupt("leaf index"))?;
    let hash: Hash = item
        .get(attr::LEAF_HASH)
        .and_then(AttrValue::as_b)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(attr::LEAF_HASH))?;
    let (pk, sk) = (s(item, attr::ENTRY_PK)?, s(item, attr::ENTRY_SK)?);
    Ok(Leaf {
        index,
        entry: entry_name(pk, sk),
        hash,
        nodes: nodes_of(item)?,
    })
}

/// The latest signed checkpoint: its note, as signed, and what it says.
pub struct Latest {
    /// Its sort key (size, then signing time).
    pub name: String,
    pub note: String,
    pub checkpoint: Checkpoint,
    /// When it was signed (Unix seconds), as stored.
    pub at: i64,
}

pub async fn latest_checkpoint(table: &dyn Table) -> Result<Option<Latest>, ApiError> {
    let query = Query::partition(AUDIT_LOG_CHECKPOINTS)
        .backward()
        .limit(1)
        .consistent();
    let Some(item) = table.query(&query).await?.items.into_iter().next() else {
        return Ok(None);
    };
    let note = s(&item, attr::NOTE)?.to_owned();
    let checkpoint = open_note(&note)
        .and_then(|(body, _)| Checkpoint::parse(body))
        .ok_or_else(|| corrupt(attr::NOTE))?;
    Ok(Some(Latest {
        at: n(&item, attr::AT)?,
        name: item.key.sk,
        note,
        checkpoint,
    }))
}
