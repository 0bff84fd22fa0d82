//! The feedback and complaints log: a patient sends feedback (category, optional rating, text sealed
//! like other patient data, optionally about one of their own appointments), staff list and resolve
//! it (the resolution note sealed too). Every write and read is audited; a patient may send at most
//! the practice's `feedbackPerPatientPerDay` in 24 hours (slots on the table, like the other
//! per-patient limits). The report counts categories and times only, never text.

use crate::store::codec::feedback::FeedbackCodec;
use serde::{Deserialize, Serialize};

use crate::auth::{Resource, Role};
use crate::common::lookup::{now, practice};
use crate::common::paging::{PageQuery, page_of, paged};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Query, SortKey, TransactOp};
use crate::unit_of_work::allowance::{allowance, commit_claiming};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, audit_read, commit};
use domain::access::Caller;
use domain::feedback::{Category, Feedback, Rating, Resolution, valid_text};
use domain::ids::{AppointmentId, FeedbackId, PatientId};
use domain::refusals::FeedbackError;
use domain::sensitive::Sensitive;

pub use domain::feedback::MAX_TEXT_CHARS;

const DAY: i64 = 24 * 3600;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedbackRequest {
    pub category: Category,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating: Option<i64>,
    pub text: Sensitive<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<AppointmentId>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolveRequest {
    pub note: Sensitive<String>,
}

async fn open(
    state: &AppState,
    f: &Feedback,
) -> Result<(Sensitive<String>, Option<Sensitive<String>>), ApiError> {
    let key = f.key();
    let text = state
        .sealer
        .open_str(&key, crate::store::attr::TEXT, &f.sealed_text)
        .await?;
    let note = match &f.resolution {
        Some(r) => Some(
            state
                .sealer
                .open_str(&key, crate::store::attr::RESOLUTION, &r.sealed_note)
                .await?,
        ),
        None => None,
    };
    Ok((text, note))
}

/// Writes of a feedback item: the record and the patient's copy, each with `condition`.
fn both(f: &Feedback, condition: impl Fn() -> Condition) -> [TransactOp; 2] {
    [false, true].map(|copy| TransactOp::Put {
        item: f.to_item(copy),
        condition: Some(condition()),
    })
}

/// A patient sends feedback or a complaint.
#[tracing::instrument(skip_all)]
pub async fn submit(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: FeedbackRequest,
) -> Result<Reply, ApiError> {
    caller
        .principal
        .authorize(&[Role::Patient], Resource::Shared)?;
    let patient = PatientId::of(&caller.principal.subject);
    if !valid_text(req.text.expose()) {
        return Err(FeedbackError::InvalidText.into());
    }
    let rating = match req.rating {
        None => None,
        Some(n) => Some(Rating::new(n).ok_or(FeedbackError::InvalidRating)?),
    };
    let practice = practice(state).await?;
    let now = now(state);
    let id = FeedbackId::new();
    let key = feedback_key(&id);
    let sealed_text = state
        .sealer
        .seal_str(&key, crate::store::attr::TEXT, req.text.expose())
        .await?;
    let feedback = Feedback {
        id,
        patient,
        category: req.category,
        rating,
        appointment: req.appointment_id,
        created_at: now,
        sealed_text,
        resolution: None,
        quota_slot: None,
    };
    let reply = Reply::created(&feedback.view(&req.text, None))?.with_patient_data();
    let build = |quota_slot| {
        let f = Feedback {
            quota_slot,
            ..feedback.clone()
        };
        let mut writes = Vec::new();
        // The appointment named must be one of the patient's own.
        if let Some(a) = &f.appointment {
            writes.push(
                Write::new(TransactOp::Check {
                    key: patient_appointment_key(&f.patient, a),
                    condition: Condition::ItemExists,
                })
                .or(FeedbackError::UnknownAppointment),
            );
        }
        writes.extend(both(&f, || Condition::ItemAbsent).map(Write::new));
        writes
    };
    let audit =
        Audit::new("feedback.create", "feedback", feedback.id.as_str()).about(&feedback.patient);
    let allowance = allowance(
        caller,
        &practice,
        &feedback.patient,
        crate::unit_of_work::allowance::Kind::Feedback,
        feedback.id.as_str(),
        now + DAY,
        now,
    );
    commit_claiming(state, caller, idem, allowance, build, audit, reply).await
}

/// Which feedback a staff list shows.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<u32>,
    /// Staff reading one patient's feedback (her page in the console).
    pub patient_id: Option<PatientId>,
}

