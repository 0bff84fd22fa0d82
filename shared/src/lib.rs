//! Practica's common crate, in layers (docs/architecture.md has the map; `layers.rs` checks it):
//!
//! - the domain (pure types and rules, no I/O, no HTTP) is its own crate, `practica-domain`
//!   (`domain::`), whose manifest keeps frameworks, SDKs and storage out;
//! - use cases: [`booking`] and [`payments`], one file per capability, over the ports in
//!   [`state::AppState`];
//! - [`store`] (the table port, key layout, codecs, the commit of a change), [`crypto`] (sealing,
//!   blind index, the key port), [`auth`] (token verification), [`signaling`] (the online visits'
//!   signaling port);
//! - [`adapters`]: DynamoDB, redb, KMS, local keys, JWKS, Stripe, Secrets Manager, files;
//! - [`web`]: axum extractors, the one error-to-HTTP table, idempotent routes, webhook formats;
//! - [`app`] builds an [`AppState`] from adapters; [`config`] and [`telemetry`] are read at cold start.
//!
//! Function crates stay thin on top of it: a route extracts, calls one use case, maps its answer.

pub mod adapters;
pub mod app;
pub mod audit;
pub mod auth;
pub mod booking;
pub mod common;
pub mod config;
pub mod counters;
pub mod crypto;
pub mod directory;
pub mod error;
pub mod feedback;
#[cfg(test)]
mod fuzz;
pub mod lambda;
#[cfg(test)]
mod layers;
pub mod notify;
pub mod payments;
pub mod record;
pub mod reports;
pub mod scheduled;
pub mod signaling;
pub mod staff;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod unit_of_work;
pub mod web;
pub mod witness;
