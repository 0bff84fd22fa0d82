//! A card on file: saved by the patient under the card authorisation she signed, used by the sweep
//! to charge the fees the cancellation policy sets ([`super::collect`]), removed by her or by staff.
//!
//! Saving: `POST /v1/cards/setup` checks that the patient signed the current card authorisation
//! (`409 consent_required` naming it otherwise), makes sure she has a customer at the processor
//! (one per patient, carrying nothing about her) and creates a setup intent for off-session use;
//! the portal confirms it in the processor's own card form. The card is on file only when the
//! processor's signed webhook says so (`setup_intent.succeeded`); `payment_method.attached` says
//! what the card is (brand and last four). A newer card replaces the one on file, which is then
//! detached at the processor by the sweep. A card detached at the processor (from its dashboard)
//! leaves the file. Every change is audited; no card data is ever stored.

use serde::{Deserialize, Serialize};

use super::processor::{PaymentProcessor, ProcessorKey, SetupRequest, processor_id_ok};
use super::webhook_events::{Outcome, RECEIPT_TTL_SECS};
use crate::common::access::{acting_for, own_record};
use crate::common::cards::{
    self, AUTHORISATION_DOCUMENT, detach_later, on_file, record, take_off_file,
};
use crate::error::{ApiError, RequiredConsent};
use crate::state::AppState;
use crate::store::codec::parsed;
use crate::store::codec::payments::{CardCodec, card_described};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Item, TTL_ATTR, TableError, TransactOp, attr,
};
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::cards::CardOnFile;
use domain::consent::SignatureKind;
use domain::ids::PatientId;
use domain::progress::{CardUsed, Event};
use domain::refusals::PaymentError;

/// Attempts at applying one card event when another changes the card meanwhile.
const APPLY_ATTEMPTS: usize = 8;

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SetupBody {}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RemoveBody {
    /// Staff name the patient; a patient removes her own card.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// The card to remove (`pm_...`): a card saved meanwhile is not removed by mistake.
    pub payment_method_id: String,
}

/// What the processor said a saved card is (none until it said).
async fn described(state: &AppState, payment_method: &str) -> Result<Option<CardUsed>, ApiError> {
    Ok(state
        .table
        .get(&payment_method_key(payment_method), Consistency::Strong)
        .await?
        .as_ref()
        .and_then(card_described))
}

/// `GET /v1/cards`: the patient's card on file (`card: null` when none), and whether she signed
/// the current card authorisation. Her own, or staff for a patient they name.
pub async fn view(
    state: &AppState,
    caller: &Caller,
    requested: Option<PatientId>,
) -> Result<serde_json::Value, ApiError> {
    let patient = acting_for(caller, requested)?;
    let card = on_file(state, &patient).await?;
    let shown = match &card {
        Some(c) => Some(c.view(described(state, &c.payment_method).await?)),
        None => None,
    };
    let authorisation = cards::authorisation(state).await?;
    let signed = match &authorisation {
        Some(doc) => state
            .table
            .get(&patient_consent_key(&patient, &doc.id), Consistency::Strong)
            .await?
            .is_some_and(|item| {
                item.get(attr::STATUS).and_then(AttrValue::as_s)
                    == Some(SignatureKind::Sign.as_str())
                    && item.get(attr::DOCUMENT_HASH).and_then(AttrValue::as_s)
                        == Some(doc.version_hash.as_str())
            }),
        None => false,
    };
    Ok(serde_json::json!({
        "card": shown,
        "authorisation": {
            "documentId": AUTHORISATION_DOCUMENT,
            "published": authorisation.is_some(),
            "signed": signed,
            "versionHash": authorisation.map(|d| d.version_hash),
        },
    }))
}

