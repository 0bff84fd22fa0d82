//! What delivery records about a patient's addresses and numbers: a message's audit entry, a
//! bounced address or an opted-out number on the patient's preferences, and a provider's later
//! report (a bounce, a complaint) on an email it had accepted.

use crate::common::lookup;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::notify::MessageCodec;
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Consistency, TransactOp, Update, attr};
use crate::unit_of_work::{Actor, Audit};
use domain::ids::OutboxId;
use domain::notify::Message;

/// The audit entry of a message: which message, of which kind, to whom; never its content.
///
/// The entity is `message.<kind>`, so the report counts messages by kind from the audit trail.
pub(super) fn audit_op(state: &AppState, message: &Message, action: &'static str) -> TransactOp {
    let request_id = message.id.to_string();
    let entity = format!("message.{}", message.kind.code());
    TransactOp::Put {
        item: Audit::new(action, entity, message.id.as_str())
            .about(&message.patient)
            .item(
                state,
                Actor::System {
                    name: "notify",
                    request_id: &request_id,
                },
            ),
        condition: Some(Condition::ItemAbsent),
    }
}

/// What a provider reported later about an email it had accepted (SES's bounce and complaint
/// events, traced back by the message's tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailEvent {
    /// A permanent bounce: no more email to the address until the patient confirms it.
    Bounced,
    /// The patient marked it as spam: email is turned off for them, as if they had.
    Complained,
}

/// Records a provider's later report on the patient of message `id`. Unknown messages are
/// ignored (another sender on the same account); returns whether one was recorded.
pub async fn record_email_event(
    state: &AppState,
    id: &OutboxId,
    event: EmailEvent,
) -> Result<bool, ApiError> {
    let Some(item) = state
        .table
        .get(&outbox_key(id), Consistency::Strong)
        .await?
    else {
        return Ok(false);
    };
    let message = Message::from_item(&item)?;
    // The notice to a replaced address: what becomes of it says nothing about the patient's
    // address now (and its owner must not be able to turn her messages off).
    if message.kind == domain::notify::Kind::AddressChanged {
        return Ok(false);
    }
    let now = lookup::now(state);
    match event {
        EmailEvent::Bounced => record_refusal(state, &message, true, false, now).await?,
        EmailEvent::Complained => {
            let update = Update::default()
                .set(attr::PATIENT_ID, message.patient.as_str())
                .set(attr::EMAIL_ON, AttrValue::Bool(false));
            let ops = vec![
                TransactOp::Update {
                    key: notify_preferences_key(&message.patient),
                    update,
                    condition: None,
                },
                audit_op(state, &message, "notification.complaint"),
            ];
            state.table.transact_write(ops).await?;
        }
    }
    Ok(true)
}

/// Records a bounced address or an opted-out number on the patient's preferences.
pub(super) async fn record_refusal(
    state: &AppState,
    message: &Message,
    bounced: bool,
    opted_out: bool,
    now: i64,
) -> Result<(), ApiError> {
    let mut update = Update::default().set(attr::PATIENT_ID, message.patient.as_str());
    let mut ops = Vec::new();
    if bounced {
        update = update.set(attr::EMAIL_BOUNCED_AT, now);
        ops.push(audit_op(state, message, "notification.bounce"));
    }
    if opted_out {
        update = update.set(attr::SMS_STOPPED_AT, now);
        ops.push(audit_op(state, message, "notification.optout"));
    }
    ops.push(TransactOp::Update {
        key: notify_preferences_key(&message.patient),
        update,
        condition: None,
    });
    state.table.transact_write(ops).await?;
    Ok(())
}
