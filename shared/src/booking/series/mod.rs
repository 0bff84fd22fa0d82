//! Recurring series: a patient's standing appointment every 1 to 4 weeks, booked, moved and
//! cancelled in one request, its occurrences ordinary appointments that know their series.
//!
//! **All or nothing beyond one transaction.** A 16-week series of 50-minute sessions takes about
//! 200 lock units, more than one DynamoDB transaction holds (100 items). A change of a series is
//! therefore written in two steps, and only the second makes anything visible:
//!
//! 1. *Reserve.* The series record is written with the change's plan (`pending`, indexed by its
//!    deadline), then every lock unit the change needs, owned by its occurrence's appointment id,
//!    in transactions of up to 100 items. The units are ordinary locks: a racing booking cannot
//!    take them, and a unit somebody else took makes the step fail, give back what it took and
//!    answer 409 with the dates. No appointment, patient item, message or allowance exists yet.
//! 2. *Commit.* One transaction replaces the plan by the committed series (the commit point), with
//!    the idempotency record, the audit record, the allowance claim and as many occurrences'
//!    appointments, patient copies and reminders as fit (all 16 of a 16-week series). Occurrences
//!    that do not fit are written right after, each transaction conditional on its items being
//!    absent; a crash between them is finished by the retry of the same request (the series id is
//!    derived from the idempotency key) or by the next read of the series ([`reconcile`]).
//!
//! A crash during step 1 leaves lock units owned by a series that never committed: they block
//! those times like a hold until the sweep gives them back ([`give_back_stale`], every five
//! minutes, after the plan's two-minute deadline), or until a retry of the request reuses them.
//! Nothing a patient or the practice can list exists before the commit point.

pub mod change;
pub mod create;
pub mod read;

use std::collections::{BTreeMap, BTreeSet};

use super::slots::LOCK_GRACE_SECS;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::attr;
use crate::store::codec::booking::{AppointmentCodec, SeriesCodec};
use crate::store::codec::notify::MessageCodec;
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Item, MAX_TRANSACT_ITEMS, Query, SortKey, TTL_ATTR,
    TableError, TransactOp, Update, query_all,
};
use crate::unit_of_work::{Actor, Audit};
use domain::booking::*;
use domain::ids::{AppointmentId, ProviderId, SeriesId};
use domain::instant::render_in;
use domain::notify::{Kind as MessageKind, Message, appointment_messages};
use domain::refusals::BookingError;
use domain::schedule::{Calendar, SlotError, units};
use domain::series::{Conflict, Occurrence, Pending, Planned, Series};

/// How long a reserved change may stay uncommitted before the sweep gives its units back.
pub(crate) const RESERVE_SECS: i64 = 120;
/// Room a commit keeps for the writes every commit adds (audit, idempotency record, allowance
/// claim, the series and its patient pointer, the registered-patient check).
const COMMIT_HEADROOM: usize = 8;
/// Alternatives offered for a conflicting date.
const ALTERNATIVES: usize = 3;

pub(crate) async fn load(state: &AppState, id: &SeriesId) -> Result<Series, ApiError> {
    let item = state
        .table
        .get(&series_key(id), Consistency::Strong)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Series::from_item(&item)?)
}

/// The write that records, in the series' record, that its occurrence `id` now starts at `start`
/// (moved alone, as any appointment): conditional on the record read, and refused while a change
/// of the series is reserved.
pub(crate) async fn occurrence_moved(
    state: &AppState,
    series_id: &SeriesId,
    id: &AppointmentId,
    start: i64,
) -> Result<TransactOp, ApiError> {
    let series = load(state, series_id).await?;
    if series.pending.is_some() {
        return Err(BookingError::SeriesChanged.into());
    }
    let mut occurrences = series.occurrences.clone();
    for o in occurrences.iter_mut().filter(|o| &o.id == id) {
        o.start = start;
    }
    let updated = Series {
        occurrences,
        version: series.version + 1,
        ..series.clone()
    };
    Ok(TransactOp::Put {
        item: updated.to_item(),
        condition: Some(Condition::version_is(series.version)),
    })
}

