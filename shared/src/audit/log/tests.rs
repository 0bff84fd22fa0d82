use std::sync::Arc;

use async_trait::async_trait;

use super::*;
use crate::adapters::embedded::EmbeddedTable;
use crate::adapters::local_signer::LocalSigner;
use crate::audit::verify::Problem;
use crate::crypto::KeyError;
use domain::clock::ManualClock;

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.example/audit/test".into(),
        key_name: "practica.example/audit".into(),
        first_scan_days: 3,
        idle_checkpoint: crate::audit::log::IDLE_CHECKPOINT,
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    table: Arc<EmbeddedTable>,
    clock: ManualClock,
    signer: LocalSigner,
    written: u64,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let table = Arc::new(EmbeddedTable::open(&dir.path().join("t.redb")).unwrap());
    let start = "2026-11-20T10:00:00Z".parse::<jiff::Timestamp>().unwrap();
    Fixture {
        _dir: dir,
        table,
        clock: ManualClock::new(start),
        signer: LocalSigner::generate().unwrap(),
        written: 0,
    }
}

impl Fixture {
    /// Writes `n` audit entries now, as the request path does.
    async fn entries(&mut self, n: u64) {
        for _ in 0..n {
            let now = self.clock.now();
            let id = ulid::Ulid::new();
            let nanos = now.as_nanosecond() + i128::from(self.written);
            let item = Item::new(Key::new(
                audit_partition(domain::clock::utc_day(now)),
                audit_sort(nanos, &id),
            ))
            .with("action", "appointment.read")
            .with("actor", "staff-1")
            .with("n", self.written.cast_signed());
            self.table
                .put(item, Some(Condition::ItemAbsent))
                .await
                .unwrap();
            self.written += 1;
        }
    }

    async fn integrate(&self) -> Result<Integrated, ApiError> {
        integrate(&*self.table, &self.signer, &self.clock, &config()).await
    }

