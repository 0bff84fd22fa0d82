//! The patient's ledger: charges (immutable; corrections are adjusting entries) and payments
//! (their progress merged from processor events), read in one query, and the arithmetic of what is
//! outstanding per currency.
//!
//! Keys (single table, built in [`crate::store::keys`]): a patient's ledger `LEDGER#<patient>`
//! holds charges `CHG#<id>` and payments `PAY#<id>`, and `LOCK`, the ledger's version, claimed by
//! every write that can lower what is outstanding.

use crate::domain::instant::render_utc;
use crate::store::attr;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::domain::ids::{AppointmentId, ChargeId, PatientId, PaymentId};
use crate::domain::money::{Currency, Money};
use crate::domain::progress::{CardChecks, CheckResult, Failure, PaymentStatus, Progress, Stamp};
use crate::domain::sensitive::Sensitive;
use crate::error::ApiError;
use crate::store::codec::{corrupt, n, parsed, s};
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Item, Key, Query, TransactOp, query_all};

/// Most line items on one charge.
pub const MAX_LINE_ITEMS: usize = 50;

/// Longest line-item description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineItem {
    /// What was provided; may describe care, so it is sealed at rest and never leaves for the processor.
    pub description: Sensitive<String>,
    /// Minor units; negative for a discount line.
    pub amount: i64,
}

/// A stored charge (line items still sealed).
#[derive(Clone, Debug)]
pub struct Charge {
    pub id: ChargeId,
    pub patient: PatientId,
    pub currency: Currency,
    pub total: i64,
    pub appointment: Option<AppointmentId>,
    pub adjusts: Option<ChargeId>,
    pub created_at: i64,
    pub(super) sealed_lines: Vec<u8>,
}

impl Charge {
    pub(super) fn key(&self) -> Key {
        charge_key(&self.patient, &self.id)
    }

    pub(super) fn to_item(&self) -> Item {
        let mut item = Item::new(self.key())
            .with(attr::KIND, "charge")
            .with(attr::CHARGE_ID, self.id.as_str())
            .with(attr::PATIENT_ID, self.patient.as_str())
            .with(attr::CURRENCY, self.currency.code())
            .with(attr::TOTAL, self.total)
            .with(attr::LINE_ITEMS, self.sealed_lines.clone())
            .with(attr::CREATED_AT, self.created_at);
        if let Some(a) = &self.appointment {
            item.set(attr::APPOINTMENT_ID, a.as_str());
        }
        if let Some(a) = &self.adjusts {
            item.set(attr::ADJUSTS, a.as_str());
        }
        item
    }

    pub(super) fn from_item(item: &Item) -> Result<Self, ApiError> {
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
        })
    }

    pub(super) async fn view(&self, state: &AppState) -> Result<serde_json::Value, ApiError> {
        let lines = state
            .sealer
            .open(&self.key(), attr::LINE_ITEMS, &self.sealed_lines)
            .await?;
        let lines: Vec<LineItem> =
            serde_json::from_slice(&lines).map_err(|_| corrupt("line_items"))?;
        Ok(self.view_with(&lines))
    }

    pub(super) fn view_with(&self, lines: &[LineItem]) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "currency": self.currency,
            "total": self.total,
            "lineItems": lines,
            "appointmentId": self.appointment,
            "adjusts": self.adjusts,
            "createdAt": render_utc(self.created_at),
        })
    }
}

/// Our record of one payment.
#[derive(Clone, Debug)]
pub struct Payment {
    pub id: PaymentId,
    pub patient: PatientId,
    /// The processor's intent id.
    pub intent: String,
    pub amount: Money,
    pub charges: Vec<ChargeId>,
    pub progress: Progress,
    pub version: i64,
    pub created_at: i64,
}

impl Payment {
    pub(super) fn key(&self) -> Key {
        payment_key(&self.patient, &self.id)
    }

