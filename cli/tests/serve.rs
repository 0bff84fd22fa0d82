//! `practica serve` end to end over real HTTP: the server verifies tokens from `practica token`'s
//! issuer by fetching its own JWKS, as production fetches Cognito's.

use std::time::Duration;

use practica_cli::serve;
use shared::auth::local::LocalIssuer;
use shared::auth::{Role, Subject};

/// Starts `practica serve` on a free port over a fresh data dir; returns the dir and the base URL.
async fn start() -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    let (listener, app) = serve::bind(0, data.path()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (data, base)
}

#[tokio::test]
async fn serve_verifies_locally_minted_tokens_and_serves_openapi() {
    let (data, base) = start().await;

    // `practica token` does exactly this with the same data dir.
    let issuer = LocalIssuer::open_or_create(data.path()).unwrap();
    let token = issuer
        .mint(
            &Subject::parse("jane-1").unwrap(),
            &[Role::Patient],
            Duration::from_secs(60),
        )
        .unwrap();
    let client = reqwest::Client::new();
    let me: serde_json::Value = client
        .get(format!("{base}/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me,
        serde_json::json!({"sub": "jane-1", "roles": ["patient"]})
    );

    let refused = client.get(format!("{base}/v1/me")).send().await.unwrap();
    assert_eq!(refused.status(), 401);

    let doc: serde_json::Value = client
        .get(format!("{base}/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
}

/// Every operation in the OpenAPI document is routed (no 404/405 problem from the fallback).
#[tokio::test]
async fn every_documented_operation_is_routed() {
    let (_data, base) = start().await;
    let doc: serde_json::Value = serde_json::from_str(serve::OPENAPI).unwrap();
    let client = reqwest::Client::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = client
                .request(method.clone(), format!("{base}{path}"))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert!(
                !(matches!(status.as_u16(), 404 | 405)
                    && matches!(
                        body["code"].as_str(),
                        Some("not_found" | "method_not_allowed")
                    )),
                "{method} {path} is documented but not routed"
            );
        }
    }
}
