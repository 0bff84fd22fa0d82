//! The one way a route runs a change under an `Idempotency-Key`: the key is bound to the caller, the
//! [`Operation`] and the exact request ([`Idempotency::new`]); the use case commits its reply with the
//! change; a retry that the table now refuses (409/422) gets the stored reply instead
//! ([`Idempotency::run`]). Use cases authorize before any such refusal, so a caller who may not
//! make the request never sees a stored reply.

use std::fmt;

use serde::Serialize;

use crate::AppState;
use crate::domain::access::Caller;
use crate::domain::ids::{AppointmentId, IdempotencyKey, ProviderId};
use crate::error::ApiError;
use crate::store::commit::{Idempotency, Reply};

/// What a key is bound to: the route and its path ids. These names are inside every stored
/// fingerprint, so renaming one would make that route's stored replies unreachable.
#[derive(Clone, Copy, Debug)]
pub enum Operation<'a> {
    PutPractice,
    CreateProvider,
    PutSchedule(&'a ProviderId),
    CreateService,
    CreateHold,
    Book,
    Reschedule(&'a AppointmentId),
    Cancel(&'a AppointmentId),
    CreatePatient,
    PutMe,
    JoinWaitlist,
    CreateCharge,
    CreatePaymentIntent,
}

impl fmt::Display for Operation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::PutPractice => f.write_str("put_practice"),
            Operation::CreateProvider => f.write_str("create_provider"),
            Operation::PutSchedule(id) => write!(f, "put_schedule:{id}"),
            Operation::CreateService => f.write_str("create_service"),
            Operation::CreateHold => f.write_str("create_hold"),
            Operation::Book => f.write_str("book"),
            Operation::Reschedule(id) => write!(f, "reschedule:{id}"),
            Operation::Cancel(id) => write!(f, "cancel:{id}"),
            Operation::CreatePatient => f.write_str("create_patient"),
            Operation::PutMe => f.write_str("put_me"),
            Operation::JoinWaitlist => f.write_str("join_waitlist"),
            Operation::CreateCharge => f.write_str("create_charge"),
            Operation::CreatePaymentIntent => f.write_str("create_payment_intent"),
        }
    }
}

/// Runs `work` on the request `body` under `key` (a POST, where the key is required).
pub async fn idempotent<B: Serialize>(
    state: &AppState,
    caller: &Caller,
    key: &IdempotencyKey,
    operation: Operation<'_>,
    body: B,
    work: impl AsyncFnOnce(&Idempotency, B) -> Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    let idem = Idempotency::new(state, caller, key, &operation.to_string(), &body).await?;
    idem.run(state, work(&idem, body)).await
}

/// Runs `work` under `key` if the client sent one (a PUT, idempotent by its nature).
pub async fn idempotent_if_keyed<B: Serialize>(
    state: &AppState,
    caller: &Caller,
    key: Option<&IdempotencyKey>,
    operation: Operation<'_>,
    body: B,
    work: impl AsyncFnOnce(Option<&Idempotency>, B) -> Result<Reply, ApiError>,
) -> Result<Reply, ApiError> {
    match key {
        Some(key) => {
            let work = async |idem: &Idempotency, body| work(Some(idem), body).await;
            idempotent(state, caller, key, operation, body, work).await
        }
        None => work(None, body).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_the_stored_ones() {
        let p = ProviderId::new();
        let a = AppointmentId::new();
        let names = [
            (Operation::PutPractice, "put_practice".to_owned()),
            (Operation::CreateProvider, "create_provider".into()),
            (Operation::PutSchedule(&p), format!("put_schedule:{p}")),
            (Operation::CreateService, "create_service".into()),
            (Operation::CreateHold, "create_hold".into()),
            (Operation::Book, "book".into()),
            (Operation::Reschedule(&a), format!("reschedule:{a}")),
            (Operation::Cancel(&a), format!("cancel:{a}")),
            (Operation::CreatePatient, "create_patient".into()),
            (Operation::PutMe, "put_me".into()),
            (Operation::JoinWaitlist, "join_waitlist".into()),
            (Operation::CreateCharge, "create_charge".into()),
            (
                Operation::CreatePaymentIntent,
                "create_payment_intent".into(),
            ),
        ];
        for (op, name) in names {
            assert_eq!(op.to_string(), name);
        }
    }
}
