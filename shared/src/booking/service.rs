//! Booking operations: availability, holds, booking, rescheduling, cancelling, reads and the
//! waitlist. Each change is one transactional write (slot locks, records, audit, idempotency);
//! no check-then-write race exists because every lock is a conditional put of its own item.

use crate::store::attr;
use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::model::*;
use super::quota::{self, Kind};
use crate::AppState;
use crate::auth::{Resource, Role};
use crate::domain::access::Caller;
use crate::domain::ids::{
    AppointmentId, HoldId, OutboxId, PatientId, ProviderId, ServiceId, WaitlistId,
};
use crate::domain::refusals::BookingError;
use crate::domain::schedule::{Calendar, MAX_RANGE_SECS, SlotError, units};
use crate::error::{ApiError, InputError};
use crate::store::commit::{
    Actor, Audit, CommitError, Idempotency, Reply, Write, audit_read, commit,
};
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, Query, SortKey, TTL_ATTR, TransactOp, Update,
    query_all,
};

/// Appointment locks outlive the appointment by a day, then the table's TTL removes them.
const LOCK_GRACE_SECS: i64 = 86_400;
/// Longest text a patient may give as a reason for visit or for cancelling.
const MAX_REASON_CHARS: usize = 1000;

/// A range bound in a JSON body (422 when malformed); fractions of a second are truncated.
pub fn body_instant(text: &str, field: &'static str) -> Result<i64, ApiError> {
    parse_bound(text).ok_or(ApiError::Input(InputError::InvalidBodyTimestamp(field)))
}

/// A range bound in a query string (400 when malformed); fractions of a second are truncated.
pub fn query_instant(text: &str, field: &'static str) -> Result<i64, ApiError> {
    parse_bound(text).ok_or(ApiError::Input(InputError::InvalidTimestamp(field)))
}

/// A slot start in a JSON body: a zero fraction (`.000Z`) is the same start; any other fraction
/// is not on the schedule's grid.
pub fn body_start(text: &str) -> Result<i64, ApiError> {
    match crate::domain::instant::parse(text) {
        None => Err(ApiError::Input(InputError::InvalidBodyTimestamp("start"))),
        Some(i) if i.nanos != 0 => Err(SlotError::OffGrid.into()),
        Some(i) => Ok(i.second),
    }
}

/// A `providerId` query parameter.
fn query_provider_id(text: &str) -> Result<ProviderId, ApiError> {
    ProviderId::parse(text).ok_or_else(|| ApiError::Input(InputError::InvalidProviderId))
}

/// `[from, to)` of at most 31 days, from query parameters.
pub fn query_range(from: &str, to: &str) -> Result<(i64, i64), ApiError> {
    let (from, to) = (query_instant(from, "from")?, query_instant(to, "to")?);
    if to <= from {
        return Err(ApiError::Input(InputError::InvalidRange));
    }
    if to - from > MAX_RANGE_SECS {
        return Err(ApiError::Input(InputError::RangeTooLong));
    }
    Ok((from, to))
}

fn reason_text(reason: Option<String>) -> Result<Option<String>, ApiError> {
    match reason {
        Some(r) if r.chars().count() > MAX_REASON_CHARS || r.chars().any(char::is_control) => {
            Err(ApiError::Booking(BookingError::InvalidReason))
        }
        Some(r) if r.trim().is_empty() => Ok(None),
        other => Ok(other),
    }
}

pub fn now(state: &AppState) -> i64 {
    state.clock.now().unix_timestamp()
}

pub async fn practice(state: &AppState) -> Result<Practice, ApiError> {
    match state.cache.get(&*state.table, &practice_key()).await? {
        Some(item) => Practice::from_item(&item),
        None => Err(ApiError::Booking(BookingError::PracticeNotConfigured)),
    }
}

pub async fn provider(state: &AppState, id: &ProviderId) -> Result<Provider, ApiError> {
    match state.cache.get(&*state.table, &provider_key(id)).await? {
        Some(item) => Provider::from_item(&item),
        None => Err(ApiError::NotFound),
    }
}

