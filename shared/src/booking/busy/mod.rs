//! Busy time from a provider's other calendars (Google, Outlook, Apple: the ICS address each
//! publishes). A provider adds an address ([`manage`]); it is sealed like patient data (whoever has
//! it reads that calendar) and never shown, logged or put in an error again: the console shows its
//! label and host. The sweep ([`sync`], every five minutes) fetches each calendar whose last try is
//! 15 minutes old through the [`port::CalendarSource`] port, expands it with
//! [`domain::busy::busy`] (recurring events, exceptions, moved instances, zones, all-day events)
//! and stores its blocks on the calendar's record; a fetch that fails keeps the last good blocks
//! and stores the reason, which the console shows.
//!
//! The blocks become **lock units** owned by [`BUSY_OWNER`], the same items an appointment or hold
//! takes ([`reconcile`]): a booking over external busy time fails on its one conditional write as
//! it would on another appointment, availability leaves the time out as it leaves out taken time,
//! and nothing reads the calendars on a booking's path. Units an appointment already holds stay
//! the appointment's; the next run takes them if the appointment goes. Each unit expires when its
//! time has passed (the table's TTL), so nothing is left behind.

pub mod manage;
pub mod port;
pub mod sync;

use std::collections::{BTreeMap, BTreeSet};

use super::slots::{free_or, take_lock};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::{BUSY_OWNER, instant_key, lock_key, lock_partition};
use crate::store::{
    AttrValue, Condition, MAX_TRANSACT_ITEMS, Query, SortKey, TTL_ATTR, TableError, TransactOp,
    attr, query_all,
};
use domain::ids::ProviderId;
use domain::schedule::{UNIT_SECS, units};

/// A provider may add this many other calendars.
pub const MAX_CALENDARS: i64 = 5;
/// A calendar is fetched again when its last try is this old.
pub const FETCH_EVERY_SECS: i64 = 15 * 60;
/// The most lock units a provider's other calendars fill (the earliest ones): about 70 days
/// fully busy, so a calendar that is busy all year cannot make a run write a year of units.
pub const MAX_BUSY_UNITS: usize = 20_000;

/// How far ahead busy time is kept: as far as the provider can be booked, and a day.
pub fn horizon(now: i64, max_advance_days: u16) -> (i64, i64) {
    let from = now.div_euclid(UNIT_SECS) * UNIT_SECS;
    (from, now + (i64::from(max_advance_days) + 1) * 86_400)
}

/// What one reconciliation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    pub taken: usize,
    pub released: usize,
    /// Units wanted but held by an appointment or hold (taken later if those go).
    pub occupied: usize,
}

/// Makes the provider's [`BUSY_OWNER`] lock units in `[from, to)` match `blocks` (the union of
/// their calendars' blocks): takes the missing ones that are free, gives back the ones no block
/// wants. Safe to run twice or concurrently: every write is conditional on the unit's owner.
pub async fn reconcile(
    state: &AppState,
    provider: &ProviderId,
    blocks: &[(i64, i64)],
    (from, to): (i64, i64),
    now: i64,
) -> Result<Reconciled, ApiError> {
    let mut wanted: BTreeSet<i64> = BTreeSet::new();
    let mut sorted: Vec<(i64, i64)> = blocks
        .iter()
        .filter(|(a, b)| *b > from && *a < to)
        .copied()
        .collect();
    sorted.sort_unstable();
    for (a, b) in sorted {
        wanted.extend(units(a.max(from), b.min(to)).take(MAX_BUSY_UNITS - wanted.len()));
        if wanted.len() >= MAX_BUSY_UNITS {
            break;
        }
    }
    let query = Query::partition(lock_partition(provider))
        .sort(SortKey::Between(instant_key(from), instant_key(to)))
        .consistent();
    // Each unit's holder, for the units someone holds now.
    let mut held: BTreeMap<i64, bool> = BTreeMap::new();
    for item in query_all(&*state.table, &query).await? {
        let live = item
            .get(TTL_ATTR)
            .and_then(AttrValue::as_n)
            .is_none_or(|expiry| expiry > now);
        let ours = item.get(attr::OWNER).and_then(AttrValue::as_s) == Some(BUSY_OWNER);
        if let Ok(unit) = item.key.sk.parse::<i64>()
            && (live || ours)
        {
            held.insert(unit, ours);
        }
    }
    let mut done = Reconciled::default();
    let mut take = Vec::new();
    for unit in &wanted {
        match held.get(unit) {
            Some(true) => {}
            Some(false) => done.occupied += 1,
            None => take.push(take_lock(
                provider,
                *unit,
                BUSY_OWNER,
                unit + UNIT_SECS,
                free_or(now, None),
            )),
        }
    }
    let release: Vec<TransactOp> = held
        .iter()
        .filter(|(unit, ours)| **ours && !wanted.contains(unit))
        .map(|(unit, _)| TransactOp::Delete {
            key: lock_key(provider, *unit),
            condition: Some(Condition::Equals(attr::OWNER.into(), BUSY_OWNER.into())),
        })
        .collect();
    let tried = take.len();
    done.released = write_each(state, release).await?;
    done.taken = write_each(state, take).await?;
    // A unit that was free when read and taken by a booking before the write.
    done.occupied += tried - done.taken;
    Ok(done)
}

/// Applies conditional writes in transactions of up to 100; a transaction that fails on a
/// condition (a booking took a unit meanwhile) is applied one write at a time, skipping the ones
/// whose condition no longer holds. Returns how many were applied.
async fn write_each(state: &AppState, ops: Vec<TransactOp>) -> Result<usize, ApiError> {
    let mut applied = 0;
    for chunk in ops.chunks(MAX_TRANSACT_ITEMS) {
        match state.table.transact_write(chunk.to_vec()).await {
            Ok(()) => applied += chunk.len(),
            Err(
                TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict,
            ) => {
                for op in chunk.iter().cloned() {
                    let result = match op {
                        TransactOp::Put { item, condition } => {
                            state.table.put(item, condition).await
                        }
                        TransactOp::Delete { key, condition } => {
                            state.table.delete(&key, condition).await
                        }
                        TransactOp::Update {
                            key,
                            update,
                            condition,
                        } => state
                            .table
                            .update(&key, update, condition)
                            .await
                            .map(|_| ()),
                        TransactOp::Check { .. } => Ok(()),
                    };
                    match result {
                        Ok(()) => applied += 1,
                        Err(TableError::ConditionFailed) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(applied)
}
