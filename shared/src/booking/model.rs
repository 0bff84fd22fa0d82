//! Booking records, their item codecs (one spelling of every attribute, in [`crate::store::attr`])
//! and their JSON views. Their keys are built in [`crate::store::keys`].

use crate::store::attr;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::quota::Limits;
use crate::auth::Subject;
use crate::domain::ids::{AppointmentId, HoldId, PatientId, ProviderId, ServiceId, WaitlistId};
use crate::domain::instant::render_in;
use crate::domain::money::{Currency, Money};
use crate::domain::schedule::Rules;
use crate::error::ApiError;
use crate::store::codec::{corrupt, n, parsed, s};
use crate::store::keys::*;
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, Key, TTL_ATTR};

/// The allowance slot a record holds, if any.
fn quota_slot(item: &Item) -> Result<Option<u16>, ApiError> {
    match item.get(attr::QUOTA_SLOT) {
        None => Ok(None),
        Some(v) => v
            .as_n()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| corrupt(attr::QUOTA_SLOT)),
    }
}

/// A range bound (`from`, `to`): an RFC 3339 timestamp with an explicit offset; a fraction of a
/// second is accepted and truncated to the second.
pub fn parse_bound(text: &str) -> Option<i64> {
    crate::domain::instant::parse(text).map(|i| i.second)
}

/// The practice: its time zone and booking policies.
#[derive(Clone, Debug)]
pub struct Practice {
    pub name: String,
    pub zone: TimeZone,
    pub hold_minutes: u16,
    pub waitlist_offer_minutes: u16,
    pub limits: Limits,
}

impl Practice {
    pub fn zone_name(&self) -> &str {
        self.zone.iana_name().unwrap_or("UTC")
    }
    pub fn to_item(&self) -> Item {
        Item::new(practice_key())
            .with(attr::NAME, self.name.clone())
            .with(attr::TIME_ZONE, self.zone_name().to_owned())
            .with(attr::HOLD_MINUTES, i64::from(self.hold_minutes))
            .with(
                attr::WAITLIST_OFFER_MINUTES,
                i64::from(self.waitlist_offer_minutes),
            )
            .with(
                attr::LIMIT_APPOINTMENTS,
                i64::from(self.limits.active_appointments_per_patient),
            )
            .with(
                attr::LIMIT_HOLDS,
                i64::from(self.limits.active_holds_per_patient),
            )
            .with(
                attr::LIMIT_WAITLIST,
                i64::from(self.limits.open_waitlist_entries_per_patient),
            )
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(Practice {
            name: s(item, attr::NAME)?.to_owned(),
            zone: parsed(item, attr::TIME_ZONE, |z| TimeZone::get(z).ok())?,
            hold_minutes: u16::try_from(n(item, attr::HOLD_MINUTES)?)
                .map_err(|_| corrupt("hold"))?,
            waitlist_offer_minutes: u16::try_from(n(item, attr::WAITLIST_OFFER_MINUTES)?)
                .map_err(|_| corrupt("offer"))?,
            limits: {
                // Practices set up before limits existed get the defaults.
                let defaults = Limits::default();
                let limit = |name: &str, default: u16| match item.get(name) {
                    None => Ok(default),
                    Some(v) => v
                        .as_n()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| corrupt(name)),
                };
                Limits {
                    active_appointments_per_patient: limit(
                        attr::LIMIT_APPOINTMENTS,
                        defaults.active_appointments_per_patient,
                    )?,
                    active_holds_per_patient: limit(
                        attr::LIMIT_HOLDS,
                        defaults.active_holds_per_patient,
                    )?,
                    open_waitlist_entries_per_patient: limit(
                        attr::LIMIT_WAITLIST,
                        defaults.open_waitlist_entries_per_patient,
                    )?,
                }
            },
        })
    }
    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "timeZone": self.zone_name(),
            "holdMinutes": self.hold_minutes,
            "waitlistOfferMinutes": self.waitlist_offer_minutes,
            "limits": self.limits,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Provider {
    pub id: ProviderId,
    pub name: String,
    /// The provider's own login, if they have one: it may read this provider's calendar.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub rules: Rules,
}