pub async fn service(state: &AppState, id: &ServiceId) -> Result<Option<Service>, ApiError> {
    match state.cache.get(&*state.table, &service_key(id)).await? {
        Some(item) => Service::from_item(&item).map(Some),
        None => Ok(None),
    }
}

/// The service, if it exists and this provider offers it.
pub async fn offered_service(
    state: &AppState,
    id: &ServiceId,
    provider: &ProviderId,
) -> Result<Service, ApiError> {
    match service(state, id).await? {
        Some(s) if s.offered_by(provider) => Ok(s),
        _ => Err(ApiError::Booking(BookingError::ServiceNotOffered)),
    }
}

/// The patient a request acts for: a patient acts for themself; staff name the patient.
pub fn acting_for(caller: &Caller, requested: Option<PatientId>) -> Result<PatientId, ApiError> {
    match requested {
        Some(patient) => {
            caller.principal.authorize(
                &[Role::Patient, Role::Staff, Role::Admin],
                Resource::Patient(patient.subject()),
            )?;
            Ok(patient)
        }
        None if caller.principal.has(Role::Patient) => Ok(PatientId::of(&caller.principal.subject)),
        None if caller.is_staff() => Err(ApiError::Booking(BookingError::PatientRequired)),
        None => Err(ApiError::Forbidden),
    }
}

/// Who may see an appointment: its patient, its provider, staff.
fn authorize_read(
    caller: &Caller,
    appt: &Appointment,
    provider: &Provider,
) -> Result<(), ApiError> {
    let as_patient = caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(appt.patient.subject()),
    );
    let as_provider = match &provider.subject {
        Some(sub) => caller
            .principal
            .authorize(&[Role::Provider], Resource::Provider(sub)),
        None => Err(crate::domain::access::Denied),
    };
    as_patient.or(as_provider).map_err(ApiError::from)
}

/// Who may change an appointment: its patient (within the cut-off) and staff.
fn authorize_change(caller: &Caller, appt: &Appointment) -> Result<(), ApiError> {
    caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(appt.patient.subject()),
    )?;
    Ok(())
}

/// Occupied lock units of a provider in `[from, to)` that are still held at `now`.
pub async fn busy_units(
    state: &AppState,
    provider: &ProviderId,
    from: i64,
    to: i64,
    now: i64,
) -> Result<BTreeSet<i64>, ApiError> {
    let query = Query::partition(lock_partition(provider))
        .sort(SortKey::Between(instant_key(from), instant_key(to)))
        .consistent();
    let mut busy = BTreeSet::new();
    for item in query_all(&*state.table, &query).await? {
        let held = item
            .get(TTL_ATTR)
            .and_then(AttrValue::as_n)
            .is_none_or(|expiry| expiry > now);
        if held && let Ok(unit) = item.key.sk.parse::<i64>() {
            busy.insert(unit);
        }
    }
    Ok(busy)
}

/// A lock unit may be taken when nobody holds it, its holder expired, or (booking from a hold)
/// the caller's own hold holds it.
fn free_or(now: i64, own_hold: Option<&HoldId>) -> Condition {
    let mut free = vec![
        Condition::ItemAbsent,
        Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now)),
    ];
    if let Some(hold) = own_hold {
        free.push(Condition::Equals(attr::OWNER.into(), hold.as_str().into()));
    }
    Condition::Or(free)
}

fn take_lock(
    provider: &ProviderId,
    unit: i64,
    owner: &str,
    expires: i64,
    condition: Condition,
) -> TransactOp {
    TransactOp::Put {
        item: Item::new(lock_key(provider, unit))
            .with(attr::OWNER, owner)
            .with(TTL_ATTR, expires),
        condition: Some(condition),
    }
}

/// A hold's writes: its lock units (free or expired ones only) and the hold itself.
fn hold_ops(hold: &Hold, now: i64) -> Vec<TransactOp> {
    let mut ops: Vec<TransactOp> = units(hold.occupied.0, hold.occupied.1)
        .map(|u| {
            take_lock(
                &hold.provider,
                u,
                hold.id.as_str(),
                hold.expires_at,
                free_or(now, None),
            )
        })
        .collect();
    ops.push(TransactOp::Put {
        item: hold.to_item(),
        condition: Some(Condition::ItemAbsent),
    });
    ops
}

