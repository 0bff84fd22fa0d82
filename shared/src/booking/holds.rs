//! Holds: a short claim on a slot while a patient confirms, and the sweep that removes expired
//! ones and offers their time to the waitlist.

use super::slots::{hold_ops, requested_slot};
use super::waitlist::{Freed, offer_freed};
use crate::common::access::acting_for;
use crate::common::lookup::{now, practice, provider};
use crate::store::codec::booking::{HoldCodec, WaitlistEntryCodec};
use crate::unit_of_work::allowance::{allowance, commit_claiming};

use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::attr;
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Consistency, Key, Query, SortKey, TTL_ATTR, query_all};
use crate::store::{TransactOp, Update};
use crate::unit_of_work::allowance::Kind;
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write};
use domain::access::Caller;
use domain::booking::*;
use domain::ids::{HoldId, PatientId, ProviderId, ServiceId};
use domain::refusals::BookingError;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoldRequest {
    pub provider_id: ProviderId,
    pub service_id: ServiceId,
    pub start: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
}

#[tracing::instrument(skip_all)]
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
    let audit = Audit::new("hold.create", "hold", hold.id.as_str()).about(&hold.patient);
    let allowance = allowance(
        caller,
        practice,
        &hold.patient,
        Kind::Hold,
        hold.id.as_str(),
        hold.expires_at,
        now,
    );
    let consents = super::consents::required_checks(state, &slot.service, &hold.patient).await?;
    let build = |quota_slot| {
        let hold = Hold {
            quota_slot,
            ..hold.clone()
        };
        let taken = || ApiError::Booking(BookingError::SlotTaken);
        let writes = hold_ops(&hold, now).into_iter();
        let mut writes: Vec<Write> = writes.map(|op| Write::new(op).or(taken())).collect();
        writes.extend(consents.writes());
        writes
    };
    let result = commit_claiming(state, caller, idem, allowance, build, audit, reply).await;
    super::consents::listed_in_full(state, &slot.service, &hold.patient, result).await
}

/// Removes holds that have expired and offers their time to the waitlist. Run on a schedule;
/// expired holds never block anyone meanwhile (their locks count as free), this only makes the
/// freed time reach waiting patients. Returns (holds removed, offers made).
#[tracing::instrument(skip_all)]
pub async fn sweep_expired_holds(
    state: &AppState,
    request_id: &str,
) -> Result<(usize, usize), ApiError> {
    let now = now(state);
    let query = Query::gsi1(HOLDS_PARTITION).sort(SortKey::Lt(instant_key(now)));
    let (mut removed, mut offered, mut failed) = (0, 0, 0);
    for item in query_all(&*state.table, &query).await? {
        let hold = Hold::from_item(&item)?;
        // The deletion and its audit record land together, or neither (the hold was used or
        // extended meanwhile).
        let actor = Actor::System {
            name: "sweep",
            request_id,
        };
        let record = Audit::new("hold.sweep", "hold", hold.id.as_str())
            .about(&hold.patient)
            .item(state, actor);
        let mut ops = vec![
            TransactOp::Delete {
                key: hold_key(&hold.id),
                condition: Some(Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now + 1))),
            },
            TransactOp::Put {
                item: record,
                condition: Some(Condition::ItemAbsent),
            },
        ];
        // A waitlist offer that lapsed closes its request: the entry is marked lapsed (the
        // booking function removes it and gives its allowance back when the patient next asks;
        // lapsing writes no patient keys).
        match offered_entry(state, &hold).await {
            Ok(Some(entry)) => {
                ops.push(lapse_op(&entry, &hold.id));
                ops.push(TransactOp::Put {
                    item: Audit::new("waitlist.lapse", "waitlist", entry.id.as_str())
                        .about(&entry.patient)
                        .item(state, actor),
                    condition: Some(Condition::ItemAbsent),
                });
            }
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = ?e, "an expired hold's waitlist entry could not be read");
                failed += 1;
                continue;
            }
        }
        let deleted = state.table.transact_write(ops).await;
        match deleted {
            Ok(()) => removed += 1,
            Err(crate::store::TableError::TransactionConditionFailed { .. }) => continue,
            // One hold that cannot be removed does not stop the others; the run still fails.
            Err(e) => {
                tracing::error!(error = %e, "an expired hold could not be removed");
                failed += 1;
                continue;
            }
        }
        let practice = practice(state).await?;
        let provider = provider(state, &hold.provider).await?;
        let freed = Freed {
            span: hold.occupied,
            by: &hold.patient,
        };
        if offer_freed(state, &provider, &practice, freed, request_id)
            .await?
            .is_some()
        {
            offered += 1;
        }
    }
    if failed > 0 {
        return Err(ApiError::Unexpected(anyhow::anyhow!(
            "{failed} expired holds could not be removed ({removed} were)"
        )));
    }
    Ok((removed, offered))
}

/// Marks an offered waitlist entry lapsed, while it still holds the offer `hold`.
fn lapse_op(entry: &WaitlistEntry, hold: &HoldId) -> TransactOp {
    TransactOp::Update {
        key: entry.key(),
        update: Update::default().set(attr::STATUS, WaitStatus::Lapsed.as_str()),
        condition: Some(Condition::And(vec![
            Condition::Equals(attr::STATUS.into(), WaitStatus::Offered.as_str().into()),
            Condition::Equals(attr::HOLD_ID.into(), hold.as_str().into()),
        ])),
    }
}

/// The waitlist entry a hold was offered from, while it still holds that offer.
async fn offered_entry(state: &AppState, hold: &Hold) -> Result<Option<WaitlistEntry>, ApiError> {
    let Some(id) = &hold.waitlist else {
        return Ok(None);
    };
    let key = Key::new(waitlist_partition(&hold.provider), id.as_str());
    let Some(item) = state.table.get(&key, Consistency::Strong).await? else {
        return Ok(None);
    };
    let entry = WaitlistEntry::from_item(&item)?;
    Ok((entry.hold.as_ref() == Some(&hold.id)).then_some(entry))
}
