//! The item codecs of the ledger's records: every attribute spelled through [`crate::store::attr`],
//! every key built by [`crate::store::keys`]; a charge's line items are sealed by the use case.

use crate::store::codec::{Corrupt, corrupt, n, parsed, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Item, Key, attr};
use domain::cards::CardOnFile;
use domain::fees::{FeeKind, WaiverReason};
use domain::ids::{AppointmentId, ChargeId, PatientId, PaymentId};
use domain::ledger::*;
use domain::money::{Currency, Money};
use domain::progress::{
    CardBrand, CardChecks, CardUsed, CheckResult, Failure, Last4, PaymentStatus, Progress, Stamp,
};

/// How a [`Charge`] is spelled as a table item (the one codec of the record).
pub trait ChargeCodec: Sized {
    fn key(&self) -> Key;
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl ChargeCodec for Charge {
    fn key(&self) -> Key {
        charge_key(&self.patient, &self.id)
    }
    fn to_item(&self) -> Item {
        let mut item = Item::new(self.key())
            .with(attr::KIND, "charge")
            .with(attr::CHARGE_ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::CURRENCY, self.currency.code())
            .with(attr::TOTAL, self.total)
            .with(attr::LINE_ITEMS, self.sealed_lines.clone())
            .with(attr::CREATED_AT, self.created_at)
            .with(crate::store::GSI1_PK, CHARGES_INDEX)
            .with(
                crate::store::GSI1_SK,
                charges_index_sort(self.created_at, &self.id),
            );
        if let Some(a) = &self.appointment {
            item.set(attr::APPOINTMENT_ID, a.as_str());
        }
        if let Some(a) = &self.adjusts {
            item.set(attr::ADJUSTS, a.as_str());
        }
        if let Some(fee) = self.fee {
            item.set(attr::FEE_KIND, fee.as_str());
        }
        if let Some(reason) = self.waiver {
            item.set(attr::WAIVER_REASON, reason.as_str());
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        let optional = |name: &str| item.get(name).and_then(AttrValue::as_s);
        Ok(Charge {
            id: parsed(item, attr::CHARGE_ID, ChargeId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            currency: parsed(item, attr::CURRENCY, Currency::parse)?,
            total: n(item, attr::TOTAL)?,
            appointment: match optional(attr::APPOINTMENT_ID) {
                Some(a) => Some(AppointmentId::parse(a).ok_or_else(|| corrupt("appointment_id"))?),
                None => None,
            },
            adjusts: match optional(attr::ADJUSTS) {
                Some(a) => Some(ChargeId::parse(a).ok_or_else(|| corrupt("adjusts"))?),
                None => None,
            },
            created_at: n(item, attr::CREATED_AT)?,
            sealed_lines: item
                .get(attr::LINE_ITEMS)
                .and_then(AttrValue::as_b)
                .ok_or_else(|| corrupt("line_items"))?
                .to_vec(),
            fee: match optional(attr::FEE_KIND) {
                Some(f) => Some(FeeKind::parse(f).ok_or_else(|| corrupt("fee_kind"))?),
                None => None,
            },
            waiver: match optional(attr::WAIVER_REASON) {
                Some(r) => Some(WaiverReason::parse(r).ok_or_else(|| corrupt("waiver_reason"))?),
                None => None,
            },
        })
    }
}

/// A map kept as JSON text; absent is empty.
fn json_map<T: serde::de::DeserializeOwned>(
    item: &Item,
    name: &str,
) -> Result<std::collections::BTreeMap<String, T>, Corrupt> {
    match item.get(name) {
        None => Ok(Default::default()),
        Some(v) => v
            .as_s()
            .and_then(|t| serde_json::from_str(t).ok())
            .ok_or_else(|| corrupt(name)),
    }
}

/// How a [`Payment`] is spelled as a table item (the one codec of the record).
pub trait PaymentCodec: Sized {
    fn key(&self) -> Key;
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl PaymentCodec for Payment {
    fn key(&self) -> Key {
        payment_key(&self.patient, &self.id)
    }
    fn to_item(&self) -> Item {
        let p = &self.progress;
        let mut item = Item::new(self.key())
            .with(attr::KIND, "payment")
            .with(attr::PAYMENT_ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::INTENT, self.intent.clone())
            .with(attr::AMOUNT, self.amount.amount())
            .with(attr::CURRENCY, self.amount.currency().code())
            .with(
                attr::CHARGES,
                AttrValue::L(
                    self.charges
                        .iter()
                        .map(|c| AttrValue::S(c.as_str().into()))
                        .collect(),
                ),
            )
            .with(attr::STATUS, p.status.as_str())
            .with(attr::REFUNDED, p.refunded)
            .with(attr::VERSION, self.version)
            .with(attr::CREATED_AT, self.created_at);
        if let Some((c, stamp)) = &p.checks {
            item.set(attr::CHECK_ADDRESS_LINE1, c.address_line1.as_str());
            item.set(attr::CHECK_POSTAL_CODE, c.postal_code.as_str());
            item.set(attr::CHECK_CVC, c.cvc.as_str());
            item.set(attr::CHECKS_STAMP, stamp.encode());
            if let Some(card) = &c.card {
                item.set(attr::CARD_BRAND, card.brand.as_str());
                item.set(attr::CARD_LAST4, card.last4.as_str());
            }
        }
        if let Some(at) = p.succeeded_at {
            item.set(attr::SUCCEEDED_AT, at);
        }
        if let Some(appointment) = &self.deposit_for {
            item.set(attr::APPOINTMENT_ID, appointment.as_str());
        }
        // Small maps, kept as JSON text (ids, amounts, flags and times only).
        if !p.refunds.is_empty() {
            item.set(
                attr::REFUNDS,
                serde_json::to_string(&p.refunds).unwrap_or_default(),
            );
        }
        if !p.disputes.is_empty() {
            item.set(
                attr::DISPUTES,
                serde_json::to_string(&p.disputes).unwrap_or_default(),
            );
        }
        if let Some((f, stamp)) = &p.failure {
            item.set(attr::FAILURE_CODE, f.code.clone());
            if let Some(d) = &f.decline_code {
                item.set(attr::DECLINE_CODE, d.clone());
            }
            item.set(attr::FAILURE_STAMP, stamp.encode());
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        let stamp = |name: &str| -> Result<Option<Stamp>, Corrupt> {
            match item.get(name).and_then(AttrValue::as_s) {
                Some(t) => Stamp::decode(t).map(Some).ok_or_else(|| corrupt(name)),
                None => Ok(None),
            }
        };
        let check = |name: &str| CheckResult::parse(item.get(name).and_then(AttrValue::as_s));
        let checks = stamp(attr::CHECKS_STAMP)?.map(|st| {
            (
                CardChecks {
                    address_line1: check(attr::CHECK_ADDRESS_LINE1),
                    postal_code: check(attr::CHECK_POSTAL_CODE),
                    cvc: check(attr::CHECK_CVC),
                    card: item
                        .get(attr::CARD_LAST4)
                        .and_then(AttrValue::as_s)
                        .and_then(Last4::parse)
                        .map(|last4| CardUsed {
                            brand: CardBrand::parse(
                                item.get(attr::CARD_BRAND)
                                    .and_then(AttrValue::as_s)
                                    .unwrap_or("other"),
                            ),
                            last4,
                        }),
                },
                st,
            )
        });
        let failure = match stamp(attr::FAILURE_STAMP)? {
            Some(st) => Some((
                Failure {
                    code: s(item, attr::FAILURE_CODE)?.to_owned(),
                    decline_code: item
                        .get(attr::DECLINE_CODE)
                        .and_then(AttrValue::as_s)
                        .map(str::to_owned),
                },
                st,
            )),
            None => None,
        };
        let charges = match item.get(attr::CHARGES) {
            Some(AttrValue::L(list)) => list
                .iter()
                .map(|v| {
                    v.as_s()
                        .and_then(ChargeId::parse)
                        .ok_or_else(|| corrupt("charges"))
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(corrupt("charges")),
        };
        Ok(Payment {
            id: parsed(item, attr::PAYMENT_ID, PaymentId::parse)?,
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            intent: s(item, attr::INTENT)?.to_owned(),
            amount: Money::new(
                n(item, attr::AMOUNT)?,
                parsed(item, attr::CURRENCY, Currency::parse)?,
            )
            .ok_or_else(|| corrupt("amount"))?,
            charges,
            progress: Progress {
                status: parsed(item, attr::STATUS, PaymentStatus::parse)?,
                checks,
                failure,
                refunded: n(item, attr::REFUNDED)?,
                succeeded_at: match item.get(attr::SUCCEEDED_AT) {
                    None => None,
                    Some(_) => Some(n(item, attr::SUCCEEDED_AT)?),
                },
                refunds: json_map(item, attr::REFUNDS)?,
                disputes: json_map(item, attr::DISPUTES)?,
            },
            version: n(item, attr::VERSION)?,
            created_at: n(item, attr::CREATED_AT)?,
            deposit_for: match item.get(attr::APPOINTMENT_ID) {
                None => None,
                Some(_) => Some(parsed(item, attr::APPOINTMENT_ID, AppointmentId::parse)?),
            },
        })
    }
}

/// How a [`CardOnFile`] is spelled as a table item (the one codec of the record).
pub trait CardCodec: Sized {
    fn key(&self) -> Key;
    fn to_item(&self) -> Item;
    fn from_item(item: &Item) -> Result<Self, Corrupt>;
}

impl CardCodec for CardOnFile {
    fn key(&self) -> Key {
        card_key(&self.patient)
    }
    fn to_item(&self) -> Item {
        let mut item = Item::new(self.key())
            .with(attr::KIND, "card")
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::CUSTOMER, self.customer.clone())
            .with(attr::PAYMENT_METHOD, self.payment_method.clone())
            .with(attr::SETUP_INTENT, self.setup_intent.clone())
            .with(attr::DOCUMENT_HASH, self.authorisation.clone())
            .with(attr::SAVED_AT, self.saved_at)
            .with(attr::CREATED_AT, self.setup_created_at)
            .with(attr::VERSION, self.version);
        if let Some(at) = self.removed_at {
            item.set(attr::REMOVED_AT, at);
        }
        if let Some(at) = self.declined_at {
            item.set(attr::DECLINED_AT, at);
        }
        item
    }
    fn from_item(item: &Item) -> Result<Self, Corrupt> {
        Ok(CardOnFile {
            patient: parsed(item, attr::PATIENT_ID, PatientId::parse)?,
            customer: s(item, attr::CUSTOMER)?.to_owned(),
            payment_method: s(item, attr::PAYMENT_METHOD)?.to_owned(),
            setup_intent: s(item, attr::SETUP_INTENT)?.to_owned(),
            authorisation: s(item, attr::DOCUMENT_HASH)?.to_owned(),
            saved_at: n(item, attr::SAVED_AT)?,
            setup_created_at: n(item, attr::CREATED_AT)?,
            removed_at: item.get(attr::REMOVED_AT).and_then(AttrValue::as_n),
            declined_at: item.get(attr::DECLINED_AT).and_then(AttrValue::as_n),
            version: n(item, attr::VERSION)?,
        })
    }
}

/// What a saved card's pointer says the card is (brand and last four), from the processor.
pub fn card_described(item: &Item) -> Option<CardUsed> {
    let last4 = item
        .get(attr::CARD_LAST4)
        .and_then(AttrValue::as_s)
        .and_then(Last4::parse)?;
    let brand = item
        .get(attr::CARD_BRAND)
        .and_then(AttrValue::as_s)
        .unwrap_or("other");
    Some(CardUsed {
        brand: CardBrand::parse(brand),
        last4,
    })
}
