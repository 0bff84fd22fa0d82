//! Authentication through the HTTP router: every refused token is a 401 problem+json, never a 500.

use axum::body::Body;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{Request, StatusCode};
use practica_tests::{LocalStack, call};
use serde_json::{Value, json};
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::auth::Role;

fn get(path: &str, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::get(path);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    builder.body(Body::empty()).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims() -> Value {
    json!({"iss": LOCAL_ISSUER, "sub": "p-1", "client_id": LOCAL_AUDIENCE, "token_use": "access",
           "cognito:groups": ["patient"], "exp": now() + 600, "iat": now()})
}

async fn assert_unauthorized(stack: &LocalStack, token: Option<&str>, case: &str) {
    let (status, headers, body) =
        call(booking::router(stack.state.clone()), get("/v1/me", token)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(
        headers["content-type"], "application/problem+json",
        "{case}"
    );
    assert_eq!(headers["www-authenticate"], "Bearer", "{case}");
    assert_eq!(body["status"], 401, "{case}");
    assert_eq!(body["code"], "unauthorized", "{case}");
}

#[tokio::test]
async fn a_valid_token_names_the_caller() {
    let stack = LocalStack::new();
    let token = stack.token("patient-42", &[Role::Patient]);
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        get("/v1/me", Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"sub": "patient-42", "roles": ["patient"]}));
    assert!(headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn every_bad_token_is_a_401_problem() {
    let stack = LocalStack::new();
    assert_unauthorized(&stack, None, "no token").await;
    assert_unauthorized(&stack, Some("garbage"), "not a JWT").await;

    let subject = shared::auth::Subject::parse("p-1").unwrap();
    let expired = stack
        .issuer
        .mint_at(&subject, &[Role::Patient], now() - 7200, now() - 3600)
        .unwrap();
    assert_unauthorized(&stack, Some(&expired), "expired").await;

    let good = stack.token("p-1", &[Role::Patient]);
    let parts: Vec<&str> = good.split('.').collect();
    let mut forged_claims = claims();
    forged_claims["cognito:groups"] = json!(["admin"]);
    let tampered = format!("{}.{}.{}", parts[0], b64(&forged_claims), parts[2]);
    assert_unauthorized(&stack, Some(&tampered), "tampered").await;

    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": stack.issuer.kid()})),
        b64(&claims())
    );
    assert_unauthorized(&stack, Some(&none), "alg none").await;

    let public_key = serde_json::to_vec(&stack.issuer.jwks().keys[0]).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(stack.issuer.kid().to_owned());
    let hs256 = jsonwebtoken::encode(
        &header,
        &claims(),
        &jsonwebtoken::EncodingKey::from_secret(&public_key),
    )
    .unwrap();
    assert_unauthorized(&stack, Some(&hs256), "HS256 signed with the public key").await;

    let stranger = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).unwrap();
    assert_unauthorized(
        &stack,
        Some(
            &stranger
                .mint(
                    &subject,
                    &[Role::Admin],
                    stack.state.clock.now(),
                    std::time::Duration::from_secs(60),
                )
                .unwrap(),
        ),
        "unknown kid",
    )
    .await;

    let mut wrong_issuer = claims();
    wrong_issuer["iss"] = json!("https://evil.example");
    assert_unauthorized(
        &stack,
        Some(&stack.issuer.sign(&wrong_issuer).unwrap()),
        "wrong issuer",
    )
    .await;

    let mut wrong_audience = claims();
    wrong_audience["client_id"] = json!("another-app");
    assert_unauthorized(
        &stack,
        Some(&stack.issuer.sign(&wrong_audience).unwrap()),
        "wrong audience",
    )
    .await;

    let mut id_token = claims();
    id_token["token_use"] = json!("id");
    assert_unauthorized(
        &stack,
        Some(&stack.issuer.sign(&id_token).unwrap()),
        "wrong token_use",
    )
    .await;
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let stack = LocalStack::new();
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        get("/v1/nothing-here", None),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "not_found");
    let request = Request::delete("/v1/me").body(Body::empty()).unwrap();
    let (status, _, body) = call(booking::router(stack.state.clone()), request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}
