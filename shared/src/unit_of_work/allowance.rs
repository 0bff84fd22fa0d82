//! Per-patient limits (active future appointments, active holds, open waitlist entries), held on
//! the table so that they hold under races; and feedback sent per day (each slot lapses a day after it
//! was claimed).
//!
//! A patient's allowance of N is N numbered slot items `PATIENT#<patient>` / `QUOTA#<kind>#<nn>`.
//! A booking (hold, waitlist entry) claims a free slot in the same transaction that writes it: a
//! conditional put that succeeds only on an absent or lapsed slot (`expires_at` passed: the
//! appointment started, the hold expired, the waitlist window closed). Two racing requests that
//! pick the same slot cannot both land; a request that finds no free slot is `409 limit_reached`
//! and writes nothing. Cancelling releases the slot in the cancelling write.

use rand::seq::IndexedRandom as _;

use super::{Audit, CommitError, Idempotency, Reply, Write, commit};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::attr;
use crate::store::keys::{self, patient_partition};
use crate::store::{
    AttrValue, Condition, Item, Key, Query, SortKey, TTL_ATTR, TransactOp, query_all,
};
use domain::access::Caller;
use domain::booking::Practice;
pub use domain::booking::{Kind, Limits};
use domain::ids::PatientId;
use domain::refusals::{BookingError, Limited};

/// The sort-key prefix of an allowance's slots.
fn prefix(kind: Kind) -> &'static str {
    match kind {
        Kind::Appointment => keys::QUOTA_APPOINTMENT_PREFIX,
        Kind::Hold => keys::QUOTA_HOLD_PREFIX,
        Kind::Waitlist => keys::QUOTA_WAITLIST_PREFIX,
        Kind::Feedback => keys::QUOTA_FEEDBACK_PREFIX,
    }
}

pub fn slot_key(patient: &PatientId, kind: Kind, slot: u16) -> Key {
    keys::allowance_slot_key(patient, prefix(kind), slot)
}

pub fn limit_reached(kind: Kind) -> ApiError {
    ApiError::Booking(BookingError::LimitReached(match kind {
        Kind::Appointment => Limited::Appointments,
        Kind::Hold => Limited::Holds,
        Kind::Waitlist => Limited::WaitlistEntries,
        Kind::Feedback => Limited::Feedback,
    }))
}

/// A slot picked for a claim: its number and the write that claims it.
pub struct Claim {
    pub slot: u16,
    pub op: TransactOp,
}

/// How a slot is picked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pick {
    /// Any slot, unread: most patients hold few, so a first attempt usually lands and a booking
    /// stays one table round trip.
    Guess,
    /// A slot the allowance's items show free (one query), after a guess met a taken slot.
    Read,
}

/// Picks a slot of the patient's `kind` allowance for `owner` until `until`. The write is
/// conditional, so a slot that is taken fails the whole transaction; the caller then tries again
/// with [`Pick::Read`] or answers [`limit_reached`].
#[allow(clippy::too_many_arguments)] // one claim's facts; a struct would only rename them
pub async fn claim(
    state: &AppState,
    patient: &PatientId,
    kind: Kind,
    limit: u16,
    owner: &str,
    until: i64,
    now: i64,
    pick: Pick,
) -> Result<Claim, ApiError> {
    let slot = match pick {
        Pick::Guess => rand::random_range(0..limit.max(1)),
        Pick::Read => free_slot(state, patient, kind, limit, now).await?,
    };
    let item = Item::new(slot_key(patient, kind, slot))
        .with(attr::OWNER, owner)
        .with(TTL_ATTR, until);
    let op = TransactOp::Put {
        item,
        condition: Some(Condition::Or(vec![
            Condition::ItemAbsent,
            Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now + 1)),
        ])),
    };
    Ok(Claim { slot, op })
}

