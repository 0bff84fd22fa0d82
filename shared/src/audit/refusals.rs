//! Aggregating refusals: beyond [`INDIVIDUAL_REFUSALS_PER_HOUR`] refusals of one caller in one UTC
//! hour, the request path only counts (`unit_of_work::refused`); once that hour is over (and
//! settled), integration writes one aggregate entry per caller and hour: `refusals.aggregate`,
//! `denied`, the caller and the roles they acted in, how many refusals it stands for (`count`) and
//! the patients they named (ids only, each with how many of the refusals named them; at most
//! [`AGGREGATE_PATIENTS_NAMED`] patients), so a flood stays visible, sealed and PHI-free
//! without flooding the log. The entry and the counter's mark are one transaction: an aggregate is
//! written once, whatever runs race.

use jiff::Timestamp;
use jiff::civil::Date;

use crate::error::ApiError;
use crate::store::codec::n;
use crate::store::keys::refusal_partition;
use crate::store::{
    AttrValue, Condition, Key, Query, Table, TableError, TransactOp, Update, attr, query_all,
};
use crate::unit_of_work::{AGGREGATE_PATIENTS_NAMED, Actor, Audit, INDIVIDUAL_REFUSALS_PER_HOUR};
use domain::ids::PatientId;

/// The action of an aggregate entry.
pub const AGGREGATE_ACTION: &str = "refusals.aggregate";

/// One caller's counter for one hour, read back.
struct Counter {
    key: Key,
    hour: u8,
    caller: String,
    count: i64,
    roles: Vec<AttrValue>,
    aggregated: bool,
}

fn counter_of(item: &crate::store::Item) -> Result<Option<Counter>, ApiError> {
    let mut parts = item.key.sk.split('#');
    let (Some(hour), Some(caller), None) = (parts.next(), parts.next(), parts.next()) else {
        return Ok(None); // a per-patient count
    };
    let Ok(hour) = hour.parse::<u8>() else {
        return Ok(None);
    };
    Ok(Some(Counter {
        key: item.key.clone(),
        hour,
        caller: caller.to_owned(),
        count: n(item, attr::COUNT)?,
        roles: match item.get(attr::ROLES) {
            Some(AttrValue::L(roles)) => roles.clone(),
            _ => Vec::new(),
        },
        aggregated: item.get(attr::AGGREGATED).is_some(),
    }))
}

/// Writes the aggregate entry of every caller-hour from `from` to `now`'s day that is over (by
/// `settle`), went beyond the individual limit and has none yet. Returns how many it wrote.
pub async fn aggregate(
    table: &dyn Table,
    now: Timestamp,
    from: Date,
    settle: jiff::SignedDuration,
) -> Result<u64, ApiError> {
    let mut written = 0;
    let mut day = from;
    while day <= domain::clock::utc_day(now) {
        let items = query_all(
            table,
            &Query::partition(refusal_partition(day)).consistent(),
        )
        .await?;
        for item in &items {
            let Some(counter) = counter_of(item)? else {
                continue;
            };
            let hour_over = domain::clock::utc_start(day)
                + jiff::SignedDuration::from_hours(i64::from(counter.hour) + 1)
                + settle;
            if counter.aggregated
                || counter.count <= INDIVIDUAL_REFUSALS_PER_HOUR
                || hour_over > now
            {
                continue;
            }
            let prefix = format!("{}#", counter.key.sk);
            // At most AGGREGATE_PATIENTS_NAMED per-patient counters exist for a caller and hour.
            let named: Vec<(PatientId, i64)> = items
                .iter()
                .filter_map(|i| {
                    let patient = PatientId::parse(i.key.sk.strip_prefix(&prefix)?)?;
                    Some((patient, n(i, attr::COUNT).ok()?))
                })
                .take(AGGREGATE_PATIENTS_NAMED as usize)
                .collect();
            let patients: Vec<PatientId> = named.iter().map(|(p, _)| p.clone()).collect();
            let per_patient: std::collections::BTreeMap<String, AttrValue> = named
                .iter()
                .map(|(p, count)| (p.as_str().to_owned(), AttrValue::N(*count)))
                .collect();
            let entry = Audit {
                count: Some(counter.count - INDIVIDUAL_REFUSALS_PER_HOUR),
                outcome: "denied",
                ..Audit::new(
                    AGGREGATE_ACTION,
                    "caller",
                    format!("{}@{day}T{:02}", counter.caller, counter.hour),
                )
                .about_all(&patients)
            };
            let request_id = format!("refusals-{day}T{:02}", counter.hour);
            let actor = Actor::Counted {
                subject: &counter.caller,
                roles: &counter.roles,
                request_id: &request_id,
            };
            let mut item = entry.item_at(now, actor);
            if !per_patient.is_empty() {
                item.set(attr::PATIENT_COUNTS, AttrValue::M(per_patient));
            }
            let ops = vec![
                TransactOp::Put {
                    item,
                    condition: Some(Condition::ItemAbsent),
                },
                TransactOp::Update {
                    key: counter.key.clone(),
                    update: Update::default().set(attr::AGGREGATED, true),
                    condition: Some(Condition::AttrAbsent(attr::AGGREGATED.into())),
                },
            ];
            match table.transact_write(ops).await {
                Ok(()) => written += 1,
                // Another run wrote it first.
                Err(TableError::TransactionConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let Some(next) = day.tomorrow().ok() else {
            break;
        };
        day = next;
    }
    Ok(written)
}
