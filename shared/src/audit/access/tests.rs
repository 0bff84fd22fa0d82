use std::sync::Arc;

use super::*;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::local_signer::LocalSigner;
use crate::audit::log::{IDLE_CHECKPOINT, LogConfig, integrate};
use crate::crypto::signer::{LogSigner, verify_checkpoint};
use crate::store::Condition;
use domain::clock::{Clock, ManualClock};
use domain::merkle::verify_inclusion;

const KEY: &str = "practica.example/audit";

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.example/audit/test".into(),
        key_name: KEY.into(),
        first_scan_days: 1,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

/// Writes an entry about `patients` as the request path does.
async fn entry(table: &dyn Table, clock: &ManualClock, n: i64, patients: &[&str]) {
    let now = clock.now();
    let nanos = now.as_nanosecond() + i128::from(n);
    let list = patients.iter().map(|p| AttrValue::S((*p).into())).collect();
    let item = Item::new(Key::new(
        audit_partition(domain::clock::utc_day(now)),
        audit_sort(nanos, &ulid::Ulid::new()),
    ))
    .with(attr::AT, now.as_second())
    .with(attr::ACTOR, format!("staff-{n}"))
    .with(
        attr::ROLES,
        AttrValue::L(vec![AttrValue::S("staff".into())]),
    )
    .with(attr::ACTION, "patient.read")
    .with(attr::ACTION_KIND, "read")
    .with(attr::AGENT_KIND, "user")
    .with(attr::OUTCOME, "success")
    .with(attr::PATIENT_IDS, AttrValue::L(list));
    table.put(item, Some(Condition::ItemAbsent)).await.unwrap();
}

#[tokio::test]
async fn every_leaf_has_a_proof_from_stored_subtrees_that_verifies_against_the_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(EmbeddedTable::open(&dir.path().join("t.redb")).unwrap());
    let clock = ManualClock::new("2026-11-22T10:00:00Z".parse::<jiff::Timestamp>().unwrap());
    let signer = LocalSigner::generate().unwrap();
    for n in 0..70 {
        // Patient p1 is in every third entry, p2 in a list read of 60 entries' worth.
        let mut patients = vec!["p2"];
        if n % 3 == 0 {
            patients.push("p1");
        }
        entry(&*table, &clock, n, &patients).await;
    }
    let done = integrate(&*table, &signer, &clock, &config())
        .await
        .unwrap();
    assert_eq!(done.size, 70);
    let latest = latest_checkpoint(&*table).await.unwrap().unwrap();
    let checkpoint = verify_checkpoint(&latest.note, KEY, signer.public_key()).unwrap();
    assert_eq!(checkpoint.size, 70);
    let mut cache = LeafCache::default();
    for index in 0..70 {
        let (leaf, proof) = cache.proof(&*table, index, 70).await.unwrap();
        assert!(
            verify_inclusion(index, 70, &leaf, &proof, &checkpoint.root),
            "leaf {index}"
        );
    }
    // Each patient's index holds exactly the entries naming them, with their leaf indices.
    let p1 = query_all(&*table, &Query::partition(audit_access_partition("p1")))
        .await
        .unwrap();
    assert_eq!(p1.len(), 24);
    for item in &p1 {
        let index = leaf_index_of(&*table, s(item, attr::ENTRY_PK).unwrap(), &item.key.sk)
            .await
            .unwrap();
        assert!(index.is_some_and(|i| i % 3 == 0), "{index:?}");
        assert_eq!(s(item, attr::ACTION).unwrap(), "patient.read");
        assert!(
            item.get(attr::PATIENT_IDS).is_none(),
            "no other patients' ids"
        );
    }
    let p2 = query_all(&*table, &Query::partition(audit_access_partition("p2")))
        .await
        .unwrap();
    assert_eq!(p2.len(), 70);
}

#[tokio::test]
async fn an_idle_log_signs_its_unchanged_size_again_hourly() {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(EmbeddedTable::open(&dir.path().join("t.redb")).unwrap());
    let clock = ManualClock::new("2026-11-22T10:00:00Z".parse::<jiff::Timestamp>().unwrap());
    let signer = LocalSigner::generate().unwrap();
    let checkpoints = async || {
        query_all(&*table, &Query::partition(AUDIT_LOG_CHECKPOINTS))
            .await
            .unwrap()
            .len()
    };
    // An empty log signs its empty tree once, then waits an hour.
    integrate(&*table, &signer, &clock, &config())
        .await
        .unwrap();
    assert_eq!(checkpoints().await, 1);
    entry(&*table, &clock, 0, &["p1"]).await;
    integrate(&*table, &signer, &clock, &config())
        .await
        .unwrap();
    assert_eq!(checkpoints().await, 2);
    clock.advance(jiff::SignedDuration::from_mins(59));
    integrate(&*table, &signer, &clock, &config())
        .await
        .unwrap();
    assert_eq!(checkpoints().await, 2);
    clock.advance(jiff::SignedDuration::from_mins(1));
    integrate(&*table, &signer, &clock, &config())
        .await
        .unwrap();
    assert_eq!(checkpoints().await, 3);
    let latest = latest_checkpoint(&*table).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.size, 1);
    assert_eq!(latest.checkpoint.time, Some(clock.now().as_second()));
}
