//! The sweep, every five minutes (the sweep function in Lambda, in process under `practica serve`,
//! once by `practica sweep`): expired holds removed and their time offered to the waitlist, series
//! reservations that never committed given back, the providers' other calendars fetched when
//! due and their busy time brought into the lock units, and (when the practice asks for it)
//! visits no one checked in to marked no-shows. Each part is idempotent on its own.

use super::busy::port::CalendarSource;
use super::busy::sync::{Synced, sync_due};
use crate::error::ApiError;
use crate::state::AppState;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Swept {
    pub removed: usize,
    pub offered: usize,
    pub series_released: usize,
    pub calendars_fetched: usize,
    pub calendars_failed: usize,
    pub busy_units_taken: usize,
    pub busy_units_released: usize,
    pub no_shows_marked: usize,
}

/// One run; `run_id` names it in the audit entries and offers it writes.
#[tracing::instrument(skip_all)]
pub async fn sweep(
    state: &AppState,
    calendars: &dyn CalendarSource,
    run_id: &str,
) -> Result<Swept, ApiError> {
    let (removed, offered) = super::holds::sweep_expired_holds(state, run_id).await?;
    let series_released = super::series::give_back_stale(state, run_id).await?;
    let Synced {
        fetched,
        failed,
        taken,
        released,
    } = sync_due(state, calendars).await?;
    let no_shows_marked = super::changes::mark_no_shows(state, run_id).await?;
    let swept = Swept {
        removed,
        offered,
        series_released,
        calendars_fetched: fetched,
        calendars_failed: failed,
        busy_units_taken: taken,
        busy_units_released: released,
        no_shows_marked,
    };
    if swept == Swept::default() {
        tracing::debug!("swept: nothing to do");
    } else {
        tracing::info!(?swept, "swept");
    }
    Ok(swept)
}
