//! Counts of refused requests that are never stored one by one (a flood of them must not flood the
//! table): requests refused for their token (401) and webhook deliveries whose signature failed.
//! One atomic counter per name and UTC hour (`COUNTER#<UTC day>` / `<name>#<hour>`, DynamoDB's
//! `ADD`), kept 400 days; the report sums the hours of its periods. A count that cannot be written
//! is logged and the request still gets its answer.

use std::collections::BTreeMap;

use crate::error::ApiError;
use crate::store::keys::{counter_key, counter_partition};
use crate::store::{AttrValue, Query, TTL_ATTR, Table, Update, attr, query_all};
use domain::clock::Clock;

pub const TOKEN_FAILURES: &str = "token_failures";
pub const WEBHOOK_SIGNATURE_FAILURES: &str = "webhook_signature_failures";

const KEEP_SECS: i64 = 400 * 86_400;

/// Adds one to `name` for the current hour.
pub async fn count(table: &dyn Table, clock: &dyn Clock, name: &str) {
    let now = clock.now();
    let update = Update::default()
        .add(attr::COUNT, 1)
        .set(TTL_ATTR, now.as_second() + KEEP_SECS);
    if let Err(e) = table
        .update(
            &counter_key(
                domain::clock::utc_day(now),
                name,
                domain::clock::utc_hour(now),
            ),
            update,
            None,
        )
        .await
    {
        tracing::warn!(error = %e, name, "a refusal could not be counted");
    }
}

/// The counts of every name over the hours that start in `[start, end)` (Unix seconds).
pub async fn totals(
    table: &dyn Table,
    start: i64,
    end: i64,
) -> Result<BTreeMap<String, i64>, ApiError> {
    let day = |t: i64| {
        jiff::Timestamp::from_second(t)
            .map(domain::clock::utc_day)
            .map_err(|_| ApiError::Unexpected(anyhow::anyhow!("instant out of range")))
    };
    let (mut d, last) = (day(start)?, day(end)?);
    let mut out = BTreeMap::new();
    loop {
        let midnight = domain::clock::utc_start(d).as_second();
        for item in query_all(table, &Query::partition(counter_partition(d))).await? {
            let Some((name, hour)) = item.key.sk.rsplit_once('#') else {
                continue;
            };
            let Ok(hour) = hour.parse::<i64>() else {
                continue;
            };
            let at = midnight + hour * 3600;
            if start <= at && at < end {
                let n = item.get(attr::COUNT).and_then(AttrValue::as_n).unwrap_or(0);
                *out.entry(name.to_owned()).or_insert(0) += n;
            }
        }
        match d.tomorrow().ok() {
            Some(next) if next <= last => d = next,
            _ => return Ok(out),
        }
    }
}
