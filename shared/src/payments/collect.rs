//! The work for the processor that the functions without its key leave behind, done by the sweep:
//! each fee the cancellation policy charged is charged to its patient's card on file, off-session;
//! each card a newer one replaced is detached.
//!
//! A fee's task is written in the fee's own transaction ([`crate::common::fees::charge_ops`]).
//! What is charged is what is left of the fee and no more than the patient owes (a credit, a
//! waiver or a correction lower it); nothing for a fee a payment of hers names (the portal's pay
//! link), nor while a checkout of hers in that currency is under way. Before the processor is called, the run claims the ledger's
//! version, fixes the amount on the task and checks that the card and its authorisation are
//! still those read, so a portal checkout built on the same reading fails instead of paying the
//! same balance and a withdrawal stops the charge. Charging is idempotent per fee: the processor's
//! key and our payment id derive from the fee (and a later attempt charges the amount fixed), so a run that times out, crashes or overlaps another reaches the same
//! intent, and the payment's record (new, or the write fails) lands once, with the task's removal
//! and an audit entry, in one transaction. The payment then advances through the processor's
//! webhooks as any other. A decline or a bank that wants the cardholder present leaves the fee
//! owed and sends the patient the usual pay link. No card, a withdrawn card authorisation, or a
//! fee with nothing left leaves nothing to do. A task that keeps failing (the processor or the
//! table unreachable, a refusal that is not the card's) is retried by later runs, up to
//! [`MAX_ATTEMPTS`], then given up with an audit entry (the fee stays owed).

use super::ledger::Payment;
use super::processor::{
    IntentRequest, OffSession, OffSessionRequest, PaymentProcessor, ProcessorError, ProcessorKey,
};
use crate::common::{cards, ledger};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::notify::MessageCodec;
use crate::store::codec::parsed;
use crate::store::codec::payments::{CardCodec, PaymentCodec};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Item, Query, TableError, TransactOp, Update, attr,
};
use crate::unit_of_work::{Actor, Audit};
use domain::cards::CardOnFile;
use domain::consent::SignatureKind;
use domain::ids::{ChargeId, PatientId, PaymentId};
use domain::money::Money;
use domain::notify::{Kind as MessageKind, Message};
use domain::progress::{PaymentStatus, Progress};

/// Tasks of each kind taken per run (the rest wait for the next, five minutes later).
const TASKS_PER_RUN: u32 = 50;

/// Runs a task is tried in before it is given up.
pub const MAX_ATTEMPTS: i64 = 12;

/// How long a checkout of the patient's own blocks charging her card (an abandoned one is left
/// unpaid at the processor for good).
const OPEN_CHECKOUT_SECS: i64 = 3_600;

/// The processor's codes for a card that cannot be charged any more (detached, gone).
const CARD_UNUSABLE: [&str; 3] = [
    "resource_missing",
    "payment_method_unexpected_state",
    "payment_method_not_available",
];

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
    Detached,
    Nothing,
}

/// One run over the pending tasks; `run_id` names it in the audit entries.
#[tracing::instrument(skip_all)]
pub async fn collect(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    run_id: &str,
) -> Result<Collected, ApiError> {
    let mut collected = Collected::default();
    for partition in [FEE_TASKS, DETACH_TASKS] {
        let query = Query::partition(partition)
            .consistent()
            .limit(TASKS_PER_RUN);
        for task in &state.table.query(&query).await?.items {
            let result = if partition == FEE_TASKS {
                match ChargeId::parse(&task.key.sk) {
                    Some(charge) => fee(state, processor, task, &charge, run_id).await,
                    None => forget(state, task).await.map(|()| Done::Nothing),
                }
            } else {
                detach(state, processor, task).await
            };
            match result {
                Ok(Done::Charged) => collected.fees_charged += 1,
                Ok(Done::Declined) => collected.fees_declined += 1,
                Ok(Done::Detached) => collected.cards_detached += 1,
                Ok(Done::Nothing) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "a processor task failed; a later run retries it");
                    collected.deferred += 1;
                    failed(state, task, run_id).await?;
                }
            }
        }
    }
    Ok(collected)
}

