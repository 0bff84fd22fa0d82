//! A provider's other calendars, managed by the provider (or staff, or an admin): add an address,
//! list them with their last fetch's outcome, remove one. The address is sealed on the way in and
//! never returned; a removal gives back the busy time only that calendar held at once.

use serde::{Deserialize, Serialize};

use super::port::{FetchError, check_address};
use super::{MAX_CALENDARS, horizon, reconcile};
use crate::booking::access::authorize_calendar;
use crate::common::lookup::{now, practice};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::busy::{BusyCalendar, BusyCalendarCodec, BusySummary};
use crate::store::keys::{
    BUSY_CALENDAR_PREFIX, busy_calendar_key, busy_calendar_partition, busy_summary_key,
};
use crate::store::{
    AttrValue, Condition, Consistency, Query, SortKey, TransactOp, Update, attr, query_all,
};
use crate::unit_of_work::{Audit, Idempotency, Reply, Write, commit, refused};
use domain::access::Caller;
use domain::ids::{CalendarId, ProviderId};
use domain::refusals::SetupError;
use domain::sensitive::Sensitive;

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddCalendarRequest {
    /// What the provider calls it ("Personal", "Hospital rota"): 1 to 60 characters.
    pub label: String,
    /// The calendar's ICS address (its app's secret or public iCal link; `webcal://` is read as
    /// `https://`). A secret: never in a log line.
    pub address: Sensitive<String>,
}

/// A removal's body: `{}` (the calendar is named by the path).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveCalendarRequest {}

const MAX_LABEL_CHARS: usize = 60;

fn audit(action: &'static str, provider: &ProviderId, id: Option<&CalendarId>) -> Audit {
    let target = match id {
        Some(id) => format!("{provider}/{id}"),
        None => provider.to_string(),
    };
    Audit::new(action, "busy-calendar", target)
}

#[tracing::instrument(skip_all)]
pub async fn add_calendar(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    provider_id: &ProviderId,
    req: AddCalendarRequest,
) -> Result<Reply, ApiError> {
    let target = audit("busy_calendar.add", provider_id, None);
    refused(
        state,
        caller,
        target,
        authorize_calendar(state, caller, provider_id).await,
    )
    .await?;
    let label = req.label.trim();
    if label.is_empty()
        || label.chars().count() > MAX_LABEL_CHARS
        || label.chars().any(char::is_control)
    {
        return Err(SetupError::CalendarLabel.into());
    }
    // Apple's shared calendars are given as webcal:// links to the same https address.
    let given = req.address.expose().trim();
    let address = match given.get(..9) {
        Some(scheme) if scheme.eq_ignore_ascii_case("webcal://") => {
            format!("https://{}", &given[9..])
        }
        _ => given.to_owned(),
    };
    let host = check_address(&address).map_err(|e| match e {
        FetchError::PrivateAddress => SetupError::CalendarPrivate,
        _ => SetupError::CalendarAddress,
    })?;
    let id = CalendarId::new();
    let key = busy_calendar_key(provider_id, &id);
    let now = now(state);
    let calendar = BusyCalendar {
        provider: provider_id.clone(),
        id: id.clone(),
        label: label.to_owned(),
        host,
        address: state.sealer.seal_str(&key, attr::ADDRESS, &address).await?,
        created_at: now,
        attempted_at: None,
        fetched_at: None,
        error: None,
        blocks: Vec::new(),
        skipped: 0,
    };
    // The count on the summary item, in the same transaction: racing adds cannot pass the limit.
    let summary = BusySummary::index_attrs(provider_id)
        .into_iter()
        .fold(Update::default().add(attr::COUNT, 1), |u, (n, v)| {
            u.set(n, v)
        });
    let writes = vec![
        Write::new(TransactOp::Put {
            item: calendar.to_item(),
            condition: Some(Condition::ItemAbsent),
        }),
        Write::new(TransactOp::Update {
            key: busy_summary_key(provider_id),
            update: summary,
            condition: Some(Condition::Or(vec![
                Condition::AttrAbsent(attr::COUNT.into()),
                Condition::LessThan(attr::COUNT.into(), AttrValue::N(MAX_CALENDARS)),
            ])),
        })
        .or(SetupError::TooManyCalendars),
    ];
    let zone = practice(state).await?.zone;
    let reply = Reply::created(&view(&calendar, &zone))?;
    let audit = audit("busy_calendar.add", provider_id, Some(&id));
    Ok(commit(state, caller, Some(idem), writes, audit, reply).await?)
}

