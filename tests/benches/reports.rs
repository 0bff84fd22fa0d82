//! Monthly report benchmark, on the embedded store: a practice-sized month (October 2026, America/
//! New_York): 10,000 appointments, 10,000 payments on 10,000 charges of 2,000 patients, and 200,000
//! audit entries in all (the bookings' and payments' own, and staff reads of patient records), the
//! log integrated and signed. Then, in a fresh process over that store, the reports function's job
//! (verify the whole log, collect, compute, render, publish): its wall time and the process's peak
//! resident memory. Targets: under 10 s and under 200 MB (the function has 256 MB). Then, in
//! another fresh process, the local restore drill over the same practice (the store is laid out as
//! a `practica serve` data dir): `practica backup` of it, `practica restore` into a new dir, which
//! verifies the whole audit log and reads the table: each step's time (the proposed rule's target
//! is 72 hours). Run with `scripts/bench`.

use std::sync::Arc;
use std::time::Instant;

use domain::booking::{Appointment, Limits, Practice, Provider, Status};
use domain::clock::ManualClock;
use domain::ids::{AppointmentId, ChargeId, PatientId, PaymentId, ProviderId, ServiceId};
use domain::ledger::{Charge, Payment};
use domain::money::{Currency, Money};
use domain::progress::{CardChecks, CheckResult, Failure, PaymentStatus, Progress, Stamp};
use domain::report::Period;
use shared::adapters::dir_reports::DirReports;
use shared::adapters::embedded::EmbeddedTable;
use shared::audit::log::{LogConfig, integrate};
use shared::crypto::signer::LogSigner;
use shared::store::codec::booking::{AppointmentCodec, PracticeCodec, ProviderCodec};
use shared::store::codec::payments::{ChargeCodec, PaymentCodec};
use shared::store::keys::{audit_entity_index, audit_partition, audit_sort};
use shared::store::{AttrValue, Item, Key, Table, TransactOp};

/// The reports function's allocator (see its `main.rs`), so the job is measured as it runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APPOINTMENTS: usize = 10_000;
const PAYMENTS: usize = 10_000;
const ENTRIES: usize = 200_000;
const PATIENTS: usize = 2_000;
/// 2026-10-01 04:00 UTC: midnight in New York.
const MONTH_START: i64 = 1_790_827_200;
const MONTH_SECS: i64 = 31 * 86_400;

/// The data dir's own log identity (`practica serve`'s), so the restore drill verifies it as
/// `practica restore` does.
fn log_config() -> LogConfig {
    practica_cli::local::local_config(shared::app::LOCAL_TABLE_NAME)
}

fn clock_at(t: i64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        jiff::Timestamp::from_second(t).expect("time"),
    ))
}

/// An audit entry by `actor` in `role`, about `(entity, id)` and `patient`.
fn entry(
    n: usize,
    at: i64,
    (actor, role): (&str, &str),
    action: &str,
    (entity, id): (&str, &str),
    patient: &str,
) -> Item {
    let when = jiff::Timestamp::from_second(at).expect("time");
    let sort = audit_sort(
        i128::from(at) * 1_000_000_000 + n as i128,
        &ulid::Ulid::new(),
    );
    Item::new(Key::new(
        audit_partition(domain::clock::utc_day(when)),
        sort.clone(),
    ))
    .with("gsi1pk", audit_entity_index(entity, id))
    .with("gsi1sk", sort)
    .with("at", at)
    .with("actor", actor)
    .with("roles", AttrValue::L(vec![AttrValue::S(role.into())]))
    .with("action", action)
    .with("entity", entity)
    .with("entity_id", id)
    .with("action_kind", domain::audit::ActionKind::of(action).code())
    .with("agent_kind", "user")
    .with(
        "patient_ids",
        AttrValue::L(vec![AttrValue::S(patient.into())]),
    )
    .with("outcome", "success")
    .with("request_id", ulid::Ulid::new().to_string())
    .with("source_function", "booking")
}

async fn write(table: &dyn Table, items: Vec<Item>) {
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let ops = items
            .by_ref()
            .take(100)
            .map(|item| TransactOp::Put {
                item,
                condition: None,
            })
            .collect();
        table.transact_write(ops).await.expect("write");
    }
}

