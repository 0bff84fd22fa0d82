//! Audit log benchmark, on the embedded store: integration throughput (entries/s, batches of 45
//! with a signed checkpoint each), the time to verify a log of 100,000 entries from the table with
//! the public key alone, and the log's storage per entry (its leaf and mark items, by DynamoDB's
//! item-size rule, plus the checkpoint share). Run with `scripts/bench`.

use std::time::Instant;

use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{BATCH, LogConfig, integrate, verify_table};
use shared::crypto::signer::LogSigner;
use shared::domain::clock::{Clock, SystemClock};
use shared::store::keys::{AUDIT_LOG_CHECKPOINTS, AUDIT_LOG_LEAVES, audit_partition, audit_sort};
use shared::store::{AttrValue, Item, Key, Query, Table, TransactOp, query_all};

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

#[tokio::main]
async fn main() {
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
    let base = now.unix_timestamp_nanos();
    for chunk in 0..ENTRIES / 100 {
        let ops = (0..100)
            .map(|i| {
                let n = (chunk * 100 + i) as i128;
                let id = ulid::Ulid::new();
                TransactOp::Put {
                    item: Item::new(Key::new(
                        audit_partition(now.date()),
                        audit_sort(base + n, &id),
                    ))
                    .with("gsi1pk", format!("AUDIT#appointment#apt_{id}"))
                    .with("gsi1sk", audit_sort(base + n, &id))
                    .with("at", now.unix_timestamp())
                    .with("actor", "8f14e45f-ceea-467a-9af0-123456789abc")
                    .with("roles", AttrValue::L(vec![AttrValue::S("staff".into())]))
                    .with("action", "appointment.read")
                    .with("entity", "appointment")
                    .with("entity_id", format!("apt_{id}"))
                    .with("outcome", "success")
                    .with("request_id", ulid::Ulid::new().to_string()),
                    condition: None,
                }
            })
            .collect();
        table.transact_write(ops).await.expect("entries");
    }
    println!("audit benchmark: {ENTRIES} entries on the embedded store, batches of {BATCH}");

    let t = Instant::now();
    let done = integrate(&table, &signer, &clock, &config)
        .await
        .expect("integrate");
    let took = t.elapsed();
    assert_eq!(done.size as usize, ENTRIES);
    println!(
        "integration: {} entries in {:.2?} = {:.0} entries/s",
        done.added,
        took,
        done.added as f64 / took.as_secs_f64()
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
    let day = audit_partition(now.date());
    let marks = query_all(
        &table,
        &Query::partition(format!("AUDITLOG#IN#{}", &day[6..])),
    )
    .await
    .expect("marks");
    let sum = |items: &[Item]| items.iter().map(item_bytes).sum::<usize>();
    let (leaf, mark, checkpoint) = (sum(&leaves), sum(&marks), sum(&checkpoints));
    println!(
        "log storage per entry: {:.1} bytes (leaf {:.1}, mark {:.1}, checkpoints {:.1}; {} checkpoints)",
        (leaf + mark + checkpoint) as f64 / ENTRIES as f64,
        leaf as f64 / ENTRIES as f64,
        mark as f64 / ENTRIES as f64,
        checkpoint as f64 / ENTRIES as f64,
        checkpoints.len()
    );
}
