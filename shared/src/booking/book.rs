//! Booking an appointment, from a hold or directly: locks, the appointment and the patient's copy,
//! the allowance, the confirmation and reminders in the outbox, audit and idempotency record in
//! one transaction.

use super::slots::{LOCK_GRACE_SECS, free_or, requested_slot, take_lock};
use super::waitlist::close_ops;
use crate::common::access::acting_for;
use crate::common::deposits;
use crate::common::input::reason_text;
use crate::store::attr;
use crate::store::codec::booking::{AppointmentCodec, HoldCodec, WaitlistEntryCodec};
use crate::unit_of_work::allowance::{allowance, commit_claiming};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Key, TransactOp};
use crate::unit_of_work::allowance::{self, Kind};
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write};
use domain::access::Caller;
use domain::booking::*;
use domain::ids::{AppointmentId, HoldId, PatientId, ProviderId, ServiceId};
use domain::refusals::BookingError;
use domain::schedule::units;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookRequest {
    pub provider_id: ProviderId,
    pub service_id: ServiceId,
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<HoldId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// The version of the cancellation policy the patient was shown (`cancellationTerms.version`
    /// of the service): a policy changed since is refused (`409 policy_changed`), so what she
    /// accepted is what the appointment keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_policy_version: Option<String>,
    /// Online (by video) or in person, for a service that may be either; an online service's
    /// visits are online, an in-person one's never (`422 visit_mode_not_offered`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
}

/// A hold the caller may book from: theirs, for this slot, not expired.
pub(super) async fn usable_hold(
    state: &AppState,
    id: &HoldId,
    patient: &PatientId,
    appt: &Appointment,
    now: i64,
) -> Result<Hold, ApiError> {
    let expired = || ApiError::Booking(BookingError::HoldExpired);
    let Some(item) = state.table.get(&hold_key(id), Consistency::Strong).await? else {
        return Err(expired());
    };
    let hold = Hold::from_item(&item)?;
    if hold.patient != *patient {
        return Err(ApiError::Forbidden);
    }
    if hold.expires_at <= now {
        return Err(expired());
    }
    if hold.provider != appt.provider || hold.service != appt.service || hold.start != appt.start {
        return Err(ApiError::Booking(BookingError::HoldMismatch));
    }
    Ok(hold)
}

/// The writes that close the waitlist entry a hold was offered from, while the entry still holds
/// that offer: booking the offer serves the request, so the entry goes and its allowance slot and
/// request claim are given back in the booking's transaction. Read only for an offer's hold, not
/// on a plain booking's round trip.
async fn served_entry_ops(
    state: &AppState,
    caller: &Caller,
    hold: &Hold,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    let Some(entry_id) = &hold.waitlist else {
        return Ok(Vec::new());
    };
    let entry_key = Key::new(waitlist_partition(&hold.provider), entry_id.as_str());
    let Some(item) = state.table.get(&entry_key, Consistency::Strong).await? else {
        return Ok(Vec::new());
    };
    let entry = WaitlistEntry::from_item(&item)?;
    if entry.hold.as_ref() != Some(&hold.id) {
        return Ok(Vec::new());
    }
    let mut ops = close_ops(state, &entry, now).await?;
    ops.push(TransactOp::Put {
        item: Audit::new("waitlist.delete", "waitlist", entry.id.as_str())
            .about(&entry.patient)
            .item(state, Actor::Caller(caller)),
        condition: Some(Condition::ItemAbsent),
    });
    Ok(ops)
}

