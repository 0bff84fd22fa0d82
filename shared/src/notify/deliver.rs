//! Delivering outbox messages, exactly once from the patient's point of view.
//!
//! A message is claimed with a conditional write (pending → sending, with a claim token and the
//! patient's allowance for the day taken in the same transaction), checked against what is true
//! now (the appointment still booked at the version the message names, the offer still held, the
//! time not passed), rendered, sent, and marked sent together with its audit entry, on the
//! condition that the claim is still ours. A redelivered stream record or a second sender finds
//! it claimed or sent and does nothing.
//!
//! The one window: a provider call that succeeded and a mark that then failed (a crash, the table
//! unreachable). The claim lapses after [`CLAIM_LEASE_SECS`] and the message is sent again; the
//! envelope carries the message's id and channel as a deduplication key for providers that have
//! one (the local mailbox does: the same file is written again).

use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::notify::{MessageCodec, PreferencesCodec};

use super::port::{Delivery, Envelope, NotifyError};
use super::record::{audit_op, record_refusal};
use crate::common::lookup;
use crate::common::patients::contact;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, GSI1_PK, GSI1_SK, Query, SortKey, TTL_ATTR, TableError,
    TransactOp, Update, attr,
};
use domain::booking::{Appointment, Practice, Status};
use domain::ids::OutboxId;
use domain::notify::{
    CLAIM_LEASE_SECS, Channel, Fields, JOIN_SUFFIX, Kind, MAX_ATTEMPTS, Message, Preferences,
    State, backoff_secs, first_name,
};
use domain::sensitive::Sensitive;

