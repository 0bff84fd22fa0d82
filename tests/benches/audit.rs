//! Audit log benchmark, on the embedded store: integration throughput (entries/s, batches of 45
//! with a signed checkpoint each), the time to verify a log of 100,000 entries from the table with
//! the public key alone, and the log's storage per entry (its leaf and mark items, by DynamoDB's
//! item-size rule, plus the checkpoint share, and each patient's access-index copy); then the
//! booking request's p50 with the audit fields issue 11 added and without them, in one run.
//! Run with `scripts/bench`. With `--witness`, only a witness's throughput instead
//! ([`witness_bench`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::clock::{Clock, SystemClock};
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{BATCH, LogConfig, integrate, verify_table};
use shared::crypto::signer::LogSigner;
use shared::store::keys::{
    AUDIT_LOG_CHECKPOINTS, AUDIT_LOG_LEAVES, audit_access_partition, audit_partition, audit_sort,
};
use shared::store::{
    AttrValue, Condition, Consistency, Item, Key, Page, Query, Table, TableError, TransactOp,
    Update, query_all,
};

const ENTRIES: usize = 100_000;

/// DynamoDB's size of an item: attribute names plus values (numbers approximated by their digits).
fn item_bytes(item: &Item) -> usize {
    fn value(v: &AttrValue) -> usize {
        match v {
            AttrValue::S(s) => s.len(),
            AttrValue::N(n) => n.to_string().len(),
            AttrValue::B(b) => b.len(),
            AttrValue::Bool(_) | AttrValue::Null => 1,
            AttrValue::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            AttrValue::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>(),
        }
    }
    2 + item.key.pk.len()
        + 2
        + item.key.sk.len()
        + item
            .attrs
            .iter()
            .map(|(k, v)| k.len() + value(v))
            .sum::<usize>()
}

/// Checkpoints a witness is given in `--witness`, each ten entries after the last.
const WITNESSED: u64 = 1_000;