fn release_lock(provider: &ProviderId, unit: i64, owner: &str) -> TransactOp {
    TransactOp::Delete {
        key: lock_key(provider, unit),
        condition: Some(Condition::Equals(attr::OWNER.into(), owner.into())),
    }
}

/// A per-patient allowance a change must claim (a patient acting for themself; never staff).
struct Allowance<'a> {
    patient: &'a PatientId,
    kind: Kind,
    limit: u16,
    owner: &'a str,
    until: i64,
    now: i64,
}

/// Attempts at a claim: a guess, then reads of the allowance (a racing request of the same
/// patient may take the slot a read found free).
const CLAIM_ATTEMPTS: usize = 4;

/// The allowance a change by `caller` for `patient` claims: none when staff act.
fn allowance<'a>(
    caller: &Caller,
    practice: &Practice,
    patient: &'a PatientId,
    kind: Kind,
    owner: &'a str,
    until: i64,
    now: i64,
) -> Option<Allowance<'a>> {
    (!caller.is_staff()).then_some(Allowance {
        patient,
        kind,
        limit: practice.limits.of(kind),
        owner,
        until,
        now,
    })
}

/// [`commit`] with a claim on the patient's allowance (when there is one) appended after the
/// change's own writes. `build` gets the claimed slot to record on the new item. The first attempt guesses a slot without reading (one
/// round trip when it is free); a taken slot makes it read the allowance and try a free one.
async fn commit_claiming(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    allowance: Option<Allowance<'_>>,
    build: impl Fn(Option<u16>) -> Vec<Write>,
    audit: Audit,
    reply: Reply,
) -> Result<Reply, ApiError> {
    let Some(a) = allowance else {
        return Ok(commit(state, caller, Some(idem), build(None), audit, reply).await?);
    };
    for attempt in 0..CLAIM_ATTEMPTS {
        let pick = if attempt == 0 {
            quota::Pick::Guess
        } else {
            quota::Pick::Read
        };
        let claim = quota::claim(
            state, a.patient, a.kind, a.limit, a.owner, a.until, a.now, pick,
        )
        .await?;
        let mut writes = build(Some(claim.slot));
        writes.push(Write::claim(claim.op));
        match commit(
            state,
            caller,
            Some(idem),
            writes,
            audit.clone(),
            reply.clone(),
        )
        .await
        {
            Err(CommitError::ClaimTaken) => continue,
            other => return Ok(other?),
        }
    }
    Err(quota::limit_reached(a.kind))
}

// ---------------------------------------------------------------------------------------------
// Availability

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityQuery {
    pub service_id: String,
    pub from: String,
    pub to: String,
}

pub async fn availability(
    state: &AppState,
    provider_id: &ProviderId,
    q: &AvailabilityQuery,
) -> Result<serde_json::Value, ApiError> {
    let service_id = ServiceId::parse(&q.service_id)
        .ok_or_else(|| ApiError::Input(InputError::InvalidServiceId))?;
    let (from, to) = query_range(&q.from, &q.to)?;
    let practice = practice(state).await?;
    let provider = provider(state, provider_id).await?;
    let service = offered_service(state, &service_id, &provider.id).await?;
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    let now = now(state);
    let span = service.duration() + cal.rules.buffer_before() + cal.rules.buffer_after();
    let busy = busy_units(state, &provider.id, from - span, to + span, now).await?;
    let slots: Vec<String> = cal
        .available(service.duration(), from, to, now, &busy)
        .into_iter()
        .map(|t| render(t, &practice.zone))
        .collect();
    Ok(serde_json::json!({
        "providerId": provider.id,
        "serviceId": service.id,
        "timeZone": practice.zone_name(),
        "durationMinutes": service.duration_minutes,
        "slots": slots,
    }))
}

