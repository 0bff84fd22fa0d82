//! Processor events, after their signature was checked and their JSON read: deduplicated by a
//! receipt (`WEBHOOK#<source>#<event id>`, kept 30 days) and merged forward-only into the payment.

use super::ledger::Payment;
use super::processor::processor_id_ok;
use crate::store::attr;
use crate::store::codec::notify::MessageCodec;
use crate::store::codec::payments::PaymentCodec;
use serde::Serialize;

use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::codec::{corrupt, parsed};
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Item, TTL_ATTR, TableError, TransactOp};
use crate::unit_of_work::{Actor, Audit};
use domain::ids::{PatientId, PaymentId};
use domain::notify::{Kind as MessageKind, Message};
use domain::progress::{Event, PaymentStatus};
use domain::refusals::PaymentError;

/// How long a webhook receipt is kept (the processor retries for three days).
pub const RECEIPT_TTL_SECS: i64 = 30 * 86_400;

/// Attempts at applying one event when other events for the same payment race it.
const APPLY_ATTEMPTS: usize = 8;

/// What a verified webhook did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The payment changed.
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// New, but it tells nothing the payment does not already know (a late `processing` after
    /// `succeeded`): nothing changed but its receipt.
    Unchanged,
    /// A type we do not act on.
    Ignored,
}

/// Applies one verified event: deduplicated on its id, merged forward-only into the payment,
/// with its receipt and audit record in the same transaction.
#[tracing::instrument(skip_all, fields(source))]
pub async fn apply_event(
    state: &AppState,
    source: &'static str,
    event_id: &str,
    event: Event,
    request_id: &str,
) -> Result<Outcome, ApiError> {
    let Event::Payment {
        intent,
        amount,
        currency,
        observation,
    } = event
    else {
        return super::cards::apply_card_event(state, source, event_id, event, request_id).await;
    };
    if !processor_id_ok(&intent) {
        return Err(ApiError::Input(InputError::InvalidEvent));
    }
    let pointer = state
        .table
        .get(&intent_key(&intent), Consistency::Strong)
        .await?
        .ok_or_else(|| {
            // Retried by the processor: the intent may be ours with its record still being written.
            ApiError::NotFound
        })?;
    let patient = parsed(&pointer, attr::PATIENT_ID, PatientId::parse)?;
    let payment_id = parsed(&pointer, attr::PAYMENT_ID, PaymentId::parse)?;
    let receipt = Item::new(receipt_key(source, event_id))
        .with(attr::RECEIVED_AT, state.clock.now().as_second())
        .with(attr::PAYMENT_ID, payment_id.as_str())
        .with(TTL_ATTR, state.clock.now().as_second() + RECEIPT_TTL_SECS);
    for _ in 0..APPLY_ATTEMPTS {
        let item = state
            .table
            .get(&payment_key(&patient, &payment_id), Consistency::Strong)
            .await?
            .ok_or_else(|| corrupt("payment behind an intent"))?;
        let payment = Payment::from_item(&item)?;
        let consistent = amount.is_none_or(|a| a == payment.amount.amount())
            && currency
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(payment.amount.currency().code()))
            && observation
                .refunded
                .is_none_or(|r| (0..=payment.amount.amount()).contains(&r))
            && observation
                .refund
                .as_ref()
                .is_none_or(|r| r.amount <= payment.amount.amount())
            && observation
                .dispute
                .as_ref()
                .is_none_or(|d| d.amount <= payment.amount.amount());
        if !consistent {
            return Err(ApiError::Payment(PaymentError::EventInconsistent));
        }
        let next = payment.progress.merge(&observation);
        if next == payment.progress {
            return match state
                .table
                .put(receipt.clone(), Some(Condition::ItemAbsent))
                .await
            {
                Ok(()) => Ok(Outcome::Unchanged),
                Err(TableError::ConditionFailed) => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            };
        }
        let updated = Payment {
            progress: next,
            version: payment.version + 1,
            ..payment
        };
        let audit = Audit::new("payment.update", "payment", updated.id.as_str())
            .about(&updated.patient)
            .item(
                state,
                Actor::System {
                    name: source,
                    request_id,
                },
            );
        // The patient hears of a payment that succeeded and of money refunded, once each: the
        // change that causes the message happens once (the version condition).
        let now = state.clock.now().as_second();
        let amount = updated.amount.amount();
        let paid = payment.progress.status != PaymentStatus::Succeeded
            && updated.progress.status == PaymentStatus::Succeeded;
        let refunded =
            updated.progress.refunded_net(amount) > payment.progress.refunded_net(amount);
        let messages = [
            (paid, MessageKind::Receipt),
            (refunded, MessageKind::Refund),
        ]
        .into_iter()
        .filter(|(yes, _)| *yes)
        .map(|(_, kind)| Message::new(kind, &updated.patient, now, now).put());
        let mut ops = vec![
            TransactOp::Put {
                item: receipt.clone(),
                condition: Some(Condition::ItemAbsent),
            },
            TransactOp::Put {
                item: updated.to_item(),
                condition: Some(Condition::version_is(updated.version - 1)),
            },
            TransactOp::Put {
                item: audit,
                condition: Some(Condition::ItemAbsent),
            },
        ];
        ops.extend(messages);
        // A booking's deposit paid: the booking is confirmed in this same write while its time
        // is still its own, else the deposit is refunded (read again on every attempt).
        if paid {
            let actor = Actor::System {
                name: source,
                request_id,
            };
            ops.extend(crate::common::deposits::paid_ops(state, &updated, actor, now).await?);
        }
        // A dispute is listed for the practice (and its evidence drafted there) from its first
        // event, only from the processor whose disputes staff answer (Stripe) and only once: a
        // dispute listed for another payment is never moved.
        if let Some(dispute) = &observation.dispute
            && source == "stripe"
            && !payment.progress.disputes.contains_key(&dispute.id)
            && super::disputes::listable(state, &dispute.id, &updated).await?
        {
            ops.push(super::disputes::listed(
                &updated,
                &dispute.id,
                observation.created,
            ));
        }
        match state.table.transact_write(ops).await {
            Ok(()) => return Ok(Outcome::Applied),
            Err(TableError::TransactionConditionFailed { failed }) if failed.contains(&0) => {
                return Ok(Outcome::Duplicate);
            }
            Err(
                TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict,
            ) => {
                continue; // another event for this payment landed first: merge again
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable {
        code: "storage_busy",
        source: anyhow::anyhow!("payment kept changing under concurrent events"),
    })
}
