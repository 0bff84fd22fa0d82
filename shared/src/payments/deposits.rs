//! Deposits at booking, on the processor's side: the patient's checkout for a booking's deposit
//! (one intent per appointment, however often it is asked for), and the sweep's part: letting an
//! unpaid deposit lapse when it is due (its intent cancelled first, so it can no longer be paid)
//! and refunding what the refund tasks name. How the booking waits for its deposit and what the
//! webhook confirms is `crate::common::deposits`.

use super::ledger::Payment;
use super::processor::{Cancel, IntentRequest, PaymentProcessor, ProcessorKey};
use crate::common::deposits::{rewrite_ops, task_patient};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::payments::PaymentCodec;
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Consistency, Item, Query, TableError, TransactOp, attr};
use crate::unit_of_work::allowance::{self, Kind};
use crate::unit_of_work::{Actor, Audit, CommitError, Idempotency, Reply, Write, commit, refused};
use domain::access::Caller;
use domain::booking::{Appointment, Status};
use domain::fees::{Deposit, DepositState};
use domain::ids::{AppointmentId, PatientId};
use domain::money::Money;
use domain::progress::{PaymentStatus, Progress};
use domain::refusals::PaymentError;

/// Tasks of each kind taken per run (the rest wait for the next, five minutes later).
const TASKS_PER_RUN: u32 = 50;

/// The processor's key for a deposit's intent: one per appointment.
fn intent_key_for(payment: &domain::ids::PaymentId) -> ProcessorKey {
    ProcessorKey::new(format!("practica-deposit-{payment}"))
}

async fn payment_of(
    state: &AppState,
    patient: &PatientId,
    appointment: &AppointmentId,
) -> Result<Option<Payment>, ApiError> {
    let key = payment_key(patient, &Deposit::payment_id(appointment));
    match state.table.get(&key, Consistency::Strong).await? {
        Some(item) => Ok(Some(Payment::from_item(&item)?)),
        None => Ok(None),
    }
}

/// `POST /v1/appointments/{id}/deposit`: the checkout for the deposit a booking waits for (its
/// patient, or staff taking it for her). The same intent every time it is asked for (its key and
/// our payment's id derive from the appointment); `409 no_deposit_due` when none is waited for,
/// `409 deposit_lapsed` once its time is up or the booking was cancelled.
#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn checkout(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
) -> Result<Reply, ApiError> {
    // A refusal is audited naming the appointment's patient (her access log shows it).
    let item = state
        .table
        .get(&appointment_key(id), Consistency::Strong)
        .await?;
    let found = match &item {
        Some(item) => Some(Appointment::from_item(item)?),
        None => None,
    };
    let mut target = Audit::new("payment.create", "appointment", id.as_str());
    if let Some(appt) = &found {
        target = target.about(&appt.patient);
    }
    let checked = found.ok_or(ApiError::NotFound).and_then(|appt| {
        crate::common::access::acting_for(caller, Some(appt.patient.clone()))?;
        Ok(appt)
    });
    let appt = refused(state, caller, target, checked).await?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let now = state.clock.now().as_second();
    let deposit = match appt.deposit {
        Some(d) if appt.status == Status::AwaitingDeposit && now < d.due_by => d,
        Some(d) if d.state == DepositState::Awaiting || d.state == DepositState::Lapsed => {
            return Err(ApiError::Payment(PaymentError::DepositLapsed));
        }
        _ => return Err(ApiError::Payment(PaymentError::NoDepositDue)),
    };
    let existing = payment_of(state, &appt.patient, &appt.id).await?;
    let recorded_before = existing.is_some();
    if existing
        .as_ref()
        .is_some_and(|p| p.progress.status == PaymentStatus::Canceled)
    {
        return Err(ApiError::Payment(PaymentError::DepositLapsed));
    }
    let payment_id = Deposit::payment_id(&appt.id);
    let request = IntentRequest::for_payment(
        &payment_id,
        &[],
        deposit.amount,
        intent_key_for(&payment_id),
    );
    let intent = processor.create_intent(&request).await?;
    let payment = existing.unwrap_or(Payment {
        id: payment_id,
        patient: appt.patient.clone(),
        intent: intent.id.clone(),
        amount: deposit.amount,
        charges: Vec::new(),
        progress: Progress::default(),
        version: 1,
        created_at: now,
        deposit_for: Some(appt.id.clone()),
    });
    let mut body = payment.view();
    body["clientSecret"] = serde_json::Value::String(intent.client_secret.expose().clone());
    body["dueBy"] = domain::instant::render_utc(deposit.due_by).into();
    if recorded_before {
        // Recorded before (another tab, a retry under a new key): the same checkout again.
        return Ok(Reply::ok(&body)?.with_patient_data());
    }
    let recorded = || ApiError::Payment(PaymentError::PaymentExists);
    // Still waiting as read: a lapse by the sweep meanwhile leaves no checkout behind.
    let waiting = TransactOp::Check {
        key: appointment_key(&appt.id),
        condition: Condition::And(vec![
            Condition::version_is(appt.version),
            Condition::Equals(attr::STATUS.into(), Status::AwaitingDeposit.as_str().into()),
        ]),
    };
    let writes = vec![
        Write::new(waiting).or(ApiError::Payment(PaymentError::DepositLapsed)),
        Write::new(TransactOp::Put {
            item: payment.to_item(),
            condition: Some(Condition::ItemAbsent),
        })
        .or(recorded()),
        Write::new(TransactOp::Put {
            item: Item::new(intent_key(&intent.id))
                .with(attr::PAYMENT_ID, payment.id.as_str())
                .with(attr::PATIENT_ID, payment.patient.as_str()),
            condition: None,
        }),
    ];
    let audit =
        Audit::new("payment.create", "payment", payment.id.as_str()).about(&payment.patient);
    let reply = Reply::created(&body)?.with_patient_data();
    match commit(state, caller, Some(idem), writes, audit, reply).await {
        // Recorded by a request racing this one: the same checkout.
        Err(CommitError::Refused(ApiError::Payment(PaymentError::PaymentExists))) => {
            Ok(Reply::ok(&body)?.with_patient_data())
        }
        other => Ok(other?),
    }
}

