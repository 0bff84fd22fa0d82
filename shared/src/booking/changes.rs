//! Changing an appointment: rescheduling and cancelling, within the provider's cut-off for
//! patients; freed time is offered to the waitlist.

use super::access::{authorize_attendance, authorize_change};
use super::appointments::load_naming_patient;
use super::slots::{LOCK_GRACE_SECS, free_or, release_lock, take_lock};
use super::waitlist::{Freed, offer_freed_best_effort};
use crate::common::input::{body_start, reason_text};
use crate::common::lookup::{now, offered_service, practice, provider};
use crate::store::attr;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::notify::MessageCodec;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::common::{deposits, fees};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Item;
use crate::store::codec::booking::ProviderCodec;
use crate::store::keys::{PROVIDERS_INDEX, appointment_key, calendar_partition, instant_key};
use crate::store::{
    AttrValue, Condition, Consistency, Query, SortKey, TableError, TransactOp, query_all,
};
use crate::unit_of_work::allowance::{self, Kind};
use crate::unit_of_work::refused;
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::booking::*;
use domain::fees::FeeKind;
use domain::ids::AppointmentId;
use domain::notify::{Kind as MessageKind, Message, appointment_messages};
use domain::refusals::BookingError;
use domain::schedule::{Calendar, units};

/// The visit reason an appointment's stored item holds, still sealed (a change keeps it as is).
fn sealed_reason(item: &Item) -> Option<Vec<u8>> {
    item.get(attr::REASON)
        .and_then(AttrValue::as_b)
        .map(<[u8]>::to_vec)
}

/// Patients change an appointment only before the provider's cut-off; staff at any time.
pub(crate) fn check_cutoff(
    caller: &Caller,
    appt: &Appointment,
    provider: &Provider,
    now: i64,
) -> Result<(), ApiError> {
    check_changeable(caller, appt, provider, now, true, false)
}

/// A patient moves a visit booked under a late-cancellation fee only before its window: inside
/// it, a move would take the visit out of the window and its cancellation free of the fee.
pub(crate) fn check_fee_window(
    caller: &Caller,
    appt: &Appointment,
    now: i64,
) -> Result<(), ApiError> {
    let inside = appt.terms.as_ref().is_some_and(|t| {
        t.late_fee_at(appt.start, now, appt.paid_deposit())
            .is_some()
    });
    if inside && !caller.is_staff() {
        return Err(ApiError::Booking(BookingError::InsideFeeWindow));
    }
    Ok(())
}

/// As [`check_cutoff`]; `cutoff` false lets a patient past the cut-off (a cancellation whose
/// lateness the policy's fee answers); `cancelling` lets a visit waiting for its deposit go (it
/// cannot be moved before it is confirmed).
fn check_changeable(
    caller: &Caller,
    appt: &Appointment,
    provider: &Provider,
    now: i64,
    cutoff: bool,
    cancelling: bool,
) -> Result<(), ApiError> {
    match appt.status {
        Status::Booked => {}
        Status::AwaitingDeposit if cancelling => {}
        Status::AwaitingDeposit => return Err(ApiError::Booking(BookingError::AwaitingDeposit)),
        Status::Cancelled => return Err(ApiError::Booking(BookingError::AppointmentCancelled)),
        Status::Arrived | Status::Completed | Status::NoShow => {
            return Err(ApiError::Booking(BookingError::AttendanceRecorded));
        }
    }
    if appt.start <= now {
        return Err(ApiError::Booking(BookingError::AppointmentStarted));
    }
    if cutoff && !caller.is_staff() && now > appt.start - provider.rules.cancel_cutoff() {
        return Err(ApiError::Booking(BookingError::CutoffPassed));
    }
    Ok(())
}

/// The appointment, if the caller may change it.
/// The appointment `id` if `caller` may change it; a refusal is audited against `target`, naming
/// the appointment's patient when it exists.
async fn loadable(
    state: &AppState,
    caller: &Caller,
    id: &AppointmentId,
    target: Audit,
) -> Result<(Appointment, Item), ApiError> {
    let (target, loaded) = load_naming_patient(state, id, target).await;
    let checked = loaded.and_then(|(appt, item)| {
        authorize_change(caller, &appt)?;
        Ok((appt, item))
    });
    refused(state, caller, target, checked).await
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start: String,
}

