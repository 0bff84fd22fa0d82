//! The embedded table adapter: one redb file, ACID transactions, the same semantics as DynamoDB for
//! every operation of the port (conditions, GSI, pagination, all-or-nothing transactions).
//!
//! Keys are stored as byte strings with every segment terminated by NUL (`pk\0sk\0`, and for the GSI
//! `gsi1pk\0gsi1sk\0pk\0sk\0`), so byte order equals DynamoDB's order on (partition, sort) and a sort-key
//! condition becomes one contiguous range. Key strings therefore may not contain NUL.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::store::{
    AttrValue, Condition, Consistency, Cursor, GSI1_PK, GSI1_SK, Index, Item, Key, Page, Query,
    SortKey, Table, TableError, TransactOp, Update, validate_condition, validate_key,
    validate_transaction, validate_update,
};

const ITEMS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("items");
const GSI1: TableDefinition<&[u8], ()> = TableDefinition::new("gsi1");

/// DynamoDB's item size limit; the embedded store enforces it so nothing works locally that fails on AWS.
const MAX_ITEM_BYTES: usize = 400 * 1024;

/// The page cache of the embedded store. Small: the OS caches the file too, and a long read (a
/// month's report) must not grow the process (at 32 MiB the report job peaked 60 MB higher, no faster).
const CACHE_BYTES: usize = 8 << 20;

/// The embedded adapter. Cheap to clone; every operation runs on the blocking pool.
#[derive(Clone)]
pub struct EmbeddedTable {
    db: Arc<Database>,
}

