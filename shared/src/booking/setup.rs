//! Practice setup by staff and admins: the practice's zone and policies, providers with their
//! scheduling rules, services. Changes invalidate this environment's read cache at once; other
//! environments see them within the cache's TTL.

use crate::store::codec::booking::{PracticeCodec, ProviderCodec, ServiceCodec};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

use crate::auth::{Resource, Role, Subject};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::keys::*;
use crate::store::{Condition, Query, TransactOp, query_all};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit};
use domain::access::Caller;
use domain::booking::Limits;
use domain::booking::*;
use domain::ids::{ProviderId, ServiceId};
use domain::money::Money;
use domain::refusals::SetupError;
use domain::schedule::{MAX_SERVICE_MINUTES, Rules};

fn name_text(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(ApiError::Setup(SetupError::InvalidName));
    }
    Ok(name.to_owned())
}

fn rules_checked(rules: Rules) -> Result<Rules, ApiError> {
    rules
        .validate()
        .map_err(|detail| ApiError::Setup(SetupError::InvalidRules(detail)))?;
    Ok(rules)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PracticeRequest {
    pub name: String,
    pub time_zone: String,
    #[serde(default = "default_hold_minutes")]
    pub hold_minutes: u16,
    #[serde(default = "default_offer_minutes")]
    pub waitlist_offer_minutes: u16,
    /// Per-patient limits; any left out take their default.
    #[serde(default)]
    pub limits: Limits,
    /// Reminders, quiet hours, the portal's address, the daily message limit; any left out
    /// take their default.
    #[serde(default)]
    pub notifications: domain::notify::Settings,
    /// The address and phone number patients are told; both optional.
    #[serde(default)]
    pub contact: domain::booking::Contact,
    /// Visits no one checked in to are marked no-shows this many minutes (15-240) after their
    /// start; left out, only the front desk marks them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_no_show_minutes: Option<u16>,
    /// When an online visit's room opens before the start (0-60 minutes, 15 left out) and closes
    /// after the end (0-120, 30 left out).
    #[serde(default)]
    pub visit_room: domain::booking::VisitRoom,
}

fn default_hold_minutes() -> u16 {
    5
}
fn default_offer_minutes() -> u16 {
    60
}

#[tracing::instrument(skip_all)]
pub async fn get_practice(state: &AppState) -> Result<serde_json::Value, ApiError> {
    Ok(crate::common::lookup::practice(state).await?.view())
}

/// Sets the practice's zone and policies (admin).
#[tracing::instrument(skip_all)]
pub async fn put_practice(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: PracticeRequest,
) -> Result<Reply, ApiError> {
    caller
        .principal
        .authorize(&[Role::Admin], Resource::Shared)?;
    let zone = TimeZone::get(&req.time_zone)
        .ok()
        .filter(|z| z.iana_name().is_some())
        .ok_or_else(|| ApiError::Setup(SetupError::InvalidTimeZone))?;
    if !(1..=60).contains(&req.hold_minutes)
        || !(5..=1440).contains(&req.waitlist_offer_minutes)
        || req
            .auto_no_show_minutes
            .is_some_and(|m| !domain::booking::AUTO_NO_SHOW_MINUTES.contains(&m))
    {
        return Err(ApiError::Setup(SetupError::InvalidPolicy));
    }
    req.limits
        .validate()
        .map_err(|detail| ApiError::Setup(SetupError::InvalidLimits(detail)))?;
    req.notifications
        .validate()
        .map_err(|detail| ApiError::Setup(SetupError::InvalidLimits(detail)))?;
    req.contact
        .validate()
        .map_err(|detail| ApiError::Setup(SetupError::InvalidContact(detail)))?;
    req.visit_room
        .validate()
        .map_err(|detail| ApiError::Setup(SetupError::InvalidLimits(detail)))?;
    let practice = Practice {
        name: name_text(&req.name)?,
        zone,
        hold_minutes: req.hold_minutes,
        waitlist_offer_minutes: req.waitlist_offer_minutes,
        limits: req.limits,
        notifications: req.notifications,
        contact: req.contact,
        auto_no_show_minutes: req.auto_no_show_minutes,
        visit_room: req.visit_room,
    };
    let writes = vec![
        Write::new(TransactOp::Put {
            item: practice.to_item(),
            condition: None,
        })
        .or(ApiError::Setup(SetupError::ChangedMeanwhile)),
    ];
    let reply = Reply::ok(&practice.view())?;
    let audit = Audit::new("practice.update", "practice", "settings");
    let result = commit(state, caller, idem, writes, audit, reply).await;
    state.cache.invalidate(&practice_key());
    Ok(result?)
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProviderRequest {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub rules: Rules,
}

#[tracing::instrument(skip_all)]
pub async fn create_provider(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: ProviderRequest,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    let provider = Provider {
        id: ProviderId::new(),
        name: name_text(&req.name)?,
        subject: req.subject,
        rules: rules_checked(req.rules)?,
    };
    let writes = vec![
        Write::new(TransactOp::Put {
            item: provider.to_item()?,
            condition: Some(Condition::ItemAbsent),
        })
        .or(ApiError::Setup(SetupError::ChangedMeanwhile)),
    ];
    let reply = Reply::created(&provider)?;
    let audit = Audit::new("provider.create", "provider", provider.id.as_str());
    let result = commit(state, caller, idem, writes, audit, reply).await;
    Ok(result?)
}

/// Replaces a provider's scheduling rules. Booked appointments stay; new bookings follow the rules.
#[tracing::instrument(skip_all, fields(provider = %id))]
pub async fn put_schedule(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    id: &ProviderId,
    rules: Rules,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    let rules = rules_checked(rules)?;
    let mut provider = crate::common::lookup::provider(state, id).await?;
    provider.rules = rules;
    let writes = vec![
        Write::new(TransactOp::Put {
            item: provider.to_item()?,
            condition: Some(Condition::ItemExists),
        })
        .or(ApiError::NotFound),
    ];
    let reply = Reply::ok(&provider)?;
    let audit = Audit::new("provider.schedule", "provider", id.as_str());
    let result = commit(state, caller, idem, writes, audit, reply).await;
    state.cache.invalidate(&provider_key(id));
    Ok(result?)
}

/// A provider as `caller` may see it: the login subject only for staff, admins and the provider
/// themselves (a patient has no use for another person's identity-provider id).
fn seen_by(mut provider: Provider, caller: &Caller) -> Provider {
    let own = provider.subject.as_ref() == Some(&caller.principal.subject);
    if !(caller.is_staff() || own) {
        provider.subject = None;
    }
    provider
}

#[tracing::instrument(skip_all, fields(provider = %id))]
pub async fn get_provider(
    state: &AppState,
    caller: &Caller,
    id: &ProviderId,
) -> Result<serde_json::Value, ApiError> {
    let provider = seen_by(crate::common::lookup::provider(state, id).await?, caller);
    Ok(serde_json::to_value(provider).map_err(anyhow::Error::new)?)
}

#[tracing::instrument(skip_all)]
pub async fn list_providers(
    state: &AppState,
    caller: &Caller,
) -> Result<serde_json::Value, ApiError> {
    let items = query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX)).await?;
    let providers = items
        .iter()
        .map(|item| Provider::from_item(item).map(|p| seen_by(p, caller)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({ "providers": providers }))
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceRequest {
    pub name: String,
    pub duration_minutes: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<Money>,
    pub provider_ids: Vec<ProviderId>,
    #[serde(default)]
    pub self_book_series: bool,
    /// Consent documents (ids) a patient signs before booking it: at most 5, each published.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_consents: Vec<domain::consent::DocumentId>,
    /// Published forms (ids) a patient fills in before her first visit, and before every visit.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms_before_first_visit: Vec<domain::forms::FormId>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forms_before_every_visit: Vec<domain::forms::FormId>,
    /// Late-cancellation and no-show fees; the service needs a price to have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation_policy: Option<domain::fees::Policy>,
    /// In person (the default), online (video visits), or either, as the patient chooses.
    #[serde(default)]
    pub visit_mode: domain::booking::VisitMode,
}

#[tracing::instrument(skip_all)]
pub async fn create_service(
    state: &AppState,
    caller: &Caller,
    idem: Option<&Idempotency>,
    req: ServiceRequest,
) -> Result<Reply, ApiError> {
    caller.authorize_staff()?;
    if !(5..=MAX_SERVICE_MINUTES).contains(&req.duration_minutes)
        || !req.duration_minutes.is_multiple_of(5)
    {
        return Err(ApiError::Setup(SetupError::InvalidDuration));
    }
    if req.provider_ids.is_empty() || req.provider_ids.len() > 50 {
        return Err(ApiError::Setup(SetupError::InvalidProviders));
    }
    for id in &req.provider_ids {
        crate::common::lookup::provider(state, id)
            .await
            .map_err(|e| match e {
                ApiError::NotFound => ApiError::Setup(SetupError::UnknownProvider),
                other => other,
            })?;
    }
    let mut provider_ids = req.provider_ids;
    provider_ids.sort();
    provider_ids.dedup();
    let mut required_consents = req.required_consents;
    required_consents.sort();
    required_consents.dedup();
    if required_consents.len() > 5 {
        return Err(ApiError::Setup(SetupError::UnknownConsent));
    }
    for document in &required_consents {
        let key = crate::store::keys::consent_document_key(document);
        if state.cache.get(&*state.table, &key).await?.is_none() {
            return Err(ApiError::Setup(SetupError::UnknownConsent));
        }
    }
    let mut forms = [req.forms_before_first_visit, req.forms_before_every_visit];
    for list in forms.iter_mut() {
        list.sort();
        list.dedup();
        if list.len() > 5 {
            return Err(ApiError::Setup(SetupError::UnknownForm));
        }
        for form in list.iter() {
            let key = crate::store::keys::form_key(form);
            if state.cache.get(&*state.table, &key).await?.is_none() {
                return Err(ApiError::Setup(SetupError::UnknownForm));
            }
        }
    }
    let [forms_before_first_visit, forms_before_every_visit] = forms;
    if let Some(policy) = &req.cancellation_policy {
        policy.check(req.price).map_err(ApiError::Setup)?;
    }
    let service = Service {
        id: ServiceId::new(),
        name: name_text(&req.name)?,
        duration_minutes: req.duration_minutes,
        price: req.price,
        provider_ids,
        self_book_series: req.self_book_series,
        required_consents,
        forms_before_first_visit,
        forms_before_every_visit,
        cancellation_policy: req.cancellation_policy,
        visit_mode: req.visit_mode,
    };
    let writes = vec![
        Write::new(TransactOp::Put {
            item: service.to_item(),
            condition: Some(Condition::ItemAbsent),
        })
        .or(ApiError::Setup(SetupError::ChangedMeanwhile)),
    ];
    let reply = Reply::created(&service.view())?;
    let audit = Audit::new("service.create", "service", service.id.as_str());
    let result = commit(state, caller, idem, writes, audit, reply).await;
    Ok(result?)
}

#[tracing::instrument(skip_all)]
pub async fn list_services(state: &AppState) -> Result<serde_json::Value, ApiError> {
    let items = query_all(&*state.table, &Query::gsi1(SERVICES_INDEX)).await?;
    let services = items
        .iter()
        .map(|item| Service::from_item(item).map(|s| s.view()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(serde_json::json!({ "services": services }))
}
