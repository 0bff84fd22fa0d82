//! Charges by staff, and balances for patients and staff.

use super::ledger::{self, Charge, LineItem, MAX_DESCRIPTION_CHARS, MAX_LINE_ITEMS, Payment};
use crate::store::attr;
use crate::store::codec::booking::AppointmentCodec;
use crate::store::codec::payments::ChargeCodec;
use serde::{Deserialize, Serialize};

use crate::common::access::acting_for;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Consistency, TransactOp};
use crate::unit_of_work::refused;
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, audit_read, commit};
use domain::access::Caller;
use domain::booking::Appointment;
use domain::ids::{AppointmentId, ChargeId, PatientId};
use domain::money::{Currency, MAX_MINOR_UNITS};
use domain::refusals::PaymentError;

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
    caller.authorize_staff()?;
    let total = check_lines(&req.line_items)?;
    let patient = req.patient_id.clone();
    let mut claim = None;
    match &req.adjusts {
        None if total <= 0 => {
            return Err(ApiError::Payment(PaymentError::NonPositiveCharge));
        }
        None => {}
        Some(original) => {
            let ledger = ledger::load(state, &patient).await?;
            claim = Some(ledger::claim(&ledger));
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
        created_at: state.clock.now().as_second(),
        sealed_lines: Vec::new(),
        fee: None,
        waiver: None,
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
    let audit = Audit::new("charge.create", "charge", charge.id.as_str()).about(&patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// A patient's balance per currency, with the charges and payments behind it.
#[tracing::instrument(skip_all)]
pub async fn balance(
    state: &AppState,
    caller: &Caller,
    requested: Option<PatientId>,
) -> Result<serde_json::Value, ApiError> {
    let target = match &requested {
        Some(p) => Audit::new("balance.read", "patient", p.as_str()).about(p),
        None => Audit::new("balance.read", "patient", caller.principal.subject.as_str()),
    };
    let patient = refused(state, caller, target, acting_for(caller, requested)).await?;
    let view = ledger_view(state, &patient).await?;
    audit_read(
        state,
        caller,
        Audit::new("balance.read", "patient", patient.as_str()).about(&patient),
    )
    .await?;
    Ok(view)
}

/// A patient's balances, charges and payments as the API shows them (the caller has authorized
/// the read and audits it).
pub async fn ledger_view(
    state: &AppState,
    patient: &PatientId,
) -> Result<serde_json::Value, ApiError> {
    let ledger = ledger::load(state, patient).await?;
    let mut charges = Vec::with_capacity(ledger.charges.len());
    for c in &ledger.charges {
        charges.push(ledger::charge_view(c, state).await?);
    }
    Ok(serde_json::json!({
        "patientId": patient,
        "balances": ledger.currencies().into_iter().map(|c| ledger.totals(c)).collect::<Vec<_>>(),
        "charges": charges,
        "payments": ledger.payments.iter().map(Payment::view).collect::<Vec<_>>(),
    }))
}
