//! Test support: emulator endpoints, SDK clients with static test credentials, tables built from the
//! one table definition in `infra/data.template.json`, and fresh table fixtures for every adapter.

use std::sync::{Arc, Mutex};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};
use serde_json::Value;
use shared::adapters::dynamodb::DynamoTable;
use shared::adapters::embedded::EmbeddedTable;
use shared::store::codec::notify::MessageCodec;
use shared::store::contract::Fixture;

/// The emulators the harness (`scripts/test`) starts.
#[derive(Clone, Copy, Debug)]
pub enum Emulator {
    Moto,
    DynamoDbLocal,
}

impl Emulator {
    fn variable(self) -> &'static str {
        match self {
            Emulator::Moto => "PRACTICA_MOTO_ENDPOINT",
            Emulator::DynamoDbLocal => "PRACTICA_DDB_LOCAL_ENDPOINT",
        }
    }

    /// The endpoint, or None when the emulator is not running. Under `CI=true` a missing emulator
    /// fails the test instead: CI must never pass by skipping.
    pub fn endpoint(self) -> Option<String> {
        match std::env::var(self.variable()) {
            Ok(v) if !v.is_empty() => Some(v),
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!(
                    "{} is not set under CI=true: run the tests with scripts/test",
                    self.variable()
                )
            }
            _ => {
                eprintln!(
                    "SKIPPED: {} is not set; run scripts/test to start the emulators",
                    self.variable()
                );
                None
            }
        }
    }
}

/// SDK configuration for an emulator: static test credentials, a fixed region, no metadata probing.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                "test", "test", None, None, "tests",
            )),
        )
        .endpoint_url(endpoint)
        .build()
}

/// The table resource of the data template.
pub fn table_definition() -> Value {
    let text = include_str!("../../infra/data.template.json");
    let template: Value = serde_json::from_str(text).expect("data template is JSON");
    template["Resources"]["Table"]["Properties"].clone()
}

fn key_schema(v: &Value) -> Vec<KeySchemaElement> {
    v.as_array()
        .expect("KeySchema")
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(k["AttributeName"].as_str().expect("name"))
                .key_type(KeyType::from(k["KeyType"].as_str().expect("type")))
                .build()
                .expect("key schema")
        })
        .collect()
}

/// Creates a table named `name` exactly as the data template declares it.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    let def = table_definition();
    let attributes = def["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            AttributeDefinition::builder()
                .attribute_name(a["AttributeName"].as_str().expect("name"))
                .attribute_type(ScalarAttributeType::from(
                    a["AttributeType"].as_str().expect("type"),
                ))
                .build()
                .expect("attribute")
        })
        .collect();
    let indexes = def["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|g| {
            GlobalSecondaryIndex::builder()
                .index_name(g["IndexName"].as_str().expect("index name"))
                .set_key_schema(Some(key_schema(&g["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(
                            g["Projection"]["ProjectionType"]
                                .as_str()
                                .expect("projection"),
                        ))
                        .build(),
                )
                .build()
                .expect("gsi")
        })
        .collect();
    assert_eq!(def["BillingMode"], "PAY_PER_REQUEST");
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(attributes))
        .set_key_schema(Some(key_schema(&def["KeySchema"])))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .expect("create table");
    let ttl = &def["TimeToLiveSpecification"];
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(ttl["AttributeName"].as_str().expect("ttl attribute"))
                .enabled(ttl["Enabled"].as_bool().expect("ttl enabled"))
                .build()
                .expect("ttl"),
        )
        .send()
        .await
        .expect("enable TTL");
}

/// A unique table name for one test.
pub fn unique_table_name() -> String {
    format!(
        "practica-test-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    )
}

/// A fresh embedded table in its own temp dir.
pub async fn embedded_fixture() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = EmbeddedTable::open(&dir.path().join("table.redb")).expect("open embedded table");
    Some(Fixture {
        table: Arc::new(table),
        guard: Box::new(dir),
    })
}

/// A fresh table on moto.
pub async fn moto_fixture() -> Option<Fixture> {
    let table = dynamo_table(Emulator::Moto).await?;
    Some(Fixture {
        table: Arc::new(table),
        guard: Box::new(()),
    })
}

