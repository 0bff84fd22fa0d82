//! A witness's state in a redb file (`practica witness serve --dir`): per log origin, the size and
//! root of the latest checkpoint it cosigned. Each request's check and update are one redb write
//! transaction, committed (durably, redb's default) before the witness answers.

use std::path::Path;

use anyhow::Context as _;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::witness::{Refusal, Seen, WitnessState};

/// origin → size (u64, big-endian) ‖ root (32 bytes).
const SEEN: TableDefinition<&str, &[u8]> = TableDefinition::new("seen");

pub struct RedbWitnessState {
    db: Database,
}

impl RedbWitnessState {
    /// Opens (or creates, readable by its owner only) the state file at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        if !path.exists() {
            crate::adapters::files::write_private_file(path, &[])?;
        }
        let db = Database::create(path)
            .with_context(|| format!("opening the witness state {}", path.display()))?;
        let txn = db.begin_write()?;
        txn.open_table(SEEN)?;
        txn.commit()?;
        Ok(RedbWitnessState { db })
    }
}

fn decode(bytes: &[u8]) -> anyhow::Result<Seen> {
    let (size, root) = bytes
        .split_first_chunk::<8>()
        .context("a witness record is 40 bytes")?;
    Ok(Seen {
        size: u64::from_be_bytes(*size),
        root: root.try_into().context("a witness record is 40 bytes")?,
    })
}

fn encode(seen: &Seen) -> Vec<u8> {
    let mut bytes = seen.size.to_be_bytes().to_vec();
    bytes.extend_from_slice(&seen.root);
    bytes
}

impl WitnessState for RedbWitnessState {
    fn update(
        &self,
        origin: &str,
        decide: &mut dyn FnMut(Option<&Seen>) -> Result<Seen, Refusal>,
    ) -> anyhow::Result<Result<Seen, Refusal>> {
        let txn = self.db.begin_write()?;
        let verdict = {
            let mut table = txn.open_table(SEEN)?;
            let current = match table.get(origin)? {
                Some(value) => Some(decode(value.value())?),
                None => None,
            };
            let verdict = decide(current.as_ref());
            let changed = matches!(&verdict, Ok(seen) if current.as_ref() != Some(seen));
            if let (true, Ok(seen)) = (changed, &verdict) {
                table.insert(origin, encode(seen).as_slice())?;
            }
            (verdict, changed)
        };
        // A new record is committed (fsync'd) before the caller cosigns; a refusal, or the same
        // checkpoint again, writes (and syncs) nothing.
        let (verdict, changed) = verdict;
        if changed {
            txn.commit()?;
        } else {
            txn.abort()?;
        }
        Ok(verdict)
    }

    fn seen(&self, origin: &str) -> anyhow::Result<Option<Seen>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SEEN)?;
        table.get(origin)?.map(|v| decode(v.value())).transpose()
    }
}
