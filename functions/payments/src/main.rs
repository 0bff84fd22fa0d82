//! Lambda entry point: wiring only.

use shared::AppState;
use shared::config::Config;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = Config::from_env()?;
    let state = AppState::from_aws(&config).await?;
    lambda_http::run(payments::router(state)).await
}
