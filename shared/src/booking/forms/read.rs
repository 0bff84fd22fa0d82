//! Reading a patient's forms: her submissions with their scores and the trend of each scored form
//! (the patient, staff, admins, and a provider she has an appointment with; audited reads of her),
//! and one submission's answers.

use std::collections::BTreeMap;

use serde_json::Value;

use super::version;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::ProviderCodec;
use crate::store::codec::forms::StoredAnswers;
use crate::store::keys::*;
use crate::store::{AttrValue, Query, SortKey, attr, query_all};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::{Caller, Resource, Role};
use domain::booking::Provider;
use domain::ids::{PatientId, SubmissionId};

/// How far back a provider's visit with a patient lets them read her forms.
const TREATING_WINDOW_SECS: i64 = 365 * 86_400;

/// The patient herself, staff and admins; a provider only for a patient who has an appointment
/// with them that was not cancelled, upcoming or within the last year.
async fn authorize(state: &AppState, caller: &Caller, patient: &PatientId) -> Result<(), ApiError> {
    let as_patient_or_staff = caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(patient.subject()),
    );
    if as_patient_or_staff.is_ok() {
        return Ok(());
    }
    if !caller.principal.has(Role::Provider) {
        return Err(ApiError::Forbidden);
    }
    let providers = query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX)).await?;
    let mine: Vec<String> = providers
        .iter()
        .map(Provider::from_item)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|p| p.subject.as_ref() == Some(&caller.principal.subject))
        .map(|p| p.id.as_str().to_owned())
        .collect();
    let appointments = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith("APPT#".into()))
        .consistent();
    let hers = query_all(&*state.table, &appointments).await?;
    // A visit with this provider that was not cancelled, upcoming or within the last year.
    let since = crate::common::lookup::now(state) - TREATING_WINDOW_SECS;
    let treated = hers.iter().any(|a| {
        let with_me = a
            .get(attr::PROVIDER_ID)
            .and_then(AttrValue::as_s)
            .is_some_and(|p| mine.iter().any(|m| m == p));
        let kept = a.get(attr::STATUS).and_then(AttrValue::as_s) != Some("cancelled");
        let recent = a
            .get(attr::START)
            .and_then(AttrValue::as_n)
            .is_some_and(|t| t >= since);
        with_me && kept && recent
    });
    if treated {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

async fn opened(
    state: &AppState,
    item: &crate::store::Item,
) -> Result<(StoredAnswers, BTreeMap<String, Value>), ApiError> {
    let stored = StoredAnswers::from_item(item)?;
    let plain = state
        .sealer
        .open(&item.key, attr::ANSWERS, &stored.answers)
        .await?;
    let answers = serde_json::from_slice(&plain).map_err(anyhow::Error::new)?;
    Ok((stored, answers))
}

/// The patient's submissions (as stored, oldest first), once the caller may read them; a refusal
/// is audited as `target`'s.
async fn submissions_of(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
    target: &Audit,
) -> Result<Vec<crate::store::Item>, ApiError> {
    refused(
        state,
        caller,
        target.clone(),
        authorize(state, caller, patient).await,
    )
    .await?;
    stored(state, patient).await
}

/// The patient's submissions as stored, oldest first (the caller has authorized the read).
async fn stored(
    state: &AppState,
    patient: &PatientId,
) -> Result<Vec<crate::store::Item>, ApiError> {
    let query = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(PATIENT_SUBMISSION_PREFIX.into()))
        .consistent();
    Ok(query_all(&*state.table, &query).await?)
}

/// A score as the API shows it.
pub(super) fn score_view(score: Option<(i64, String)>) -> Value {
    score.map_or(
        Value::Null,
        |(total, band)| serde_json::json!({"total": total, "band": band}),
    )
}