/// A fresh table on DynamoDB Local.
pub async fn dynamodb_local_fixture() -> Option<Fixture> {
    let table = dynamo_table(Emulator::DynamoDbLocal).await?;
    Some(Fixture {
        table: Arc::new(table),
        guard: Box::new(()),
    })
}

/// A fresh DynamoDB table on an emulator, or None when it is not running (outside CI).
pub async fn dynamo_table(emulator: Emulator) -> Option<DynamoTable> {
    let endpoint = emulator.endpoint()?;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config(&endpoint));
    let name = unique_table_name();
    create_table(&client, &name).await;
    Some(DynamoTable::new(client, name))
}

/// A KMS `ECC_NIST_P256` signing key (the audit log's kind) on an emulator: its key id.
pub async fn create_signing_key(kms: &aws_sdk_kms::Client) -> String {
    let key = kms
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistP256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
        .expect("create a signing key");
    key.key_metadata()
        .expect("key metadata")
        .key_id()
        .to_owned()
}

/// An admin acting from this machine (benchmarks set the practice up through the use cases).
pub fn local_admin(sub: &str) -> shared::web::Caller {
    shared::web::Caller {
        principal: shared::auth::Principal {
            subject: shared::auth::Subject::parse(sub).expect("subject"),
            roles: [shared::auth::Role::Admin].into(),
            verified_email: None,
            display_name: None,
        },
        request_id: sub.into(),
        source: domain::access::Source::local("bench"),
    }
}

/// Writes `n` audit entries now, as the request path does (for tests of the log alone).
pub async fn write_audit_entries(table: &dyn shared::store::Table, n: i128) {
    use shared::store::keys::{audit_partition, audit_sort};
    use shared::store::{Condition, Item, Key};
    let now = jiff::Timestamp::now();
    for i in 0..n {
        let key = Key::new(
            audit_partition(domain::clock::utc_day(now)),
            audit_sort(now.as_nanosecond() + i, &ulid::Ulid::new()),
        );
        let item = Item::new(key).with("action", "appointment.read");
        table
            .put(item, Some(Condition::ItemAbsent))
            .await
            .expect("write an audit entry");
    }
}

/// An application state over a fresh embedded store and local keys, whose verifier trusts `issuer`.
pub struct LocalStack {
    pub state: shared::state::AppState,
    pub issuer: shared::adapters::local_issuer::LocalIssuer,
    _dir: tempfile::TempDir,
}

impl LocalStack {
    pub fn new() -> Self {
        use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
        let dir = tempfile::tempdir().expect("tempdir");
        let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).expect("issuer");
        let jwks = Arc::new(shared::auth::StaticJwks(issuer.jwks().clone()));
        let auth = shared::auth::AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE);
        let state = shared::state::AppState::local(dir.path(), jwks, auth).expect("local state");
        LocalStack {
            state,
            issuer,
            _dir: dir,
        }
    }

    /// A bearer token for `sub` with `roles`, valid for ten minutes.
    pub fn token(&self, sub: &str, roles: &[shared::auth::Role]) -> String {
        let subject = shared::auth::Subject::parse(sub).expect("subject");
        self.issuer
            .mint(
                &subject,
                roles,
                self.state.clock.now(),
                std::time::Duration::from_secs(600),
            )
            .expect("mint")
    }
}

impl Default for LocalStack {
    fn default() -> Self {
        Self::new()
    }
}

