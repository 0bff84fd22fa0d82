//! Charges, balances, payment intents and the application of processor events.
//!
//! Keys (single table):
//! - a patient's ledger `LEDGER#<patient>`: charges `CHG#<id>` (immutable; line items sealed) and
//!   payments `PAY#<id>` (status merged from events, see `progress`), so a balance is one query;
//!   and `LOCK`, the ledger's version, claimed by every write that can lower what is outstanding;
//! - processor intent → our payment `INTENT#<processor id>` / `INTENT` (written with the payment);
//! - webhook receipts `WEBHOOK#<source>#<event id>` / `EVENT`, kept 30 days, for deduplication.

use crate::store::attr;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use super::processor::{Cancel, IntentRequest, PaymentProcessor, ProcessorKey};
use crate::AppState;
use crate::auth::{Resource, Role};
use crate::booking::access::acting_for;
use crate::booking::model::{Appointment, appointment_key, corrupt, n, parsed, patient_key, s};
use crate::domain::access::Caller;
use crate::domain::ids::{AppointmentId, ChargeId, IdempotencyKey, PatientId, PaymentId};
use crate::domain::money::{Currency, MAX_MINOR_UNITS, Money};
use crate::domain::progress::{CardChecks, CheckResult, Failure, PaymentStatus, Progress, Stamp};
use crate::domain::refusals::PaymentError;
use crate::domain::sensitive::Sensitive;
use crate::error::{ApiError, InputError};
use crate::store::commit::{Actor, Audit, Idempotency, Reply, Write, audit_read, commit};
use crate::store::{
    AttrValue, Condition, Consistency, Item, Key, Query, TTL_ATTR, TableError, TransactOp,
    query_all,
};
use crate::web::webhooks::events::Event;

/// Most line items on one charge.
pub const MAX_LINE_ITEMS: usize = 50;
/// Longest line-item description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 200;
/// How long a webhook receipt is kept (the processor retries for three days).
pub const RECEIPT_TTL_SECS: i64 = 30 * 86_400;
/// Attempts at applying one event when other events for the same payment race it.
const APPLY_ATTEMPTS: usize = 8;

pub fn ledger_partition(patient: &PatientId) -> String {
    format!("LEDGER#{patient}")
}
pub fn charge_key(patient: &PatientId, id: &ChargeId) -> Key {
    Key::new(ledger_partition(patient), format!("CHG#{id}"))
}
pub fn payment_key(patient: &PatientId, id: &PaymentId) -> Key {
    Key::new(ledger_partition(patient), format!("PAY#{id}"))
}
/// The ledger's version: every write that can lower what is outstanding (a new intent, an adjusting
/// entry) claims the next version, so two of them racing on one read cannot both land.
pub fn ledger_lock_key(patient: &PatientId) -> Key {
    Key::new(ledger_partition(patient), "LOCK")
}
pub fn intent_key(processor_id: &str) -> Key {
    Key::new(format!("INTENT#{processor_id}"), "INTENT")
}
pub fn receipt_key(source: &str, event_id: &str) -> Key {
    Key::new(format!("WEBHOOK#{source}#{event_id}"), "EVENT")
}

fn iso(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|ts| ts.to_string())
        .unwrap_or_else(|_| t.to_string())
}

