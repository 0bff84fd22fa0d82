//! Fees the cancellation policy charges, as the writes of the change that causes them.
//!
//! A fee is a charge on the patient's ledger, written in the same transaction as what causes it
//! (a late cancellation, a no-show mark) under the one id its appointment and kind name
//! ([`FeeKind::charge_id`]) with the condition that it is new: a retried, replayed or racing
//! request cannot charge it twice, and the appointment's version condition makes the cause itself
//! happen once. The amount comes from the terms the appointment was booked under. Each fee has its
//! own audit entry naming the policy version; the patient is told a fee is on their account
//! (never which visit). A waiver is the adjusting entry that brings a fee to zero, again under one
//! id per fee (staff waive in `crate::payments::fees`; a late arrival's check-in waives here).

use crate::common::ledger;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::notify::MessageCodec;
use crate::store::codec::payments::ChargeCodec;
use crate::store::{Condition, TransactOp, attr};
use crate::unit_of_work::{Actor, Audit};
use domain::booking::Appointment;
use domain::fees::{FeeKind, WaiverReason};
use domain::ledger::{Charge, LineItem};
use domain::money::Money;
use domain::notify::{Kind as MessageKind, Message};

/// The fee of `kind` an appointment's terms set, if they set one.
pub fn fee_of(appt: &Appointment, kind: FeeKind) -> Option<Money> {
    let terms = appt.terms.as_ref()?;
    match kind {
        FeeKind::LateCancellation => terms.late_fee(appt.paid_deposit()),
        FeeKind::NoShow => terms.no_show_fee(appt.paid_deposit()),
    }
}

/// The writes that charge `appt`'s fee of `kind` (`amount`, from its terms) at `now`: the charge
/// (new, or the transaction fails), its audit entry (naming the policy version) and the patient's
/// notice.
pub async fn charge_ops(
    state: &AppState,
    actor: Actor<'_>,
    appt: &Appointment,
    kind: FeeKind,
    amount: Money,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    let lines = [LineItem {
        description: kind.line().to_owned().into(),
        amount: amount.amount(),
    }];
    let mut charge = Charge {
        id: kind.charge_id(&appt.id),
        patient: appt.patient.clone(),
        currency: amount.currency(),
        total: amount.amount(),
        appointment: Some(appt.id.clone()),
        adjusts: None,
        created_at: now,
        sealed_lines: Vec::new(),
        fee: Some(kind),
        waiver: None,
    };
    charge.sealed_lines = seal_lines(state, &charge, &lines).await?;
    let mut audit = Audit::new("fee.create", "charge", charge.id.as_str()).about(&appt.patient);
    if let Some(terms) = &appt.terms {
        audit = audit.document(&terms.version);
    }
    Ok(vec![
        TransactOp::Put {
            item: charge.to_item(),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: audit.item(state, actor),
            condition: Some(Condition::ItemAbsent),
        },
        Message::new(MessageKind::FeeCharged, &appt.patient, now, now).put(),
        // Charged to her card on file by the sweep, if she keeps one.
        fee_task(&charge.id, &appt.patient, now),
    ])
}

async fn seal_lines(
    state: &AppState,
    charge: &Charge,
    lines: &[LineItem],
) -> Result<Vec<u8>, ApiError> {
    let plain = serde_json::to_vec(lines).map_err(anyhow::Error::new)?;
    Ok(state
        .sealer
        .seal(&charge.key(), attr::LINE_ITEMS, &plain)
        .await?)
}

/// The entry that waives `fee` (what is left of it after earlier adjustments) for `reason`, with
/// its line items (sealed in the entry).
pub async fn waiver_charge(
    state: &AppState,
    fee: &Charge,
    net: i64,
    reason: WaiverReason,
    now: i64,
) -> Result<(Charge, [LineItem; 1]), ApiError> {
    let lines = [LineItem {
        description: "Fee waived".to_owned().into(),
        amount: -net,
    }];
    let mut waiver = Charge {
        id: WaiverReason::waiver_id(&fee.id),
        patient: fee.patient.clone(),
        currency: fee.currency,
        total: -net,
        appointment: fee.appointment.clone(),
        adjusts: Some(fee.id.clone()),
        created_at: now,
        sealed_lines: Vec::new(),
        fee: fee.fee,
        waiver: Some(reason),
    };
    waiver.sealed_lines = seal_lines(state, &waiver, &lines).await?;
    Ok((waiver, lines))
}

/// How a reply shows the fee a change charged.
pub fn fee_view(appt: &Appointment, kind: FeeKind, amount: Money) -> serde_json::Value {
    serde_json::json!({
        "chargeId": kind.charge_id(&appt.id),
        "kind": kind,
        "amount": amount,
    })
}

/// The writes that waive the no-show fee of a patient who turned up after being marked a
/// no-show (none when it was already waived): the waiver, a claim of the ledger's version (it
/// lowers what is owed) and its audit entry.
pub async fn arrived_late_ops(
    state: &AppState,
    actor: Actor<'_>,
    appt: &Appointment,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    let fee_id = FeeKind::NoShow.charge_id(&appt.id);
    let ledger = ledger::load(state, &appt.patient).await?;
    let waived = ledger
        .charges
        .iter()
        .any(|c| c.id == WaiverReason::waiver_id(&fee_id));
    let Some(fee) = ledger.charges.iter().find(|c| c.id == fee_id) else {
        return Ok(Vec::new());
    };
    let net = ledger.net_of(&fee_id);
    if waived || net <= 0 {
        return Ok(Vec::new());
    }
    let (waiver, _) = waiver_charge(state, fee, net, WaiverReason::ArrivedLate, now).await?;
    let audit = Audit::new("fee.waive", "charge", fee_id.as_str()).about(&appt.patient);
    Ok(vec![
        ledger::claim(&ledger),
        TransactOp::Put {
            item: waiver.to_item(),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: audit.item(state, actor),
            condition: Some(Condition::ItemAbsent),
        },
    ])
}

/// The task a fee's charge writes beside it: the sweep charges it to the patient's card on file,
/// if she keeps one (`crate::payments::collect`).
fn fee_task(
    charge: &domain::ids::ChargeId,
    patient: &domain::ids::PatientId,
    now: i64,
) -> TransactOp {
    TransactOp::Put {
        item: crate::store::Item::new(crate::store::keys::fee_task_key(charge))
            .with(attr::PATIENT_ID, patient.as_str())
            .with(attr::CREATED_AT, now),
        condition: None,
    }
}
