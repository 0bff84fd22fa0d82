//! Consent documents and patients' signatures. A practice publishes documents (the privacy notice,
//! consents to treatment and telehealth, the financial policy, a card authorisation); each version
//! is identified by the SHA-256 of its canonical text and kept for good. A patient signs the
//! current version by typing their full name and confirming ([`sign`]); the signature record, the
//! patient's standing with the document and an audit entry that names the version's hash go to
//! the table in one transaction, so the signed audit log proves when which text was signed.
//! Withdrawing is a signed act too. A service may require documents: booking, holds and series
//! then carry a condition on the patient's standing ([`required_checks`]), so the booking's one
//! transaction refuses with `409 consent_required` and writes nothing ([`read`] lists what to sign).

pub mod read;
pub mod sign;

use serde::{Deserialize, Serialize};

use crate::error::{ApiError, RequiredConsent};
use crate::state::AppState;
use crate::store::codec::consents::{ConsentDocument, PatientConsent};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Query, SortKey, TransactOp, attr, query_all,
};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::{Caller, Role};
use domain::booking::Service;
use domain::consent::{ConsentError, DocumentId, SignatureKind, checked, version_hash};
use domain::ids::PatientId;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentRequest {
    pub title: String,
    pub text: String,
}

/// The current version of a document (cached like the practice's other settings).
pub async fn current(
    state: &AppState,
    id: &DocumentId,
) -> Result<Option<ConsentDocument>, ApiError> {
    match state
        .cache
        .get(&*state.table, &consent_document_key(id))
        .await?
    {
        Some(item) => Ok(Some(ConsentDocument::from_item(&item)?)),
        None => Ok(None),
    }
}

/// Every document's current version, by id.
pub async fn documents(state: &AppState) -> Result<Vec<ConsentDocument>, ApiError> {
    let items = query_all(&*state.table, &Query::gsi1(CONSENT_DOCUMENTS_INDEX)).await?;
    let mut out = items
        .iter()
        .map(ConsentDocument::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// Publishes `text` as the document's current version (an admin). The same text again changes
/// nothing (200); a new text is a new version (201), the old ones kept for their signatures.
#[tracing::instrument(skip_all)]
pub async fn put_document(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    id: &DocumentId,
    req: DocumentRequest,
) -> Result<Reply, ApiError> {
    if !caller.principal.has(Role::Admin) {
        return Err(ApiError::Forbidden);
    }
    let (title, text) = checked(&req.title, &req.text)?;
    let hash = version_hash(&text);
    let now = crate::common::lookup::now(state);
    let existing = state
        .table
        .get(&consent_document_key(id), Consistency::Strong)
        .await?
        .map(|i| ConsentDocument::from_item(&i))
        .transpose()?;
    if let Some(e) = &existing
        && e.version_hash == hash
        && e.title == title
    {
        return Reply::ok(&view(e, true));
    }
    let document = ConsentDocument {
        id: id.clone(),
        title,
        text,
        version_hash: hash.clone(),
        published_at: now,
        version: existing.as_ref().map_or(1, |e| e.version + 1),
    };
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: document.current_item(),
            condition: Some(match &existing {
                Some(e) => Condition::version_is(e.version),
                None => Condition::ItemAbsent,
            }),
        })
        .or(domain::refusals::SetupError::ChangedMeanwhile),
    ];
    // A text published before (and perhaps signed) keeps its first record.
    let kept = state
        .table
        .get(&consent_version_key(id, &hash), Consistency::Strong)
        .await?
        .is_some();
    if !kept {
        writes.push(Write::new(TransactOp::Put {
            item: document.version_item(),
            condition: Some(Condition::ItemAbsent),
        }));
    }
    let reply = Reply::created(&view(&document, true))?;
    let audit =
        Audit::new("consent_document.publish", "consent_document", id.as_str()).document(&hash);
    let reply = commit(state, caller, idem, writes, audit, reply).await?;
    // This environment's next booking checks the new version (others' caches within 30 s).
    state.cache.invalidate(&consent_document_key(id));
    Ok(reply)
}

/// A document as the API shows it (its text only where asked).
pub fn view(d: &ConsentDocument, with_text: bool) -> serde_json::Value {
    let mut v = serde_json::json!({
        "documentId": d.id,
        "title": d.title,
        "versionHash": d.version_hash,
        "publishedAt": domain::instant::render_utc(d.published_at),
    });
    if with_text {
        v["text"] = d.text.clone().into();
    }
    v
}