// ---------------------------------------------------------------------------------------------
// Charges

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LineItem {
    /// What was provided; may describe care, so it is sealed at rest and never leaves for the processor.
    pub description: Sensitive<String>,
    /// Minor units; negative for a discount line.
    pub amount: i64,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChargeRequest {
    pub patient_id: PatientId,
    pub currency: Currency,
    pub line_items: Vec<LineItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<AppointmentId>,
    /// Set on an adjusting entry: the charge it corrects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjusts: Option<ChargeId>,
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
    sealed_lines: Vec<u8>,
}

impl Charge {
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
            .with(attr::CREATED_AT, self.created_at);
        if let Some(a) = &self.appointment {
            item.set(attr::APPOINTMENT_ID, a.as_str());
        }
        if let Some(a) = &self.adjusts {
            item.set(attr::ADJUSTS, a.as_str());
        }
        item
    }

    fn from_item(item: &Item) -> Result<Self, ApiError> {
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

    async fn view(&self, state: &AppState) -> Result<serde_json::Value, ApiError> {
        let lines = state
            .sealer
            .open(&self.key(), attr::LINE_ITEMS, &self.sealed_lines)
            .await?;
        let lines: Vec<LineItem> =
            serde_json::from_slice(&lines).map_err(|_| corrupt("line_items"))?;
        Ok(self.view_with(&lines))
    }

    fn view_with(&self, lines: &[LineItem]) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "patientId": self.patient,
            "currency": self.currency,
            "total": self.total,
            "lineItems": lines,
            "appointmentId": self.appointment,
            "adjusts": self.adjusts,
            "createdAt": iso(self.created_at),
        })
    }
}

fn check_lines(lines: &[LineItem]) -> Result<i64, ApiError> {
    if lines.is_empty() || lines.len() > MAX_LINE_ITEMS {
        return Err(ApiError::Payment(PaymentError::InvalidLineItems));
    }
    let mut total: i64 = 0;
    for line in lines {
        let text = line.description.expose();
        let chars = text.trim().chars().count();
        if chars == 0 || chars > MAX_DESCRIPTION_CHARS || text.chars().any(char::is_control) {
            return Err(ApiError::Payment(PaymentError::InvalidDescription));
        }
        if line.amount.abs() > MAX_MINOR_UNITS || line.amount == 0 {
            return Err(ApiError::Payment(PaymentError::InvalidLineAmount));
        }
        total += line.amount;
    }
    Ok(total)
}

/// Staff post a charge, or an adjusting entry that corrects an earlier charge.
#[tracing::instrument(skip_all)]
pub async fn create_charge(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: ChargeRequest,
) -> Result<Reply, ApiError> {
    caller
        .principal
        .authorize(&[Role::Staff, Role::Admin], Resource::Shared)?;
    let total = check_lines(&req.line_items)?;
    let patient = req.patient_id.clone();
    let mut claim = None;
    match &req.adjusts {
        None if total <= 0 => {
            return Err(ApiError::Payment(PaymentError::NonPositiveCharge));
        }
        None => {}
        Some(original) => {
            let ledger = Ledger::load(state, &patient).await?;
            claim = Some(ledger.claim());
            let base = ledger
                .charges
                .iter()
                .find(|c| &c.id == original)
                .ok_or_else(|| ApiError::Payment(PaymentError::UnknownCharge))?;
            if base.currency != req.currency {
                return Err(ApiError::Payment(PaymentError::AdjustmentCurrency));
            }
            if base.adjusts.is_some() {
                return Err(ApiError::Payment(PaymentError::AdjustsAdjustment));
            }
            if ledger.net_of(original) + total < 0 {
                return Err(ApiError::Payment(PaymentError::AdjustmentExceedsCharge));
            }
        }
    }
    if let Some(appointment) = &req.appointment_id {
        let item = state
            .table
            .get(&appointment_key(appointment), Consistency::Strong)
            .await?;
        // Read through the appointment's own codec: the spelling of its attributes lives there.
        let of_patient = match item {
            Some(item) => Appointment::from_item(&item)?.patient == patient,
            None => false,
        };
        if !of_patient {
            return Err(ApiError::Payment(PaymentError::UnknownAppointment));
        }
    }
    let mut charge = Charge {
        id: ChargeId::new(),
        patient: patient.clone(),
        currency: req.currency,
        total,
        appointment: req.appointment_id.clone(),
        adjusts: req.adjusts.clone(),
        created_at: state.clock.now().unix_timestamp(),
        sealed_lines: Vec::new(),
    };
    let plain = serde_json::to_vec(&req.line_items).map_err(anyhow::Error::new)?;
    charge.sealed_lines = state
        .sealer
        .seal(&charge.key(), attr::LINE_ITEMS, &plain)
        .await?;
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: charge.to_item(),
            condition: Some(Condition::ItemAbsent),
        }),
        Write::new(TransactOp::Check {
            key: patient_key(&patient),
            condition: Condition::ItemExists,
        })
        .or(PaymentError::UnknownPatient),
    ];
    writes.extend(claim.map(|op| Write::new(op).or(PaymentError::BalanceChanged)));
    let reply = Reply::created(&charge.view_with(&req.line_items))?.with_patient_data();
    let audit = Audit::new("charge.create", "charge", charge.id.as_str());
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

