//! Booking benchmark: against the same backend in one run, p50/p99 of one raw transactional write
//! of a booking's shape (8 slot locks, appointment, patient copy, audit, idempotency record, the
//! patient's allowance slot, the confirmation and two reminders in the outbox) and of a full booking request through the router (token
//! verification, validation, encryption, the same transaction), and their ratio; on the embedded store,
//! on DynamoDB Local with KMS on moto (`PRACTICA_DDB_LOCAL_ENDPOINT` and `PRACTICA_MOTO_ENDPOINT`:
//! the figure that predicts DynamoDB, because DynamoDB Local runs transactions the way DynamoDB
//! does), and on moto with KMS (whose transactions copy the whole table, so its ratio says little). Also the availability computation for one provider over 31 days, in process.
//! Run with `scripts/bench`. Raw and full requests alternate so drift hits both alike.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::clock::SystemClock;
use domain::notify::{Kind, Message};
use domain::schedule::Calendar;
use practica_cli::demo::weekday_rules;
use practica_tests::{call, create_table, percentile, sdk_config, unique_table_name};
use serde_json::json;
use shared::adapters::dynamodb::DynamoTable;
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::kms::KmsKeys;
use shared::adapters::local_issuer::{LOCAL_AUDIENCE, LOCAL_ISSUER, LocalIssuer};
use shared::adapters::local_keys::LocalKeys;
use shared::auth::{AuthConfig, Role, StaticJwks, Subject};
use shared::crypto::{CachePolicy, KeyService};
use shared::store::codec::notify::MessageCodec as _;
use shared::store::{AttrValue, Condition, Item, Key, TTL_ATTR, Table, TransactOp};
use shared::{app::Parts, state::AppState};

const WARMUP: usize = 30;
/// Rounds per backend: moto copies its whole table inside every transaction, so it gets fewer.
const ROUNDS: usize = 400;
const MOTO_ROUNDS: usize = 120;

/// A transaction of the same shape and sizes as a 30-minute booking with a 10-minute buffer.
fn raw_booking(i: usize, now: i64) -> Vec<TransactOp> {
    let free = Condition::Or(vec![
        Condition::ItemAbsent,
        Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now)),
    ]);
    let start = now + 86_400 + i as i64 * 3600;
    let mut ops: Vec<TransactOp> = (0..8)
        .map(|u| TransactOp::Put {
            item: Item::new(Key::new("LOCK#raw", format!("{:012}", start + u * 300)))
                .with("owner", format!("apt_{i:026}"))
                .with(TTL_ATTR, start + 86_400),
            condition: Some(free.clone()),
        })
        .collect();
    let plain = |key: Key| {
        Item::new(key)
            .with("id", format!("apt_{i:026}"))
            .with("patient_id", "patient-bench")
            .with("provider_id", "prv_raw")
            .with("service_id", "svc_raw")
            .with("status", "booked")
            .with("start", start)
            .with("end", start + 1800)
            .with("occupied_from", start)
            .with("occupied_to", start + 2400)
            .with("version", 1i64)
            .with("created_at", now)
    };
    ops.push(TransactOp::Put {
        item: plain(Key::new(format!("APPT#raw{i}"), "APPT"))
            .with("gsi1pk", "CAL#raw")
            .with("gsi1sk", format!("{start:012}#{i}"))
            .with("reason", vec![7u8; 250]),
        condition: Some(Condition::ItemAbsent),
    });
    ops.push(TransactOp::Put {
        item: plain(Key::new("PATIENT#raw", format!("APPT#{i}"))),
        condition: Some(Condition::ItemAbsent),
    });
    ops.push(TransactOp::Put {
        item: Item::new(Key::new("AUDIT#raw", format!("{i:020}")))
            .with("actor", "patient-bench")
            .with("action", "appointment.create")
            .with("entity_id", format!("apt_{i:026}"))
            .with("request_id", "01JBENCHREQUEST0000000000")
            .with("at", now),
        condition: Some(Condition::ItemAbsent),
    });
    ops.push(TransactOp::Put {
        item: Item::new(Key::new(format!("IDEM#raw#{i}"), "IDEM"))
            .with("fingerprint", "x".repeat(43))
            .with("reply", vec![9u8; 600])
            .with(TTL_ATTR, now + 86_400),
        condition: Some(Condition::Or(vec![
            Condition::ItemAbsent,
            Condition::LessThan(TTL_ATTR.into(), AttrValue::N(now)),
        ])),
    });
    // The booking's messages, in its transaction: the confirmation and the two reminders ahead.
    let patient = domain::ids::PatientId::parse("patient-bench").expect("patient");
    for (kind, due) in [
        (Kind::Confirmation, now),
        (Kind::Reminder, start - 86_400),
        (Kind::Reminder, start - 7_200),
    ] {
        let mut message = Message::new(kind, &patient, due, now);
        message.start = Some(start);
        ops.push(message.put());
    }
    // The patient's allowance slot (issue 9's per-patient limit), claimed with the booking.
    ops.push(TransactOp::Put {
        item: Item::new(Key::new(format!("PATIENT#raw{i}"), "QUOTA#appointment#00"))
            .with("owner", format!("apt_{i:026}"))
            .with(TTL_ATTR, start),
        condition: Some(free.clone()),
    });
    ops
}

