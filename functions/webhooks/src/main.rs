//! Lambda entry point: wiring only.

use shared::AppState;
use shared::config::Config;
use shared::config::payments::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let sdk = shared::app::sdk_config().await;
    let state = AppState::from_sdk(&config, &sdk)?;
    let secrets = WebhookConfig::from_env(&sdk).await?;
    lambda_http::run(webhooks::router(state, secrets)).await
}
