//! A patient's notification preferences: `GET` and `PUT /v1/patients/me/notifications`.
//!
//! Email is on by default once the patient's address is verified; SMS only after the patient
//! turns it on (that request is the consent, and its time is kept). Turning SMS on again is also
//! how a patient who answered STOP opts back in; turning email on again clears a bounce.

use crate::store::codec::notify::PreferencesCodec;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{AttrValue, Consistency, TransactOp, attr};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::ids::PatientId;
use domain::notify::{Channel, Preferences};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferencesRequest {
    pub email: bool,
    pub sms: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreferencesView {
    pub email: bool,
    pub sms: bool,
    /// The channels messages go to now (consent, verification, bounces and STOP applied).
    pub channels: Vec<&'static str>,
    pub email_verified: bool,
    pub email_bounced: bool,
    pub sms_stopped: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_consent_at: Option<String>,
}

async fn load(state: &AppState, id: &PatientId) -> Result<(Preferences, bool), ApiError> {
    let preferences = match state
        .table
        .get(&notify_preferences_key(id), Consistency::Strong)
        .await?
    {
        Some(item) => Preferences::from_item(&item)?,
        None => Preferences::default(),
    };
    let verified = state
        .table
        .get(&patient_key(id), Consistency::Strong)
        .await?
        .is_some_and(|p| matches!(p.get(attr::EMAIL_VERIFIED), Some(AttrValue::Bool(true))));
    Ok((preferences, verified))
}

fn view(p: &Preferences, verified: bool) -> PreferencesView {
    PreferencesView {
        email: p.email.unwrap_or(verified),
        sms: p.sms && p.sms_consent_at.is_some(),
        channels: p
            .channels(verified)
            .into_iter()
            .map(Channel::code)
            .collect(),
        email_verified: verified,
        email_bounced: p.email_bounced_at.is_some(),
        sms_stopped: p.sms_stopped_at.is_some(),
        sms_consent_at: p
            .sms_consent_at
            .and_then(|t| jiff::Timestamp::from_second(t).ok())
            .map(|t| t.to_string()),
    }
}

/// The caller's own preferences.
#[tracing::instrument(skip_all)]
pub async fn get(state: &AppState, caller: &Caller) -> Result<PreferencesView, ApiError> {
    let id = crate::common::access::own_record(caller)?;
    let (preferences, verified) = load(state, &id).await?;
    Ok(view(&preferences, verified))
}

/// Sets the caller's own preferences.
#[tracing::instrument(skip_all)]
pub async fn put(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: PreferencesRequest,
) -> Result<Reply, ApiError> {
    let id = crate::common::access::own_record(caller)?;
    let now = state.clock.now().as_second();
    let (before, verified) = load(state, &id).await?;
    let mut after = before.clone();
    after.email = Some(req.email);
    if req.email {
        // Turned (or left) on by the patient: they say the address works.
        after.email_bounced_at = None;
    }
    after.sms = req.sms;
    if req.sms
        && !(before.sms && before.sms_consent_at.is_some() && before.sms_stopped_at.is_none())
    {
        after.sms_consent_at = Some(now);
        after.sms_stopped_at = None;
    }
    if !req.sms {
        after.sms_consent_at = None;
    }
    let writes = vec![Write::new(TransactOp::Put {
        item: after.to_item(&id),
        condition: None,
    })];
    let reply = Reply::ok(&view(&after, verified))?;
    let audit = Audit::new("notification_preferences.update", "patient", id.as_str()).about(&id);
    Ok(commit(state, caller, idem, writes, audit, reply).await?)
}
