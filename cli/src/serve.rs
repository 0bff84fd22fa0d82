//! `practica serve`: every function's routes on one loopback port, over the embedded store, the local
//! key file and the local token issuer, whose JWKS the server fetches from itself over HTTP, so token
//! verification runs exactly the production code.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use axum::routing::get;
use axum::{Json, Router};
use shared::AppState;
use shared::auth::local::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::auth::{AuthConfig, HttpJwks};

pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const OPENAPI_PATH: &str = "/openapi.json";
/// The API description, served as-is.
pub const OPENAPI: &str = include_str!("../../openapi.json");

/// Binds 127.0.0.1:`port` (0 picks a free port) and assembles the local stack over `data`.
pub async fn bind(port: u16, data: &Path) -> anyhow::Result<(tokio::net::TcpListener, Router)> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let issuer = LocalIssuer::open_or_create(data)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let jwks = HttpJwks::new(format!("http://{addr}{JWKS_PATH}"))?;
    let state = AppState::local(
        data,
        Arc::new(jwks),
        AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
    )?;
    let key_set = issuer.jwks().clone();
    let app = Router::new()
        .merge(booking::routes(state.clone()))
        .merge(payments::routes(state.clone()))
        .merge(webhooks::routes(state))
        .route(JWKS_PATH, get(move || async move { Json(key_set) }))
        .route(OPENAPI_PATH, get(openapi));
    Ok((listener, shared::http::finish(app)))
}

async fn openapi() -> impl axum::response::IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI,
    )
}

/// Serves until Ctrl-C.
pub async fn run(port: u16, data: &Path) -> anyhow::Result<()> {
    let (listener, app) = bind(port, data).await?;
    println!(
        "practica serving on http://{} (data: {})",
        listener.local_addr()?,
        data.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The local state over `data` for one-shot commands (the server must not be running: the embedded
/// database is opened exclusively).
fn offline_state(data: &Path) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(data).with_context(|| format!("creating {}", data.display()))?;
    let issuer = LocalIssuer::open_or_create(data)?;
    let jwks = shared::auth::StaticJwks(issuer.jwks().clone());
    AppState::local(
        data,
        Arc::new(jwks),
        AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
    )
    .context("opening the data directory (is `practica serve` running on it? stop it first)")
}

/// `practica seed`: loads the demo practice and returns its ids.
pub async fn seed(data: &Path) -> anyhow::Result<shared::booking::demo::Demo> {
    let state = offline_state(data)?;
    shared::booking::demo::seed(&state)
        .await
        .map_err(|e| anyhow::anyhow!("seeding failed: {e}"))
}

/// `practica sweep`: removes expired holds and offers their time to the waitlist.
pub async fn sweep(data: &Path) -> anyhow::Result<(usize, usize)> {
    let state = offline_state(data)?;
    let run = format!("sweep-{}", run_id());
    shared::booking::service::sweep_expired_holds(&state, &run)
        .await
        .map_err(|e| anyhow::anyhow!("sweep failed: {e}"))
}

fn run_id() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
