//! Who may read or change an appointment (the patient a request acts for is
//! `crate::common::access`). The ownership rule itself is [`domain::access::Principal::authorize`].

use crate::auth::{Resource, Role};
use crate::error::ApiError;
use domain::access::Caller;
use domain::booking::*;

/// Who may see an appointment: its patient, its provider, staff.
pub(super) fn authorize_read(
    caller: &Caller,
    appt: &Appointment,
    provider: &Provider,
) -> Result<(), ApiError> {
    let as_patient = caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(appt.patient.subject()),
    );
    let as_provider = match &provider.subject {
        Some(sub) => caller
            .principal
            .authorize(&[Role::Provider], Resource::Provider(sub)),
        None => Err(domain::access::Denied),
    };
    as_patient.or(as_provider).map_err(ApiError::from)
}

/// Who may change an appointment: its patient (within the cut-off) and staff.
pub(super) fn authorize_change(caller: &Caller, appt: &Appointment) -> Result<(), ApiError> {
    caller.principal.authorize(
        &[Role::Patient, Role::Staff, Role::Admin],
        Resource::Patient(appt.patient.subject()),
    )?;
    Ok(())
}

/// Who may record attendance (check in, no-show, completed): staff, admins, and the appointment's
/// own provider.
pub(super) fn authorize_attendance(caller: &Caller, provider: &Provider) -> Result<(), ApiError> {
    if caller.is_staff() {
        return Ok(());
    }
    match &provider.subject {
        Some(sub) => Ok(caller
            .principal
            .authorize(&[Role::Provider], Resource::Provider(sub))?),
        None => Err(ApiError::Forbidden),
    }
}

/// Who may manage a provider's calendar links (feeds, other calendars): the provider themself,
/// staff and admins; a provider without a login, staff and admins only.
pub(super) async fn authorize_calendar(
    state: &crate::state::AppState,
    caller: &Caller,
    id: &domain::ids::ProviderId,
) -> Result<Provider, ApiError> {
    let provider = crate::common::lookup::provider(state, id).await?;
    match &provider.subject {
        Some(sub) => caller.principal.authorize(
            &[Role::Provider, Role::Staff, Role::Admin],
            Resource::Provider(sub),
        )?,
        None => caller.authorize_staff()?,
    }
    Ok(provider)
}
