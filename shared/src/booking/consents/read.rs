//! Reading consents: the documents with where the patient stands with each, a patient's
//! signatures (the patient, staff, admins; audited reads of the patient), and one signature's
//! copy: the text signed, its hash, the typed name, the time (the signed log's proof of it is
//! added by the audit module's reader).

use super::{documents, standing, view};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::consents::{ConsentDocument, PatientConsent, Signature};
use crate::store::keys::*;
use crate::store::{Consistency, Query, SortKey, attr, query_all};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::{Caller, Resource, Role};
use domain::consent::SignatureKind;
use domain::ids::{PatientId, SignatureId};

fn status(standing: Option<&PatientConsent>, current: &ConsentDocument) -> serde_json::Value {
    match standing {
        None => serde_json::json!({ "status": "not_signed" }),
        Some(s) => serde_json::json!({
            "status": match s.kind {
                SignatureKind::Sign if s.version_hash == current.version_hash => "signed",
                SignatureKind::Sign => "signed_earlier_version",
                SignatureKind::Withdraw => "withdrawn",
            },
            "signatureId": s.signature,
            "versionHash": s.version_hash,
            "at": domain::instant::render_utc(s.at),
        }),
    }
}

fn authorize(caller: &Caller, patient: &PatientId) -> Result<(), ApiError> {
    caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(patient.subject()),
    )?;
    Ok(())
}

/// `GET /v1/consents`: every document's current version with its text; for a patient, where they
/// stand with each (an audited read of their own record).
#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, caller: &Caller) -> Result<serde_json::Value, ApiError> {
    let docs = documents(state).await?;
    if !caller.principal.has(Role::Patient) {
        let out: Vec<_> = docs.iter().map(|d| view(d, true)).collect();
        return Ok(serde_json::json!({ "documents": out }));
    }
    let patient = PatientId::of(&caller.principal.subject);
    let standing = standing(state, &patient).await?;
    let out: Vec<_> = docs
        .iter()
        .map(|d| {
            let mut v = view(d, true);
            v["mine"] = status(standing.iter().find(|s| s.document == d.id), d);
            v
        })
        .collect();
    audit_read(
        state,
        caller,
        Audit::new("consent.list", "patient", patient.as_str()).about(&patient),
    )
    .await?;
    Ok(serde_json::json!({ "documents": out }))
}

/// `GET /v1/patients/{id}/consents`: where the patient stands with each document, and every
/// signature and withdrawal, newest first (no typed names: those are in each copy).
#[tracing::instrument(skip_all)]
pub async fn of_patient(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
) -> Result<serde_json::Value, ApiError> {
    let target = Audit::new("consent.list", "patient", patient.as_str()).about(patient);
    refused(state, caller, target.clone(), authorize(caller, patient)).await?;
    let view = standing_of(state, patient).await?;
    audit_read(state, caller, target).await?;
    Ok(view)
}

/// Where `patient` stands with each document, and her signatures and withdrawals, newest first
/// (the caller has authorized the read and audits it).
pub(crate) async fn standing_of(
    state: &AppState,
    patient: &PatientId,
) -> Result<serde_json::Value, ApiError> {
    let docs = documents(state).await?;
    let standing = standing(state, patient).await?;
    let query = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(PATIENT_SIGNATURE_PREFIX.into()))
        .consistent();
    let mut signatures = query_all(&*state.table, &query)
        .await?
        .iter()
        .map(Signature::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    signatures.sort_by(|a, b| (b.at, b.id.as_str()).cmp(&(a.at, a.id.as_str())));
    let zone = crate::common::lookup::practice(state).await?.zone;
    Ok(serde_json::json!({
        "patientId": patient,
        "documents": docs.iter().map(|d| {
            let mut v = view(d, false);
            v["standing"] = status(standing.iter().find(|s| s.document == d.id), d);
            v
        }).collect::<Vec<_>>(),
        "signatures": signatures.iter().map(|s| serde_json::json!({
            "signatureId": s.id,
            "documentId": s.document,
            "title": s.title,
            "versionHash": s.version_hash,
            "kind": s.kind.as_str(),
            "at": domain::instant::render_in(s.at, &zone),
        })).collect::<Vec<_>>(),
    }))
}

/// One signature as signed, for its copy.
pub struct SignedCopy {
    pub signature: Signature,
    pub text: String,
    pub typed_name: String,
    /// Hex of the opening of the audit entry's commitment to the typed name.
    pub name_opening: String,
    pub zone: jiff::tz::TimeZone,
    pub practice: String,
}

/// `GET /v1/patients/{id}/consents/{signatureId}`: the signature, the text of the version it
/// names, the typed name (an audited read of the patient).
#[tracing::instrument(skip_all)]
pub async fn copy(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
    id: &SignatureId,
) -> Result<SignedCopy, ApiError> {
    let target = Audit::new("consent.read", "consent", id.as_str()).about(patient);
    let found = async {
        authorize(caller, patient)?;
        state
            .table
            .get(&consent_signature_key(patient, id), Consistency::Strong)
            .await?
            .ok_or(ApiError::NotFound)
    };
    let item = refused(state, caller, target.clone(), found.await).await?;
    let signature = Signature::from_item(&item)?;
    let version = state
        .table
        .get(
            &consent_version_key(&signature.document, &signature.version_hash),
            Consistency::Strong,
        )
        .await?
        .ok_or_else(|| crate::store::codec::corrupt("consent version"))?;
    let document = ConsentDocument::from_item(&version)?;
    let sealed = state
        .sealer
        .open(&item.key, attr::TYPED_NAME, &signature.typed_name)
        .await?;
    let typed: serde_json::Value = serde_json::from_slice(&sealed)
        .map_err(|_| crate::store::codec::corrupt(attr::TYPED_NAME))?;
    let practice = crate::common::lookup::practice(state).await?;
    audit_read(state, caller, target).await?;
    Ok(SignedCopy {
        signature,
        text: document.text,
        typed_name: typed["name"].as_str().unwrap_or_default().to_owned(),
        name_opening: typed["opening"].as_str().unwrap_or_default().to_owned(),
        zone: practice.zone.clone(),
        practice: practice.name.clone(),
    })
}
