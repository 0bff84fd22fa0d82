//! Online visits: the room of an appointment held online (`online: true`). Only its patient and
//! its provider's side (the provider; staff only for a provider without a login) may enter; anyone else is refused (`403`,
//! audited naming the patient). The room is open from 15 minutes before the start to 30 minutes
//! after the end (the practice's `visitRoom` sets both), for a visit still on (not cancelled, not marked a no-show, not waiting for its
//! deposit). The patient joins the waiting room; the provider's side sees her waiting and admits
//! her; admitted once, she may leave and rejoin (a dropped connection reconnects) while the room
//! is open. Each side's page registers its DTLS certificate's fingerprint when it joins, so the
//! other side can check the connection it gets is to that certificate. Joining, admitting and
//! leaving are audited (`visit.join`, `visit.admit`,
//! `visit.leave`: no health information). Each participant the room lets in is given a
//! short-lived signaling address of its own (`crate::signaling`): the provider's side as the
//! channel's master as soon as the room opens, the patient as a viewer once admitted. Media goes
//! between the two browsers (DTLS-SRTP); our servers carry signaling only.

use serde::Serialize;

use super::appointments::load_naming_patient;
use crate::auth::{Resource, Role};
use crate::common::lookup::{now, practice, provider};
use crate::error::ApiError;
use crate::signaling::SignalRole;
use crate::state::AppState;
use crate::store::codec::booking::{AppointmentCodec, VisitCodec};
use crate::store::keys::visit_key;
use crate::store::{Condition, Consistency, TransactOp};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit, refused};
use domain::access::Caller;
use domain::booking::{Appointment, Status, Visit, VisitRoom};
use domain::ids::AppointmentId;
use domain::instant::render_utc;
use domain::refusals::BookingError;

/// Who a caller is in a visit's room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Participant {
    /// The appointment's patient: waits, then is admitted.
    Patient,
    /// The provider's side: the appointment's provider, staff, admins.
    Host,
}

impl Participant {
    fn signal_role(self) -> SignalRole {
        match self {
            Participant::Patient => SignalRole::Viewer,
            Participant::Host => SignalRole::Master,
        }
    }
}

/// The appointment `id` and who the caller is in its room; a caller who is neither is refused
/// (audited naming the patient), and so is a visit not held online.
async fn enter(
    state: &AppState,
    caller: &Caller,
    id: &AppointmentId,
    action: &'static str,
) -> Result<(Appointment, Participant), ApiError> {
    let target = Audit::new(action, "appointment", id.as_str());
    let (target, loaded) = load_naming_patient(state, id, target).await;
    let checked = async {
        let (appt, _) = loaded?;
        let as_patient = caller.principal.has(Role::Patient)
            && caller
                .principal
                .authorize(&[Role::Patient], Resource::Patient(appt.patient.subject()))
                .is_ok();
        if as_patient {
            return Ok((appt, Participant::Patient));
        }
        // The provider's side is the provider herself; staff host only for a provider who has no
        // login of her own (the front desk runs her calendar).
        let provider = provider(state, &appt.provider).await?;
        match &provider.subject {
            Some(sub) => {
                caller
                    .principal
                    .authorize(&[Role::Provider], Resource::Provider(sub))?;
                Ok((appt, Participant::Host))
            }
            None if caller.is_staff() => Ok((appt, Participant::Host)),
            None => Err(ApiError::Forbidden),
        }
    };
    let (appt, who) = refused(state, caller, target, checked.await).await?;
    if !appt.online {
        return Err(ApiError::Booking(BookingError::NotOnline));
    }
    Ok((appt, who))
}

/// Whether the room is open at `now`: within the practice's window, for a visit still on.
fn open(appt: &Appointment, room: &VisitRoom, now: i64) -> bool {
    let (opens, closes) = appt.visit_window(room);
    let on = matches!(
        appt.status,
        Status::Booked | Status::Arrived | Status::Completed
    );
    on && (opens..closes).contains(&now)
}

async fn load_visit(state: &AppState, id: &AppointmentId) -> Result<Visit, ApiError> {
    match state.table.get(&visit_key(id), Consistency::Strong).await? {
        Some(item) => Ok(Visit::from_item(&item)?),
        None => Ok(Visit::default()),
    }
}

