//! Lambda entry point: wiring only.

/// The month's job allocates and frees hundreds of thousands of small strings across threads.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let function = shared::lambda::start(reports::Function::cold_start()).await;
    shared::lambda::run_events(|event, _| function.handle(event)).await
}
