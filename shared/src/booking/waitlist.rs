//! The waitlist: patients ask for a window; freed time is offered to the earliest waiting patient
//! it suits (a hold, the entry marked offered and an outbox message, in one transaction).

use super::slots::{busy_units, hold_ops};
use crate::common::access::acting_for;
use crate::common::input::{body_instant, query_provider_id};
use crate::common::lookup::{now, offered_service, practice, provider, service};
use crate::store::attr;
use crate::store::codec::booking::{HoldCodec, WaitlistEntryCodec};
use crate::store::codec::notify::MessageCodec;
use crate::unit_of_work::allowance::{allowance, commit_claiming};

use serde::{Deserialize, Serialize};

use crate::auth::Role;
use crate::error::{ApiError, InputError};
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, Query, TransactOp, Update, query_all};
use crate::unit_of_work::allowance::Kind;
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, audit_read};
use domain::access::Caller;
use domain::booking::*;
use domain::ids::{HoldId, PatientId, ProviderId, ServiceId, WaitlistId};
use domain::notify::{Kind as MessageKind, Message};
use domain::refusals::BookingError;
use domain::schedule::{Calendar, MAX_RANGE_SECS};

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
    let audit = Audit::new("waitlist.create", "waitlist", entry.id.as_str()).about(&entry.patient);
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

#[tracing::instrument(skip_all)]
pub async fn list_waitlist(
    state: &AppState,
    caller: &Caller,
    q: &WaitlistQuery,
) -> Result<serde_json::Value, ApiError> {
    let practice = practice(state).await?;
    let (query, audit) = match &q.provider_id {
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
    let now = now(state);
    // The offers' holds read at once, not one round trip after another.
    let views = futures_util::future::try_join_all(entries.iter().map(|entry| async {
        let mut view = entry.view(&practice.zone);
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

pub(super) async fn offer_freed_best_effort(
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
        let actor = Actor::System {
            name: "waitlist",
            request_id,
        };
        ops.push(TransactOp::Put {
            item: Audit::new("hold.offer", "hold", hold.id.as_str())
                .about(&hold.patient)
                .item(state, actor),
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
