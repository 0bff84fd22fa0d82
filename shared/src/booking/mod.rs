//! Booking use cases: one file per capability, each taking the ports it needs through
//! [`crate::AppState`] and deciding with the rules in [`crate::domain`].
//!
//! - [`setup`]: the practice, providers, schedules and services (staff).
//! - [`patients`]: registration, demographics, search by verified email.
//! - [`availability`], [`holds`], [`book`], [`appointments`], [`changes`], [`waitlist`]: the
//!   patient's path from a free time to an appointment, and back.
//! - Shared by them: [`input`] (request fields), [`lookup`] (cached reads), [`access`] (who may
//!   act), [`slots`] (lock units and allowance claims as table writes), [`quota`] (per-patient
//!   limits, claimed on the table). The records are `crate::domain::booking`.

pub mod access;
pub mod appointments;
pub mod availability;
pub mod book;
pub mod changes;
pub mod holds;
pub mod input;
pub mod lookup;
pub mod patients;
pub mod quota;
pub mod setup;
pub mod slots;
pub mod waitlist;
