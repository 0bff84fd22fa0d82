//! Payment use cases: [`charges`] and balances over the patient's [`ledger`], payment [`intents`]
//! through the [`processor`] port (Stripe in production, the CLI's sandbox locally), and processor
//! [`webhook_events`], verified on their raw bytes by `crate::web::webhooks`, deduplicated and
//! merged forward-only into the payment; [`cards`] on file and the sweep's [`collect`]ion of fees
//! from them; [`disputes`] and the evidence answering them.

pub mod cards;
pub mod charges;
pub mod collect;
pub mod deposits;
pub mod disputes;
pub mod fees;
pub mod intents;
pub mod ledger;
pub mod processor;
pub mod webhook_events;
