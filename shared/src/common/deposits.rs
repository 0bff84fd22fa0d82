//! Deposits at booking, as the writes of the changes that move them: what booking, the webhook
//! that says a deposit was paid, a cancellation and a no-show add to their own transactions.
//!
//! A patient booking a service whose policy asks a deposit gets an appointment that waits
//! (`awaiting_deposit`): its lock units are taken only until the deposit's `due_by` (the
//! practice's hold time), so time never paid for frees itself, and no confirmation or reminder is
//! sent. Its task (`DEPOSIT_TASKS` / appointment) is written with it. The payment is one per
//! appointment ([`Deposit::payment_id`]); when the processor's webhook says it succeeded, the
//! payment's update confirms the appointment in the same transaction ([`paid_ops`]): booked, its
//! locks extended to the visit (only while they are still its own), and the confirmation and
//! reminders queued. A payment that arrives when the time is gone (lapsed and taken, or the
//! appointment cancelled) is refunded instead. The sweep lets an unpaid deposit lapse at its due
//! time (cancelling its intent first) and refunds what the refund tasks name
//! (`crate::payments::deposits`). A paid deposit is a payment on the patient's ledger, so it is
//! credited to the visit's charge; cancelling in time refunds it, and a late cancellation or a
//! no-show keeps the fee from it and refunds the rest ([`settle_ops`]).

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::notify::MessageCodec;
use crate::store::codec::parsed;
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Consistency, Item, TTL_ATTR, TransactOp, attr};
use crate::unit_of_work::{Actor, Audit};
use domain::booking::{Appointment, Practice, Service, Status};
use domain::fees::{Deposit, DepositState};
use domain::ids::{AppointmentId, PatientId};
use domain::ledger::Payment;
use domain::money::Money;
use domain::notify::{Kind as MessageKind, Message, appointment_messages, forms_reminder};
use domain::schedule::units;

/// Appointment locks outlive the appointment by a day, then the table's TTL removes them.
pub const LOCK_GRACE_SECS: i64 = 86_400;

/// The messages a confirmed booking queues: the confirmation (saying when forms are asked for)
/// and its reminders, and a reminder of missing forms 48 hours before.
pub fn confirmation_ops(
    appt: &Appointment,
    service: &Service,
    practice: &Practice,
    now: i64,
) -> Vec<TransactOp> {
    let asks_forms = !service.forms_before_first_visit.is_empty()
        || !service.forms_before_every_visit.is_empty();
    let kind = if asks_forms {
        MessageKind::ConfirmationForms
    } else {
        MessageKind::Confirmation
    };
    let mut ops: Vec<TransactOp> = appointment_messages(kind, appt, practice, now)
        .iter()
        .map(Message::put)
        .collect();
    if asks_forms && let Some(reminder) = forms_reminder(appt, now) {
        ops.push(reminder.put());
    }
    ops
}

/// The deposit a patient booking `service` herself at `now` is asked, held for `hold_secs`.
pub fn asked(service: &Service, now: i64, hold_secs: i64) -> Option<Deposit> {
    Some(Deposit {
        amount: service.terms()?.deposit?,
        due_by: now + hold_secs,
        state: DepositState::Awaiting,
        refund: 0,
    })
}

/// The task the sweep looks at when the deposit of `appt` is due (written with the booking).
pub fn task_op(appt: &Appointment, due: i64) -> TransactOp {
    TransactOp::Put {
        item: Item::new(deposit_task_key(&appt.id))
            .with(attr::PATIENT_ID, appt.patient.as_str())
            .with(attr::DUE_AT, due),
        condition: None,
    }
}

/// The refund of `amount` of `appt`'s deposit, for the sweep to make at the processor.
pub fn refund_op(appointment: &AppointmentId, patient: &PatientId, amount: i64) -> TransactOp {
    TransactOp::Put {
        item: Item::new(refund_task_key(appointment))
            .with(attr::PATIENT_ID, patient.as_str())
            .with(attr::AMOUNT, amount),
        condition: Some(Condition::ItemAbsent),
    }
}