#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn reschedule(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    req: RescheduleRequest,
) -> Result<Reply, ApiError> {
    let start = body_start(&req.start)?;
    let target = Audit::new("appointment.reschedule", "appointment", id.as_str());
    let (appt, item) = loadable(state, caller, id, target).await?;
    let practice = practice(state).await?;
    let provider = provider(state, &appt.provider).await?;
    let now = now(state);
    check_cutoff(caller, &appt, &provider, now)?;
    check_fee_window(caller, &appt, now)?;
    let service = offered_service(state, &appt.service, &provider.id).await?;
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    cal.check(start, service.duration(), now)
        .map_err(ApiError::from)?;
    if start == appt.start {
        return Err(ApiError::Booking(BookingError::SameStart));
    }
    let moved = Appointment {
        start,
        end: start + service.duration(),
        occupied: cal.occupied(start, service.duration()),
        version: appt.version + 1,
        ..appt.clone()
    };
    let old: BTreeSet<i64> = units(appt.occupied.0, appt.occupied.1).collect();
    let new: BTreeSet<i64> = units(moved.occupied.0, moved.occupied.1).collect();
    let expires = moved.occupied.1 + LOCK_GRACE_SECS;
    // Newly covered units must be free; any other failed condition means the appointment moved on.
    let taken = || ApiError::Booking(BookingError::SlotTaken);
    let changed = || ApiError::Booking(BookingError::AppointmentChanged);
    let claimed: Vec<Write> = new
        .difference(&old)
        .map(|&u| take_lock(&provider.id, u, id.as_str(), expires, free_or(now, None)))
        .map(|op| Write::new(op).or(taken()))
        .collect();
    // Units kept by both spans get the new expiry; released ones must still be ours.
    let mut ops: Vec<TransactOp> = Vec::new();
    ops.extend(new.intersection(&old).map(|&u| {
        take_lock(
            &provider.id,
            u,
            id.as_str(),
            expires,
            Condition::Equals(attr::OWNER.into(), id.as_str().into()),
        )
    }));
    ops.extend(moved_ops(&appt, &item, &moved, &practice, now, true));
    // An online visit's room starts afresh at the new time (no admission carries over).
    if appt.online {
        ops.push(TransactOp::Delete {
            key: crate::store::keys::visit_key(id),
            condition: None,
        });
    }
    // The reminder of missing forms follows the visit to its new time.
    if !(service.forms_before_first_visit.is_empty() && service.forms_before_every_visit.is_empty())
        && let Some(reminder) = domain::notify::forms_reminder(&moved, now)
    {
        ops.push(reminder.put());
    }
    if let Some(slot) = moved.quota_slot {
        ops.push(allowance::extend(
            &moved.patient,
            Kind::Appointment,
            slot,
            id.as_str(),
            moved.start,
        ));
    }
    // An occurrence of a series moved alone: the series' record says where it now is, in the
    // same write (and no series change may be under way).
    if let Some(series_id) = &appt.series {
        ops.push(crate::booking::series::occurrence_moved(state, series_id, id, start).await?);
    }
    let reply = Reply::ok(&moved.view(&practice.zone, None))?.with_patient_data();
    let audit =
        Audit::new("appointment.reschedule", "appointment", id.as_str()).about(&appt.patient);
    let rest = ops.into_iter().map(|op| Write::new(op).or(changed()));
    let writes = claimed.into_iter().chain(rest).collect();
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    if !reply.replayed {
        let freed = Freed {
            span: appt.occupied,
            by: &appt.patient,
        };
        offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
    }
    Ok(reply)
}

