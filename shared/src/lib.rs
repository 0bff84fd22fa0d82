//! Practica's common crate: domain types and rules, ports (table, keys, clock), their adapters
//! (DynamoDB, KMS, embedded redb, local keys), authentication, envelope encryption, errors,
//! configuration and telemetry. Function crates stay thin on top of it.

pub mod app;
pub mod attr;
pub mod auth;
pub mod booking;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod ids;
pub mod instant;
pub mod money;
pub mod payments;
pub mod sensitive;
pub mod table;
pub mod telemetry;
pub mod write;

pub use app::AppState;
pub use error::ApiError;
pub use sensitive::Sensitive;
