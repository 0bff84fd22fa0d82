//! Changing a series from one occurrence on: cancel it and all following, or move it and all
//! following to a new weekday and time (each re-checked, all or nothing). One occurrence alone is
//! cancelled or moved as any appointment is.

use serde::{Deserialize, Serialize};

use super::{Checker, commit_room, move_ops, pack, pending, reconcile};
use crate::booking::changes::{Cancelling, cancel_ops, check_cutoff, check_fee_window};
use crate::booking::waitlist::{Freed, offer_freed_best_effort};
use crate::common::fees;
use crate::common::input::{body_start, reason_text};
use crate::common::lookup::{now, offered_service, practice, provider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::SeriesCodec;
use crate::store::codec::notify::MessageCodec;
use crate::store::keys::appointment_key;
use crate::store::{Condition, Consistency, TransactOp};
use crate::unit_of_work::allowance::{self, Kind, still_held};
use crate::unit_of_work::refused;
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::booking::{Appointment, Status};
use domain::fees::FeeKind;
use domain::ids::{AppointmentId, SeriesId};
use domain::notify::{Kind as MessageKind, Message};
use domain::refusals::BookingError;
use domain::series::{Occurrence, Series, every_weeks_from};

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelFollowingRequest {
    /// The first occurrence to cancel; it and every later one are cancelled.
    pub from_appointment_id: AppointmentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MoveFollowingRequest {
    /// The first occurrence to move; it and every later booked one move.
    pub from_appointment_id: AppointmentId,
    /// Its new start; the following ones fall on its weekday at its wall time, as often as before.
    pub start: String,
}

/// The series, finished if its last writes had not landed, and its occurrences' appointments, if
/// the caller may change it (its patient within the cut-off, staff); refusals are audited.
async fn changeable(
    state: &AppState,
    caller: &Caller,
    id: &SeriesId,
    action: &'static str,
) -> Result<(Series, Vec<Option<Appointment>>), ApiError> {
    let target = Audit::new(action, "series", id.as_str());
    let loaded = super::load(state, id).await;
    let target = match &loaded {
        Ok(series) => target.about(&series.patient),
        Err(_) => target,
    };
    let checked = loaded.and_then(|series| {
        caller.principal.authorize(
            &[
                domain::access::Role::Patient,
                domain::access::Role::Staff,
                domain::access::Role::Admin,
            ],
            domain::access::Resource::Patient(series.patient.subject()),
        )?;
        Ok(series)
    });
    let series = refused(state, caller, target, checked).await?;
    if !series.committed() {
        return Err(ApiError::NotFound);
    }
    if series.pending.is_some() {
        return Err(BookingError::SeriesChanged.into());
    }
    let appts = reconcile(state, &series, Actor::Caller(caller)).await?;
    Ok((series, appts))
}

/// The booked, upcoming occurrences from `from` on (in order), refusing a `from` that is not one.
/// `from_done`: the change may already have reached `from` (an interrupted cancellation retried).
fn following<'a>(
    series: &'a Series,
    appts: &'a [Option<Appointment>],
    from: &AppointmentId,
    now: i64,
    from_done: bool,
) -> Result<Vec<(usize, &'a Occurrence, &'a Appointment)>, ApiError> {
    let at = series
        .occurrences
        .iter()
        .position(|o| &o.id == from)
        .ok_or(BookingError::NotInSeries)?;
    let booked = |i: usize| {
        appts
            .get(i)
            .and_then(Option::as_ref)
            .filter(|a| a.status == Status::Booked && a.start > now)
    };
    let done = |i: usize| {
        from_done
            && appts
                .get(i)
                .and_then(Option::as_ref)
                .is_some_and(|a| a.status == Status::Cancelled && a.start > now)
    };
    if booked(at).is_none() && !done(at) {
        return Err(BookingError::NotInSeries.into());
    }
    Ok(series
        .occurrences
        .iter()
        .enumerate()
        .skip(at)
        .filter_map(|(i, o)| booked(i).map(|a| (i, o, a)))
        .collect())
}

#[tracing::instrument(skip_all, fields(series = %id))]
pub async fn cancel_following(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &SeriesId,
    req: CancelFollowingRequest,
) -> Result<Reply, ApiError> {
    let reason = reason_text(req.reason)?;
    let (series, appts) = changeable(state, caller, id, "series.cancel").await?;
    // Done before (and answered): the same answer, nothing again.
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let practice = practice(state).await?;
    let provider = provider(state, &series.provider).await?;
    let now = now(state);
    let cancelling = following(&series, &appts, &req.from_appointment_id, now, true)?;
    if let Some((_, _, first)) = cancelling.first() {
        check_cutoff(caller, first, &provider, now)?;
    }
    // Each occurrence is cancelled in its own transaction, as a single cancellation is; the
    // series' own record lands last with the idempotency record, so a retry finishes the rest.
    let mut freed = Vec::new();
    for (_, _, appt) in &cancelling {
        let item = state
            .table
            .get(&appointment_key(&appt.id), Consistency::Strong)
            .await?
            .ok_or(BookingError::SeriesChanged)?;
        let why = Cancelling {
            reason: reason.as_deref(),
            by_practice: false,
        };
        let (mut ops, _) = cancel_ops(state, appt, &item, &practice, now, why, false).await?;
        // A visit inside its late-cancellation window costs its fee here too, as when it is
        // cancelled alone (staff waive it when the practice cancelled).
        if let Some(fee) = appt
            .terms
            .as_ref()
            .and_then(|t| t.late_fee_at(appt.start, now, appt.paid_deposit()))
        {
            let kind = FeeKind::LateCancellation;
            ops.extend(fees::charge_ops(state, Actor::Caller(caller), appt, kind, fee, now).await?);
        }
        let writes = ops
            .into_iter()
            .map(|op| Write::new(op).or(BookingError::SeriesChanged))
            .collect();
        let audit =
            Audit::new("appointment.cancel", "appointment", appt.id.as_str()).about(&appt.patient);
        let reply = Reply::ok(&serde_json::json!({}))?;
        commit(state, caller, None, writes, audit, reply).await?;
        freed.push(appt.occupied);
    }
    let remaining = appts.iter().enumerate().any(|(i, a)| {
        a.as_ref().is_some_and(|a| {
            a.status == Status::Booked
                && a.start > now
                && !cancelling.iter().any(|(j, _, _)| *j == i)
        })
    });
    let mut updated = Series {
        version: series.version + 1,
        ..series.clone()
    };
    let mut writes = Vec::new();
    // Nothing left to come: the allowance slot the series held is given back.
    if !remaining && let Some(slot) = series.quota_slot {
        let key = allowance::slot_key(&series.patient, Kind::Appointment, slot);
        if still_held(state, &key, series.id.as_str(), now).await? {
            writes.push(Write::new(allowance::release(
                &series.patient,
                Kind::Appointment,
                slot,
                series.id.as_str(),
            )));
        }
        updated.quota_slot = None;
    }
    writes.insert(
        0,
        Write::new(TransactOp::Put {
            item: updated.to_item(),
            condition: Some(Condition::version_is(series.version)),
        })
        .or(BookingError::SeriesChanged),
    );
    // One message for all the visits cancelled (about the first of them), not one per visit.
    if let Some((_, _, first)) = cancelling.first() {
        let notice = Message::new(MessageKind::SeriesCancelled, &first.patient, now, now).about(
            &first.id,
            first.version + 1,
            first.start,
        );
        writes.push(Write::new(notice.put()));
    }
    let view = super::read::view_now(state, &updated, &practice).await?;
    let reply = Reply::ok(&view)?.with_patient_data();
    let audit = Audit::new("series.cancel", "series", id.as_str()).about(&series.patient);
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    if !reply.replayed {
        for span in freed {
            let freed = Freed {
                span,
                by: &series.patient,
            };
            offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
        }
    }
    Ok(reply)
}

#[tracing::instrument(skip_all, fields(series = %id))]
pub async fn move_following(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &SeriesId,
    req: MoveFollowingRequest,
) -> Result<Reply, ApiError> {
    let first = body_start(&req.start)?;
    let (series, appts) = changeable(state, caller, id, "series.move").await?;
    // Done before (and answered): the same answer, nothing reserved or moved again.
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let practice = practice(state).await?;
    let provider = provider(state, &series.provider).await?;
    let service = offered_service(state, &series.service, &provider.id).await?;
    let now = now(state);
    let moving = following(&series, &appts, &req.from_appointment_id, now, false)?;
    for (_, _, appt) in &moving {
        check_cutoff(caller, appt, &provider, now)?;
        check_fee_window(caller, appt, now)?;
    }
    let starts = every_weeks_from(first, series.every_weeks, moving.len(), &practice.zone)?;
    if starts.first().is_some_and(|&s| s == moving[0].2.start) && moving.len() == 1 {
        return Err(BookingError::SameStart.into());
    }
    let checker = Checker::of(&provider, &practice, service.duration(), now);
    let wanted = moving
        .iter()
        .zip(&starts)
        .map(|((_, o, appt), &t)| (o.id.clone(), t, Some(appt.occupied)))
        .collect();
    let (plan, conflicts) = checker.plan(state, wanted).await?;
    let conflicts: Vec<_> = conflicts.into_iter().map(|(_, c)| c).collect();
    if !conflicts.is_empty() {
        return Err(ApiError::SeriesConflicts(conflicts));
    }
    let reserved = Series {
        pending: Some(pending(plan.clone(), now)),
        version: series.version + 1,
        ..series.clone()
    };
    if let Err(e) =
        super::reserve(state, &reserved, Condition::version_is(series.version), now).await
    {
        return Err(super::create::refused_again(state, &checker, &plan, e).await);
    }
    let mut occurrences = series.occurrences.clone();
    for p in &plan {
        if let Some(o) = occurrences.iter_mut().find(|o| o.id == p.id) {
            o.start = p.start;
        }
    }
    let committed = Series {
        occurrences,
        pending: None,
        version: reserved.version + 1,
        ..series.clone()
    };
    let actor = Actor::Caller(caller);
    let mut groups = Vec::new();
    for ((_, _, appt), p) in moving.iter().zip(&plan) {
        let item = state
            .table
            .get(&appointment_key(&appt.id), Consistency::Strong)
            .await?
            .ok_or(BookingError::SeriesChanged)?;
        let moved = Appointment {
            start: p.start,
            end: p.start + service.duration(),
            occupied: p.occupied,
            version: appt.version + 1,
            ..(*appt).clone()
        };
        groups.push(move_ops(state, actor, appt, &item, &moved, &practice, now));
    }
    let (in_commit, rest) = pack(groups, commit_room());
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: committed.to_item(),
            condition: Some(super::still_reserved(&reserved)),
        })
        .or(BookingError::SeriesChanged),
    ];
    writes.extend(
        in_commit
            .into_iter()
            .map(|op| Write::new(op).or(BookingError::SeriesChanged)),
    );
    // One message for all the visits moved (about the first of them, at its new time).
    if let (Some((_, _, first)), Some(p)) = (moving.first(), plan.first()) {
        let notice = Message::new(MessageKind::SeriesMoved, &first.patient, now, now).about(
            &first.id,
            first.version + 1,
            p.start,
        );
        writes.push(Write::new(notice.put()));
    }
    // The patient's allowance slot the series holds lasts until its (new) last visit.
    if let Some(slot) = series.quota_slot {
        let key = allowance::slot_key(&series.patient, Kind::Appointment, slot);
        let last = committed
            .occurrences
            .iter()
            .map(|o| o.start)
            .max()
            .unwrap_or(now);
        if still_held(state, &key, series.id.as_str(), now).await? {
            let extend = allowance::extend(
                &series.patient,
                Kind::Appointment,
                slot,
                series.id.as_str(),
                last,
            );
            writes.push(Write::new(extend).or(BookingError::SeriesChanged));
        }
    }
    let view = super::read::view_planned(&committed, &appts, &practice);
    let reply = Reply::ok(&view)?.with_patient_data();
    let audit = Audit::new("series.move", "series", id.as_str()).about(&series.patient);
    let reply = match commit(state, caller, Some(idem), writes, audit, reply).await {
        Ok(reply) => reply,
        Err(e) => {
            super::give_back(state, &reserved).await?;
            return Err(e.into());
        }
    };
    super::write_rest(state, rest).await?;
    if !reply.replayed {
        for (_, _, appt) in &moving {
            let freed = Freed {
                span: appt.occupied,
                by: &series.patient,
            };
            offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
        }
    }
    Ok(reply)
}