/// The writes that move a booked appointment once the units of its new time are its own: the old
/// units it no longer covers given back, the appointment (still at the version read, still booked)
/// and the patient's copy at the new time, the notice and the new time's reminders (the old ones
/// name the old version and are withdrawn when they come due).
/// `notice`: the "moved" message too (a series move sends one message for all its visits).
pub(crate) fn moved_ops(
    appt: &Appointment,
    item: &Item,
    moved: &Appointment,
    practice: &Practice,
    now: i64,
    notice: bool,
) -> Vec<TransactOp> {
    let new: BTreeSet<i64> = units(moved.occupied.0, moved.occupied.1).collect();
    let mut ops: Vec<TransactOp> = units(appt.occupied.0, appt.occupied.1)
        .filter(|u| !new.contains(u))
        .map(|u| release_lock(&appt.provider, u, appt.id.as_str()))
        .collect();
    ops.push(TransactOp::Put {
        item: moved.to_item(sealed_reason(item)),
        condition: Some(Condition::And(vec![
            Condition::version_is(appt.version),
            Condition::Equals(attr::STATUS.into(), Status::Booked.as_str().into()),
        ])),
    });
    ops.push(TransactOp::Put {
        item: moved.patient_copy(),
        condition: None,
    });
    ops.extend(
        appointment_messages(MessageKind::Rescheduled, moved, practice, now)
            .iter()
            .skip(usize::from(!notice))
            .map(Message::put),
    );
    ops
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Staff only: the practice cancelled (the provider cannot see the patient), so the
    /// cancellation policy charges no fee.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub by_practice: bool,
    /// The late-cancellation fee the patient agreed to pay, as she was shown it: a patient's
    /// cancellation that costs a fee is refused (`409 fee_applies`, naming it) without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_fee: Option<domain::money::Money>,
}

#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    req: CancelRequest,
) -> Result<Reply, ApiError> {
    let reason = reason_text(req.reason)?;
    let target = Audit::new("appointment.cancel", "appointment", id.as_str());
    let (appt, item) = loadable(state, caller, id, target.clone()).await?;
    // Only staff say the practice cancelled (a refusal is in the log, naming the patient).
    if req.by_practice {
        let allowed = caller.authorize_staff().map_err(ApiError::from);
        refused(state, caller, target.about(&appt.patient), allowed).await?;
    }
    let practice = practice(state).await?;
    let provider = provider(state, &appt.provider).await?;
    let now = now(state);
    // Booked under a late-cancellation fee, a patient may cancel up to the start: inside the
    // window the fee answers the lateness (the practice's own cancellations charge none).
    let fee_terms = fees::fee_of(&appt, FeeKind::LateCancellation).is_some();
    check_changeable(caller, &appt, &provider, now, !fee_terms, true)?;
    // A visit not confirmed (its deposit unpaid) costs nothing to cancel.
    let fee = match &appt.terms {
        Some(terms) if !req.by_practice && appt.status == Status::Booked => {
            terms.late_fee_at(appt.start, now, appt.paid_deposit())
        }
        _ => None,
    };
    // A patient is charged only the fee she accepted (the page shows it before the click); staff
    // cancel on the patient's word, and may waive.
    if let Some(fee) = fee
        && !caller.is_staff()
        && req.accept_fee != Some(fee)
    {
        return Err(ApiError::FeeApplies(fee));
    }
    let why = Cancelling {
        reason: reason.as_deref(),
        by_practice: req.by_practice,
    };
    // A paid deposit is refunded, less the fee it pays.
    let (settled, refund) = deposits::settle_ops(&appt, fee);
    let (mut ops, cancelled) =
        cancel_ops(state, &settled, &item, &practice, now, why, true).await?;
    ops.extend(refund);
    let mut view = cancelled.view(&practice.zone, None);
    if let Some(amount) = fee {
        let kind = FeeKind::LateCancellation;
        ops.extend(fees::charge_ops(state, Actor::Caller(caller), &appt, kind, amount, now).await?);
        view["fee"] = fees::fee_view(&appt, kind, amount);
    }
    let reply = Reply::ok(&view)?.with_patient_data();
    let audit = Audit::new("appointment.cancel", "appointment", id.as_str()).about(&appt.patient);
    let changed = || ApiError::Booking(BookingError::AppointmentChanged);
    let writes = ops
        .into_iter()
        .map(|op| Write::new(op).or(changed()))
        .collect();
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    if !reply.replayed {
        let freed = Freed {
            span: appt.occupied,
            by: &appt.patient,
        };
        offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
    }
    Ok(reply)
}

/// Why an appointment is cancelled: the reason given (sealed), and whether the practice cancelled.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cancelling<'a> {
    pub reason: Option<&'a str>,
    pub by_practice: bool,
}

