//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, _) = shared::lambda::start(shared::app::cold_start()).await;
    lambda_http::run(booking::router(state)).await
}
