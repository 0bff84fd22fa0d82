//! Forms: questionnaires a practice publishes (versioned by the SHA-256 of their definition, every
//! version kept), which patients fill in ([`fill`]: a draft saved, then submitted; a new submission
//! amends without replacing the old) and staff, admins and the patient's providers read with their
//! scores ([`read`]). Answers are patient data: sealed, bounded, checked against the version they
//! were given on (`422` naming the question, nothing stored). A service names the forms it asks
//! for before a patient's first visit and before every visit.

pub mod fill;
pub mod read;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::forms::StoredForm;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Query, TransactOp, query_all};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::{Caller, Role};
use domain::forms::{Form, FormId};
use domain::ids::PatientId;

/// A form's current version (cached like the practice's other settings).
pub async fn current(state: &AppState, id: &FormId) -> Result<Option<StoredForm>, ApiError> {
    match state.cache.get(&*state.table, &form_key(id)).await? {
        Some(item) => Ok(Some(StoredForm::from_item(&item)?)),
        None => Ok(None),
    }
}

/// A version of a form, current or not (what answers were given on).
pub async fn version(
    state: &AppState,
    id: &FormId,
    hash: &str,
) -> Result<Option<StoredForm>, ApiError> {
    match state
        .table
        .get(&form_version_key(id, hash), Consistency::Strong)
        .await?
    {
        Some(item) => Ok(Some(StoredForm::from_item(&item)?)),
        None => Ok(None),
    }
}

/// Every form's current version, by id.
pub async fn forms(state: &AppState) -> Result<Vec<StoredForm>, ApiError> {
    let items = query_all(&*state.table, &Query::gsi1(FORMS_INDEX)).await?;
    let mut out = items
        .iter()
        .map(StoredForm::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// A form as the API shows it.
pub fn view(f: &StoredForm) -> serde_json::Value {
    serde_json::json!({
        "formId": f.id,
        "versionHash": f.version_hash,
        "publishedAt": domain::instant::render_utc(f.published_at),
        "definition": f.definition,
    })
}

/// Publishes a definition as the form's current version (an admin): the same definition again
/// changes nothing (200); a new one is a new version (201), earlier ones kept for their answers.
#[tracing::instrument(skip_all)]
pub async fn put_form(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    id: &FormId,
    definition: Form,
) -> Result<Reply, ApiError> {
    if !caller.principal.has(Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    definition.check()?;
    let hash = definition.version_hash();
    let existing = state
        .table
        .get(&form_key(id), Consistency::Strong)
        .await?
        .map(|i| StoredForm::from_item(&i))
        .transpose()?;
    if let Some(e) = &existing
        && e.version_hash == hash
    {
        return Reply::ok(&view(e));
    }
    let form = StoredForm {
        id: id.clone(),
        definition,
        version_hash: hash.clone(),
        published_at: crate::common::lookup::now(state),
        version: existing.as_ref().map_or(1, |e| e.version + 1),
    };
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: form.current_item(),
            condition: Some(match &existing {
                Some(e) => Condition::version_is(e.version),
                None => Condition::ItemAbsent,
            }),
        })
        .or(domain::refusals::SetupError::ChangedMeanwhile),
    ];
    if version(state, id, &hash).await?.is_none() {
        writes.push(Write::new(TransactOp::Put {
            item: form.version_item(),
            condition: Some(Condition::ItemAbsent),
        }));
    }
    let reply = Reply::created(&view(&form))?;
    let audit = Audit::new("form.publish", "form", id.as_str()).document(&hash);
    let reply = commit(state, caller, idem, writes, audit, reply).await?;
    state.cache.invalidate(&form_key(id));
    Ok(reply)
}

/// The starter forms (an intake questionnaire, PHQ-9, GAD-7), published where the practice has
/// none of that id yet.
pub async fn publish_starters(state: &AppState, admin: &Caller) -> Result<(), ApiError> {
    for (id, form) in domain::forms::starter_forms() {
        let id = FormId::parse(id).ok_or_else(|| anyhow::anyhow!("starter form id {id}"))?;
        if current(state, &id).await?.is_none() {
            put_form(state, admin, None, &id, form).await?;
        }
    }
    Ok(())
}

/// A form id from a path, or 404.
pub fn form_id(s: &str) -> Result<FormId, ApiError> {
    FormId::parse(s).ok_or(ApiError::NotFound)
}

/// The forms her upcoming visits ask for that she has not filled in, as the API shows them.
pub async fn due(
    state: &AppState,
    patient: &PatientId,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let zone = crate::common::lookup::practice(state).await?.zone;
    Ok(crate::common::forms::forms_due(state, patient)
        .await?
        .into_iter()
        .map(|d| {
            serde_json::json!({
                "formId": d.form,
                "title": d.title,
                "appointmentId": d.appointment,
                "start": domain::instant::render_in(d.start, &zone),
            })
        })
        .collect())
}

/// `GET /v1/forms`: every form's current version; for a patient also the forms due before her
/// upcoming visits (an audited read of her record).
#[tracing::instrument(skip_all)]
pub async fn list(state: &AppState, caller: &Caller) -> Result<serde_json::Value, ApiError> {
    let all: Vec<_> = forms(state).await?.iter().map(view).collect();
    if !caller.principal.has(Role::Patient) {
        return Ok(serde_json::json!({ "forms": all }));
    }
    let patient = PatientId::of(&caller.principal.subject);
    let due = due(state, &patient).await?;
    crate::unit_of_work::audit_read(
        state,
        caller,
        Audit::new("form.list", "patient", patient.as_str()).about(&patient),
    )
    .await?;
    Ok(serde_json::json!({ "forms": all, "due": due }))
}
