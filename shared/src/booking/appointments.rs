//! Reading appointments: one, a patient's own, or a provider's calendar in a range. Every read of
//! patient data is audited before it is returned.

use super::access::authorize_read;
use crate::common::input::{query_instant, query_provider_id, query_range};
use crate::common::lookup::{practice, provider};
use crate::store::attr;
use crate::store::codec::booking::{AppointmentCodec, ProviderCodec};

use serde::Deserialize;

use crate::auth::{Resource, Role};
use crate::common::patients::names_of;
use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{AttrValue, Consistency, Item, Query, SortKey, query_all};
use crate::unit_of_work::refused;
use crate::unit_of_work::{Audit, audit_read};
use domain::access::Caller;
use domain::booking::*;
use domain::ids::{AppointmentId, PatientId, ProviderId};
use std::collections::HashMap;

/// The appointment `id`, and `target` naming its patient once the appointment is found: a
/// refusal of someone else's appointment then shows in that patient's own trail (a missing one
/// names nobody).
pub(super) async fn load_naming_patient(
    state: &AppState,
    id: &AppointmentId,
    target: Audit,
) -> (Audit, Result<(Appointment, Item), ApiError>) {
    let loaded = load_appointment(state, id).await;
    match &loaded {
        Ok((appt, _)) => (target.about(&appt.patient), loaded),
        Err(_) => (target, loaded),
    }
}

