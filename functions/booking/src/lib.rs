//! The booking function's HTTP API. At this stage: the caller's identity (`GET /v1/me`) and health.
//! Handlers stay thin: authorize, call the domain in `shared`, map the result.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use shared::AppState;
use shared::auth::{Principal, Role, Subject};

#[derive(Debug, Serialize)]
pub struct Me {
    pub sub: Subject,
    pub roles: Vec<Role>,
}

async fn me(principal: Principal) -> Json<Me> {
    Json(Me {
        sub: principal.subject,
        roles: principal.roles.into_iter().collect(),
    })
}

async fn health(State(_): State<AppState>) -> &'static str {
    "ok"
}

/// The routes, for mounting beside other functions' (`practica serve`).
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/v1/me", get(me))
        .route("/health/booking", get(health))
        .with_state(state)
}

/// The function's complete router, as Lambda runs it.
pub fn router(state: AppState) -> Router {
    shared::http::finish(routes(state))
}
