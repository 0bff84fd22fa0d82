//! Cold starts of the release binaries, run as Lambda runs them (`support/deployed.rs`: the
//! template's variables, DynamoDB Local, moto, local token issuers and processor), per function:
//! - artifact: the `bootstrap` binary and its zip (`cargo lambda build --release`);
//! - init: from exec to the first `invocation/next` (configuration, SDK clients, secrets and keys
//!   read at start);
//! - first invocation: the first event's round trip through the Runtime API (connections opened,
//!   token keys fetched, data keys unwrapped);
//! - steady state: the following invocations of the same event;
//! - peak RSS: the process's high-water mark (`VmHWM`) after them.
//!
//! Each function runs twice: with the machine's trust store as it is, and with the store laid out as
//! on Lambda's `provided.al2023` (one bundle file, a near-empty directory). rustls-native-certs reads
//! every file of the certificate directory at each TLS client's construction: 292 files on these
//! Debian machines (about 5 ms each time), 3 on AL2023.
//!
//! A third run, on the AL2023-like store, turns off the table's pre-opening
//! (`PRACTICA_PREOPEN_TABLE=false`): what the read at init costs there, and what it saves the first
//! invocation (over loopback and plain HTTP, so without the TLS handshake it saves on AWS).
//!
//! Run by `scripts/bench` (which builds the binaries and starts the emulators).

use std::time::{Duration, Instant};

use practica_tests::deployed::{fixture, resign, world};
use practica_tests::runtime_api::{RuntimeApi, lambda_dir};
use shared::auth::Role;

const COLD_STARTS: usize = 10;
const WARM_INVOCATIONS: usize = 20;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The representative event of each function, fresh for each invocation.
fn event(function: &str, tokens: &Tokens) -> serde_json::Value {
    let provider = tokens.provider.as_str();
    let service = tokens.service.as_str();
    match function {
        "booking" => fixture(
            "apigw-v2-getAvailability.json",
            &[
                ("{{TOKEN}}", &tokens.patient),
                ("{{PROVIDER_ID}}", provider),
                ("{{SERVICE_ID}}", service),
            ],
        ),
        "payments" => fixture(
            "apigw-v2-getBalance.json",
            &[("{{TOKEN}}", &tokens.patient)],
        ),
        "webhooks" => resign(fixture("apigw-v2-standardWebhook.json", &[])),
        "reports" => fixture("apigw-v2-listReports.json", &[("{{TOKEN}}", &tokens.admin)]),
        "sweep" => fixture("schedule-sweep.json", &[]),
        "audit" => fixture("schedule-audit.json", &[]),
        "notify" => fixture("schedule-notify.json", &[]),
        other => panic!("no event for {other}"),
    }
}

struct Tokens {
    patient: String,
    admin: String,
    provider: String,
    service: String,
}