#[tracing::instrument(skip_all)]
pub async fn book(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: BookRequest,
) -> Result<Reply, ApiError> {
    let staff_for_other = req.patient_id.is_some();
    let patient = acting_for(caller, req.patient_id)?;
    let reason = reason_text(req.reason)?;
    let slot = requested_slot(state, &req.provider_id, &req.service_id, &req.start).await?;
    if let Some(accepted) = &req.accepted_policy_version
        && slot.service.terms().map(|t| t.version).as_ref() != Some(accepted)
    {
        return Err(ApiError::Booking(BookingError::PolicyChanged));
    }
    let (practice, provider) = (&slot.practice, &slot.provider);
    let now = slot.now;
    let appt = Appointment {
        id: AppointmentId::new(),
        patient,
        provider: provider.id.clone(),
        service: slot.service.id.clone(),
        start: slot.start,
        end: slot.end,
        occupied: slot.occupied,
        status: Status::Booked,
        version: 1,
        created_at: now,
        quota_slot: None,
        from_hold: req.hold_id.clone(),
        series: None,
        terms: slot.service.terms(),
        by_practice: false,
        deposit: None,
        online: slot.service.visit_mode.online(req.online)?,
    };
    // A patient booking herself a service that asks a deposit: the visit waits for it, its time
    // held as long as a hold's (staff booking for her confirm at once: the practice takes it as
    // it sees fit).
    let hold_secs = i64::from(practice.hold_minutes) * 60;
    let appt = match deposits::asked(&slot.service, now, hold_secs) {
        Some(deposit) if !staff_for_other && !caller.is_staff() => Appointment {
            status: Status::AwaitingDeposit,
            deposit: Some(deposit),
            ..appt
        },
        _ => appt,
    };
    let hold = match &req.hold_id {
        Some(id) => Some(usable_hold(state, id, &appt.patient, &appt, now).await?),
        None => None,
    };
    // A waitlist offer booked: its entry closes with the booking.
    let served = match &hold {
        Some(h) => served_entry_ops(state, caller, h, now).await?,
        None => Vec::new(),
    };
    let key = appointment_key(&appt.id);
    let sealed = match &reason {
        Some(r) => Some(state.sealer.seal_str(&key, attr::REASON, r).await?),
        None => None,
    };
    let consents = super::consents::required_checks(state, &slot.service, &appt.patient).await?;
    let expires = match &appt.deposit {
        Some(deposit) => deposit.due_by,
        None => appt.occupied.1 + LOCK_GRACE_SECS,
    };
    let condition = free_or(now, hold.as_ref().map(|h| &h.id));
    let taken = || ApiError::Booking(BookingError::SlotTaken);
    let expired = || ApiError::Booking(BookingError::HoldExpired);
    // In the order their refusals take precedence: the time, the hold, the patient.
    let build = |quota_slot| {
        let appt = Appointment {
            quota_slot,
            ..appt.clone()
        };
        let mut writes: Vec<Write> = units(appt.occupied.0, appt.occupied.1)
            .map(|u| {
                let lock = take_lock(
                    &provider.id,
                    u,
                    appt.id.as_str(),
                    expires,
                    condition.clone(),
                );
                Write::new(lock).or(taken())
            })
            .collect();
        writes.push(Write::new(TransactOp::Put {
            item: appt.to_item(sealed.clone()),
            condition: Some(Condition::ItemAbsent),
        }));
        writes.push(Write::new(TransactOp::Put {
            item: appt.patient_copy(),
            condition: Some(Condition::ItemAbsent),
        }));
        if let Some(h) = &hold {
            let delete = TransactOp::Delete {
                key: hold_key(&h.id),
                condition: Some(Condition::ItemExists),
            };
            writes.push(Write::new(delete).or(expired()));
        }
        // The hold's allowance is given back as the appointment takes its own.
        if let Some((h, slot)) = hold.as_ref().and_then(|h| Some((h, h.quota_slot?))) {
            let release = allowance::release(&h.patient, Kind::Hold, slot, h.id.as_str());
            writes.push(Write::new(release).or(expired()));
        }
        for op in &served {
            writes.push(Write::new(op.clone()).or(expired()));
        }
        // Confirmed now, or (waiting for its deposit) when the webhook says it was paid.
        match &appt.deposit {
            Some(deposit) => writes.push(Write::new(deposits::task_op(&appt, deposit.due_by))),
            None => {
                let messages = deposits::confirmation_ops(&appt, &slot.service, practice, now);
                writes.extend(messages.into_iter().map(Write::new));
            }
        }
        if staff_for_other {
            let registered = TransactOp::Check {
                key: patient_key(&appt.patient),
                condition: Condition::ItemExists,
            };
            writes.push(Write::new(registered).or(BookingError::UnknownPatient));
        }
        writes.extend(consents.writes());
        writes
    };
    let reply = Reply::created(&appt.view(&practice.zone, reason.as_deref()))?.with_patient_data();
    let mut audit =
        Audit::new("appointment.create", "appointment", appt.id.as_str()).about(&appt.patient);
    // The log's entry names the policy the visit was booked under (what she was shown and agreed
    // to: the evidence a disputed fee needs).
    if let Some(terms) = &appt.terms {
        audit = audit.document(&terms.version);
    }
    let allowance = allowance(
        caller,
        practice,
        &appt.patient,
        Kind::Appointment,
        appt.id.as_str(),
        appt.start,
        now,
    );
    let result = commit_claiming(state, caller, idem, allowance, build, audit, reply).await;
    super::consents::listed_in_full(state, &slot.service, &appt.patient, result).await
}