impl EmbeddedTable {
    /// Opens (or creates) the database file.
    /// Opens (or creates, readable by its owner only) the database file at `path`.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        // Created empty and private first: redb initializes an empty file, and ids, times and
        // audit records in it are plaintext even though patient fields are sealed.
        if !path.exists() {
            crate::adapters::files::write_private_file(path, &[])?;
        }
        // A practice's data fits in a small page cache; redb's default (1 GiB) would let a long read
        // (a monthly report) grow the process by the size of the file.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .with_context(|| format!("opening embedded table {}", path.display()))?;
        let txn = db.begin_write()?;
        txn.open_table(ITEMS)?;
        txn.open_table(GSI1)?;
        txn.commit()?;
        Ok(EmbeddedTable { db: Arc::new(db) })
    }

    /// How many items the table holds (a restored backup's check reads it whole).
    pub async fn count(&self) -> Result<usize, TableError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            let mut n = 0;
            for entry in items.iter().map_err(unexpected)? {
                entry.map_err(unexpected)?;
                n += 1;
            }
            Ok(n)
        })
        .await
    }

    /// Every item, in key order: what a raw table scan shows (tests inspect it).
    #[cfg(any(test, feature = "testing"))]
    pub async fn scan(&self) -> Result<Vec<Item>, TableError> {
        self.blocking(|db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            let mut out = Vec::new();
            for entry in items.iter().map_err(unexpected)? {
                let (k, v) = entry.map_err(unexpected)?;
                let parts = decode(k.value())?;
                let [pk, sk] = parts.as_slice() else {
                    return Err(TableError::Unexpected(anyhow::anyhow!("malformed key")));
                };
                out.push(deserialize(Key::new(pk.clone(), sk.clone()), v.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn blocking<T, F>(&self, f: F) -> Result<T, TableError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, TableError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|e| TableError::Unexpected(anyhow::anyhow!("embedded task failed: {e}")))?
    }
}

fn unexpected(e: impl Into<redb::Error>) -> TableError {
    TableError::Unexpected(anyhow::Error::new(e.into()).context("embedded table"))
}

fn check_segment(s: &str) -> Result<(), TableError> {
    if s.contains('\0') {
        return Err(TableError::Invalid(
            "key strings may not contain NUL".into(),
        ));
    }
    Ok(())
}

fn encode(segments: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(segments.iter().map(|s| s.len() + 1).sum());
    for s in segments {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<String>, TableError> {
    let body = bytes
        .strip_suffix(&[0])
        .ok_or_else(|| TableError::Unexpected(anyhow::anyhow!("corrupt key")))?;
    body.split(|b| *b == 0)
        .map(|s| {
            String::from_utf8(s.to_vec())
                .map_err(|_| TableError::Unexpected(anyhow::anyhow!("corrupt key")))
        })
        .collect()
}

fn primary_key(key: &Key) -> Result<Vec<u8>, TableError> {
    validate_key(key)?;
    check_segment(&key.pk)?;
    check_segment(&key.sk)?;
    Ok(encode(&[&key.pk, &key.sk]))
}

fn gsi_key(item: &Item) -> Result<Option<Vec<u8>>, TableError> {
    let (gpk, gsk) = match (item.attrs.get(GSI1_PK), item.attrs.get(GSI1_SK)) {
        (None, _) | (_, None) => return Ok(None),
        (Some(AttrValue::S(p)), Some(AttrValue::S(s))) => (p, s),
        _ => {
            return Err(TableError::Invalid(
                "GSI key attributes must be strings".into(),
            ));
        }
    };
    if gpk.is_empty() || gsk.is_empty() {
        return Err(TableError::Invalid(
            "GSI key attributes must not be empty".into(),
        ));
    }
    check_segment(gpk)?;
    check_segment(gsk)?;
    Ok(Some(encode(&[gpk, gsk, &item.key.pk, &item.key.sk])))
}

fn serialize(item: &Item) -> Result<Vec<u8>, TableError> {
    let bytes = postcard::to_stdvec(&item.attrs)
        .map_err(|e| TableError::Unexpected(anyhow::anyhow!("encoding item: {e}")))?;
    if bytes.len() + item.key.pk.len() + item.key.sk.len() > MAX_ITEM_BYTES {
        return Err(TableError::Invalid("item exceeds 400 KB".into()));
    }
    Ok(bytes)
}

fn deserialize(key: Key, bytes: &[u8]) -> Result<Item, TableError> {
    let attrs = postcard::from_bytes(bytes)
        .map_err(|e| TableError::Unexpected(anyhow::anyhow!("decoding item: {e}")))?;
    Ok(Item { key, attrs })
}

fn read_item<T: ReadableTable<&'static [u8], &'static [u8]>>(
    table: &T,
    key: &Key,
) -> Result<Option<Item>, TableError> {
    let raw = primary_key(key)?;
    match table.get(raw.as_slice()).map_err(unexpected)? {
        Some(v) => Ok(Some(deserialize(key.clone(), v.value())?)),
        None => Ok(None),
    }
}

/// The write half of one redb transaction, keeping the GSI in step with the items.
struct Writer<'t> {
    items: redb::Table<'t, &'static [u8], &'static [u8]>,
    gsi: redb::Table<'t, &'static [u8], ()>,
}

impl Writer<'_> {
    fn current(&self, key: &Key) -> Result<Option<Item>, TableError> {
        read_item(&self.items, key)
    }

    fn put(&mut self, old: Option<&Item>, item: &Item) -> Result<(), TableError> {
        let value = serialize(item)?;
        let new_gsi = gsi_key(item)?;
        if let Some(old_gsi) = old.map(gsi_key).transpose()?.flatten() {
            self.gsi.remove(old_gsi.as_slice()).map_err(unexpected)?;
        }
        if let Some(g) = new_gsi {
            self.gsi.insert(g.as_slice(), ()).map_err(unexpected)?;
        }
        let raw = primary_key(&item.key)?;
        self.items
            .insert(raw.as_slice(), value.as_slice())
            .map_err(unexpected)?;
        Ok(())
    }

    fn delete(&mut self, old: Option<&Item>) -> Result<(), TableError> {
        let Some(old) = old else { return Ok(()) };
        if let Some(g) = gsi_key(old)? {
            self.gsi.remove(g.as_slice()).map_err(unexpected)?;
        }
        let raw = primary_key(&old.key)?;
        self.items.remove(raw.as_slice()).map_err(unexpected)?;
        Ok(())
    }
}

/// Runs `f` in one write transaction, committing only when it succeeds.
fn write<T>(
    db: &Database,
    f: impl FnOnce(&mut Writer<'_>) -> Result<T, TableError>,
) -> Result<T, TableError> {
    let txn = db.begin_write().map_err(unexpected)?;
    let out = {
        let mut writer = Writer {
            items: txn.open_table(ITEMS).map_err(unexpected)?,
            gsi: txn.open_table(GSI1).map_err(unexpected)?,
        };
        f(&mut writer)?
    };
    txn.commit().map_err(unexpected)?;
    Ok(out)
}

fn condition_holds(condition: Option<&Condition>, current: Option<&Item>) -> bool {
    condition.is_none_or(|c| c.holds(current))
}

/// The half-open byte range `[lo, hi)` a query reads.
fn query_range(query: &Query) -> Result<(Vec<u8>, Vec<u8>), TableError> {
    check_segment(&query.partition)?;
    let mut prefix = query.partition.as_bytes().to_vec();
    prefix.push(0);
    let with = |s: &str, tail: &[u8]| {
        check_segment(s)?;
        let mut v = prefix.clone();
        v.extend_from_slice(s.as_bytes());
        v.extend_from_slice(tail);
        Ok::<_, TableError>(v)
    };
    let partition_end = {
        let mut v = query.partition.as_bytes().to_vec();
        v.push(1);
        v
    };
    let (mut lo, mut hi) = match &query.sort {
        SortKey::Any => (prefix.clone(), partition_end),
        SortKey::Eq(v) => (with(v, &[0])?, with(v, &[1])?),
        SortKey::BeginsWith(p) => {
            let lo = with(p, &[])?;
            let hi = match p.as_bytes().last() {
                // UTF-8 never contains 0xFF, so the increment cannot overflow.
                Some(_) => {
                    let mut h = lo.clone();
                    if let Some(last) = h.last_mut() {
                        *last += 1;
                    }
                    h
                }
                None => partition_end,
            };
            (lo, hi)
        }
        SortKey::Between(a, b) => (with(a, &[0])?, with(b, &[1])?),
        SortKey::Lt(v) => (prefix.clone(), with(v, &[0])?),
        SortKey::Le(v) => (prefix.clone(), with(v, &[1])?),
        SortKey::Gt(v) => (with(v, &[1])?, partition_end),
        SortKey::Ge(v) => (with(v, &[0])?, partition_end),
    };
    if let Some(cursor) = &query.cursor {
        let position = match (query.index, &cursor.index_key) {
            (Index::Primary, None) => primary_key(&cursor.key)?,
            (Index::Gsi1, Some((gpk, gsk))) => {
                check_segment(gpk)?;
                check_segment(gsk)?;
                encode(&[gpk, gsk, &cursor.key.pk, &cursor.key.sk])
            }
            _ => return Err(TableError::Invalid("cursor is for another index".into())),
        };
        if !position.starts_with(&prefix) {
            return Err(TableError::Invalid(
                "cursor is for another partition".into(),
            ));
        }
        if query.forward {
            // The smallest key after `position`: no stored key extends another one.
            let mut after = position;
            after.push(0);
            lo = lo.max(after);
        } else {
            hi = hi.min(position);
        }
    }
    Ok((lo, hi))
}

fn run_query(db: &Database, query: &Query) -> Result<Page, TableError> {
    if query.consistent && query.index == Index::Gsi1 {
        return Err(TableError::Invalid(
            "consistent reads are not supported on a GSI".into(),
        ));
    }
    if query.limit == Some(0) {
        return Err(TableError::Invalid("limit must be positive".into()));
    }
    let (lo, hi) = query_range(query)?;
    let txn = db.begin_read().map_err(unexpected)?;
    let items = txn.open_table(ITEMS).map_err(unexpected)?;
    let limit = query.limit.map_or(usize::MAX, |l| l as usize);
    let mut page = Page::default();
    if lo >= hi {
        return Ok(page);
    }
    let range = (
        Bound::Included(lo.as_slice()),
        Bound::Excluded(hi.as_slice()),
    );
    let mut push = |raw_key: &[u8]| -> Result<bool, TableError> {
        let segments = decode(raw_key)?;
        let (key, index_key) = match (query.index, segments.as_slice()) {
            (Index::Primary, [pk, sk]) => (Key::new(pk, sk), None),
            (Index::Gsi1, [gpk, gsk, pk, sk]) => {
                (Key::new(pk, sk), Some((gpk.clone(), gsk.clone())))
            }
            _ => return Err(TableError::Unexpected(anyhow::anyhow!("corrupt key"))),
        };
        let Some(item) = read_item(&items, &key)? else {
            return Err(TableError::Unexpected(anyhow::anyhow!(
                "GSI entry without item"
            )));
        };
        page.items.push(item);
        if page.items.len() >= limit {
            page.next = Some(Cursor { key, index_key });
            return Ok(false);
        }
        Ok(true)
    };
    match query.index {
        Index::Primary => {
            let mut iter = items.range::<&[u8]>(range).map_err(unexpected)?;
            loop {
                let next = if query.forward {
                    iter.next()
                } else {
                    iter.next_back()
                };
                let Some(entry) = next else { break };
                let (k, _) = entry.map_err(unexpected)?;
                if !push(k.value())? {
                    break;
                }
            }
        }
        Index::Gsi1 => {
            let gsi = txn.open_table(GSI1).map_err(unexpected)?;
            let mut iter = gsi.range::<&[u8]>(range).map_err(unexpected)?;
            loop {
                let next = if query.forward {
                    iter.next()
                } else {
                    iter.next_back()
                };
                let Some(entry) = next else { break };
                let (k, _) = entry.map_err(unexpected)?;
                if !push(k.value())? {
                    break;
                }
            }
        }
    }
    Ok(page)
}

#[async_trait]
impl Table for EmbeddedTable {
    async fn get(&self, key: &Key, _consistency: Consistency) -> Result<Option<Item>, TableError> {
        // Every read of the embedded store sees the last commit: always strongly consistent.
        let key = key.clone();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unexpected)?;
            let items = txn.open_table(ITEMS).map_err(unexpected)?;
            read_item(&items, &key)
        })
        .await
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        primary_key(&item.key)?;
        validate_condition(condition.as_ref())?;
        self.blocking(move |db| {
            write(db, |w| {
                let current = w.current(&item.key)?;
                if !condition_holds(condition.as_ref(), current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                w.put(current.as_ref(), &item)
            })
        })
        .await
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        primary_key(key)?;
        validate_condition(condition.as_ref())?;
        let key = key.clone();
        self.blocking(move |db| {
            write(db, |w| {
                let current = w.current(&key)?;
                if !condition_holds(condition.as_ref(), current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                w.delete(current.as_ref())
            })
        })
        .await
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        primary_key(key)?;
        validate_update(&update)?;
        validate_condition(condition.as_ref())?;
        let key = key.clone();
        self.blocking(move |db| {
            write(db, |w| {
                let current = w.current(&key)?;
                if !condition_holds(condition.as_ref(), current.as_ref()) {
                    return Err(TableError::ConditionFailed);
                }
                let next = update.apply(&key, current.clone());
                w.put(current.as_ref(), &next)?;
                Ok(next)
            })
        })
        .await
    }

    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        let query = query.clone();
        self.blocking(move |db| run_query(db, &query)).await
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        validate_transaction(&ops)?;
        for op in &ops {
            primary_key(op.key())?;
        }
        self.blocking(move |db| {
            write(db, |w| {
                // Evaluate every condition against the state before the transaction, as DynamoDB does.
                let mut currents = Vec::with_capacity(ops.len());
                let mut failed = Vec::new();
                for (i, op) in ops.iter().enumerate() {
                    let current = w.current(op.key())?;
                    if !condition_holds(op.condition(), current.as_ref()) {
                        failed.push(i);
                    }
                    currents.push(current);
                }
                if !failed.is_empty() {
                    // Returning an error drops the redb transaction uncommitted: nothing is written.
                    return Err(TableError::TransactionConditionFailed { failed });
                }
                for (op, current) in ops.iter().zip(currents) {
                    match op {
                        TransactOp::Put { item, .. } => w.put(current.as_ref(), item)?,
                        TransactOp::Delete { .. } => w.delete(current.as_ref())?,
                        TransactOp::Update { key, update, .. } => {
                            let next = update.apply(key, current.clone());
                            w.put(current.as_ref(), &next)?;
                        }
                        TransactOp::Check { .. } => {}
                    }
                }
                Ok(())
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[tokio::test]
    async fn the_database_file_is_private_and_reopens_with_its_items() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("practica.redb");
        let table = EmbeddedTable::open(&path).unwrap();
        table
            .put(Item::new(Key::new("P", "S")), None)
            .await
            .unwrap();
        drop(table);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let reopened = EmbeddedTable::open(&path).unwrap();
        let key = Key::new("P", "S");
        assert!(
            reopened
                .get(&key, Consistency::Strong)
                .await
                .unwrap()
                .is_some()
        );
    }

    proptest! {
        /// Byte order of encoded keys equals DynamoDB's order on (partition, sort).
        #[test]
        fn encoding_preserves_tuple_order(a in "[a-c\u{e9}]{0,4}", b in "[a-c\u{e9}]{0,4}",
                                          c in "[a-c\u{e9}]{0,4}", d in "[a-c\u{e9}]{0,4}") {
            let left = encode(&[&a, &b]);
            let right = encode(&[&c, &d]);
            prop_assert_eq!(left.cmp(&right), (a.as_bytes(), b.as_bytes()).cmp(&(c.as_bytes(), d.as_bytes())));
        }

        /// Every sort-key condition selects exactly the keys its predicate accepts.
        #[test]
        fn sort_ranges_match_predicates(sk in "[ab]{1,3}", v in "[ab]{0,3}", which in 0usize..8) {
            let sort = match which {
                0 => SortKey::Any, 1 => SortKey::Eq(v.clone()), 2 => SortKey::BeginsWith(v.clone()),
                3 => SortKey::Between(v.clone(), format!("{v}b")), 4 => SortKey::Lt(v.clone()),
                5 => SortKey::Le(v.clone()), 6 => SortKey::Gt(v.clone()), _ => SortKey::Ge(v.clone()),
            };
            let query = Query::partition("p").sort(sort.clone());
            let (lo, hi) = query_range(&query).unwrap();
            let raw = encode(&["p", &sk]);
            prop_assert_eq!(lo <= raw && raw < hi, sort.matches(&sk));
        }
    }
}