/// The writes that cancel a booked appointment: its lock units given back, the appointment and
/// the patient's copy marked cancelled (with the sealed reason, if given), the notice, and its
/// allowance slot released. Returns them with the cancelled appointment.
pub(crate) async fn cancel_ops(
    state: &AppState,
    appt: &Appointment,
    item: &Item,
    practice: &Practice,
    now: i64,
    why: Cancelling<'_>,
    notice: bool,
) -> Result<(Vec<TransactOp>, Appointment), ApiError> {
    let id = &appt.id;
    let reason = why.reason;
    let awaiting = appt.status == Status::AwaitingDeposit;
    let cancelled = Appointment {
        status: Status::Cancelled,
        version: appt.version + 1,
        by_practice: why.by_practice,
        // Never paid: the sweep cancels its intent now (a payment that lands anyway is refunded);
        // the deposit stays as it was asked (a cancellation, not a lapse).
        ..appt.clone()
    };
    // A visit waiting for its deposit holds its units only until the deposit is due: past it,
    // they may be another's already.
    let held = !awaiting || appt.deposit.is_some_and(|d| now < d.due_by);
    let mut ops: Vec<TransactOp> = units(appt.occupied.0, appt.occupied.1)
        .filter(|_| held)
        .map(|u| release_lock(&appt.provider, u, id.as_str()))
        .collect();
    if awaiting {
        ops.push(deposits::task_op(appt, now));
    }
    let mut stored = cancelled.to_item(sealed_reason(item));
    if let Some(r) = reason {
        stored.set(
            attr::CANCEL_REASON,
            state
                .sealer
                .seal_str(&item.key, attr::CANCEL_REASON, r)
                .await?,
        );
    }
    ops.push(TransactOp::Put {
        item: stored,
        condition: Some(Condition::version_is(appt.version)),
    });
    ops.push(TransactOp::Put {
        item: cancelled.patient_copy(),
        condition: None,
    });
    // The notice; its reminders name a booked version and are withdrawn when they come due (a
    // visit never confirmed had none).
    if notice && !awaiting {
        ops.extend(
            appointment_messages(MessageKind::Cancelled, &cancelled, practice, now)
                .iter()
                .map(Message::put),
        );
    }
    if let Some(slot) = cancelled.quota_slot {
        ops.push(allowance::release(
            &cancelled.patient,
            Kind::Appointment,
            slot,
            id.as_str(),
        ));
    }
    Ok((ops, cancelled))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AttendanceRequest {
    pub status: Attendance,
}

/// The front desk records attendance: the patient checked in, the visit completed, a no-show
/// (the fees issue charges on it). Staff, admins and the appointment's own provider; the time
/// stays taken whatever is recorded.
#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn record_attendance(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    req: AttendanceRequest,
) -> Result<Reply, ApiError> {
    // The action says what was recorded (a later fee or dispute reads it from the log).
    let action = match req.status {
        Attendance::Arrived => "appointment.check_in",
        Attendance::Completed => "appointment.complete",
        Attendance::NoShow => "appointment.no_show",
    };
    let target = Audit::new(action, "appointment", id.as_str());
    let (target, loaded) = load_naming_patient(state, id, target).await;
    let checked = async {
        let (appt, item) = loaded?;
        let provider = provider(state, &appt.provider).await?;
        authorize_attendance(caller, &provider)?;
        Ok((appt, item))
    };
    let (appt, item) = refused(state, caller, target.clone(), checked.await).await?;
    let now = now(state);
    appt.attendance(req.status, now)
        .map_err(ApiError::Booking)?;
    let practice = practice(state).await?;
    let (ops, recorded, fee) =
        attendance_ops(state, Actor::Caller(caller), &appt, &item, req.status, now).await?;
    let mut view = recorded.view(&practice.zone, None);
    if let Some(amount) = fee {
        view["fee"] = fees::fee_view(&appt, FeeKind::NoShow, amount);
    }
    let writes = ops
        .into_iter()
        .map(|op| Write::new(op).or(BookingError::AppointmentChanged))
        .collect();
    let reply = Reply::ok(&view)?.with_patient_data();
    Ok(commit(state, caller, Some(idem), writes, target, reply).await?)
}

