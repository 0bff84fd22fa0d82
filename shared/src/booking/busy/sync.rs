//! The sweep's part: fetch every calendar whose last try is [`FETCH_EVERY_SECS`] old, store its
//! blocks (or, when it fails, the reason, keeping the last good blocks), and bring the provider's
//! lock units in line. A run claims a calendar by a conditional write of its try time, so two
//! overlapping runs never fetch the same calendar; the lock units' writes are conditional on their
//! owner, so a run that overlaps another, or is retried, changes nothing twice.

use super::manage::calendars_of;
use super::port::CalendarSource;
use super::{FETCH_EVERY_SECS, Reconciled, horizon, reconcile};
use crate::common::lookup::{now, practice, provider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::busy::{BusyCalendar, BusySummary, blocks_value};
use crate::store::keys::{BUSY_CALENDARS_INDEX, busy_calendar_key, busy_summary_key};
use crate::store::{AttrValue, Condition, Query, TableError, Update, attr, query_all};
use domain::ids::ProviderId;

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub fetched: usize,
    pub failed: usize,
    pub taken: usize,
    pub released: usize,
}

/// Fetches the calendars that are due and reconciles each provider that has any (or whose lock
/// units are behind after a removal).
#[tracing::instrument(skip_all)]
pub async fn sync_due(state: &AppState, source: &dyn CalendarSource) -> Result<Synced, ApiError> {
    let mut synced = Synced::default();
    let summaries = query_all(&*state.table, &Query::gsi1(BUSY_CALENDARS_INDEX)).await?;
    if summaries.is_empty() {
        return Ok(synced);
    }
    let zone = practice(state).await?.zone;
    for item in &summaries {
        let summary = BusySummary::from_item(item)?;
        let id = &summary.provider;
        let now = now(state);
        let rules = match provider(state, id).await {
            Ok(p) => p.rules,
            // A provider removed since: nothing of theirs can be booked any more.
            Err(ApiError::NotFound) => continue,
            Err(e) => return Err(e),
        };
        let window = horizon(now, rules.max_advance_days);
        let mut calendars = calendars_of(state, id).await?;
        // A provider's due calendars at once (each fetch takes 10 s at most).
        let due = calendars
            .iter_mut()
            .filter(|c| c.attempted_at.is_none_or(|t| now - t >= FETCH_EVERY_SECS))
            .map(|c| fetch_one(state, source, c, &zone, window, now));
        let mut fetched_any = false;
        for outcome in futures_util::future::join_all(due).await {
            match outcome? {
                Some(true) => {
                    synced.fetched += 1;
                    fetched_any = true;
                }
                Some(false) => synced.failed += 1,
                None => {}
            }
        }
        if !fetched_any && summary.changed_at.is_none() {
            continue;
        }
        let blocks: Vec<(i64, i64)> = calendars.iter().flat_map(|c| c.blocks.clone()).collect();
        let Reconciled {
            taken, released, ..
        } = reconcile(state, id, &blocks, window, now).await?;
        synced.taken += taken;
        synced.released += released;
        if let Some(changed) = summary.changed_at {
            caught_up(state, id, changed).await?;
        }
    }
    Ok(synced)
}

/// Claims, fetches and records one calendar: `Some(true)` when it gave blocks, `Some(false)` when
/// it failed (the reason stored, the blocks kept), `None` when another run claimed it first or it
/// was removed meanwhile.
async fn fetch_one(
    state: &AppState,
    source: &dyn CalendarSource,
    calendar: &mut BusyCalendar,
    zone: &jiff::tz::TimeZone,
    (from, to): (i64, i64),
    now: i64,
) -> Result<Option<bool>, ApiError> {
    let key = busy_calendar_key(&calendar.provider, &calendar.id);
    let claim = match calendar.attempted_at {
        Some(t) => Condition::Equals(attr::ATTEMPTED_AT.into(), AttrValue::N(t)),
        None => Condition::And(vec![
            Condition::ItemExists,
            Condition::AttrAbsent(attr::ATTEMPTED_AT.into()),
        ]),
    };
    match state
        .table
        .update(
            &key,
            Update::default().set(attr::ATTEMPTED_AT, now),
            Some(claim),
        )
        .await
    {
        Ok(_) => calendar.attempted_at = Some(now),
        Err(TableError::ConditionFailed) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let address = state
        .sealer
        .open_str(&key, attr::ADDRESS, &calendar.address)
        .await?;
    let outcome = match source.fetch(address.expose()).await {
        Ok(text) => domain::busy::busy(&text, zone, from, to).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let ours = Condition::Equals(attr::ATTEMPTED_AT.into(), AttrValue::N(now));
    let (update, ok) = match outcome {
        Ok(busy) => {
            calendar.blocks = busy.blocks;
            calendar.skipped = busy.skipped as i64;
            calendar.fetched_at = Some(now);
            calendar.error = None;
            let update = Update::default()
                .set(attr::BLOCKS, blocks_value(&calendar.blocks))
                .set(attr::SKIPPED, calendar.skipped)
                .set(attr::FETCHED_AT, now)
                .remove(attr::ERROR);
            (update, true)
        }
        Err(reason) => {
            tracing::info!(calendar = %calendar.id, %reason, "a busy calendar could not be read");
            calendar.error = Some(reason.clone());
            (Update::default().set(attr::ERROR, reason), false)
        }
    };
    match state.table.update(&key, update, Some(ours)).await {
        Ok(_) => Ok(Some(ok)),
        Err(TableError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Clears the summary's mark that the lock units are behind, unless it changed again meanwhile.
pub(super) async fn caught_up(
    state: &AppState,
    provider: &ProviderId,
    changed_at: i64,
) -> Result<(), ApiError> {
    let result = state
        .table
        .update(
            &busy_summary_key(provider),
            Update::default().remove(attr::CHANGED_AT),
            Some(Condition::Equals(
                attr::CHANGED_AT.into(),
                AttrValue::N(changed_at),
            )),
        )
        .await;
    match result {
        Ok(_) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