impl Provider {
    pub fn to_item(&self) -> Result<Item, ApiError> {
        let rules = serde_json::to_string(&self.rules).map_err(anyhow::Error::new)?;
        let mut item = Item::new(provider_key(&self.id))
            .with(GSI1_PK, PROVIDERS_INDEX)
            .with(GSI1_SK, self.id.as_str())
            .with(attr::ID, self.id.as_str())
            .with(attr::NAME, self.name.clone())
            .with(attr::RULES, rules);
        if let Some(sub) = &self.subject {
            item.set(attr::SUBJECT, sub.as_str());
        }
        Ok(item)
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(Provider {
            id: parsed(item, attr::ID, ProviderId::parse)?,
            name: s(item, attr::NAME)?.to_owned(),
            subject: match item.get(attr::SUBJECT).and_then(AttrValue::as_s) {
                Some(sub) => Some(Subject::parse(sub).ok_or_else(|| corrupt("subject"))?),
                None => None,
            },
            rules: serde_json::from_str(s(item, attr::RULES)?).map_err(|_| corrupt("rules"))?,
        })
    }
}

#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Service {
    pub id: ServiceId,
    pub name: String,
    pub duration_minutes: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    pub provider_ids: Vec<ProviderId>,
}

impl Service {
    pub fn duration(&self) -> i64 {
        i64::from(self.duration_minutes) * 60
    }
    pub fn offered_by(&self, provider: &ProviderId) -> bool {
        self.provider_ids.contains(provider)
    }
    pub fn to_item(&self) -> Item {
        let mut item = Item::new(service_key(&self.id))
            .with(GSI1_PK, SERVICES_INDEX)
            .with(GSI1_SK, self.id.as_str())
            .with(attr::ID, self.id.as_str())
            .with(attr::NAME, self.name.clone())
            .with(attr::DURATION_MINUTES, i64::from(self.duration_minutes))
            .with(
                attr::PROVIDER_IDS,
                AttrValue::L(
                    self.provider_ids
                        .iter()
                        .map(|p| AttrValue::S(p.as_str().into()))
                        .collect(),
                ),
            );
        if let Some(price) = self.price {
            item.set(attr::PRICE_AMOUNT, price.amount());
            item.set(attr::PRICE_CURRENCY, price.currency().code());
        }
        item
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        let price = match item.get(attr::PRICE_AMOUNT).and_then(AttrValue::as_n) {
            Some(amount) => Some(
                Money::new(amount, parsed(item, attr::PRICE_CURRENCY, Currency::parse)?)
                    .ok_or_else(|| corrupt("price"))?,
            ),
            None => None,
        };
        let provider_ids = match item.get(attr::PROVIDER_IDS) {
            Some(AttrValue::L(ids)) => ids
                .iter()
                .map(|v| v.as_s().and_then(ProviderId::parse))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| corrupt("provider_ids"))?,
            _ => return Err(corrupt("provider_ids")),
        };
        Ok(Service {
            id: parsed(item, attr::ID, ServiceId::parse)?,
            name: s(item, attr::NAME)?.to_owned(),
            duration_minutes: u16::try_from(n(item, attr::DURATION_MINUTES)?)
                .map_err(|_| corrupt("duration"))?,
            price,
            provider_ids,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Booked,
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Booked => "booked",
            Status::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "booked" => Some(Status::Booked),
            "cancelled" => Some(Status::Cancelled),
            _ => None,
        }
    }
}

