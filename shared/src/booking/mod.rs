//! Booking: the practice's schedules, availability, holds, appointments, patients and the waitlist.

pub mod schedule;