/// Sends one request through a router; returns status, headers and the body parsed as JSON
/// (`Value::Null` when it is not JSON).
pub async fn call(
    router: axum::Router,
    request: http::Request<axum::body::Body>,
) -> (http::StatusCode, http::HeaderMap, Value) {
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;
    let response = router.oneshot(request).await.expect("router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Monday 2026-11-23 08:00 in New York: the demo practice's "now" in booking tests.
pub const TEST_NOW: i64 = 1_795_438_800;

/// Stripe webhook secrets of test stacks, newest first (the second is being rotated out).
pub const TEST_STRIPE_SECRETS: &str =
    "whsec_testNewSecretForPractica01,whsec_testOldSecretForPractica00";
/// Standard Webhooks secret of test stacks (base64 of 32 bytes).
pub const TEST_STANDARD_SECRETS: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8KzWhSZmT4I=";

/// The edge's origin secret in the deployed-shape tests (`{{ORIGIN_SECRET}}` in the API fixtures is
/// its current value), as the template's secret holds it during a rotation.
pub const TEST_ORIGIN_SECRETS: &str = r#"{"current":"edgeCurrent0123456789abcdefghijklmnopqrstuv","previous":"edgePrevious0123456789abcdefghijklmnopqrst"}"#;
pub const TEST_ORIGIN_SECRET: &str = "edgeCurrent0123456789abcdefghijklmnopqrstuv";
pub const TEST_PREVIOUS_ORIGIN_SECRET: &str = "edgePrevious0123456789abcdefghijklmnopqrst";

/// The webhook configuration of test stacks.
pub fn test_webhook_config() -> shared::config::payments::WebhookConfig {
    shared::config::payments::WebhookConfig {
        stripe: shared::web::webhooks::signature::WebhookSecrets::stripe(TEST_STRIPE_SECRETS)
            .expect("stripe secrets"),
        standard: shared::web::webhooks::signature::WebhookSecrets::standard(TEST_STANDARD_SECRETS)
            .expect("standard secrets"),
        tolerance_secs: shared::web::webhooks::signature::DEFAULT_TOLERANCE_SECS,
    }
}

/// The application state of test stacks: `table`, a local key service over `key`, `issuer`'s
/// tokens and `clock` (several states over one table and one key act as several functions).
pub fn test_state(
    table: Arc<dyn shared::store::Table>,
    key: &[u8; 32],
    issuer: &shared::adapters::local_issuer::LocalIssuer,
    clock: Arc<domain::clock::ManualClock>,
) -> shared::state::AppState {
    use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER};
    shared::state::AppState::assemble(shared::app::Parts {
        table,
        table_name: "practica-test".into(),
        keys: Arc::new(shared::adapters::local_keys::LocalKeys::from_key(key)),
        jwks: Arc::new(shared::auth::StaticJwks(issuer.jwks().clone())),
        auth: shared::auth::AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        cache: shared::crypto::CachePolicy::default(),
        clock,
    })
}

/// A stack over one table (embedded, moto or DynamoDB Local) with a manual clock, every function's
/// routes (booking, payments over the sandbox processor, webhooks with the test secrets) and a
/// token issuer; requests go through the routers exactly as on Lambda.
pub struct Stack {
    pub state: shared::state::AppState,
    pub issuer: Arc<shared::adapters::local_issuer::LocalIssuer>,
    pub clock: Arc<domain::clock::ManualClock>,
    pub router: axum::Router,
    /// The sandbox processor's file (the default processor).
    pub sandbox_file: std::path::PathBuf,
    /// The default processor: the sandbox, its events dated by the stack's clock (so they verify
    /// at the stack's instant, whatever the date).
    pub sandbox: Arc<practica_cli::sandbox::SandboxProcessor>,
    /// Where the reports routes find published reports.
    pub reports: Arc<dyn shared::reports::ReportStore>,
    embedded: Option<EmbeddedTable>,
    _guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
}

impl Stack {
    /// Over a fresh embedded store (which tests can scan raw).
    pub fn embedded() -> Stack {
        let dir = tempfile::tempdir().expect("tempdir");
        let table = EmbeddedTable::open(&dir.path().join("table.redb")).expect("embedded table");
        Stack::build(Arc::new(table.clone()), Some(table), vec![Box::new(dir)])
    }

    /// Over any table (e.g. one that injects faults).
    pub fn over(table: Arc<dyn shared::store::Table>) -> Stack {
        Stack::build(table, None, Vec::new())
    }

    /// Over a fixture from `shared::store::contract` factories; None when its backend is not running.
    pub async fn on(fixture: Option<Fixture>) -> Option<Stack> {
        let fixture = fixture?;
        Some(Stack::build(fixture.table, None, vec![fixture.guard]))
    }

    fn build(
        table: Arc<dyn shared::store::Table>,
        embedded: Option<EmbeddedTable>,
        guards: Vec<Box<dyn std::any::Any + Send + Sync>>,
    ) -> Stack {
        use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
        let issuer = Arc::new(LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).expect("issuer"));
        let clock = Arc::new(domain::clock::ManualClock::new(
            jiff::Timestamp::from_second(TEST_NOW).expect("time"),
        ));
        let key: [u8; 32] = rand::random();
        // Online visits signal through a local relay's addresses, as under `practica serve`.
        let state = test_state(table, &key, &issuer, clock.clone()).with_signaling(Arc::new(
            shared::adapters::local_signaling::LocalSignaling::generate(),
        ));
        let dir = tempfile::tempdir().expect("sandbox dir");
        // The workforce's logins, as the demo pool of `practica serve` holds them.
        let directory = shared::adapters::local_directory::LocalDirectory::open_or_create(
            dir.path(),
            &practica_cli::login::demo_workforce(),
            clock.clone(),
        )
        .expect("staff directory");
        let state = state.with_directory(Arc::new(directory));
        let sandbox_file = dir.path().join("sandbox-intents.json");
        let reports = Arc::new(shared::adapters::dir_reports::DirReports::new(
            dir.path().join("reports"),
        ));
        let mut guards = guards;
        guards.push(Box::new(dir));
        let sandbox = Arc::new(practica_cli::sandbox::SandboxProcessor::on_clock(
            sandbox_file.clone(),
            clock.clone(),
        ));
        let mut stack = Stack {
            router: axum::Router::new(),
            state,
            issuer,
            clock,
            sandbox_file,
            sandbox: sandbox.clone(),
            reports,
            embedded,
            _guards: guards,
        };
        stack.use_processor(sandbox);
        stack
    }

    /// Routes payment intents to `processor` from now on.
    pub fn use_processor(
        &mut self,
        processor: Arc<dyn shared::payments::processor::PaymentProcessor>,
    ) {
        self.router = shared::web::finish(
            axum::Router::new()
                .merge(booking::routes(self.state.clone()))
                .merge(payments::routes(self.state.clone(), processor))
                .merge(webhooks::routes(self.state.clone(), test_webhook_config()))
                .merge(reports::routes(self.state.clone(), self.reports.clone())),
        );
    }

    /// Posts one Stripe event, signed as `signature`, to the webhook route (the sandbox's
    /// deliveries in tests): the answer's status and body.
    pub async fn post_stripe_event(
        &self,
        body: Vec<u8>,
        signature: String,
    ) -> anyhow::Result<(u16, String)> {
        let headers = [
            ("stripe-signature", signature.as_str()),
            ("content-type", "application/json"),
        ];
        let (status, _, reply) = self.post_raw("/v1/webhooks/stripe", &headers, body).await;
        Ok((status.as_u16(), reply.to_string()))
    }

    /// Moves the clock forward to `rfc3339`.
    pub fn advance_to(&self, rfc3339: &str) {
        use domain::clock::Clock as _;
        let to: jiff::Timestamp = rfc3339.parse().expect("an RFC 3339 instant");
        let by = to.as_second() - self.clock.now().as_second();
        self.clock.advance(jiff::SignedDuration::from_secs(by));
    }

    /// Posts raw bytes with the given headers (webhooks).
    pub async fn post_raw(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (http::StatusCode, http::HeaderMap, Value) {
        let mut request = http::Request::builder().method("POST").uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(axum::body::Body::from(body)).expect("request");
        call(self.router.clone(), request).await
    }

    /// A token for `sub` with `roles`, issued at the stack's clock's instant and valid for 60 days of
    /// it (the verifier reads the same clock).
    pub fn token(&self, sub: &str, roles: &[shared::auth::Role]) -> String {
        use domain::clock::Clock as _;
        let subject = shared::auth::Subject::parse(sub).expect("subject");
        let now = self.clock.now().as_second().max(0) as u64;
        self.issuer
            .mint_at(&subject, roles, now, now + 60 * 86_400)
            .expect("mint")
    }

    /// Loads the demo practice.
    pub async fn seed(&self) -> practica_cli::demo::Demo {
        practica_cli::demo::seed(&self.state)
            .await
            .expect("seed the demo practice")
    }

    /// Sends one JSON request through the booking router.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> (http::StatusCode, http::HeaderMap, Value) {
        self.send_with(method, path, token, idempotency_key, body, &[])
            .await
    }

    /// A POST with an Idempotency-Key: its status and body.
    pub async fn post(
        &self,
        token: &str,
        key: &str,
        path: &str,
        body: Value,
    ) -> (http::StatusCode, Value) {
        let (status, _, body) = self
            .send("POST", path, Some(token), Some(key), Some(body))
            .await;
        (status, body)
    }

    /// A GET: its status and body.
    pub async fn get(&self, token: &str, path: &str) -> (http::StatusCode, Value) {
        let (status, _, body) = self.send("GET", path, Some(token), None, None).await;
        (status, body)
    }

    /// As [`Stack::send`], with more request headers.
    pub async fn send_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (http::StatusCode, http::HeaderMap, Value) {
        let mut request = http::Request::builder().method(method).uri(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(t) = token {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = idempotency_key {
            request = request.header("idempotency-key", k);
        }
        let request = match body {
            Some(b) => request
                .header("content-type", "application/json")
                .body(axum::body::Body::from(b.to_string())),
            None => request.body(axum::body::Body::empty()),
        }
        .expect("request");
        call(self.router.clone(), request).await
    }

    /// The caller's notification preferences (`GET /v1/patients/me/notifications`).
    pub async fn preferences(&self, token: &str) -> Value {
        let path = "/v1/patients/me/notifications";
        let (status, _, body) = self.send("GET", path, Some(token), None, None).await;
        assert_eq!(status, http::StatusCode::OK, "{body}");
        body
    }

    /// Every stored item on an embedded stack; None on the emulators (which tests cannot scan raw).
    pub async fn scan_if_embedded(&self) -> Option<Vec<shared::store::Item>> {
        match &self.embedded {
            Some(_) => Some(self.scan().await),
            None => None,
        }
    }

    /// Every stored item (embedded stacks only).
    pub async fn scan(&self) -> Vec<shared::store::Item> {
        self.embedded
            .as_ref()
            .expect("scan needs the embedded stack")
            .scan()
            .await
            .expect("scan")
    }
}

/// Stored items without the audit records of refused requests (`outcome: denied`): what a refusal
/// may add to the table, and all it may add.
/// (and the counters of refusals not stored one by one: see [`without_counters`]).
pub fn without_denials(items: Vec<shared::store::Item>) -> Vec<shared::store::Item> {
    without_counters(items.into_iter().filter(|i| !is_denial(i)).collect())
}

/// Stored items without the refusal counters (`COUNTER#...`, see `shared::counters`): all a
/// webhook delivery with a bad signature may add.
pub fn without_counters(items: Vec<shared::store::Item>) -> Vec<shared::store::Item> {
    items
        .into_iter()
        .filter(|i| !i.key.pk.starts_with("COUNTER#"))
        .collect()
}

/// The count of `name` the refusal counters hold, over every hour.
pub fn counted(items: &[shared::store::Item], name: &str) -> i64 {
    items
        .iter()
        .filter(|i| i.key.pk.starts_with("COUNTER#") && i.key.sk.starts_with(&format!("{name}#")))
        .filter_map(|i| i.get("count").and_then(shared::store::AttrValue::as_n))
        .sum()
}

/// An audit record of a refused request.
/// The audit entries among `items` with this action.
pub fn audits<'a>(items: &'a [shared::store::Item], action: &str) -> Vec<&'a shared::store::Item> {
    items
        .iter()
        .filter(|i| {
            i.key.pk.starts_with("AUDIT#")
                && i.get(shared::store::attr::ACTION)
                    .and_then(shared::store::AttrValue::as_s)
                    == Some(action)
        })
        .collect()
}

