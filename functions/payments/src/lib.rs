//! The payments function's HTTP API. At this stage only its health route; later issues add the rest.

use axum::Router;
use axum::routing::get;
use shared::AppState;

async fn health() -> &'static str {
    "ok"
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/health/payments", get(health))
        .with_state(state)
}

/// The function's complete router, as Lambda runs it.
pub fn router(state: AppState) -> Router {
    shared::http::finish(routes(state))
}