/// `--witness`: a witness (`practica witness serve`'s code, its state in redb) given 1,000
/// checkpoints of a growing log, each signed by the log's key and carrying the consistency proof
/// from the last: per checkpoint, the log signature checked, the proof checked, the state
/// committed (fsync'd) and the cosignature made; then the same through its HTTP router on
/// 127.0.0.1 with the audit function's client. The notes are prepared first: only the witness's
/// work (and the round trip) is timed.
async fn witness_bench() {
    use domain::merkle::{consistency_proof, leaf_hash};
    use domain::witness::AddCheckpoint;
    let signer = LocalSigner::generate().expect("signer");
    let origin = "practica.example/audit/bench";
    let leaves: Vec<_> = (0..WITNESSED * 10)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect();
    let mut bodies = Vec::new();
    for k in 1..=WITNESSED {
        let size = (k * 10) as usize;
        let checkpoint = domain::checkpoint::Checkpoint {
            origin: origin.into(),
            size: size as u64,
            root: domain::merkle::root(&leaves[..size]),
            time: Some(1_795_000_000),
        };
        let note =
            shared::crypto::signer::sign_checkpoint(&signer, "practica.example/audit", &checkpoint)
                .await
                .expect("signed");
        let old = size - 10;
        let proof = if old == 0 {
            Vec::new()
        } else {
            consistency_proof(&leaves[..size], old).expect("proof")
        };
        bodies.push(
            AddCheckpoint {
                old_size: old as u64,
                proof,
                note,
            }
            .body(),
        );
    }
    let trusted = || {
        vec![shared::witness::TrustedLog {
            origin: origin.into(),
            key_name: "practica.example/audit".into(),
            spki: signer.public_key().to_vec(),
        }]
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let witness =
        practica_cli::witness::open(&dir.path().join("direct"), "bench.example/w", trusted())
            .expect("witness");
    let started = Instant::now();
    for body in &bodies {
        shared::witness::add_checkpoint(&witness, body, 1_795_000_000)
            .expect("state")
            .expect("cosigned");
    }
    let direct = started.elapsed();
    let witness =
        practica_cli::witness::open(&dir.path().join("http"), "bench.example/w", trusted())
            .expect("witness");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let app = practica_cli::witness::router(witness, Arc::new(SystemClock));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = shared::adapters::http_witness::HttpWitnessClient::standalone();
    use shared::audit::witnessing::WitnessClient as _;
    let started = Instant::now();
    for body in &bodies {
        let answer = client
            .add_checkpoint(&url, body.clone())
            .await
            .expect("answer");
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    let http = started.elapsed();
    let each = |d: Duration| d.as_secs_f64() * 1000.0 / WITNESSED as f64;
    println!(
        "witness: {WITNESSED} growing checkpoints cosigned in {direct:.2?} ({:.0}/s, {:.2} ms each: \
         the log's signature, the consistency proof, the state committed, the cosignature); \
         over HTTP on 127.0.0.1 in {http:.2?} ({:.2} ms each)",
        WITNESSED as f64 / direct.as_secs_f64(),
        each(direct),
        each(http)
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--witness") {
        witness_bench().await;
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let table = EmbeddedTable::open(&dir.path().join("audit.redb")).expect("embedded");
    let signer = LocalSigner::generate().expect("signer");
    let clock = SystemClock;
    let config = LogConfig {
        origin: "practica.example/audit/bench".into(),
        key_name: "practica.example/audit".into(),
        first_scan_days: 1,
        idle_checkpoint: shared::audit::log::IDLE_CHECKPOINT,
    };
    // Entries shaped like today's records, written 100 to a transaction.
    let now = clock.now();
    let base = now.as_nanosecond();
    for chunk in 0..ENTRIES / 100 {
        let ops = (0..100)
            .map(|i| {
                let n = (chunk * 100 + i) as i128;
                let id = ulid::Ulid::new();
                TransactOp::Put {
                    item: Item::new(Key::new(
                        audit_partition(domain::clock::utc_day(now)),
                        audit_sort(base + n, &id),
                    ))
                    .with("gsi1pk", format!("AUDIT#appointment#apt_{id}"))
                    .with("gsi1sk", audit_sort(base + n, &id))
                    .with("at", now.as_second())
                    .with("actor", "8f14e45f-ceea-467a-9af0-123456789abc")
                    .with("roles", AttrValue::L(vec![AttrValue::S("staff".into())]))
                    .with("action", "appointment.read")
                    .with("entity", "appointment")
                    .with("entity_id", format!("apt_{id}"))
                    .with("action_kind", "read")
                    .with("agent_kind", "user")
                    .with(
                        "patient_ids",
                        AttrValue::L(vec![AttrValue::S(format!("patient-{}", n % 1000))]),
                    )
                    .with("outcome", "success")
                    .with("request_id", ulid::Ulid::new().to_string())
                    .with("source_function", "booking")
                    .with("source_address", "192.0.2.10"),
                    condition: None,
                }
            })
            .collect();
        table.transact_write(ops).await.expect("entries");
    }
    println!("audit benchmark: {ENTRIES} entries on the embedded store, batches of {BATCH}");

    // A run integrates at most its pages; runs follow each other until none adds anything.
    let t = Instant::now();
    let (mut runs, mut longest) = (0, Duration::ZERO);
    let done = loop {
        let run = Instant::now();
        let done = integrate(&table, &signer, &clock, &config)
            .await
            .expect("integrate");
        longest = longest.max(run.elapsed());
        runs += 1;
        if done.size as usize == ENTRIES {
            break done;
        }
    };
    let took = t.elapsed();
    println!(
        "integration: {} entries in {:.2?} = {:.0} entries/s ({runs} runs, the longest {:.2?})",
        done.size,
        took,
        done.size as f64 / took.as_secs_f64(),
        longest
    );

    let t = Instant::now();
    let report = verify_table(&table, &clock, &config, signer.public_key(), &[])
        .await
        .expect("verify");
    let took = t.elapsed();
    assert!(
        report.ok(),
        "{:?}",
        &report.problems[..report.problems.len().min(5)]
    );
    println!(
        "verification of {} entries and their checkpoints: {took:.2?}",
        report.tree_size
    );

    let leaves = query_all(&table, &Query::partition(AUDIT_LOG_LEAVES))
        .await
        .expect("leaves");
    let checkpoints = query_all(&table, &Query::partition(AUDIT_LOG_CHECKPOINTS))
        .await
        .expect("checkpoints");
    let day = audit_partition(domain::clock::utc_day(now));
    let marks = query_all(
        &table,
        &Query::partition(format!("AUDITLOG#IN#{}", &day[6..])),
    )
    .await
    .expect("marks");
    let mut access = Vec::new();
    for p in 0..1000 {
        access.extend(
            query_all(
                &table,
                &Query::partition(audit_access_partition(&format!("patient-{p}"))),
            )
            .await
            .expect("access index"),
        );
    }
    let sum = |items: &[Item]| items.iter().map(item_bytes).sum::<usize>();
    let (leaf, mark, checkpoint) = (sum(&leaves), sum(&marks), sum(&checkpoints));
    let per = |n: usize| n as f64 / ENTRIES as f64;
    println!(
        "log storage per entry: {:.1} bytes (leaf with its subtrees {:.1}, mark {:.1}, checkpoints {:.1}; {} checkpoints) + access index {:.1} per patient named",
        per(leaf + mark + checkpoint),
        per(leaf),
        per(mark),
        per(checkpoint),
        checkpoints.len(),
        sum(&access) as f64 / access.len().max(1) as f64,
    );
    booking_with_and_without_the_new_fields().await;
}

/// The audit fields this issue added to every entry.
const NEW_FIELDS: [&str; 6] = [
    "action_kind",
    "agent_kind",
    "patient_ids",
    "outcome",
    "source_function",
    "source_address",
];

/// A table that writes audit entries without the new fields: the booking request as it was.
struct WithoutNewFields(Arc<dyn Table>);

fn strip(mut item: Item) -> Item {
    if item.key.pk.starts_with("AUDIT#") {
        for field in NEW_FIELDS {
            item.attrs.remove(field);
        }
    }
    item
}

#[async_trait::async_trait]
impl Table for WithoutNewFields {
    async fn get(&self, key: &Key, c: Consistency) -> Result<Option<Item>, TableError> {
        self.0.get(key, c).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.0.put(strip(item), condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.0.delete(key, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.0.update(key, update, condition).await
    }
    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        self.0.query(query).await
    }
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                TransactOp::Put { item, condition } => TransactOp::Put {
                    item: strip(item),
                    condition,
                },
                other => other,
            })
            .collect();
        self.0.transact_write(ops).await
    }
}

/// The booking request's p50 with today's audit entry and with the entry as it was before this
/// issue's fields, alternating round by round over the same store (embedded, and DynamoDB Local
/// when `scripts/bench` runs it).
async fn booking_with_and_without_the_new_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded: Arc<dyn Table> =
        Arc::new(EmbeddedTable::open(&dir.path().join("booking.redb")).expect("embedded"));
    compare("embedded", embedded, &dir).await;
    if let Ok(endpoint) = std::env::var("PRACTICA_DDB_LOCAL_ENDPOINT") {
        let ddb = aws_sdk_dynamodb::Client::new(&practica_tests::sdk_config(&endpoint));
        let name = practica_tests::unique_table_name();
        practica_tests::create_table(&ddb, &name).await;
        compare(
            "ddb-local",
            Arc::new(shared::adapters::dynamodb::DynamoTable::new(ddb, name)),
            &dir,
        )
        .await;
    } else {
        println!(
            "ddb-local skipped: PRACTICA_DDB_LOCAL_ENDPOINT is not set (scripts/bench sets it)"
        );
    }
}

