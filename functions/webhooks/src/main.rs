//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, secrets) = shared::lambda::start(shared::app::cold_start_webhooks()).await;
    lambda_http::run(webhooks::router(state, secrets)).await
}