/// Feedback, newest first: staff see everyone's, a patient their own. The texts are patient data:
/// the read is audited, naming every patient shown.
#[tracing::instrument(skip_all)]
pub async fn list(
    state: &AppState,
    caller: &Caller,
    q: &ListQuery,
) -> Result<serde_json::Value, ApiError> {
    let page_query = PageQuery {
        cursor: q.cursor.clone(),
        limit: q.limit,
    };
    let own = |patient: &PatientId| -> Result<Query, ApiError> {
        let mut query = page_of(patient_partition(patient), &page_query)?;
        query.sort = SortKey::BeginsWith(PATIENT_FEEDBACK_PREFIX.into());
        query.consistent = true;
        Ok(query)
    };
    let (query, entity_id) = if let Some(patient) = &q.patient_id {
        let target = Audit::new("feedback.list", "feedback", patient.as_str()).about(patient);
        let authorized = caller.authorize_staff().map_err(ApiError::from);
        crate::unit_of_work::refused(state, caller, target, authorized).await?;
        (own(patient)?, patient.as_str().to_owned())
    } else if caller.is_staff() {
        (
            paged(Query::gsi1(FEEDBACK_INDEX), &page_query)?,
            "all".to_owned(),
        )
    } else if caller.principal.has(Role::Patient) {
        let patient = PatientId::of(&caller.principal.subject);
        (own(&patient)?, patient.as_str().to_owned())
    } else {
        return Err(ApiError::Forbidden);
    };
    let page = state.table.query(&query).await?;
    let items = page
        .items
        .iter()
        .map(Feedback::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    let mut views = Vec::with_capacity(items.len());
    for f in &items {
        let (text, note) = open(state, f).await?;
        views.push(f.view(&text, note.as_ref()));
    }
    let audit = Audit::new("feedback.list", "feedback", entity_id)
        .about_all(q.patient_id.iter().chain(items.iter().map(|f| &f.patient)));
    audit_read(state, caller, audit).await?;
    Ok(serde_json::json!({
        "feedback": views,
        "next": page.next.map(|c| c.encode()),
    }))
}

/// Staff resolve feedback with a note (sealed). Resolving twice is refused: the first note stands.
#[tracing::instrument(skip_all)]
pub async fn resolve(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &FeedbackId,
    req: ResolveRequest,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    if !valid_text(req.note.expose()) {
        return Err(FeedbackError::InvalidNote.into());
    }
    let item = state
        .table
        .get(&feedback_key(id), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    let mut feedback = Feedback::from_item(&item)?;
    if feedback.resolution.is_some() {
        return Err(FeedbackError::AlreadyResolved.into());
    }
    let sealed_note = state
        .sealer
        .seal_str(
            &feedback.key(),
            crate::store::attr::RESOLUTION,
            req.note.expose(),
        )
        .await?;
    feedback.resolution = Some(Resolution {
        at: now(state),
        by: caller.principal.subject.clone(),
        sealed_note,
    });
    let (text, _) = open(state, &feedback).await?;
    let reply = Reply::ok(&feedback.view(&text, Some(&req.note)))?.with_patient_data();
    // Both copies must still be open: a racing resolution loses.
    let still_open = || Condition::AttrAbsent(crate::store::attr::RESOLVED_AT.into());
    let writes = both(&feedback, still_open)
        .map(|op| Write::new(op).or(FeedbackError::AlreadyResolved))
        .into();
    let audit = Audit::new("feedback.resolve", "feedback", id.as_str()).about(&feedback.patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}
