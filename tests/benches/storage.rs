//! Storage benchmark: p50/p99 of a single conditional put and of a sealed (envelope-encrypted) put,
//! and their ratio, on the embedded store and (when `PRACTICA_MOTO_ENDPOINT` is set) on moto with
//! KMS on moto. Run with `scripts/bench`. Plain and sealed puts alternate, so drift hits both alike.

use std::sync::Arc;
use std::time::Instant;

use domain::clock::SystemClock;
use practica_tests::{create_table, percentile, sdk_config, unique_table_name};
use shared::adapters::dynamodb::DynamoTable;
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::kms::KmsKeys;
use shared::adapters::local_keys::LocalKeys;
use shared::crypto::{CachePolicy, KeyService, Sealer};
use shared::store::{Condition, Item, Key, Table};

const WARMUP: usize = 50;
const ROUNDS: usize = 1_000;
const FIELDS: [(&str, &str); 4] = [
    ("name", "Jane Q. Patient"),
    ("email", "jane.patient@example.com"),
    ("phone", "+1-212-555-0199"),
    ("dob", "1980-02-29"),
];

async fn plain_put(table: &dyn Table, i: usize) {
    let mut item = Item::new(Key::new(format!("PLAIN#{i}"), "PROFILE")).with("status", "active");
    for (attr, value) in FIELDS {
        item.set(attr, value);
    }
    table
        .put(item, Some(Condition::ItemAbsent))
        .await
        .expect("plain put");
}

async fn sealed_put(table: &dyn Table, sealer: &Sealer, i: usize) {
    let key = Key::new(format!("SEALED#{i}"), "PROFILE");
    let mut item = Item::new(key.clone()).with("status", "active");
    for (attr, value) in FIELDS {
        item.set(
            attr,
            sealer.seal_str(&key, attr, value).await.expect("seal"),
        );
    }
    table
        .put(item, Some(Condition::ItemAbsent))
        .await
        .expect("sealed put");
}

async fn run(backend: &str, table: Arc<dyn Table>, keys: Arc<dyn KeyService>, table_name: &str) {
    let sealer = Sealer::new(
        keys,
        Arc::new(SystemClock),
        table_name,
        CachePolicy::default(),
    );
    for i in 0..WARMUP {
        plain_put(&*table, 1_000_000 + i).await;
        sealed_put(&*table, &sealer, 1_000_000 + i).await;
    }
    let (mut plain, mut sealed) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for i in 0..ROUNDS {
        let t = Instant::now();
        plain_put(&*table, i).await;
        plain.push(t.elapsed());
        let t = Instant::now();
        sealed_put(&*table, &sealer, i).await;
        sealed.push(t.elapsed());
    }
    plain.sort();
    sealed.sort();
    let (p50, s50) = (percentile(&plain, 0.5), percentile(&sealed, 0.5));
    println!(
        "{backend:<9} conditional put p50 {:>9.1?} p99 {:>9.1?} | sealed put (4 fields) p50 {:>9.1?} p99 {:>9.1?} | sealed/plain p50 {:.3}",
        p50,
        percentile(&plain, 0.99),
        s50,
        percentile(&sealed, 0.99),
        s50.as_secs_f64() / p50.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    println!("storage benchmark: {ROUNDS} rounds after {WARMUP} warm-up, data-key cache on");
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedTable::open(&dir.path().join("bench.redb")).expect("embedded");
    let local_keys = LocalKeys::open_or_create(&dir.path().join("master.key")).expect("keys");
    run(
        "embedded",
        Arc::new(embedded),
        Arc::new(local_keys),
        "practica-bench",
    )
    .await;

    match std::env::var("PRACTICA_MOTO_ENDPOINT") {
        Ok(endpoint) => {
            let sdk = sdk_config(&endpoint);
            let ddb = aws_sdk_dynamodb::Client::new(&sdk);
            let name = unique_table_name();
            create_table(&ddb, &name).await;
            let kms = aws_sdk_kms::Client::new(&sdk);
            let key = kms.create_key().send().await.expect("create key");
            let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
            let table = DynamoTable::new(ddb, name.clone());
            run(
                "moto",
                Arc::new(table),
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