/// A short opaque name for a participant on one visit's channel (no subject, no name, and not
/// the same across visits).
fn client_id(who: Participant, caller: &Caller, visit: &AppointmentId) -> String {
    let digest = domain::hash::sha256(&[
        b"visit-client\n",
        visit.as_str().as_bytes(),
        b"\n",
        caller.principal.subject.as_str().as_bytes(),
    ]);
    let role = match who {
        Participant::Patient => "patient",
        Participant::Host => "host",
    };
    format!("{role}-{}", domain::hash::hex(&digest[..6]))
}

/// The room as the caller sees it: when it opens and closes, whether it is open, where the
/// patient stands, and (for a participant it lets in now) a signaling address of her own.
async fn view(
    state: &AppState,
    caller: &Caller,
    appt: &Appointment,
    who: Participant,
    visit: &Visit,
    give_address: bool,
) -> Result<serde_json::Value, ApiError> {
    let now = now(state);
    let room = practice(state).await?.visit_room;
    let (opens, closes) = appt.visit_window(&room);
    let is_open = open(appt, &room, now);
    let mut v = serde_json::json!({
        "appointmentId": appt.id,
        "role": who,
        "startsAt": render_utc(appt.start),
        "endsAt": render_utc(appt.end),
        "opensAt": render_utc(opens),
        "closesAt": render_utc(closes),
        "open": is_open,
        "patient": visit.state(),
        "videoAvailable": state.signaling.is_some(),
    });
    // Each side's certificate, as its page registered it: the connection must be to the other's,
    // and the safety code comes from both.
    let (own, theirs) = match who {
        Participant::Patient => (&visit.patient_certificate, &visit.host_certificate),
        Participant::Host => (&visit.host_certificate, &visit.patient_certificate),
    };
    v["certificate"] = own.clone().into();
    v["peerCertificate"] = theirs.clone().into();
    // An address only for a side that joined (audited, its certificate registered): the provider's
    // side once it entered, the patient once admitted. A step's answer never carries one.
    let let_in = match who {
        Participant::Host => visit.host_certificate.is_some(),
        Participant::Patient => visit.admitted_at.is_some(),
    };
    let signaling = state.signaling.as_ref().filter(|_| give_address);
    if let (true, true, Some(signaling)) = (is_open, let_in, signaling) {
        let client = client_id(who, caller, &appt.id);
        match signaling
            .access(&appt.id, who.signal_role(), &client, now, closes)
            .await
        {
            Ok(access) => {
                v["signaling"] = serde_json::json!({
                    "url": access.url.expose(),
                    "role": who.signal_role(),
                    "clientId": access.client_id,
                    "expiresAt": render_utc(access.expires_at),
                    "iceServers": access.ice_servers,
                });
            }
            // The room still answers (the page reads it again within a second).
            Err(error) => {
                tracing::warn!(error = %anyhow::Error::new(error), "no signaling address")
            }
        }
    }
    Ok(v)
}

/// `GET /v1/appointments/{id}/visit`: the room.
#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn room(
    state: &AppState,
    caller: &Caller,
    id: &AppointmentId,
) -> Result<serde_json::Value, ApiError> {
    let (appt, who) = enter(state, caller, id, "visit.read").await?;
    let visit = load_visit(state, id).await?;
    view(state, caller, &appt, who, &visit, true).await
}

/// What a participant does in the room.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Join,
    Admit,
    Leave,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Join => "join",
            Step::Admit => "admit",
            Step::Leave => "leave",
        }
    }
    fn action(self) -> &'static str {
        match self {
            Step::Join => "visit.join",
            Step::Admit => "visit.admit",
            Step::Leave => "visit.leave",
        }
    }
}

