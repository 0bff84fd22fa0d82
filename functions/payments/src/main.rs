//! Lambda entry point: wiring only.

use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, processor, edge) = shared::lambda::start(shared::app::cold_start_payments()).await;
    let router = payments::router(state, Arc::new(processor));
    lambda_http::run(shared::web::edge::behind_edge(router, edge)).await
}
