//! The sweep function: every 5 minutes on EventBridge Scheduler, runs `shared::booking::sweep`
//! (the same code `practica sweep` and `practica serve` run): removes the holds that have expired
//! and offers their time to the earliest waiting patient it suits, gives back series reservations
//! that never committed, and fetches the providers' other calendars that are due (every 15
//! minutes) into busy time, and charges the fees the cancellation policy set to the patients'
//! cards on file (`shared::payments::collect`), and removes the signaling channels of online visits'
//! rooms that have closed (`shared::booking::visits::close_rooms`). Expired holds never block a booking meanwhile; this only makes freed
//! time reach the waitlist. Idempotent: a hold already removed or booked is skipped, a calendar is
//! claimed before it is fetched, so a retried or overlapping run changes nothing twice.

use serde_json::Value;
use shared::booking::busy::port::CalendarSource;
use shared::payments::processor::PaymentProcessor;
use shared::{error::ApiError, state::AppState};

/// Why a run failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("not the sweep schedule's event: {0}")]
    InvalidEvent(&'static str),
    #[error("a dependency is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Failed(String),
}

impl From<ApiError> for SweepError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unavailable { code, source } => {
                SweepError::Unavailable(format!("{code}: {source:#}"))
            }
            other => SweepError::Failed(format!("{other:#}")),
        }
    }
}

impl From<SweepError> for lambda_runtime::Diagnostic {
    fn from(e: SweepError) -> Self {
        let kind = match &e {
            SweepError::InvalidEvent(_) => "Permanent.InvalidEvent",
            SweepError::Unavailable(_) => "Retryable.DependencyUnavailable",
            SweepError::Failed(_) => "Retryable.Failed",
        };
        shared::lambda::diagnostic(kind, &e)
    }
}

/// Accepts only the schedule's event: `detail.job` is `holds-sweep`.
pub fn check_event(event: &Value) -> Result<(), SweepError> {
    if !shared::scheduled::is_scheduled(event) {
        return Err(SweepError::InvalidEvent("not a scheduled event"));
    }
    match shared::scheduled::job_of(event) {
        Some("holds-sweep") => Ok(()),
        _ => Err(SweepError::InvalidEvent("detail.job is not holds-sweep")),
    }
}

/// One invocation; `request_id` (the Lambda request id) names the run in its audit entries;
/// `calendars` reads the providers' other calendars (the internet, from the function).
pub async fn run(
    state: &AppState,
    calendars: &dyn CalendarSource,
    processor: &dyn PaymentProcessor,
    event: Value,
    request_id: &str,
) -> Result<Value, SweepError> {
    check_event(&event)?;
    let run_id = format!("sweep-{request_id}");
    let swept = shared::booking::sweep::sweep(state, calendars, &run_id).await?;
    let collected = shared::payments::collect::collect(state, processor, &run_id).await?;
    let deposits = shared::payments::deposits::settle(state, processor, &run_id).await?;
    let rooms = shared::booking::visits::close_rooms(state).await?;
    let mut done = serde_json::to_value(swept).map_err(|e| SweepError::Failed(e.to_string()))?;
    done["collected"] =
        serde_json::to_value(collected).map_err(|e| SweepError::Failed(e.to_string()))?;
    done["deposits"] =
        serde_json::to_value(deposits).map_err(|e| SweepError::Failed(e.to_string()))?;
    done["roomsClosed"] = rooms.into();
    Ok(done)
}
