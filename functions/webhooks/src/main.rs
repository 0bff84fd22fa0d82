//! Lambda entry point: wiring only.

use shared::config::payments::WebhookConfig;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, sdk) = shared::app::cold_start().await?;
    let secrets = WebhookConfig::from_env(&sdk).await?;
    lambda_http::run(webhooks::router(state, secrets)).await
}
