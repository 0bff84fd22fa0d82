//! Reading published reports: admins only; every read of a report is audited (`report.read`), the
//! list too (`report.list`). A report holds no patient data, but who looked at the practice's access
//! figures, and when, is itself worth a record.

use crate::auth::{Resource, Role};
use crate::error::ApiError;
use crate::reports::store::{Manifest, ReportStore, valid_file, valid_id};
use crate::state::AppState;
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::Caller;

fn admin(caller: &Caller) -> Result<(), ApiError> {
    Ok(caller
        .principal
        .authorize(&[Role::Admin], Resource::Shared)?)
}

pub async fn list(
    state: &AppState,
    store: &dyn ReportStore,
    caller: &Caller,
) -> Result<Vec<Manifest>, ApiError> {
    admin(caller)?;
    let reports = store.list().await?;
    audit_read(state, caller, Audit::new("report.list", "report", "all")).await?;
    Ok(reports)
}

/// One file of a report (`report.json`, `report.html`, `<table>.csv`).
pub async fn file(
    state: &AppState,
    store: &dyn ReportStore,
    caller: &Caller,
    id: &str,
    name: &str,
) -> Result<Vec<u8>, ApiError> {
    let target = Audit::new(
        "report.read",
        "report",
        if valid_id(id) { id } else { "invalid" },
    );
    let found = async {
        admin(caller)?;
        if !valid_id(id) || !valid_file(name) {
            return Err(ApiError::NotFound);
        }
        store.get(id, name).await?.ok_or(ApiError::NotFound)
    };
    let bytes = refused(state, caller, target.clone(), found.await).await?;
    audit_read(state, caller, target).await?;
    Ok(bytes)
}

/// The days a live report covers, both included (`YYYY-MM-DD`, in the practice's zone).
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LiveQuery {
    pub from: String,
    pub to: String,
}

/// The most days a live report covers (it is computed in the request).
pub const LIVE_MAX_DAYS: i64 = 31;

/// What a live report says of the audit log: it is not verified in the request.
pub const LIVE_VERIFICATION: &str =
    "not verified in a live report; the weekly and monthly reports verify the audit log";

/// A report of any days up to today, computed now from the table and published nowhere (a read,
/// audited as `report.read` like a published one). The figures are the scheduled reports'; the
/// audit log's verification is left to them.
pub async fn live(
    state: &AppState,
    caller: &Caller,
    q: &LiveQuery,
) -> Result<serde_json::Value, ApiError> {
    use crate::error::InputError;
    let target = Audit::new("report.read", "report", "live");
    refused(state, caller, target, admin(caller)).await?;
    let day = |text: &str| {
        text.parse::<jiff::civil::Date>()
            .ok()
            .filter(|_| text.len() == 10)
            .ok_or(ApiError::Input(InputError::InvalidQuery))
    };
    let (from, last) = (day(&q.from)?, day(&q.to)?);
    let zone = crate::reports::collect::practice(&*state.table).await?.zone;
    let today = zone.to_datetime(state.clock.now()).date();
    if last < from || last > today {
        return Err(ApiError::Input(InputError::InvalidRange));
    }
    if (last - from).get_days() as i64 >= LIVE_MAX_DAYS {
        return Err(ApiError::Input(InputError::RangeTooLong));
    }
    let to = last
        .tomorrow()
        .map_err(|_| ApiError::Input(InputError::InvalidRange))?;
    let period = domain::report::Period::new(from, to, &zone)
        .map_err(|_| ApiError::Input(InputError::InvalidRange))?;
    let report = crate::reports::generate(&*state.table, &period, LIVE_VERIFICATION.into()).await?;
    audit_read(
        state,
        caller,
        Audit::new("report.read", "report", format!("live:{}", report.id)),
    )
    .await?;
    Ok(serde_json::to_value(&report).map_err(anyhow::Error::new)?)
}
