//! Practica's common crate, in layers (docs/architecture.md has the map; `layers.rs` checks it):
//!
//! - [`domain`]: pure types and rules, no I/O, no HTTP;
//! - use cases: [`booking`] and [`payments`], one file per capability, over the ports in
//!   [`state::AppState`];
//! - [`store`] (the table port, key layout, codecs, the commit of a change), [`crypto`] (sealing,
//!   blind index, the key port), [`auth`] (token verification);
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
pub mod config;
pub mod counters;
pub mod crypto;
pub mod domain;
pub mod error;
pub mod feedback;
#[cfg(test)]
mod fuzz;
pub mod lambda;
#[cfg(test)]
mod layers;
pub mod notify;
pub mod payments;
pub mod reports;
pub mod scheduled;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;

pub use domain::sensitive::Sensitive;
pub use error::ApiError;
pub use state::AppState;
