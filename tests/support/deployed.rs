//! A deployed practice on this machine: every function's release binary, configured as the
//! template configures it, against DynamoDB Local, moto and local stand-ins for the token issuers
//! and the processor (used by `tests/lambda_binaries.rs` and the cold-start benchmark).

use std::sync::Arc;

use crate::runtime_api::{Outcome, RuntimeApi, bootstrap, lambda_environment, spawn};
use crate::{Emulator, sdk_config};
use serde_json::{Value, json};
use shared::auth::Role;

pub const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_E2Estaff";
const CLIENT_ID: &str = "practica-e2e-staff";
const PATIENT_ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_E2Epatients";
const PATIENT_CLIENT_ID: &str = "practica-e2e-patients";

/// Everything the functions reach, created fresh for one test.
pub struct World {
    pub vars: Vec<(String, String)>,
    pub issuer: shared::adapters::local_issuer::LocalIssuer,
    pub patient_issuer: shared::adapters::local_issuer::LocalIssuer,
    pub state: shared::state::AppState,
    _servers: Vec<Box<dyn std::any::Any + Send>>,
}

pub async fn secret(sm: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    sm.create_secret()
        .name(format!("practica/e2e/{}", ulid::Ulid::new()))
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_owned()
}

/// A symmetric KMS key on moto: its ARN.
async fn symmetric_key(kms: &aws_sdk_kms::Client) -> String {
    let key = kms.create_key().send().await.unwrap();
    key.key_metadata().unwrap().arn().unwrap().to_owned()
}

