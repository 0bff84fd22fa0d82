//! `practica serve` end to end over real HTTP: the server verifies tokens from `practica token`'s
//! issuer by fetching its own JWKS, as production fetches Cognito's; and the portal's pages and the
//! local demo sign-in.

use std::time::Duration;

use practica_cli::serve;
use shared::adapters::local_issuer::LocalIssuer;
use shared::auth::{Role, Subject};
// `practica serve` runs on the system clock, so its tokens are dated by it.
use domain::clock::{Clock as _, SystemClock};

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
            SystemClock.now(),
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

    let doc = get_json(&client, &format!("{base}/openapi.json")).await;
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

/// A seeded `practica serve` where the front desk has charged Jane `amount` cents (USD): the data
/// dir, the base URL, the port and Jane's token.
struct Charged {
    data: tempfile::TempDir,
    base: String,
    port: u16,
    jane: String,
}

async fn charged(amount: i64) -> Charged {
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
                SystemClock.now(),
                Duration::from_secs(600),
            )
            .unwrap()
    };
    let charge = reqwest::Client::new()
        .post(format!("{base}/v1/charges"))
        .bearer_auth(mint("staff-1", Role::Staff))
        .header("idempotency-key", "test-charge")
        .json(
            &serde_json::json!({"patientId": demo.patient_id, "currency": "USD",
            "lineItems": [{"description": "Initial assessment", "amount": amount}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(charge.status(), 201);
    Charged {
        jane: mint(demo.patient_id.as_str(), Role::Patient),
        data,
        base,
        port,
    }
}

impl Charged {
    /// Jane's payment intent for the whole balance: the reply (ids and the client secret).
    async fn intent(&self, key: &str) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}/v1/payment-intents", self.base))
            .bearer_auth(&self.jane)
            .header("idempotency-key", key)
            .json(&serde_json::json!({"currency": "USD"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Jane's balance as she reads it.
    async fn balance(&self) -> serde_json::Value {
        let url = format!("{}/v1/balance", self.base);
        get_json_as(&reqwest::Client::new(), &url, Some(&self.jane)).await
    }
}

/// The README's payment walkthrough: seed, a staff charge, the patient's intent, `practica pay`
/// sending signed webhooks to the running server, the balance paid; then a decline and a refund.
#[tokio::test]
async fn practica_pay_completes_sandbox_intents_through_signed_webhooks() {
    use practica_cli::sandbox::Completion;
    let stack = charged(15000).await;
    let (data, port) = (&stack.data, stack.port);
    let balance = || stack.balance();
    let stack = &stack;
    let intent = |key: &'static str| async move {
        stack.intent(key).await["processorIntentId"]
            .as_str()
            .unwrap()
            .to_owned()
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

/// The portal's local test card form: it completes the intent whose client secret the page holds
/// through the signed webhook route, and the balance shows what the webhooks recorded.
#[tokio::test]
async fn the_local_card_form_completes_intents_through_signed_webhooks() {
    let stack = &charged(9000).await;
    let client = reqwest::Client::new();
    let intent = |key: &'static str| async move {
        let reply = stack.intent(key).await;
        let text = |name: &str| reply[name].as_str().unwrap().to_owned();
        (text("id"), text("clientSecret"))
    };
    let pay = |secret: &str, outcome: &str| {
        client
            .post(format!(
                "{}{}",
                stack.base,
                practica_cli::checkout::SANDBOX_PAY_PATH
            ))
            .json(&serde_json::json!({"clientSecret": secret, "outcome": outcome}))
            .send()
    };
    let payment = |id: String| async move {
        let balance = stack.balance().await;
        let found = balance["payments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == id.as_str())
            .cloned();
        (balance["balances"][0]["balance"].clone(), found.unwrap())
    };
    // The portal shows this form because its configuration names the sandbox.
    let config = get_json(
        &client,
        &format!("{}{}", stack.base, practica_cli::portal::CONFIG_PATH),
    )
    .await;
    assert_eq!(config["payments"]["processor"], "sandbox");

    let (declined, secret) = intent("form-intent-1").await;
    assert_eq!(
        pay("pi_sbx_0_secret_guess", "success")
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(pay(&secret, "refund").await.unwrap().status(), 422);
    // A decline, then a new intent paid with a failed address check: each as the webhooks
    // recorded it, in the balance.
    let mut recorded = Vec::new();
    for (intent_key, outcome, owed, status) in [
        (None, "declined_insufficient_funds", 9000, "failed"),
        (Some("form-intent-2"), "address_check_fails", 0, "succeeded"),
    ] {
        let (id, secret) = match intent_key {
            Some(key) => intent(key).await,
            None => (declined.clone(), secret.clone()),
        };
        assert_eq!(pay(&secret, outcome).await.unwrap().status(), 202);
        let (balance, payment) = payment(id).await;
        assert_eq!(
            (balance, &payment["status"]),
            (serde_json::json!(owed), &serde_json::json!(status))
        );
        recorded.push((payment, secret));
    }
    let [(failed, _), (succeeded, secret)] = <[_; 2]>::try_from(recorded).unwrap();
    assert_eq!(failed["failure"]["declineCode"], "insufficient_funds");
    assert_eq!(succeeded["cardChecks"]["addressLine1"], "fail");
    // Paid once: the form cannot pay it again.
    let again = pay(&secret, "success").await.unwrap();
    assert_eq!(again.status(), 409);
    assert_eq!(
        again.json::<serde_json::Value>().await.unwrap()["code"],
        "payment_exists"
    );
}

// --- the portal's pages and the local demo sign-in ---

/// `practica serve` over a data dir seeded as the first README command seeds it.
async fn start_seeded() -> (tempfile::TempDir, String) {
    let data = tempfile::tempdir().unwrap();
    assert!(serve::seed(data.path()).await.unwrap().created);
    listen(data).await
}

/// A GET's JSON answer.
async fn get_json(client: &reqwest::Client, url: &str) -> serde_json::Value {
    get_json_as(client, url, None).await
}

/// A GET's JSON answer, with `token` as the bearer when given.
async fn get_json_as(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
) -> serde_json::Value {
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().json().await.unwrap()
}

async fn me(client: &reqwest::Client, base: &str, token: &str) -> serde_json::Value {
    get_json_as(client, &format!("{base}/v1/me"), Some(token)).await
}

#[tokio::test]
async fn pages_carry_the_security_headers_and_no_inline_code() {
    let (_data, base) = start_seeded().await;
    let client = reqwest::Client::new();
    for (path, _, kind) in practica_cli::portal::FILES {
        let page = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let kind = kind.split(';').next().unwrap();
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
        assert_eq!(
            header("strict-transport-security"),
            format!(
                "max-age={}; includeSubDomains",
                practica_cli::pages::HSTS_MAX_AGE_SECS
            )
        );
        assert_eq!(
            header("permissions-policy"),
            practica_cli::pages::PERMISSIONS_POLICY
        );
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
    let listed = get_json(&client, &url).await;
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

/// The local stand-in for the managed login: the authorization code flow with PKCE, as the
/// portal runs it against Cognito; codes good once, for their client, redirect URI and verifier;
/// no redirect anywhere but this server's own portal.
#[tokio::test]
async fn the_local_login_is_the_code_flow_with_pkce() {
    use base64::Engine as _;
    use practica_cli::login::{AUTHORIZE_PATH, PATIENT_CLIENT, STAFF_CLIENT, TOKEN_PATH};
    let (data, base) = start_seeded().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The portal's configuration: this stand-in for both pools, and the audit log's own key.
    let config = get_json(
        &client,
        &format!("{base}{}", practica_cli::portal::CONFIG_PATH),
    )
    .await;
    assert_eq!(config["signIn"]["patient"]["clientId"], PATIENT_CLIENT);
    assert_eq!(config["signIn"]["staff"]["token"], TOKEN_PATH);
    let pem = practica_cli::audit::public_key_pem(data.path()).unwrap();
    let spki = practica_cli::audit::spki_of_pem(&pem).unwrap();
    assert_eq!(
        config["auditLog"]["publicKey"],
        base64::engine::general_purpose::STANDARD.encode(spki)
    );
    assert_eq!(
        config["auditLog"]["keyName"],
        practica_cli::local::LOCAL_KEY_NAME
    );
    let redirect = format!("{base}/");
    let verifier = "a-verifier-of-forty-three-characters-or-more-0123";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(domain::hash::sha256(&[verifier.as_bytes()]));
    let request = |client_id: &str, redirect: &str, challenge: &str| {
        vec![
            ("response_type", "code".to_owned()),
            ("client_id", client_id.to_owned()),
            ("redirect_uri", redirect.to_owned()),
            ("code_challenge", challenge.to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("state", "st4te".to_owned()),
        ]
    };
    // The page lists the pool's own people only, and refuses what an authorization server must.
    let page = client
        .get(format!(
            "{base}{AUTHORIZE_PATH}?{}",
            serde_urlencoded::to_string(request(PATIENT_CLIENT, &redirect, &challenge)).unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"value="patient-jane""#) && !html.contains("staff-1"));
    for bad in [
        request("someone-elses-app", &redirect, &challenge),
        request(PATIENT_CLIENT, "https://elsewhere.example/", &challenge),
        request(PATIENT_CLIENT, &redirect, "too-short"),
    ] {
        let refused = client
            .get(format!(
                "{base}{AUTHORIZE_PATH}?{}",
                serde_urlencoded::to_string(&bad).unwrap()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400, "{bad:?}");
        assert!(refused.headers().get("location").is_none());
    }
    // A page whose DNS name was rebound to this machine gets no code sent to its name.
    let rebound = client
        .get(format!(
            "{base}{AUTHORIZE_PATH}?{}",
            serde_urlencoded::to_string(request(
                PATIENT_CLIENT,
                "http://rebound.example:8080/",
                &challenge
            ))
            .unwrap()
        ))
        .header("host", "rebound.example:8080")
        .send()
        .await
        .unwrap();
    // Refused by the guard of every /local route (local_routes_answer_only_this_machine).
    assert_eq!(rebound.status(), 403);
    let choose = |client_id: &'static str, user: &'static str| {
        let mut form = request(client_id, &redirect, &challenge);
        form.push(("user", user.to_owned()));
        client
            .post(format!("{base}{AUTHORIZE_PATH}"))
            .form(&form)
            .send()
    };
    // A staff member is not in the patients' pool.
    assert_eq!(
        choose(PATIENT_CLIENT, "staff-1").await.unwrap().status(),
        422
    );
    let code = || async {
        let answer = choose(STAFF_CLIENT, "staff-1").await.unwrap();
        assert_eq!(answer.status(), 303);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&format!("{redirect}?")), "{location}");
        let query: std::collections::HashMap<String, String> =
            serde_urlencoded::from_str(location.split_once('?').unwrap().1).unwrap();
        assert_eq!(query["state"], "st4te");
        query["code"].clone()
    };
    let exchange = |code: String, verifier: &'static str| {
        client
            .post(format!("{base}{TOKEN_PATH}"))
            .form(&[
                ("grant_type", "authorization_code"),
                ("client_id", STAFF_CLIENT),
                ("code", &code),
                ("redirect_uri", &redirect),
                ("code_verifier", verifier),
            ])
            .send()
    };
    let error = |answer: reqwest::Response| async move {
        assert_eq!(answer.status(), 400);
        answer.json::<serde_json::Value>().await.unwrap()["error"].clone()
    };
    // A wrong verifier spends the code: the right one cannot use it afterwards.
    let first = code().await;
    let wrong = "another-verifier-of-forty-three-characters-0000";
    assert_eq!(
        error(exchange(first.clone(), wrong).await.unwrap()).await,
        "invalid_grant"
    );
    assert_eq!(
        error(exchange(first, verifier).await.unwrap()).await,
        "invalid_grant"
    );
    // The right verifier: a token of the chosen person; the code is then spent.
    let second = code().await;
    let answer = exchange(second.clone(), verifier).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    let token: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(
        me(&client, &base, token["access_token"].as_str().unwrap()).await,
        serde_json::json!({"sub": "staff-1", "roles": ["staff"]})
    );
    assert_eq!(
        error(exchange(second, verifier).await.unwrap()).await,
        "invalid_grant"
    );
    // The refresh token renews it, once: each use returns a new one (rotation), the spent one and
    // another client's use are refused.
    let refresh = |client_id: &'static str, token: String| {
        client
            .post(format!("{base}{TOKEN_PATH}"))
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", client_id),
                ("refresh_token", &token),
            ])
            .send()
    };
    let first_refresh = token["refresh_token"].as_str().unwrap().to_owned();
    let renewed: serde_json::Value = refresh(STAFF_CLIENT, first_refresh.clone())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        me(&client, &base, renewed["access_token"].as_str().unwrap()).await["sub"],
        "staff-1"
    );
    assert_ne!(renewed["refresh_token"], token["refresh_token"]);
    assert_eq!(
        error(refresh(STAFF_CLIENT, first_refresh).await.unwrap()).await,
        "invalid_grant"
    );
    let next = renewed["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(
        error(refresh(PATIENT_CLIENT, next).await.unwrap()).await,
        "invalid_grant"
    );
}

/// Every `/local` route answers this server's own loopback names and pages only: a request under
/// another `Host` (a page that rebound its DNS name to 127.0.0.1) and a `POST` from another origin
/// are refused before the route runs; this machine's own scripts and pages pass.
#[tokio::test]
async fn local_routes_answer_only_this_machine() {
    let (_data, base) = start_seeded().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let authorize = "/local/oauth2/authorize?response_type=code&client_id=local-patients\
        &redirect_uri=http%3A%2F%2F127.0.0.1%2F&state=s&code_challenge_method=S256\
        &code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let routes: [(&str, &str, &str); 6] = [
        ("GET", "/local/demo-sign-in", ""),
        ("POST", "/local/demo-sign-in", r#"{"user":"admin-1"}"#),
        ("GET", authorize, ""),
        ("POST", "/local/oauth2/authorize", "user=patient-jane"),
        (
            "POST",
            "/local/oauth2/token",
            "grant_type=authorization_code&code=x",
        ),
        (
            "POST",
            "/local/sandbox-pay",
            r#"{"clientSecret":"x","outcome":"success"}"#,
        ),
    ];
    let send = |method: &str, path: &str, body: &str, headers: &[(&str, String)]| {
        let mut request = client
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send()
    };
    for (method, path, body) in routes {
        let content_type = if body.starts_with('{') {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let ct = ("content-type", content_type.to_owned());
        for host in [
            format!("evil.example:{port}"),
            format!("127.0.0.1.nip.io:{port}"),
            "127.0.0.1".to_owned(),
        ] {
            let answer = send(method, path, body, &[ct.clone(), ("host", host.clone())])
                .await
                .unwrap();
            assert_eq!(answer.status(), 403, "{method} {path} under Host {host}");
            let problem: serde_json::Value = answer.json().await.unwrap();
            assert_eq!(problem["code"], "forbidden");
        }
        if method == "POST" {
            for origin in ["http://evil.example", "null", "http://localhost:1"] {
                let answer = send(method, path, body, &[ct.clone(), ("origin", origin.into())])
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 403, "{method} {path} from {origin}");
            }
        }
        // This machine's own page (same origin) and scripts (no Origin) reach the route.
        let own = send(method, path, body, &[ct.clone(), ("origin", base.clone())])
            .await
            .unwrap();
        assert_ne!(
            own.status(),
            403,
            "{method} {path} from this server's own page"
        );
        let script = send(method, path, body, &[ct]).await.unwrap();
        assert_ne!(script.status(), 403, "{method} {path} from a local script");
    }
    // The API itself is not a /local route: any Host reaches it (the edge decides in production).
    let answer = send(
        "GET",
        "/v1/providers",
        "",
        &[("host", format!("evil.example:{port}"))],
    )
    .await
    .unwrap();
    assert_ne!(answer.status(), 403);
}