/// What a change of a booked `appt` does to its paid deposit when it keeps `fee` of it (a late
/// cancellation's or a no-show's; none for one in time or by the practice): the appointment as
/// it records the refund, and the refund's task (none when all of it is kept or none was paid).
pub fn settle_ops(appt: &Appointment, fee: Option<Money>) -> (Appointment, Option<TransactOp>) {
    let Some(deposit) = appt.deposit.filter(|d| d.state == DepositState::Paid) else {
        return (appt.clone(), None);
    };
    let refund = deposit.refund_keeping(fee);
    let settled = Appointment {
        deposit: Some(Deposit { refund, ..deposit }),
        ..appt.clone()
    };
    let op = (refund > 0).then(|| refund_op(&appt.id, &appt.patient, refund));
    (settled, op)
}

/// The appointment stored at `item` (with its sealed reason kept) as `changed`, at the version
/// read: the record and the patient's copy.
pub fn rewrite_ops(changed: &Appointment, item: &Item) -> Vec<TransactOp> {
    let mut stored = changed.to_item(None);
    if let Some(reason) = item.get(attr::REASON) {
        stored.set(attr::REASON, reason.clone());
    }
    vec![
        TransactOp::Put {
            item: stored,
            condition: Some(Condition::version_is(changed.version - 1)),
        },
        TransactOp::Put {
            item: changed.patient_copy(),
            condition: None,
        },
    ]
}

/// The writes a deposit `payment` that just succeeded adds to its update: the appointment
/// confirmed while it waits and its time is still its own (every lock unit still names it, even
/// past its due time: nobody took it), else the deposit's refund. Read again on each attempt of
/// the update (the conditions fail if anything moved meanwhile).
pub async fn paid_ops(
    state: &AppState,
    payment: &Payment,
    actor: Actor<'_>,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    let Some(id) = &payment.deposit_for else {
        return Ok(Vec::new());
    };
    let refund = || vec![refund_op(id, &payment.patient, payment.amount.amount())];
    let Some(item) = state
        .table
        .get(&appointment_key(id), Consistency::Strong)
        .await?
    else {
        return Ok(refund());
    };
    let appt = Appointment::from_item(&item)?;
    let waiting = appt.status == Status::AwaitingDeposit
        && appt
            .deposit
            .is_some_and(|d| d.state == DepositState::Awaiting);
    if !waiting || appt.patient != payment.patient {
        return Ok(refund());
    }
    let units: Vec<i64> = units(appt.occupied.0, appt.occupied.1).collect();
    for unit in &units {
        let lock = state
            .table
            .get(&lock_key(&appt.provider, *unit), Consistency::Strong)
            .await?;
        let ours = lock
            .as_ref()
            .and_then(|l| l.get(attr::OWNER))
            .and_then(AttrValue::as_s)
            == Some(appt.id.as_str());
        if !ours {
            // Lapsed and taken: the sweep lets the appointment lapse; the money goes back.
            return Ok(refund());
        }
    }
    let practice = crate::common::lookup::practice(state).await?;
    let Some(service) = crate::common::lookup::service(state, &appt.service).await? else {
        return Err(crate::store::codec::corrupt("service of an appointment").into());
    };
    let confirmed = Appointment {
        status: Status::Booked,
        version: appt.version + 1,
        deposit: appt.deposit.map(|d| Deposit {
            state: DepositState::Paid,
            ..d
        }),
        ..appt.clone()
    };
    let mut ops = rewrite_ops(&confirmed, &item);
    let expires = appt.occupied.1 + LOCK_GRACE_SECS;
    ops.extend(units.iter().map(|unit| {
        TransactOp::Put {
            item: Item::new(lock_key(&appt.provider, *unit))
                .with(attr::OWNER, appt.id.as_str())
                .with(TTL_ATTR, expires),
            condition: Some(Condition::Equals(
                attr::OWNER.into(),
                appt.id.as_str().into(),
            )),
        }
    }));
    ops.extend(confirmation_ops(&confirmed, &service, &practice, now));
    let mut audit =
        Audit::new("appointment.confirm", "appointment", appt.id.as_str()).about(&appt.patient);
    if let Some(terms) = &appt.terms {
        audit = audit.document(&terms.version);
    }
    ops.push(TransactOp::Put {
        item: audit.item(state, actor),
        condition: Some(Condition::ItemAbsent),
    });
    Ok(ops)
}

/// The patient a task names.
pub fn task_patient(task: &Item) -> Result<PatientId, ApiError> {
    Ok(parsed(task, attr::PATIENT_ID, PatientId::parse)?)
}
