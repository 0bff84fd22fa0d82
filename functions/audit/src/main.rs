//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let job = shared::lambda::start(audit::AuditJob::cold_start()).await;
    shared::lambda::run_events(|event, _| job.run(event)).await
}
