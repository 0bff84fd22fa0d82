//! Lambda entry point: wiring only.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (state, processor) = shared::lambda::start(shared::app::cold_start_sweep()).await;
    let (state, processor) = (&state, &processor);
    // Built once: the providers' other calendars, public https addresses only.
    let calendars = &shared::adapters::calendar_fetch::CalendarFetcher::new(
        shared::adapters::calendar_fetch::FetchPolicy::public(),
    );
    shared::lambda::run_events(|event, request_id| async move {
        sweep::run(state, calendars, processor, event, &request_id).await
    })
    .await
}
