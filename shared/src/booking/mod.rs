//! Booking use cases: one file per capability, each taking the ports it needs through
//! [`crate::state::AppState`] and deciding with the rules in [`domain`].
//!
//! - [`setup`]: the practice, providers, schedules and services (staff).
//! - [`patients`]: registration, demographics, search by verified email.
//! - [`availability`], [`holds`], [`book`], [`appointments`], [`changes`], [`waitlist`]: the
//!   patient's path from a free time to an appointment, and back.
//! - [`series`]: recurring series, booked, moved and cancelled from one occurrence on.
//! - [`feeds`]: providers' calendars as subscription links; [`busy`]: busy time from their other
//!   calendars, as lock units.
//! - [`sweep`]: the five-minute job (holds, stale series reservations, other calendars).
//! - [`visits`]: online visits' rooms (who may enter, when, the waiting room, admission).
//! - Shared by them: [`access`] (who may read or change an appointment), [`slots`] (lock units
//!   as table writes). What other use cases need too lives in `crate::common` (input, lookups,
//!   the patient acted for); the per-patient allowances are claimed by the unit of work
//!   (`crate::unit_of_work::allowance`). The records are `domain::booking`.

pub(crate) mod access;
pub mod appointments;
pub mod availability;
pub mod book;
pub mod busy;
pub mod changes;
pub mod consents;
pub mod feeds;
pub mod forms;
pub mod holds;
pub mod patient_messages;
pub mod patient_search;
pub mod patients;
pub mod series;
pub mod setup;
pub mod slots;
pub mod sweep;
pub mod visits;
pub mod waitlist;
