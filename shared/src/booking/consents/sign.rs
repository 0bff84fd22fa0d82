//! A patient signs a document's current version, or withdraws a signature: the signature record
//! (the version's hash, the typed name sealed, the time), their standing with the document and an
//! audit entry naming the version's hash, in one transaction. Each is conditional on the standing
//! the request read, so two signatures racing write one (the other: `409 consent_already_signed`).

use serde::{Deserialize, Serialize};

use super::standing;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::consents::{ConsentDocument, PatientConsent, Signature};
use crate::store::keys::*;
use crate::store::{Condition, Consistency, TransactOp, attr};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::{Caller, Role};
use domain::consent::{ConsentError, DocumentId, SignatureKind, typed_name};
use domain::ids::{PatientId, SignatureId};
use domain::sensitive::Sensitive;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// The version read (its SHA-256): a signature of any other than the current one is refused.
    pub version_hash: String,
    /// The patient's full name as they write it.
    pub typed_name: Sensitive<String>,
    /// That they have read the document and agree.
    pub agree: bool,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WithdrawRequest {
    pub typed_name: Sensitive<String>,
    pub agree: bool,
}

/// What a signature keeps sealed: the typed name and the opening of the audit entry's commitment
/// to it.
fn sealed_name(name: &str, opening: &[u8; 16]) -> Vec<u8> {
    serde_json::json!({
        "name": name,
        "opening": opening.iter().map(|b| format!("{b:02x}")).collect::<String>(),
    })
    .to_string()
    .into_bytes()
}

/// Only a patient signs, for themself, agreeing, with a name: who, and the name checked.
fn signer(
    caller: &Caller,
    agree: bool,
    name: &Sensitive<String>,
) -> Result<(PatientId, String), ApiError> {
    if !caller.principal.has(Role::Patient) {
        return Err(ApiError::Forbidden);
    }
    if !agree {
        return Err(ConsentError::NotAgreed.into());
    }
    let name = typed_name(name.expose())?;
    Ok((PatientId::of(&caller.principal.subject), name))
}

#[allow(clippy::too_many_arguments)] // the parts of one signed act, each named
async fn record(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    patient: PatientId,
    document: &DocumentId,
    title: &str,
    version_hash: &str,
    kind: SignatureKind,
    name: &str,
    prior: Option<&PatientConsent>,
    also: Vec<TransactOp>,
) -> Result<Reply, ApiError> {
    let now = crate::common::lookup::now(state);
    let id = SignatureId::new();
    // The audit entry commits to the typed name; the copy carries the opening.
    let opening: [u8; 16] = rand::random();
    let key = consent_signature_key(&patient, &id);
    let signature = Signature {
        id: id.clone(),
        patient: patient.clone(),
        document: document.clone(),
        title: title.to_owned(),
        version_hash: version_hash.to_owned(),
        kind,
        at: now,
        typed_name: state
            .sealer
            .seal(&key, attr::TYPED_NAME, &sealed_name(name, &opening))
            .await?,
    };
    let standing = PatientConsent {
        patient: patient.clone(),
        document: document.clone(),
        kind,
        version_hash: version_hash.to_owned(),
        signature: id.clone(),
        at: now,
    };
    let taken = match kind {
        SignatureKind::Sign => ConsentError::AlreadySigned,
        SignatureKind::Withdraw => ConsentError::NotSigned,
    };
    let writes = vec![
        Write::new(TransactOp::Put {
            item: standing.to_item(),
            condition: Some(match prior {
                Some(p) => {
                    Condition::Equals(attr::SIGNATURE_ID.into(), p.signature.as_str().into())
                }
                None => Condition::ItemAbsent,
            }),
        })
        .or(taken),
        Write::new(TransactOp::Put {
            item: signature.to_item(),
            condition: Some(Condition::ItemAbsent),
        }),
        // The patient is registered (a token alone is not a record).
        Write::new(TransactOp::Check {
            key: patient_key(&patient),
            condition: Condition::ItemExists,
        })
        .or(ApiError::Forbidden),
    ];
    let mut writes = writes;
    writes.extend(also.into_iter().map(Write::new));
    let zone = crate::common::lookup::practice(state).await?.zone;
    let reply = Reply::created(&serde_json::json!({
        "signatureId": id,
        "documentId": document,
        "title": title,
        "versionHash": version_hash,
        "kind": kind.as_str(),
        "at": domain::instant::render_in(now, &zone),
        "typedName": name,
    }))?
    .with_patient_data();
    let action = match kind {
        SignatureKind::Sign => "consent.sign",
        SignatureKind::Withdraw => "consent.withdraw",
    };
    let audit = Audit::new(action, "consent", id.as_str())
        .about(&patient)
        .document(version_hash)
        .name_commitment(domain::commitment::commit_with(&opening, name));
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

#[tracing::instrument(skip_all)]
pub async fn sign(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    document: &DocumentId,
    req: SignRequest,
) -> Result<Reply, ApiError> {
    let (patient, name) = signer(caller, req.agree, &req.typed_name)?;
    let current = state
        .table
        .get(&consent_document_key(document), Consistency::Strong)
        .await?
        .map(|i| ConsentDocument::from_item(&i))
        .transpose()?
        .ok_or(ConsentError::UnknownDocument)?;
    if req.version_hash != current.version_hash {
        return Err(ConsentError::VersionChanged.into());
    }
    let prior = standing(state, &patient)
        .await?
        .into_iter()
        .find(|s| s.document == *document);
    if prior
        .as_ref()
        .is_some_and(|p| p.kind == SignatureKind::Sign && p.version_hash == current.version_hash)
    {
        return Err(ConsentError::AlreadySigned.into());
    }
    record(
        state,
        caller,
        idem,
        patient,
        document,
        &current.title,
        &current.version_hash,
        SignatureKind::Sign,
        &name,
        prior.as_ref(),
        Vec::new(),
    )
    .await
}

#[tracing::instrument(skip_all)]
pub async fn withdraw(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    document: &DocumentId,
    req: WithdrawRequest,
) -> Result<Reply, ApiError> {
    let (patient, name) = signer(caller, req.agree, &req.typed_name)?;
    let prior = standing(state, &patient)
        .await?
        .into_iter()
        .find(|s| s.document == *document && s.kind == SignatureKind::Sign)
        .ok_or(ConsentError::NotSigned)?;
    let signed = state
        .table
        .get(
            &consent_version_key(document, &prior.version_hash),
            Consistency::Strong,
        )
        .await?
        .map(|i| ConsentDocument::from_item(&i))
        .transpose()?
        .ok_or(ConsentError::UnknownDocument)?;
    // Withdrawing the card authorisation takes the card off file with it (the sweep detaches it):
    // no fee is charged to it from then on.
    let card = if crate::common::cards::is_authorisation(document) {
        let now = crate::common::lookup::now(state);
        crate::common::cards::withdrawal_ops(state, &patient, now).await?
    } else {
        Vec::new()
    };
    record(
        state,
        caller,
        idem,
        patient,
        document,
        &signed.title,
        &prior.version_hash,
        SignatureKind::Withdraw,
        &name,
        Some(&prior),
        card,
    )
    .await
}
