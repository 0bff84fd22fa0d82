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