pub async fn world() -> Option<World> {
    let ddb_endpoint = Emulator::DynamoDbLocal.endpoint()?;
    let moto = Emulator::Moto.endpoint()?;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk_config(&ddb_endpoint));
    let aws = sdk_config(&moto);
    let table = crate::unique_table_name();
    crate::create_table(&ddb, &table).await;
    let kms = aws_sdk_kms::Client::new(&aws);
    let (data_key, reports_key) = (symmetric_key(&kms).await, symmetric_key(&kms).await);
    let signing_key = crate::create_signing_key(&kms).await;
    let s3 = aws_sdk_s3::Client::new(&aws);
    let audit_bucket = crate::locked_bucket(&s3).await;
    let reports_bucket = format!("practica-reports-{}", ulid::Ulid::new()).to_lowercase();
    s3.create_bucket()
        .bucket(&reports_bucket)
        .send()
        .await
        .unwrap();
    let sm = aws_sdk_secretsmanager::Client::new(&aws);
    let stripe_key = secret(&sm, "sk_test_e2eKeyForPractica").await;
    let stripe_hooks = secret(&sm, crate::TEST_STRIPE_SECRETS).await;
    let standard_hooks = secret(&sm, crate::TEST_STANDARD_SECRETS).await;
    let origin = secret(&sm, crate::TEST_ORIGIN_SECRETS).await;
    let ses = aws_sdk_sesv2::Client::new(&aws);
    let from = format!("appointments-{}@practice.example", ulid::Ulid::new()).to_lowercase();
    ses.create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();

    // The staff pool whose logins administrators manage, with its role groups (moto's Cognito).
    let staff_pool = crate::staff_pool(&aws_sdk_cognitoidentityprovider::Client::new(&aws)).await;

    // The two user pools' keys, served as Cognito serves them.
    use shared::adapters::local_issuer::LocalIssuer;
    let issuer = LocalIssuer::generate(ISSUER, CLIENT_ID).unwrap();
    let patient_issuer = LocalIssuer::generate(PATIENT_ISSUER, PATIENT_CLIENT_ID).unwrap();
    let mut app = axum::Router::new();
    for (pool, jwks) in [
        ("staff", issuer.jwks().clone()),
        ("patients", patient_issuer.jwks().clone()),
    ] {
        app = app.route(
            &format!("/{pool}/.well-known/jwks.json"),
            axum::routing::get(move || {
                let jwks = jwks.clone();
                async move { axum::Json(jwks) }
            }),
        );
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let jwks_at = |pool: &str| {
        format!(
            "http://{}/{pool}/.well-known/jwks.json",
            listener.local_addr().unwrap()
        )
    };
    let (jwks_url, patient_jwks_url) = (jwks_at("staff"), jwks_at("patients"));
    let jwks_server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    struct Abort(tokio::task::JoinHandle<()>);
    impl Drop for Abort {
        fn drop(&mut self) {
            self.0.abort();
        }
    }

    // The processor: every intent is `pi_fixture_1`, the id the signed webhook fixtures name.
    let stripe = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/payment_intents"))
        .and(wiremock::matchers::header(
            "authorization",
            "Bearer sk_test_e2eKeyForPractica",
        ))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "id": "pi_fixture_1",
            "object": "payment_intent",
            "client_secret": "pi_fixture_1_secret_x",
            "status": "requires_payment_method"
        })))
        .mount(&stripe)
        .await;

    let vars: Vec<(String, String)> = [
        // The template's variables.
        ("PRACTICA_TABLE", table.clone()),
        ("PRACTICA_KMS_KEY_ID", data_key.clone()),
        ("PRACTICA_AUTH_ISSUER", ISSUER.into()),
        ("PRACTICA_AUTH_CLIENT_ID", CLIENT_ID.into()),
        ("PRACTICA_PATIENT_AUTH_ISSUER", PATIENT_ISSUER.into()),
        ("PRACTICA_PATIENT_AUTH_CLIENT_ID", PATIENT_CLIENT_ID.into()),
        ("STRIPE_SECRET_KEY", stripe_key),
        ("STRIPE_WEBHOOK_SECRETS", stripe_hooks),
        ("STANDARD_WEBHOOK_SECRETS", standard_hooks),
        ("PRACTICA_ORIGIN_SECRET", origin),
        ("PRACTICA_AUDIT_SIGNING_KEY_ID", signing_key),
        ("PRACTICA_AUDIT_BUCKET", audit_bucket),
        ("PRACTICA_REPORTS_BUCKET", reports_bucket),
        ("PRACTICA_REPORTS_KMS_KEY", reports_key),
        ("PRACTICA_SES_FROM", from),
        ("PRACTICA_SMS_ORIGINATION", String::new()),
        ("PRACTICA_STAFF_POOL_ID", staff_pool),
        // Where this machine's stand-ins are.
        ("PRACTICA_AUTH_JWKS_URL", jwks_url),
        ("PRACTICA_PATIENT_AUTH_JWKS_URL", patient_jwks_url),
        ("STRIPE_API_BASE", stripe.uri()),
        ("AWS_ENDPOINT_URL_DYNAMODB", ddb_endpoint),
        ("AWS_ENDPOINT_URL_KMS", moto.clone()),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", moto.clone()),
        ("AWS_ENDPOINT_URL_S3", moto.clone()),
        ("AWS_ENDPOINT_URL_SESV2", moto.clone()),
        ("AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER", moto),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();

    // The practice, set up through the same table and key (the demo practice of `practica seed`).
    let state = shared::state::AppState::assemble(shared::app::Parts {
        table: Arc::new(shared::adapters::dynamodb::DynamoTable::new(
            ddb,
            table.clone(),
        )),
        table_name: table,
        keys: Arc::new(shared::adapters::kms::KmsKeys::new(kms, data_key)),
        jwks: Arc::new(shared::auth::StaticJwks(issuer.jwks().clone())),
        auth: shared::auth::AuthConfig::new(ISSUER, CLIENT_ID),
        cache: shared::crypto::CachePolicy::default(),
        clock: Arc::new(domain::clock::SystemClock),
    });
    practica_cli::demo::seed(&state).await.unwrap();
    Some(World {
        vars,
        issuer,
        patient_issuer,
        state,
        _servers: vec![Box::new(Abort(jwks_server)), Box::new(stripe)],
    })
}

impl World {
    /// A staff-pool token with `role`.
    pub fn token(&self, sub: &str, role: Role) -> String {
        let subject = shared::auth::Subject::parse(sub).unwrap();
        self.issuer
            .mint(
                &subject,
                &[role],
                system_now(),
                std::time::Duration::from_secs(900),
            )
            .unwrap()
    }

    /// A patient-pool token (self sign-up: no group) or one naming `groups`.
    pub fn patient_token(&self, sub: &str, groups: &[Role]) -> String {
        let subject = shared::auth::Subject::parse(sub).unwrap();
        self.patient_issuer
            .mint(
                &subject,
                groups,
                system_now(),
                std::time::Duration::from_secs(900),
            )
            .unwrap()
    }

    /// An ID token of the patient pool for `sub`, vouching for `email` (as Cognito issues one
    /// once the patient confirmed the address).
    pub fn patient_id_token(&self, sub: &str, email: &str) -> String {
        let subject = shared::auth::Subject::parse(sub).unwrap();
        let now = system_now().as_second().max(0) as u64;
        self.patient_issuer
            .mint_id_token(&subject, email, true, now, now + 900)
            .unwrap()
    }

