//! The waitlist: patients ask for a window; freed time is offered to the earliest waiting patient
//! it suits (a hold, the entry marked offered and an outbox message, in one transaction).

use super::slots::{busy_units, hold_ops, release_lock};
use crate::common::access::acting_for;
use crate::common::input::{body_instant, query_provider_id};
use crate::common::lookup::{now, offered_service, practice, provider, service};
use crate::common::patients::names_of;
use crate::store::attr;
use crate::store::codec::booking::{HoldCodec, WaitlistEntryCodec};
use crate::store::codec::notify::MessageCodec;
use crate::unit_of_work::allowance::{allowance, commit_claiming};

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, Query, TTL_ATTR, TransactOp, Update, query_all,
};
use crate::unit_of_work::allowance::{self, Kind};
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, audit_read, commit, refused};
use domain::access::{Caller, Resource};
use domain::booking::*;
use domain::ids::{HoldId, PatientId, ProviderId, ServiceId, WaitlistId};
use domain::notify::{Kind as MessageKind, Message};
use domain::refusals::BookingError;
use domain::schedule::{Calendar, MAX_RANGE_SECS, units};

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

#[tracing::instrument(skip_all)]
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
    let now = now(state);
    // Days the provider does not book yet could never be offered as a bookable time.
    if from > now + provider.rules.max_advance() {
        return Err(ApiError::Booking(BookingError::Slot(
            domain::schedule::SlotError::BeyondAdvance,
        )));
    }
    close_lapsed(state, &patient, now, &caller.request_id).await?;
    let claim_key = waitlist_request_key(&patient, &provider.id, &service.id, from, to);
    // The same request again answers with the open entry it made (a read here; the claim below
    // keeps it one entry when two such requests race).
    let claimed_by = claim_owner(state, &claim_key, now).await?;
    if let Some(owner) = &claimed_by
        && let Some(open) = entry_of(state, &provider.id, owner).await?
        && open.status != WaitStatus::Lapsed
    {
        return already_waiting(state, caller, idem, &open, &practice).await;
    }
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
    // Absent, lapsed, or the claim of an entry that is gone.
    let mut claimable = vec![
        Condition::ItemAbsent,
        Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now + 1)),
    ];
    if let Some(owner) = &claimed_by {
        claimable.push(Condition::Equals(attr::OWNER.into(), owner.as_str().into()));
    }
    let claim = TransactOp::Put {
        item: Item::new(claim_key.clone())
            .with(attr::OWNER, entry.id.as_str())
            .with(TTL_ATTR, entry.to),
        condition: Some(Condition::Or(claimable)),
    };
    let build = |quota_slot| {
        let entry = WaitlistEntry {
            quota_slot,
            ..entry.clone()
        };
        vec![
            Write::new(TransactOp::Put {
                item: entry.to_item(),
                condition: Some(Condition::ItemAbsent),
            }),
            Write::new(claim.clone()).or(BookingError::AlreadyWaiting),
        ]
    };
    let reply = Reply::created(&entry.view(&practice.zone))?.with_patient_data();
    let audit = Audit::new("waitlist.create", "waitlist", entry.id.as_str()).about(&entry.patient);
    let allowance = allowance(
        caller,
        &practice,
        &entry.patient,
        Kind::Waitlist,
        entry.id.as_str(),
        entry.to,
        now,
    );
    match commit_claiming(state, caller, idem, allowance, build, audit, reply).await {
        // A twin request landed first: its entry is the answer.
        Err(ApiError::Booking(BookingError::AlreadyWaiting)) => {
            let owner = claim_owner(state, &claim_key, now).await?;
            match owner {
                Some(owner) => match entry_of(state, &entry.provider, &owner).await? {
                    Some(open) => already_waiting(state, caller, idem, &open, &practice).await,
                    None => Err(ApiError::Booking(BookingError::AlreadyWaiting)),
                },
                None => Err(ApiError::Booking(BookingError::AlreadyWaiting)),
            }
        }
        other => other,
    }
}

