//! The table port: a single-table model (string `pk`/`sk`, one GSI `gsi1pk`/`gsi1sk`, TTL attribute
//! `expires_at`) behind one small trait, with typed conditions instead of expression strings.
//!
//! Adapters: `crate::adapters::dynamodb::DynamoTable` for production,
//! `crate::adapters::embedded::EmbeddedTable` (redb) for `practica serve` and fast tests. Both are
//! held to the same contract (`contract` module). Around the port: [`keys`] (every key built in one
//! place), [`attr`] (every attribute name), [`codec`] (each record's one spelling as an item),
//! [`cache`] (rarely changing records). It names no application state, error type or crypto: the
//! unit of work that commits a change with its audit and idempotency records is one layer up
//! (`crate::unit_of_work`).

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

pub mod attr;
pub mod cache;
pub mod codec;
pub mod keys;

#[cfg(any(test, feature = "testing"))]
pub mod contract;

/// Partition key attribute name.
pub const PK: &str = "pk";
/// Sort key attribute name.
pub const SK: &str = "sk";
/// GSI 1 partition key attribute name.
pub const GSI1_PK: &str = "gsi1pk";
/// GSI 1 sort key attribute name.
pub const GSI1_SK: &str = "gsi1sk";
/// GSI 1 name, as declared in `infra/data.template.json`.
pub const GSI1_NAME: &str = "gsi1";
/// TTL attribute (epoch seconds). DynamoDB deletes expired items lazily, so readers also check it.
pub const TTL_ATTR: &str = "expires_at";
/// Most items in one transactional write (DynamoDB's limit).
pub const MAX_TRANSACT_ITEMS: usize = 100;

/// One attribute value. Numbers are integers: the domain has no use for fractional numbers
/// (money is minor units, time is epoch seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttrValue {
    S(String),
    N(i64),
    B(Vec<u8>),
    Bool(bool),
    L(Vec<AttrValue>),
    M(BTreeMap<String, AttrValue>),
    Null,
}