const ROUNDS: usize = 300;
const WARMUP: usize = 30;

async fn compare(backend: &str, table: Arc<dyn Table>, dir: &tempfile::TempDir) {
    use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
    use shared::auth::{AuthConfig, Role, StaticJwks, Subject};
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).expect("issuer");
    let keys = Arc::new(
        shared::adapters::local_keys::LocalKeys::open_or_create(
            &dir.path().join(format!("{backend}.key")),
        )
        .expect("keys"),
    );
    let state_over = |table: Arc<dyn Table>| {
        shared::state::AppState::assemble(shared::app::Parts {
            table,
            table_name: "practica-bench".into(),
            keys: keys.clone(),
            jwks: Arc::new(StaticJwks(issuer.jwks().clone())),
            auth: AuthConfig::new(LOCAL_ISSUER, LOCAL_AUDIENCE),
            cache: shared::crypto::CachePolicy::default(),
            clock: Arc::new(SystemClock),
        })
    };
    let today = state_over(table.clone());
    let before = state_over(Arc::new(WithoutNewFields(table.clone())));
    let demo = practica_cli::demo::seed(&today).await.expect("seed");
    let admin = practica_tests::local_admin("bench");
    let mut rules = practica_cli::demo::weekday_rules(0, 24);
    rules.hours = domain::schedule::Week::on(
        &domain::schedule::EVERY_DAY,
        &[domain::schedule::WallInterval {
            start: domain::schedule::WallTime::parse("00:00").unwrap(),
            end: domain::schedule::WallTime::parse("24:00").unwrap(),
        }],
    );
    rules.breaks = domain::schedule::Week::default();
    rules.min_notice_minutes = 0;
    rules.max_advance_days = 365;
    shared::booking::setup::put_schedule(&today, &admin, None, &demo.providers[0], rules)
        .await
        .expect("open provider");
    let routers = [
        booking::router(today.clone()),
        booking::router(before.clone()),
    ];
    let now = jiff::Timestamp::now().as_second();
    let first = (now / 3600 + 26) * 3600;
    let mut times = [Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS)];
    for i in 0..2 * (WARMUP + ROUNDS) {
        let arm = i % 2;
        let token = issuer
            .mint(
                &Subject::parse(&format!("patient-fields-{i}")).unwrap(),
                &[Role::Patient],
                today.clock.now(),
                Duration::from_secs(3600),
            )
            .unwrap();
        today.verifier.verify(&token).await.expect("token");
        before.verifier.verify(&token).await.expect("token");
        let start = jiff::Timestamp::from_second(first + i as i64 * 3600)
            .unwrap()
            .to_string();
        let body = serde_json::json!({
            "providerId": demo.providers[0],
            "serviceId": demo.services[1],
            "start": start,
            "reason": "Follow-up on medication side effects",
        });
        let request = http::Request::post("/v1/appointments")
            .header("authorization", format!("Bearer {token}"))
            .header("idempotency-key", format!("fields-{i}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap();
        let t = Instant::now();
        let (status, _, body) = practica_tests::call(routers[arm].clone(), request).await;
        let took = t.elapsed();
        assert_eq!(status, 201, "{body}");
        if i >= 2 * WARMUP {
            times[arm].push(took);
        }
    }
    for t in &mut times {
        t.sort();
    }
    let (now50, before50) = (
        practica_tests::percentile(&times[0], 0.5),
        practica_tests::percentile(&times[1], 0.5),
    );
    println!(
        "{backend:<9} booking request p50 with the new audit fields {now50:>9.1?}, without {before50:>9.1?}: ratio {:.3} ({ROUNDS} rounds each, alternating)",
        now50.as_secs_f64() / before50.as_secs_f64()
    );
}
