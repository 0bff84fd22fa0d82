//! The item codecs of the booking records: every attribute spelled through [`crate::store::attr`],
//! every key built by [`crate::store::keys`], patient-identifying fields sealed by the caller.

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::*;
use crate::store::{AttrValue, GSI1_PK, GSI1_SK, Item, Key, TTL_ATTR, attr};
use domain::access::Subject;
use domain::booking::*;
use domain::ids::{AppointmentId, HoldId, PatientId, ProviderId, SeriesId, ServiceId, WaitlistId};
use domain::money::{Currency, Money};
use domain::series::Series;
use jiff::tz::TimeZone;

/// The allowance slot a record holds, if any.
fn quota_slot(item: &Item) -> Result<Option<u16>, Corrupt> {
    match item.get(attr::QUOTA_SLOT) {
        None => Ok(None),
        Some(v) => v
            .as_n()
            .and_then(|n| u16::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| corrupt(attr::QUOTA_SLOT)),
    }
}

/// How a [`Practice`] is spelled as a table item (the one codec of the record).
pub trait PracticeCodec: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl PracticeCodec for Practice {
    fn to_item(&self) -> Item {
        let mut item = Item::new(practice_key())
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
            .with(
                attr::LIMIT_FEEDBACK,
                i64::from(self.limits.feedback_per_patient_per_day),
            )
            .with(
                attr::LIMIT_SERIES_OCCURRENCES,
                i64::from(self.limits.series_occurrences_per_patient),
            )
            .with(
                attr::NOTIFY_SETTINGS,
                serde_json::to_string(&self.notifications).unwrap_or_default(),
            )
            .with(
                attr::CONTACT,
                serde_json::to_string(&self.contact).unwrap_or_default(),
            )
            .with(
                attr::VISIT_ROOM,
                serde_json::to_string(&self.visit_room).unwrap_or_default(),
            );
        if let Some(minutes) = self.auto_no_show_minutes {
            item.set(attr::AUTO_NO_SHOW_MINUTES, i64::from(minutes));
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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
                    feedback_per_patient_per_day: limit(
                        attr::LIMIT_FEEDBACK,
                        defaults.feedback_per_patient_per_day,
                    )?,
                    series_occurrences_per_patient: limit(
                        attr::LIMIT_SERIES_OCCURRENCES,
                        defaults.series_occurrences_per_patient,
                    )?,
                }
            },
            // Practices set up before notifications (or the contact) existed get the defaults.
            notifications: json_or_default(item, attr::NOTIFY_SETTINGS)?,
            contact: json_or_default(item, attr::CONTACT)?,
            visit_room: json_or_default(item, attr::VISIT_ROOM)?,
            auto_no_show_minutes: match item.get(attr::AUTO_NO_SHOW_MINUTES) {
                None => None,
                Some(v) => Some(
                    v.as_n()
                        .and_then(|n| u16::try_from(n).ok())
                        .ok_or_else(|| corrupt(attr::AUTO_NO_SHOW_MINUTES))?,
                ),
            },
        })
    }
}

/// A setting stored as JSON text; its default when the item predates it.
fn json_or_default<T: Default + serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<T, Corrupt> {
    match item.get(name) {
        None => Ok(T::default()),
        Some(v) => v
            .as_s()
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or_else(|| corrupt(name)),
    }
}