/// Removes the patient's entries whose offer lapsed (the sweep marks them; it writes no patient
/// keys), each with its allowance slot and request claim, so that they count no more. Read through
/// the patient's index: an entry lapsed a moment ago may wait for the next request.
async fn close_lapsed(
    state: &AppState,
    patient: &PatientId,
    now: i64,
    request_id: &str,
) -> Result<(), ApiError> {
    let query = Query::gsi1(patient_waitlist_partition(patient));
    for item in query_all(&*state.table, &query).await? {
        let entry = WaitlistEntry::from_item(&item)?;
        if entry.status != WaitStatus::Lapsed {
            continue;
        }
        let mut ops = close_ops(state, &entry, now).await?;
        let record = Audit::new("waitlist.delete", "waitlist", entry.id.as_str());
        ops.push(job_record(state, record.about(&entry.patient), request_id));
        match state.table.transact_write(ops).await {
            // Closed by a request racing this one: nothing was written.
            Ok(()) | Err(crate::store::TableError::TransactionConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The entry that holds a request's claim, while the claim has not lapsed.
async fn claim_owner(state: &AppState, key: &Key, now: i64) -> Result<Option<String>, ApiError> {
    let Some(item) = state.table.get(key, Consistency::Strong).await? else {
        return Ok(None);
    };
    let active = item
        .get(TTL_ATTR)
        .and_then(AttrValue::as_n)
        .is_some_and(|until| until > now);
    Ok(active
        .then(|| {
            item.get(attr::OWNER)
                .and_then(AttrValue::as_s)
                .map(str::to_owned)
        })
        .flatten())
}

async fn entry_of(
    state: &AppState,
    provider: &ProviderId,
    id: &str,
) -> Result<Option<WaitlistEntry>, ApiError> {
    let key = Key::new(waitlist_partition(provider), id);
    match state.table.get(&key, Consistency::Strong).await? {
        Some(item) => Ok(Some(WaitlistEntry::from_item(&item)?)),
        None => Ok(None),
    }
}

/// 200 with the open entry a repeated request made before (a read of it, audited); a retry of the
/// request that made it gets that request's reply.
async fn already_waiting(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    open: &WaitlistEntry,
    practice: &Practice,
) -> Result<Reply, ApiError> {
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let audit = Audit::new("waitlist.read", "waitlist", open.id.as_str()).about(&open.patient);
    audit_read(state, caller, audit).await?;
    Ok(Reply::ok(&open.view(&practice.zone))?.with_patient_data())
}

/// The writes that close a waitlist entry (left, its offer booked, its offer lapsed): the entry
/// deleted while it is as read, and the patient's allowance slot and the request's claim given
/// back while they are still the entry's (read first: see [`allowance::still_held`]).
pub(super) async fn close_ops(
    state: &AppState,
    entry: &WaitlistEntry,
    now: i64,
) -> Result<Vec<TransactOp>, ApiError> {
    let mut as_read = vec![Condition::Equals(
        attr::STATUS.into(),
        entry.status.as_str().into(),
    )];
    if let Some(hold) = &entry.hold {
        as_read.push(Condition::Equals(
            attr::HOLD_ID.into(),
            hold.as_str().into(),
        ));
    }
    let mut ops = vec![TransactOp::Delete {
        key: entry.key(),
        condition: Some(Condition::And(as_read)),
    }];
    let owner = entry.id.as_str();
    let slot = entry
        .quota_slot
        .map(|slot| allowance::slot_key(&entry.patient, Kind::Waitlist, slot));
    let claim = waitlist_request_key(
        &entry.patient,
        &entry.provider,
        &entry.service,
        entry.from,
        entry.to,
    );
    let slot_held = async {
        match &slot {
            Some(key) => allowance::still_held(state, key, owner, now).await,
            None => Ok(false),
        }
    };
    let (slot_held, claim_held) =
        futures_util::future::try_join(slot_held, allowance::still_held(state, &claim, owner, now))
            .await?;
    if let (Some(key), true) = (slot, slot_held) {
        ops.push(allowance::release_key(key, owner));
    }
    if claim_held {
        ops.push(allowance::release_key(claim, owner));
    }
    Ok(ops)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeaveRequest {
    /// The entry's provider (entries are kept per provider).
    pub provider_id: ProviderId,
}

/// A patient leaves the waitlist, or staff remove an entry: the entry goes with its allowance slot
/// and request claim; an offer it holds is released and its time offered to the next patient.
#[tracing::instrument(skip_all, fields(entry = %id))]
pub async fn leave(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &WaitlistId,
    req: LeaveRequest,
) -> Result<Reply, ApiError> {
    let target = Audit::new("waitlist.delete", "waitlist", id.as_str());
    let loaded = match entry_of(state, &req.provider_id, id.as_str()).await {
        Ok(Some(entry)) => Ok(entry),
        // Gone: a retry of the request that removed it gets that answer again, once the caller
        // holds a role that may leave or remove entries at all.
        Ok(None) => {
            let may = &[Role::Patient, Role::Staff, Role::Admin];
            match caller.principal.authorize(may, Resource::Shared) {
                Err(denied) => Err(denied.into()),
                Ok(()) => match idem.replay(state).await? {
                    Some(reply) => return Ok(reply),
                    None => Err(ApiError::NotFound),
                },
            }
        }
        Err(e) => Err(e),
    };
    let target = match &loaded {
        Ok(entry) => target.about(&entry.patient),
        Err(_) => target,
    };
    let checked = loaded.and_then(|entry| {
        caller.principal.authorize(
            &[Role::Patient, Role::Staff, Role::Admin],
            Resource::Patient(entry.patient.subject()),
        )?;
        Ok(entry)
    });
    let entry = refused(state, caller, target.clone(), checked).await?;
    let practice = practice(state).await?;
    let now = now(state);
    // An offer still held goes with the entry (its time is free again at once).
    let offer = match (entry.status, &entry.hold) {
        (WaitStatus::Offered, Some(hold)) => live_hold(state, hold, now).await?,
        _ => None,
    };
    let mut ops = close_ops(state, &entry, now).await?;
    if let Some(hold) = &offer {
        ops.push(TransactOp::Delete {
            key: hold_key(&hold.id),
            condition: Some(Condition::ItemExists),
        });
        ops.extend(
            units(hold.occupied.0, hold.occupied.1)
                .map(|u| release_lock(&hold.provider, u, hold.id.as_str())),
        );
    }
    let writes = ops
        .into_iter()
        .map(|op| Write::new(op).or(BookingError::WaitlistEntryChanged))
        .collect();
    let reply = Reply::ok(&serde_json::json!({ "id": entry.id, "removed": true }))?;
    let reply = commit(state, caller, Some(idem), writes, target, reply).await?;
    if !reply.replayed
        && let Some(hold) = offer
    {
        match provider(state, &hold.provider).await {
            Ok(provider) => {
                let freed = Freed {
                    span: hold.occupied,
                    by: &entry.patient,
                };
                offer_freed_best_effort(state, &provider, &practice, freed, &caller.request_id)
                    .await;
            }
            Err(e) => tracing::warn!(error = ?e, "waitlist offer failed; the time stays open"),
        }
    }
    Ok(reply)
}

/// The hold, while it has not expired.
async fn live_hold(state: &AppState, id: &HoldId, now: i64) -> Result<Option<Hold>, ApiError> {
    let Some(item) = state.table.get(&hold_key(id), Consistency::Strong).await? else {
        return Ok(None);
    };
    let hold = Hold::from_item(&item)?;
    Ok((hold.expires_at > now).then_some(hold))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitlistQuery {
    pub provider_id: Option<String>,
    /// Staff reading one patient's entries (her page in the console).
    pub patient_id: Option<PatientId>,
}

#[tracing::instrument(skip_all)]
pub async fn list_waitlist(
    state: &AppState,
    caller: &Caller,
    q: &WaitlistQuery,
) -> Result<serde_json::Value, ApiError> {
    let practice = practice(state).await?;
    let (query, audit) = match &q.provider_id {
        _ if q.provider_id.is_some() && q.patient_id.is_some() => {
            return Err(ApiError::Input(InputError::InvalidQuery));
        }
        None if let Some(patient) = &q.patient_id => {
            let target = Audit::new("waitlist.list", "patient", patient.as_str()).about(patient);
            let authorized = caller.authorize_staff().map_err(ApiError::from);
            crate::unit_of_work::refused(state, caller, target, authorized).await?;
            (
                Query::gsi1(patient_waitlist_partition(patient)),
                Audit::new("waitlist.list", "patient", patient.as_str()).about(patient),
            )
        }
        Some(id) => {
            caller.authorize_staff()?;
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
    let audit = audit.about_all(entries.iter().map(|e| &e.patient));
    audit_read(state, caller, audit).await?;
    // A provider's waitlist names its patients (the front desk calls them); a patient's own not.
    let names = match &q.provider_id {
        Some(_) => names_of(state, entries.iter().map(|e| &e.patient)).await?,
        None => Default::default(),
    };
    let now = now(state);
    // The offers' holds read at once, not one round trip after another.
    let views = futures_util::future::try_join_all(entries.iter().map(|entry| async {
        let mut view = entry.view(&practice.zone);
        if let Some(name) = names.get(&entry.patient) {
            view["patientName"] = name.expose().as_str().into();
        }
        view["offer"] = match (entry.status, &entry.hold) {
            (WaitStatus::Offered, Some(id)) => offer(state, id, now, &practice.zone).await?,
            _ => serde_json::Value::Null,
        };
        Ok::<_, ApiError>(view)
    }))
    .await?;
    Ok(serde_json::json!({ "entries": views }))
}

/// The time an offer holds, while it does (what the patient books with the entry's `holdId`);
/// null once it lapsed or was booked.
async fn offer(
    state: &AppState,
    id: &HoldId,
    now: i64,
    zone: &jiff::tz::TimeZone,
) -> Result<serde_json::Value, ApiError> {
    let Some(item) = state.table.get(&hold_key(id), Consistency::Strong).await? else {
        return Ok(serde_json::Value::Null);
    };
    let hold = Hold::from_item(&item)?;
    if hold.expires_at <= now {
        return Ok(serde_json::Value::Null);
    }
    let view = hold.view(zone);
    Ok(serde_json::json!({
        "start": view["start"],
        "end": view["end"],
        "expiresAt": view["expiresAt"],
    }))
}

pub(crate) async fn offer_freed_best_effort(
    state: &AppState,
    provider: &Provider,
    practice: &Practice,
    freed: Freed<'_>,
    request_id: &str,
) {
    // The change has committed; the freed time stays bookable by anyone if no offer can be made.
    if let Err(e) = offer_freed(state, provider, practice, freed, request_id).await {
        tracing::warn!(error = ?e, "waitlist offer failed; the time stays open");
    }
}

/// Time that just became free, and whose it was: a patient's own cancellation, move or lapsed
/// hold is never offered back to her (she gave it up; holding it for her would only keep it from
/// everyone else for the offer window).
#[derive(Clone, Copy, Debug)]
pub struct Freed<'a> {
    pub span: (i64, i64),
    pub by: &'a PatientId,
}

/// Offers time that just became free to the earliest waiting patient it suits (other than the one
/// who gave it up): a hold for them for the practice's offer window, their entry marked offered and
/// a message in the outbox, in one transaction. Returns the hold made, if any.
#[tracing::instrument(skip_all)]
pub async fn offer_freed(
    state: &AppState,
    provider: &Provider,
    practice: &Practice,
    freed: Freed<'_>,
    request_id: &str,
) -> Result<Option<HoldId>, ApiError> {
    let (by, freed) = (freed.by, freed.span);
    let now = now(state);
    let query = Query::partition(waitlist_partition(&provider.id)).consistent();
    let waiting: Vec<WaitlistEntry> = query_all(&*state.table, &query)
        .await?
        .iter()
        .map(WaitlistEntry::from_item)
        .filter(|e| {
            e.as_ref().map_or(true, |e| {
                e.status == WaitStatus::Waiting && e.to > now && e.patient != *by
            })
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
        let mut message = Message::new(MessageKind::WaitlistOffer, &entry.patient, now, now);
        message.start = Some(hold.start);
        message.hold = Some(hold.id.clone());
        message.offer_expires_at = Some(hold.expires_at);
        ops.push(message.put());
        let record = Audit::new("hold.offer", "hold", hold.id.as_str());
        ops.push(job_record(state, record.about(&hold.patient), request_id));
        match state.table.transact_write(ops).await {
            Ok(()) => return Ok(Some(hold.id)),
            // Taken meanwhile (by a booking or another offer): nothing was written.
            Err(crate::store::TableError::TransactionConditionFailed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// The audit record of what the waitlist does on its own (offers, closing lapsed requests).
fn job_record(state: &AppState, record: Audit, request_id: &str) -> TransactOp {
    let actor = Actor::System {
        name: "waitlist",
        request_id,
    };
    TransactOp::Put {
        item: record.item(state, actor),
        condition: Some(Condition::ItemAbsent),
    }
}