impl AttrValue {
    pub fn as_s(&self) -> Option<&str> {
        match self {
            AttrValue::S(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_n(&self) -> Option<i64> {
        match self {
            AttrValue::N(n) => Some(*n),
            _ => None,
        }
    }
    pub fn as_b(&self) -> Option<&[u8]> {
        match self {
            AttrValue::B(b) => Some(b),
            _ => None,
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::S(s.to_owned())
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::S(s)
    }
}
impl From<i64> for AttrValue {
    fn from(n: i64) -> Self {
        AttrValue::N(n)
    }
}
impl From<bool> for AttrValue {
    fn from(b: bool) -> Self {
        AttrValue::Bool(b)
    }
}
impl From<Vec<u8>> for AttrValue {
    fn from(b: Vec<u8>) -> Self {
        AttrValue::B(b)
    }
}

/// The primary key of an item.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

impl Key {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Key {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// An item: its key plus named attributes. `pk` and `sk` are never stored in `attrs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    pub key: Key,
    pub attrs: BTreeMap<String, AttrValue>,
}

impl Item {
    pub fn new(key: Key) -> Self {
        Item {
            key,
            attrs: BTreeMap::new(),
        }
    }

    /// Builder-style attribute setter.
    pub fn with(mut self, name: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        self.set(name, value);
        self
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<AttrValue>) {
        let name = name.into();
        debug_assert!(name != PK && name != SK, "keys live in Item::key");
        self.attrs.insert(name, value.into());
    }

    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.attrs.get(name)
    }

    /// Value of a named attribute, including the key attributes.
    pub fn attr(&self, name: &str) -> Option<AttrValue> {
        match name {
            PK => Some(AttrValue::S(self.key.pk.clone())),
            SK => Some(AttrValue::S(self.key.sk.clone())),
            _ => self.attrs.get(name).cloned(),
        }
    }
}

/// A condition on the current state of an item, evaluated atomically with the write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The item exists.
    ItemExists,
    /// No item with this key exists.
    ItemAbsent,
    AttrExists(String),
    AttrAbsent(String),
    Equals(String, AttrValue),
    /// The attribute exists, is of the same type, and is strictly less than the value.
    LessThan(String, AttrValue),
    And(Vec<Condition>),
    Or(Vec<Condition>),
}

impl Condition {
    /// Optimistic concurrency: the stored `version` attribute equals `expected`.
    pub fn version_is(expected: i64) -> Condition {
        Condition::Equals("version".into(), AttrValue::N(expected))
    }

    /// Evaluates against the current item (None when absent), with DynamoDB's semantics.
    pub fn holds(&self, current: Option<&Item>) -> bool {
        match self {
            Condition::ItemExists => current.is_some(),
            Condition::ItemAbsent => current.is_none(),
            Condition::AttrExists(n) => current.and_then(|i| i.attr(n)).is_some(),
            Condition::AttrAbsent(n) => current.and_then(|i| i.attr(n)).is_none(),
            Condition::Equals(n, v) => current.and_then(|i| i.attr(n)).as_ref() == Some(v),
            Condition::LessThan(n, v) => match (current.and_then(|i| i.attr(n)), v) {
                (Some(AttrValue::N(a)), AttrValue::N(b)) => a < *b,
                (Some(AttrValue::S(a)), AttrValue::S(b)) => a.as_str() < b.as_str(),
                (Some(AttrValue::B(a)), AttrValue::B(b)) => a.as_slice() < b.as_slice(),
                _ => false,
            },
            Condition::And(cs) => cs.iter().all(|c| c.holds(current)),
            Condition::Or(cs) => cs.iter().any(|c| c.holds(current)),
        }
    }
}

/// Attribute changes applied by an update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub set: BTreeMap<String, AttrValue>,
    pub remove: Vec<String>,
    /// Numbers added atomically (DynamoDB's `ADD`): an absent attribute starts at zero.
    pub add: BTreeMap<String, i64>,
}

impl Update {
    pub fn set(mut self, name: impl Into<String>, value: impl Into<AttrValue>) -> Self {
        self.set.insert(name.into(), value.into());
        self
    }
    pub fn remove(mut self, name: impl Into<String>) -> Self {
        self.remove.push(name.into());
        self
    }
    /// Adds `delta` to a number attribute, atomically (a counter).
    pub fn add(mut self, name: impl Into<String>, delta: i64) -> Self {
        self.add.insert(name.into(), delta);
        self
    }
    fn validate(&self) -> Result<(), TableError> {
        if self.set.is_empty() && self.remove.is_empty() && self.add.is_empty() {
            return Err(TableError::Invalid("update changes nothing".into()));
        }
        if self
            .add
            .keys()
            .any(|a| self.set.contains_key(a) || self.remove.contains(a))
        {
            return Err(TableError::Invalid(
                "an attribute is both added to and set or removed".into(),
            ));
        }
        for name in self
            .set
            .keys()
            .chain(self.remove.iter())
            .chain(self.add.keys())
        {
            if name == PK || name == SK {
                return Err(TableError::Invalid(
                    "an update cannot change the key".into(),
                ));
            }
        }
        if self.remove.iter().any(|r| self.set.contains_key(r)) {
            return Err(TableError::Invalid(
                "an attribute is both set and removed".into(),
            ));
        }
        Ok(())
    }

    /// Applies the changes to an item (creating it when absent), as DynamoDB's UpdateItem does.
    pub fn apply(&self, key: &Key, current: Option<Item>) -> Item {
        let mut item = current.unwrap_or_else(|| Item::new(key.clone()));
        for (k, v) in &self.set {
            item.attrs.insert(k.clone(), v.clone());
        }
        for k in &self.remove {
            item.attrs.remove(k);
        }
        for (k, delta) in &self.add {
            let before = item.attrs.get(k).and_then(AttrValue::as_n).unwrap_or(0);
            item.attrs
                .insert(k.clone(), AttrValue::N(before.saturating_add(*delta)));
        }
        item
    }
}

/// One element of a transactional write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransactOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: Key,
        condition: Option<Condition>,
    },
    Update {
        key: Key,
        update: Update,
        condition: Option<Condition>,
    },
    /// A condition on an item that the transaction does not write.
    Check { key: Key, condition: Condition },
}

impl TransactOp {
    pub fn key(&self) -> &Key {
        match self {
            TransactOp::Put { item, .. } => &item.key,
            TransactOp::Delete { key, .. }
            | TransactOp::Update { key, .. }
            | TransactOp::Check { key, .. } => key,
        }
    }
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            TransactOp::Put { condition, .. }
            | TransactOp::Delete { condition, .. }
            | TransactOp::Update { condition, .. } => condition.as_ref(),
            TransactOp::Check { condition, .. } => Some(condition),
        }
    }
}

