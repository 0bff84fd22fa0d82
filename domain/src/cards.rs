//! A card on file: the processor's ids for the card a patient saved for later charges, and the
//! card authorisation she signed before saving it. Never card data: what the card is (brand and
//! last four digits) is the processor's to tell, and is shown beside this record.

use crate::ids::PatientId;
use crate::progress::CardUsed;

/// The one card a patient keeps on file (a newer one replaces it), or the last one she kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardOnFile {
    pub patient: PatientId,
    /// The processor's customer the card is saved for (`cus_...`).
    pub customer: String,
    /// The saved card (`pm_...`).
    pub payment_method: String,
    /// The setup intent that saved it (`seti_...`).
    pub setup_intent: String,
    /// The version (hash) of the card authorisation the patient had signed when she saved it.
    pub authorisation: String,
    /// When the setup that saved it began (a setup begun earlier never replaces it).
    pub setup_created_at: i64,
    /// When the processor told us it was saved (epoch seconds, our clock).
    pub saved_at: i64,
    /// When it left the file (removed, or detached at the processor): the record stays, so the
    /// next card's version follows on and a late event cannot bring it back.
    pub removed_at: Option<i64>,
    /// When a fee charged to it was last declined (or the bank asked for the cardholder).
    pub declined_at: Option<i64>,
    pub version: i64,
}

impl CardOnFile {
    /// As the portal shows it: `card` is what the processor said the card is (it may not have
    /// said yet).
    pub fn view(&self, card: Option<CardUsed>) -> serde_json::Value {
        serde_json::json!({
            "paymentMethodId": self.payment_method,
            "brand": card.map(|c| c.brand),
            "last4": card.map(|c| c.last4),
            "savedAt": crate::instant::render_utc(self.saved_at),
            "authorisationVersion": self.authorisation,
            "lastDeclinedAt": self.declined_at.map(crate::instant::render_utc),
        })
    }
}
