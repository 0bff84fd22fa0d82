use std::sync::Arc;

use super::*;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::local_signer::LocalSigner;
use crate::adapters::redb_witness::RedbWitnessState;
use crate::audit::log::{IDLE_CHECKPOINT, LogConfig, integrate};
use crate::crypto::cosign::{Cosigner, WitnessPolicy};
use crate::crypto::signer::LogSigner;
use crate::store::keys::{audit_partition, audit_sort};
use crate::witness::{TrustedLog, Witness, add_checkpoint};
use domain::clock::{Clock, ManualClock};

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.example/audit/test".into(),
        key_name: "practica.example/audit".into(),
        first_scan_days: 3,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

/// Witnesses in this process, by URL; any other URL cannot be reached.
struct InProcess {
    witnesses: Vec<(String, Witness)>,
}

#[async_trait]
impl WitnessClient for InProcess {
    async fn add_checkpoint(&self, url: &str, body: String) -> anyhow::Result<Answer> {
        let (_, witness) = self
            .witnesses
            .iter()
            .find(|(u, _)| u == url)
            .ok_or_else(|| anyhow::anyhow!("connection refused"))?;
        Ok(match add_checkpoint(witness, &body, 1_795_000_000)? {
            Ok(lines) => Answer {
                status: 200,
                body: lines,
            },
            Err(refusal) => Answer {
                status: refusal.status(),
                body: match refusal {
                    crate::witness::Refusal::Conflict { size } => {
                        domain::witness::size_answer(size)
                    }
                    _ => String::new(),
                },
            },
        })
    }
}

fn witness(dir: &std::path::Path, name: &str, log: &LocalSigner) -> Witness {
    Witness {
        logs: vec![TrustedLog {
            origin: config().origin,
            key_name: config().key_name,
            spki: log.public_key().to_vec(),
        }],
        state: Arc::new(
            RedbWitnessState::open(&dir.join(format!("{}.redb", name.replace('/', "-")))).unwrap(),
        ),
        cosigner: Cosigner::from_pkcs8(name, &Cosigner::generate_pkcs8().unwrap()).unwrap(),
    }
}

async fn entries(table: &EmbeddedTable, clock: &ManualClock, n: usize) {
    for i in 0..n {
        let now = clock.now();
        let item = Item::new(Key::new(
            audit_partition(domain::clock::utc_day(now)),
            audit_sort(now.as_nanosecond() + i as i128, &ulid::Ulid::new()),
        ))
        .with("action", "appointment.read")
        .with("actor", "staff-1");
        table.put(item, Some(Condition::ItemAbsent)).await.unwrap();
    }
    clock.advance(jiff::SignedDuration::from_secs(1));
}