/// What became of one message in one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    NotDue,
    /// Sent, withdrawn, skipped or failed before (a redelivery, a second sender).
    AlreadyDone,
    /// Claimed by another sender whose claim has not lapsed.
    Busy,
    Sent(Vec<Channel>),
    Withdrawn(&'static str),
    Skipped(&'static str),
    /// Deferred: to the end of the quiet hours, or after a failed attempt.
    Deferred(i64),
    Failed(&'static str),
}

/// Messages one run delivers at once: each waits mostly on the table and the provider.
pub const IN_FLIGHT: usize = 16;

/// Delivers every message due now, oldest first, [`IN_FLIGHT`] at a time; returns each message's
/// outcome. One message's error is logged and does not stop the others (it stays due and the
/// next run takes it).
pub async fn deliver_due(
    state: &AppState,
    delivery: &Delivery,
    at_most: usize,
) -> Result<Vec<(OutboxId, Outcome)>, ApiError> {
    use futures_util::StreamExt as _;
    let now = lookup::now(state);
    // `~` sorts after every id: everything due up to and including this second.
    let mut query = Query::gsi1(OUTBOX_DUE_INDEX)
        .sort(SortKey::Le(format!("{}#~", instant_key(now))))
        .limit(100);
    let mut out = Vec::new();
    loop {
        let page = state.table.query(&query).await?;
        let ids: Vec<OutboxId> = page
            .items
            .iter()
            .filter_map(|item| item.get(attr::ID).and_then(AttrValue::as_s))
            .filter_map(OutboxId::parse)
            .take(at_most - out.len())
            .collect();
        let done: Vec<_> = futures_util::stream::iter(ids)
            .map(|id| async move {
                let outcome = deliver_one(state, delivery, &id).await;
                (id, outcome)
            })
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        for (id, outcome) in done {
            match outcome {
                Ok(outcome) => out.push((id, outcome)),
                Err(e) => {
                    tracing::warn!(message = %id, error = %e, "delivery failed; it stays due")
                }
            }
        }
        match page.next {
            Some(next) if out.len() < at_most => query.cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Delivers one message if it is due and nobody else has it.
#[tracing::instrument(skip_all, fields(message = %id))]
pub async fn deliver_one(
    state: &AppState,
    delivery: &Delivery,
    id: &OutboxId,
) -> Result<Outcome, ApiError> {
    let now = lookup::now(state);
    let Some(item) = state
        .table
        .get(&outbox_key(id), Consistency::Strong)
        .await?
    else {
        return Ok(Outcome::AlreadyDone);
    };
    let message = Message::from_item(&item)?;
    match message.state {
        State::Sent | State::Withdrawn | State::Skipped | State::Failed => {
            return Ok(Outcome::AlreadyDone);
        }
        State::Sending if message.claimed_at.unwrap_or(0) + CLAIM_LEASE_SECS > now => {
            return Ok(Outcome::Busy);
        }
        _ => {}
    }
    if message.due_at > now {
        return Ok(Outcome::NotDue);
    }
    let practice = lookup::practice(state).await?;
    let preferences = preferences_of(state, &message).await?;
    let Some(patient) = contact(state, &message.patient).await? else {
        return close(state, &message, None, State::Skipped, "no_patient", now).await;
    };
    // The notice that an address was replaced goes to the replaced address, by email only, whatever
    // the patient chose for other messages: its owner is the one who must hear of it.
    let notice_to = match message.kind {
        Kind::AddressChanged => Some(replaced_address(state, &item).await?),
        _ => None,
    };
    let mut channels = match notice_to {
        Some(_) => vec![Channel::Email],
        None => preferences.channels(patient.email_verified),
    };
    if channels.is_empty() {
        return close(state, &message, None, State::Skipped, "no_consent", now).await;
    }
    // SMS waits out the quiet hours; with email available it is simply not used.
    let quiet = practice
        .notifications
        .quiet_left(minute_of_day(&practice, now));
    if quiet > 0 && channels.contains(&Channel::Sms) {
        if channels.len() > 1 {
            channels.retain(|c| *c != Channel::Sms);
        } else {
            let until = now + i64::from(quiet) * 60;
            return defer(state, &message, None, until, message.attempts).await;
        }
    }

    // The claim, with the day's allowance.
    let token = ulid::Ulid::new().to_string();
    let day = local_day(&practice, now);
    let claim = TransactOp::Update {
        key: outbox_key(&message.id),
        update: Update::default()
            .set(attr::STATUS, State::Sending.code())
            .set(attr::CLAIM, token.as_str())
            .set(attr::CLAIMED_AT, now),
        condition: Some(claimable(&message, now)),
    };
    let allowance = TransactOp::Update {
        key: notify_count_key(&message.patient, &day),
        update: Update::default()
            .add(attr::COUNT, 1)
            .set(attr::PATIENT_ID, message.patient.as_str())
            .set(TTL_ATTR, now + 3 * 86_400),
        // Counted, but never held back by the day's limit: a flood of other messages must not
        // crowd out the one that says the address was changed.
        condition: (message.kind != Kind::AddressChanged).then(|| {
            Condition::Or(vec![
                Condition::AttrAbsent(attr::COUNT.into()),
                Condition::LessThan(
                    attr::COUNT.into(),
                    AttrValue::N(i64::from(
                        practice.notifications.messages_per_patient_per_day,
                    )),
                ),
            ])
        }),
    };
    match state.table.transact_write(vec![claim, allowance]).await {
        Ok(()) => {}
        Err(TableError::TransactionConditionFailed { failed }) if failed.contains(&0) => {
            return Ok(Outcome::Busy);
        }
        Err(TableError::TransactionConditionFailed { .. }) => {
            return close(state, &message, None, State::Skipped, "daily_limit", now).await;
        }
        Err(TableError::TransactionConflict) => return Ok(Outcome::Busy),
        Err(e) => return Err(e.into()),
    }
    let claimed = Some((token.as_str(), day.as_str()));

    // What is true now, after the claim: a cancellation that landed meanwhile withdraws it.
    let (stale, appointment) = stale(state, &message, now).await?;
    if let Some(reason) = stale {
        let state_after = if reason == "too_late" {
            State::Skipped
        } else {
            State::Withdrawn
        };
        return close(state, &message, claimed, state_after, reason, now).await;
    }

    let name = patient.name.expose();
    let when = message
        .start
        .map(|t| local_time(&practice, t, "%a %-d %b %Y, %H:%M %Z"))
        .unwrap_or_default();
    let expires = message
        .offer_expires_at
        .map(|t| local_time(&practice, t, "%a %H:%M"))
        .unwrap_or_default();
    // A confirmation states the cancellation policy the visit was booked under.
    let policy = match (
        &message.kind,
        appointment.as_ref().and_then(|a| a.terms.as_ref()),
    ) {
        (Kind::Confirmation | Kind::ConfirmationForms, Some(terms)) => terms.words().join(" "),
        _ => String::new(),
    };
    // A visit held online: the link opens it in the portal (once she signs in: the link grants
    // nothing), and the email says how to join.
    let online = appointment.as_ref().is_some_and(|a| a.online) && message.kind.joins_online();
    let portal = &practice.notifications.portal_url;
    let (link, visit) = if online {
        (
            format!("{portal}{JOIN_SUFFIX}"),
            format!(
                "It is an online visit, by video: the link below opens it in the patient portal once you sign in, from {} minutes before the start.",
                practice.visit_room.opens_minutes_before
            ),
        )
    } else {
        (portal.clone(), String::new())
    };
    let fields = Fields {
        first_name: first_name(name),
        practice: &practice.name,
        when: &when,
        expires: &expires,
        link: &link,
        policy: &policy,
        visit: &visit,
    };
    let mut sent = Vec::new();
    let mut bounced = false;
    let mut opted_out = false;
    let mut unavailable = false;
    let mut rejected = false;
    for channel in channels {
        let rendered = delivery.templates.render(message.kind, channel, &fields);
        let to = match (channel, &notice_to) {
            (Channel::Email, Some(replaced)) => replaced.expose().clone(),
            (Channel::Email, None) => patient.email.expose().clone(),
            (Channel::Sms, _) => patient.phone.expose().clone(),
        };
        let envelope = Envelope {
            dedupe_key: format!("{}.{}", message.id, channel.code()),
            kind: message.kind,
            channel,
            to: Sensitive::new(to),
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
        };
        match delivery.notifier.send(&envelope).await {
            Ok(_) => sent.push(channel),
            Err(NotifyError::Bounced) => bounced = true,
            Err(NotifyError::OptedOut) => opted_out = true,
            Err(NotifyError::Rejected(e)) => {
                tracing::error!(channel = channel.code(), error = %e, "provider refused the message");
                rejected = true;
            }
            Err(NotifyError::Unavailable(e)) => {
                tracing::warn!(channel = channel.code(), error = %e, "provider unavailable");
                unavailable = true;
            }
        }
    }
    // A replaced address that bounces says nothing about the patient's address now.
    if (bounced || opted_out) && message.kind != Kind::AddressChanged {
        record_refusal(state, &message, bounced, opted_out, now).await?;
    }
    if !sent.is_empty() {
        mark_sent(
            state,
            &message,
            &token,
            &sent,
            &delivery.templates.version,
            now,
        )
        .await?;
        return Ok(Outcome::Sent(sent));
    }
    if unavailable && message.attempts + 1 < MAX_ATTEMPTS {
        let attempts = message.attempts + 1;
        return defer(
            state,
            &message,
            claimed,
            now + backoff_secs(attempts),
            attempts,
        )
        .await;
    }
    let reason = if rejected {
        "rejected"
    } else if unavailable {
        "provider_unavailable"
    } else if bounced {
        "bounced"
    } else {
        "opted_out"
    };
    close(state, &message, claimed, State::Failed, reason, now).await
}

/// The address an address-change notice goes to, sealed on the message when it was written.
async fn replaced_address(
    state: &AppState,
    item: &crate::store::Item,
) -> Result<Sensitive<String>, ApiError> {
    let sealed = item
        .get(attr::TO_EMAIL)
        .and_then(AttrValue::as_b)
        .ok_or_else(|| crate::store::codec::corrupt(attr::TO_EMAIL))?;
    Ok(state
        .sealer
        .open_str(&item.key, attr::TO_EMAIL, sealed)
        .await?)
}

/// Pending, or claimed by a sender whose claim lapsed.
fn claimable(message: &Message, now: i64) -> Condition {
    Condition::Or(vec![
        Condition::Equals(attr::STATUS.into(), State::Pending.code().into()),
        Condition::And(vec![
            Condition::Equals(attr::STATUS.into(), State::Sending.code().into()),
            Condition::LessThan(
                attr::CLAIMED_AT.into(),
                AttrValue::N(now - CLAIM_LEASE_SECS),
            ),
        ]),
    ])
    .and_version(message)
}

trait SameMessage {
    fn and_version(self, message: &Message) -> Condition;
}

impl SameMessage for Condition {
    /// Also: not moved on since it was read (its attempts unchanged).
    fn and_version(self, message: &Message) -> Condition {
        Condition::And(vec![
            self,
            Condition::Equals(
                attr::ATTEMPTS.into(),
                AttrValue::N(i64::from(message.attempts)),
            ),
        ])
    }
}

/// The condition of every write after a claim: the claim is still ours.
fn ours(token: &str) -> Condition {
    Condition::Equals(attr::CLAIM.into(), token.into())
}

/// Why the message is no longer true, if it is not.
async fn stale(
    state: &AppState,
    message: &Message,
    now: i64,
) -> Result<(Option<&'static str>, Option<Appointment>), ApiError> {
    let mut read = None;
    if let Some((id, version)) = &message.appointment {
        let Some(item) = state
            .table
            .get(&appointment_key(id), Consistency::Strong)
            .await?
        else {
            return Ok((Some("appointment_gone"), None));
        };
        let appt = Appointment::from_item(&item)?;
        if message.kind.follows_appointment()
            && (appt.status != Status::Booked || appt.version != *version)
        {
            return Ok((Some("appointment_changed"), Some(appt)));
        }
        if !matches!(message.kind, Kind::Cancelled | Kind::SeriesCancelled) && appt.start <= now {
            return Ok((Some("too_late"), Some(appt)));
        }
        // The reminder of missing forms, once nothing this visit asks for is missing.
        if message.kind == Kind::FormsDue {
            let asks = lookup::service(state, &appt.service)
                .await?
                .map(|s| [s.forms_before_first_visit, s.forms_before_every_visit].concat())
                .unwrap_or_default();
            let missing = crate::common::forms::forms_due(state, &message.patient)
                .await?
                .into_iter()
                .any(|d| d.appointment == appt.id || asks.contains(&d.form));
            if !missing {
                return Ok((Some("forms_complete"), Some(appt)));
            }
        }
        read = Some(appt);
    }
    if message.kind == Kind::WaitlistOffer {
        let held = match &message.hold {
            Some(hold) => state
                .table
                .get(&hold_key(hold), Consistency::Strong)
                .await?
                .is_some(),
            None => false,
        };
        if !held || message.offer_expires_at.is_none_or(|at| at <= now) {
            return Ok((Some("offer_lapsed"), None));
        }
    }
    Ok((None, read))
}

/// Ends a message without sending it (or after every channel failed): out of the due index, the
/// day's allowance given back if it was taken, an audit entry for a failure.
async fn close(
    state: &AppState,
    message: &Message,
    claimed: Option<(&str, &str)>,
    end: State,
    reason: &'static str,
    now: i64,
) -> Result<Outcome, ApiError> {
    let update = Update::default()
        .set(attr::STATUS, end.code())
        .set(attr::OUTCOME, reason)
        .set(attr::SENT_AT, now)
        .remove(attr::TO_EMAIL)
        .remove(GSI1_PK)
        .remove(GSI1_SK);
    let mut ops = release(message, claimed, update);
    if end == State::Failed {
        ops.push(audit_op(state, message, "notification.fail"));
    }
    match state.table.transact_write(ops).await {
        Ok(()) => {}
        Err(TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict) => {
            return Ok(Outcome::Busy);
        }
        Err(e) => return Err(e.into()),
    }
    Ok(match end {
        State::Withdrawn => Outcome::Withdrawn(reason),
        State::Failed => Outcome::Failed(reason),
        _ => Outcome::Skipped(reason),
    })
}

/// The writes that move a message on without sending it: `update` on the condition that the
/// claim is ours (or, unclaimed, that it is still pending as read), and the day's allowance
/// given back if the claim took it.
fn release(message: &Message, claimed: Option<(&str, &str)>, update: Update) -> Vec<TransactOp> {
    let condition = match claimed {
        Some((token, _)) => ours(token),
        None => Condition::Equals(attr::STATUS.into(), State::Pending.code().into())
            .and_version(message),
    };
    let mut ops = vec![TransactOp::Update {
        key: outbox_key(&message.id),
        update,
        condition: Some(condition),
    }];
    if let Some((_, day)) = claimed {
        ops.push(TransactOp::Update {
            key: notify_count_key(&message.patient, day),
            update: Update::default().add(attr::COUNT, -1),
            condition: Some(Condition::ItemExists),
        });
    }
    ops
}

/// Puts the message back to pending, due at `until` (quiet hours, or a retry's backoff).
async fn defer(
    state: &AppState,
    message: &Message,
    claimed: Option<(&str, &str)>,
    until: i64,
    attempts: u32,
) -> Result<Outcome, ApiError> {
    let update = Update::default()
        .set(attr::STATUS, State::Pending.code())
        .set(attr::DUE_AT, until)
        .set(attr::ATTEMPTS, i64::from(attempts))
        .set(GSI1_SK, outbox_due_sort(until, &message.id))
        .remove(attr::CLAIM)
        .remove(attr::CLAIMED_AT);
    let ops = release(message, claimed, update);
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(Outcome::Deferred(until)),
        Err(TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict) => {
            Ok(Outcome::Busy)
        }
        Err(e) => Err(e.into()),
    }
}

async fn mark_sent(
    state: &AppState,
    message: &Message,
    token: &str,
    channels: &[Channel],
    template_version: &str,
    now: i64,
) -> Result<(), ApiError> {
    let update = Update::default()
        .set(attr::STATUS, State::Sent.code())
        .set(attr::SENT_AT, now)
        .set(
            attr::CHANNELS,
            AttrValue::L(
                channels
                    .iter()
                    .map(|c| AttrValue::S(c.code().into()))
                    .collect(),
            ),
        )
        .set(attr::TEMPLATE_VERSION, template_version)
        // A replaced address is kept only until its notice is sent.
        .remove(attr::TO_EMAIL)
        .remove(GSI1_PK)
        .remove(GSI1_SK);
    let ops = vec![
        TransactOp::Update {
            key: outbox_key(&message.id),
            update,
            condition: Some(ours(token)),
        },
        audit_op(state, message, "notification.send"),
    ];
    match state.table.transact_write(ops).await {
        Ok(()) => Ok(()),
        // Our claim lapsed and another sender took it: it marks its own send.
        Err(TableError::TransactionConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

async fn preferences_of(state: &AppState, message: &Message) -> Result<Preferences, ApiError> {
    match state
        .table
        .get(
            &notify_preferences_key(&message.patient),
            Consistency::Strong,
        )
        .await?
    {
        Some(item) => Ok(Preferences::from_item(&item)?),
        None => Ok(Preferences::default()),
    }
}

fn zoned(practice: &Practice, t: i64) -> Option<jiff::Zoned> {
    jiff::Timestamp::from_second(t)
        .ok()
        .map(|ts| ts.to_zoned(practice.zone.clone()))
}

fn local_time(practice: &Practice, t: i64, format: &str) -> String {
    zoned(practice, t)
        .map(|z| z.strftime(format).to_string())
        .unwrap_or_default()
}

fn local_day(practice: &Practice, t: i64) -> String {
    local_time(practice, t, "%Y-%m-%d")
}

fn minute_of_day(practice: &Practice, t: i64) -> u16 {
    zoned(practice, t)
        .map(|z| (z.hour() as u16) * 60 + z.minute() as u16)
        .unwrap_or(0)
}
