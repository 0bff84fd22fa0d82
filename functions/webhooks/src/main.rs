//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let (state, secrets, edge) = shared::lambda::start(shared::app::cold_start_webhooks()).await;
    lambda_http::run(shared::web::edge::behind_edge(
        webhooks::router(state, secrets),
        edge,
    ))
    .await
}