/// The holder of each held lock unit of `provider` in `[from, to)` at `now`.
async fn lock_owners(
    state: &AppState,
    provider: &ProviderId,
    from: i64,
    to: i64,
    now: i64,
) -> Result<BTreeMap<i64, String>, ApiError> {
    let query = Query::partition(lock_partition(provider))
        .sort(SortKey::Between(instant_key(from), instant_key(to)))
        .consistent();
    let mut owners = BTreeMap::new();
    for item in query_all(&*state.table, &query).await? {
        let held = item
            .get(TTL_ATTR)
            .and_then(AttrValue::as_n)
            .is_none_or(|expiry| expiry > now);
        let owner = item.get(attr::OWNER).and_then(AttrValue::as_s);
        if held && let (Ok(unit), Some(owner)) = (item.key.sk.parse::<i64>(), owner) {
            owners.insert(unit, owner.to_owned());
        }
    }
    Ok(owners)
}

fn slot_code(e: SlotError) -> &'static str {
    match e {
        SlotError::OffGrid => "off_grid",
        SlotError::InPast => "in_past",
        SlotError::InsideNotice => "inside_minimum_notice",
        SlotError::BeyondAdvance => "beyond_booking_window",
    }
}

/// A start a change wants: the occurrence that would take it, the start, and the span the
/// occurrence already holds (a move).
pub(crate) type Wanted = (AppointmentId, i64, Option<(i64, i64)>);

/// What every series change checks its starts with: the provider's calendar, the service's
/// duration, the practice's zone.
pub(crate) struct Checker<'a> {
    pub(crate) cal: Calendar<'a>,
    pub(crate) provider: &'a ProviderId,
    pub(crate) duration: i64,
    pub(crate) now: i64,
}

impl<'a> Checker<'a> {
    pub(crate) fn of(
        provider: &'a Provider,
        practice: &'a Practice,
        duration: i64,
        now: i64,
    ) -> Self {
        Checker {
            cal: Calendar {
                rules: &provider.rules,
                zone: &practice.zone,
            },
            provider: &provider.id,
            duration,
            now,
        }
    }

    /// The wanted starts (each with the occurrence that would take it and the span it already
    /// holds) checked: the free ones as a plan, the others as conflicts (with their starts).
    pub(crate) async fn plan(
        &self,
        state: &AppState,
        wanted: Vec<Wanted>,
    ) -> Result<(Vec<Planned>, Vec<(i64, Conflict)>), ApiError> {
        let pairs: Vec<_> = wanted.iter().map(|(id, t, _)| (id.clone(), *t)).collect();
        let checked = self.check(state, &pairs).await?;
        let (mut plan, mut conflicts) = (Vec::new(), Vec::new());
        for ((id, start, kept), result) in wanted.into_iter().zip(checked) {
            match result {
                Ok(occupied) => plan.push(Planned {
                    id,
                    start,
                    occupied,
                    kept,
                }),
                Err(conflict) => conflicts.push((start, conflict)),
            }
        }
        Ok((plan, conflicts))
    }

    /// Each wanted start (with the occurrence that would take it, whose own units do not count
    /// as taken), checked by the same rules as a single booking: the calendar's (schedule,
    /// notice, window, breaks, buffers) and the table's (appointments and holds). The days are
    /// read at once.
    pub(crate) async fn check(
        &self,
        state: &AppState,
        wanted: &[(AppointmentId, i64)],
    ) -> Result<Vec<Result<(i64, i64), Conflict>>, ApiError> {
        let reads = wanted
            .iter()
            .map(|(id, start)| self.check_one(state, id, *start));
        let results = futures_util::future::join_all(reads).await;
        results.into_iter().collect()
    }