async fn run(
    backend: &str,
    rounds: usize,
    table: Arc<dyn Table>,
    keys: Arc<dyn KeyService>,
    table_name: &str,
) {
    let issuer = LocalIssuer::generate(LOCAL_ISSUER, LOCAL_AUDIENCE).unwrap();
    let state = AppState::assemble(Parts {
        table: table.clone(),
        table_name: table_name.into(),
        keys,
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
    // One patient per round (a patient may hold only a few future appointments), each token
    // verified once beforehand as a returning client's would have been.
    let mut tokens = Vec::with_capacity(WARMUP + rounds);
    for i in 0..WARMUP + rounds {
        let token = issuer
            .mint(
                &Subject::parse(&format!("patient-bench-{i}")).unwrap(),
                &[Role::Patient],
                state.clock.now(),
                Duration::from_secs(3600),
            )
            .unwrap();
        state.verifier.verify(&token).await.expect("token");
        tokens.push(token);
    }
    let now = jiff::Timestamp::now().as_second();
    let first = (now / 3600 + 26) * 3600;
    let book = |i: usize| {
        let start = jiff::Timestamp::from_second(first + i as i64 * 3600)
            .unwrap()
            .to_string();
        let body = json!({
            "providerId": demo.providers[0],
            "serviceId": demo.services[1],
            "start": start,
            "reason": "Follow-up on medication side effects",
        });
        http::Request::post("/v1/appointments")
            .header("authorization", format!("Bearer {}", tokens[i]))
            .header("idempotency-key", format!("bench-{i}"))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body.to_string()))
            .unwrap()
    };
    let (mut raw, mut full) = (Vec::with_capacity(rounds), Vec::with_capacity(rounds));
    let mut verify = Vec::with_capacity(rounds);
    for (i, token) in tokens.iter().enumerate() {
        let ops = raw_booking(i, now);
        let t = Instant::now();
        table.transact_write(ops).await.expect("raw transaction");
        let raw_time = t.elapsed();
        let request = book(i);
        let t = Instant::now();
        let (status, _, body) = call(router.clone(), request).await;
        let full_time = t.elapsed();
        assert_eq!(status, 201, "{body}");
        let t = Instant::now();
        state.verifier.verify(token).await.expect("token");
        let verify_time = t.elapsed();
        if i >= WARMUP {
            verify.push(verify_time);
            raw.push(raw_time);
            full.push(full_time);
        }
    }
    raw.sort();
    full.sort();
    verify.sort();
    let (r50, f50) = (percentile(&raw, 0.5), percentile(&full, 0.5));
    println!(
        "{backend:<9} raw transaction p50 {:>9.1?} p99 {:>9.1?} | booking request p50 {:>9.1?} p99 {:>9.1?} | booking/raw p50 {:.3}",
        r50,
        percentile(&raw, 0.99),
        f50,
        percentile(&full, 0.99),
        f50.as_secs_f64() / r50.as_secs_f64()
    );
    println!(
        "{backend:<9} of which token verification p50 {:>9.1?}",
        percentile(&verify, 0.5)
    );
}

fn availability() {
    let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let rules = weekday_rules(9, 17);
    let cal = Calendar {
        rules: &rules,
        zone: &zone,
    };
    let from = 1_795_410_000; // 2026-11-23T00:00:00-05:00
    let to = from + 31 * 86_400;
    // Every third hour taken.
    let busy: BTreeSet<i64> = (0..31 * 288)
        .map(|u| from + u * 300)
        .filter(|u| (u / 3600) % 3 == 0)
        .collect();
    let mut times = Vec::with_capacity(2_000);
    let mut offered = 0;
    for _ in 0..2_000 {
        let t = Instant::now();
        offered = std::hint::black_box(cal.available(1800, from, to, from - 86_400, &busy)).len();
        times.push(t.elapsed());
    }
    times.sort();
    println!(
        "availability, one provider, 31 days (30-min service, {offered} slots offered): p50 {:.1?} p99 {:.1?}",
        percentile(&times, 0.5),
        percentile(&times, 0.99)
    );
}

#[tokio::main]
async fn main() {
    println!("booking benchmark: {ROUNDS} rounds (moto {MOTO_ROUNDS}) after {WARMUP} warm-up");
    availability();
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded");
    let keys = LocalKeys::open_or_create(&dir.path().join("master.key")).expect("keys");
    run(
        "embedded",
        ROUNDS,
        Arc::new(embedded),
        Arc::new(keys),
        "practica-bench",
    )
    .await;
    match (
        std::env::var("PRACTICA_DDB_LOCAL_ENDPOINT"),
        std::env::var("PRACTICA_MOTO_ENDPOINT"),
    ) {
        (Ok(dynamodb), Ok(moto)) => {
            let ddb = aws_sdk_dynamodb::Client::new(&sdk_config(&dynamodb));
            let name = unique_table_name();
            create_table(&ddb, &name).await;
            let kms = aws_sdk_kms::Client::new(&sdk_config(&moto));
            let key = kms.create_key().send().await.expect("create key");
            let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
            run(
                "ddb-local",
                ROUNDS,
                Arc::new(DynamoTable::new(ddb, name.clone())),
                Arc::new(KmsKeys::new(kms, key_id)),
                &name,
            )
            .await;
        }
        _ => println!(
            "ddb-local skipped: PRACTICA_DDB_LOCAL_ENDPOINT and PRACTICA_MOTO_ENDPOINT are not both set (scripts/bench sets them)"
        ),
    }
    match std::env::var("PRACTICA_MOTO_ENDPOINT") {
        Ok(endpoint) => {
            let sdk = sdk_config(&endpoint);
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            let name = unique_table_name();
            create_table(&ddb, &name).await;
            let kms = aws_sdk_kms::Client::new(&sdk);
            let key = kms.create_key().send().await.expect("create key");
            let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
            run(
                "moto",
                MOTO_ROUNDS,
                Arc::new(DynamoTable::new(ddb, name.clone())),
                Arc::new(KmsKeys::new(kms, key_id)),
                &name,
            )
            .await;
        }
        Err(_) => {
            println!("moto      skipped: PRACTICA_MOTO_ENDPOINT is not set (scripts/bench sets it)")
        }
    }
}