/// A calendar as the console shows it: never its address.
fn view(c: &BusyCalendar, zone: &jiff::tz::TimeZone) -> serde_json::Value {
    let at = |t: Option<i64>| t.map(|t| domain::instant::render_in(t, zone));
    serde_json::json!({
        "id": c.id,
        "providerId": c.provider,
        "label": c.label,
        "host": c.host,
        "createdAt": domain::instant::render_in(c.created_at, zone),
        "lastTriedAt": at(c.attempted_at),
        "lastFetchedAt": at(c.fetched_at),
        "error": c.error,
        "busyBlocks": c.blocks.len(),
        "skippedEvents": c.skipped,
    })
}

/// The provider's other calendars, in the order they were added.
pub(super) async fn calendars_of(
    state: &AppState,
    provider: &ProviderId,
) -> Result<Vec<BusyCalendar>, ApiError> {
    let query = Query::partition(busy_calendar_partition(provider))
        .sort(SortKey::BeginsWith(BUSY_CALENDAR_PREFIX.into()))
        .consistent();
    let mut out = query_all(&*state.table, &query)
        .await?
        .iter()
        .map(BusyCalendar::from_item)
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
    Ok(out)
}

#[tracing::instrument(skip_all)]
pub async fn list_calendars(
    state: &AppState,
    caller: &Caller,
    provider_id: &ProviderId,
) -> Result<serde_json::Value, ApiError> {
    authorize_calendar(state, caller, provider_id).await?;
    let zone = practice(state).await?.zone;
    let calendars = calendars_of(state, provider_id).await?;
    Ok(serde_json::json!({
        "calendars": calendars.iter().map(|c| view(c, &zone)).collect::<Vec<_>>(),
        "limit": MAX_CALENDARS,
    }))
}

#[tracing::instrument(skip_all)]
pub async fn remove_calendar(
    state: &AppState,
    caller: &Caller,
    idem: &Idempotency,
    provider_id: &ProviderId,
    id: &CalendarId,
) -> Result<Reply, ApiError> {
    let target = audit("busy_calendar.remove", provider_id, Some(id));
    let provider = refused(
        state,
        caller,
        target,
        authorize_calendar(state, caller, provider_id).await,
    )
    .await?;
    let key = busy_calendar_key(provider_id, id);
    if state.table.get(&key, Consistency::Strong).await?.is_none() {
        return Err(ApiError::NotFound);
    }
    let now = now(state);
    let writes = vec![
        Write::new(TransactOp::Delete {
            key,
            condition: Some(Condition::ItemExists),
        })
        .or(SetupError::ChangedMeanwhile),
        // The lock units are behind until reconciled: the sweep finishes it if this request stops.
        Write::new(TransactOp::Update {
            key: busy_summary_key(provider_id),
            update: Update::default()
                .add(attr::COUNT, -1)
                .set(attr::CHANGED_AT, now),
            condition: Some(Condition::ItemExists),
        }),
    ];
    let reply = Reply::ok(&serde_json::json!({ "id": id, "removed": true }))?;
    let audit = audit("busy_calendar.remove", provider_id, Some(id));
    let reply = commit(state, caller, Some(idem), writes, audit, reply).await?;
    // Give the removed calendar's time back now (the rest stays busy). The summary's mark stays
    // until a sweep has reconciled with what it reads then (a sweep that read the calendars
    // before this removal may take the time again meanwhile; the next one gives it back).
    let blocks: Vec<(i64, i64)> = calendars_of(state, provider_id)
        .await?
        .into_iter()
        .flat_map(|c| c.blocks)
        .collect();
    let window = horizon(now, provider.rules.max_advance_days);
    if let Err(e) = reconcile(state, provider_id, &blocks, window, now).await {
        tracing::warn!(error = %e, "busy time not yet given back; the sweep will");
    }
    Ok(reply)
}
