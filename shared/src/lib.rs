//! Practica's common crate: domain types and rules, ports (table, keys, clock), their adapters
//! (DynamoDB, KMS, embedded redb, local keys), authentication, envelope encryption, errors,
//! configuration and telemetry. Function crates stay thin on top of it.

pub mod adapters;
pub mod app;
pub mod auth;
pub mod booking;
pub mod config;
pub mod crypto;
pub mod domain;
pub mod error;
#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod layers;
pub mod payments;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod web;

pub use domain::sensitive::Sensitive;
pub use error::ApiError;
pub use state::AppState;
