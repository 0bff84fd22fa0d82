//! Payment intents: one checkout at a time per patient and currency, through the processor port,
//! with ids derived from the client's key so a retry reaches the same intent.

use super::ledger::{self, Payment};
use crate::store::attr;
use crate::store::codec::payments::PaymentCodec;
use serde::{Deserialize, Serialize};

use super::processor::{Cancel, IntentRequest, PaymentProcessor, ProcessorKey};
use crate::common::access::acting_for;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Item, TransactOp};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::ids::{ChargeId, IdempotencyKey, PatientId, PaymentId};
use domain::money::{Currency, MAX_MINOR_UNITS, Money};
use domain::progress::{PaymentStatus, Progress};
use domain::refusals::PaymentError;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntentRequestBody {
    /// Staff name the patient; a patient pays their own balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// Minor units; the outstanding amount when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_ids: Option<Vec<ChargeId>>,
}

/// The processor's idempotency key and our payment id for a client's key: the same request
/// retried names the same payment and reuses the processor's key, so it never creates a second
/// intent. Keyed (blind-index HMAC), so the processor cannot link the key to our caller.
async fn derived_ids(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
) -> Result<(ProcessorKey, PaymentId), ApiError> {
    let blind = state.blind_index().await?;
    let digest = blind.compute(
        "processor-idempotency",
        &format!("{}\n{}", caller.principal.subject, key.as_str()),
    );
    let hash = domain::hash::sha256(&[digest.as_bytes()]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    Ok((
        ProcessorKey(format!("practica-{digest}")),
        PaymentId::derived(id),
    ))
}

/// Creates a processor payment intent for (part of) the outstanding balance and records it.
///
/// One checkout at a time: the patient's earlier intents in this currency that nobody has paid are
/// cancelled at the processor first (they can no longer be paid, so two open checkouts cannot both
/// take the same balance); one that is already paid or being paid makes this a 409.
#[tracing::instrument(skip_all)]
pub async fn create_intent(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    req: IntentRequestBody,
) -> Result<Reply, ApiError> {
    let patient = acting_for(caller, req.patient_id.clone())?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    if let Some(a) = req.amount
        && !(1..=MAX_MINOR_UNITS).contains(&a)
    {
        return Err(ApiError::Payment(PaymentError::InvalidAmount));
    }
    let ledger = ledger::load(state, &patient).await?;
    if !ledger.currencies().contains(&req.currency) {
        return Err(ApiError::Payment(PaymentError::NoChargesInCurrency));
    }
    let totals = ledger.totals(req.currency);
    let mut limit = totals.outstanding();
    let charges = req.charge_ids.clone().unwrap_or_default();
    if !charges.is_empty() {
        let mut chosen = 0;
        for id in &charges {
            let charge = ledger
                .charges
                .iter()
                .find(|c| &c.id == id && c.adjusts.is_none())
                .ok_or_else(|| ApiError::Payment(PaymentError::UnknownCharge))?;
            if charge.currency != req.currency {
                return Err(ApiError::Payment(PaymentError::ChargeInOtherCurrency));
            }
            chosen += ledger.net_of(id);
        }
        limit = limit.min(chosen);
    }
    let amount = match req.amount {
        Some(a) if a > limit => {
            return Err(ApiError::Payment(PaymentError::AmountExceedsBalance));
        }
        Some(a) => a,
        None if limit <= 0 => return Err(ApiError::Payment(PaymentError::NothingDue)),
        None => limit,
    };
    let amount = Money::new(amount, req.currency)
        .ok_or_else(|| ApiError::Payment(PaymentError::AmountOutOfRange))?;
    let mut superseded = Vec::new();
    // A deposit's checkout is its booking's own (one per appointment): never superseded here.
    for open in ledger.payments.iter().filter(|p| {
        p.amount.currency() == req.currency
            && p.deposit_for.is_none()
            && matches!(
                p.progress.status,
                PaymentStatus::RequiresPayment | PaymentStatus::Failed
            )
    }) {
        let cancel_key = ProcessorKey(format!("practica-cancel-{}", open.id));
        match processor.cancel_intent(&open.intent, &cancel_key).await? {
            Cancel::Canceled => superseded.push(Payment {
                progress: Progress {
                    status: PaymentStatus::Canceled,
                    ..open.progress.clone()
                },
                version: open.version + 1,
                ..open.clone()
            }),
            Cancel::TooLate => {
                return Err(ApiError::Payment(PaymentError::PaymentInProgress));
            }
        }
    }
    let (processor_key, payment_id) = derived_ids(state, caller, idem.client_key()).await?;
    let request = IntentRequest::for_payment(&payment_id, &charges, amount, processor_key);
    let intent = processor.create_intent(&request).await?;
    let payment = Payment {
        id: payment_id,
        patient,
        intent: intent.id.clone(),
        amount,
        charges,
        progress: Progress::default(),
        version: 1,
        created_at: state.clock.now().as_second(),
        deposit_for: None,
    };
    // A changed ledger takes precedence: it is why a retry of this very request would differ.
    let changed = || ApiError::Payment(PaymentError::BalanceChanged);
    let exists = || ApiError::Payment(PaymentError::PaymentExists);
    let mut writes = vec![Write::new(ledger::claim(&ledger)).or(changed())];
    writes.extend(superseded.iter().map(|p| {
        Write::new(TransactOp::Put {
            item: p.to_item(),
            condition: Some(Condition::version_is(p.version - 1)),
        })
        .or(changed())
    }));
    writes.push(
        Write::new(TransactOp::Put {
            item: payment.to_item(),
            condition: Some(Condition::ItemAbsent),
        })
        .or(exists()),
    );
    writes.push(
        Write::new(TransactOp::Put {
            item: Item::new(intent_key(&intent.id))
                .with(attr::PAYMENT_ID, payment.id.as_str())
                .with(attr::PATIENT_ID, payment.patient.as_str()),
            condition: Some(Condition::ItemAbsent),
        })
        .or(exists()),
    );
    let mut body = payment.view();
    body["clientSecret"] = serde_json::Value::String(intent.client_secret.expose().clone());
    let reply = Reply::created(&body)?.with_patient_data();
    let audit =
        Audit::new("payment.create", "payment", payment.id.as_str()).about(&payment.patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}
