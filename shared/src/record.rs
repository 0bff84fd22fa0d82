//! A patient's copy of her own record (HIPAA's right of access): her details, appointments,
//! balances with their charges and payments, forms with her answers, consents and signatures, the
//! messages the practice sent her, and who accessed her data (with the proofs her access log
//! carries). She asks for it herself; staff and admins produce it for a patient who asks in
//! person. One audited read (`record.export`), not one per part.
//!
//! The access log is shown to the patient and to admins only (as its own page is): a copy staff
//! produce says where it is instead.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::common::lookup;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::{AppointmentCodec, ProviderCodec, ServiceCodec};
use crate::store::keys::*;
use crate::store::{Query, SortKey, query_all};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::{Caller, Resource, Role};
use domain::booking::{Appointment, Provider, Service};
use domain::ids::PatientId;
use domain::instant::render_utc;

/// The most access-log entries a copy carries (newest first); the rest are on her access log's
/// pages. Each costs a few reads for its proof.
pub const MAX_ACCESS_ENTRIES: usize = 500;
/// The most messages a copy lists, among her latest access-index entries read.
const MAX_MESSAGES: usize = 500;
const MESSAGES_SCANNED: u32 = 2_000;

/// The copy's format name, for a reader that checks what it was given.
pub const FORMAT: &str = "practica.patient-record.v1";

/// `GET /v1/patients/{id}/record`: the patient's record as one JSON document.
#[tracing::instrument(skip_all)]
pub async fn export(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
) -> Result<Value, ApiError> {
    let target = Audit::new("record.export", "patient", patient.as_str()).about(patient);
    let allowed = caller
        .principal
        .authorize(
            &[Role::Patient, Role::Staff, Role::Admin],
            Resource::Patient(patient.subject()),
        )
        .map_err(ApiError::from);
    refused(state, caller, target.clone(), allowed).await?;
    let practice = lookup::practice(state).await?;
    let profile = match state
        .table
        .get(&patient_key(patient), crate::store::Consistency::Strong)
        .await?
    {
        Some(item) => Some(crate::common::patients::open(state, &item).await?),
        // A patient who has not given her details yet still has her record; staff ask about a
        // patient the practice knows.
        None if caller.principal.subject == *patient.subject() => None,
        None => return refused(state, caller, target, Err(ApiError::NotFound)).await,
    };
    let appointments = appointments(state, patient, &practice.zone).await?;
    let billing = crate::payments::charges::ledger_view(state, patient).await?;
    let forms = crate::booking::forms::read::answered(state, patient).await?;
    let consents = crate::booking::consents::read::standing_of(state, patient).await?;
    let messages =
        crate::booking::patient_messages::sent(state, patient, MAX_MESSAGES, MESSAGES_SCANNED)
            .await?;
    // Her own access log, as its page shows it to her and to admins.
    let shows_log = caller.principal.has(Role::Admin)
        || caller
            .principal
            .authorize(&[Role::Patient], Resource::Patient(patient.subject()))
            .is_ok();
    let access_log = if shows_log {
        let (checkpoint, entries, complete) =
            crate::audit::access::entries_of(state, patient, MAX_ACCESS_ENTRIES).await?;
        // Shaped as her access log's page, so `practica audit check-proof` checks this part as is.
        json!({ "patientId": patient, "checkpoint": checkpoint, "entries": entries, "complete": complete })
    } else {
        Value::Null
    };
    let record = json!({
        "format": FORMAT,
        "generatedAt": render_utc(lookup::now(state)),
        "practice": { "name": practice.name, "timeZone": practice.zone_name() },
        "patientId": patient,
        "profile": profile,
        "appointments": appointments,
        "billing": {
            "balances": billing["balances"],
            "charges": billing["charges"],
            "payments": billing["payments"],
        },
        "forms": forms,
        "consents": { "documents": consents["documents"], "signatures": consents["signatures"] },
        "messages": messages,
        "accessLog": access_log,
    });
    audit_read(state, caller, target).await?;
    Ok(record)
}

/// Her appointments, oldest first, each with its provider's and service's names.
async fn appointments(
    state: &AppState,
    patient: &PatientId,
    zone: &jiff::tz::TimeZone,
) -> Result<Vec<Value>, ApiError> {
    let own = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(PATIENT_APPOINTMENT_PREFIX.into()))
        .consistent();
    let mut list = query_all(&*state.table, &own)
        .await?
        .iter()
        .map(Appointment::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    list.sort_by_key(|a| (a.start, a.id.clone()));
    let providers: HashMap<String, String> =
        query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX))
            .await?
            .iter()
            .map(|i| Provider::from_item(i).map(|p| (p.id.as_str().to_owned(), p.name)))
            .collect::<Result<_, _>>()?;
    let services: HashMap<String, String> = query_all(&*state.table, &Query::gsi1(SERVICES_INDEX))
        .await?
        .iter()
        .map(|i| Service::from_item(i).map(|s| (s.id.as_str().to_owned(), s.name)))
        .collect::<Result<_, _>>()?;
    Ok(list
        .iter()
        .map(|a| {
            let mut v = a.view(zone, None);
            if let Some(name) = providers.get(a.provider.as_str()) {
                v["providerName"] = name.as_str().into();
            }
            if let Some(name) = services.get(a.service.as_str()) {
                v["serviceName"] = name.as_str().into();
            }
            v
        })
        .collect())
}
