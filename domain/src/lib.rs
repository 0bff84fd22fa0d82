//! The domain: pure types and rules, with no I/O and no HTTP. Everything here is synchronous and
//! testable on its own. It is its own crate so that its Cargo.toml is the dependency rule: the
//! compiler, not a text search, keeps framework, SDK, storage and runtime crates out, and nothing
//! here can name the layers above (`shared`'s use cases, store, web, adapters).

pub mod access;
pub mod audit;
pub mod booking;
pub mod busy;
pub mod cards;
pub mod checkpoint;
pub mod clock;
pub mod commitment;
pub mod consent;
pub mod feedback;
pub mod fees;
pub mod forms;
pub mod hash;
pub mod html;
pub mod ics;
pub mod ids;
pub mod instant;
pub mod ledger;
pub mod merkle;
pub mod money;
pub mod notify;
pub mod progress;
pub mod record;
pub mod refusals;
pub mod report;
pub mod schedule;
pub mod search;
pub mod sensitive;
pub mod series;
pub mod witness;