/// A requested start, checked against the provider's rules: what holds and bookings are made of.
struct Slot {
    practice: Practice,
    provider: Provider,
    service: Service,
    start: i64,
    end: i64,
    occupied: (i64, i64),
    now: i64,
}

async fn requested_slot(
    state: &AppState,
    provider_id: &ProviderId,
    service_id: &ServiceId,
    start: &str,
) -> Result<Slot, ApiError> {
    let start = body_start(start)?;
    let practice = practice(state).await?;
    let provider = provider(state, provider_id).await?;
    let service = offered_service(state, service_id, &provider.id).await?;
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    let now = now(state);
    cal.check(start, service.duration(), now)
        .map_err(ApiError::from)?;
    let occupied = cal.occupied(start, service.duration());
    Ok(Slot {
        end: start + service.duration(),
        occupied,
        start,
        now,
        practice,
        provider,
        service,
    })
}

// ---------------------------------------------------------------------------------------------
// Holds

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoldRequest {
    pub provider_id: ProviderId,
    pub service_id: ServiceId,
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
}

pub async fn create_hold(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: HoldRequest,
) -> Result<Reply, ApiError> {
    let patient = acting_for(caller, req.patient_id)?;
    let slot = requested_slot(state, &req.provider_id, &req.service_id, &req.start).await?;
    let (practice, provider) = (&slot.practice, &slot.provider);
    let now = slot.now;
    let hold = Hold {
        id: HoldId::new(),
        patient,
        provider: provider.id.clone(),
        service: slot.service.id.clone(),
        start: slot.start,
        end: slot.end,
        occupied: slot.occupied,
        expires_at: now + i64::from(practice.hold_minutes) * 60,
        waitlist: None,
        quota_slot: None,
    };
    let reply = Reply::created(&hold.view(&practice.zone))?.with_patient_data();
    let audit = Audit::new("hold.create", "hold", hold.id.as_str());
    let allowance = allowance(
        caller,
        practice,
        &hold.patient,
        Kind::Hold,
        hold.id.as_str(),
        hold.expires_at,
        now,
    );
    let build = |quota_slot| {
        let hold = Hold {
            quota_slot,
            ..hold.clone()
        };
        let taken = || ApiError::Booking(BookingError::SlotTaken);
        let writes = hold_ops(&hold, now).into_iter();
        writes.map(|op| Write::new(op).or(taken())).collect()
    };
    commit_claiming(state, caller, idem, allowance, build, audit, reply).await
}

// ---------------------------------------------------------------------------------------------
// Booking

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
}

/// A hold the caller may book from: theirs, for this slot, not expired.
async fn usable_hold(
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
    };
    let hold = match &req.hold_id {
        Some(id) => Some(usable_hold(state, id, &appt.patient, &appt, now).await?),
        None => None,
    };
    let key = appointment_key(&appt.id);
    let sealed = match &reason {
        Some(r) => Some(state.sealer.seal_str(&key, attr::REASON, r).await?),
        None => None,
    };
    let expires = appt.occupied.1 + LOCK_GRACE_SECS;
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
            let release = quota::release(&h.patient, Kind::Hold, slot, h.id.as_str());
            writes.push(Write::new(release).or(expired()));
        }
        if staff_for_other {
            let registered = TransactOp::Check {
                key: patient_key(&appt.patient),
                condition: Condition::ItemExists,
            };
            writes.push(Write::new(registered).or(BookingError::UnknownPatient));
        }
        writes
    };
    let reply = Reply::created(&appt.view(&practice.zone, reason.as_deref()))?.with_patient_data();
    let audit = Audit::new("appointment.create", "appointment", appt.id.as_str());
    let allowance = allowance(
        caller,
        practice,
        &appt.patient,
        Kind::Appointment,
        appt.id.as_str(),
        appt.start,
        now,
    );
    commit_claiming(state, caller, idem, allowance, build, audit, reply).await
}

// ---------------------------------------------------------------------------------------------
// Reading, rescheduling, cancelling