pub fn is_denial(item: &shared::store::Item) -> bool {
    item.key.pk.starts_with("AUDIT#")
        && item.get("outcome").and_then(shared::store::AttrValue::as_s) == Some("denied")
}

/// The `p` quantile (0.0 to 1.0) of sorted durations, for the benchmarks.
pub fn percentile(sorted: &[std::time::Duration], p: f64) -> std::time::Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The outbox messages waiting to be sent (pending or claimed), by due time: read through the
/// due index, so it works on every table.
pub async fn waiting_messages(state: &shared::state::AppState) -> Vec<domain::notify::Message> {
    let query = shared::store::Query::gsi1(shared::store::keys::OUTBOX_DUE_INDEX);
    shared::store::query_all(&*state.table, &query)
        .await
        .expect("the due index")
        .iter()
        .map(|item| domain::notify::Message::from_item(item).expect("a message"))
        .collect()
}

/// What the test provider does with a message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mode {
    Accept,
    Unavailable,
    Bounce,
    OptOut,
}

/// A provider that records what it accepted, or fails as told.
pub struct Recorder {
    sent: Mutex<Vec<shared::notify::Envelope>>,
    mode: Mutex<Mode>,
    /// Milliseconds each send takes (to widen races).
    delay_ms: u64,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            sent: Mutex::new(Vec::new()),
            mode: Mutex::new(Mode::Accept),
            delay_ms: 0,
        })
    }
    /// A recorder whose every send takes `delay_ms` (to widen races).
    pub fn slow(delay_ms: u64) -> Arc<Recorder> {
        Arc::new(Recorder {
            sent: Mutex::new(Vec::new()),
            mode: Mutex::new(Mode::Accept),
            delay_ms,
        })
    }
    pub fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }
    pub fn sent(&self) -> Vec<shared::notify::Envelope> {
        self.sent.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl shared::notify::Notifier for Recorder {
    async fn send(
        &self,
        envelope: &shared::notify::Envelope,
    ) -> Result<shared::notify::Sent, shared::notify::NotifyError> {
        if self.delay_ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        }
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Accept => {
                self.sent.lock().unwrap().push(envelope.clone());
                Ok(shared::notify::Sent {
                    provider_id: envelope.dedupe_key.clone(),
                })
            }
            Mode::Unavailable => Err(shared::notify::NotifyError::Unavailable(anyhow::anyhow!(
                "down"
            ))),
            Mode::Bounce => Err(shared::notify::NotifyError::Bounced),
            Mode::OptOut => Err(shared::notify::NotifyError::OptedOut),
        }
    }
}