/// The plaintext part of an appointment (the reason for visit is sealed separately).
#[derive(Clone, Debug)]
pub struct Appointment {
    pub id: AppointmentId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub start: i64,
    pub end: i64,
    /// Occupied span, buffers included: the lock units it holds.
    pub occupied: (i64, i64),
    pub status: Status,
    pub version: i64,
    pub created_at: i64,
    /// The patient's allowance slot it holds (booked by the patient, not by staff).
    pub quota_slot: Option<u16>,
}

impl Appointment {
    /// The attributes both the appointment and the patient's copy carry.
    fn plain(&self, mut item: Item) -> Item {
        for (name, value) in [
            (attr::ID, self.id.as_str()),
            (attr::PATIENT_ID, self.patient.as_str()),
            (attr::PROVIDER_ID, self.provider.as_str()),
            (attr::SERVICE_ID, self.service.as_str()),
            (attr::STATUS, self.status.as_str()),
        ] {
            item.set(name, value);
        }
        let mut item = item
            .with(attr::START, self.start)
            .with(attr::END, self.end)
            .with(attr::OCCUPIED_FROM, self.occupied.0)
            .with(attr::OCCUPIED_TO, self.occupied.1)
            .with(attr::VERSION, self.version)
            .with(attr::CREATED_AT, self.created_at);
        if let Some(slot) = self.quota_slot {
            item.set(attr::QUOTA_SLOT, i64::from(slot));
        }
        item
    }
    pub fn to_item(&self, sealed_reason: Option<Vec<u8>>) -> Item {
        let mut item = self
            .plain(Item::new(appointment_key(&self.id)))
            .with(GSI1_PK, calendar_partition(&self.provider))
            .with(GSI1_SK, format!("{}#{}", instant_key(self.start), self.id));
        if let Some(reason) = sealed_reason {
            item.set(attr::REASON, reason);
        }
        item
    }
    pub fn patient_copy(&self) -> Item {
        self.plain(Item::new(patient_appointment_key(&self.patient, &self.id)))
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(Appointment {
            id: parsed(item, attr::ID, AppointmentId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            service: parsed(item, attr::SERVICE_ID, ServiceId::parse)?,
            start: n(item, attr::START)?,
            end: n(item, attr::END)?,
            occupied: (n(item, attr::OCCUPIED_FROM)?, n(item, attr::OCCUPIED_TO)?),
            status: parsed(item, attr::STATUS, Status::parse)?,
            version: n(item, attr::VERSION)?,
            created_at: n(item, attr::CREATED_AT)?,
            quota_slot: quota_slot(item)?,
        })
    }
    /// The JSON view; `reason` only where the caller may read it (and the read is audited).
    pub fn view(&self, zone: &TimeZone, reason: Option<&str>) -> serde_json::Value {
        let mut v = serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "start": render_in(self.start, zone),
            "end": render_in(self.end, zone),
            "timeZone": zone.iana_name().unwrap_or("UTC"),
            "status": self.status.as_str(),
            "version": self.version,
        });
        if let Some(reason) = reason {
            v["reason"] = reason.into();
        }
        v
    }
}

#[derive(Clone, Debug)]
pub struct Hold {
    pub id: HoldId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub start: i64,
    pub end: i64,
    pub occupied: (i64, i64),
    pub expires_at: i64,
    /// Set when the hold is a waitlist offer.
    pub waitlist: Option<WaitlistId>,
    /// The patient's allowance slot it holds (a hold the patient made, not an offer).
    pub quota_slot: Option<u16>,
}

