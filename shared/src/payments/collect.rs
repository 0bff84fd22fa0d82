//! The work for the processor that the functions without its key leave behind, done by the sweep:
//! each fee the cancellation policy charged is charged to its patient's card on file, off-session;
//! each card a newer one replaced is detached.
//!
//! A fee's task is written in the fee's own transaction ([`crate::common::fees::charge_ops`]).
//! Charging it is idempotent per fee: the processor's key and our payment id derive from the fee
//! (and the amount still owed), so a run that times out, crashes or overlaps another reaches the
//! same intent, and the payment's record (new, or the write fails) lands once, with the task's
//! removal and an audit entry, in one transaction. The payment then advances through the
//! processor's webhooks as any other. A decline or a bank that wants the cardholder present
//! leaves the fee owed and sends the patient the usual pay link. A fee waived or paid meanwhile,
//! or a patient without a card, leaves nothing to do.

use super::ledger::Payment;
use super::processor::{
    IntentRequest, OffSession, OffSessionRequest, PaymentProcessor, ProcessorError, ProcessorKey,
};
use crate::common::ledger;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::notify::MessageCodec;
use crate::store::codec::parsed;
use crate::store::codec::payments::PaymentCodec;
use crate::store::keys::*;
use crate::store::{Condition, Item, Query, TableError, TransactOp, attr};
use crate::unit_of_work::{Actor, Audit};
use domain::ids::{ChargeId, PatientId, PaymentId};
use domain::money::Money;
use domain::notify::{Kind as MessageKind, Message};
use domain::progress::Progress;

/// Tasks taken per run (the rest wait for the next, five minutes later).
const TASKS_PER_RUN: u32 = 50;

/// What one run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Collected {
    /// Fees the processor accepted from a card on file.
    pub fees_charged: usize,
    /// Fees a card on file could not pay (declined, or the bank wants the cardholder).
    pub fees_declined: usize,
    /// Replaced cards detached.
    pub cards_detached: usize,
    /// Tasks left for the next run (the processor or the table could not be reached).
    pub deferred: usize,
}

enum Done {
    Charged,
    Declined,
    Nothing,
}

/// One run over the pending tasks; `run_id` names it in the audit entries.
#[tracing::instrument(skip_all)]
pub async fn collect(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    run_id: &str,
) -> Result<Collected, ApiError> {
    let page = state
        .table
        .query(
            &Query::partition(PROCESSOR_TASKS)
                .consistent()
                .limit(TASKS_PER_RUN),
        )
        .await?;
    let mut collected = Collected::default();
    for task in &page.items {
        let sort = task.key.sk.as_str();
        let result = if let Some(charge) = sort.strip_prefix(FEE_TASK_PREFIX) {
            match ChargeId::parse(charge) {
                Some(charge) => fee(state, processor, task, &charge, run_id).await,
                None => forget(state, task).await.map(|()| Done::Nothing),
            }
        } else if let Some(payment_method) = sort.strip_prefix(DETACH_TASK_PREFIX) {
            detach(state, processor, task, payment_method).await
        } else {
            forget(state, task).await.map(|()| Done::Nothing)
        };
        match result {
            Ok(Done::Charged) => collected.fees_charged += 1,
            Ok(Done::Declined) => collected.fees_declined += 1,
            Ok(Done::Nothing) if sort.starts_with(DETACH_TASK_PREFIX) => {
                collected.cards_detached += 1;
            }
            Ok(Done::Nothing) => {}
            Err(e) => {
                tracing::warn!(error = %e, "a processor task failed; the next run retries it");
                collected.deferred += 1;
            }
        }
    }
    Ok(collected)
}

fn remove_task(task: &Item) -> TransactOp {
    TransactOp::Delete {
        key: task.key.clone(),
        condition: None,
    }
}

async fn forget(state: &AppState, task: &Item) -> Result<(), ApiError> {
    Ok(state.table.transact_write(vec![remove_task(task)]).await?)
}

async fn detach(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    task: &Item,
    payment_method: &str,
) -> Result<Done, ApiError> {
    if super::processor::processor_id_ok(payment_method) {
        processor.detach_payment_method(payment_method).await?;
    }
    forget(state, task).await?;
    Ok(Done::Nothing)
}