    async fn check_one(
        &self,
        state: &AppState,
        own: &AppointmentId,
        start: i64,
    ) -> Result<Result<(i64, i64), Conflict>, ApiError> {
        let zone = self.cal.zone;
        let occupied = self.cal.occupied(start, self.duration);
        let busy_in = async |from: i64, to: i64| -> Result<BTreeSet<i64>, ApiError> {
            let owners = lock_owners(state, self.provider, from, to, self.now).await?;
            Ok(owners
                .into_iter()
                .filter(|(_, owner)| owner != own.as_str())
                .map(|(unit, _)| unit)
                .collect())
        };
        // The occurrence's own units first (the common case reads a dozen items); its whole day
        // only when it is refused, for the alternatives.
        let reason = match self.cal.check(start, self.duration, self.now) {
            Err(e) => Some(slot_code(e)),
            Ok(()) => {
                let mine: Vec<i64> = units(occupied.0, occupied.1).collect();
                let (first, last) = (mine.first().copied(), mine.last().copied());
                match (first, last) {
                    (Some(a), Some(b)) if !busy_in(a, b).await?.is_empty() => Some("slot_taken"),
                    _ => None,
                }
            }
        };
        let Some(reason) = reason else {
            return Ok(Ok(occupied));
        };
        let date = self.cal.date_of(start);
        let day_start = date
            .and_then(|d| {
                zone.to_zoned(d.to_datetime(jiff::civil::Time::midnight()))
                    .ok()
            })
            .map_or(start - 86_400, |z| z.timestamp().as_second());
        let day_end = day_start + 86_400 + 3_600;
        let span = self.duration + self.cal.rules.buffer_before() + self.cal.rules.buffer_after();
        let busy = busy_in(day_start - span, day_end + span).await?;
        let mut free = self
            .cal
            .available(self.duration, day_start, day_end, self.now, &busy);
        free.retain(|&t| self.cal.date_of(t) == date);
        free.sort_by_key(|&t| (t - start).abs());
        free.truncate(ALTERNATIVES);
        free.sort_unstable();
        Ok(Err(Conflict {
            date: date.map(|d| d.to_string()).unwrap_or_default(),
            start: render_in(start, zone),
            reason,
            alternatives: free.iter().map(|&t| render_in(t, zone)).collect(),
        }))
    }
}

/// A lock unit taken for an occurrence: free, lapsed, or already the occurrence's own (a retry
/// of the same request, a move that overlaps its old time).
fn take_for(provider: &ProviderId, unit: i64, plan: &Planned, now: i64) -> TransactOp {
    TransactOp::Put {
        item: Item::new(lock_key(provider, unit))
            .with(attr::OWNER, plan.id.as_str())
            .with(TTL_ATTR, plan.occupied.1 + LOCK_GRACE_SECS),
        condition: Some(Condition::Or(vec![
            Condition::ItemAbsent,
            Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now)),
            Condition::Equals(attr::OWNER.into(), plan.id.as_str().into()),
        ])),
    }
}

/// Step 1: writes `reserved` (the series with its pending plan, on `condition`), then every lock
/// unit of the plan. When a unit is taken meanwhile, gives back what it took and answers 409.
pub(crate) async fn reserve(
    state: &AppState,
    reserved: &Series,
    condition: Condition,
    now: i64,
) -> Result<(), ApiError> {
    let plan = reserved.pending.as_ref().map_or(&[][..], |p| &p.plan[..]);
    let mut locks: Vec<TransactOp> = plan
        .iter()
        .flat_map(|p| units(p.occupied.0, p.occupied.1).map(move |u| (u, p)))
        .map(|(u, p)| take_for(&reserved.provider, u, p, now))
        .collect();
    // The plan first, on its own: every unit taken after it can be found (and given back) from it.
    match state.table.put(reserved.to_item(), Some(condition)).await {
        Ok(()) => {}
        Err(TableError::ConditionFailed) => {
            return Err(ApiError::Booking(BookingError::SeriesChanged));
        }
        Err(e) => return Err(e.into()),
    }
    // Then the units, earliest first, in transactions of up to 100: two series racing for the same
    // weeks meet at their earliest shared unit, so one of them wins (written at once, each could
    // take part of the other's and both would lose).
    while !locks.is_empty() {
        let take = MAX_TRANSACT_ITEMS.min(locks.len());
        let chunk: Vec<TransactOp> = locks.drain(..take).collect();
        match state.table.transact_write(chunk).await {
            Ok(()) => {}
            Err(TableError::TransactionConditionFailed { .. }) => {
                give_back(state, reserved).await?;
                return Err(ApiError::Booking(BookingError::SlotTaken));
            }
            Err(e) => {
                give_back(state, reserved).await?;
                return Err(e.into());
            }
        }
    }
    Ok(())
}