/// Checks the shape rules DynamoDB enforces on a transaction, so every adapter rejects the same input.
pub fn validate_transaction(ops: &[TransactOp]) -> Result<(), TableError> {
    if ops.is_empty() || ops.len() > MAX_TRANSACT_ITEMS {
        return Err(TableError::Invalid(format!(
            "a transaction holds 1 to {MAX_TRANSACT_ITEMS} items, not {}",
            ops.len()
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for op in ops {
        if !seen.insert(op.key()) {
            return Err(TableError::Invalid(
                "a transaction touches one item at most once".into(),
            ));
        }
        validate_key(op.key())?;
        validate_condition(op.condition())?;
        if let TransactOp::Update { update, .. } = op {
            update.validate()?;
        }
    }
    Ok(())
}

pub(crate) fn validate_key(key: &Key) -> Result<(), TableError> {
    if key.pk.is_empty() || key.sk.is_empty() {
        return Err(TableError::Invalid(
            "key attributes must not be empty".into(),
        ));
    }
    Ok(())
}

pub(crate) fn validate_condition(condition: Option<&Condition>) -> Result<(), TableError> {
    match condition {
        Some(Condition::And(cs) | Condition::Or(cs)) => {
            if cs.is_empty() {
                return Err(TableError::Invalid("empty condition group".into()));
            }
            cs.iter().try_for_each(|c| validate_condition(Some(c)))
        }
        _ => Ok(()),
    }
}

pub(crate) fn validate_update(update: &Update) -> Result<(), TableError> {
    update.validate()
}

/// Which index a query reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Index {
    Primary,
    Gsi1,
}

/// A condition on the sort key of the queried index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SortKey {
    Any,
    Eq(String),
    BeginsWith(String),
    /// Inclusive on both ends, as DynamoDB's BETWEEN.
    Between(String, String),
    Lt(String),
    Le(String),
    Gt(String),
    Ge(String),
}

impl SortKey {
    pub fn matches(&self, sk: &str) -> bool {
        match self {
            SortKey::Any => true,
            SortKey::Eq(v) => sk == v,
            SortKey::BeginsWith(p) => sk.starts_with(p.as_str()),
            SortKey::Between(a, b) => a.as_str() <= sk && sk <= b.as_str(),
            SortKey::Lt(v) => sk < v.as_str(),
            SortKey::Le(v) => sk <= v.as_str(),
            SortKey::Gt(v) => sk > v.as_str(),
            SortKey::Ge(v) => sk >= v.as_str(),
        }
    }
}

/// A query on one partition of an index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub index: Index,
    pub partition: String,
    pub sort: SortKey,
    pub forward: bool,
    pub limit: Option<u32>,
    pub cursor: Option<Cursor>,
    /// Strongly consistent read (primary index only; GSIs are eventually consistent).
    pub consistent: bool,
}

impl Query {
    pub fn partition(partition: impl Into<String>) -> Self {
        Query {
            index: Index::Primary,
            partition: partition.into(),
            sort: SortKey::Any,
            forward: true,
            limit: None,
            cursor: None,
            consistent: false,
        }
    }
    pub fn gsi1(partition: impl Into<String>) -> Self {
        Query {
            index: Index::Gsi1,
            ..Query::partition(partition)
        }
    }
    pub fn sort(mut self, sort: SortKey) -> Self {
        self.sort = sort;
        self
    }
    pub fn backward(mut self) -> Self {
        self.forward = false;
        self
    }
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
    pub fn after(mut self, cursor: Option<Cursor>) -> Self {
        self.cursor = cursor;
        self
    }
    pub fn consistent(mut self) -> Self {
        self.consistent = true;
        self
    }
}

/// Where the next page starts: the last evaluated key, opaque to callers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub(crate) key: Key,
    /// The index key of the last item, for GSI queries.
    pub(crate) index_key: Option<(String, String)>,
}

impl Cursor {
    /// An opaque, URL-safe token.
    pub fn encode(&self) -> String {
        let bytes = postcard::to_stdvec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether this cursor came from a query of `partition` (a cursor of another one would be an
    /// invalid start key).
    pub fn belongs_to(&self, partition: &str) -> bool {
        self.key.pk == partition && self.index_key.is_none()
    }

    /// Whether this cursor came from a query of `partition` of the GSI.
    pub fn belongs_to_index(&self, partition: &str) -> bool {
        self.index_key
            .as_ref()
            .is_some_and(|(pk, _)| pk == partition)
    }

    pub fn decode(token: &str) -> Result<Cursor, TableError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| TableError::Invalid("malformed cursor".into()))?;
        postcard::from_bytes(&bytes).map_err(|_| TableError::Invalid("malformed cursor".into()))
    }
}

/// One page of query results.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    pub items: Vec<Item>,
    /// Present when more items may follow. As with DynamoDB, a cursor may lead to an empty page.
    pub next: Option<Cursor>,
}

/// Read consistency of a get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    Eventual,
    Strong,
}

#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The condition of a single-item write did not hold.
    #[error("condition failed")]
    ConditionFailed,
    /// A transaction was cancelled because the conditions at these positions did not hold.
    #[error("transaction cancelled: conditions failed at {failed:?}")]
    TransactionConditionFailed { failed: Vec<usize> },
    /// Another transaction touched the same items; retrying may succeed.
    #[error("transaction conflict")]
    TransactionConflict,
    /// The table is throttling and retries were exhausted.
    #[error("throttled")]
    Throttled,
    /// The table could not be reached, or failed on its side; retrying later may succeed.
    #[error("table unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The request was malformed (a programming error or a tampered cursor).
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The table port.
#[async_trait]
pub trait Table: Send + Sync {
    async fn get(&self, key: &Key, consistency: Consistency) -> Result<Option<Item>, TableError>;
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError>;
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError>;
    /// Applies `update` (creating the item if absent, as UpdateItem does); returns the new item.
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError>;
    async fn query(&self, query: &Query) -> Result<Page, TableError>;
    /// All-or-nothing write of up to [`MAX_TRANSACT_ITEMS`] items, each with its own condition.
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError>;
}

/// Follows cursors until the query is exhausted.
pub async fn query_all(table: &dyn Table, query: &Query) -> Result<Vec<Item>, TableError> {
    let mut query = query.clone();
    let mut out = Vec::new();
    loop {
        let page = table.query(&query).await?;
        out.extend(page.items);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return Ok(out),
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