/// The payment a fee's collection of `owed` is recorded as: the same for every attempt.
fn payment_for(charge: &ChargeId, owed: i64) -> (PaymentId, ProcessorKey) {
    let hash = domain::hash::sha256(&[
        b"fee-collection\n",
        charge.as_str().as_bytes(),
        b"\n",
        owed.to_string().as_bytes(),
    ]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    let payment = PaymentId::derived(id);
    let key = ProcessorKey::new(format!("practica-fee-{payment}"));
    (payment, key)
}

async fn fee(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    task: &Item,
    charge: &ChargeId,
    run_id: &str,
) -> Result<Done, ApiError> {
    let patient = parsed(task, attr::PATIENT_ID, PatientId::parse)?;
    let Some(card) = super::cards::on_file(state, &patient).await? else {
        // No card: the fee stays owed; the patient was sent its notice with the pay link.
        forget(state, task).await?;
        return Ok(Done::Nothing);
    };
    let ledger = ledger::load(state, &patient).await?;
    let Some(fee) = ledger.charges.iter().find(|c| &c.id == charge) else {
        forget(state, task).await?;
        return Ok(Done::Nothing);
    };
    let owed = ledger.net_of(charge);
    let (payment_id, key) = payment_for(charge, owed);
    // Waived, corrected to nothing, or paid from the portal since (a payment naming the fee that
    // succeeded or is under way), or collected by an earlier run that was cut short.
    let paid_otherwise = ledger.payments.iter().any(|p| {
        p.charges.contains(charge)
            && !matches!(
                p.progress.status,
                domain::progress::PaymentStatus::Failed | domain::progress::PaymentStatus::Canceled
            )
    });
    if owed <= 0 || paid_otherwise || ledger.payments.iter().any(|p| p.id == payment_id) {
        forget(state, task).await?;
        return Ok(Done::Nothing);
    }
    let amount = Money::new(owed, fee.currency)
        .ok_or_else(|| anyhow::anyhow!("a fee's amount out of range"))?;
    let request = OffSessionRequest {
        intent: IntentRequest::for_payment(&payment_id, std::slice::from_ref(charge), amount, key),
        customer: card.customer.clone(),
        payment_method: card.payment_method.clone(),
    };
    let (intent, declined) = match processor.charge_off_session(&request).await {
        Ok(done) => (Some(done.intent), done.outcome != OffSession::Accepted),
        // The card cannot be used (detached at the processor meanwhile, or refused without an
        // intent): the fee stays owed, as on a decline.
        Err(ProcessorError::Declined { intent, .. }) => (intent, true),
        Err(ProcessorError::Rejected { code }) => {
            tracing::warn!(%code, "the processor refused an off-session charge");
            (None, true)
        }
        Err(e) => return Err(e.into()),
    };
    let now = state.clock.now().as_second();
    let mut ops = vec![remove_task(task)];
    if let Some(intent) = intent.filter(|i| super::processor::processor_id_ok(i)) {
        let payment = Payment {
            id: payment_id.clone(),
            patient: patient.clone(),
            intent: intent.clone(),
            amount,
            charges: vec![charge.clone()],
            progress: Progress::default(),
            version: 1,
            created_at: now,
        };
        ops.push(TransactOp::Put {
            item: payment.to_item(),
            condition: Some(Condition::ItemAbsent),
        });
        ops.push(TransactOp::Put {
            item: Item::new(intent_key(&intent))
                .with(attr::PAYMENT_ID, payment.id.as_str())
                .with(attr::PATIENT_ID, patient.as_str()),
            condition: None,
        });
    }
    let action = if declined {
        "fee.collect_declined"
    } else {
        "fee.collect"
    };
    let audit = Audit::new(action, "charge", charge.as_str())
        .about(&patient)
        .document(&card.authorisation);
    ops.push(TransactOp::Put {
        item: audit.item(
            state,
            Actor::System {
                name: "sweep",
                request_id: run_id,
            },
        ),
        condition: Some(Condition::ItemAbsent),
    });
    if declined {
        ops.push(Message::new(MessageKind::CardDeclined, &patient, now, now).put());
    }
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(if declined {
            Done::Declined
        } else {
            Done::Charged
        }),
        // Recorded by an overlapping run: it removed the task too.
        Err(TableError::TransactionConditionFailed { .. }) => Ok(Done::Nothing),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_is_collected_under_one_key_per_amount_owed() {
        let charge = ChargeId::new();
        assert_eq!(payment_for(&charge, 5000), payment_for(&charge, 5000));
        assert_ne!(payment_for(&charge, 5000).0, payment_for(&charge, 2500).0);
        assert_ne!(
            payment_for(&charge, 5000).0,
            payment_for(&ChargeId::new(), 5000).0
        );
    }
}
