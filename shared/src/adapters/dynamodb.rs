//! The DynamoDB table adapter (aws-sdk-dynamodb).
//!
//! Conditions and updates become expressions whose names and values are always placeholders
//! (`#n0`, `:v0`), never text built from values. Throttling is retried by the SDK's standard retry
//! policy (configured where the client is built); cancelled transactions are mapped to the positions
//! whose conditions failed, and transaction conflicts are retried here with jittered backoff.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::anyhow;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem,
    Update as DdbUpdate,
};

use crate::store::{
    AttrValue, Condition, Consistency, Cursor, GSI1_NAME, GSI1_PK, GSI1_SK, Index, Item, Key, PK,
    Page, Query, SK, SortKey, Table, TableError, TransactOp, Update, validate_condition,
    validate_key, validate_transaction, validate_update,
};

/// How often a transaction cancelled only by conflicts with concurrent transactions is tried again:
/// about 1.3 s of backoff at most (10-20 ms doubling to 320-640 ms), so that 200 patients racing
/// for one slot each get an answer about the slot (201 or 409) rather than "try again" (503), even
/// on DynamoDB Local on a loaded 2-core machine, where four retries (at most 300 ms) once left one
/// racer still conflicting.
const CONFLICT_RETRIES: u32 = 6;

/// The DynamoDB adapter for one table.
#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

impl DynamoTable {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
        }
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }
}

fn to_ddb(value: &AttrValue) -> AttributeValue {
    match value {
        AttrValue::S(s) => AttributeValue::S(s.clone()),
        AttrValue::N(n) => AttributeValue::N(n.to_string()),
        AttrValue::B(b) => AttributeValue::B(Blob::new(b.clone())),
        AttrValue::Bool(b) => AttributeValue::Bool(*b),
        AttrValue::L(l) => AttributeValue::L(l.iter().map(to_ddb).collect()),
        AttrValue::M(m) => {
            AttributeValue::M(m.iter().map(|(k, v)| (k.clone(), to_ddb(v))).collect())
        }
        AttrValue::Null => AttributeValue::Null(true),
    }
}

fn from_ddb(value: &AttributeValue) -> Result<AttrValue, TableError> {
    Ok(match value {
        AttributeValue::S(s) => AttrValue::S(s.clone()),
        AttributeValue::N(n) => AttrValue::N(
            n.parse()
                .map_err(|_| TableError::Unexpected(anyhow!("non-integer number in table")))?,
        ),
        AttributeValue::B(b) => AttrValue::B(b.as_ref().to_vec()),
        AttributeValue::Bool(b) => AttrValue::Bool(*b),
        AttributeValue::L(l) => AttrValue::L(l.iter().map(from_ddb).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => AttrValue::M(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), from_ddb(v)?)))
                .collect::<Result<_, TableError>>()?,
        ),
        AttributeValue::Null(_) => AttrValue::Null,
        _ => {
            return Err(TableError::Unexpected(anyhow!(
                "unsupported attribute type in table"
            )));
        }
    })
}

fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(key.pk.clone())),
        (SK.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn item_map(item: &Item) -> HashMap<String, AttributeValue> {
    let mut map = key_map(&item.key);
    map.extend(item.attrs.iter().map(|(k, v)| (k.clone(), to_ddb(v))));
    map
}

fn string_attr(map: &HashMap<String, AttributeValue>, name: &str) -> Result<String, TableError> {
    match map.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(TableError::Unexpected(anyhow!(
            "item without string {name}"
        ))),
    }
}

fn from_item_map(mut map: HashMap<String, AttributeValue>) -> Result<Item, TableError> {
    let key = Key::new(string_attr(&map, PK)?, string_attr(&map, SK)?);
    map.remove(PK);
    map.remove(SK);
    let attrs = map
        .iter()
        .map(|(k, v)| Ok((k.clone(), from_ddb(v)?)))
        .collect::<Result<_, TableError>>()?;
    Ok(Item { key, attrs })
}