/// What one sweep run did with deposits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Settled {
    /// Bookings whose deposit was not paid in time, let go.
    pub lapsed: usize,
    /// Deposits refunded at the processor.
    pub refunded: usize,
    /// Tasks left for a later run (the processor or the table could not be reached, or a
    /// payment is still being completed).
    pub deferred: usize,
}

/// One run over the deposit and refund tasks; `run_id` names it in the audit entries.
#[tracing::instrument(skip_all)]
pub async fn settle(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    run_id: &str,
) -> Result<Settled, ApiError> {
    let actor = Actor::System {
        name: "sweep",
        request_id: run_id,
    };
    let mut settled = Settled::default();
    let now = state.clock.now().as_second();
    let waiting = Query::partition(DEPOSIT_TASKS)
        .consistent()
        .limit(TASKS_PER_RUN);
    for task in &state.table.query(&waiting).await?.items {
        match lapse(state, processor, task, now, actor).await {
            Ok(Lapse::Lapsed) => settled.lapsed += 1,
            Ok(Lapse::Nothing) => {}
            // Paid or being paid: its webhook decides; counted, so a payment that never settles
            // does not hold the task (and the tasks after it) for good.
            Ok(Lapse::Waiting) => {
                settled.deferred += 1;
                super::collect::failed(state, task, run_id).await?;
            }
            Err(e) => {
                tracing::warn!(error = %e, "a deposit could not be settled; a later run retries");
                settled.deferred += 1;
                super::collect::failed(state, task, run_id).await?;
            }
        }
    }
    let refunds = Query::partition(REFUND_TASKS)
        .consistent()
        .limit(TASKS_PER_RUN);
    for task in &state.table.query(&refunds).await?.items {
        match refund(state, processor, task, actor).await {
            Ok(true) => settled.refunded += 1,
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, "a deposit could not be refunded; a later run retries");
                settled.deferred += 1;
                super::collect::failed(state, task, run_id).await?;
            }
        }
    }
    Ok(settled)
}

fn forget(task: &Item) -> TransactOp {
    TransactOp::Delete {
        key: task.key.clone(),
        condition: None,
    }
}

/// What a waiting deposit's task came to in one run.
enum Lapse {
    Lapsed,
    /// Its payment is made or being made: the webhook decides.
    Waiting,
    Nothing,
}

