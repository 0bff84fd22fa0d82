//! The patient's ledger: charges (immutable; corrections are adjusting entries) and payments (their
//! progress merged from processor events), and the arithmetic of what is outstanding per currency.
//! How they are stored is `shared::store::codec::payments`; where, `shared::store::keys`.

use serde::{Deserialize, Serialize};

use crate::ids::{AppointmentId, ChargeId, PatientId, PaymentId};
use crate::instant::render_utc;
use crate::money::{Currency, Money};
use crate::progress::{PaymentStatus, Progress};
use crate::sensitive::Sensitive;

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
    pub sealed_lines: Vec<u8>,
    /// Set on a fee the cancellation policy charged (and on the entry that waives one).
    pub fee: Option<crate::fees::FeeKind>,
    /// Set on the entry that waives a fee: why.
    pub waiver: Option<crate::fees::WaiverReason>,
}

impl Charge {
    pub fn view_with(&self, lines: &[LineItem]) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "currency": self.currency,
            "total": self.total,
            "lineItems": lines,
            "appointmentId": self.appointment,
            "adjusts": self.adjusts,
            "createdAt": render_utc(self.created_at),
            "fee": self.fee,
            "waiver": self.waiver,
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
    /// The appointment whose deposit it pays (credited to the visit's charge).
    pub deposit_for: Option<AppointmentId>,
}

impl Payment {
    pub fn view(&self) -> serde_json::Value {
        let p = &self.progress;
        serde_json::json!({
            "id": self.id,
            "processorIntentId": self.intent,
            "amount": self.amount,
            "status": p.status,
            "refunded": p.refunded_net(self.amount.amount()),
            "disputed": p.settled(self.amount.amount()).2,
            "cardChecks": p.checks.as_ref().map(|c| c.0),
            "card": p.checks.as_ref().and_then(|c| c.0.card),
            "failure": p.failure.as_ref().map(|f| &f.0),
            "chargeIds": self.charges,
            "depositFor": self.deposit_for,
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

/// Sums of one currency. `balance` = charges − succeeded payments + their refunds + what disputes
/// took back (until won): what is owed (negative is a credit). `outstanding` also leaves out
/// payments still processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub currency: Currency,
    pub charged: i64,
    pub paid: i64,
    pub refunded: i64,
    /// Withdrawn by disputes not won (owed again).
    pub disputed: i64,
    pub balance: i64,
    pub processing: i64,
}

impl Totals {
    pub fn outstanding(&self) -> i64 {
        self.balance - self.processing
    }
}

impl Ledger {
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
        let (mut paid, mut refunded, mut disputed, mut processing) = (0, 0, 0, 0);
        for p in self
            .payments
            .iter()
            .filter(|p| p.amount.currency() == currency)
        {
            let (settled, back, taken) = p.progress.settled(p.amount.amount());
            paid += settled;
            refunded += back;
            disputed += taken;
            if p.progress.status == PaymentStatus::Processing {
                processing += p.amount.amount();
            }
        }
        Totals {
            currency,
            charged,
            paid,
            refunded,
            disputed,
            balance: charged - paid + refunded + disputed,
            processing,
        }
    }
}