/// Delivery through `recorder`, with the shipped templates.
pub fn delivery(recorder: &Arc<Recorder>) -> shared::notify::Delivery {
    shared::notify::Delivery {
        notifier: recorder.clone(),
        templates: Arc::new(domain::notify::Templates::builtin()),
    }
}

/// moto's S3 bucket with Object Lock (compliance mode by default), created as the template does.
pub async fn locked_bucket(s3: &aws_sdk_s3::Client) -> String {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode,
        ObjectLockRule,
    };
    let bucket = format!(
        "practica-audit-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    s3.create_bucket()
        .bucket(&bucket)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
    let retention = DefaultRetention::builder()
        .mode(ObjectLockRetentionMode::Compliance)
        .years(7)
        .build();
    s3.put_object_lock_configuration()
        .bucket(&bucket)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(retention)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    bucket
}

/// The functions' template as JSON, its short-form intrinsics (`!Ref`, `!Sub`, ...) in their long
/// form.
pub fn template() -> Value {
    yaml_template(include_str!("../../infra/template.yaml"))
}

/// The edge stack's template (the portal's web ACL, in us-east-1), as [`template`] reads it.
pub fn edge_template() -> Value {
    yaml_template(include_str!("../../infra/edge.template.yaml"))
}

fn yaml_template(text: &str) -> Value {
    fn convert(v: serde_yaml::Value) -> Value {
        use serde_yaml::Value as Y;
        match v {
            Y::Null => Value::Null,
            Y::Bool(b) => b.into(),
            Y::Number(n) => serde_json::to_value(n).unwrap(),
            Y::String(s) => s.into(),
            Y::Sequence(items) => items.into_iter().map(convert).collect(),
            Y::Mapping(map) => map
                .into_iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), convert(v)))
                .collect::<serde_json::Map<_, _>>()
                .into(),
            Y::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let tag = tag.trim_start_matches('!');
                let name = if tag == "Ref" {
                    "Ref".to_owned()
                } else {
                    format!("Fn::{tag}")
                };
                let mut value = convert(tagged.value);
                if let (true, Value::String(s)) = (name == "Fn::GetAtt", &value) {
                    value = s.split('.').map(Value::from).collect();
                }
                serde_json::json!({ name: value })
            }
        }
    }
    convert(serde_yaml::from_str(text).expect("the template parses"))
}

