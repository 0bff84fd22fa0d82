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
