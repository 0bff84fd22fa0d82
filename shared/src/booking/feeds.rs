//! Calendar feeds: a private subscription address for each provider, and one for the practice (all
//! providers), that calendar apps (Google, Outlook, Apple) poll. The address carries a long random
//! token; the table keeps only its SHA-256 (`FEEDTOKEN#<hash>`), so a copy of the table opens no
//! feed. A new link replaces the old one (which stops working at once); a feed can be turned off.
//!
//! What a feed shows is the minimum necessary: "Appointment", the service, the times, where, and a
//! link into the console; no patient name, contact or reason. A provider's feed may add the
//! patient's initials (then the calendar's provider receives patient data, and the practice needs a
//! business associate agreement with it; the console says so). Cancelled appointments stay in the
//! feed as `STATUS:CANCELLED`, so subscribed calendars drop them. Every fetch is audited as a
//! system read (naming the patients whose initials it showed), rate-limited per link on the table,
//! and answered with an `ETag` (`If-None-Match` gets 304).

use std::collections::{BTreeSet, HashMap};

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::common::lookup::{now, practice, provider};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::{AppointmentCodec, ProviderCodec, ServiceCodec};
use crate::store::codec::feeds::{Feed, FeedCodec};
use crate::store::keys::*;
use crate::store::{
    AttrValue, Condition, Consistency, Query, SortKey, TTL_ATTR, TableError, TransactOp, Update,
    attr, query_all,
};
use crate::unit_of_work::{Actor, Audit, Idempotency, Reply, Write, commit, refused};
use domain::access::{Caller, Role};
use domain::booking::{Appointment, Provider, Service, Status};
use domain::ics::{Event, calendar, initials};
use domain::ids::ProviderId;

/// How far back and ahead a feed reaches.
const PAST_SECS: i64 = 30 * 86_400;
const AHEAD_SECS: i64 = 366 * 86_400;
/// Fetches a link may make in an hour (calendar apps poll every 15 minutes to a few hours).
pub const FETCHES_PER_HOUR: i64 = 60;
/// The practice-wide feed's scope.
const PRACTICE: &str = "practice";

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FeedRequest {
    /// The provider whose calendar; without it, the practice's (all providers; staff only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
    /// Show each patient's initials (a provider's feed only).
    #[serde(default)]
    pub patient_initials: bool,
}

#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_id: Option<ProviderId>,
}

fn scope_of(provider: Option<&ProviderId>) -> String {
    provider.map_or_else(|| PRACTICE.to_owned(), |p| p.as_str().to_owned())
}

/// Who manages a feed: staff and admins any; a provider their own.
async fn authorize(
    state: &AppState,
    caller: &Caller,
    provider_id: Option<&ProviderId>,
) -> Result<Option<Provider>, ApiError> {
    let Some(id) = provider_id else {
        caller.authorize_staff()?;
        return Ok(None);
    };
    Ok(Some(
        super::access::authorize_calendar(state, caller, id).await?,
    ))
}

async fn all_providers(state: &AppState) -> Result<Vec<Provider>, ApiError> {
    let items = query_all(&*state.table, &Query::gsi1(PROVIDERS_INDEX)).await?;
    Ok(items
        .iter()
        .map(Provider::from_item)
        .collect::<Result<Vec<_>, _>>()?)
}

