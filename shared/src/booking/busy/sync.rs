//! The sweep's part: fetch every calendar whose last try is [`FETCH_EVERY_SECS`] old, store its
//! blocks (or, when it fails, the reason, keeping the last good blocks), and bring the provider's
//! lock units in line. A run claims a calendar by a conditional write of its try time, so two
//! overlapping runs never fetch the same calendar; the lock units' writes are conditional on their
//! owner, so a run that overlaps another, or is retried, changes nothing twice. Providers are
//! handled a few at a time, each one's calendars at once; a run stops claiming calendars once it
//! has used [`CLAIM_BUDGET`] (the rest are due for the next run).

use std::time::Duration;

use super::manage::calendars_of;
use super::port::CalendarSource;
use super::{FETCH_EVERY_SECS, Reconciled, horizon, reconcile};
use crate::common::lookup::{now, practice, provider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::busy::{BusyCalendar, BusySummary, blocks_value};
use crate::store::keys::{BUSY_CALENDARS_INDEX, busy_calendar_key, busy_summary_key};
use crate::store::{AttrValue, Condition, Consistency, Query, TableError, Update, attr, query_all};
use domain::ids::ProviderId;

/// How long into a run new calendars are still claimed (the sweep function may run 240 s; a
/// fetch takes 10 s at most).
pub const CLAIM_BUDGET: Duration = Duration::from_secs(150);
/// Providers handled at once.
const PROVIDERS_AT_ONCE: usize = 4;

/// What a run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    pub fetched: usize,
    pub failed: usize,
    pub taken: usize,
    pub released: usize,
}

/// Fetches the calendars that are due and reconciles each provider that fetched any, or whose
/// lock units are behind after a removal.
#[tracing::instrument(skip_all)]
pub async fn sync_due(state: &AppState, source: &dyn CalendarSource) -> Result<Synced, ApiError> {
    let started = tokio::time::Instant::now();
    let summaries = query_all(&*state.table, &Query::gsi1(BUSY_CALENDARS_INDEX)).await?;
    if summaries.is_empty() {
        return Ok(Synced::default());
    }
    let zone = practice(state).await?.zone;
    let providers = summaries
        .iter()
        .map(BusySummary::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let mut runs = Vec::with_capacity(providers.len());
    for group in providers.chunks(PROVIDERS_AT_ONCE) {
        let group: Vec<_> = group
            .iter()
            .map(|s| sync_provider(state, source, &s.provider, &zone, started))
            .collect();
        runs.extend(futures_util::future::join_all(group).await);
    }
    let mut synced = Synced::default();
    for run in runs {
        let one = run?;
        synced.fetched += one.fetched;
        synced.failed += one.failed;
        synced.taken += one.taken;
        synced.released += one.released;
    }
    Ok(synced)
}

async fn sync_provider(
    state: &AppState,
    source: &dyn CalendarSource,
    id: &ProviderId,
    zone: &jiff::tz::TimeZone,
    started: tokio::time::Instant,
) -> Result<Synced, ApiError> {
    let mut synced = Synced::default();
    // The index is eventually consistent: the summary itself is read strongly.
    let Some(item) = state
        .table
        .get(&busy_summary_key(id), Consistency::Strong)
        .await?
    else {
        return Ok(synced);
    };
    let summary = BusySummary::from_item(&item)?;
    let now = now(state);
    let rules = match provider(state, id).await {
        Ok(p) => p.rules,
        // A provider removed since: nothing of theirs can be booked any more.
        Err(ApiError::NotFound) => return Ok(synced),
        Err(e) => return Err(e),
    };
    let window = horizon(now, rules.max_advance_days);
    let mut calendars = calendars_of(state, id).await?;
    let claiming = started.elapsed() < CLAIM_BUDGET;
    // The provider's due calendars at once (each fetch takes 10 s at most).
    let due = calendars
        .iter_mut()
        .filter(|c| claiming && c.attempted_at.is_none_or(|t| now - t >= FETCH_EVERY_SECS))
        .map(|c| fetch_one(state, source, c, zone, window, now));
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
        return Ok(synced);
    }
    // What the calendars hold now: a calendar removed while this run fetched is left out.
    let blocks: Vec<(i64, i64)> = calendars_of(state, id)
        .await?
        .into_iter()
        .flat_map(|c| c.blocks)
        .collect();
    let Reconciled {
        taken, released, ..
    } = reconcile(state, id, &blocks, window, now).await?;
    synced.taken += taken;
    synced.released += released;
    if let Some(changed) = summary.changed_at {
        caught_up(state, id, changed).await?;
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
        // Reading a file is CPU work (bounded by `domain::busy`'s limits): off the async threads.
        Ok(text) => {
            let zone = zone.clone();
            tokio::task::spawn_blocking(move || domain::busy::busy(&text, &zone, from, to))
                .await
                .map_err(|e| ApiError::Unexpected(anyhow::anyhow!("reading a calendar: {e}")))?
                .map_err(|e| e.to_string())
        }
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
async fn caught_up(
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