    pub(super) fn to_item(&self) -> Item {
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

    pub(super) fn from_item(item: &Item) -> Result<Self, ApiError> {
        let stamp = |name: &str| -> Result<Option<Stamp>, ApiError> {
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
            },
            version: n(item, attr::VERSION)?,
            created_at: n(item, attr::CREATED_AT)?,
        })
    }

    pub fn view(&self) -> serde_json::Value {
        let p = &self.progress;
        serde_json::json!({
            "id": self.id,
            "processorIntentId": self.intent,
            "amount": self.amount,
            "status": p.status,
            "refunded": p.refunded,
            "cardChecks": p.checks.as_ref().map(|c| c.0),
            "failure": p.failure.as_ref().map(|f| &f.0),
            "chargeIds": self.charges,
            "createdAt": render_utc(self.created_at),
        })
    }
}

/// A patient's charges and payments, read in one query.
pub struct Ledger {
    pub patient: PatientId,
    pub charges: Vec<Charge>,
    pub payments: Vec<Payment>,
    /// The version of the ledger's lock item (0 before the first claim).
    pub version: i64,
}

/// Sums of one currency. `balance` = charges − succeeded payments + their refunds: what is owed
/// (negative is a credit). `outstanding` also leaves out payments still processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub currency: Currency,
    pub charged: i64,
    pub paid: i64,
    pub refunded: i64,
    pub balance: i64,
    pub processing: i64,
}

impl Totals {
    pub fn outstanding(&self) -> i64 {
        self.balance - self.processing
    }
}

impl Ledger {
    pub async fn load(state: &AppState, patient: &PatientId) -> Result<Ledger, ApiError> {
        let items = query_all(
            &*state.table,
            &Query::partition(ledger_partition(patient)).consistent(),
        )
        .await?;
        let mut ledger = Ledger {
            patient: patient.clone(),
            charges: Vec::new(),
            payments: Vec::new(),
            version: 0,
        };
        for item in &items {
            match item.get(attr::KIND).and_then(AttrValue::as_s) {
                Some("charge") => ledger.charges.push(Charge::from_item(item)?),
                Some("payment") => ledger.payments.push(Payment::from_item(item)?),
                Some("lock") => ledger.version = n(item, attr::VERSION)?,
                _ => return Err(corrupt("ledger entry")),
            }
        }
        Ok(ledger)
    }

    /// The write that claims the next version of the ledger read here.
    pub fn claim(&self) -> TransactOp {
        TransactOp::Put {
            item: Item::new(ledger_lock_key(&self.patient))
                .with(attr::KIND, "lock")
                .with(attr::VERSION, self.version + 1),
            condition: Some(if self.version == 0 {
                Condition::ItemAbsent
            } else {
                Condition::version_is(self.version)
            }),
        }
    }

    /// A charge's total with its adjustments.
    pub fn net_of(&self, id: &ChargeId) -> i64 {
        self.charges
            .iter()
            .filter(|c| &c.id == id || c.adjusts.as_ref() == Some(id))
            .map(|c| c.total)
            .sum()
    }

    pub fn currencies(&self) -> Vec<Currency> {
        let mut all: Vec<Currency> = self
            .charges
            .iter()
            .map(|c| c.currency)
            .chain(self.payments.iter().map(|p| p.amount.currency()))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn totals(&self, currency: Currency) -> Totals {
        let charged = self
            .charges
            .iter()
            .filter(|c| c.currency == currency)
            .map(|c| c.total)
            .sum();
        let (mut paid, mut refunded, mut processing) = (0, 0, 0);
        for p in self
            .payments
            .iter()
            .filter(|p| p.amount.currency() == currency)
        {
            let (settled, back) = p.progress.settled(p.amount.amount());
            paid += settled;
            refunded += back;
            if p.progress.status == PaymentStatus::Processing {
                processing += p.amount.amount();
            }
        }
        Totals {
            currency,
            charged,
            paid,
            refunded,
            balance: charged - paid + refunded,
            processing,
        }
    }
}
