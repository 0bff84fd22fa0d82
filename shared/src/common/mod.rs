//! What several use cases need alike, in one neutral place so that no use-case folder imports
//! another: [`access`] (the patient a request acts for), [`input`] (instants and ranges from
//! request fields), [`lookup`] (the practice's cached records and the clock's now), [`patients`]
//! (a patient's record opened), [`paging`] (one page of a newest-first query), [`ledger`] (a
//! patient's ledger read and claimed), [`fees`] (the fees a booking change charges) and [`cards`] (the
//! card on file), [`deposits`] (a booking's deposit), [`log`] (the signed audit log's records a use case cites).

pub mod access;
pub mod cards;
pub mod deposits;
pub mod fees;
pub mod forms;
pub mod input;
pub mod ledger;
pub mod log;
pub mod lookup;
pub mod paging;
pub mod patients;
pub mod standing;
