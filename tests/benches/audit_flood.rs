//! Audit integration of a flooded day, on the embedded store: yesterday holds 1,000,000 entries
//! (`PRACTICA_FLOOD_ENTRIES` to change it); integration runs one after another, each in a process
//! of its own as on Lambda (opening the table, one `integrate`, exit), until the log holds them
//! all. Prints each run's wall time and peak resident memory (VmHWM), and the worst of each: a run
//! is bounded by its pages, whatever the day holds. Run with `scripts/bench` (or `cargo bench -p
//! practica-tests --bench audit_flood`).

use std::path::Path;
use std::time::{Duration, Instant};

use domain::clock::{Clock, SystemClock};
use shared::adapters::embedded::EmbeddedTable;
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{LogConfig, integrate};
use shared::store::keys::{audit_partition, audit_sort};
use shared::store::{AttrValue, Item, Key, Table, TransactOp};

fn config() -> LogConfig {
    LogConfig {
        origin: "practica.example/audit/bench".into(),
        key_name: "practica.example/audit".into(),
        first_scan_days: 1,
        idle_checkpoint: shared::audit::log::IDLE_CHECKPOINT,
    }
}

/// This process's peak resident memory, in KiB.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// One integration run, as the audit function's invocation does it; prints `added size ms kib`.
async fn one_run(db: &Path) {
    let table = EmbeddedTable::open(db).expect("table");
    let signer = LocalSigner::generate().expect("signer");
    let t = Instant::now();
    let done = integrate(&table, &signer, &SystemClock, &config())
        .await
        .expect("integrate");
    println!(
        "{} {} {} {}",
        done.added,
        done.size,
        t.elapsed().as_millis(),
        peak_kib()
    );
}

async fn fill(db: &Path, entries: usize) {
    let table = EmbeddedTable::open(db).expect("table");
    let yesterday = SystemClock.now() - jiff::SignedDuration::from_hours(24);
    let base = domain::clock::utc_start(domain::clock::utc_day(yesterday)).as_nanosecond();
    // Spread over the day, 100 to a transaction: refusals as a flood of them would leave.
    let step = 86_399_000_000_000 / entries as i128;
    for chunk in 0..entries.div_ceil(100) {
        let ops = (chunk * 100..((chunk + 1) * 100).min(entries))
            .map(|i| {
                let at = base + i as i128 * step;
                TransactOp::Put {
                    item: Item::new(Key::new(
                        audit_partition(domain::clock::utc_day(yesterday)),
                        audit_sort(at, &ulid::Ulid::new()),
                    ))
                    .with("at", (at / 1_000_000_000) as i64)
                    .with("actor", "8f14e45f-ceea-467a-9af0-123456789abc")
                    .with("roles", AttrValue::L(vec![AttrValue::S("patient".into())]))
                    .with("action", "patient.read")
                    .with("entity", "patient")
                    .with("entity_id", format!("patient-{i}"))
                    .with("action_kind", "read")
                    .with("agent_kind", "user")
                    .with("patient_ids", AttrValue::L(Vec::new()))
                    .with("outcome", "denied")
                    .with("request_id", ulid::Ulid::new().to_string())
                    .with("source_function", "booking"),
                    condition: None,
                }
            })
            .collect();
        table.transact_write(ops).await.expect("entries");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--one-run") {
        one_run(Path::new(&args[2])).await;
        return;
    }
    let entries: usize = std::env::var("PRACTICA_FLOOD_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("flood.redb");
    let t = Instant::now();
    fill(&db, entries).await;
    println!(
        "audit flood: {entries} entries in yesterday's partition, written in {:.1?}",
        t.elapsed()
    );
    let me = std::env::current_exe().expect("this benchmark");
    let (mut runs, mut longest, mut peak) = (0u32, Duration::ZERO, 0u64);
    let mut size;
    let t = Instant::now();
    loop {
        let out = std::process::Command::new(&me)
            .arg("--one-run")
            .arg(&db)
            .output()
            .expect("a run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let f: Vec<u64> = line
            .split_whitespace()
            .map(|v| v.parse().expect("a figure"))
            .collect();
        let (added, took, kib) = (f[0], Duration::from_millis(f[2]), f[3]);
        size = f[1];
        runs += 1;
        longest = longest.max(took);
        peak = peak.max(kib);
        if runs <= 3 || added == 0 {
            println!(
                "run {runs}: {added} added, log size {size}, {took:.2?}, peak {:.1} MiB",
                kib as f64 / 1024.0
            );
        }
        if added == 0 {
            break;
        }
    }
    assert_eq!(size as usize, entries, "every entry is in the log");
    println!(
        "integrated {entries} entries in {runs} runs, {:.1?} in all: the longest run {longest:.2?}, \
         the highest peak {:.1} MiB (targets: 30 s, 128 MB)",
        t.elapsed(),
        peak as f64 / 1024.0
    );
}