impl Hold {
    pub fn to_item(&self) -> Item {
        let mut item = Item::new(hold_key(&self.id))
            .with(GSI1_PK, HOLDS_PARTITION)
            .with(
                GSI1_SK,
                format!("{}#{}", instant_key(self.expires_at), self.id),
            )
            .with(attr::ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::PROVIDER_ID, self.provider.as_str())
            .with(attr::SERVICE_ID, self.service.as_str())
            .with(attr::START, self.start)
            .with(attr::END, self.end)
            .with(attr::OCCUPIED_FROM, self.occupied.0)
            .with(attr::OCCUPIED_TO, self.occupied.1)
            .with(TTL_ATTR, self.expires_at);
        if let Some(w) = &self.waitlist {
            item.set(attr::WAITLIST_ID, w.as_str());
        }
        if let Some(slot) = self.quota_slot {
            item.set(attr::QUOTA_SLOT, i64::from(slot));
        }
        item
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(Hold {
            id: parsed(item, attr::ID, HoldId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            service: parsed(item, attr::SERVICE_ID, ServiceId::parse)?,
            start: n(item, attr::START)?,
            end: n(item, attr::END)?,
            occupied: (n(item, attr::OCCUPIED_FROM)?, n(item, attr::OCCUPIED_TO)?),
            expires_at: n(item, TTL_ATTR)?,
            waitlist: match item.get(attr::WAITLIST_ID).and_then(AttrValue::as_s) {
                Some(w) => Some(WaitlistId::parse(w).ok_or_else(|| corrupt("waitlist_id"))?),
                None => None,
            },
            quota_slot: quota_slot(item)?,
        })
    }
    pub fn view(&self, zone: &TimeZone) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "start": render_in(self.start, zone),
            "end": render_in(self.end, zone),
            "timeZone": zone.iana_name().unwrap_or("UTC"),
            "expiresAt": render_in(self.expires_at, zone),
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    Waiting,
    Offered,
}

impl WaitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitStatus::Waiting => "waiting",
            WaitStatus::Offered => "offered",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "waiting" => Some(WaitStatus::Waiting),
            "offered" => Some(WaitStatus::Offered),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct WaitlistEntry {
    pub id: WaitlistId,
    pub patient: PatientId,
    pub provider: ProviderId,
    pub service: ServiceId,
    pub from: i64,
    pub to: i64,
    pub status: WaitStatus,
    pub hold: Option<HoldId>,
    /// The patient's allowance slot it holds (joined by the patient, not by staff).
    pub quota_slot: Option<u16>,
}

impl WaitlistEntry {
    pub fn key(&self) -> Key {
        Key::new(waitlist_partition(&self.provider), self.id.as_str())
    }
    pub fn to_item(&self) -> Item {
        let item = Item::new(self.key())
            .with(GSI1_PK, patient_waitlist_partition(&self.patient))
            .with(GSI1_SK, self.id.as_str())
            .with(attr::ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::PROVIDER_ID, self.provider.as_str())
            .with(attr::SERVICE_ID, self.service.as_str())
            .with(attr::FROM, self.from)
            .with(attr::TO, self.to)
            .with(attr::STATUS, self.status.as_str())
            // Gone from the table a day after its window closed.
            .with(TTL_ATTR, self.to + 86_400);
        match self.quota_slot {
            Some(slot) => item.with(attr::QUOTA_SLOT, i64::from(slot)),
            None => item,
        }
    }
    pub fn from_item(item: &Item) -> Result<Self, ApiError> {
        Ok(WaitlistEntry {
            id: parsed(item, attr::ID, WaitlistId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            service: parsed(item, attr::SERVICE_ID, ServiceId::parse)?,
            from: n(item, attr::FROM)?,
            to: n(item, attr::TO)?,
            status: parsed(item, attr::STATUS, WaitStatus::parse)?,
            hold: match item.get(attr::HOLD_ID).and_then(AttrValue::as_s) {
                Some(h) => Some(HoldId::parse(h).ok_or_else(|| corrupt("hold_id"))?),
                None => None,
            },
            quota_slot: quota_slot(item)?,
        })
    }
    pub fn view(&self, zone: &TimeZone) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "providerId": self.provider,
            "serviceId": self.service,
            "from": render_in(self.from, zone),
            "to": render_in(self.to, zone),
            "status": self.status.as_str(),
            "holdId": self.hold,
        })
    }
}

#[cfg(test)]
mod tests;
