//! Payments: charges and balances (the patient's ledger), payment intents through a processor
//! port (Stripe in production, an in-process sandbox locally), and processor webhooks verified on
//! their raw bytes, deduplicated, and merged forward-only into the payment.

pub mod charges;
pub mod intents;
pub mod ledger;
pub mod processor;
pub mod webhook_events;