/// A slot the table shows free or lapsed, at random among them; [`limit_reached`] when none is.
async fn free_slot(
    state: &AppState,
    patient: &PatientId,
    kind: Kind,
    limit: u16,
    now: i64,
) -> Result<u16, ApiError> {
    let prefix = prefix(kind);
    let query = Query::partition(patient_partition(patient))
        .sort(SortKey::BeginsWith(prefix.into()))
        .consistent();
    let mut taken = Vec::new();
    for item in query_all(&*state.table, &query).await? {
        let active = item
            .get(TTL_ATTR)
            .and_then(AttrValue::as_n)
            .is_some_and(|expiry| expiry > now);
        if active && let Some(slot) = item.key.sk.strip_prefix(prefix) {
            taken.push(slot.parse::<u16>().ok());
        }
    }
    let free: Vec<u16> = (0..limit).filter(|s| !taken.contains(&Some(*s))).collect();
    // Racers of one patient spread over the free slots instead of all taking the first.
    free.choose(&mut rand::rng())
        .copied()
        .ok_or_else(|| limit_reached(kind))
}

/// Moves a claimed slot's expiry (a rescheduled appointment); it must still be `owner`'s.
pub fn extend(patient: &PatientId, kind: Kind, slot: u16, owner: &str, until: i64) -> TransactOp {
    TransactOp::Put {
        item: Item::new(slot_key(patient, kind, slot))
            .with(attr::OWNER, owner)
            .with(TTL_ATTR, until),
        condition: Some(Condition::Equals(attr::OWNER.into(), owner.into())),
    }
}

/// Frees a claimed slot (a cancelled appointment, a hold booked). The slot lapses only when what
/// claimed it has started or expired, which these changes check first, so it is still `owner`'s;
/// the condition makes sure no one else's claim is ever freed.
pub fn release(patient: &PatientId, kind: Kind, slot: u16, owner: &str) -> TransactOp {
    release_key(slot_key(patient, kind, slot), owner)
}

/// Whether the slot (or claim) at `key` is still `owner`'s and has not lapsed: read before a change
/// gives it back, because a lapsed one may be another's by now, and a release conditional on its
/// owner would then fail the whole change.
pub async fn still_held(
    state: &AppState,
    key: &Key,
    owner: &str,
    now: i64,
) -> Result<bool, ApiError> {
    Ok(state
        .table
        .get(key, crate::store::Consistency::Strong)
        .await?
        .is_some_and(|item| {
            item.get(attr::OWNER).and_then(AttrValue::as_s) == Some(owner)
                && item
                    .get(TTL_ATTR)
                    .and_then(AttrValue::as_n)
                    .is_some_and(|until| until > now)
        }))
}

/// Gives back the slot or claim at `key`, which must still be `owner`'s.
pub fn release_key(key: Key, owner: &str) -> TransactOp {
    TransactOp::Delete {
        key,
        condition: Some(Condition::Equals(attr::OWNER.into(), owner.into())),
    }
}

/// A per-patient allowance a change must claim (a patient acting for themself; never staff).
pub(crate) struct Allowance<'a> {
    pub(crate) patient: &'a PatientId,
    pub(crate) kind: Kind,
    pub(crate) limit: u16,
    pub(crate) owner: &'a str,
    pub(crate) until: i64,
    pub(crate) now: i64,
}

/// Attempts at a claim: a guess, then reads of the allowance (a racing request of the same
/// patient may take the slot a read found free).
pub(crate) const CLAIM_ATTEMPTS: usize = 4;

/// The allowance a change by `caller` for `patient` claims: none when staff act.
pub(crate) fn allowance<'a>(
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

/// [`super::commit`] with a claim on the patient's allowance (when there is one) appended after the
/// change's own writes. `build` gets the claimed slot to record on the new item. The first
/// attempt guesses a slot without reading (one round trip when it is free); a taken slot makes it read the allowance and try a free one.
pub(crate) async fn commit_claiming(
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
            Pick::Guess
        } else {
            Pick::Read
        };
        let claim = claim(
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
    Err(limit_reached(a.kind))
}
