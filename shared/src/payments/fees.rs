//! Staff waiving a fee the cancellation policy charged (the fees themselves are written by the
//! booking changes that cause them, through `crate::common::fees`).

use serde::{Deserialize, Serialize};

use super::ledger;
use crate::common::fees::waiver_charge;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::payments::ChargeCodec;
use crate::store::{Condition, TransactOp};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit, refused};
use domain::access::Caller;
use domain::fees::WaiverReason;
use domain::ids::{ChargeId, PatientId};
use domain::refusals::PaymentError;

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct WaiveRequest {
    pub patient_id: PatientId,
    pub reason: WaiverReason,
}

/// Staff waive a fee the policy charged, with a reason code: an adjusting entry that brings it to
/// zero (a credit on the account when it was already paid). Once per fee.
#[tracing::instrument(skip_all)]
pub async fn waive(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    fee_id: &ChargeId,
    req: WaiveRequest,
) -> Result<Reply, ApiError> {
    // A refusal is in the log, naming the patient the request named.
    let target = Audit::new("fee.waive", "charge", fee_id.as_str()).about(&req.patient_id);
    let allowed = caller.authorize_staff().map_err(ApiError::from);
    refused(state, caller, target, allowed).await?;
    if req.reason == WaiverReason::ArrivedLate {
        // Recorded by the check-in of a patient marked a no-show, not chosen by hand.
        return Err(ApiError::Payment(PaymentError::WaiverReasonReserved));
    }
    let ledger = ledger::load(state, &req.patient_id).await?;
    let fee = ledger
        .charges
        .iter()
        .find(|c| &c.id == fee_id && c.adjusts.is_none())
        .ok_or(ApiError::Payment(PaymentError::UnknownCharge))?;
    if fee.fee.is_none() {
        return Err(ApiError::Payment(PaymentError::NotAFee));
    }
    let net = ledger.net_of(fee_id);
    let waiver_id = WaiverReason::waiver_id(fee_id);
    if ledger.charges.iter().any(|c| c.id == waiver_id) {
        return Err(ApiError::Payment(PaymentError::FeeAlreadyWaived));
    }
    if net <= 0 {
        return Err(ApiError::Payment(PaymentError::FeeNothingLeft));
    }
    let now = state.clock.now().as_second();
    let (waiver, lines) = waiver_charge(state, fee, net, req.reason, now).await?;
    let writes = vec![
        Write::new(ledger::claim(&ledger)).or(PaymentError::BalanceChanged),
        Write::new(TransactOp::Put {
            item: waiver.to_item(),
            condition: Some(Condition::ItemAbsent),
        })
        .or(PaymentError::FeeAlreadyWaived),
    ];
    let reply = Reply::created(&waiver.view_with(&lines))?.with_patient_data();
    let audit = Audit::new("fee.waive", "charge", fee_id.as_str()).about(&fee.patient);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}
