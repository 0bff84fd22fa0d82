//! Who may act on what in booking: the patient a request acts for, and who may read or change an
//! appointment. The ownership rule itself is [`crate::domain::access::Principal::authorize`].

use crate::auth::{Resource, Role};
use crate::domain::access::Caller;
use crate::domain::booking::*;
use crate::domain::ids::PatientId;
use crate::domain::refusals::BookingError;
use crate::error::ApiError;

/// The patient a request acts for: a patient acts for themself; staff name the patient.
pub fn acting_for(caller: &Caller, requested: Option<PatientId>) -> Result<PatientId, ApiError> {
    match requested {
        Some(patient) => {
            caller.principal.authorize(
                &[Role::Patient, Role::Staff, Role::Admin],
                Resource::Patient(patient.subject()),
            )?;
            Ok(patient)
        }
        None if caller.principal.has(Role::Patient) => Ok(PatientId::of(&caller.principal.subject)),
        None if caller.is_staff() => Err(ApiError::Booking(BookingError::PatientRequired)),
        None => Err(ApiError::Forbidden),
    }
}

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
        None => Err(crate::domain::access::Denied),
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
