//! A patient's card on file as several use cases read and change it: the payments routes and
//! webhooks, the sweep that charges fees to it, and the withdrawal of the card authorisation
//! (which takes the card off file with the withdrawal, in its transaction).

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::consents::ConsentDocument;
use crate::store::codec::payments::CardCodec;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Item, TransactOp, attr};
use domain::cards::CardOnFile;
use domain::consent::DocumentId;
use domain::ids::PatientId;

/// The consent document a patient signs before saving a card.
pub const AUTHORISATION_DOCUMENT: &str = "card";

/// The card authorisation's id.
pub fn authorisation_document() -> DocumentId {
    DocumentId::parse(AUTHORISATION_DOCUMENT).unwrap_or_else(|| unreachable!("a valid id"))
}

/// The card authorisation's current version (through the read cache), if the practice published it.
pub async fn authorisation(state: &AppState) -> Result<Option<ConsentDocument>, ApiError> {
    let key = consent_document_key(&authorisation_document());
    match state.cache.get(&*state.table, &key).await? {
        Some(item) => Ok(Some(ConsentDocument::from_item(&item)?)),
        None => Ok(None),
    }
}

/// Whether the patient's signature of the card authorisation stands (signed, not withdrawn).
pub async fn authorisation_stands(state: &AppState, patient: &PatientId) -> Result<bool, ApiError> {
    Ok(state
        .table
        .get(
            &patient_consent_key(patient, &authorisation_document()),
            Consistency::Strong,
        )
        .await?
        .is_some_and(|s| {
            s.get(attr::STATUS).and_then(crate::store::AttrValue::as_s)
                == Some(domain::consent::SignatureKind::Sign.as_str())
        }))
}

/// Whether `document` is the card authorisation.
pub fn is_authorisation(document: &DocumentId) -> bool {
    document.as_str() == AUTHORISATION_DOCUMENT
}

/// The patient's card record (on file, or the last one she kept), read strongly.
pub async fn record(state: &AppState, patient: &PatientId) -> Result<Option<CardOnFile>, ApiError> {
    match state
        .table
        .get(&card_key(patient), Consistency::Strong)
        .await?
    {
        Some(item) => Ok(Some(CardOnFile::from_item(&item)?)),
        None => Ok(None),
    }
}

/// The patient's card on file, read strongly.
pub async fn on_file(
    state: &AppState,
    patient: &PatientId,
) -> Result<Option<CardOnFile>, ApiError> {
    Ok(record(state, patient)
        .await?
        .filter(|c| c.removed_at.is_none()))
}

/// The write that takes `card` off file at `now`.
pub fn take_off_file(card: &CardOnFile, now: i64) -> TransactOp {
    let removed = CardOnFile {
        removed_at: Some(now),
        version: card.version + 1,
        ..card.clone()
    };
    TransactOp::Put {
        item: removed.to_item(),
        condition: Some(Condition::version_is(card.version)),
    }
}

/// The write that asks the sweep to detach a card at the processor.
pub fn detach_later(payment_method: &str, patient: &PatientId, now: i64) -> TransactOp {
    TransactOp::Put {
        item: Item::new(detach_task_key(payment_method))
            .with(attr::PATIENT_ID, patient.as_str())
            .with(attr::CREATED_AT, now),
        condition: None,
    }
}

/// The writes that take the patient's card off file because she withdrew the authorisation it
/// was saved under (none when she keeps no card): off file, detached by the sweep.
pub async fn withdrawal_ops(
    state: &AppState,
    patient: &PatientId,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    Ok(match on_file(state, patient).await? {
        Some(card) => vec![
            take_off_file(&card, now),
            detach_later(&card.payment_method, patient, now),
        ],
        None => Vec::new(),
    })
}
