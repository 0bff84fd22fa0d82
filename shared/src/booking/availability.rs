//! Availability: the bookable starts of a provider for a service in a range.

use super::slots::busy_units;
use crate::common::input::query_range;
use crate::common::lookup::{now, offered_service, practice, provider};

use serde::Deserialize;

use crate::error::{ApiError, InputError};
use crate::state::AppState;
use domain::ids::{ProviderId, ServiceId};
use domain::instant::render_in;
use domain::schedule::Calendar;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AvailabilityQuery {
    pub service_id: String,
    pub from: String,
    pub to: String,
}

#[tracing::instrument(skip_all)]
pub async fn availability(
    state: &AppState,
    provider_id: &ProviderId,
    q: &AvailabilityQuery,
) -> Result<serde_json::Value, ApiError> {
    let service_id = ServiceId::parse(&q.service_id)
        .ok_or_else(|| ApiError::Input(InputError::InvalidServiceId))?;
    let (from, to) = query_range(&q.from, &q.to)?;
    let practice = practice(state).await?;
    let provider = provider(state, provider_id).await?;
    let service = offered_service(state, &service_id, &provider.id).await?;
    let cal = Calendar {
        rules: &provider.rules,
        zone: &practice.zone,
    };
    let now = now(state);
    let span = service.duration() + cal.rules.buffer_before() + cal.rules.buffer_after();
    let busy = busy_units(state, &provider.id, from - span, to + span, now).await?;
    let slots: Vec<String> = cal
        .available(service.duration(), from, to, now, &busy)
        .into_iter()
        .map(|t| render_in(t, &practice.zone))
        .collect();
    Ok(serde_json::json!({
        "providerId": provider.id,
        "serviceId": service.id,
        "timeZone": practice.zone_name(),
        "durationMinutes": service.duration_minutes,
        "slots": slots,
    }))
}
