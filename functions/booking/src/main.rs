//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, edge) = shared::lambda::start(shared::app::cold_start_booking()).await;
    lambda_http::run(shared::web::edge::behind_edge(booking::router(state), edge)).await
}
