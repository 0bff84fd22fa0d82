//! Reads every booking use case starts from: the clock, and the practice, providers and services
//! through the read cache (one table round trip per booking).

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::codec::booking::{PracticeCodec, ProviderCodec, ServiceCodec};
use crate::store::keys::*;
use domain::booking::*;
use domain::ids::{ProviderId, ServiceId};
use domain::refusals::BookingError;

pub fn now(state: &AppState) -> i64 {
    state.clock.now().as_second()
}

pub async fn practice(state: &AppState) -> Result<Practice, ApiError> {
    match state.cache.get(&*state.table, &practice_key()).await? {
        Some(item) => Ok(Practice::from_item(&item)?),
        None => Err(ApiError::Booking(BookingError::PracticeNotConfigured)),
    }
}

pub async fn provider(state: &AppState, id: &ProviderId) -> Result<Provider, ApiError> {
    match state.cache.get(&*state.table, &provider_key(id)).await? {
        Some(item) => Ok(Provider::from_item(&item)?),
        None => Err(ApiError::NotFound),
    }
}

pub async fn service(state: &AppState, id: &ServiceId) -> Result<Option<Service>, ApiError> {
    match state.cache.get(&*state.table, &service_key(id)).await? {
        Some(item) => Ok(Some(Service::from_item(&item)?)),
        None => Ok(None),
    }
}

/// The service, if it exists and this provider offers it.
pub async fn offered_service(
    state: &AppState,
    id: &ServiceId,
    provider: &ProviderId,
) -> Result<Service, ApiError> {
    match service(state, id).await? {
        Some(s) if s.offered_by(provider) => Ok(s),
        _ => Err(ApiError::Booking(BookingError::ServiceNotOffered)),
    }
}
