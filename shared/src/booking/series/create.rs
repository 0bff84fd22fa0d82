//! Booking a series: every occurrence checked like a single booking, then reserved and committed
//! all or nothing (see the module above), or with `conflicts: skip` the free ones.

use serde::{Deserialize, Serialize};

use super::{Checker, commit_room, materialize_ops, occurrence_appointment, pack, pending};
use crate::common::access::acting_for;
use crate::common::input::body_start;
use crate::common::lookup::{now, offered_service, practice, provider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::SeriesCodec;
use crate::store::keys::*;
use crate::store::{Condition, TransactOp};
use crate::unit_of_work::allowance::{Kind, Pick, allowance, claim, commit_claiming};
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write};
use domain::access::Caller;
use domain::booking::Status;
use domain::ids::{PatientId, ProviderId, SeriesId, ServiceId};
use domain::refusals::BookingError;
use domain::series::{End, Occurrence, Planned, Recurrence, Series};

/// What to do with occurrences that cannot be booked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnConflict {
    /// Book nothing; answer 409 with each conflicting date and the nearest free starts.
    #[default]
    Fail,
    /// Book the free occurrences and list the skipped ones.
    Skip,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesRequest {
    pub provider_id: ProviderId,
    pub service_id: ServiceId,
    /// The first occurrence; the others fall on its weekday at its local wall time.
    pub start: String,
    pub every_weeks: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u16>,
    /// The last day an occurrence may fall on (YYYY-MM-DD, the practice's calendar).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default)]
    pub conflicts: OnConflict,
    /// The visit reason, sealed with each occurrence as a single booking's is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
}

fn recurrence(req: &SeriesRequest) -> Result<Recurrence, ApiError> {
    let end = match (req.count, &req.until) {
        (Some(n), None) => End::After(n),
        (None, Some(d)) => End::On(
            d.parse::<jiff::civil::Date>()
                .ok()
                .filter(|_| d.len() == 10)
                .ok_or(BookingError::SeriesEnd)?,
        ),
        _ => return Err(BookingError::SeriesEnd.into()),
    };
    Ok(Recurrence::new(req.every_weeks, end)?)
}

/// The id of the series a request creates: derived from the caller and the idempotency key, so
/// a retry after an interruption meets what the first attempt wrote.
async fn series_id(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
) -> Result<SeriesId, ApiError> {
    let blind = state.blind_index().await?;
    let digest = blind.compute(
        "series",
        &format!(
            "{}\n{}",
            caller.principal.subject,
            idem.client_key().as_str()
        ),
    );
    let hash = domain::hash::sha256(&[digest.as_bytes()]);
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    Ok(SeriesId::derived(id))
}

