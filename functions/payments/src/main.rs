//! Lambda entry point: wiring only.

use std::sync::Arc;

use shared::adapters::stripe::StripeProcessor;
use shared::config::payments::stripe_from_env;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, sdk) = shared::app::cold_start().await?;
    let processor = StripeProcessor::new(stripe_from_env(&sdk).await?)?;
    lambda_http::run(payments::router(state, Arc::new(processor))).await
}