    /// Starts `function`'s binary under its own Runtime API.
    pub fn start(&self, function: &str, api: &RuntimeApi) -> crate::runtime_api::Process {
        self.start_with(function, api, &[])
    }

    /// Starts `function` with `extra` variables besides the template's.
    pub fn start_with(
        &self,
        function: &str,
        api: &RuntimeApi,
        extra: &[(String, String)],
    ) -> crate::runtime_api::Process {
        let mut env = lambda_environment(api, function);
        env.extend(self.vars.iter().cloned());
        env.extend(extra.iter().cloned());
        spawn(&bootstrap(function), &env)
    }
}

/// The fixture's text with its placeholders filled, also inside a base64 body, and its dates moved
/// from the fixtures' week (Tuesday 2026-11-24, Wednesday 2026-11-25) to the first Tuesday at least
/// three days from now, so the same fixtures book in the future whenever the test runs.
pub fn fixture(name: &str, values: &[(&str, &str)]) -> Value {
    let today = jiff::Zoned::now().date();
    let mut tuesday = today.checked_add(jiff::Span::new().days(3)).unwrap();
    while tuesday.weekday() != jiff::civil::Weekday::Tuesday {
        tuesday = tuesday.tomorrow().unwrap();
    }
    let wednesday = tuesday.tomorrow().unwrap();
    let (tue, wed) = (tuesday.to_string(), wednesday.to_string());
    let mut values = values.to_vec();
    values.extend([("2026-11-24", tue.as_str()), ("2026-11-25", wed.as_str())]);
    crate::event_with(name, &values)
}

/// The webhook fixture's body, signed now by the same secrets that signed it (the Stripe fixtures
/// carry one signature per secret being rotated).
pub fn resign(mut event: Value) -> Value {
    use base64::Engine as _;
    use shared::web::webhooks::signature::WebhookSecrets;
    let b64 = base64::engine::general_purpose::STANDARD;
    let body = match event["isBase64Encoded"].as_bool() {
        Some(true) => b64.decode(event["body"].as_str().unwrap()).unwrap(),
        _ => event["body"].as_str().unwrap().as_bytes().to_vec(),
    };
    let now = jiff::Timestamp::now().as_second();
    let headers = event["headers"].as_object_mut().unwrap();
    if let Some(old) = headers.get("stripe-signature").and_then(Value::as_str) {
        let t: i64 = old
            .strip_prefix("t=")
            .and_then(|r| r.split(',').next())
            .and_then(|t| t.parse().ok())
            .unwrap();
        let mut fresh = format!("t={now}");
        for one in crate::TEST_STRIPE_SECRETS.split(',') {
            let secret = WebhookSecrets::stripe(one).unwrap();
            let v1 = |t| {
                secret
                    .sign_stripe(t, &body)
                    .split_once(",v1=")
                    .unwrap()
                    .1
                    .to_owned()
            };
            if old.contains(&v1(t)) {
                fresh.push_str(&format!(",v1={}", v1(now)));
            }
        }
        assert!(fresh.contains("v1="), "no test secret signed {old}");
        headers.insert("stripe-signature".into(), fresh.into());
    } else {
        let secret = WebhookSecrets::standard(crate::TEST_STANDARD_SECRETS).unwrap();
        let id = headers["webhook-id"].as_str().unwrap().to_owned();
        headers.insert("webhook-timestamp".into(), now.to_string().into());
        headers.insert(
            "webhook-signature".into(),
            secret.sign_standard(&id, now, &body).into(),
        );
    }
    event
}

/// An API Gateway answer: its status and its body as JSON.
pub fn http_answer(outcome: Outcome) -> (u64, Value) {
    let answer = outcome.response();
    let status = answer["statusCode"].as_u64().unwrap();
    let body = answer["body"].as_str().unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

pub fn owner(route_key: &str) -> String {
    crate::route_owners()
        .into_iter()
        .find(|(route, _)| route == route_key)
        .unwrap_or_else(|| panic!("no function in the template serves {route_key}"))
        .1
}

/// The functions' binaries run on the system clock, so tokens for them are dated by it.
fn system_now() -> jiff::Timestamp {
    use domain::clock::Clock as _;
    domain::clock::SystemClock.now()
}