/// `POST /v1/appointments/{id}/visit/{join,admit,leave}`: the patient joins the waiting room (the
/// provider's side joins the room itself); the provider's side admits the patient waiting; either
/// leaves. Each is audited; joining and admitting need the room open (`409 visit_not_open`), and
/// only the provider's side admits (`403`), someone who waits (`409 nobody_waiting`).
#[tracing::instrument(skip_all, fields(appointment = %id))]
pub async fn step(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    id: &AppointmentId,
    step: Step,
    certificate: Option<String>,
) -> Result<Reply, ApiError> {
    // Only joining names a certificate.
    if certificate
        .as_deref()
        .is_some_and(|c| step != Step::Join || !domain::booking::certificate_fingerprint_ok(c))
    {
        return Err(ApiError::Booking(BookingError::InvalidCertificate));
    }
    let (appt, who) = enter(state, caller, id, step.action()).await?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    let now = now(state);
    let room = practice(state).await?.visit_room;
    if step != Step::Leave && !open(&appt, &room, now) {
        return Err(ApiError::Booking(BookingError::VisitNotOpen));
    }
    let before = load_visit(state, id).await?;
    let after = match (step, who) {
        // Joining registers the page's certificate (a rejoin, a new one); the patient waits.
        (Step::Join, Participant::Patient) => Visit {
            waiting_since: before.waiting_since.or(Some(now)),
            patient_certificate: certificate.or(before.patient_certificate.clone()),
            version: before.version + 1,
            ..before.clone()
        },
        (Step::Join, Participant::Host) => Visit {
            host_certificate: certificate.or(before.host_certificate.clone()),
            version: before.version + 1,
            ..before.clone()
        },
        (Step::Admit, Participant::Patient) => {
            let target = Audit::new(step.action(), "appointment", id.as_str()).about(&appt.patient);
            return refused(state, caller, target, Err(ApiError::Forbidden)).await;
        }
        (Step::Admit, Participant::Host) if before.admitted_at.is_some() => before.clone(),
        (Step::Admit, Participant::Host) if before.waiting_since.is_none() => {
            return Err(ApiError::Booking(BookingError::NobodyWaiting));
        }
        (Step::Admit, Participant::Host) => Visit {
            admitted_at: Some(now),
            version: before.version + 1,
            ..before.clone()
        },
        _ => before.clone(),
    };
    let mut writes = Vec::new();
    if after != before {
        let changed = || ApiError::Booking(BookingError::AppointmentChanged);
        let condition = if before.version == 0 {
            Condition::ItemAbsent
        } else {
            Condition::version_is(before.version)
        };
        writes.push(
            Write::new(TransactOp::Put {
                item: after.to_item(id),
                condition: Some(condition),
            })
            .or(changed()),
        );
    }
    // The room's answer, without a signaling address: that comes from reading the room (an
    // address is not kept in the idempotency record, a replay must not hand out one that expired,
    // and a step must not wait on the signaling service).
    let body = view(state, caller, &appt, who, &after, false).await?;
    let reply = Reply::ok(&body)?;
    let audit = Audit::new(step.action(), "appointment", id.as_str()).about(&appt.patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// The sweep's part in online visits: removes the signaling channel of every room that is not
/// open now (its visit over, cancelled, moved, or gone), so a channel outlives its visit by at
/// most a sweep's interval and nobody stays connected on it. A room that opens again (a visit
/// moved later) gets a new channel when it next gives out an address. How many were removed.
#[tracing::instrument(skip_all)]
pub async fn close_rooms(state: &AppState) -> Result<usize, ApiError> {
    let Some(signaling) = &state.signaling else {
        return Ok(0);
    };
    let unavailable = |e| ApiError::Unavailable {
        code: "signaling_unavailable",
        source: anyhow::Error::new(e),
    };
    let visits = signaling.channels().await.map_err(unavailable)?;
    if visits.is_empty() {
        return Ok(0);
    }
    let room = practice(state).await?.visit_room;
    let now = now(state);
    let mut removed = 0;
    // One channel that cannot be removed now (the service busy, a record unreadable) is tried
    // again by the next run; the others are not held up by it.
    for id in visits {
        let key = crate::store::keys::appointment_key(&id);
        let still_open = match state.table.get(&key, Consistency::Strong).await {
            Ok(Some(item)) => match Appointment::from_item(&item) {
                Ok(appt) => open(&appt, &room, now),
                Err(error) => {
                    tracing::warn!(%error, "an appointment that cannot be read: its channel stays");
                    continue;
                }
            },
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "could not read an appointment: its channel stays");
                continue;
            }
        };
        if !still_open {
            match signaling.remove(&id).await {
                Ok(()) => removed += 1,
                Err(error) => {
                    tracing::warn!(error = %anyhow::Error::new(error), "could not remove a channel")
                }
            }
        }
    }
    Ok(removed)
}
