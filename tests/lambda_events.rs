//! The routers driven by real API Gateway HTTP API (v2) events from `events/`, converted by
//! lambda_http exactly as the Lambda entry point does.

use http::StatusCode;
use practica_tests::{LocalStack, call};
use shared::auth::Role;

fn event(name: &str, token: Option<&str>) -> http::Request<axum::body::Body> {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).expect("event file");
    if let Some(token) = token {
        text = text.replace("{{TOKEN}}", token);
    }
    let request = lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event");
    request.map(axum::body::Body::new)
}

#[tokio::test]
async fn get_me_event_reaches_the_router_with_the_gateway_request_id() {
    let stack = LocalStack::new();
    let token = stack.token("staff-1", &[Role::Staff]);
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        event("apigw-v2-get-me.json", Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "staff-1");
    assert_eq!(headers["x-request-id"], "JKJaXmPLvHcESHA=");
}

#[tokio::test]
async fn event_without_token_is_refused() {
    let stack = LocalStack::new();
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        event("apigw-v2-get-me-no-token.json", None),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "unauthorized");
}