#[tracing::instrument(skip_all)]
pub async fn create_series(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: SeriesRequest,
) -> Result<Reply, ApiError> {
    let staff_for_other = req.patient_id.is_some();
    let asked = match &req.patient_id {
        Some(p) => Audit::new("series.create", "patient", p.as_str()).about(p),
        None => Audit::new(
            "series.create",
            "patient",
            caller.principal.subject.as_str(),
        ),
    };
    let patient = crate::unit_of_work::refused(
        state,
        caller,
        asked,
        acting_for(caller, req.patient_id.clone()),
    )
    .await?;
    let rec = recurrence(&req)?;
    let reason = crate::common::input::reason_text(req.reason.clone())?;
    let first = body_start(&req.start)?;
    let practice = practice(state).await?;
    let provider = provider(state, &req.provider_id).await?;
    let service = offered_service(state, &req.service_id, &provider.id).await?;
    if !caller.is_staff() && !service.self_book_series {
        return Err(BookingError::SeriesNotSelfBookable.into());
    }
    // Consents the service requires, before anything is reserved (the commit checks them again).
    let consents = crate::booking::consents::required_checks(state, &service, &patient).await?;
    if !service.required_consents.is_empty() {
        let missing = crate::booking::consents::missing(state, &service, &patient).await?;
        if !missing.is_empty() {
            return Err(ApiError::ConsentRequired(missing));
        }
    }
    let now = now(state);
    let starts = rec.starts(first, &practice.zone, now)?;
    if !caller.is_staff()
        && starts.len() > usize::from(practice.limits.series_occurrences_per_patient)
    {
        return Err(BookingError::SeriesOccurrenceLimit.into());
    }
    let id = series_id(state, caller, idem).await?;
    // A retry of a request that committed: finish it and answer as the first time.
    if let Ok(existing) = super::load(state, &id).await {
        if existing.committed() {
            super::reconcile(state, &existing, Actor::Caller(caller)).await?;
            if let Some(reply) = idem.replay(state).await? {
                return Ok(reply);
            }
            return Err(BookingError::SeriesChanged.into());
        }
        // One that stopped before its commit: past its deadline, give its reservation back and
        // start over; before it, the first attempt may still be running.
        if existing.pending.as_ref().is_some_and(|p| p.deadline >= now) {
            return Err(BookingError::SeriesChanged.into());
        }
        super::give_back(state, &existing).await?;
    }
    // A patient at her limit is refused before any unit is taken (the claim itself comes with the
    // commit, where a racing request of hers may still take the last slot).
    if !caller.is_staff() {
        let limit = practice.limits.of(Kind::Appointment);
        let last = starts.last().copied().unwrap_or(first);
        claim(
            state,
            &patient,
            Kind::Appointment,
            limit,
            id.as_str(),
            last,
            now,
            Pick::Read,
        )
        .await?;
    }
    let checker = Checker::of(&provider, &practice, service.duration(), now);
    let wanted = starts
        .iter()
        .enumerate()
        .map(|(i, &t)| (id.occurrence(i as u16), t, None))
        .collect();
    let (plan, conflicts) = checker.plan(state, wanted).await?;
    let skipped: Vec<i64> = conflicts.iter().map(|(t, _)| *t).collect();
    let conflicts: Vec<_> = conflicts.into_iter().map(|(_, c)| c).collect();
    if !conflicts.is_empty() && (req.conflicts == OnConflict::Fail || plan.is_empty()) {
        return Err(ApiError::SeriesConflicts(conflicts));
    }
    let reserved = Series {
        id: id.clone(),
        patient: patient.clone(),
        provider: provider.id.clone(),
        service: service.id.clone(),
        every_weeks: rec.every_weeks(),
        occurrences: Vec::new(),
        skipped: skipped.clone(),
        pending: Some(pending(plan.clone(), now)),
        created_at: now,
        quota_slot: None,
        version: 1,
    };
    if let Err(e) = super::reserve(state, &reserved, Condition::ItemAbsent, now).await {
        return Err(refused_again(state, &checker, &plan, e).await);
    }
    let occurrences: Vec<Occurrence> = plan
        .iter()
        .map(|p| Occurrence {
            id: p.id.clone(),
            start: p.start,
        })
        .collect();
    let committed = Series {
        occurrences,
        pending: None,
        version: 2,
        ..reserved.clone()
    };
    let actor = Actor::Caller(caller);
    let mut groups: Vec<Vec<TransactOp>> = Vec::with_capacity(committed.occurrences.len());
    for (i, o) in committed.occurrences.iter().enumerate() {
        let appt = occurrence_appointment(&committed, o, &checker.cal, &service, now);
        let sealed = match &reason {
            Some(r) => Some(
                state
                    .sealer
                    .seal_str(&appointment_key(&o.id), crate::store::attr::REASON, r)
                    .await?,
            ),
            None => None,
        };
        groups.push(materialize_ops(
            state,
            actor,
            &appt,
            sealed,
            &practice,
            i == 0,
            now,
        ));
    }
    let (in_commit, rest) = pack(groups, commit_room());
    let statuses = vec![Some(Status::Booked.as_str()); committed.occurrences.len()];
    let reply = Reply::created(&committed.view(&practice.zone, &statuses))?.with_patient_data();
    let audit = Audit::new("series.create", "series", id.as_str()).about(&patient);
    let last = committed.occurrences.last().map_or(now, |o| o.start);
    let allowance = allowance(
        caller,
        &practice,
        &patient,
        Kind::Appointment,
        id.as_str(),
        last,
        now,
    );
    let changed = || ApiError::Booking(BookingError::SeriesChanged);
    let build = |quota_slot| {
        let committed = Series {
            quota_slot,
            ..committed.clone()
        };
        let mut writes = vec![
            Write::new(TransactOp::Put {
                item: committed.to_item(),
                condition: Some(super::still_reserved(&reserved)),
            })
            .or(changed()),
            Write::new(TransactOp::Put {
                item: committed.patient_copy(),
                condition: Some(Condition::ItemAbsent),
            }),
        ];
        writes.extend(in_commit.iter().cloned().map(Write::new));
        if staff_for_other {
            let registered = TransactOp::Check {
                key: patient_key(&committed.patient),
                condition: Condition::ItemExists,
            };
            writes.push(Write::new(registered).or(BookingError::UnknownPatient));
        }
        writes.extend(consents.writes());
        writes
    };
    let reply = match commit_claiming(state, caller, idem, allowance, build, audit, reply).await {
        Ok(reply) => reply,
        Err(e) => {
            super::give_back(state, &reserved).await?;
            return Err(e);
        }
    };
    super::write_rest(state, rest).await?;
    Ok(reply)
}

/// A reservation that lost a race: what the table says now, date by date (or the plain refusal
/// when the race is already over).
pub(super) async fn refused_again(
    state: &AppState,
    checker: &Checker<'_>,
    plan: &[Planned],
    e: ApiError,
) -> ApiError {
    if !matches!(e, ApiError::Booking(BookingError::SlotTaken)) {
        return e;
    }
    let wanted: Vec<_> = plan.iter().map(|p| (p.id.clone(), p.start)).collect();
    match checker.check(state, &wanted).await {
        Ok(results) => {
            let conflicts: Vec<_> = results.into_iter().filter_map(Result::err).collect();
            if conflicts.is_empty() {
                e
            } else {
                ApiError::SeriesConflicts(conflicts)
            }
        }
        Err(read) => read,
    }
}