async fn load(dir: &std::path::Path) {
    let table = EmbeddedTable::open(&dir.join("practica.redb")).expect("embedded");
    let zone = jiff::tz::TimeZone::get("America/New_York").expect("zone");
    let practice = Practice {
        name: "Riverside Family Therapy".into(),
        zone,
        hold_minutes: 5,
        waitlist_offer_minutes: 60,
        limits: Limits::default(),
        notifications: Default::default(),
        contact: Default::default(),
        auto_no_show_minutes: None,
        visit_room: Default::default(),
    };
    let providers: Vec<Provider> = (0..4)
        .map(|i| Provider {
            id: ProviderId::new(),
            name: format!("Provider {i}"),
            subject: None,
            rules: practica_cli::demo::weekday_rules(8, 18),
        })
        .collect();
    let mut items = vec![practice.to_item()];
    items.extend(providers.iter().map(|p| p.to_item().expect("provider")));
    let service = ServiceId::new();
    let patient = |n: usize| PatientId::parse(&format!("patient-{}", n % PATIENTS)).expect("id");
    let step = MONTH_SECS / ENTRIES as i64;
    let mut n = 0usize;
    // Appointments, booked during the month for a start up to two weeks later.
    for i in 0..APPOINTMENTS {
        let created = MONTH_START + (i as i64 * MONTH_SECS / APPOINTMENTS as i64);
        let start = (created + 86_400 + (i as i64 % 14) * 86_400) / 900 * 900;
        let a = Appointment {
            id: AppointmentId::new(),
            patient: patient(i),
            provider: providers[i % providers.len()].id.clone(),
            service: service.clone(),
            start,
            end: start + 1800,
            occupied: (start, start + 2400),
            status: if i % 10 == 0 {
                Status::Cancelled
            } else {
                Status::Booked
            },
            version: 1,
            created_at: created,
            quota_slot: None,
            from_hold: None,
            series: None,
            terms: None,
            by_practice: false,
            deposit: None,
            online: false,
        };
        let p = a.patient.to_string();
        items.push(entry(
            n,
            created,
            (&p, "patient"),
            "appointment.create",
            ("appointment", a.id.as_str()),
            &p,
        ));
        n += 1;
        items.push(a.to_item(None));
    }
    // Payments: 92% succeed within minutes, the rest are declined; some refunded.
    let usd = Currency::parse("USD").expect("USD");
    for i in 0..PAYMENTS {
        let created = MONTH_START + (i as i64 * MONTH_SECS / PAYMENTS as i64);
        let charge = Charge {
            id: ChargeId::new(),
            patient: patient(i),
            currency: usd,
            total: 15_000,
            appointment: None,
            adjusts: None,
            created_at: created - 3600,
            sealed_lines: vec![0; 64],
            fee: None,
            waiver: None,
        };
        let stamp = |rank| Stamp {
            rank,
            created: created + 60 + (i as i64 % 240),
            event_id: format!("evt_{i}"),
        };
        let declined = i % 12 == 0;
        let progress = Progress {
            status: if declined {
                PaymentStatus::Failed
            } else {
                PaymentStatus::Succeeded
            },
            checks: Some((
                CardChecks {
                    card: None,
                    address_line1: CheckResult::Pass,
                    postal_code: if i % 7 == 0 {
                        CheckResult::Fail
                    } else {
                        CheckResult::Pass
                    },
                    cvc: CheckResult::Pass,
                },
                stamp(PaymentStatus::Succeeded),
            )),
            failure: declined.then(|| {
                (
                    Failure {
                        code: "card_declined".into(),
                        decline_code: Some("insufficient_funds".into()),
                    },
                    stamp(PaymentStatus::RequiresPayment),
                )
            }),
            refunded: if i % 50 == 0 { 5_000 } else { 0 },
            succeeded_at: (!declined).then(|| created + 60 + (i as i64 % 240)),
            refunds: Default::default(),
            disputes: Default::default(),
        };
        let payment = Payment {
            id: PaymentId::new(),
            patient: charge.patient.clone(),
            intent: format!("pi_{i}"),
            amount: Money::new(15_000, usd).expect("money"),
            charges: vec![charge.id.clone()],
            progress,
            version: 2,
            created_at: created,
            deposit_for: None,
        };
        let p = payment.patient.to_string();
        items.push(entry(
            n,
            created,
            (&p, "patient"),
            "payment.create",
            ("payment", payment.id.as_str()),
            &p,
        ));
        n += 1;
        items.push(charge.to_item());
        items.push(payment.to_item());
    }
    // The rest: staff reading patients' records through the month, around the clock.
    let staff: Vec<String> = (0..12).map(|s| format!("staff-{s}")).collect();
    while n < ENTRIES {
        let at = MONTH_START + n as i64 * step;
        let p = patient(n * 7).to_string();
        items.push(entry(
            n,
            at,
            (&staff[n % staff.len()], "staff"),
            "patient.read",
            ("patient", &p),
            &p,
        ));
        n += 1;
    }
    let t = Instant::now();
    let count = items.len();
    write(&table, items).await;
    println!(
        "reports benchmark: {count} items written in {:.1?}",
        t.elapsed()
    );
    let signer = practica_cli::local::signer(dir).expect("signer");
    let clock = clock_at(MONTH_START + MONTH_SECS + 3600);
    // One run integrates a bounded batch (as the audit function does every minute): runs until
    // the log holds every entry, so the report's verification finds the whole month sealed.
    let t = Instant::now();
    let mut runs = 0;
    let size = loop {
        let done = integrate(&table, &signer, &*clock, &log_config())
            .await
            .expect("integrate");
        runs += 1;
        if done.added == 0 {
            break done.size;
        }
    };
    println!(
        "audit log: {size} entries integrated in {:.1?} ({runs} runs)",
        t.elapsed()
    );
    shared::audit::archive::archive_latest(&table, &practica_cli::local::archive(dir))
        .await
        .expect("archive");
}