/// A waiting deposit's task: nothing before it is due (unless its booking was cancelled); then
/// its intent is cancelled and the booking lapses; a booking confirmed meanwhile only loses the
/// task. A payment already made (or being made) is left to its webhook: it confirms the booking
/// while its time is still its own, or has the deposit refunded.
async fn lapse(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    task: &Item,
    now: i64,
    actor: Actor<'_>,
) -> Result<Lapse, ApiError> {
    let due = task
        .get(attr::DUE_AT)
        .and_then(AttrValue::as_n)
        .unwrap_or(0);
    let id = AppointmentId::parse(&task.key.sk);
    let item = match &id {
        Some(id) => {
            state
                .table
                .get(&appointment_key(id), Consistency::Strong)
                .await?
        }
        None => None,
    };
    let Some(item) = item else {
        state.table.transact_write(vec![forget(task)]).await?;
        return Ok(Lapse::Nothing);
    };
    let appt = Appointment::from_item(&item)?;
    let waiting = appt.status == Status::AwaitingDeposit;
    if waiting && now < due {
        return Ok(Lapse::Nothing);
    }
    if !matches!(appt.status, Status::AwaitingDeposit | Status::Cancelled) {
        // Confirmed by its webhook.
        state.table.transact_write(vec![forget(task)]).await?;
        return Ok(Lapse::Nothing);
    }
    // Waiting past its due time, or cancelled while waiting: its intent can no longer be paid.
    if let Some(payment) = payment_of(state, &appt.patient, &appt.id).await? {
        match payment.progress.status {
            // Its webhook came: it has the deposit refunded (the time was gone).
            PaymentStatus::Succeeded => {}
            PaymentStatus::Canceled => {}
            _ => {
                // A key per attempt: the processor replays an answer under a key seen before
                // (a "processing" one would stand for a day after the payment failed).
                let attempt = task
                    .get(attr::ATTEMPTS)
                    .and_then(AttrValue::as_n)
                    .unwrap_or(0);
                let key = ProcessorKey::new(format!("practica-cancel-{}-{attempt}", payment.id));
                if processor.cancel_intent(&payment.intent, &key).await? == Cancel::TooLate {
                    return Ok(Lapse::Waiting);
                }
            }
        }
    }
    let mut ops = vec![forget(task)];
    if !waiting {
        state.table.transact_write(ops).await?;
        return Ok(Lapse::Nothing);
    }
    let lapsed = Appointment {
        status: Status::Cancelled,
        version: appt.version + 1,
        deposit: appt.deposit.map(|d| Deposit {
            state: DepositState::Lapsed,
            ..d
        }),
        ..appt.clone()
    };
    ops.extend(rewrite_ops(&lapsed, &item));
    if let Some(slot) = appt.quota_slot {
        let key = allowance::slot_key(&appt.patient, Kind::Appointment, slot);
        if allowance::still_held(state, &key, appt.id.as_str(), now).await? {
            ops.push(allowance::release_key(key, appt.id.as_str()));
        }
    }
    ops.push(TransactOp::Put {
        item: Audit::new("appointment.lapse", "appointment", appt.id.as_str())
            .about(&appt.patient)
            .item(state, actor),
        condition: Some(Condition::ItemAbsent),
    });
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(Lapse::Lapsed),
        // Confirmed or cancelled meanwhile: the next run sees it.
        Err(TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict) => {
            Ok(Lapse::Nothing)
        }
        Err(e) => Err(e.into()),
    }
}

/// A refund task: the deposit's payment refunded at the processor by the amount the task names
/// (never more than is left of it), under one key per payment, so every attempt asks the same
/// refund; then the task removed with its audit entry. Once the payment's record shows that much
/// refunded (its webhook came), the task is done whatever an earlier attempt's write did. Returns
/// whether money was refunded.
async fn refund(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    task: &Item,
    actor: Actor<'_>,
) -> Result<bool, ApiError> {
    let patient = task_patient(task)?;
    let payment = match AppointmentId::parse(&task.key.sk) {
        Some(id) => payment_of(state, &patient, &id).await?,
        None => None,
    };
    let asked = task
        .get(attr::AMOUNT)
        .and_then(AttrValue::as_n)
        .unwrap_or(0);
    let Some(payment) = payment.filter(|p| p.progress.status == PaymentStatus::Succeeded) else {
        // Nothing was paid (a task written in error): nothing to give back.
        state.table.transact_write(vec![forget(task)]).await?;
        return Ok(false);
    };
    let total = payment.amount.amount();
    let refunded_so_far = payment.progress.refunded_net(total);
    // Refunded from the processor's dashboard too: never more than is left.
    let amount = if refunded_so_far >= asked {
        0
    } else {
        asked.min(total - refunded_so_far)
    };
    let mut ops = vec![TransactOp::Delete {
        key: task.key.clone(),
        condition: Some(Condition::ItemExists),
    }];
    let refunded = amount > 0;
    if refunded {
        let money = Money::new(amount, payment.amount.currency())
            .ok_or_else(|| anyhow::anyhow!("a refund's amount out of range"))?;
        let key = ProcessorKey::new(format!("practica-refund-{}", payment.id));
        processor.refund(&payment.intent, money, &key).await?;
        ops.push(TransactOp::Put {
            item: Audit::new("deposit.refund", "payment", payment.id.as_str())
                .about(&patient)
                .item(state, actor),
            condition: Some(Condition::ItemAbsent),
        });
    }
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(refunded),
        Err(TableError::TransactionConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}
