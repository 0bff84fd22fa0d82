//! Series benchmark: a 16-occurrence weekly series booked in one request against the same 16
//! appointments booked one request at a time (staff for a patient, through the router, on the
//! same backend in one run, alternating so drift hits both alike): p50 of each and their ratio (the
//! target is at most 0.5). On the embedded store and on DynamoDB Local
//! (`PRACTICA_DDB_LOCAL_ENDPOINT`), both with local keys; and on DynamoDB Local with 8 ms added to
//! every call, a stand-in for DynamoDB's round trip from a Lambda function (DynamoDB Local's own
//! cost is per item written, and a series writes as many items as sixteen bookings: what it saves
//! is round trips). Run with `scripts/bench`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::clock::SystemClock;
use practica_tests::{call, create_table, percentile, sdk_config, unique_table_name};
use serde_json::json;
use shared::adapters::dynamodb::DynamoTable;
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::adapters::local_keys::LocalKeys;
use shared::auth::{AuthConfig, Role, StaticJwks, Subject};
use shared::crypto::CachePolicy;
use shared::store::{Condition, Consistency, Item, Key, Page, Query, Table, TableError};
use shared::store::{TransactOp, Update};

/// A table whose every call takes `delay` longer: the network between a function and DynamoDB.
struct Distant {
    inner: Arc<dyn Table>,
    delay: Duration,
}

#[async_trait::async_trait]
impl Table for Distant {
    async fn get(&self, key: &Key, c: Consistency) -> Result<Option<Item>, TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.get(key, c).await
    }
    async fn put(&self, item: Item, c: Option<Condition>) -> Result<(), TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.put(item, c).await
    }
    async fn delete(&self, key: &Key, c: Option<Condition>) -> Result<(), TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.delete(key, c).await
    }
    async fn update(&self, key: &Key, u: Update, c: Option<Condition>) -> Result<Item, TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.update(key, u, c).await
    }
    async fn query(&self, q: &Query) -> Result<Page, TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.query(q).await
    }
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        tokio::time::sleep(self.delay).await;
        self.inner.transact_write(ops).await
    }
}
use shared::{app::Parts, state::AppState};

const WARMUP: usize = 3;
const ROUNDS: usize = 25;
const OCCURRENCES: usize = 16;

async fn run(backend: &str, table: Arc<dyn Table>, dir: &std::path::Path) {
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).unwrap();
    let keys = LocalKeys::open_or_create(&dir.join(format!("{backend}.key"))).expect("keys");
    let state = AppState::assemble(Parts {
        table,
        table_name: "practica-bench".into(),
        keys: Arc::new(keys),
        jwks: Arc::new(StaticJwks(issuer.jwks().clone())),
        auth: AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
        cache: CachePolicy::default(),
        clock: Arc::new(SystemClock),
    });
    let demo = practica_cli::demo::seed(&state).await.expect("seed");
    let admin = practica_tests::local_admin("bench");
    shared::booking::setup::put_schedule(
        &state,
        &admin,
        None,
        &demo.providers[0],
        practica_tests::always_open(),
    )
    .await
    .expect("open provider");
    let router = booking::router(state.clone());
    let staff = issuer
        .mint(
            &Subject::parse("staff-bench").unwrap(),
            &[Role::Staff],
            state.clock.now(),
            Duration::from_secs(3600),
        )
        .unwrap();
    let request = |path: &str, key: String, body: serde_json::Value| {
        http::Request::post(path)
            .header("authorization", format!("Bearer {staff}"))
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    // Round i: the series at its own hour of one weekday, the singles at that hour two days later.
    let now = jiff::Timestamp::now().as_second();
    let first = (now / 86_400 + 2) * 86_400;
    let at = |t: i64| jiff::Timestamp::from_second(t).unwrap().to_string();
    let (mut series, mut singles) = (Vec::new(), Vec::new());
    for i in 0..WARMUP + ROUNDS {
        let start = first + i as i64 * 3600;
        let body = json!({
            "providerId": demo.providers[0], "serviceId": demo.services[1], "start": at(start),
            "everyWeeks": 1, "count": OCCURRENCES, "patientId": "patient-jane",
        });
        let t = Instant::now();
        let (status, _, answer) = call(
            router.clone(),
            request("/v1/series", format!("series-{i}"), body),
        )
        .await;
        let series_time = t.elapsed();
        assert_eq!(status, 201, "{answer}");
        let t = Instant::now();
        for k in 0..OCCURRENCES {
            let body = json!({
                "providerId": demo.providers[0], "serviceId": demo.services[1],
                "start": at(start + 2 * 86_400 + k as i64 * 7 * 86_400), "patientId": "patient-jane",
            });
            let (status, _, answer) = call(
                router.clone(),
                request("/v1/appointments", format!("single-{i}-{k}"), body),
            )
            .await;
            assert_eq!(status, 201, "{answer}");
        }
        let singles_time = t.elapsed();
        if i >= WARMUP {
            series.push(series_time);
            singles.push(singles_time);
        }
    }
    series.sort();
    singles.sort();
    let (s50, n50) = (percentile(&series, 0.5), percentile(&singles, 0.5));
    println!(
        "{backend:<9} series of {OCCURRENCES} p50 {s50:>9.1?} p99 {:>9.1?} | {OCCURRENCES} single bookings p50 {n50:>9.1?} p99 {:>9.1?} | series/singles p50 {:.3}",
        percentile(&series, 0.99),
        percentile(&singles, 0.99),
        s50.as_secs_f64() / n50.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    println!("series benchmark: {ROUNDS} rounds after {WARMUP} warm-up");
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded");
    run("embedded", Arc::new(embedded), dir.path()).await;
    match std::env::var("PRACTICA_DDB_LOCAL_ENDPOINT") {
        Ok(endpoint) => {
            let ddb = aws_sdk_dynamodb::Client::new(&sdk_config(&endpoint));
            let name = unique_table_name();
            create_table(&ddb, &name).await;
            run(
                "ddb-local",
                Arc::new(DynamoTable::new(ddb.clone(), name)),
                dir.path(),
            )
            .await;
            let name = unique_table_name();
            create_table(&ddb, &name).await;
            let distant = Distant {
                inner: Arc::new(DynamoTable::new(ddb, name)),
                delay: Duration::from_millis(8),
            };
            run("ddb+8ms", Arc::new(distant), dir.path()).await;
        }
        Err(_) => println!(
            "ddb-local skipped: PRACTICA_DDB_LOCAL_ENDPOINT is not set (scripts/bench sets it)"
        ),
    }
}
