//! Time on a provider's calendar as table writes: lock units (one item per unit, taken by a
//! conditional put, so no check-then-write race exists), the requested slot checked against the
//! rules, and commits that claim a per-patient allowance.

use super::input::body_start;
use super::lookup::{now, offered_service, practice, provider};
use crate::store::attr;
use std::collections::BTreeSet;

use super::quota::{self, Kind};
use crate::AppState;
use crate::domain::access::Caller;
use crate::domain::booking::*;
use crate::domain::ids::{HoldId, PatientId, ProviderId, ServiceId};
use crate::domain::schedule::{Calendar, units};
use crate::error::ApiError;
use crate::store::commit::{Audit, CommitError, Idempotency, Reply, Write, commit};
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Item, Query, SortKey, TTL_ATTR, TransactOp, query_all};

/// Appointment locks outlive the appointment by a day, then the table's TTL removes them.
pub(super) const LOCK_GRACE_SECS: i64 = 86_400;

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

/// A per-patient allowance a change must claim (a patient acting for themself; never staff).
pub(crate) struct Allowance<'a> {
    pub(crate) patient: &'a PatientId,
    pub(crate) kind: Kind,
    pub(crate) limit: u16,
    pub(crate) owner: &'a str,
    pub(crate) until: i64,
    pub(crate) now: i64,
}

/// Attempts at a claim: a guess, then reads of the allowance (a racing request of the same
/// patient may take the slot a read found free).
pub(crate) const CLAIM_ATTEMPTS: usize = 4;

/// The allowance a change by `caller` for `patient` claims: none when staff act.
pub(crate) fn allowance<'a>(
    caller: &Caller,
    practice: &Practice,
    patient: &'a PatientId,
    kind: Kind,
    owner: &'a str,
    until: i64,
    now: i64,
) -> Option<Allowance<'a>> {
    (!caller.is_staff()).then_some(Allowance {
        patient,
        kind,
        limit: practice.limits.of(kind),
        owner,
        until,
        now,
    })
}

/// [`commit`] with a claim on the patient's allowance (when there is one) appended after the
/// change's own writes. `build` gets the claimed slot to record on the new item. The first attempt guesses a slot without reading (one
/// round trip when it is free); a taken slot makes it read the allowance and try a free one.
pub(crate) async fn commit_claiming(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    allowance: Option<Allowance<'_>>,
    build: impl Fn(Option<u16>) -> Vec<Write>,
    audit: Audit,
    reply: Reply,
) -> Result<Reply, ApiError> {
    let Some(a) = allowance else {
        return Ok(commit(state, caller, Some(idem), build(None), audit, reply).await?);
    };
    for attempt in 0..CLAIM_ATTEMPTS {
        let pick = if attempt == 0 {
            quota::Pick::Guess
        } else {
            quota::Pick::Read
        };
        let claim = quota::claim(
            state, a.patient, a.kind, a.limit, a.owner, a.until, a.now, pick,
        )
        .await?;
        let mut writes = build(Some(claim.slot));
        writes.push(Write::claim(claim.op));
        match commit(
            state,
            caller,
            Some(idem),
            writes,
            audit.clone(),
            reply.clone(),
        )
        .await
        {
            Err(CommitError::ClaimTaken) => continue,
            other => return Ok(other?),
        }
    }
    Err(quota::limit_reached(a.kind))
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