#[tokio::main]
async fn main() {
    let world = world()
        .await
        .expect("the emulators: run this with scripts/bench");
    let demo = practica_cli::demo::seed(&world.state).await.unwrap();
    let tokens = Tokens {
        patient: world.patient_token("patient-jane", &[]),
        admin: world.token("admin-1", Role::Admin),
        provider: demo.providers[0].to_string(),
        service: demo.services[1].to_string(),
    };
    println!(
        "cold starts: {COLD_STARTS} per function, then {WARM_INVOCATIONS} invocations each \
         (release binaries, x86_64, against DynamoDB Local and moto over loopback)"
    );
    println!(
        "{:<9} {:>8} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}",
        "function",
        "binary",
        "zip",
        "init p50",
        "init max",
        "1st p50",
        "warm p50",
        "warm p90",
        "RSS max"
    );
    let bundle = [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
    ]
    .into_iter()
    .find(|p| std::path::Path::new(p).is_file())
    .expect("a CA bundle");
    let empty = tempfile::tempdir().unwrap();
    let lambda_like = vec![
        ("SSL_CERT_FILE".to_owned(), bundle.to_owned()),
        (
            "SSL_CERT_DIR".to_owned(),
            empty.path().display().to_string(),
        ),
    ];
    let mut not_preopened = lambda_like.clone();
    not_preopened.push(("PRACTICA_PREOPEN_TABLE".to_owned(), "false".to_owned()));
    let setups = [
        ("trust store: this machine's", Vec::new()),
        ("trust store: AL2023-like", lambda_like),
        (
            "trust store: AL2023-like; table not pre-opened (PRACTICA_PREOPEN_TABLE=false)",
            not_preopened,
        ),
    ];
    let functions = [
        "booking", "payments", "webhooks", "reports", "sweep", "audit", "notify",
    ];
    // One round of every function and setup first, not counted: the emulators (DynamoDB Local's
    // JVM above all) warm up, so no setup is measured against colder emulators than another.
    for function in functions {
        for (_, extra) in &setups {
            cold_start(&world, function, extra, &tokens).await;
        }
    }
    // Then the setups interleaved, start by start, so the machine's noise falls on all alike.
    let mut results: Vec<Vec<Vec<Start>>> = vec![vec![Vec::new(); functions.len()]; setups.len()];
    for (f, function) in functions.iter().enumerate() {
        for _ in 0..COLD_STARTS {
            for (s, (_, extra)) in setups.iter().enumerate() {
                results[s][f].push(cold_start(&world, function, extra, &tokens).await);
            }
        }
    }
    for ((setup, _), by_function) in setups.iter().zip(results) {
        println!("{setup}");
        for (function, starts) in functions.iter().zip(by_function) {
            let dir = lambda_dir().join(function);
            let size = |name: &str| {
                std::fs::metadata(dir.join(name))
                    .map(|m| format!("{:.2} MB", m.len() as f64 / 1e6))
                    .unwrap_or_else(|_| "-".into())
            };
            let inits: Vec<Duration> = starts.iter().map(|s| s.init).collect();
            let firsts: Vec<Duration> = starts.iter().map(|s| s.first).collect();
            let mut warm: Vec<Duration> = starts.iter().flat_map(|s| s.warm.clone()).collect();
            warm.sort();
            let rss = starts.iter().map(|s| s.rss_kib).max().unwrap_or_default();
            println!(
                "{:<9} {:>8} {:>8} {:>6.1} ms {:>6.1} ms {:>6.1} ms {:>6.2} ms {:>6.2} ms {:>5.1} MB",
                function,
                size("bootstrap"),
                size("bootstrap.zip"),
                ms(median(inits.clone())),
                ms(*inits.iter().max().unwrap()),
                ms(median(firsts)),
                ms(median(warm.clone())),
                ms(practica_tests::percentile(&warm, 0.9)),
                rss as f64 / 1024.0,
            );
        }
    }
}

/// One cold start's figures.
#[derive(Clone)]
struct Start {
    init: Duration,
    first: Duration,
    warm: Vec<Duration>,
    rss_kib: u64,
}

/// Starts `function` under a fresh Runtime API with `extra` variables, waits for its first
/// `invocation/next`, then invokes its event once cold and [`WARM_INVOCATIONS`] times warm.
async fn cold_start(
    world: &practica_tests::deployed::World,
    function: &str,
    extra: &[(String, String)],
    tokens: &Tokens,
) -> Start {
    let api = RuntimeApi::start().await;
    let mut process = world.start_with(function, &api, extra);
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        if let Some(at) = api.first_next() {
            break at;
        }
        if let Ok(Some(status)) = process.child.try_wait() {
            panic!(
                "{function} exited during init: {status}: {:?}",
                api.init_error()
            );
        }
        assert!(Instant::now() < deadline, "{function}: no init in 20 s");
        tokio::time::sleep(Duration::from_micros(200)).await;
    };
    let init = ready - process.started;
    let started = Instant::now();
    api.invoke(event(function, tokens)).await.response();
    let first = started.elapsed();
    let mut warm = Vec::with_capacity(WARM_INVOCATIONS);
    for _ in 0..WARM_INVOCATIONS {
        let started = Instant::now();
        api.invoke(event(function, tokens)).await.response();
        warm.push(started.elapsed());
    }
    Start {
        init,
        first,
        warm,
        rss_kib: peak_rss_kib(process.child.id().unwrap_or_default()),
    }
}
