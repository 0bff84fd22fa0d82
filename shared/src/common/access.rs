//! The patient a request acts for, the same for every use case that acts for a patient.

use crate::auth::{Resource, Role};
use crate::error::ApiError;
use domain::access::Caller;
use domain::ids::PatientId;
use domain::refusals::BookingError;

/// The caller as a patient acting on their own record (routes under `/v1/patients/me`): 403 for
/// anyone else.
pub fn own_record(caller: &Caller) -> Result<PatientId, ApiError> {
    caller
        .principal
        .authorize(&[Role::Patient], Resource::Shared)?;
    Ok(PatientId::of(&caller.principal.subject))
}

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