/// How a [`Provider`] is spelled as a table item (the one codec of the record).
pub trait ProviderCodec: Sized {
    fn to_item(&self) -> Result<Item, Corrupt>;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl ProviderCodec for Provider {
    fn to_item(&self) -> Result<Item, Corrupt> {
        let rules = serde_json::to_string(&self.rules).map_err(|_| corrupt("rules"))?;
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
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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

/// How a [`Service`] is spelled as a table item (the one codec of the record).
pub trait ServiceCodec: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl ServiceCodec for Service {
    fn to_item(&self) -> Item {
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
        if self.self_book_series {
            item.set(attr::SELF_BOOK_SERIES, true);
        }
        for (name, ids) in [
            (attr::REQUIRED_CONSENTS, &self.required_consents),
            (attr::FORMS_FIRST, &self.forms_before_first_visit),
            (attr::FORMS_EVERY, &self.forms_before_every_visit),
        ] {
            if !ids.is_empty() {
                item.set(
                    name,
                    AttrValue::L(
                        ids.iter()
                            .map(|d| AttrValue::S(d.as_str().into()))
                            .collect(),
                    ),
                );
            }
        }
        if let Some(price) = self.price {
            item.set(attr::PRICE_AMOUNT, price.amount());
            item.set(attr::PRICE_CURRENCY, price.currency().code());
        }
        if let Some(policy) = &self.cancellation_policy {
            item.set(attr::CANCELLATION_POLICY, json_text(policy));
        }
        if self.visit_mode != VisitMode::InPerson {
            item.set(attr::VISIT_MODE, self.visit_mode.as_str());
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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
            self_book_series: item
                .get(attr::SELF_BOOK_SERIES)
                .is_some_and(|v| matches!(v, AttrValue::Bool(true))),
            required_consents: slugs(item, attr::REQUIRED_CONSENTS)?,
            forms_before_first_visit: slugs(item, attr::FORMS_FIRST)?,
            forms_before_every_visit: slugs(item, attr::FORMS_EVERY)?,
            cancellation_policy: optional_json(item, attr::CANCELLATION_POLICY)?,
            visit_mode: match item.get(attr::VISIT_MODE) {
                None => VisitMode::InPerson,
                Some(_) => parsed(item, attr::VISIT_MODE, VisitMode::parse)?,
            },
        })
    }
}

/// A list of document or form ids (absent: none).
fn slugs(item: &Item, name: &str) -> Result<Vec<domain::consent::DocumentId>, Corrupt> {
    match item.get(name) {
        None => Ok(Vec::new()),
        Some(AttrValue::L(ids)) => ids
            .iter()
            .map(|v| v.as_s().and_then(domain::consent::DocumentId::parse))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| corrupt(name)),
        Some(_) => Err(corrupt(name)),
    }
}

/// How a [`Appointment`] is spelled as a table item (the one codec of the record).
pub trait AppointmentCodec: Sized {
    fn to_item(&self, sealed_reason: Option<Vec<u8>>) -> Item;
    fn patient_copy(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl AppointmentCodec for Appointment {
    fn to_item(&self, sealed_reason: Option<Vec<u8>>) -> Item {
        let mut item = plain(self, Item::new(appointment_key(&self.id)))
            .with(GSI1_PK, calendar_partition(&self.provider))
            .with(GSI1_SK, format!("{}#{}", instant_key(self.start), self.id));
        if let Some(reason) = sealed_reason {
            item.set(attr::REASON, reason);
        }
        item
    }
    fn patient_copy(&self) -> Item {
        plain(
            self,
            Item::new(patient_appointment_key(&self.patient, &self.id)),
        )
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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
            from_hold: match item.get(attr::HOLD_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::HOLD_ID, HoldId::parse)?),
            },
            series: match item.get(attr::SERIES_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::SERIES_ID, SeriesId::parse)?),
            },
            terms: optional_json(item, attr::TERMS)?,
            by_practice: matches!(item.get(attr::BY_PRACTICE), Some(AttrValue::Bool(true))),
            deposit: optional_json(item, attr::DEPOSIT)?,
            online: matches!(item.get(attr::ONLINE), Some(AttrValue::Bool(true))),
        })
    }
}

/// The attributes both the appointment and the patient's copy carry.
fn plain(record: &Appointment, mut item: Item) -> Item {
    for (name, value) in [
        (attr::ID, record.id.as_str()),
        (attr::PATIENT_ID, record.patient.as_str()),
        (attr::PROVIDER_ID, record.provider.as_str()),
        (attr::SERVICE_ID, record.service.as_str()),
        (attr::STATUS, record.status.as_str()),
    ] {
        item.set(name, value);
    }
    let mut item = item
        .with(attr::START, record.start)
        .with(attr::END, record.end)
        .with(attr::OCCUPIED_FROM, record.occupied.0)
        .with(attr::OCCUPIED_TO, record.occupied.1)
        .with(attr::VERSION, record.version)
        .with(attr::CREATED_AT, record.created_at);
    if let Some(slot) = record.quota_slot {
        item.set(attr::QUOTA_SLOT, i64::from(slot));
    }
    if let Some(hold) = &record.from_hold {
        item.set(attr::HOLD_ID, hold.as_str());
    }
    if let Some(series) = &record.series {
        item.set(attr::SERIES_ID, series.as_str());
    }
    if let Some(terms) = &record.terms {
        item.set(attr::TERMS, json_text(terms));
    }
    if record.by_practice {
        item.set(attr::BY_PRACTICE, true);
    }
    if let Some(deposit) = &record.deposit {
        item.set(attr::DEPOSIT, json_text(deposit));
    }
    if record.online {
        item.set(attr::ONLINE, true);
    }
    item
}

/// An optional attribute kept as JSON text (absent: none).
fn optional_json<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<Option<T>, Corrupt> {
    match item.get(name) {
        None => Ok(None),
        Some(_) => json_attr(item, name).map(Some),
    }
}