async fn load_appointment(
    state: &AppState,
    id: &AppointmentId,
) -> Result<(Appointment, Item), ApiError> {
    let item = state
        .table
        .get(&appointment_key(id), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((Appointment::from_item(&item)?, item))
}

#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn get_appointment(
    state: &AppState,
    caller: &Caller,
    id: &AppointmentId,
) -> Result<serde_json::Value, ApiError> {
    let target = Audit::new("appointment.read", "appointment", id.as_str());
    let (target, loaded) = load_naming_patient(state, id, target).await;
    let loaded = async {
        let (appt, item) = loaded?;
        let provider = provider(state, &appt.provider).await?;
        authorize_read(caller, &appt, &provider)?;
        Ok((appt, item))
    };
    let (appt, item) = refused(state, caller, target, loaded.await).await?;
    let practice = practice(state).await?;
    let reason = match item.get(attr::REASON).and_then(AttrValue::as_b) {
        Some(sealed) => {
            // The key service down: a `failed` access to this patient's appointment.
            let opened = state.sealer.open_str(&item.key, attr::REASON, sealed).await;
            let failed =
                Audit::new("appointment.read", "appointment", id.as_str()).about(&appt.patient);
            Some(refused(state, caller, failed, opened.map_err(ApiError::from)).await?)
        }
        None => None,
    };
    audit_read(
        state,
        caller,
        Audit::new("appointment.read", "appointment", id.as_str()).about(&appt.patient),
    )
    .await?;
    Ok(appt.view(&practice.zone, reason.as_ref().map(|r| r.expose().as_str())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    pub provider_id: Option<String>,
    /// Staff reading one patient's appointments (the patient's page in the console).
    pub patient_id: Option<PatientId>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A patient's own appointments (or, for staff, one patient's); or, for staff and the provider, a
/// provider's calendar in a range.
#[tracing::instrument(skip_all)]
pub async fn list_appointments(
    state: &AppState,
    caller: &Caller,
    q: &ListQuery,
) -> Result<serde_json::Value, ApiError> {
    // A bound that is given is checked whoever asks. A patient's own list may be narrowed by either
    // bound; a provider's calendar is queried by both.
    let from = q
        .from
        .as_deref()
        .map(|t| query_instant(t, "from"))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| query_instant(t, "to"))
            .transpose()?;
    let practice = practice(state).await?;
    // A calendar (not a patient's own list) shows each patient's name.
    let mut named = true;
    let own_list = |patient: &PatientId| {
        Query::partition(patient_partition(patient))
            .sort(SortKey::BeginsWith(PATIENT_APPOINTMENT_PREFIX.into()))
            .consistent()
    };
    let (items, audit) = match &q.provider_id {
        _ if q.patient_id.is_some() && q.provider_id.is_some() => {
            return Err(ApiError::Input(InputError::InvalidQuery));
        }
        // The front desk on a patient's page: every appointment of hers, by start.
        None if let Some(patient) = &q.patient_id => {
            let target = Audit::new("appointment.list", "patient", patient.as_str()).about(patient);
            let authorized = caller.authorize_staff().map_err(ApiError::from);
            refused(state, caller, target, authorized).await?;
            named = false;
            (
                query_all(&*state.table, &own_list(patient)).await?,
                // Named even when the list is empty: her access log shows the look.
                Audit::new("appointment.list", "patient", patient.as_str()).about(patient),
            )
        }
        Some(id) => {
            let id = query_provider_id(id)?;
            let provider = provider(state, &id).await?;
            let authorized = match &provider.subject {
                Some(sub) => caller.principal.authorize(
                    &[Role::Provider, Role::Staff, Role::Admin],
                    Resource::Provider(sub),
                ),
                None => caller.authorize_staff(),
            };
            let target = Audit::new("appointment.list", "provider", id.as_str());
            refused(state, caller, target, authorized.map_err(ApiError::from)).await?;
            let (from, to) = required_range(q)?;
            (
                calendar(state, &id, from, to).await?,
                Audit::new("appointment.list", "provider", id.as_str()),
            )
        }
        None if caller.principal.has(Role::Patient) => {
            named = false;
            let patient = PatientId::of(&caller.principal.subject);
            (
                query_all(&*state.table, &own_list(&patient)).await?,
                Audit::new("appointment.list", "patient", patient.as_str()),
            )
        }
        // The front desk's schedule: every provider's calendar at once.
        None if caller.is_staff() => {
            let (from, to) = required_range(q)?;
            let providers = query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX)).await?;
            let ids = providers
                .iter()
                .map(|item| Provider::from_item(item).map(|p| p.id))
                .collect::<Result<Vec<_>, _>>()?;
            let calendars = futures_util::future::try_join_all(
                ids.iter().map(|id| calendar(state, id, from, to)),
            )
            .await?;
            (
                calendars.into_iter().flatten().collect(),
                Audit::new("appointment.list", "practice", "all-providers"),
            )
        }
        None if caller.principal.has(Role::Provider) => {
            return Err(ApiError::Input(InputError::CalendarProviderRequired));
        }
        None => {
            let target = Audit::new("appointment.list", "practice", "all-providers");
            return refused(state, caller, target, Err(ApiError::Forbidden)).await;
        }
    };
    let mut appointments = items
        .iter()
        .map(Appointment::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    appointments.retain(|a| from.is_none_or(|f| a.start >= f) && to.is_none_or(|t| a.start < t));
    appointments.sort_by_key(|a| (a.start, a.id.clone()));
    let audit = audit.about_all(appointments.iter().map(|a| &a.patient));
    audit_read(state, caller, audit).await?;
    let names = if named {
        names_of(state, appointments.iter().map(|a| &a.patient)).await?
    } else {
        HashMap::new()
    };
    let views: Vec<_> = appointments
        .iter()
        .map(|a| {
            let mut view = a.view(&practice.zone, None);
            if let Some(name) = names.get(&a.patient) {
                view["patientName"] = name.expose().as_str().into();
            }
            view
        })
        .collect();
    Ok(serde_json::json!({ "appointments": views }))
}

/// A calendar's range: both bounds, at most [`domain::schedule::MAX_RANGE_SECS`] apart.
fn required_range(q: &ListQuery) -> Result<(i64, i64), ApiError> {
    let (Some(from), Some(to)) = (&q.from, &q.to) else {
        return Err(ApiError::Input(InputError::RangeRequired));
    };
    query_range(from, to)
}

/// A provider's appointments starting in `[from, to]`, by start.
async fn calendar(
    state: &AppState,
    provider: &ProviderId,
    from: i64,
    to: i64,
) -> Result<Vec<Item>, ApiError> {
    let query = Query::gsi1(calendar_partition(provider))
        .sort(SortKey::Between(instant_key(from), instant_key(to)));
    Ok(query_all(&*state.table, &query).await?)
}