#[tokio::test]
async fn the_latest_checkpoint_gains_each_witness_cosignature_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let table = EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
    let clock = ManualClock::new("2026-11-20T10:00:00Z".parse().unwrap());
    let log = LocalSigner::generate().unwrap();
    let (w1, w2) = (
        witness(dir.path(), "w.example/1", &log),
        witness(dir.path(), "w.example/2", &log),
    );
    let configured = vec![
        ConfiguredWitness {
            key: w1.cosigner.key().clone(),
            url: "http://w1".into(),
        },
        ConfiguredWitness {
            key: w2.cosigner.key().clone(),
            url: "http://w2".into(),
        },
        ConfiguredWitness {
            key: Cosigner::from_pkcs8("w.example/down", &Cosigner::generate_pkcs8().unwrap())
                .unwrap()
                .key()
                .clone(),
            url: "http://down".into(),
        },
    ];
    let policy = WitnessPolicy::new(configured.iter().map(|w| w.key.clone()).collect(), 2).unwrap();
    let mut client = InProcess {
        witnesses: vec![("http://w1".into(), w1), ("http://w2".into(), w2)],
    };

    entries(&table, &clock, 5).await;
    integrate(&table, &log, &clock, &config()).await.unwrap();
    let outcomes = witness_latest(&table, &client, &configured).await.unwrap();
    assert_eq!(outcomes[..2], [Witnessed::Cosigned, Witnessed::Cosigned]);
    assert!(matches!(&outcomes[2], Witnessed::Failed(why) if why.starts_with("unreachable")));
    let latest = latest_checkpoint(&table).await.unwrap().unwrap();
    assert_eq!(policy.check(&latest.note).unwrap().len(), 2);
    // The log's own signature still verifies on the cosigned note.
    crate::crypto::signer::verify_checkpoint(&latest.note, &config().key_name, log.public_key())
        .unwrap();
    // Nothing new: nothing sent again.
    let again = witness_latest(&table, &client, &configured).await.unwrap();
    assert_eq!(again[..2], [Witnessed::Already, Witnessed::Already]);

    // The log grows: each witness gets the consistency proof from the size it cosigned.
    entries(&table, &clock, 40).await;
    integrate(&table, &log, &clock, &config()).await.unwrap();
    let outcomes = witness_latest(&table, &client, &configured).await.unwrap();
    assert_eq!(outcomes[..2], [Witnessed::Cosigned, Witnessed::Cosigned]);
    let latest = latest_checkpoint(&table).await.unwrap().unwrap();
    assert_eq!(latest.checkpoint.size, 45);
    assert!(policy.check(&latest.note).is_ok());

    // A witness that lost its state (restored from an old backup) answers 409 with its size;
    // the next request starts from there.
    client.witnesses[1].1 = witness(&dir.path().join("fresh"), "w.example/2", &log);
    let fresh_key = client.witnesses[1].1.cosigner.key().clone();
    let mut reconfigured = configured.clone();
    reconfigured[1].key = fresh_key;
    entries(&table, &clock, 3).await;
    integrate(&table, &log, &clock, &config()).await.unwrap();
    let outcomes = witness_latest(&table, &client, &reconfigured)
        .await
        .unwrap();
    assert_eq!(outcomes[..2], [Witnessed::Cosigned, Witnessed::Cosigned]);
}

#[tokio::test]
async fn a_witness_that_saw_another_history_does_not_cosign_this_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = LocalSigner::generate().unwrap();
    let clock = ManualClock::new("2026-11-20T10:00:00Z".parse().unwrap());
    let w = witness(dir.path(), "w.example/1", &log);
    let configured = vec![ConfiguredWitness {
        key: w.cosigner.key().clone(),
        url: "http://w1".into(),
    }];
    let client = InProcess {
        witnesses: vec![("http://w1".into(), w)],
    };
    // Two tables, one key: the practice (or whoever holds its account) showing two histories.
    let shown = EmbeddedTable::open(&dir.path().join("a.redb")).unwrap();
    let forked = EmbeddedTable::open(&dir.path().join("b.redb")).unwrap();
    for table in [&shown, &forked] {
        entries(table, &clock, 6).await;
        integrate(table, &log, &clock, &config()).await.unwrap();
    }
    assert_eq!(
        witness_latest(&shown, &client, &configured).await.unwrap(),
        [Witnessed::Cosigned]
    );
    let outcome = witness_latest(&forked, &client, &configured).await.unwrap();
    assert!(matches!(&outcome[0], Witnessed::Failed(_)), "{outcome:?}");
    let note = latest_checkpoint(&forked).await.unwrap().unwrap().note;
    assert!(
        WitnessPolicy::new(vec![configured[0].key.clone()], 1)
            .unwrap()
            .check(&note)
            .is_err()
    );
    // Grown past the size the witness holds, the fork has no consistency proof from it.
    entries(&forked, &clock, 4).await;
    integrate(&forked, &log, &clock, &config()).await.unwrap();
    let outcome = witness_latest(&forked, &client, &configured).await.unwrap();
    assert!(
        matches!(&outcome[0], Witnessed::Failed(why) if why.contains("409") || why.contains("422")),
        "{outcome:?}"
    );
}