/// Placeholders for one request's expressions.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn condition(&mut self, condition: &Condition) -> String {
        match condition {
            Condition::ItemExists => format!("attribute_exists({})", self.name(PK)),
            Condition::ItemAbsent => format!("attribute_not_exists({})", self.name(PK)),
            Condition::AttrExists(n) => format!("attribute_exists({})", self.name(n)),
            Condition::AttrAbsent(n) => format!("attribute_not_exists({})", self.name(n)),
            Condition::Equals(n, v) => {
                let (n, v) = (self.name(n), self.value(to_ddb(v)));
                format!("{n} = {v}")
            }
            Condition::LessThan(n, v) => {
                let (n, v) = (self.name(n), self.value(to_ddb(v)));
                format!("{n} < {v}")
            }
            Condition::And(cs) => self.group(cs, " AND "),
            Condition::Or(cs) => self.group(cs, " OR "),
        }
    }

    fn group(&mut self, conditions: &[Condition], op: &str) -> String {
        let parts: Vec<String> = conditions.iter().map(|c| self.condition(c)).collect();
        format!("({})", parts.join(op))
    }

    fn update(&mut self, update: &Update) -> String {
        let mut out = String::new();
        if !update.set.is_empty() {
            let sets: Vec<String> = update
                .set
                .iter()
                .map(|(k, v)| {
                    let (n, v) = (self.name(k), self.value(to_ddb(v)));
                    format!("{n} = {v}")
                })
                .collect();
            out.push_str("SET ");
            out.push_str(&sets.join(", "));
        }
        if !update.remove.is_empty() {
            let removes: Vec<String> = update.remove.iter().map(|k| self.name(k)).collect();
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("REMOVE ");
            out.push_str(&removes.join(", "));
        }
        if !update.add.is_empty() {
            let adds: Vec<String> = update
                .add
                .iter()
                .map(|(k, d)| {
                    let (n, v) = (self.name(k), self.value(AttributeValue::N(d.to_string())));
                    format!("{n} {v}")
                })
                .collect();
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str("ADD ");
            out.push_str(&adds.join(", "));
        }
        out
    }

    fn sort_key(&mut self, attr: &str, sort: &SortKey) -> Option<String> {
        let mut cmp = |op: &str, v: &str| {
            let (n, v) = (self.name(attr), self.value(AttributeValue::S(v.to_owned())));
            format!("{n} {op} {v}")
        };
        Some(match sort {
            SortKey::Any => return None,
            SortKey::Eq(v) => cmp("=", v),
            SortKey::Lt(v) => cmp("<", v),
            SortKey::Le(v) => cmp("<=", v),
            SortKey::Gt(v) => cmp(">", v),
            SortKey::Ge(v) => cmp(">=", v),
            SortKey::BeginsWith(p) => {
                let (n, v) = (self.name(attr), self.value(AttributeValue::S(p.clone())));
                format!("begins_with({n}, {v})")
            }
            SortKey::Between(a, b) => {
                let n = self.name(attr);
                let a = self.value(AttributeValue::S(a.clone()));
                let b = self.value(AttributeValue::S(b.clone()));
                format!("{n} BETWEEN {a} AND {b}")
            }
        })
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// Maps the error codes every DynamoDB operation shares.
fn classify<E, R>(err: SdkError<E, R>) -> TableError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    // The request never got an answer, or DynamoDB failed on its side (after the SDK's retries):
    // the table is unavailable, which is nobody's mistake and worth retrying later.
    let unanswered = matches!(
        err,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    );
    if unanswered
        || matches!(
            err.code(),
            Some("InternalServerError" | "ServiceUnavailable")
        )
    {
        return TableError::Unavailable(anyhow::Error::new(err).context("DynamoDB unavailable"));
    }
    match err.code() {
        Some("ConditionalCheckFailedException") => TableError::ConditionFailed,
        Some("TransactionConflictException") => TableError::TransactionConflict,
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded",
        ) => TableError::Throttled,
        Some("ValidationException") => {
            TableError::Invalid(err.message().unwrap_or("validation error").to_owned())
        }
        _ => TableError::Unexpected(anyhow::Error::new(err).context("DynamoDB request failed")),
    }
}

