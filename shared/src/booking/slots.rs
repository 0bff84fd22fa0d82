//! Time on a provider's calendar as table writes: lock units (one item per unit, taken by a
//! conditional put, so no check-then-write race exists), the requested slot checked against the
//! rules, and commits that claim a per-patient allowance.

use crate::common::input::body_start;
use crate::common::lookup::{now, offered_service, practice, provider};
use crate::store::attr;
use crate::store::codec::booking::HoldCodec;
use std::collections::BTreeSet;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Item, Query, SortKey, TTL_ATTR, TransactOp, query_all};
use domain::booking::*;
use domain::ids::{HoldId, ProviderId, ServiceId};
use domain::schedule::{Calendar, units};

pub(super) use crate::common::deposits::LOCK_GRACE_SECS;

/// Occupied lock units of a provider in `[from, to)` that are still held at `now`.
pub async fn busy_units(
    state: &AppState,
    provider: &ProviderId,
    from: i64,
    to: i64,
    now: i64,
) -> Result<BTreeSet<i64>, ApiError> {
    let query = Query::partition(lock_partition(provider))
        .sort(SortKey::Between(instant_key(from), instant_key(to)))
        .consistent();
    let mut busy = BTreeSet::new();
    for item in query_all(&*state.table, &query).await? {
        let held = item
            .get(TTL_ATTR)
            .and_then(AttrValue::as_n)
            .is_none_or(|expiry| expiry > now);
        if held && let Ok(unit) = item.key.sk.parse::<i64>() {
            busy.insert(unit);
        }
    }
    Ok(busy)
}

/// A lock unit may be taken when nobody holds it, its holder expired, or (booking from a hold)
/// the caller's own hold holds it.
pub(super) fn free_or(now: i64, own_hold: Option<&HoldId>) -> Condition {
    let mut free = vec![
        Condition::ItemAbsent,
        Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now)),
    ];
    if let Some(hold) = own_hold {
        free.push(Condition::Equals(attr::OWNER.into(), hold.as_str().into()));
    }
    Condition::Or(free)
}

pub(super) fn take_lock(
    provider: &ProviderId,
    unit: i64,
    owner: &str,
    expires: i64,
    condition: Condition,
) -> TransactOp {
    TransactOp::Put {
        item: Item::new(lock_key(provider, unit))
            .with(attr::OWNER, owner)
            .with(TTL_ATTR, expires),
        condition: Some(condition),
    }
}

/// A hold's writes: its lock units (free or expired ones only) and the hold itself.
pub(super) fn hold_ops(hold: &Hold, now: i64) -> Vec<TransactOp> {
    let mut ops: Vec<TransactOp> = units(hold.occupied.0, hold.occupied.1)
        .map(|u| {
            take_lock(
                &hold.provider,
                u,
                hold.id.as_str(),
                hold.expires_at,
                free_or(now, None),
            )
        })
        .collect();
    ops.push(TransactOp::Put {
        item: hold.to_item(),
        condition: Some(Condition::ItemAbsent),
    });
    ops
}

pub(super) fn release_lock(provider: &ProviderId, unit: i64, owner: &str) -> TransactOp {
    TransactOp::Delete {
        key: lock_key(provider, unit),
        condition: Some(Condition::Equals(attr::OWNER.into(), owner.into())),
    }
}

/// A requested start, checked against the provider's rules: what holds and bookings are made of.
pub(super) struct Slot {
    pub(super) practice: Practice,
    pub(super) provider: Provider,
    pub(super) service: Service,
    pub(super) start: i64,
    pub(super) end: i64,
    pub(super) occupied: (i64, i64),
    pub(super) now: i64,
}

pub(super) async fn requested_slot(
    state: &AppState,
    provider_id: &ProviderId,
    service_id: &ServiceId,
    start: &str,
) -> Result<Slot, ApiError> {
    let start = body_start(start)?;
    let practice = practice(state).await?;
    let provider = provider(state, provider_id).await?;
    let service = offered_service(state, service_id, &provider.id).await?;
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    let now = now(state);
    cal.check(start, service.duration(), now)
        .map_err(ApiError::from)?;
    let occupied = cal.occupied(start, service.duration());
    Ok(Slot {
        end: start + service.duration(),
        occupied,
        start,
        now,
        practice,
        provider,
        service,
    })
}