/// The reports function's job over the store in `dir`, in this process: its time, and this
/// process's peak resident set.
async fn job(dir: &std::path::Path) {
    let table = Arc::new(EmbeddedTable::open(&dir.join("practica.redb")).expect("embedded"));
    let signer = practica_cli::local::signer(dir).expect("signer");
    let job = reports::ReportJob {
        table,
        clock: clock_at(MONTH_START + MONTH_SECS + 6 * 3600),
        store: Arc::new(DirReports::new(dir.join("reports"))),
        archive: Arc::new(practica_cli::local::archive(dir)),
        log: log_config(),
        spki: signer.public_key().to_vec(),
        directory: None,
    };
    let zone = jiff::tz::TimeZone::get("America/New_York").expect("zone");
    let month = Period::new(
        "2026-10-01".parse().expect("date"),
        "2026-11-01".parse().expect("date"),
        &zone,
    )
    .expect("period");
    let t = Instant::now();
    job.verification().await.expect("verify");
    let verified = t.elapsed();
    println!(
        "  peak resident memory after the verification alone: {}",
        peak_rss()
    );
    let t = Instant::now();
    let manifest = job.report(&month).await.expect("report");
    let total = t.elapsed();
    let json = std::fs::read(dir.join("reports").join(&manifest.id).join("report.json"));
    let report: serde_json::Value = serde_json::from_slice(&json.expect("json")).expect("json");
    let html = std::fs::metadata(dir.join("reports").join(&manifest.id).join("report.html"))
        .expect("html")
        .len();
    let peak = peak_rss();
    println!(
        "monthly report {}: {}",
        manifest.id, report["auditLog"]["verification"]
    );
    println!(
        "  the job (verify the log, collect, compute, render, publish): {total:.2?} (target < 10 s); the verification alone, before it: {verified:.2?}"
    );
    println!(
        "  report.html {html} bytes; peak resident memory of the job's process: {peak} (target < 200 MB)"
    );
}

/// This process's peak resident set (`VmHWM`).
fn peak_rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The restore drill over the practice in `dir`: back it up, restore it into a new dir, verify.
async fn drill(dir: &std::path::Path) {
    let phrase = "bench passphrase, long enough";
    let out = dir.with_extension("backup");
    let t = Instant::now();
    let summary = practica_cli::backup::backup(dir, &out, phrase).expect("backup");
    let backup_time = t.elapsed();
    let size = std::fs::metadata(&out).expect("the backup").len();
    let target = dir.with_extension("restored");
    let t = Instant::now();
    let restored = practica_cli::backup::restore(&out, &target, phrase)
        .await
        .expect("restore");
    let restore_time = t.elapsed();
    assert!(restored.audit_ok, "{:?}", restored.problems);
    println!(
        "restore drill: backup of {} files ({:.1} MB) in {backup_time:.1?}, a {:.1} MB encrypted file; \
         restore and verification ({} table items, an audit log of {} entries: OK) in {restore_time:.1?}; \
         {:.1?} in all, peak RSS {}",
        summary.files,
        summary.bytes as f64 / 1e6,
        size as f64 / 1e6,
        restored.items,
        restored.audit_entries,
        backup_time + restore_time,
        peak_rss()
    );
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_dir_all(&target);
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--job") {
        job(std::path::Path::new(&args[at + 1])).await;
        return;
    }
    if let Some(at) = args.iter().position(|a| a == "--drill") {
        drill(std::path::Path::new(&args[at + 1])).await;
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    load(&data).await;
    for step in ["--job", "--drill"] {
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .arg(step)
            .arg(&data)
            .status()
            .expect("the step's process");
        assert!(status.success(), "{step}");
    }
}