/// Which function serves each HTTP API route of the template: `("GET /v1/me", "booking")`.
pub fn route_owners() -> Vec<(String, String)> {
    let template = template();
    let mut owners = Vec::new();
    for (name, resource) in template["Resources"].as_object().unwrap() {
        let Some(function) = name.strip_suffix("Function") else {
            continue;
        };
        for event in resource["Properties"]["Events"]
            .as_object()
            .into_iter()
            .flat_map(|e| e.values())
            .filter(|e| e["Type"] == "HttpApi")
        {
            let p = &event["Properties"];
            owners.push((
                format!(
                    "{} {}",
                    p["Method"].as_str().unwrap(),
                    p["Path"].as_str().unwrap()
                ),
                function.to_lowercase(),
            ));
        }
    }
    owners
}

/// The processor of the payment fixtures: every intent is `pi_fixture_1`, the id the signed
/// webhook fixtures name.
pub struct FixtureProcessor;

#[async_trait::async_trait]
impl shared::payments::processor::PaymentProcessor for FixtureProcessor {
    async fn create_intent(
        &self,
        _: &shared::payments::processor::IntentRequest,
    ) -> Result<shared::payments::processor::Intent, shared::payments::processor::ProcessorError>
    {
        Ok(shared::payments::processor::Intent {
            id: "pi_fixture_1".into(),
            client_secret: "pi_fixture_1_secret_x".to_owned().into(),
        })
    }

