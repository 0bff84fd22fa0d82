//! Lambda entry point: wiring only.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, processor) = shared::lambda::start(shared::app::cold_start_payments()).await;
    lambda_http::run(payments::router(state, Arc::new(processor))).await
}