// ---------------------------------------------------------------------------------------------
// Payments and the ledger

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

    fn from_item(item: &Item) -> Result<Self, ApiError> {
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
            "createdAt": iso(self.created_at),
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

/// A patient's balance per currency, with the charges and payments behind it.
#[tracing::instrument(skip_all)]
pub async fn balance(
    state: &AppState,
    caller: &Caller,
    requested: Option<PatientId>,
) -> Result<serde_json::Value, ApiError> {
    let patient = acting_for(caller, requested)?;
    let ledger = Ledger::load(state, &patient).await?;
    let mut charges = Vec::with_capacity(ledger.charges.len());
    for c in &ledger.charges {
        charges.push(c.view(state).await?);
    }
    let view = serde_json::json!({
        "patientId": patient,
        "balances": ledger.currencies().into_iter().map(|c| ledger.totals(c)).collect::<Vec<_>>(),
        "charges": charges,
        "payments": ledger.payments.iter().map(Payment::view).collect::<Vec<_>>(),
    });
    audit_read(
        state,
        caller,
        Audit::new("balance.read", "patient", patient.as_str()),
    )
    .await?;
    Ok(view)
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IntentRequestBody {
    /// Staff name the patient; a patient pays their own balance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patient_id: Option<PatientId>,
    /// Minor units; the outstanding amount when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    pub currency: Currency,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_ids: Option<Vec<ChargeId>>,
}

/// The processor's idempotency key and our payment id for a client's key: the same request
/// retried names the same payment and reuses the processor's key, so it never creates a second
/// intent. Keyed (blind-index HMAC), so the processor cannot link the key to our caller.
async fn derived_ids(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
) -> Result<(ProcessorKey, PaymentId), ApiError> {
    let blind = state.blind_index().await?;
    let digest = blind.compute(
        "processor-idempotency",
        &format!("{}\n{}", caller.principal.subject, key.as_str()),
    );
    let hash = sha2::Sha256::digest(digest.as_bytes());
    let mut id = [0u8; 16];
    id.copy_from_slice(&hash[..16]);
    Ok((
        ProcessorKey(format!("practica-{digest}")),
        PaymentId::derived(id),
    ))
}

/// Creates a processor payment intent for (part of) the outstanding balance and records it.
///
/// One checkout at a time: the patient's earlier intents in this currency that nobody has paid are
/// cancelled at the processor first (they can no longer be paid, so two open checkouts cannot both
/// take the same balance); one that is already paid or being paid makes this a 409.
#[tracing::instrument(skip_all)]
pub async fn create_intent(
    state: &AppState,
    processor: &dyn PaymentProcessor,
    caller: &Caller,
    key: &IdempotencyKey,
    idem: &Idempotency,
    req: IntentRequestBody,
) -> Result<Reply, ApiError> {
    let patient = acting_for(caller, req.patient_id.clone())?;
    if let Some(reply) = idem.replay(state).await? {
        return Ok(reply);
    }
    if let Some(a) = req.amount
        && !(1..=MAX_MINOR_UNITS).contains(&a)
    {
        return Err(ApiError::Payment(PaymentError::InvalidAmount));
    }
    let ledger = Ledger::load(state, &patient).await?;
    if !ledger.currencies().contains(&req.currency) {
        return Err(ApiError::Payment(PaymentError::NoChargesInCurrency));
    }
    let totals = ledger.totals(req.currency);
    let mut limit = totals.outstanding();
    let charges = req.charge_ids.clone().unwrap_or_default();
    if !charges.is_empty() {
        let mut chosen = 0;
        for id in &charges {
            let charge = ledger
                .charges
                .iter()
                .find(|c| &c.id == id && c.adjusts.is_none())
                .ok_or_else(|| ApiError::Payment(PaymentError::UnknownCharge))?;
            if charge.currency != req.currency {
                return Err(ApiError::Payment(PaymentError::ChargeInOtherCurrency));
            }
            chosen += ledger.net_of(id);
        }
        limit = limit.min(chosen);
    }
    let amount = match req.amount {
        Some(a) if a > limit => {
            return Err(ApiError::Payment(PaymentError::AmountExceedsBalance));
        }
        Some(a) => a,
        None if limit <= 0 => return Err(ApiError::Payment(PaymentError::NothingDue)),
        None => limit,
    };
    let amount = Money::new(amount, req.currency)
        .ok_or_else(|| ApiError::Payment(PaymentError::AmountOutOfRange))?;
    let mut superseded = Vec::new();
    for open in ledger.payments.iter().filter(|p| {
        p.amount.currency() == req.currency
            && matches!(
                p.progress.status,
                PaymentStatus::RequiresPayment | PaymentStatus::Failed
            )
    }) {
        let cancel_key = ProcessorKey(format!("practica-cancel-{}", open.id));
        match processor.cancel_intent(&open.intent, &cancel_key).await? {
            Cancel::Canceled => superseded.push(Payment {
                progress: Progress {
                    status: PaymentStatus::Canceled,
                    ..open.progress.clone()
                },
                version: open.version + 1,
                ..open.clone()
            }),
            Cancel::TooLate => {
                return Err(ApiError::Payment(PaymentError::PaymentInProgress));
            }
        }
    }
    let (processor_key, payment_id) = derived_ids(state, caller, key).await?;
    let request = IntentRequest::for_payment(&payment_id, &charges, amount, processor_key);
    let intent = processor.create_intent(&request).await?;
    let payment = Payment {
        id: payment_id,
        patient,
        intent: intent.id.clone(),
        amount,
        charges,
        progress: Progress::default(),
        version: 1,
        created_at: state.clock.now().unix_timestamp(),
    };
    // A changed ledger takes precedence: it is why a retry of this very request would differ.
    let changed = || ApiError::Payment(PaymentError::BalanceChanged);
    let exists = || ApiError::Payment(PaymentError::PaymentExists);
    let mut writes = vec![Write::new(ledger.claim()).or(changed())];
    writes.extend(superseded.iter().map(|p| {
        Write::new(TransactOp::Put {
            item: p.to_item(),
            condition: Some(Condition::version_is(p.version - 1)),
        })
        .or(changed())
    }));
    writes.push(
        Write::new(TransactOp::Put {
            item: payment.to_item(),
            condition: Some(Condition::ItemAbsent),
        })
        .or(exists()),
    );
    writes.push(
        Write::new(TransactOp::Put {
            item: Item::new(intent_key(&intent.id))
                .with(attr::PAYMENT_ID, payment.id.as_str())
                .with(attr::PATIENT_ID, payment.patient.as_str()),
            condition: Some(Condition::ItemAbsent),
        })
        .or(exists()),
    );
    let mut body = payment.view();
    body["clientSecret"] = serde_json::Value::String(intent.client_secret.expose().clone());
    let reply = Reply::created(&body)?.with_patient_data();
    let audit = Audit::new("payment.create", "payment", payment.id.as_str());
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

// ---------------------------------------------------------------------------------------------
// Processor events

/// What a verified webhook did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The payment changed.
    Applied,
    /// Seen before: nothing changed.
    Duplicate,
    /// New, but it tells nothing the payment does not already know (a late `processing` after
    /// `succeeded`): nothing changed but its receipt.
    Unchanged,
    /// A type we do not act on.
    Ignored,
}

fn processor_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Applies one verified event: deduplicated on its id, merged forward-only into the payment,
/// with its receipt and audit record in the same transaction.
#[tracing::instrument(skip_all, fields(source))]
pub async fn apply_event(
    state: &AppState,
    source: &'static str,
    event_id: &str,
    event: Event,
    request_id: &str,
) -> Result<Outcome, ApiError> {
    let Event::Payment {
        intent,
        amount,
        currency,
        observation,
    } = event
    else {
        return Ok(Outcome::Ignored);
    };
    if !processor_id_ok(&intent) {
        return Err(ApiError::Input(InputError::InvalidEvent));
    }
    let pointer = state
        .table
        .get(&intent_key(&intent), Consistency::Strong)
        .await?
        .ok_or_else(|| {
            // Retried by the processor: the intent may be ours with its record still being written.
            ApiError::NotFound
        })?;
    let patient = parsed(&pointer, attr::PATIENT_ID, PatientId::parse)?;
    let payment_id = parsed(&pointer, attr::PAYMENT_ID, PaymentId::parse)?;
    let receipt = Item::new(receipt_key(source, event_id))
        .with(attr::RECEIVED_AT, state.clock.now().unix_timestamp())
        .with(attr::PAYMENT_ID, payment_id.as_str())
        .with(
            TTL_ATTR,
            state.clock.now().unix_timestamp() + RECEIPT_TTL_SECS,
        );
    for _ in 0..APPLY_ATTEMPTS {
        let item = state
            .table
            .get(&payment_key(&patient, &payment_id), Consistency::Strong)
            .await?
            .ok_or_else(|| corrupt("payment behind an intent"))?;
        let payment = Payment::from_item(&item)?;
        let consistent = amount.is_none_or(|a| a == payment.amount.amount())
            && currency
                .as_deref()
                .is_none_or(|c| c.eq_ignore_ascii_case(payment.amount.currency().code()))
            && observation
                .refunded
                .is_none_or(|r| (0..=payment.amount.amount()).contains(&r));
        if !consistent {
            return Err(ApiError::Payment(PaymentError::EventInconsistent));
        }
        let next = payment.progress.merge(&observation);
        if next == payment.progress {
            return match state
                .table
                .put(receipt.clone(), Some(Condition::ItemAbsent))
                .await
            {
                Ok(()) => Ok(Outcome::Unchanged),
                Err(TableError::ConditionFailed) => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            };
        }
        let updated = Payment {
            progress: next,
            version: payment.version + 1,
            ..payment
        };
        let audit = Audit::new("payment.update", "payment", updated.id.as_str()).item(
            state,
            Actor::System {
                name: source,
                request_id,
            },
        );
        let ops = vec![
            TransactOp::Put {
                item: receipt.clone(),
                condition: Some(Condition::ItemAbsent),
            },
            TransactOp::Put {
                item: updated.to_item(),
                condition: Some(Condition::version_is(updated.version - 1)),
            },
            TransactOp::Put {
                item: audit,
                condition: Some(Condition::ItemAbsent),
            },
        ];
        match state.table.transact_write(ops).await {
            Ok(()) => return Ok(Outcome::Applied),
            Err(TableError::TransactionConditionFailed { failed }) if failed.contains(&0) => {
                return Ok(Outcome::Duplicate);
            }
            Err(
                TableError::TransactionConditionFailed { .. } | TableError::TransactionConflict,
            ) => {
                continue; // another event for this payment landed first: merge again
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Unavailable {
        code: "storage_busy",
        source: anyhow::anyhow!("payment kept changing under concurrent events"),
    })
}
