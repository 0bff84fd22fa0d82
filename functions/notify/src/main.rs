//! Lambda entry point: wiring only.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let job = shared::lambda::start(notify::NotifyJob::cold_start()).await;
    let job = &job;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        job.run(event.payload).await
    }))
    .await
}
