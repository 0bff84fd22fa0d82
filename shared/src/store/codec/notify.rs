//! Outbox messages and notification preferences as items.
//!
//! A message waiting to be sent (pending, or claimed) is in the `OUTBOX#DUE` index by due time;
//! once it is sent, withdrawn, skipped or failed its index attributes are removed, so the index
//! only ever holds work.

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, GSI1_PK, GSI1_SK, Item, TransactOp, attr};
use domain::ids::{AppointmentId, HoldId, OutboxId, PatientId};
use domain::notify::{Kind, Message, Preferences, State};

fn opt_n(item: &Item, name: &str) -> Result<Option<i64>, Corrupt> {
    match item.get(name) {
        None => Ok(None),
        Some(v) => v.as_n().map(Some).ok_or_else(|| corrupt(name)),
    }
}

/// How a [`Message`] is spelled as a table item (the one codec of the record).
pub trait MessageCodec: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Message, Corrupt>;
    /// The write that puts a new message in the outbox, in the transaction of the change that
    /// causes it.
    fn put(&self) -> TransactOp;
}

impl MessageCodec for Message {
    fn to_item(&self) -> Item {
        let mut item = Item::new(outbox_key(&self.id))
            .with(attr::ID, self.id.as_str())
            .with(attr::KIND, self.kind.code())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::DUE_AT, self.due_at)
            .with(attr::CREATED_AT, self.created_at)
            .with(attr::STATUS, self.state.code())
            .with(attr::ATTEMPTS, i64::from(self.attempts));
        if matches!(self.state, State::Pending | State::Sending) {
            item.set(GSI1_PK, OUTBOX_DUE_INDEX);
            item.set(GSI1_SK, outbox_due_sort(self.due_at, &self.id));
        }
        if let Some((id, version)) = &self.appointment {
            item.set(attr::APPOINTMENT_ID, id.as_str());
            item.set(attr::APPOINTMENT_VERSION, *version);
        }
        if let Some(start) = self.start {
            item.set(attr::START, start);
        }
        if let Some(hold) = &self.hold {
            item.set(attr::HOLD_ID, hold.as_str());
        }
        if let Some(at) = self.offer_expires_at {
            item.set(attr::OFFER_EXPIRES_AT, at);
        }
        if let Some(claim) = &self.claim {
            item.set(attr::CLAIM, claim.as_str());
        }
        if let Some(at) = self.claimed_at {
            item.set(attr::CLAIMED_AT, at);
        }
        item
    }
    fn from_item(item: &Item) -> Result<Message, Corrupt> {
        let appointment = match item.get(attr::APPOINTMENT_ID) {
            None => None,
            Some(_) => Some((
                parsed(item, attr::APPOINTMENT_ID, AppointmentId::parse)?,
                n(item, attr::APPOINTMENT_VERSION)?,
            )),
        };
        Ok(Message {
            id: parsed(item, attr::ID, OutboxId::parse)?,
            kind: parsed(item, attr::KIND, Kind::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            due_at: n(item, attr::DUE_AT)?,
            created_at: n(item, attr::CREATED_AT)?,
            appointment,
            start: opt_n(item, attr::START)?,
            hold: match item.get(attr::HOLD_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::HOLD_ID, HoldId::parse)?),
            },
            offer_expires_at: opt_n(item, attr::OFFER_EXPIRES_AT)?,
            state: parsed(item, attr::STATUS, State::parse)?,
            attempts: u32::try_from(opt_n(item, attr::ATTEMPTS)?.unwrap_or(0))
                .map_err(|_| corrupt(attr::ATTEMPTS))?,
            claim: item
                .get(attr::CLAIM)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
            claimed_at: opt_n(item, attr::CLAIMED_AT)?,
        })
    }
    fn put(&self) -> TransactOp {
        TransactOp::Put {
            item: self.to_item(),
            condition: Some(Condition::ItemAbsent),
        }
    }
}

/// How a [`Preferences`] is spelled as a table item (the one codec of the record).
pub trait PreferencesCodec: Sized {
    fn to_item(&self, patient: &PatientId) -> Item;
    fn from_item(item: &Item) -> Result<Preferences, Corrupt>;
}

impl PreferencesCodec for Preferences {
    fn to_item(&self, patient: &PatientId) -> Item {
        let mut item = Item::new(notify_preferences_key(patient))
            .with(attr::PATIENT_ID, patient.as_str())
            .with(attr::SMS_ON, AttrValue::Bool(self.sms));
        if let Some(on) = self.email {
            item.set(attr::EMAIL_ON, AttrValue::Bool(on));
        }
        for (name, at) in [
            (attr::SMS_CONSENT_AT, self.sms_consent_at),
            (attr::SMS_STOPPED_AT, self.sms_stopped_at),
            (attr::EMAIL_BOUNCED_AT, self.email_bounced_at),
        ] {
            if let Some(at) = at {
                item.set(name, at);
            }
        }
        item
    }
    fn from_item(item: &Item) -> Result<Preferences, Corrupt> {
        let flag = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(AttrValue::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(corrupt(name)),
        };
        s(item, attr::PATIENT_ID)?;
        Ok(Preferences {
            email: flag(attr::EMAIL_ON)?,
            sms: flag(attr::SMS_ON)?.unwrap_or(false),
            sms_consent_at: opt_n(item, attr::SMS_CONSENT_AT)?,
            sms_stopped_at: opt_n(item, attr::SMS_STOPPED_AT)?,
            email_bounced_at: opt_n(item, attr::EMAIL_BOUNCED_AT)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_and_preferences_read_back_and_only_waiting_messages_are_indexed() {
        let patient = PatientId::parse("3f2504e0-4f89-41d3-9a0c-0305e82c3301").expect("patient id");
        let mut m = Message::new(Kind::Reminder, &patient, 1_000, 10).about(
            &AppointmentId::new(),
            3,
            5_000,
        );
        m.claim = Some("c".into());
        m.claimed_at = Some(20);
        let item = m.to_item();
        assert!(item.get(GSI1_PK).is_some());
        assert_eq!(Message::from_item(&item).unwrap(), m);
        m.state = State::Sent;
        assert!(m.to_item().get(GSI1_PK).is_none());
        let p = Preferences {
            email: Some(false),
            sms: true,
            sms_consent_at: Some(7),
            sms_stopped_at: None,
            email_bounced_at: Some(9),
        };
        assert_eq!(Preferences::from_item(&p.to_item(&patient)).unwrap(), p);
    }
}