/// Gives back a reserved change that will not commit: the lock units its plan took (those its
/// occurrences did not already hold), then the plan itself (a new series' record goes; a moved
/// series keeps its committed occurrences). Safe to repeat: only units still owned by the plan's
/// occurrences are deleted, and the record only while it holds this very plan.
pub(crate) async fn give_back(state: &AppState, reserved: &Series) -> Result<(), ApiError> {
    let Some(pending) = &reserved.pending else {
        return Ok(());
    };
    // First the fence: the record is marked given back (while it still holds this very plan), so
    // a commit racing this give-back fails its condition instead of landing on units about to go.
    // Another attempt's reservation (this one's was given back after a stall) is not ours to touch.
    let released = format!("released:{}", pending.attempt);
    let fence = state
        .table
        .update(
            &series_key(&reserved.id),
            Update::default().set(attr::ATTEMPT, released.as_str()),
            Some(Condition::And(vec![
                Condition::version_is(reserved.version),
                Condition::Or(vec![
                    Condition::Equals(attr::ATTEMPT.into(), pending.attempt.as_str().into()),
                    Condition::Equals(attr::ATTEMPT.into(), released.as_str().into()),
                ]),
            ])),
        )
        .await;
    match fence {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let mut ops = Vec::new();
    for p in &pending.plan {
        let owners = lock_owners(
            state,
            &reserved.provider,
            p.occupied.0,
            p.occupied.1,
            i64::MIN,
        )
        .await?;
        let kept: BTreeSet<i64> = p
            .kept
            .map(|(a, b)| units(a, b).collect())
            .unwrap_or_default();
        for (unit, owner) in owners {
            if owner == p.id.as_str() && !kept.contains(&unit) {
                ops.push(TransactOp::Delete {
                    key: lock_key(&reserved.provider, unit),
                    condition: Some(Condition::Equals(attr::OWNER.into(), p.id.as_str().into())),
                });
            }
        }
    }
    for chunk in ops.chunks(MAX_TRANSACT_ITEMS) {
        match state.table.transact_write(chunk.to_vec()).await {
            Ok(()) | Err(TableError::TransactionConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let same_plan = Condition::And(vec![
        Condition::version_is(reserved.version),
        Condition::Equals(attr::ATTEMPT.into(), released.as_str().into()),
    ]);
    let record = if reserved.committed() {
        let restored = Series {
            pending: None,
            ..reserved.clone()
        };
        state.table.put(restored.to_item(), Some(same_plan)).await
    } else {
        state
            .table
            .delete(&series_key(&reserved.id), Some(same_plan))
            .await
    };
    match record {
        Ok(()) | Err(TableError::ConditionFailed) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Gives back the reserved changes whose deadline passed uncommitted (the request that made them
/// stopped half-way). Run by the sweep; returns how many it gave back.
pub async fn give_back_stale(state: &AppState, request_id: &str) -> Result<usize, ApiError> {
    let now = state.clock.now().as_second();
    let query = Query::gsi1(SERIES_PENDING_INDEX).sort(SortKey::Lt(instant_key(now)));
    let mut given = 0;
    for item in query_all(&*state.table, &query).await? {
        let series = Series::from_item(&item)?;
        if series.pending.as_ref().is_none_or(|p| p.deadline >= now) {
            continue;
        }
        give_back(state, &series).await?;
        let actor = Actor::System {
            name: "sweep",
            request_id,
        };
        let record = Audit::new("series.release", "series", series.id.as_str())
            .about(&series.patient)
            .item(state, actor);
        state.table.put(record, Some(Condition::ItemAbsent)).await?;
        given += 1;
    }
    Ok(given)
}

/// An occurrence's appointment as the committed series has it.
pub(crate) fn occurrence_appointment(
    series: &Series,
    o: &Occurrence,
    cal: &Calendar<'_>,
    service: &Service,
    now: i64,
) -> Appointment {
    let duration = service.duration();
    Appointment {
        id: o.id.clone(),
        patient: series.patient.clone(),
        provider: series.provider.clone(),
        service: series.service.clone(),
        start: o.start,
        end: o.start + duration,
        occupied: cal.occupied(o.start, duration),
        status: Status::Booked,
        version: 1,
        created_at: now,
        quota_slot: None,
        from_hold: None,
        series: Some(series.id.clone()),
        terms: service.terms(),
        by_practice: false,
        deposit: None,
        // A series of an online service is held online; one that may be either, in person.
        online: service.visit_mode == VisitMode::Online,
    }
}

/// The writes that make a new occurrence visible: its appointment, the patient's copy, its
/// reminders (the first occurrence also its confirmation) and its audit record.
pub(crate) fn materialize_ops(
    state: &AppState,
    actor: Actor<'_>,
    appt: &Appointment,
    sealed_reason: Option<Vec<u8>>,
    practice: &Practice,
    first: bool,
    now: i64,
) -> Vec<TransactOp> {
    let mut ops = vec![
        TransactOp::Put {
            item: appt.to_item(sealed_reason),
            condition: Some(Condition::ItemAbsent),
        },
        TransactOp::Put {
            item: appt.patient_copy(),
            condition: Some(Condition::ItemAbsent),
        },
    ];
    // Its reminders; the first visit also carries the one message that says the series is booked.
    let messages = appointment_messages(MessageKind::Confirmation, appt, practice, now);
    ops.extend(messages.iter().skip(1).map(Message::put));
    if first {
        let booked = Message::new(MessageKind::SeriesBooked, &appt.patient, now, now).about(
            &appt.id,
            appt.version,
            appt.start,
        );
        ops.push(booked.put());
    }
    let mut audit =
        Audit::new("appointment.create", "appointment", appt.id.as_str()).about(&appt.patient);
    if let Some(terms) = &appt.terms {
        audit = audit.document(&terms.version);
    }
    ops.push(TransactOp::Put {
        item: audit.item(state, actor),
        condition: Some(Condition::ItemAbsent),
    });
    ops
}

/// The writes that move a booked occurrence to the start the series now gives it: the lock units
/// of the new time were taken when the move was reserved; the old ones it no longer covers go.
pub(crate) fn move_ops(
    state: &AppState,
    actor: Actor<'_>,
    appt: &Appointment,
    item: &Item,
    moved: &Appointment,
    practice: &Practice,
    now: i64,
) -> Vec<TransactOp> {
    let mut ops = crate::booking::changes::moved_ops(appt, item, moved, practice, now, false);
    ops.push(TransactOp::Put {
        item: Audit::new("appointment.reschedule", "appointment", appt.id.as_str())
            .about(&appt.patient)
            .item(state, actor),
        condition: Some(Condition::ItemAbsent),
    });
    ops
}

/// Packs per-occurrence write groups into transactions of at most `room` items, in order; the
/// first `first_room` items go to the commit.
pub(crate) fn pack(
    groups: Vec<Vec<TransactOp>>,
    first_room: usize,
) -> (Vec<TransactOp>, Vec<Vec<TransactOp>>) {
    let mut first = Vec::new();
    let mut rest: Vec<Vec<TransactOp>> = Vec::new();
    let mut filling_first = true;
    for group in groups {
        if filling_first && first.len() + group.len() <= first_room {
            first.extend(group);
            continue;
        }
        filling_first = false;
        match rest.last_mut() {
            Some(last) if last.len() + group.len() <= MAX_TRANSACT_ITEMS => last.extend(group),
            _ => rest.push(group),
        }
    }
    (first, rest)
}

/// The room a commit leaves for occurrences' writes.
pub(crate) fn commit_room() -> usize {
    MAX_TRANSACT_ITEMS - COMMIT_HEADROOM
}

/// Writes transactions after a commit; one whose conditions fail was written already (by a
/// concurrent [`reconcile`]) or overtaken by a later change, which is what the table then says.
pub(crate) async fn write_rest(
    state: &AppState,
    rest: Vec<Vec<TransactOp>>,
) -> Result<(), ApiError> {
    for ops in rest {
        match state.table.transact_write(ops).await {
            Ok(()) | Err(TableError::TransactionConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Finishes a committed series whose last writes did not land (the request that committed it
/// stopped half-way): each occurrence's appointment is brought to the start the series gives it.
/// Returns the appointments as they now stand (None where still missing).
pub(crate) async fn reconcile(
    state: &AppState,
    series: &Series,
    actor: Actor<'_>,
) -> Result<Vec<Option<Appointment>>, ApiError> {
    let current = read_occurrences(state, series).await?;
    let behind = series
        .occurrences
        .iter()
        .zip(&current)
        .any(|(o, c)| match c {
            None => true,
            Some((appt, _)) => appt.status == Status::Booked && appt.start != o.start,
        });
    if behind && series.committed() {
        let practice = crate::common::lookup::practice(state).await?;
        let provider = crate::common::lookup::provider(state, &series.provider).await?;
        let service =
            crate::common::lookup::offered_service(state, &series.service, &provider.id).await?;
        let cal = Calendar {
            rules: &provider.rules,
            zone: &practice.zone,
        };
        let now = state.clock.now().as_second();
        let mut groups = Vec::new();
        for (i, (o, c)) in series.occurrences.iter().zip(&current).enumerate() {
            match c {
                None => {
                    let appt = occurrence_appointment(series, o, &cal, &service, now);
                    // Finished after an interruption: without the visit reason, which only the
                    // interrupted request had.
                    groups.push(materialize_ops(
                        state,
                        actor,
                        &appt,
                        None,
                        &practice,
                        i == 0,
                        now,
                    ));
                }
                Some((appt, item)) if appt.status == Status::Booked && appt.start != o.start => {
                    let moved = Appointment {
                        start: o.start,
                        end: o.start + service.duration(),
                        occupied: cal.occupied(o.start, service.duration()),
                        version: appt.version + 1,
                        ..appt.clone()
                    };
                    // Only onto units the series' move reserved for it: still its own, or
                    // nothing moves.
                    let mut ops = move_ops(state, actor, appt, item, &moved, &practice, now);
                    ops.extend(units(moved.occupied.0, moved.occupied.1).map(|u| {
                        TransactOp::Check {
                            key: lock_key(&appt.provider, u),
                            condition: Condition::Equals(
                                attr::OWNER.into(),
                                appt.id.as_str().into(),
                            ),
                        }
                    }));
                    groups.push(ops);
                }
                Some(_) => {}
            }
        }
        let (_, rest) = pack(groups, 0);
        write_rest(state, rest).await?;
        return reconcile_read(state, series).await;
    }
    Ok(current.into_iter().map(|c| c.map(|(a, _)| a)).collect())
}

/// Each occurrence's appointment and stored item (None where it is not written yet).
async fn read_occurrences(
    state: &AppState,
    series: &Series,
) -> Result<Vec<Option<(Appointment, Item)>>, ApiError> {
    let keys: Vec<_> = series
        .occurrences
        .iter()
        .map(|o| appointment_key(&o.id))
        .collect();
    let reads = keys.iter().map(|k| state.table.get(k, Consistency::Strong));
    let mut out = Vec::with_capacity(keys.len());
    for item in futures_util::future::join_all(reads).await {
        out.push(match item? {
            Some(item) => Some((Appointment::from_item(&item)?, item)),
            None => None,
        });
    }
    Ok(out)
}

pub(crate) async fn reconcile_read(
    state: &AppState,
    series: &Series,
) -> Result<Vec<Option<Appointment>>, ApiError> {
    let read = read_occurrences(state, series).await?;
    Ok(read.into_iter().map(|c| c.map(|(a, _)| a)).collect())
}
/// The pending plan of a change reserved at `now`.
pub(crate) fn pending(plan: Vec<Planned>, now: i64) -> Pending {
    Pending {
        deadline: now + RESERVE_SECS,
        attempt: ulid::Ulid::new().to_string(),
        plan,
    }
}

/// The condition that the series record still holds `reserved`'s reservation.
pub(crate) fn still_reserved(reserved: &Series) -> Condition {
    let attempt = reserved.pending.as_ref().map_or("", |p| p.attempt.as_str());
    Condition::And(vec![
        Condition::version_is(reserved.version),
        Condition::Equals(attr::ATTEMPT.into(), attempt.into()),
    ])
}