fn classify_transaction<R>(err: SdkError<TransactWriteItemsError, R>) -> TableError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let reasons = match err.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
            e.cancellation_reasons().to_vec()
        }
        _ => return classify(err),
    };
    let codes: Vec<&str> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
    let failed: Vec<usize> = codes
        .iter()
        .enumerate()
        .filter(|(_, c)| **c == "ConditionalCheckFailed")
        .map(|(i, _)| i)
        .collect();
    if !failed.is_empty() {
        return TableError::TransactionConditionFailed { failed };
    }
    if codes.contains(&"TransactionConflict") {
        return TableError::TransactionConflict;
    }
    if codes
        .iter()
        .any(|c| matches!(*c, "ThrottlingError" | "ProvisionedThroughputExceeded"))
    {
        return TableError::Throttled;
    }
    if codes.contains(&"ValidationError") {
        return TableError::Invalid("transaction item failed validation".into());
    }
    TableError::Unexpected(anyhow!("transaction cancelled: {codes:?}"))
}

/// Transaction conflicts: 20 ms doubling to 1.28 s.
fn backoff(attempt: u32) -> Duration {
    super::backoff::delay(
        Duration::from_millis(20),
        attempt,
        Duration::from_millis(1280),
    )
}

impl DynamoTable {
    fn transact_item(&self, op: &TransactOp) -> Result<TransactWriteItem, TableError> {
        let mut expr = Expr::default();
        let condition = op.condition().map(|c| expr.condition(c));
        let built = match op {
            TransactOp::Put { item, .. } => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item_map(item)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(|e| TableError::Unexpected(e.into()))?,
            ),
            TransactOp::Delete { key, .. } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(|e| TableError::Unexpected(e.into()))?,
            ),
            TransactOp::Update { key, update, .. } => {
                let update_expr = expr.update(update);
                TransactWriteItem::builder().update(
                    DdbUpdate::builder()
                        .table_name(&self.table)
                        .set_key(Some(key_map(key)))
                        .update_expression(update_expr)
                        .set_condition_expression(condition)
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .build()
                        .map_err(|e| TableError::Unexpected(e.into()))?,
                )
            }
            TransactOp::Check { key, .. } => TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_map(key)))
                    .set_condition_expression(condition)
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(|e| TableError::Unexpected(e.into()))?,
            ),
        };
        Ok(built.build())
    }
}