    async fn verify(&self) -> Report {
        let spki = self.signer.public_key();
        verify_table(&*self.table, &self.clock, &config(), spki, &[])
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn entries_are_integrated_once_across_days_and_the_log_verifies() {
    let mut f = fixture();
    f.entries(7).await;
    f.clock.advance(jiff::SignedDuration::from_hours(24));
    f.entries(100).await; // more than one batch
    let done = f.integrate().await.unwrap();
    assert_eq!(
        done,
        Integrated {
            added: 107,
            size: 107
        }
    );
    let report = f.verify().await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!((report.tree_size, report.checkpointed_size), (107, 107));
    // Again: nothing new, nothing written.
    assert_eq!(
        f.integrate().await.unwrap(),
        Integrated {
            added: 0,
            size: 107
        }
    );
    f.clock.advance(jiff::SignedDuration::from_hours(24));
    f.entries(3).await;
    assert_eq!(
        f.integrate().await.unwrap(),
        Integrated {
            added: 3,
            size: 110
        }
    );
    assert!(f.verify().await.ok());
}

#[tokio::test]
async fn racing_integrations_cannot_fork_or_duplicate_the_log() {
    let mut f = fixture();
    f.entries(30).await;
    let (a, b) = tokio::join!(f.integrate(), f.integrate());
    let landed = [&a, &b].iter().filter(|r| r.is_ok()).count();
    assert!(landed >= 1, "{a:?} {b:?}");
    for r in [a, b] {
        match r {
            Ok(done) => assert!(done.size == 30),
            Err(ApiError::Unavailable { code, .. }) => assert_eq!(code, "storage_busy"),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(
        f.integrate().await.unwrap(),
        Integrated { added: 0, size: 30 }
    );
    let report = f.verify().await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.tree_size, 30);
}

#[tokio::test]
async fn tampering_on_the_table_is_reported() {
    let mut f = fixture();
    f.entries(10).await;
    f.integrate().await.unwrap();
    let day = audit_partition(domain::clock::utc_day(f.clock.now()));
    let mut entries = query_all(&*f.table, &Query::partition(day)).await.unwrap();
    // One entry edited in place, one deleted, one inserted after the fact.
    let edited = entries.remove(4).with("actor", "someone-else");
    f.table.put(edited.clone(), None).await.unwrap();
    let deleted = entries.remove(0);
    f.table.delete(&deleted.key, None).await.unwrap();
    f.entries(1).await;
    // Within the allowed lag the late entry may still be integrated; past it, it is reported.
    assert_eq!(f.verify().await.pending, 1);
    f.clock
        .advance(ALLOWED_LAG + jiff::SignedDuration::from_secs(1));
    let problems = f.verify().await.problems;
    let name = |i: &Item| entry_name(&i.key.pk, &i.key.sk);
    assert!(
        problems.contains(&Problem::EntryEdited {
            index: 4,
            entry: name(&edited)
        }),
        "{problems:?}"
    );
    assert!(problems.contains(&Problem::EntryDeleted {
        index: 0,
        entry: name(&deleted)
    }));
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::EntryNotInLog { .. }))
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

#[tokio::test]
async fn a_head_rolled_back_is_reported_and_integration_cannot_overwrite_leaves() {
    let mut f = fixture();
    f.entries(10).await;
    f.integrate().await.unwrap();
    let head = f
        .table
        .get(&audit_log_head(), Consistency::Strong)
        .await
        .unwrap()
        .unwrap();
    // The head as it was before the last integration: size 0, version 0 (no head at all).
    f.table.delete(&head.key, None).await.unwrap();
    f.entries(2).await;
    assert!(
        f.integrate().await.is_err(),
        "leaf 0 exists: nothing is overwritten"
    );
    // A head claiming fewer leaves than are stored.
    f.table
        .put(head.clone().with(attr::TREE_SIZE, 4i64), None)
        .await
        .unwrap();
    let problems = f.verify().await.problems;
    assert!(
        problems.contains(&Problem::HeadMismatch {
            head: 4,
            leaves: 10
        }),
        "{problems:?}"
    );
}

/// A table whose first batch transaction (the one that moves the head) fails after the writes
/// before it landed: a crash between the access-index copies and the batch.
struct CrashOnce {
    inner: Arc<EmbeddedTable>,
    crashed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl Table for CrashOnce {
    async fn get(&self, key: &Key, c: Consistency) -> Result<Option<Item>, TableError> {
        self.inner.get(key, c).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.inner.delete(key, condition).await
    }
    async fn update(
        &self,
        key: &Key,
        update: crate::store::Update,
        condition: Option<Condition>,
    ) -> Result<Item, TableError> {
        self.inner.update(key, update, condition).await
    }
    async fn query(&self, query: &Query) -> Result<crate::store::Page, TableError> {
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        let batch = ops.iter().any(|op| *op.key() == audit_log_head());
        if batch && !self.crashed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(TableError::Unavailable(anyhow::anyhow!("crashed")));
        }
        self.inner.transact_write(ops).await
    }
}

#[tokio::test]
async fn a_crash_before_the_batch_lands_leaves_no_gap_and_no_duplicate_on_retry() {
    let mut f = fixture();
    f.entries(5).await;
    // Name a patient in each entry, so the access index is written before the transaction.
    let day = audit_partition(domain::clock::utc_day(f.clock.now()));
    for item in query_all(&*f.table, &Query::partition(day)).await.unwrap() {
        let named = item.with(
            attr::PATIENT_IDS,
            AttrValue::L(vec![AttrValue::S("patient-1".into())]),
        );
        f.table.put(named, None).await.unwrap();
    }
    let crashing = CrashOnce {
        inner: f.table.clone(),
        crashed: false.into(),
    };
    assert!(
        integrate(&crashing, &f.signer, &f.clock, &config())
            .await
            .is_err()
    );
    assert_eq!(f.verify().await.tree_size, 0);
    let done = integrate(&crashing, &f.signer, &f.clock, &config())
        .await
        .unwrap();
    assert_eq!(done, Integrated { added: 5, size: 5 });
    let report = f.verify().await;
    assert!(report.ok(), "{:?}", report.problems);
    let index = query_all(
        &*f.table,
        &Query::partition(audit_access_partition("patient-1")),
    )
    .await
    .unwrap();
    assert_eq!(index.len(), 5, "each entry's copy once");
}

/// A key service that is down.
struct Down;

#[async_trait]
impl LogSigner for Down {
    fn public_key(&self) -> &[u8] {
        &[]
    }

    async fn sign(&self, _: &[u8]) -> Result<Vec<u8>, KeyError> {
        Err(KeyError::Unavailable(anyhow::anyhow!("KMS is down")))
    }
}

#[tokio::test]
async fn with_the_key_service_down_nothing_is_integrated_and_entries_wait() {
    let mut f = fixture();
    f.entries(5).await;
    let down = integrate(&*f.table, &Down, &f.clock, &config()).await;
    assert!(
        matches!(down, Err(ApiError::Unavailable { .. })),
        "{down:?}"
    );
    let report = f.verify().await;
    assert_eq!(report.tree_size, 0);
    assert_eq!((report.pending, report.problems.len()), (5, 0));
    // Down for longer than the allowed lag: the verifier reports every waiting entry.
    f.clock
        .advance(ALLOWED_LAG + jiff::SignedDuration::from_secs(1));
    let report = f.verify().await;
    assert_eq!(
        report.problems.len(),
        5,
        "every entry waits: {:?}",
        report.problems
    );
    assert_eq!(
        f.integrate().await.unwrap(),
        Integrated { added: 5, size: 5 }
    );
    assert!(f.verify().await.ok());
}

/// Writes `n` entries at the clock's instant, a transaction's worth at a time (a flooded day).
async fn flood(f: &mut Fixture, n: u64) {
    let now = f.clock.now();
    let mut left = n;
    while left > 0 {
        let chunk = left.min(crate::store::MAX_TRANSACT_ITEMS as u64);
        let ops = (0..chunk)
            .map(|i| {
                let nanos = now.as_nanosecond() + i128::from(f.written + i);
                TransactOp::Put {
                    item: Item::new(Key::new(
                        audit_partition(domain::clock::utc_day(now)),
                        audit_sort(nanos, &ulid::Ulid::new()),
                    ))
                    .with("action", "patient.read")
                    .with("outcome", "denied"),
                    condition: Some(Condition::ItemAbsent),
                }
            })
            .collect();
        f.table.transact_write(ops).await.unwrap();
        f.written += chunk;
        left -= chunk;
    }
}

/// A day holding more than a run may read is integrated over several runs, each bounded, each
/// resuming where the last stopped; nothing is skipped or integrated twice.
#[tokio::test]
async fn a_flooded_day_is_integrated_in_bounded_runs_that_resume() {
    let mut f = fixture();
    let per_run = PAGES_PER_RUN as u64 * u64::from(PAGE);
    flood(&mut f, per_run + 300).await;
    f.clock.advance(SETTLE + jiff::SignedDuration::from_mins(1));
    let first = f.integrate().await.unwrap();
    // The empty days of its look-back cost no page.
    assert_eq!(first.added, per_run, "one run reads at most its pages");
    f.entries(2).await; // written meanwhile, after the flood
    let mut runs = 1;
    loop {
        let done = f.integrate().await.unwrap();
        assert!(
            done.added <= per_run,
            "one run reads at most its pages: {done:?}"
        );
        if done.added == 0 {
            break;
        }
        runs += 1;
    }
    assert_eq!(runs, 2);
    let report = f.verify().await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.tree_size, per_run + 302);
}

/// The cursor stays [`SETTLE`] behind the clock: an entry whose transaction lands after a run,
/// with a time a moment before that run's newest entry, is still integrated; one that lands
/// later than the settle window is not, and the verifier reports it once the lag allowed has
/// passed.
#[tokio::test]
async fn late_entries_within_the_settle_window_are_integrated_and_later_ones_reported() {
    let mut f = fixture();
    f.entries(5).await;
    f.clock.advance(jiff::SignedDuration::from_mins(1));
    f.entries(1).await;
    assert_eq!(f.integrate().await.unwrap().added, 6);
    // An entry timed 30 s before the newest one, landing only now.
    let late_at = f.clock.now() - jiff::SignedDuration::from_secs(30);
    let late = |at: jiff::Timestamp, n: i64| {
        Item::new(Key::new(
            audit_partition(domain::clock::utc_day(at)),
            audit_sort(at.as_nanosecond(), &ulid::Ulid::new()),
        ))
        .with("action", "appointment.read")
        .with("n", n)
    };
    f.table
        .put(late(late_at, 1), Some(Condition::ItemAbsent))
        .await
        .unwrap();
    assert_eq!(f.integrate().await.unwrap().added, 1);
    // Much later, the cursor has passed these times; an entry timed then, landing now, stays out
    // of the log and is reported.
    f.clock.advance(SETTLE + jiff::SignedDuration::from_mins(1));
    f.entries(1).await;
    assert_eq!(f.integrate().await.unwrap().added, 1);
    f.table
        .put(late(late_at, 2), Some(Condition::ItemAbsent))
        .await
        .unwrap();
    assert_eq!(f.integrate().await.unwrap().added, 0);
    f.clock.advance(ALLOWED_LAG);
    let report = f.verify().await;
    assert!(
        report
            .problems
            .iter()
            .any(|p| matches!(p, Problem::EntryNotInLog { .. })),
        "{:?}",
        report.problems
    );
}
