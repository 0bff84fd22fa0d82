//! Lambda entry point: wiring only.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (state, _) = shared::lambda::start(shared::app::cold_start()).await;
    let state = &state;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        sweep::run(state, event.payload, &event.context.request_id).await
    }))
    .await
}