async fn load_appointment(
    state: &AppState,
    id: &AppointmentId,
) -> Result<(Appointment, Item), ApiError> {
    let item = state
        .table
        .get(&appointment_key(id), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok((Appointment::from_item(&item)?, item))
}

pub async fn get_appointment(
    state: &AppState,
    caller: &Caller,
    id: &AppointmentId,
) -> Result<serde_json::Value, ApiError> {
    let (appt, item) = load_appointment(state, id).await?;
    let provider = provider(state, &appt.provider).await?;
    authorize_read(caller, &appt, &provider)?;
    let practice = practice(state).await?;
    let reason = match item.get(attr::REASON).and_then(AttrValue::as_b) {
        Some(sealed) => Some(
            state
                .sealer
                .open_str(&item.key, attr::REASON, sealed)
                .await?,
        ),
        None => None,
    };
    audit_read(
        state,
        caller,
        Audit::new("appointment.read", "appointment", id.as_str()),
    )
    .await?;
    Ok(appt.view(&practice.zone, reason.as_ref().map(|r| r.expose().as_str())))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    pub provider_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// A patient's own appointments; or, for staff and the provider, a provider's calendar in a range.
pub async fn list_appointments(
    state: &AppState,
    caller: &Caller,
    q: &ListQuery,
) -> Result<serde_json::Value, ApiError> {
    // A bound that is given is checked whoever asks. A patient's own list may be narrowed by either
    // bound; a provider's calendar is queried by both.
    let from = q
        .from
        .as_deref()
        .map(|t| query_instant(t, "from"))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| query_instant(t, "to"))
            .transpose()?;
    let practice = practice(state).await?;
    let (items, audit) = match &q.provider_id {
        Some(id) => {
            let id = query_provider_id(id)?;
            let provider = provider(state, &id).await?;
            match &provider.subject {
                Some(sub) => caller.principal.authorize(
                    &[Role::Provider, Role::Staff, Role::Admin],
                    Resource::Provider(sub),
                )?,
                None => caller
                    .principal
                    .authorize(&[Role::Staff, Role::Admin], Resource::Shared)?,
            }
            let (Some(from), Some(to)) = (&q.from, &q.to) else {
                return Err(ApiError::Input(InputError::RangeRequired));
            };
            let (from, to) = query_range(from, to)?;
            let query = Query::gsi1(calendar_partition(&id))
                .sort(SortKey::Between(instant_key(from), instant_key(to)));
            (
                query_all(&*state.table, &query).await?,
                Audit::new("appointment.list", "provider", id.as_str()),
            )
        }
        None if caller.principal.has(Role::Patient) => {
            let patient = PatientId::of(&caller.principal.subject);
            let query = Query::partition(patient_partition(&patient))
                .sort(SortKey::BeginsWith("APPT#".into()))
                .consistent();
            (
                query_all(&*state.table, &query).await?,
                Audit::new("appointment.list", "patient", patient.as_str()),
            )
        }
        None if caller.is_staff() || caller.principal.has(Role::Provider) => {
            return Err(ApiError::Input(InputError::CalendarProviderRequired));
        }
        None => return Err(ApiError::Forbidden),
    };
    let mut appointments = items
        .iter()
        .map(Appointment::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    appointments.retain(|a| from.is_none_or(|f| a.start >= f) && to.is_none_or(|t| a.start < t));
    appointments.sort_by_key(|a| (a.start, a.id.clone()));
    audit_read(state, caller, audit).await?;
    let views: Vec<_> = appointments
        .iter()
        .map(|a| a.view(&practice.zone, None))
        .collect();
    Ok(serde_json::json!({ "appointments": views }))
}

/// Patients change an appointment only before the provider's cut-off; staff at any time.
fn check_cutoff(
    caller: &Caller,
    appt: &Appointment,
    provider: &Provider,
    now: i64,
) -> Result<(), ApiError> {
    if appt.status != Status::Booked {
        return Err(ApiError::Booking(BookingError::AppointmentCancelled));
    }
    if appt.start <= now {
        return Err(ApiError::Booking(BookingError::AppointmentStarted));
    }
    if !caller.is_staff() && now > appt.start - provider.rules.cancel_cutoff() {
        return Err(ApiError::Booking(BookingError::CutoffPassed));
    }
    Ok(())
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleRequest {
    pub start: String,
}

pub async fn reschedule(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    req: RescheduleRequest,
) -> Result<Reply, ApiError> {
    let start = body_start(&req.start)?;
    let (appt, item) = load_appointment(state, id).await?;
    authorize_change(caller, &appt)?;
    let practice = practice(state).await?;
    let provider = provider(state, &appt.provider).await?;
    let now = now(state);
    check_cutoff(caller, &appt, &provider, now)?;
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
    ops.extend(
        old.difference(&new)
            .map(|&u| release_lock(&provider.id, u, id.as_str())),
    );
    let sealed_reason = item
        .get(attr::REASON)
        .and_then(AttrValue::as_b)
        .map(<[u8]>::to_vec);
    ops.push(TransactOp::Put {
        item: moved.to_item(sealed_reason),
        condition: Some(Condition::And(vec![
            Condition::version_is(appt.version),
            Condition::Equals(attr::STATUS.into(), Status::Booked.as_str().into()),
        ])),
    });
    ops.push(TransactOp::Put {
        item: moved.patient_copy(),
        condition: None,
    });
    if let Some(slot) = moved.quota_slot {
        ops.push(quota::extend(
            &moved.patient,
            Kind::Appointment,
            slot,
            id.as_str(),
            moved.start,
        ));
    }
    let reply = Reply::ok(&moved.view(&practice.zone, None))?.with_patient_data();
    let audit = Audit::new("appointment.reschedule", "appointment", id.as_str());
    let rest = ops.into_iter().map(|op| Write::new(op).or(changed()));
    let writes = claimed.into_iter().chain(rest).collect();
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    if !reply.replayed {
        let freed = (appt.occupied.0, appt.occupied.1);
        offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
    }
    Ok(reply)
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

pub async fn cancel(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    req: CancelRequest,
) -> Result<Reply, ApiError> {
    let reason = reason_text(req.reason)?;
    let (appt, item) = load_appointment(state, id).await?;
    authorize_change(caller, &appt)?;
    let practice = practice(state).await?;
    let provider = provider(state, &appt.provider).await?;
    let now = now(state);
    check_cutoff(caller, &appt, &provider, now)?;
    let cancelled = Appointment {
        status: Status::Cancelled,
        version: appt.version + 1,
        ..appt.clone()
    };
    let mut ops: Vec<TransactOp> = units(appt.occupied.0, appt.occupied.1)
        .map(|u| release_lock(&provider.id, u, id.as_str()))
        .collect();
    let mut stored = cancelled.to_item(
        item.get(attr::REASON)
            .and_then(AttrValue::as_b)
            .map(<[u8]>::to_vec),
    );
    if let Some(r) = &reason {
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
    if let Some(slot) = cancelled.quota_slot {
        ops.push(quota::release(
            &cancelled.patient,
            Kind::Appointment,
            slot,
            id.as_str(),
        ));
    }
    let reply = Reply::ok(&cancelled.view(&practice.zone, None))?.with_patient_data();
    let audit = Audit::new("appointment.cancel", "appointment", id.as_str());
    let changed = || ApiError::Booking(BookingError::AppointmentChanged);
    let writes = ops
        .into_iter()
        .map(|op| Write::new(op).or(changed()))
        .collect();
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    if !reply.replayed {
        let freed = appt.occupied;
        offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id).await;
    }
    Ok(reply)
}

// ---------------------------------------------------------------------------------------------
// Waitlist

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitlistRequest {
    pub provider_id: ProviderId,
    pub service_id: ServiceId,
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
}

pub async fn join_waitlist(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: WaitlistRequest,
) -> Result<Reply, ApiError> {
    let patient = acting_for(caller, req.patient_id)?;
    let (from, to) = (
        body_instant(&req.from, "from")?,
        body_instant(&req.to, "to")?,
    );
    if to <= from || to - from > MAX_RANGE_SECS {
        return Err(ApiError::Booking(BookingError::InvalidWindow));
    }
    if to <= now(state) {
        return Err(ApiError::Booking(BookingError::WindowPassed));
    }
    let practice = practice(state).await?;
    let provider = provider(state, &req.provider_id).await?;
    let service = offered_service(state, &req.service_id, &provider.id).await?;
    let entry = WaitlistEntry {
        id: WaitlistId::new(),
        patient,
        provider: provider.id,
        service: service.id,
        from,
        to,
        status: WaitStatus::Waiting,
        hold: None,
        quota_slot: None,
    };
    let build = |quota_slot| {
        let entry = WaitlistEntry {
            quota_slot,
            ..entry.clone()
        };
        vec![Write::new(TransactOp::Put {
            item: entry.to_item(),
            condition: Some(Condition::ItemAbsent),
        })]
    };
    let reply = Reply::created(&entry.view(&practice.zone))?.with_patient_data();
    let audit = Audit::new("waitlist.create", "waitlist", entry.id.as_str());
    let now = now(state);
    let allowance = allowance(
        caller,
        &practice,
        &entry.patient,
        Kind::Waitlist,
        entry.id.as_str(),
        entry.to,
        now,
    );
    commit_claiming(state, caller, idem, allowance, build, audit, reply).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitlistQuery {
    pub provider_id: Option<String>,
}

pub async fn list_waitlist(
    state: &AppState,
    caller: &Caller,
    q: &WaitlistQuery,
) -> Result<serde_json::Value, ApiError> {
    let practice = practice(state).await?;
    let (query, audit) = match &q.provider_id {
        Some(id) => {
            caller
                .principal
                .authorize(&[Role::Staff, Role::Admin], Resource::Shared)?;
            let id = query_provider_id(id)?;
            provider(state, &id).await?;
            (
                Query::partition(waitlist_partition(&id)).consistent(),
                Audit::new("waitlist.list", "provider", id.as_str()),
            )
        }
        None if caller.principal.has(Role::Patient) => {
            let patient = PatientId::of(&caller.principal.subject);
            (
                Query::gsi1(patient_waitlist_partition(&patient)),
                Audit::new("waitlist.list", "patient", patient.as_str()),
            )
        }
        None if caller.is_staff() => {
            return Err(ApiError::Input(InputError::WaitlistProviderRequired));
        }
        None => return Err(ApiError::Forbidden),
    };
    let entries = query_all(&*state.table, &query)
        .await?
        .iter()
        .map(WaitlistEntry::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    audit_read(state, caller, audit).await?;
    let views: Vec<_> = entries.iter().map(|e| e.view(&practice.zone)).collect();
    Ok(serde_json::json!({ "entries": views }))
}

async fn offer_freed_best_effort(
    state: &AppState,
    provider: &Provider,
    practice: &Practice,
    freed: (i64, i64),
    request_id: &str,
) {
    // The change has committed; the freed time stays bookable by anyone if no offer can be made.
    if let Err(e) = offer_freed(state, provider, practice, freed, request_id).await {
        tracing::warn!(error = ?e, "waitlist offer failed; the time stays open");
    }
}

/// Offers time that just became free to the earliest waiting patient it suits: a hold for them
/// for the practice's offer window, their entry marked offered and a message in the outbox, in one
/// transaction. Returns the hold made, if any.
pub async fn offer_freed(
    state: &AppState,
    provider: &Provider,
    practice: &Practice,
    freed: (i64, i64),
    request_id: &str,
) -> Result<Option<HoldId>, ApiError> {
    let now = now(state);
    let query = Query::partition(waitlist_partition(&provider.id)).consistent();
    let waiting: Vec<WaitlistEntry> = query_all(&*state.table, &query)
        .await?
        .iter()
        .map(WaitlistEntry::from_item)
        .filter(|e| {
            e.as_ref()
                .map_or(true, |e| e.status == WaitStatus::Waiting && e.to > now)
        })
        .collect::<Result<_, _>>()?;
    if waiting.is_empty() {
        return Ok(None);
    }
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    // Any start whose occupied span touches the freed span: at most four hours either side.
    let reach = 4 * 3600;
    let busy = busy_units(
        state,
        &provider.id,
        freed.0 - 2 * reach,
        freed.1 + 2 * reach,
        now,
    )
    .await?;
    for entry in waiting {
        let Some(service) = service(state, &entry.service).await? else {
            continue;
        };
        let from = entry.from.max(freed.0 - reach);
        let to = entry.to.min(freed.1 + reach);
        let Some(start) = cal
            .available(service.duration(), from, to, now, &busy)
            .into_iter()
            .find(|&t| {
                let (a, b) = cal.occupied(t, service.duration());
                a < freed.1 && freed.0 < b
            })
        else {
            continue;
        };
        let hold = Hold {
            id: HoldId::new(),
            patient: entry.patient.clone(),
            provider: provider.id.clone(),
            service: service.id.clone(),
            start,
            end: start + service.duration(),
            occupied: cal.occupied(start, service.duration()),
            expires_at: now + i64::from(practice.waitlist_offer_minutes) * 60,
            waitlist: Some(entry.id.clone()),
            quota_slot: None,
        };
        let mut ops = hold_ops(&hold, now);
        ops.push(TransactOp::Update {
            key: entry.key(),
            update: Update::default()
                .set(attr::STATUS, WaitStatus::Offered.as_str())
                .set(attr::HOLD_ID, hold.id.as_str()),
            condition: Some(Condition::Equals(
                attr::STATUS.into(),
                WaitStatus::Waiting.as_str().into(),
            )),
        });
        let message = OutboxId::new();
        ops.push(TransactOp::Put {
            item: Item::new(Key::new("OUTBOX", message.as_str()))
                .with(attr::ID, message.as_str())
                .with(attr::KIND, "waitlist_offer")
                .with(attr::PATIENT_ID, entry.patient.as_str())
                .with(attr::HOLD_ID, hold.id.as_str())
                .with(attr::WAITLIST_ID, entry.id.as_str())
                .with(attr::START, hold.start)
                .with(attr::OFFER_EXPIRES_AT, hold.expires_at)
                .with(attr::CREATED_AT, now),
            condition: Some(Condition::ItemAbsent),
        });
        let actor = Actor::System {
            name: "waitlist",
            request_id,
        };
        ops.push(TransactOp::Put {
            item: Audit::new("hold.offer", "hold", hold.id.as_str()).item(state, actor),
            condition: Some(Condition::ItemAbsent),
        });
        match state.table.transact_write(ops).await {
            Ok(()) => return Ok(Some(hold.id)),
            // Taken meanwhile (by a booking or another offer): nothing was written.
            Err(crate::store::TableError::TransactionConditionFailed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// Removes holds that have expired and offers their time to the waitlist. Run on a schedule;
/// expired holds never block anyone meanwhile (their locks count as free), this only makes the
/// freed time reach waiting patients. Returns (holds removed, offers made).
pub async fn sweep_expired_holds(
    state: &AppState,
    request_id: &str,
) -> Result<(usize, usize), ApiError> {
    let now = now(state);
    let query = Query::gsi1(HOLDS_PARTITION).sort(SortKey::Lt(instant_key(now)));
    let (mut removed, mut offered) = (0, 0);
    for item in query_all(&*state.table, &query).await? {
        let hold = Hold::from_item(&item)?;
        let deleted = state
            .table
            .delete(
                &hold_key(&hold.id),
                Some(Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now + 1))),
            )
            .await;
        match deleted {
            Ok(()) => removed += 1,
            Err(crate::store::TableError::ConditionFailed) => continue,
            Err(e) => return Err(e.into()),
        }
        let practice = practice(state).await?;
        let provider = provider(state, &hold.provider).await?;
        if offer_freed(state, &provider, &practice, hold.occupied, request_id)
            .await?
            .is_some()
        {
            offered += 1;
        }
    }
    Ok((removed, offered))
}
