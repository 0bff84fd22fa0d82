//! The `practica` command's library half: the local stack that `practica serve` runs.

pub mod audit;
pub mod checkout;
pub mod demo;
pub mod portal;
pub mod report;
pub mod sandbox;
pub mod serve;
