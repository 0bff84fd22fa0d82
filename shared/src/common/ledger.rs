//! Reading a patient's ledger (one query of `LEDGER#<patient>`) and claiming its version (every
//! write that can lower what is outstanding claims the next one, so two racing on one read cannot
//! both land): what payments and the fees a booking change charges both need.

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::payments::{ChargeCodec, PaymentCodec};
use crate::store::codec::{corrupt, n};
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Item, Query, TransactOp, attr, query_all};
use domain::ids::PatientId;
use domain::ledger::*;

/// A patient's ledger, read consistently (one query).
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
            // The card on file and the processor's customer live beside the ledger's entries.
            Some("card" | "customer") => {}
            _ => return Err(corrupt("ledger entry").into()),
        }
    }
    Ok(ledger)
}

/// The write that claims the next version of the ledger read here.
pub fn claim(ledger: &Ledger) -> TransactOp {
    TransactOp::Put {
        item: Item::new(ledger_lock_key(&ledger.patient))
            .with(attr::KIND, "lock")
            .with(attr::VERSION, ledger.version + 1),
        condition: Some(if ledger.version == 0 {
            Condition::ItemAbsent
        } else {
            Condition::version_is(ledger.version)
        }),
    }
}
