//! Booking: the practice's schedules, availability, holds, appointments, patients and the waitlist.

pub mod demo;
pub mod model;
pub mod patients;
pub mod quota;
pub mod service;
pub mod setup;