    async fn cancel_intent(
        &self,
        _: &str,
        _: &shared::payments::processor::ProcessorKey,
    ) -> Result<shared::payments::processor::Cancel, shared::payments::processor::ProcessorError>
    {
        Ok(shared::payments::processor::Cancel::Canceled)
    }

    async fn create_customer(
        &self,
        _: &shared::payments::processor::ProcessorKey,
    ) -> Result<String, shared::payments::processor::ProcessorError> {
        Ok("cus_fixture_1".into())
    }

    async fn create_setup_intent(
        &self,
        _: &shared::payments::processor::SetupRequest,
    ) -> Result<shared::payments::processor::Intent, shared::payments::processor::ProcessorError>
    {
        Ok(shared::payments::processor::Intent {
            id: "seti_fixture_1".into(),
            client_secret: "seti_fixture_1_secret_x".to_owned().into(),
        })
    }

    async fn charge_off_session(
        &self,
        _: &shared::payments::processor::OffSessionRequest,
    ) -> Result<
        shared::payments::processor::OffSessionCharge,
        shared::payments::processor::ProcessorError,
    > {
        Ok(shared::payments::processor::OffSessionCharge {
            intent: "pi_fixture_offsession".into(),
            outcome: shared::payments::processor::OffSession::Accepted,
        })
    }

    async fn detach_payment_method(
        &self,
        _: &str,
    ) -> Result<(), shared::payments::processor::ProcessorError> {
        Ok(())
    }

    async fn refund(
        &self,
        _: &str,
        _: domain::money::Money,
        _: &shared::payments::processor::ProcessorKey,
    ) -> Result<(), shared::payments::processor::ProcessorError> {
        Ok(())
    }

    async fn update_dispute(
        &self,
        _: &str,
        _: &shared::payments::processor::DisputeEvidence,
        _: bool,
    ) -> Result<(), shared::payments::processor::ProcessorError> {
        Ok(())
    }
}

/// An event from `events/` with its placeholders filled (`values`: text to replace and its
/// replacement), also inside a base64-encoded body.
pub fn event_with(name: &str, values: &[(&str, &str)]) -> Value {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let edge = [("{{ORIGIN_SECRET}}", TEST_ORIGIN_SECRET)];
    let fill = |mut text: String| {
        for (placeholder, value) in values.iter().chain(&edge) {
            text = text.replace(placeholder, value);
        }
        text
    };
    let mut event: Value =
        serde_json::from_str(&fill(std::fs::read_to_string(&path).expect("event file")))
            .expect("an event is JSON");
    if event["isBase64Encoded"] == true {
        let body = b64.decode(event["body"].as_str().unwrap()).unwrap();
        event["body"] = b64.encode(fill(String::from_utf8(body).unwrap())).into();
    }
    event
}

pub mod deployed;
pub mod runtime_api;

