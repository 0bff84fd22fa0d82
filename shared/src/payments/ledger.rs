//! Reading a patient's ledger (one query of `LEDGER#<patient>`), claiming its version (every write
//! that can lower what is outstanding claims the next one, so two racing on one read cannot both
//! land), and showing a charge with its sealed line items opened. The records and their arithmetic
//! are `crate::domain::ledger`.

use crate::AppState;
use crate::domain::ids::PatientId;
pub use crate::domain::ledger::*;
use crate::error::ApiError;
use crate::store::codec::{corrupt, n};
use crate::store::keys::*;
use crate::store::{AttrValue, Condition, Item, Query, TransactOp, attr, query_all};

impl Charge {
    pub async fn view(&self, state: &AppState) -> Result<serde_json::Value, ApiError> {
        let lines = state
            .sealer
            .open(&self.key(), attr::LINE_ITEMS, &self.sealed_lines)
            .await?;
        let lines: Vec<LineItem> =
            serde_json::from_slice(&lines).map_err(|_| corrupt("line_items"))?;
        Ok(self.view_with(&lines))
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
}