/// `GET /v1/patients/{id}/forms`: every submission, newest first, each with its form's title and
/// score; and for each scored form, the scores oldest first (the trend).
#[tracing::instrument(skip_all)]
pub async fn of_patient(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
) -> Result<Value, ApiError> {
    let target = Audit::new("form.list", "patient", patient.as_str()).about(patient);
    let items = submissions_of(state, caller, patient, &target).await?;
    let mut submissions = Vec::new();
    let mut trends: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut definitions = BTreeMap::new();
    for item in &items {
        let (stored, answers) = opened(state, item).await?;
        let key = (stored.form.clone(), stored.version_hash.clone());
        if !definitions.contains_key(&key) {
            let form = version(state, &stored.form, &stored.version_hash)
                .await?
                .ok_or_else(|| crate::store::codec::corrupt("form version"))?;
            definitions.insert(key.clone(), form);
        }
        let form = &definitions[&key];
        let score = form.definition.score(&answers);
        let at = domain::instant::render_utc(stored.at);
        if let Some((total, band)) = &score {
            trends
                .entry(stored.form.as_str().to_owned())
                .or_default()
                .push(serde_json::json!({"submittedAt": at, "total": total, "band": band}));
        }
        submissions.push(serde_json::json!({
            "submissionId": stored.id,
            "formId": stored.form,
            "title": form.definition.title,
            "versionHash": stored.version_hash,
            "submittedAt": at,
            "score": score_view(score),
            "alerts": form.definition.alerts_of(&answers),
        }));
    }
    submissions.reverse();
    audit_read(state, caller, target).await?;
    Ok(serde_json::json!({
        "patientId": patient,
        "submissions": submissions,
        "trends": trends,
    }))
}

/// `GET /v1/patients/{id}/forms/{submissionId}`: one submission's answers, with the questions of
/// the version they were given on.
#[tracing::instrument(skip_all)]
pub async fn submission(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
    id: &SubmissionId,
) -> Result<Value, ApiError> {
    let target = Audit::new("form.read", "form_submission", id.as_str()).about(patient);
    let items = submissions_of(state, caller, patient, &target).await?;
    let found = items
        .iter()
        .find(|i| i.get(attr::ID).and_then(AttrValue::as_s) == Some(id.as_str()));
    let item = refused(
        state,
        caller,
        target.clone(),
        found.ok_or(ApiError::NotFound),
    )
    .await?;
    let (stored, answers) = opened(state, item).await?;
    let form = version(state, &stored.form, &stored.version_hash)
        .await?
        .ok_or_else(|| crate::store::codec::corrupt("form version"))?;
    let score = form.definition.score(&answers);
    audit_read(state, caller, target).await?;
    Ok(serde_json::json!({
        "submissionId": id,
        "formId": stored.form,
        "versionHash": stored.version_hash,
        "submittedAt": domain::instant::render_utc(stored.at),
        "definition": form.definition,
        "answers": answers,
        "score": score_view(score),
        "alerts": form.definition.alerts_of(&answers),
    }))
}

/// Every submission of the patient's, oldest first, with its form's title, score and each
/// question beside her answer (for her copy of her record). The caller has authorized the read
/// and audits it.
pub(crate) async fn answered(
    state: &AppState,
    patient: &PatientId,
) -> Result<Vec<Value>, ApiError> {
    let mut out = Vec::new();
    for item in &stored(state, patient).await? {
        let (stored, answers) = opened(state, item).await?;
        let form = version(state, &stored.form, &stored.version_hash)
            .await?
            .ok_or_else(|| crate::store::codec::corrupt("form version"))?;
        let questions: Vec<Value> = form
            .definition
            .questions()
            .map(|q| {
                serde_json::json!({
                    "question": q.text,
                    "answer": answers.get(&q.id).cloned().unwrap_or(Value::Null),
                })
            })
            .collect();
        out.push(serde_json::json!({
            "submissionId": stored.id,
            "formId": stored.form,
            "title": form.definition.title,
            "versionHash": stored.version_hash,
            "submittedAt": domain::instant::render_utc(stored.at),
            "score": score_view(form.definition.score(&answers)),
            "answers": questions,
        }));
    }
    Ok(out)
}
