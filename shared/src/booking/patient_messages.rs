//! The messages the practice sent a patient (confirmations, reminders, receipts...), as the front
//! desk sees them on her page: when, what kind, by which channel, and how it ended. Read from her
//! access index (the PHI-free copies of the audit entries that name her: `notification.*`), each
//! with its entry and its outbox message for the kind and the channels; no text, no address.

use serde::Serialize;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::{corrupt, s};
use crate::store::keys::{audit_access_partition, outbox_key};
use crate::store::{AttrValue, Consistency, Key, Query, attr};
use crate::unit_of_work::{Audit, audit_read, refused};
use domain::access::Caller;
use domain::ids::{OutboxId, PatientId};
use domain::instant::render_utc;

/// The most messages one read shows.
const MAX_MESSAGES: usize = 20;
/// Index entries read at most to find them (her other entries are skipped).
const MAX_SCANNED: u32 = 400;

/// One message sent (or not) to the patient.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub at: String,
    /// `confirmation`, `reminder`, `receipt`, ...
    pub kind: String,
    /// `notification.send`, `.fail`, `.bounce`, `.complaint`, `.optout`.
    pub action: String,
    /// The channels it went to (`email`, `sms`), when it was sent.
    pub channels: Vec<String>,
}

/// Staff read a patient's messages, newest first (audited naming her).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    patient: &PatientId,
) -> Result<Vec<MessageView>, ApiError> {
    let target = Audit::new("message.list", "patient", patient.as_str()).about(patient);
    let authorized = caller.authorize_staff().map_err(ApiError::from);
    refused(state, caller, target.clone(), authorized).await?;
    let out = sent(state, patient, MAX_MESSAGES, MAX_SCANNED).await?;
    audit_read(state, caller, target).await?;
    Ok(out)
}

/// At most `max` of the messages among the patient's latest `scanned` access-index entries,
/// newest first (the caller has authorized the read and audits it).
pub(crate) async fn sent(
    state: &AppState,
    patient: &PatientId,
    max: usize,
    scanned: u32,
) -> Result<Vec<MessageView>, ApiError> {
    let mut query = Query::partition(audit_access_partition(patient.as_str())).limit(scanned);
    query.forward = false;
    let page = state.table.query(&query).await?;
    let mut out = Vec::new();
    for copy in page.items.iter().filter(|i| {
        i.get(attr::ACTION)
            .and_then(AttrValue::as_s)
            .is_some_and(|a| a.starts_with("notification."))
    }) {
        if out.len() == max {
            break;
        }
        // The entry itself names the message (its entity and id).
        let key = Key::new(s(copy, attr::ENTRY_PK)?, copy.key.sk.clone());
        let entry = state
            .table
            .get(&key, Consistency::Eventual)
            .await?
            .ok_or_else(|| corrupt("audit entry"))?;
        let kind = s(&entry, attr::ENTITY)?
            .strip_prefix("message.")
            .unwrap_or("message")
            .to_owned();
        let channels = match entry
            .get(attr::ENTITY_ID)
            .and_then(AttrValue::as_s)
            .and_then(OutboxId::parse)
        {
            Some(id) => state
                .table
                .get(&outbox_key(&id), Consistency::Eventual)
                .await?
                .and_then(|m| match m.get(attr::CHANNELS) {
                    Some(AttrValue::L(list)) => Some(
                        list.iter()
                            .filter_map(AttrValue::as_s)
                            .map(str::to_owned)
                            .collect(),
                    ),
                    _ => None,
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        out.push(MessageView {
            at: render_utc(crate::store::codec::n(copy, attr::AT)?),
            kind,
            action: s(copy, attr::ACTION)?.to_owned(),
            channels,
        });
    }
    Ok(out)
}