/// The starter documents, published where the practice has none of that id yet (the demo
/// practice, and `practica seed`).
pub async fn publish_starters(state: &AppState, admin: &Caller) -> Result<(), ApiError> {
    for (id, title, text) in domain::consent::starter_documents() {
        let id = DocumentId::parse(id).ok_or_else(|| anyhow::anyhow!("starter id {id}"))?;
        if current(state, &id).await?.is_none() {
            let req = DocumentRequest {
                title: title.into(),
                text: text.into(),
            };
            put_document(state, admin, None, &id, req).await?;
        }
    }
    Ok(())
}

/// The conditions a booking of `service` for `patient` carries: the patient's standing with each
/// required document is "signed" its current version. They cost the booking no extra round trip.
pub struct Required(Vec<(TransactOp, RequiredConsent)>);

impl Required {
    /// The checks as writes of a transaction (each refusing with the document it names).
    pub fn writes(&self) -> Vec<Write> {
        self.0
            .iter()
            .map(|(check, missing)| {
                Write::new(check.clone()).or(ApiError::ConsentRequired(vec![missing.clone()]))
            })
            .collect()
    }
}

pub async fn required_checks(
    state: &AppState,
    service: &Service,
    patient: &PatientId,
) -> Result<Required, ApiError> {
    let mut checks = Vec::new();
    for id in &service.required_consents {
        // A required document is published when the service is made and never removed; if it is
        // missing anyway, nothing can be signed, so nothing is booked.
        let document = current(state, id)
            .await?
            .ok_or(ApiError::Consent(ConsentError::UnknownDocument))?;
        // The version read (perhaps from another instance's cache) is still the current one.
        let still_current = TransactOp::Check {
            key: consent_document_key(id),
            condition: Condition::Equals(
                attr::DOCUMENT_HASH.into(),
                AttrValue::S(document.version_hash.clone()),
            ),
        };
        let check = TransactOp::Check {
            key: patient_consent_key(patient, id),
            condition: Condition::And(vec![
                Condition::Equals(attr::STATUS.into(), SignatureKind::Sign.as_str().into()),
                Condition::Equals(
                    attr::DOCUMENT_HASH.into(),
                    AttrValue::S(document.version_hash.clone()),
                ),
            ]),
        };
        let missing = RequiredConsent {
            document_id: document.id.clone(),
            title: document.title.clone(),
            version_hash: document.version_hash.clone(),
        };
        checks.push((still_current, missing.clone()));
        checks.push((check, missing));
    }
    Ok(Required(checks))
}

/// The required documents whose current version the patient has not signed (read strongly).
pub async fn missing(
    state: &AppState,
    service: &Service,
    patient: &PatientId,
) -> Result<Vec<RequiredConsent>, ApiError> {
    let standing = standing(state, patient).await?;
    let mut out = Vec::new();
    for id in &service.required_consents {
        let Some(document) = current(state, id).await? else {
            continue;
        };
        let signed = standing.iter().any(|s| {
            s.document == *id
                && s.kind == SignatureKind::Sign
                && s.version_hash == document.version_hash
        });
        if !signed {
            out.push(RequiredConsent {
                document_id: document.id,
                title: document.title,
                version_hash: document.version_hash,
            });
        }
    }
    Ok(out)
}

/// A refusal for missing consents listed in full (the transaction names the first it met).
pub async fn listed_in_full(
    state: &AppState,
    service: &Service,
    patient: &PatientId,
    result: Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    match result {
        Err(ApiError::ConsentRequired(first)) => {
            // A version published meanwhile: read the documents afresh.
            for id in &service.required_consents {
                state.cache.invalidate(&consent_document_key(id));
            }
            let all = missing(state, service, patient).await?;
            Err(ApiError::ConsentRequired(if all.is_empty() {
                first
            } else {
                all
            }))
        }
        other => other,
    }
}

/// The patient's standing with every document they ever signed.
pub async fn standing(
    state: &AppState,
    patient: &PatientId,
) -> Result<Vec<PatientConsent>, ApiError> {
    let query = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(PATIENT_CONSENT_PREFIX.into()))
        .consistent();
    Ok(query_all(&*state.table, &query)
        .await?
        .iter()
        .map(PatientConsent::from_item)
        .collect::<Result<Vec<_>, _>>()?)
}

/// A document id from a path, or 404.
pub fn document_id(s: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(s).ok_or(ApiError::Consent(ConsentError::UnknownDocument))
}