/// Counts a failed attempt at `task` (of any of the sweep's processor tasks); the last one gives
/// it up (audited).
pub(super) async fn failed(state: &AppState, task: &Item, run_id: &str) -> Result<(), ApiError> {
    let attempts = task
        .get(attr::ATTEMPTS)
        .and_then(AttrValue::as_n)
        .unwrap_or(0)
        + 1;
    if attempts < MAX_ATTEMPTS {
        let update = Update::default().set(attr::ATTEMPTS, attempts);
        let op = TransactOp::Update {
            key: task.key.clone(),
            update,
            condition: Some(Condition::ItemExists),
        };
        return match state.table.transact_write(vec![op]).await {
            Ok(()) | Err(TableError::TransactionConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        };
    }
    let mut audit = Audit::new("processor_task.give_up", "task", task.key.sk.as_str());
    if let Some(patient) = task
        .get(attr::PATIENT_ID)
        .and_then(AttrValue::as_s)
        .and_then(PatientId::parse)
    {
        audit = audit.about(&patient);
    }
    let actor = Actor::System {
        name: "sweep",
        request_id: run_id,
    };
    let ops = vec![
        remove_task(task),
        TransactOp::Put {
            item: audit.item(state, actor),
            condition: Some(Condition::ItemAbsent),
        },
    ];
    Ok(state.table.transact_write(ops).await?)
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
) -> Result<Done, ApiError> {
    let payment_method = task.key.sk.as_str();
    // Only a card one of our patients saved (its pointer names the task's patient).
    let owner = state
        .table
        .get(&payment_method_key(payment_method), Consistency::Strong)
        .await?
        .and_then(|p| {
            p.get(attr::PATIENT_ID)
                .and_then(AttrValue::as_s)
                .map(str::to_owned)
        });
    let named = task.get(attr::PATIENT_ID).and_then(AttrValue::as_s);
    if super::processor::processor_id_ok(payment_method) && owner.as_deref() == named {
        processor.detach_payment_method(payment_method).await?;
    }
    forget(state, task).await?;
    Ok(Done::Detached)
}

/// The payment a fee's collection is recorded as, and the processor's key for it: the same for
/// every attempt (the amount is fixed on the task at the first).
fn payment_for(charge: &ChargeId) -> (PaymentId, ProcessorKey) {
    let hash = domain::hash::sha256(&[b"fee-collection\n", charge.as_str().as_bytes()]);
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
    let Some(card) = cards::on_file(state, &patient).await? else {
        // No card: the fee stays owed; the patient was sent its notice with the pay link.
        forget(state, task).await?;
        return Ok(Done::Nothing);
    };
    // The card is charged only under the authorisation it was saved under, still standing.
    let authorised = cards::authorisation_stands(state, &patient).await?;
    let ledger = ledger::load(state, &patient).await?;
    // Only a fee the cancellation policy charged is charged to the card.
    let fee = ledger
        .charges
        .iter()
        .find(|c| &c.id == charge && c.fee.is_some() && c.adjusts.is_none());
    let (Some(fee), true) = (fee, authorised) else {
        forget(state, task).await?;
        return Ok(Done::Nothing);
    };
    let now = state.clock.now().as_second();
    let currency = fee.currency;
    // (A deposit's checkout pays a booking's deposit, not fees.)
    let checkout_open = ledger.payments.iter().any(|p| {
        p.amount.currency() == currency
            && p.deposit_for.is_none()
            && matches!(
                p.progress.status,
                PaymentStatus::RequiresPayment | PaymentStatus::Processing
            )
            && now - p.created_at < OPEN_CHECKOUT_SECS
    });
    if checkout_open {
        // She may be paying it right now: a later run looks again (this is not a failure).
        return Ok(Done::Nothing);
    }
    // Paid from the portal by name (as the pay link does): hers, whatever the ledger's oldest-first
    // settling says.
    let paid_by_name = ledger.payments.iter().any(|p| {
        p.charges.contains(charge)
            && !matches!(
                p.progress.status,
                PaymentStatus::Failed | PaymentStatus::Canceled
            )
    });
    let (payment_id, key) = payment_for(charge);
    if ledger.payments.iter().any(|p| p.id == payment_id) {
        forget(state, task).await?;
        return Ok(Done::Nothing);
    }
    // An earlier run that claimed this task fixed its amount: it is charged again under the same
    // key (the processor answers with the intent that run may have created), never a new one.
    let fixed = task.get(attr::AMOUNT).and_then(AttrValue::as_n);
    let owed = match fixed {
        Some(amount) => amount,
        None => {
            let owed = ledger
                .net_of(charge)
                .min(ledger.totals(currency).outstanding());
            if owed <= 0 || paid_by_name {
                forget(state, task).await?;
                return Ok(Done::Nothing);
            }
            owed
        }
    };
    // Claimed before the processor is called, with the amount fixed on the task: a portal
    // checkout built on this reading of the ledger cannot land beside this charge (nor a second
    // run's), and the card and its authorisation are still what was read (a withdrawal or a
    // removal meanwhile stops it).
    let claim = vec![
        ledger::claim(&ledger),
        TransactOp::Update {
            key: task.key.clone(),
            update: Update::default().set(attr::AMOUNT, owed),
            condition: Some(match fixed {
                Some(amount) => Condition::Equals(attr::AMOUNT.into(), AttrValue::N(amount)),
                None => Condition::And(vec![
                    Condition::ItemExists,
                    Condition::AttrAbsent(attr::AMOUNT.into()),
                ]),
            }),
        },
        TransactOp::Check {
            key: patient_consent_key(&patient, &cards::authorisation_document()),
            condition: Condition::Equals(attr::STATUS.into(), SignatureKind::Sign.as_str().into()),
        },
        TransactOp::Check {
            key: card_key(&patient),
            condition: Condition::And(vec![
                Condition::version_is(card.version),
                Condition::AttrAbsent(attr::REMOVED_AT.into()),
            ]),
        },
    ];
    match state.table.transact_write(claim).await {
        Ok(()) => {}
        Err(TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict) => {
            return Ok(Done::Nothing); // the ledger changed: the next run reads it again
        }
        Err(e) => return Err(e.into()),
    }
    let amount =
        Money::new(owed, currency).ok_or_else(|| anyhow::anyhow!("a fee's amount out of range"))?;
    let request = OffSessionRequest {
        intent: IntentRequest::for_payment(&payment_id, std::slice::from_ref(charge), amount, key),
        customer: card.customer.clone(),
        payment_method: card.payment_method.clone(),
    };
    let (intent, declined) = match processor.charge_off_session(&request).await {
        Ok(done) => (Some(done.intent), done.outcome != OffSession::Accepted),
        Err(ProcessorError::Declined { intent, .. }) => (intent, true),
        // The card cannot be used any more (detached at the processor meanwhile): as a decline.
        Err(ProcessorError::Rejected { code }) if CARD_UNUSABLE.contains(&code.as_str()) => {
            (None, true)
        }
        Err(e) => return Err(e.into()),
    };
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
            deposit_for: None,
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
        Ok(()) if declined => {
            // Her billing page says so (on this card only: one replaced meanwhile stays as it is;
            // a failure here changes nothing recorded above).
            let noted = CardOnFile {
                declined_at: Some(now),
                version: card.version + 1,
                ..card.clone()
            };
            let op = TransactOp::Put {
                item: noted.to_item(),
                condition: Some(Condition::version_is(card.version)),
            };
            if let Err(e) = state.table.transact_write(vec![op]).await {
                tracing::info!(error = %e, "the card changed before its decline was noted");
            }
            Ok(Done::Declined)
        }
        Ok(()) => Ok(Done::Charged),
        // Recorded by an overlapping run: it removed the task too.
        Err(TableError::TransactionConditionFailed { .. }) => Ok(Done::Nothing),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fee_is_collected_under_one_key() {
        let charge = ChargeId::new();
        assert_eq!(payment_for(&charge), payment_for(&charge));
        assert_ne!(payment_for(&charge).0, payment_for(&ChargeId::new()).0);
    }
}
