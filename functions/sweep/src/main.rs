//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (state, _) = shared::lambda::start(shared::app::cold_start()).await;
    let state = &state;
    shared::lambda::run_events(|event, request_id| async move {
        sweep::run(state, event, &request_id).await
    })
    .await
}