/// A provider's rules open around the clock (15-minute slots, a 10-minute buffer after, no notice,
/// a year ahead): every benchmark round books its own free time.
pub fn always_open() -> domain::schedule::Rules {
    use domain::schedule::{EVERY_DAY, Rules, WallInterval, WallTime, Week};
    let day = WallInterval {
        start: WallTime::parse("00:00").expect("a wall time"),
        end: WallTime::parse("24:00").expect("a wall time"),
    };
    Rules {
        hours: Week::on(&EVERY_DAY, &[day]),
        breaks: Week::default(),
        exceptions: vec![],
        slot_minutes: 15,
        buffer_before_minutes: 0,
        buffer_after_minutes: 10,
        min_notice_minutes: 0,
        max_advance_days: 365,
        cancel_cutoff_hours: 24,
    }
}

/// Other calendars as a test serves them (the sweep's `CalendarSource` port): each address
/// answers the text or the fetch error it was given; any other address is unreachable. The real
/// adapter (`shared::adapters::calendar_fetch`) has its own tests against a local server.
#[derive(Default)]
pub struct Calendars {
    answers: std::sync::Mutex<
        std::collections::HashMap<String, Result<String, shared::booking::busy::port::FetchError>>,
    >,
    fetched: std::sync::Mutex<Vec<String>>,
}

impl Calendars {
    pub fn answer(
        &self,
        address: &str,
        answer: Result<&str, shared::booking::busy::port::FetchError>,
    ) {
        self.answers
            .lock()
            .unwrap()
            .insert(address.to_owned(), answer.map(str::to_owned));
    }
    /// The addresses fetched so far, in order.
    pub fn fetched(&self) -> Vec<String> {
        self.fetched.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl shared::booking::busy::port::CalendarSource for Calendars {
    async fn fetch(
        &self,
        address: &str,
    ) -> Result<String, shared::booking::busy::port::FetchError> {
        self.fetched.lock().unwrap().push(address.to_owned());
        self.answers
            .lock()
            .unwrap()
            .get(address)
            .cloned()
            .unwrap_or(Err(shared::booking::busy::port::FetchError::Unreachable))
    }
}

/// The production calendar reader (public https addresses only), for sweeps with no calendars.
pub fn public_calendars() -> shared::adapters::calendar_fetch::CalendarFetcher {
    shared::adapters::calendar_fetch::CalendarFetcher::new(
        shared::adapters::calendar_fetch::FetchPolicy::public(),
    )
}

/// The current version (SHA-256) of `document` in the answer of `GET /v1/consents`.
pub fn version_of(consents: &Value, document: &str) -> String {
    consents["documents"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["documentId"] == document))
        .and_then(|d| d["versionHash"].as_str())
        .unwrap_or_else(|| panic!("no {document} in {consents}"))
        .to_owned()
}

/// The key name the tests' audit log is signed under.
pub const TEST_LOG_KEY: &str = "practica.test/audit";

/// Seals the stack's audit entries into its log (the audit function's job), signed by `signer`.
pub async fn seal_log(stack: &Stack, signer: &shared::adapters::local_signer::LocalSigner) {
    use shared::audit::log::{IDLE_CHECKPOINT, LogConfig, integrate};
    let config = LogConfig {
        origin: "practica.test/audit/practica-test".into(),
        key_name: TEST_LOG_KEY.into(),
        first_scan_days: 2,
        idle_checkpoint: IDLE_CHECKPOINT,
    };
    integrate(&*stack.state.table, signer, &*stack.state.clock, &config)
        .await
        .expect("integrate");
}

/// The current version (SHA-256) of `form` in the answer of `GET /v1/forms`.
pub fn form_version_of(forms: &Value, form: &str) -> String {
    forms["forms"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["formId"] == form))
        .and_then(|f| f["versionHash"].as_str())
        .unwrap_or_else(|| panic!("no {form} in {forms}"))
        .to_owned()
}

/// A new staff pool on moto with the role groups (`staff`, `provider`, `admin`), as the data
/// template makes it; its id.
pub async fn staff_pool(cognito: &aws_sdk_cognitoidentityprovider::Client) -> String {
    let pool = cognito
        .create_user_pool()
        .pool_name(format!("staff-{}", ulid::Ulid::new()))
        .send()
        .await
        .expect("a user pool")
        .user_pool()
        .and_then(|p| p.id())
        .expect("its id")
        .to_owned();
    for group in ["staff", "provider", "admin"] {
        cognito
            .create_group()
            .user_pool_id(&pool)
            .group_name(group)
            .send()
            .await
            .expect("a group");
    }
    pool
}