/// The processor customer of `patient`, created (once: the key is the patient's) when she has none.
async fn customer_of(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    patient: &PatientId,
) -> Result<String, ApiError> {
    let key = customer_key(patient);
    if let Some(item) = state.table.get(&key, Consistency::Strong).await? {
        return Ok(crate::store::codec::s(&item, attr::CUSTOMER)?.to_owned());
    }
    // Keyed (blind index), so the processor cannot link its key to our patient id.
    let blind = state.blind_index().await?;
    let digest = blind.compute("processor-customer", patient.as_str());
    let customer = processor
        .create_customer(&ProcessorKey::new(format!("practica-customer-{digest}")))
        .await?;
    if !processor_id_ok(&customer) {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "processor customer id"
        )));
    }
    let ops = vec![
        TransactOp::Put {
            item: Item::new(key.clone())
                .with(attr::KIND, "customer")
                .with(attr::PATIENT_ID, patient.as_str())
                .with(attr::CUSTOMER, customer.clone()),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: Item::new(customer_pointer_key(&customer))
                .with(attr::PATIENT_ID, patient.as_str()),
            condition: None,
        },
    ];
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(customer),
        // Another device made it first (the processor gave both the same customer, by its key).
        Err(TableError::TransactionConditionFailed { .. }) => {
            let item = state
                .table
                .get(&key, Consistency::Strong)
                .await?
                .ok_or_else(|| anyhow::anyhow!("customer record vanished"))?;
            Ok(crate::store::codec::s(&item, attr::CUSTOMER)?.to_owned())
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /v1/cards/setup`: a setup intent for the patient's card form, once she signed the
/// current card authorisation (the setup names its version; the card saved under it does too).
#[tracing::instrument(skip_all)]
pub async fn setup(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    _: SetupBody,
) -> Result<Reply, ApiError> {
    // Her card, in her own hands: staff never take card details.
    let patient = own_record(caller)?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let document = cards::authorisation(state).await?.ok_or(ApiError::Consent(
        domain::consent::ConsentError::UnknownDocument,
    ))?;
    let required = RequiredConsent {
        document_id: document.id.clone(),
        title: document.title.clone(),
        version_hash: document.version_hash.clone(),
    };
    let signed = Condition::And(vec![
        Condition::Equals(attr::STATUS.into(), SignatureKind::Sign.as_str().into()),
        Condition::Equals(
            attr::DOCUMENT_HASH.into(),
            AttrValue::S(document.version_hash.clone()),
        ),
    ]);
    let standing = state
        .table
        .get(
            &patient_consent_key(&patient, &document.id),
            Consistency::Strong,
        )
        .await?;
    if !signed.holds(standing.as_ref()) {
        return Err(ApiError::ConsentRequired(vec![required]));
    }
    let customer = customer_of(state, processor, &patient).await?;
    let blind = state.blind_index().await?;
    let digest = blind.compute(
        "processor-setup",
        &format!(
            "{}\n{}",
            caller.principal.subject,
            idem.client_key().as_str()
        ),
    );
    let intent = processor
        .create_setup_intent(&SetupRequest {
            customer,
            idempotency_key: ProcessorKey::new(format!("practica-setup-{digest}")),
        })
        .await?;
    if !processor_id_ok(&intent.id) {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "processor setup intent id"
        )));
    }
    let now = state.clock.now().as_second();
    let writes = vec![
        // Still signed, and still the current version, when the setup is recorded.
        Write::new(TransactOp::Check {
            key: patient_consent_key(&patient, &document.id),
            condition: signed,
        })
        .or(ApiError::ConsentRequired(vec![required.clone()])),
        Write::new(TransactOp::Check {
            key: consent_document_key(&document.id),
            condition: Condition::Equals(
                attr::DOCUMENT_HASH.into(),
                AttrValue::S(document.version_hash.clone()),
            ),
        })
        .or(ApiError::ConsentRequired(vec![required])),
        Write::new(TransactOp::Put {
            item: Item::new(setup_key(&intent.id))
                .with(attr::PATIENT_ID, patient.as_str())
                .with(attr::DOCUMENT_HASH, document.version_hash.clone())
                .with(attr::CREATED_AT, now),
            condition: None,
        }),
    ];
    let body = serde_json::json!({
        "setupIntentId": intent.id,
        "clientSecret": intent.client_secret.expose(),
        "authorisationVersion": document.version_hash,
    });
    let reply = Reply::created(&body)?.with_patient_data();
    let audit = Audit::new("card.setup", "card", intent.id.as_str())
        .about(&patient)
        .document(&document.version_hash);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// `POST /v1/cards/remove`: detaches the named card at the processor (so it can never be charged
/// again), then takes it off file. Her own, or staff for a patient they name.
#[tracing::instrument(skip_all)]
pub async fn remove(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    req: RemoveBody,
) -> Result<Reply, ApiError> {
    let patient = acting_for(caller, req.patient_id.clone())?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let card = on_file(state, &patient)
        .await?
        .ok_or(ApiError::Payment(PaymentError::NoCardOnFile))?;
    if card.payment_method != req.payment_method_id {
        return Err(ApiError::Payment(PaymentError::CardChanged));
    }
    processor
        .detach_payment_method(&card.payment_method)
        .await?;
    let writes = vec![
        Write::new(take_off_file(&card, state.clock.now().as_second()))
            .or(ApiError::Payment(PaymentError::CardChanged)),
        Write::new(TransactOp::Update {
            key: payment_method_key(&card.payment_method),
            update: crate::store::Update::default().set(attr::DETACHED, true),
            condition: None,
        }),
    ];
    let reply = Reply::ok(&serde_json::json!({"card": null}))?;
    let audit = Audit::new("card.remove", "card", card.payment_method.as_str()).about(&patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// The receipt that makes an event land once.
fn receipt(state: &AppState, source: &str, event_id: &str) -> Item {
    let now = state.clock.now().as_second();
    Item::new(receipt_key(source, event_id))
        .with(attr::RECEIVED_AT, now)
        .with(TTL_ATTR, now + RECEIPT_TTL_SECS)
}

/// Writes `ops` behind the event's receipt: `Duplicate` when the receipt was there, `None` when
/// something else changed meanwhile (read again and retry).
async fn land(
    state: &AppState,
    receipt: Item,
    mut ops: Vec<TransactOp>,
    changed: Outcome,
) -> Result<Option<Outcome>, ApiError> {
    let quiet = ops.is_empty();
    ops.insert(
        0,
        TransactOp::Put {
            item: receipt,
            condition: Some(Condition::ItemAbsent),
        },
    );
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(Some(if quiet { Outcome::Unchanged } else { changed })),
        Err(TableError::TransactionConditionFailed { failed }) if failed.contains(&0) => {
            Ok(Some(Outcome::Duplicate))
        }
        Err(TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict) => {
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// Applies one verified card event (see the module's documentation).
#[tracing::instrument(skip_all, fields(source))]
pub async fn apply_card_event(
    state: &AppState,
    source: &'static str,
    event_id: &str,
    event: Event,
    request_id: &str,
) -> Result<Outcome, ApiError> {
    // Cards are saved and detached only at the processor whose key the practice holds (Stripe):
    // a Standard Webhooks sender cannot change what is on file.
    if source != "stripe" {
        return Ok(Outcome::Ignored);
    }
    let actor = Actor::System {
        name: source,
        request_id,
    };
    let ids_ok = match &event {
        Event::CardSaved {
            setup_intent,
            customer,
            payment_method,
        } => [setup_intent, customer, payment_method]
            .iter()
            .all(|i| processor_id_ok(i)),
        Event::CardAttached {
            payment_method,
            customer,
            ..
        } => processor_id_ok(payment_method) && processor_id_ok(customer),
        Event::CardDetached { payment_method } => processor_id_ok(payment_method),
        _ => return Ok(Outcome::Ignored),
    };
    if !ids_ok {
        return Err(ApiError::Input(crate::error::InputError::InvalidEvent));
    }
    for _ in 0..APPLY_ATTEMPTS {
        let receipt = receipt(state, source, event_id);
        let landed = match &event {
            Event::CardSaved {
                setup_intent,
                customer,
                payment_method,
            } => {
                saved(
                    state,
                    actor,
                    receipt,
                    setup_intent,
                    customer,
                    payment_method,
                )
                .await?
            }
            Event::CardAttached {
                payment_method,
                customer,
                card,
            } => attached(state, receipt, payment_method, customer, *card).await?,
            Event::CardDetached { payment_method } => {
                detached(state, actor, receipt, payment_method).await?
            }
            _ => Some(Outcome::Ignored),
        };
        if let Some(outcome) = landed {
            return Ok(outcome);
        }
    }
    Err(ApiError::Unavailable {
        code: "storage_busy",
        source: anyhow::anyhow!("the card kept changing under concurrent events"),
    })
}

/// `setup_intent.succeeded`: the card goes on file, replacing (and, by the sweep, detaching) the
/// one there. A card already detached (removed before this event arrived) stays off file.
async fn saved(
    state: &AppState,
    actor: Actor<'_>,
    receipt: Item,
    setup_intent: &str,
    customer: &str,
    payment_method: &str,
) -> Result<Option<Outcome>, ApiError> {
    // Retried by the processor until the setup's record is there (it is written when the
    // setup intent is created, before the patient can confirm it).
    let setup = state
        .table
        .get(&setup_key(setup_intent), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    let patient = parsed(&setup, attr::PATIENT_ID, PatientId::parse)?;
    let authorisation = crate::store::codec::s(&setup, attr::DOCUMENT_HASH)?.to_owned();
    let setup_created_at = crate::store::codec::n(&setup, attr::CREATED_AT)?;
    let now = state.clock.now().as_second();
    let pointer = state
        .table
        .get(&payment_method_key(payment_method), Consistency::Strong)
        .await?;
    if pointer
        .as_ref()
        .is_some_and(|p| p.get(attr::DETACHED).is_some())
    {
        return land(state, receipt, Vec::new(), Outcome::Unchanged).await;
    }
    // A card saved after she withdrew the authorisation (its setup confirmed meanwhile) is never
    // filed: it is detached.
    if !cards::authorisation_stands(state, &patient).await? {
        let ops = vec![detach_later(payment_method, &patient, now)];
        return land(state, receipt, ops, Outcome::Unchanged).await;
    }
    let last = record(state, &patient).await?;
    if last
        .as_ref()
        .is_some_and(|c| c.payment_method == payment_method)
    {
        // On file already, or taken off it (never brought back by a late event).
        return land(state, receipt, Vec::new(), Outcome::Unchanged).await;
    }
    if last
        .as_ref()
        .is_some_and(|c| c.setup_created_at > setup_created_at)
    {
        // A setup begun before the card on file (or the last removed) was, arriving late (the
        // processor does not keep its events in order): it never replaces the newer card, and
        // the card it saved is detached.
        let ops = vec![detach_later(payment_method, &patient, now)];
        return land(state, receipt, ops, Outcome::Unchanged).await;
    }
    let current = last.as_ref().filter(|c| c.removed_at.is_none());
    let card = CardOnFile {
        patient: patient.clone(),
        customer: customer.to_owned(),
        payment_method: payment_method.to_owned(),
        setup_intent: setup_intent.to_owned(),
        authorisation: authorisation.clone(),
        setup_created_at,
        saved_at: now,
        removed_at: None,
        declined_at: None,
        version: last.as_ref().map_or(1, |c| c.version + 1),
    };
    let mut ops = vec![TransactOp::Put {
        item: card.to_item(),
        condition: Some(match &last {
            Some(c) => Condition::version_is(c.version),
            None => Condition::ItemAbsent,
        }),
    }];
    // The pointer names the patient for the detach event, whichever of the events comes first.
    ops.push(TransactOp::Update {
        key: payment_method_key(payment_method),
        update: crate::store::Update::default().set(attr::PATIENT_ID, patient.as_str()),
        condition: Some(Condition::AttrAbsent(attr::DETACHED.into())),
    });
    if let Some(old) = current {
        ops.push(detach_later(&old.payment_method, &patient, now));
    }
    let audit = Audit::new("card.save", "card", payment_method)
        .about(&patient)
        .document(&authorisation);
    ops.push(TransactOp::Put {
        item: audit.item(state, actor),
        condition: Some(Condition::ItemAbsent),
    });
    land(state, receipt, ops, Outcome::Applied).await
}

/// `payment_method.attached`: what the card is, for a customer of ours (another integration's
/// customers are ignored).
async fn attached(
    state: &AppState,
    receipt: Item,
    payment_method: &str,
    customer: &str,
    card: Option<CardUsed>,
) -> Result<Option<Outcome>, ApiError> {
    let Some(owner) = state
        .table
        .get(&customer_pointer_key(customer), Consistency::Strong)
        .await?
    else {
        return Ok(Some(Outcome::Ignored));
    };
    let patient = parsed(&owner, attr::PATIENT_ID, PatientId::parse)?;
    let mut update = crate::store::Update::default().set(attr::PATIENT_ID, patient.as_str());
    if let Some(card) = card {
        update = update
            .set(attr::CARD_BRAND, card.brand.as_str())
            .set(attr::CARD_LAST4, card.last4.as_str());
    }
    let ops = vec![TransactOp::Update {
        key: payment_method_key(payment_method),
        update,
        condition: None,
    }];
    land(state, receipt, ops, Outcome::Applied).await
}

/// `payment_method.detached`: the card can no longer be charged; if it is on file, it leaves it.
async fn detached(
    state: &AppState,
    actor: Actor<'_>,
    receipt: Item,
    payment_method: &str,
) -> Result<Option<Outcome>, ApiError> {
    let Some(pointer) = state
        .table
        .get(&payment_method_key(payment_method), Consistency::Strong)
        .await?
    else {
        return Ok(Some(Outcome::Ignored));
    };
    let Ok(patient) = parsed(&pointer, attr::PATIENT_ID, PatientId::parse) else {
        return Ok(Some(Outcome::Ignored));
    };
    let mut ops = vec![TransactOp::Update {
        key: payment_method_key(payment_method),
        update: crate::store::Update::default().set(attr::DETACHED, true),
        condition: None,
    }];
    if let Some(card) = on_file(state, &patient).await?
        && card.payment_method == payment_method
    {
        ops.push(take_off_file(&card, state.clock.now().as_second()));
        let audit = Audit::new("card.remove", "card", payment_method).about(&patient);
        ops.push(TransactOp::Put {
            item: audit.item(state, actor),
            condition: Some(Condition::ItemAbsent),
        });
    }
    land(state, receipt, ops, Outcome::Applied).await
}
