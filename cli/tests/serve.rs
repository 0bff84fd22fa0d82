//! `practica serve` end to end over real HTTP: the server verifies tokens from `practica token`'s
//! issuer by fetching its own JWKS, as production fetches Cognito's; and the portal's pages and the
//! local demo sign-in.

use std::time::Duration;

use practica_cli::serve;
use shared::adapters::local_issuer::LocalIssuer;
use shared::auth::{Role, Subject};

/// Starts `practica serve` on a free port over a fresh data dir; returns the dir and the base URL.
async fn start() -> (tempfile::TempDir, String) {
    listen(tempfile::tempdir().unwrap()).await
}

/// Starts `practica serve` on a free port over `data`.
async fn listen(data: tempfile::TempDir) -> (tempfile::TempDir, String) {
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
    assert_eq!(
        me(&client, &base, &token).await,
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

/// The README's payment walkthrough: seed, a staff charge, the patient's intent, `practica pay`
/// sending signed webhooks to the running server, the balance paid; then a decline and a refund.
#[tokio::test]
async fn practica_pay_completes_sandbox_intents_through_signed_webhooks() {
    use practica_cli::sandbox::Completion;
    let data = tempfile::tempdir().unwrap();
    let demo = serve::seed(data.path()).await.unwrap();
    let (listener, app) = serve::bind(0, data.path()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://127.0.0.1:{port}");
    let issuer = LocalIssuer::open_or_create(data.path()).unwrap();
    let mint = |sub: &str, role| {
        issuer
            .mint(
                &Subject::parse(sub).unwrap(),
                &[role],
                Duration::from_secs(600),
            )
            .unwrap()
    };
    let (staff, jane) = (
        mint("staff-1", Role::Staff),
        mint(demo.patient_id.as_str(), Role::Patient),
    );
    let client = reqwest::Client::new();
    let post = |path: &str, token: &str, key: &str, body: serde_json::Value| {
        client
            .post(format!("{base}{path}"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let charge = post(
        "/v1/charges",
        &staff,
        "walkthrough-charge",
        serde_json::json!({"patientId": demo.patient_id, "currency": "USD",
            "lineItems": [{"description": "Initial assessment", "amount": 15000}]}),
    )
    .await
    .unwrap();
    assert_eq!(charge.status(), 201);
    let balance = || async {
        let body: serde_json::Value = client
            .get(format!("{base}/v1/balance"))
            .bearer_auth(&jane)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body
    };
    let jane_ref = &jane;
    let post_ref = &post;
    let intent = |key: &'static str| async move {
        let reply: serde_json::Value = post_ref(
            "/v1/payment-intents",
            jane_ref,
            key,
            serde_json::json!({"currency": "USD"}),
        )
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
        reply["processorIntentId"].as_str().unwrap().to_owned()
    };

    let declined = intent("walkthrough-intent-1").await;
    let answers = serve::pay(
        data.path(),
        port,
        &declined,
        Completion::Fail {
            decline_code: "insufficient_funds".into(),
        },
    )
    .await
    .unwrap();
    assert!(
        answers.iter().all(|(_, status, _)| *status == 200),
        "{answers:?}"
    );
    assert_eq!(balance().await["balances"][0]["balance"], 15000);

    let paid = intent("walkthrough-intent-2").await;
    let answers = serve::pay(
        data.path(),
        port,
        &paid,
        Completion::Succeed { avs_fail: false },
    )
    .await
    .unwrap();
    assert!(
        answers.iter().all(|(_, status, _)| *status == 200),
        "{answers:?}"
    );
    let after = balance().await;
    assert_eq!(after["balances"][0]["balance"], 0, "{after}");

    serve::pay(
        data.path(),
        port,
        &paid,
        Completion::Refund { refunded: 5000 },
    )
    .await
    .unwrap();
    assert_eq!(balance().await["balances"][0]["balance"], 5000);
    assert!(
        serve::pay(
            data.path(),
            port,
            &paid,
            Completion::Refund { refunded: 10001 }
        )
        .await
        .is_err(),
        "a refund beyond what is left is refused before anything is sent"
    );
}

// --- the portal's pages and the local demo sign-in ---

/// `practica serve` over a data dir seeded as the first README command seeds it.
async fn start_seeded() -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    assert!(serve::seed(data.path()).await.unwrap().created);
    listen(data).await
}

async fn me(client: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    client
        .get(format!("{base}/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_inline_code() {
    let (_data, base) = start_seeded().await;
    let client = reqwest::Client::new();
    for (path, kind) in [
        ("/", "text/html"),
        ("/portal/app.js", "text/javascript"),
        ("/portal/app.css", "text/css"),
        ("/portal/icon.svg", "image/svg+xml"),
    ] {
        let page = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let header = |name: &str| {
            page.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        assert!(header("content-type").starts_with(kind), "{path}");
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert!(header("strict-transport-security").starts_with("max-age="));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
    }
    // Nothing the policy would block: no inline scripts, handlers or styles, no other hosts.
    let html = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for script in html.split("<script").skip(1) {
        let tag = &script[..script.find('>').unwrap()];
        assert!(
            tag.contains("src=\"/portal/"),
            "inline or foreign script: {tag}"
        );
        assert!(script[script.find('>').unwrap() + 1..].starts_with("</script>"));
    }
    for forbidden in [
        " style=",
        " onclick=",
        " onload=",
        "http://",
        "https://",
        "<style",
    ] {
        assert!(!html.contains(forbidden), "{forbidden}");
    }
}

#[tokio::test]
async fn the_demo_sign_in_mints_tokens_for_the_demo_people_only() {
    let (_data, base) = start_seeded().await;
    let client = reqwest::Client::new();
    let url = format!("{base}{}", practica_cli::portal::DEMO_SIGN_IN_PATH);
    let listed: serde_json::Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    let users: Vec<&str> = listed["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"].as_str().unwrap())
        .collect();
    assert_eq!(
        users,
        ["patient-jane", "provider-rivera", "staff-1", "admin-1"]
    );

    for (user, role) in [("patient-jane", "patient"), ("admin-1", "admin")] {
        let answer: serde_json::Value = client
            .post(&url)
            .json(&serde_json::json!({ "user": user }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(answer["expiresIn"], 900);
        let me = me(&client, &base, answer["token"].as_str().unwrap()).await;
        assert_eq!(me, serde_json::json!({"sub": user, "roles": [role]}));
    }

    // Anyone else, or anything else, is the client's mistake: a problem, never a token.
    for (body, status) in [
        (r#"{"user":"someone-else"}"#, 422),
        (r#"{"user":"patient-jane","role":"admin"}"#, 422),
        (r#"{"user":""}"#, 422),
        (r#"{"user":"#, 400),
        ("", 400),
    ] {
        let refused = client
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), status, "{body}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json",
            "{body}"
        );
        assert!(!refused.text().await.unwrap().contains("token"), "{body}");
    }
}