fn hash_of(token: &str) -> String {
    domain::hash::sha256(&[token.as_bytes()])
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A feed link's path: `/v1/feeds/<token>.ics`.
fn feed_path(token: &str) -> String {
    format!("/v1/feeds/{token}.ics")
}

#[tracing::instrument(skip_all)]
pub async fn create_feed(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: FeedRequest,
) -> Result<Reply, ApiError> {
    let target = Audit::new("feed.create", "feed", scope_of(req.provider_id.as_ref()));
    let provider = refused(
        state,
        caller,
        target,
        authorize(state, caller, req.provider_id.as_ref()).await,
    )
    .await?;
    // Initials are the provider's own decision (the BAA with their calendar's company is theirs
    // to stand behind): only that provider turns them on, never for the practice-wide feed.
    let own = provider.as_ref().is_some_and(|p| {
        p.subject.as_ref() == Some(&caller.principal.subject)
            && caller.principal.has(Role::Provider)
    });
    if req.patient_initials && !own {
        return Err(domain::refusals::SetupError::FeedInitials.into());
    }
    let scope = scope_of(req.provider_id.as_ref());
    let now = now(state);
    let bytes: [u8; 32] = rand::random();
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let current = state
        .table
        .get(&feed_key(&scope), Consistency::Strong)
        .await?
        .map(|item| Feed::from_item(&item))
        .transpose()?;
    let feed = Feed {
        scope: scope.clone(),
        provider: req.provider_id.clone(),
        token_hash: hash_of(&token),
        patient_initials: req.patient_initials,
        created_at: now,
        version: current.as_ref().map_or(1, |c| c.version + 1),
        created_by: Some(caller.principal.subject.as_str().to_owned()),
    };
    let changed = || ApiError::Setup(domain::refusals::SetupError::ChangedMeanwhile);
    let mut writes = vec![
        Write::new(TransactOp::Put {
            item: feed.to_item(),
            condition: Some(match &current {
                Some(c) => Condition::version_is(c.version),
                None => Condition::ItemAbsent,
            }),
        })
        .or(changed()),
        Write::new(TransactOp::Put {
            item: feed.token_item(),
            condition: Some(Condition::ItemAbsent),
        }),
    ];
    // The old link stops working in the same write.
    if let Some(old) = &current {
        writes.push(Write::new(TransactOp::Delete {
            key: feed_token_key(&old.token_hash),
            condition: None,
        }));
    }
    let practice = practice(state).await?;
    let base = practice.notifications.portal_url.trim_end_matches('/');
    let reply = Reply::created(&serde_json::json!({
        "scope": scope,
        "providerId": req.provider_id,
        "url": format!("{base}{}", feed_path(&token)),
        "patientInitials": req.patient_initials,
        "createdAt": domain::instant::render_in(now, &practice.zone),
        "replaced": current.is_some(),
    }))?;
    let action = if current.is_some() {
        "feed.rotate"
    } else {
        "feed.create"
    };
    let audit = Audit::new(action, "feed", scope);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

#[tracing::instrument(skip_all)]
pub async fn revoke_feed(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    req: RevokeRequest,
) -> Result<Reply, ApiError> {
    let scope = scope_of(req.provider_id.as_ref());
    let target = Audit::new("feed.revoke", "feed", scope.clone());
    refused(
        state,
        caller,
        target,
        authorize(state, caller, req.provider_id.as_ref()).await,
    )
    .await?;
    let current = state
        .table
        .get(&feed_key(&scope), Consistency::Strong)
        .await?
        .map(|item| Feed::from_item(&item))
        .transpose()?
        .ok_or(ApiError::NotFound)?;
    let writes = vec![
        Write::new(TransactOp::Delete {
            key: feed_key(&scope),
            condition: Some(Condition::version_is(current.version)),
        })
        .or(domain::refusals::SetupError::ChangedMeanwhile),
        Write::new(TransactOp::Delete {
            key: feed_token_key(&current.token_hash),
            condition: None,
        }),
    ];
    let reply = Reply::ok(&serde_json::json!({ "scope": scope, "revoked": true }))?;
    let audit = Audit::new("feed.revoke", "feed", scope);
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// The feeds the caller manages (staff: the practice's and every provider's; a provider: their
/// own), without their links (a link is shown once, when it is made).
#[tracing::instrument(skip_all)]
pub async fn list_feeds(state: &AppState, caller: &Caller) -> Result<serde_json::Value, ApiError> {
    let providers = all_providers(state).await?;
    let mut scopes: Vec<(Option<&Provider>, String)> = Vec::new();
    if caller.is_staff() {
        scopes.push((None, PRACTICE.to_owned()));
        scopes.extend(
            providers
                .iter()
                .map(|p| (Some(p), p.id.as_str().to_owned())),
        );
    } else if caller.principal.has(Role::Provider) {
        let own = providers
            .iter()
            .filter(|p| p.subject.as_ref() == Some(&caller.principal.subject));
        scopes.extend(own.map(|p| (Some(p), p.id.as_str().to_owned())));
    } else {
        return Err(ApiError::Forbidden);
    }
    let practice = practice(state).await?;
    let mut out = Vec::new();
    for (provider, scope) in scopes {
        let feed = state
            .table
            .get(&feed_key(&scope), Consistency::Strong)
            .await?
            .map(|item| Feed::from_item(&item))
            .transpose()?;
        out.push(serde_json::json!({
            "scope": scope,
            "providerId": provider.map(|p| &p.id),
            "name": provider.map_or("All providers", |p| p.name.as_str()),
            "active": feed.is_some(),
            "patientInitials": feed.as_ref().is_some_and(|f| f.patient_initials),
            "createdAt": feed.map(|f| domain::instant::render_in(f.created_at, &practice.zone)),
        }));
    }
    Ok(serde_json::json!({ "feeds": out }))
}

/// A feed as served: the calendar text and its entity tag, or only the tag (not modified).
pub struct Served {
    pub etag: String,
    pub body: Option<String>,
}

/// Serves the feed a link names. An unknown or revoked link is 404; a link fetched more than
/// [`FETCHES_PER_HOUR`] times in an hour is 429.
#[tracing::instrument(skip_all)]
pub async fn serve_feed(
    state: &AppState,
    file: &str,
    if_none_match: Option<&str>,
    request_id: &str,
) -> Result<Served, ApiError> {
    let token = file
        .strip_suffix(".ics")
        .filter(|t| {
            t.len() == 43
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or(ApiError::UnknownFeed)?;
    let hash = hash_of(token);
    let feed = state
        .table
        .get(&feed_token_key(&hash), Consistency::Strong)
        .await?
        .map(|item| Feed::from_item(&item))
        .transpose()?
        .ok_or(ApiError::UnknownFeed)?;
    // A link whose maker's login was disabled is gone with it, as a revoked one is.
    if let Some(by) = feed
        .created_by
        .as_deref()
        .and_then(domain::access::Subject::parse)
        && crate::common::standing::disabled_at(&*state.table, &by)
            .await?
            .is_some()
    {
        return Err(ApiError::UnknownFeed);
    }
    let now = now(state);
    // The hour's fetches of this link, counted on the table (racing fetches cannot pass the limit).
    let hour = now.div_euclid(3600);
    let counted = state
        .table
        .update(
            &feed_rate_key(&hash, hour),
            Update::default()
                .add(attr::COUNT, 1)
                .set(TTL_ATTR, (hour + 2) * 3600),
            Some(Condition::Or(vec![
                Condition::AttrAbsent(attr::COUNT.into()),
                Condition::LessThan(attr::COUNT.into(), AttrValue::N(FETCHES_PER_HOUR)),
            ])),
        )
        .await;
    match counted {
        Ok(_) => {}
        Err(TableError::ConditionFailed) => return Err(ApiError::TooManyRequests),
        Err(e) => return Err(e.into()),
    }
    let practice = practice(state).await?;
    let providers: Vec<Provider> = match &feed.provider {
        Some(id) => vec![provider(state, id).await?],
        None => all_providers(state).await?,
    };
    let mut services = HashMap::new();
    for item in query_all(&*state.table, &Query::gsi1(SERVICES_INDEX)).await? {
        let service = Service::from_item(&item)?;
        services.insert(service.id, service.name);
    }
    let mut appointments: Vec<(Appointment, &Provider)> = Vec::new();
    for p in &providers {
        let query = Query::gsi1(calendar_partition(&p.id)).sort(SortKey::Between(
            instant_key(now - PAST_SECS),
            instant_key(now + AHEAD_SECS),
        ));
        for item in query_all(&*state.table, &query).await? {
            appointments.push((Appointment::from_item(&item)?, p));
        }
    }
    appointments.sort_by(|a, b| (a.0.start, a.0.id.as_str()).cmp(&(b.0.start, b.0.id.as_str())));
    let shown: BTreeSet<_> = if feed.patient_initials {
        appointments
            .iter()
            .map(|(a, _)| a.patient.clone())
            .collect()
    } else {
        BTreeSet::new()
    };
    let names = crate::common::patients::names_of(state, shown.iter()).await?;
    let base = practice.notifications.portal_url.trim_end_matches('/');
    let location = practice.contact.address.clone();
    let events: Vec<Event> = appointments
        .iter()
        .map(|(a, p)| {
            let service = services
                .get(&a.service)
                .map_or("Appointment", String::as_str);
            let mut summary = format!("Appointment: {service}");
            if a.online {
                summary.push_str(" (online)");
            }
            if feed.provider.is_none() {
                summary.push_str(&format!(" with {}", p.name));
            }
            if let Some(name) = names.get(&a.patient) {
                summary.push_str(&format!(" ({})", initials(name.expose())));
            }
            Event {
                uid: format!("{}@practica", a.id),
                sequence: a.version,
                stamp: a.created_at,
                start: a.start,
                end: a.end,
                summary,
                // An online visit happens in its room, not at the practice.
                location: if a.online {
                    Some("Online (video visit, from the practice's console)".to_owned())
                } else {
                    location.clone()
                },
                url: Some(format!("{base}/#calendar")),
                description: None,
                cancelled: a.status == Status::Cancelled,
            }
        })
        .collect();
    let name = match &feed.provider {
        Some(_) => format!("{}: {}", practice.name, providers[0].name),
        None => practice.name.clone(),
    };
    let body = calendar(&name, &events);
    // The read, as the system's: before the calendar leaves.
    let actor = Actor::System {
        name: "calendar-feed",
        request_id,
    };
    let audit = Audit::new("feed.read", "feed", feed.scope.clone()).about_all(names.keys());
    state
        .table
        .put(audit.item(state, actor), Some(Condition::ItemAbsent))
        .await?;
    let digest = domain::hash::sha256(&[body.as_bytes()]);
    let etag = format!(
        "\"{}\"",
        digest[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let unchanged =
        if_none_match.is_some_and(|h| h.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    Ok(Served {
        body: (!unchanged).then_some(body),
        etag,
    })
}
