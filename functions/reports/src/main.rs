//! Lambda entry point: wiring only.

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

/// The month's job allocates and frees hundreds of thousands of small strings across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let function = shared::lambda::start(reports::Function::cold_start()).await;
    let function = &function;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        function.handle(event.payload).await
    }))
    .await
}
