//! Which forms a patient's upcoming visits ask for that she has not filled in: a first-visit form
//! she never submitted, an every-visit form not submitted since her last visit that has begun.
//! Each form once, for the earliest visit that asks for it. Read by the forms pages and by the
//! delivery of the reminder of missing forms (which is withdrawn when none are missing).

use std::collections::BTreeSet;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::forms::{StoredAnswers, StoredForm};
use crate::store::keys::*;
use crate::store::{Query, SortKey, query_all};
use domain::booking::{Appointment, Status};
use domain::forms::FormId;
use domain::ids::{AppointmentId, PatientId};

/// A form due before a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub form: FormId,
    pub title: String,
    pub appointment: AppointmentId,
    pub start: i64,
}

pub async fn forms_due(state: &AppState, patient: &PatientId) -> Result<Vec<Due>, ApiError> {
    let now = super::lookup::now(state);
    let appointments = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith("APPT#".into()))
        .consistent();
    let mut visits: Vec<Appointment> = query_all(&*state.table, &appointments)
        .await?
        .iter()
        .map(Appointment::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|a| a.status != Status::Cancelled)
        .collect();
    visits.sort_by_key(|a| a.start);
    let submissions = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(PATIENT_SUBMISSION_PREFIX.into()))
        .consistent();
    let submitted: Vec<(FormId, i64)> = query_all(&*state.table, &submissions)
        .await?
        .iter()
        .map(|i| StoredAnswers::from_item(i).map(|s| (s.form, s.at)))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::new();
    let mut listed = BTreeSet::new();
    for visit in visits
        .iter()
        .filter(|a| a.start > now && a.status == Status::Booked)
    {
        let Some(service) = super::lookup::service(state, &visit.service).await? else {
            continue;
        };
        // Her last visit before this one that has begun.
        let last = visits
            .iter()
            .filter(|a| a.start <= now && a.start < visit.start)
            .map(|a| a.start)
            .max();
        let wanted = service
            .forms_before_first_visit
            .iter()
            .map(|f| (f, None))
            .chain(service.forms_before_every_visit.iter().map(|f| (f, last)));
        for (form, since) in wanted {
            let done = submitted
                .iter()
                .any(|(f, at)| f == form && since.is_none_or(|s| *at > s));
            if done || !listed.insert(form.clone()) {
                continue;
            }
            let Some(item) = state.cache.get(&*state.table, &form_key(form)).await? else {
                continue;
            };
            out.push(Due {
                form: form.clone(),
                title: StoredForm::from_item(&item)?.definition.title,
                appointment: visit.id.clone(),
                start: visit.start,
            });
        }
    }
    Ok(out)
}
