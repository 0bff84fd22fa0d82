//! A patient fills in a form: a draft (saved as often as she likes, checked as far as it goes,
//! sealed), then a submission (complete, checked against the version she filled in, sealed, the
//! draft removed in the same transaction). A later submission amends: the earlier ones stay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::current;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::forms::StoredAnswers;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, TransactOp, attr};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::{Caller, Role};
use domain::forms::{FormError, FormId};
use domain::ids::{PatientId, SubmissionId};
use domain::sensitive::Sensitive;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnswersRequest {
    /// The version filled in (its SHA-256): answers to any other than the current one are refused.
    pub version_hash: String,
    /// `{questionId: answer}`: text, true/false, a number, a date (`YYYY-MM-DD`), an option, or a
    /// list of options.
    pub answers: Sensitive<BTreeMap<String, Value>>,
}

fn filler(caller: &Caller) -> Result<PatientId, ApiError> {
    if !caller.principal.has(Role::Patient) {
        return Err(ApiError::Forbidden);
    }
    Ok(PatientId::of(&caller.principal.subject))
}

/// The current version, and the answers checked against it (complete for a submission).
async fn checked(
    state: &AppState,
    id: &FormId,
    req: &AnswersRequest,
    complete: bool,
) -> Result<crate::store::codec::forms::StoredForm, ApiError> {
    let form = current(state, id).await?.ok_or(ApiError::NotFound)?;
    if req.version_hash != form.version_hash {
        return Err(FormError::VersionChanged.into());
    }
    form.definition
        .check_answers(req.answers.expose(), complete)?;
    Ok(form)
}

async fn sealed(
    state: &AppState,
    stored: &mut StoredAnswers,
    answers: &BTreeMap<String, Value>,
) -> Result<(), ApiError> {
    let json = serde_json::to_vec(answers).map_err(anyhow::Error::new)?;
    stored.answers = state
        .sealer
        .seal(&stored.key(), attr::ANSWERS, &json)
        .await?;
    Ok(())
}

/// `PUT /v1/forms/{id}/draft`: saves the patient's draft (replacing the last one).
#[tracing::instrument(skip_all)]
pub async fn save_draft(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    id: &FormId,
    req: AnswersRequest,
) -> Result<Reply, ApiError> {
    let patient = filler(caller)?;
    let form = checked(state, id, &req, false).await?;
    let now = crate::common::lookup::now(state);
    let mut draft = StoredAnswers {
        patient: patient.clone(),
        form: id.clone(),
        version_hash: form.version_hash.clone(),
        at: now,
        id: None,
        answers: Vec::new(),
    };
    sealed(state, &mut draft, req.answers.expose()).await?;
    let writes = vec![
        Write::new(TransactOp::Put {
            item: draft.to_item(),
            condition: None,
        }),
        // The patient is registered (a token alone is not a record).
        Write::new(TransactOp::Check {
            key: patient_key(&patient),
            condition: Condition::ItemExists,
        })
        .or(ApiError::Forbidden),
    ];
    let reply = Reply::ok(&serde_json::json!({
        "formId": id,
        "versionHash": form.version_hash,
        "savedAt": domain::instant::render_utc(now),
        "answers": req.answers,
    }))?
    .with_patient_data();
    let audit = Audit::new("form.draft", "form", id.as_str()).about(&patient);
    Ok(commit(state, caller, idem, writes, audit, reply).await?)
}

/// `POST /v1/forms/{id}/submissions`: submits complete answers; the draft goes in the same write.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &FormId,
    req: AnswersRequest,
) -> Result<Reply, ApiError> {
    let patient = filler(caller)?;
    let form = checked(state, id, &req, true).await?;
    let now = crate::common::lookup::now(state);
    let submission = SubmissionId::new();
    let mut stored = StoredAnswers {
        patient: patient.clone(),
        form: id.clone(),
        version_hash: form.version_hash.clone(),
        at: now,
        id: Some(submission.clone()),
        answers: Vec::new(),
    };
    sealed(state, &mut stored, req.answers.expose()).await?;
    let writes = vec![
        Write::new(TransactOp::Put {
            item: stored.to_item(),
            condition: Some(Condition::ItemAbsent),
        }),
        Write::new(TransactOp::Delete {
            key: form_draft_key(&patient, id),
            condition: None,
        }),
        Write::new(TransactOp::Check {
            key: patient_key(&patient),
            condition: Condition::ItemExists,
        })
        .or(ApiError::Forbidden),
    ];
    let score = form.definition.score(req.answers.expose());
    let reply = Reply::created(&serde_json::json!({
        "submissionId": submission,
        "formId": id,
        "title": form.definition.title,
        "versionHash": form.version_hash,
        "submittedAt": domain::instant::render_utc(now),
        "score": super::read::score_view(score),
        "alerts": form.definition.alerts_of(req.answers.expose()),
    }))?
    .with_patient_data();
    let audit = Audit::new("form.submit", "form_submission", submission.as_str())
        .about(&patient)
        .document(&form.version_hash);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// `GET /v1/forms/{id}/draft`: the patient's draft, if she saved one (an audited read).
#[tracing::instrument(skip_all)]
pub async fn draft(
    state: &AppState,
    caller: &Caller,
    id: &FormId,
) -> Result<serde_json::Value, ApiError> {
    let patient = filler(caller)?;
    let key = form_draft_key(&patient, id);
    let Some(item) = state.table.get(&key, Consistency::Strong).await? else {
        return Ok(serde_json::json!({ "formId": id, "draft": null }));
    };
    let stored = StoredAnswers::from_item(&item)?;
    let plain = state
        .sealer
        .open(&key, attr::ANSWERS, &stored.answers)
        .await?;
    let answers: Value = serde_json::from_slice(&plain).map_err(anyhow::Error::new)?;
    crate::unit_of_work::audit_read(
        state,
        caller,
        Audit::new("form.read", "form", id.as_str()).about(&patient),
    )
    .await?;
    Ok(serde_json::json!({
        "formId": id,
        "draft": {
            "versionHash": stored.version_hash,
            "savedAt": domain::instant::render_utc(stored.at),
            "answers": answers,
        },
    }))
}