#[async_trait]
impl Table for DynamoTable {
    async fn get(&self, key: &Key, consistency: Consistency) -> Result<Option<Item>, TableError> {
        validate_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(consistency == Consistency::Strong)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(from_item_map).transpose()
    }

    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        validate_key(&item.key)?;
        validate_condition(condition.as_ref())?;
        let mut expr = Expr::default();
        let condition = condition.as_ref().map(|c| expr.condition(c));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_map(&item)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        validate_key(key)?;
        validate_condition(condition.as_ref())?;
        let mut expr = Expr::default();
        let condition = condition.as_ref().map(|c| expr.condition(c));
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        validate_key(key)?;
        validate_update(&update)?;
        validate_condition(condition.as_ref())?;
        let mut expr = Expr::default();
        let condition = condition.as_ref().map(|c| expr.condition(c));
        let update_expr = expr.update(&update);
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(update_expr)
            .set_condition_expression(condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(classify)?;
        match out.attributes {
            Some(attrs) => from_item_map(attrs),
            None => Ok(Item::new(key.clone())),
        }
    }

    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        if query.limit == Some(0) {
            return Err(TableError::Invalid("limit must be positive".into()));
        }
        let (index_name, pk_attr, sk_attr) = match query.index {
            Index::Primary => (None, PK, SK),
            Index::Gsi1 => (Some(GSI1_NAME), GSI1_PK, GSI1_SK),
        };
        if query.consistent && index_name.is_some() {
            return Err(TableError::Invalid(
                "consistent reads are not supported on a GSI".into(),
            ));
        }
        let mut expr = Expr::default();
        let mut key_condition = {
            let (n, v) = (
                expr.name(pk_attr),
                expr.value(AttributeValue::S(query.partition.clone())),
            );
            format!("{n} = {v}")
        };
        if let Some(sort) = expr.sort_key(sk_attr, &query.sort) {
            key_condition.push_str(" AND ");
            key_condition.push_str(&sort);
        }
        let start_key = match (&query.cursor, query.index) {
            (None, _) => None,
            (
                Some(Cursor {
                    key,
                    index_key: None,
                }),
                Index::Primary,
            ) => Some(key_map(key)),
            (
                Some(Cursor {
                    key,
                    index_key: Some((gpk, gsk)),
                }),
                Index::Gsi1,
            ) => {
                let mut map = key_map(key);
                map.insert(GSI1_PK.into(), AttributeValue::S(gpk.clone()));
                map.insert(GSI1_SK.into(), AttributeValue::S(gsk.clone()));
                Some(map)
            }
            _ => return Err(TableError::Invalid("cursor is for another index".into())),
        };
        if let Some(Cursor { key, index_key }) = &query.cursor {
            let partition = index_key.as_ref().map_or(&key.pk, |(gpk, _)| gpk);
            if *partition != query.partition {
                return Err(TableError::Invalid(
                    "cursor is for another partition".into(),
                ));
            }
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(index_name.map(str::to_owned))
            .key_condition_expression(key_condition)
            .set_expression_attribute_names(expr.names())
            .set_expression_attribute_values(expr.values())
            .scan_index_forward(query.forward)
            .set_limit(query.limit.map(|l| l as i32))
            .set_exclusive_start_key(start_key)
            .consistent_read(query.consistent)
            .send()
            .await
            .map_err(classify)?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item_map)
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            None => None,
            Some(lek) => {
                let key = Key::new(string_attr(&lek, PK)?, string_attr(&lek, SK)?);
                let index_key = match query.index {
                    Index::Primary => None,
                    Index::Gsi1 => Some((string_attr(&lek, GSI1_PK)?, string_attr(&lek, GSI1_SK)?)),
                };
                Some(Cursor { key, index_key })
            }
        };
        Ok(Page { items, next })
    }

    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        validate_transaction(&ops)?;
        let items = ops
            .iter()
            .map(|op| self.transact_item(op))
            .collect::<Result<Vec<_>, _>>()?;
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await
                .map_err(classify_transaction);
            match result {
                Ok(_) => return Ok(()),
                // Cancelled as a whole, so trying again cannot write anything twice.
                Err(TableError::TransactionConflict) if attempt < CONFLICT_RETRIES => {
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_use_placeholders_only() {
        let mut expr = Expr::default();
        let text = expr.condition(&Condition::Or(vec![
            Condition::ItemAbsent,
            Condition::LessThan("expires_at".into(), AttrValue::N(5)),
            Condition::Equals("status".into(), AttrValue::S("x') OR 1=1".into())),
        ]));
        assert_eq!(
            text,
            "(attribute_not_exists(#n0) OR #n1 < :v0 OR #n2 = :v1)"
        );
        assert!(!text.contains("OR 1=1"));
        assert_eq!(expr.names.get("#n2").map(String::as_str), Some("status"));
    }

    #[test]
    fn update_expression_sets_and_removes() {
        let mut expr = Expr::default();
        let text = expr.update(&Update::default().set("a", 1).set("b", "x").remove("c"));
        assert_eq!(text, "SET #n0 = :v0, #n1 = :v1 REMOVE #n2");
    }

    #[test]
    fn attribute_values_round_trip() {
        let value = AttrValue::M(
            [
                ("n".to_owned(), AttrValue::N(-42)),
                (
                    "l".to_owned(),
                    AttrValue::L(vec![AttrValue::Bool(true), AttrValue::Null]),
                ),
                ("b".to_owned(), AttrValue::B(vec![0, 255])),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(from_ddb(&to_ddb(&value)).unwrap(), value);
    }
}
