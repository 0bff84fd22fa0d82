//! Lambda entry point: wiring only.

use std::sync::Arc;

use shared::AppState;
use shared::adapters::stripe::StripeProcessor;
use shared::config::Config;
use shared::config::payments as config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let sdk = shared::app::sdk_config().await;
    let state = AppState::from_sdk(&config, &sdk)?;
    let processor = StripeProcessor::new(config::stripe_from_env(&sdk).await?)?;
    lambda_http::run(payments::router(state, Arc::new(processor))).await
}
