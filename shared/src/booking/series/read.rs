//! Reading series: one (finished first if its last writes had not landed), or a patient's list.

use serde::Deserialize;

use super::reconcile;
use crate::common::lookup::practice;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{AttrValue, Query, SortKey, attr, query_all};
use crate::unit_of_work::{Actor, Audit, audit_read, refused};
use domain::access::{Caller, Resource, Role};
use domain::booking::{Appointment, Practice};
use domain::ids::{PatientId, SeriesId};
use domain::series::Series;

/// The view of a series with its occurrences' statuses as `appts` has them.
pub(crate) fn view_planned(
    series: &Series,
    appts: &[Option<Appointment>],
    practice: &Practice,
) -> serde_json::Value {
    let statuses: Vec<Option<&'static str>> = series
        .occurrences
        .iter()
        .map(|o| {
            appts
                .iter()
                .flatten()
                .find(|a| a.id == o.id)
                .map(|a| a.status.as_str())
        })
        .collect();
    series.view(&practice.zone, &statuses)
}

/// The view of a series as the table has it now.
pub(crate) async fn view_now(
    state: &AppState,
    series: &Series,
    practice: &Practice,
) -> Result<serde_json::Value, ApiError> {
    let appts = super::reconcile_read(state, series).await?;
    Ok(view_planned(series, &appts, practice))
}

fn authorize(caller: &Caller, patient: &PatientId) -> Result<(), ApiError> {
    Ok(caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(patient.subject()),
    )?)
}

#[tracing::instrument(skip_all, fields(series = %id))]
pub async fn get_series(
    state: &AppState,
    caller: &Caller,
    id: &SeriesId,
) -> Result<serde_json::Value, ApiError> {
    let target = Audit::new("series.read", "series", id.as_str());
    let loaded = super::load(state, id).await;
    let target = match &loaded {
        Ok(series) => target.about(&series.patient),
        Err(_) => target,
    };
    let checked = loaded.and_then(|series| {
        authorize(caller, &series.patient)?;
        if series.committed() {
            Ok(series)
        } else {
            Err(ApiError::NotFound)
        }
    });
    let series = refused(state, caller, target.clone(), checked).await?;
    let appts = reconcile(state, &series, Actor::Caller(caller)).await?;
    let practice = practice(state).await?;
    audit_read(state, caller, target).await?;
    Ok(view_planned(&series, &appts, &practice))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesListQuery {
    /// Staff: the patient whose series to list (a patient lists her own without it).
    #[serde(default)]
    pub patient_id: Option<PatientId>,
}

#[tracing::instrument(skip_all)]
pub async fn list_series(
    state: &AppState,
    caller: &Caller,
    q: &SeriesListQuery,
) -> Result<serde_json::Value, ApiError> {
    // A refusal names the patient asked about, so her trail shows the attempt.
    let asked = match &q.patient_id {
        Some(p) => Audit::new("series.list", "patient", p.as_str()).about(p),
        None => Audit::new("series.list", "patient", caller.principal.subject.as_str()),
    };
    let acting = crate::common::access::acting_for(caller, q.patient_id.clone());
    let patient = refused(state, caller, asked, acting).await?;
    let target = Audit::new("series.list", "patient", patient.as_str()).about(&patient);
    let query = Query::partition(patient_partition(&patient))
        .sort(SortKey::BeginsWith(PATIENT_SERIES_PREFIX.into()))
        .consistent();
    let practice = practice(state).await?;
    let mut out = Vec::new();
    for item in query_all(&*state.table, &query).await? {
        let Some(id) = item
            .get(attr::ID)
            .and_then(AttrValue::as_s)
            .and_then(SeriesId::parse)
        else {
            continue;
        };
        let series = super::load(state, &id).await?;
        let appts = reconcile(state, &series, Actor::Caller(caller)).await?;
        out.push(view_planned(&series, &appts, &practice));
    }
    audit_read(state, caller, target).await?;
    Ok(serde_json::json!({ "series": out }))
}
