//! The sweep function: every 5 minutes on EventBridge Scheduler, removes the holds that have
//! expired and offers their time to the earliest waiting patient it suits
//! (`shared::booking::holds::sweep_expired_holds`, the same code `practica sweep` and `practica serve`
//! run). Expired holds never block a booking meanwhile; this only makes freed time reach the
//! waitlist. Idempotent: a hold already removed or booked is skipped, so a retried or overlapping
//! run changes nothing twice.

use serde_json::{Value, json};
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

/// One invocation; `request_id` (the Lambda request id) names the run in its audit entries.
pub async fn run(state: &AppState, event: Value, request_id: &str) -> Result<Value, SweepError> {
    check_event(&event)?;
    let run_id = format!("sweep-{request_id}");
    let (removed, offered) = shared::booking::holds::sweep_expired_holds(state, &run_id).await?;
    tracing::info!(removed, offered, "holds swept");
    // Series changes a request reserved and never committed (it stopped half-way).
    let released = shared::booking::series::give_back_stale(state, &run_id).await?;
    tracing::info!(released, "stale series reservations given back");
    Ok(json!({ "removed": removed, "offered": offered, "seriesReleased": released }))
}