/// How a [`Hold`] is spelled as a table item (the one codec of the record).
pub trait HoldCodec: Sized {
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl HoldCodec for Hold {
    fn to_item(&self) -> Item {
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
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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
}

/// How a [`WaitlistEntry`] is spelled as a table item (the one codec of the record).
pub trait WaitlistEntryCodec: Sized {
    fn key(&self) -> Key;
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl WaitlistEntryCodec for WaitlistEntry {
    fn key(&self) -> Key {
        Key::new(waitlist_partition(&self.provider), self.id.as_str())
    }
    fn to_item(&self) -> Item {
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
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
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
}

/// How a [`Series`] is spelled as a table item (the one codec of the record).
pub trait SeriesCodec: Sized {
    fn to_item(&self) -> Item;
    /// The patient's pointer to the series, for her list.
    fn patient_copy(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

fn json_attr<T: serde::de::DeserializeOwned>(item: &Item, name: &str) -> Result<T, Corrupt> {
    serde_json::from_str(s(item, name)?).map_err(|_| corrupt(name))
}

impl SeriesCodec for Series {
    fn to_item(&self) -> Item {
        let mut item = Item::new(series_key(&self.id))
            .with(attr::ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::PROVIDER_ID, self.provider.as_str())
            .with(attr::SERVICE_ID, self.service.as_str())
            .with(attr::EVERY_WEEKS, i64::from(self.every_weeks))
            .with(attr::OCCURRENCES, json_text(&self.occurrences))
            .with(attr::SKIPPED, json_text(&self.skipped))
            .with(attr::CREATED_AT, self.created_at)
            .with(attr::VERSION, self.version);
        if let Some(pending) = &self.pending {
            item.set(attr::PENDING, json_text(pending));
            item.set(attr::ATTEMPT, pending.attempt.as_str());
            item.set(GSI1_PK, SERIES_PENDING_INDEX);
            item.set(
                GSI1_SK,
                format!("{}#{}", instant_key(pending.deadline), self.id),
            );
        }
        if let Some(slot) = self.quota_slot {
            item.set(attr::QUOTA_SLOT, i64::from(slot));
        }
        item
    }
    fn patient_copy(&self) -> Item {
        Item::new(patient_series_key(&self.patient, &self.id))
            .with(attr::ID, self.id.as_str())
            .with(attr::CREATED_AT, self.created_at)
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(Series {
            id: parsed(item, attr::ID, SeriesId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            provider: parsed(item, attr::PROVIDER_ID, ProviderId::parse)?,
            service: parsed(item, attr::SERVICE_ID, ServiceId::parse)?,
            every_weeks: u8::try_from(n(item, attr::EVERY_WEEKS)?)
                .map_err(|_| corrupt(attr::EVERY_WEEKS))?,
            occurrences: json_attr(item, attr::OCCURRENCES)?,
            skipped: json_attr(item, attr::SKIPPED)?,
            pending: optional_json(item, attr::PENDING)?,
            created_at: n(item, attr::CREATED_AT)?,
            quota_slot: quota_slot(item)?,
            version: n(item, attr::VERSION)?,
        })
    }
}

/// JSON text of a record's list attribute (its types serialize infallibly).
fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// How a [`Visit`] (an online visit's room) is spelled as a table item.
pub trait VisitCodec: Sized {
    fn to_item(&self, appointment: &AppointmentId) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl VisitCodec for Visit {
    fn to_item(&self, appointment: &AppointmentId) -> Item {
        let mut item = Item::new(visit_key(appointment)).with(attr::VERSION, self.version);
        if let Some(at) = self.waiting_since {
            item.set(attr::WAITING_SINCE, at);
        }
        if let Some(at) = self.admitted_at {
            item.set(attr::ADMITTED_AT, at);
        }
        for (name, value) in [
            (attr::PATIENT_CERTIFICATE, &self.patient_certificate),
            (attr::HOST_CERTIFICATE, &self.host_certificate),
        ] {
            if let Some(v) = value {
                item.set(name, v.as_str());
            }
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        let at = |name: &str| match item.get(name) {
            None => Ok(None),
            Some(_) => n(item, name).map(Some),
        };
        Ok(Visit {
            waiting_since: at(attr::WAITING_SINCE)?,
            admitted_at: at(attr::ADMITTED_AT)?,
            patient_certificate: item
                .get(attr::PATIENT_CERTIFICATE)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
            host_certificate: item
                .get(attr::HOST_CERTIFICATE)
                .and_then(AttrValue::as_s)
                .map(str::to_owned),
            version: n(item, attr::VERSION)?,
        })
    }
}
