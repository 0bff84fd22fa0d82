//! A patient's ledger: read and claimed as `crate::common::ledger` does it, and a charge shown with
//! its sealed line items opened. The records and their arithmetic are `domain::ledger`.

pub use crate::common::ledger::{claim, load};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::attr;
use crate::store::codec::corrupt;
use crate::store::codec::payments::ChargeCodec;
pub use domain::ledger::*;

/// A charge as the API shows it, its sealed line items opened.
pub async fn charge_view(charge: &Charge, state: &AppState) -> Result<serde_json::Value, ApiError> {
    let lines = state
        .sealer
        .open(&charge.key(), attr::LINE_ITEMS, &charge.sealed_lines)
        .await?;
    let lines: Vec<LineItem> = serde_json::from_slice(&lines).map_err(|_| corrupt("line_items"))?;
    Ok(charge.view_with(&lines))
}