/// The writes that record attendance `to` for `appt` (stored as `item`, checked allowed) at `now`:
/// the appointment (at the version read) and the patient's copy; under a no-show fee, a no-show
/// charges it and a late arrival after one waives it. Returns them with the recorded appointment
/// and the fee charged.
pub(crate) async fn attendance_ops(
    state: &AppState,
    actor: Actor<'_>,
    appt: &Appointment,
    item: &Item,
    to: Attendance,
    now: i64,
) -> Result<(Vec<TransactOp>, Appointment, Option<domain::money::Money>), ApiError> {
    let kind = FeeKind::NoShow;
    let fee = fees::fee_of(appt, kind);
    // A no-show's paid deposit pays its fee; the rest is refunded.
    let (settled, refund) = match to {
        Attendance::NoShow => deposits::settle_ops(appt, fee),
        _ => (appt.clone(), None),
    };
    let recorded = Appointment {
        status: to.status(),
        version: appt.version + 1,
        ..settled
    };
    let mut ops = deposits::rewrite_ops(&recorded, item);
    ops.extend(refund);
    let mut charged = None;
    if let Some(amount) = fee {
        if to == Attendance::NoShow {
            ops.extend(fees::charge_ops(state, actor, appt, kind, amount, now).await?);
            charged = Some(amount);
        } else if appt.status == Status::NoShow {
            // Marked a no-show, then arrived late: the fee that mark charged is waived.
            ops.extend(fees::arrived_late_ops(state, actor, appt, now).await?);
        }
    }
    Ok((ops, recorded, charged))
}

/// How far back the sweep looks for visits to mark: a practice that turns marking on does not
/// reach back into its history.
pub const NO_SHOW_LOOKBACK_SECS: i64 = 24 * 3600;

/// Marks no-shows for the sweep, when the practice asked for it: every visit still booked (no one
/// checked it in) whose start is `autoNoShowMinutes` past and at most a day ago, as the front desk
/// would (its no-show fee charged once: a mark racing the front desk's lands once, the other finds
/// the version moved). Each mark has its audit entry by the system actor `sweep`. Returns how many.
#[tracing::instrument(skip_all)]
pub async fn mark_no_shows(state: &AppState, run_id: &str) -> Result<usize, ApiError> {
    // A practice not set up yet marks nothing (the sweep's other parts still run).
    let minutes = match practice(state).await {
        Ok(practice) => practice.auto_no_show_minutes,
        Err(ApiError::Booking(BookingError::PracticeNotConfigured)) => None,
        Err(e) => return Err(e),
    };
    let Some(minutes) = minutes else {
        return Ok(0);
    };
    let now = now(state);
    let actor = Actor::System {
        name: "sweep",
        request_id: run_id,
    };
    let providers = query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX)).await?;
    let mut marked = 0;
    for provider in &providers {
        let provider = Provider::from_item(provider)?;
        let query = Query::gsi1(calendar_partition(&provider.id)).sort(SortKey::Between(
            instant_key(now - NO_SHOW_LOOKBACK_SECS),
            instant_key(now - i64::from(minutes) * 60),
        ));
        for listed in query_all(&*state.table, &query).await? {
            let listed = Appointment::from_item(&listed)?;
            if listed.status != Status::Booked {
                continue;
            }
            // The appointment as it is now (the index may lag), with its sealed reason.
            let key = appointment_key(&listed.id);
            let Some(item) = state.table.get(&key, Consistency::Strong).await? else {
                continue;
            };
            let appt = Appointment::from_item(&item)?;
            if appt.attendance(Attendance::NoShow, now).is_err() {
                continue;
            }
            let (mut ops, _, _) =
                attendance_ops(state, actor, &appt, &item, Attendance::NoShow, now).await?;
            ops.push(TransactOp::Put {
                item: Audit::new("appointment.no_show", "appointment", appt.id.as_str())
                    .about(&appt.patient)
                    .item(state, actor),
                condition: Some(Condition::ItemAbsent),
            });
            match state.table.transact_write(ops).await {
                Ok(()) => marked += 1,
                // The front desk recorded something meanwhile: theirs stands.
                Err(
                    TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict,
                ) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(marked)
}
