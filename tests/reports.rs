//! The compliance report against a hand-computed week: a seeded practice where, in the week of
//! Monday 23 November 2026 (America/New_York), patients book, reschedule, cancel, take a waitlist
//! offer, let a hold lapse, pay, get declined and refunded, and send feedback; staff read records
//! after hours and one with no appointment; a patient is refused. The expected figures below were
//! counted by hand from that script, not taken from the code's output. Also: the same data gives the
//! same bytes, a failed publication shows nothing and its retry the same bytes, empty and DST
//! periods, and the HTML rendered in headless Chromium with its charts visible.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use domain::report::Period;
use http::StatusCode;
use practica_cli::sandbox::{self, Completion};
use practica_tests::{Stack, TEST_NOW, TEST_STRIPE_SECRETS};
use reports::ReportJob;
use serde_json::{Value, json};
use shared::adapters::dir_archive::DirArchive;
use shared::adapters::dir_reports::DirReports;
use shared::adapters::local_signer::LocalSigner;
use shared::audit::log::{IDLE_CHECKPOINT, LogConfig};
use shared::auth::Role;
use shared::crypto::signer::LogSigner as _;
use shared::error::ApiError;
use shared::reports::{Manifest, ReportStore};
use shared::store::codec::booking::HoldCodec;
use shared::web::webhooks::signature::WebhookSecrets;

fn log_config() -> LogConfig {
    LogConfig {
        origin: "practica.test/audit".into(),
        key_name: "practica.test/audit".into(),
        first_scan_days: 31,
        idle_checkpoint: IDLE_CHECKPOINT,
    }
}

pub(crate) struct Setup {
    pub(crate) stack: Stack,
    pub(crate) job: ReportJob,
    pub(crate) audit: audit::AuditJob,
    _dir: tempfile::TempDir,
}

pub(crate) fn setup(stack: Stack, store: Option<Arc<dyn ReportStore>>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let signer = Arc::new(LocalSigner::generate().unwrap());
    let archive = Arc::new(DirArchive::new(dir.path().join("checkpoints")));
    let store = store.unwrap_or_else(|| Arc::new(DirReports::new(dir.path().join("reports"))));
    let job = ReportJob {
        table: stack.state.table.clone(),
        clock: stack.state.clock.clone(),
        store,
        archive: archive.clone(),
        log: log_config(),
        spki: signer.public_key().to_vec(),
        directory: stack.state.directory.clone(),
    };
    let audit = audit::AuditJob {
        table: stack.state.table.clone(),
        signer,
        clock: stack.state.clock.clone(),
        archive,
        config: log_config(),
        witnesses: Vec::new(),
        witness_client: std::sync::Arc::new(
            shared::adapters::http_witness::HttpWitnessClient::standalone(),
        ),
    };
    Setup {
        stack,
        job,
        audit,
        _dir: dir,
    }
}

pub(crate) fn period(from: &str, to: &str) -> Period {
    let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
    Period::new(from.parse().unwrap(), to.parse().unwrap(), &zone).unwrap()
}

async fn ok(stack: &Stack, method: &str, path: &str, token: &str, body: Option<Value>) -> Value {
    let key = format!("k-{}", ulid::Ulid::new());
    let (status, _, reply) = stack
        .send(method, path, Some(token), Some(&key), body)
        .await;
    assert!(status.is_success(), "{method} {path}: {status} {reply}");
    reply
}

/// Delivers the sandbox's Stripe events for `intent`, created and signed at the stack's time.
async fn complete(stack: &Stack, intent: &str, completion: Completion) {
    let pi = sandbox::load(&stack.sandbox_file)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == intent)
        .unwrap();
    let now = domain::clock::Clock::now(&*stack.clock).as_second();
    for body in sandbox::events(&pi, &completion, now) {
        deliver(stack, body).await;
    }
}

/// Delivers one Stripe event, signed at the stack's time.
async fn deliver(stack: &Stack, body: Vec<u8>) {
    let now = domain::clock::Clock::now(&*stack.clock).as_second();
    let sig = WebhookSecrets::stripe(TEST_STRIPE_SECRETS)
        .unwrap()
        .sign_stripe(now, &body);
    let headers = [
        ("stripe-signature", sig.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, _, reply) = stack.post_raw("/v1/webhooks/stripe", &headers, body).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
}

/// A dispute event about `intent`, created at the stack's time.
fn dispute_event(stack: &Stack, kind: &str, intent: &str, status: &str) -> Vec<u8> {
    let now = domain::clock::Clock::now(&*stack.clock).as_second();
    json!({
        "id": format!("evt_{}", ulid::Ulid::new()), "type": kind, "created": now,
        "data": {"object": {"id": "dp_week", "object": "dispute", "amount": 5000, "currency": "usd",
            "payment_intent": intent, "status": status, "reason": "fraudulent"}},
    })
    .to_string()
    .into_bytes()
}

fn minutes(stack: &Stack, n: i64) {
    stack.clock.advance(jiff::SignedDuration::from_mins(n));
}

/// The week's script (see the module docs); the clock starts on Monday 23 November, 08:00 EST,
/// an hour before the first provider's working day.
async fn the_week(stack: &Stack) {
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let staff = stack.issuer.mint_named(
        &shared::auth::Subject::parse("staff-1").unwrap(),
        &[Role::Staff],
        None,
        Some("Sam Desk"),
        TEST_NOW as u64,
        TEST_NOW as u64 + 60 * 86_400,
    );
    let staff = staff.unwrap();
    let services = ok(stack, "GET", "/v1/services", &jane, None).await;
    let short = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["durationMinutes"] == 30)
        .unwrap()["id"]
        .clone();
    let rivera = json!(demo.providers[0]);
    let at = |start: &str| json!({"providerId": rivera, "serviceId": short, "start": start});

    // Omar waits for Wednesday morning.
    let wait = json!({"providerId": rivera, "serviceId": short, "from": "2026-11-25T09:00:00-05:00", "to": "2026-11-25T12:00:00-05:00"});
    ok(stack, "POST", "/v1/waitlist", &omar, Some(wait)).await;
    // Jane books three times; staff book a fourth for her.
    let a1 = ok(
        stack,
        "POST",
        "/v1/appointments",
        &jane,
        Some(at("2026-11-24T10:00:00-05:00")),
    )
    .await;
    let a2 = ok(
        stack,
        "POST",
        "/v1/appointments",
        &jane,
        Some(at("2026-11-25T10:00:00-05:00")),
    )
    .await;
    let a3 = ok(
        stack,
        "POST",
        "/v1/appointments",
        &jane,
        Some(at("2026-12-10T10:00:00-05:00")),
    )
    .await;
    let mut for_jane = at("2026-11-23T11:00:00-05:00");
    for_jane["patientId"] = json!("patient-jane");
    let a4 = ok(stack, "POST", "/v1/appointments", &staff, Some(for_jane)).await;
    let path =
        |a: &Value, what: &str| format!("/v1/appointments/{}/{what}", a["id"].as_str().unwrap());
    ok(
        stack,
        "POST",
        &path(&a1, "reschedule"),
        &jane,
        Some(json!({"start": "2026-11-24T11:00:00-05:00"})),
    )
    .await;
    // Jane's cancellation frees Wednesday 10:00: it is offered to Omar, who books it.
    ok(stack, "POST", &path(&a2, "cancel"), &jane, Some(json!({}))).await;
    let waiting = ok(stack, "GET", "/v1/waitlist", &omar, None).await;
    let hold = waiting["entries"][0]["holdId"].clone();
    let id = domain::ids::HoldId::parse(hold.as_str().unwrap_or_default()).unwrap();
    let offered = stack
        .state
        .table
        .get(
            &shared::store::keys::hold_key(&id),
            shared::store::Consistency::Strong,
        )
        .await
        .unwrap()
        .expect("the offer's hold");
    let offered = domain::booking::Hold::from_item(&offered).unwrap();
    let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
    let start = jiff::Timestamp::from_second(offered.start)
        .unwrap()
        .to_zoned(zone);
    let mut take = at(&start.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string());
    take["holdId"] = hold;
    ok(stack, "POST", "/v1/appointments", &omar, Some(take)).await;
    ok(stack, "POST", &path(&a3, "cancel"), &staff, Some(json!({}))).await;
    // A hold Jane lets lapse.
    ok(
        stack,
        "POST",
        "/v1/holds",
        &jane,
        Some(at("2026-11-26T14:00:00-05:00")),
    )
    .await;

    // Payments: 150.00 charged and paid in two minutes; 80.00 charged and declined; 40.00 refunded.
    let charge = |amount: i64| json!({"patientId": "patient-jane", "currency": "USD", "lineItems": [{"description": "Session", "amount": amount}]});
    ok(stack, "POST", "/v1/charges", &staff, Some(charge(15_000))).await;
    let p1 = ok(
        stack,
        "POST",
        "/v1/payment-intents",
        &jane,
        Some(json!({"currency": "USD"})),
    )
    .await;
    let p1 = p1["processorIntentId"].as_str().unwrap().to_owned();
    minutes(stack, 2);
    complete(stack, &p1, Completion::Succeed { avs_fail: false }).await;
    ok(stack, "POST", "/v1/charges", &staff, Some(charge(8_000))).await;
    let p2 = ok(
        stack,
        "POST",
        "/v1/payment-intents",
        &jane,
        Some(json!({"currency": "USD"})),
    )
    .await;
    let p2 = p2["processorIntentId"].as_str().unwrap().to_owned();
    complete(
        stack,
        &p2,
        Completion::Fail {
            decline_code: "insufficient_funds".into(),
        },
    )
    .await;
    complete(stack, &p1, Completion::Refund { refunded: 4_000 }).await;
    // The card holder disputes 50.00 of it: the funds are withdrawn, and the dispute is lost.
    for (kind, status) in [
        ("charge.dispute.created", "needs_response"),
        ("charge.dispute.funds_withdrawn", "needs_response"),
        ("charge.dispute.closed", "lost"),
    ] {
        deliver(stack, dispute_event(stack, kind, &p1, status)).await;
    }

    // The lapsed hold is swept (08:10).
    minutes(stack, 8);
    let (removed, _) = shared::booking::holds::sweep_expired_holds(&stack.state, "sweep-test")
        .await
        .unwrap();
    assert_eq!(removed, 1);

    // Feedback; staff read it and Jane's record before opening hours (08:10), and resolve the
    // feedback two hours later.
    let fb = ok(
        stack,
        "POST",
        "/v1/feedback",
        &jane,
        Some(json!({"category": "billing", "text": "Jane Demo-Patient was billed twice"})),
    )
    .await;
    ok(
        stack,
        "POST",
        "/v1/feedback",
        &jane,
        Some(json!({"category": "care", "rating": 5, "text": "Kind and thorough."})),
    )
    .await;
    ok(stack, "GET", "/v1/feedback", &staff, None).await;
    ok(stack, "GET", "/v1/patients/patient-jane", &staff, None).await;
    // A request with a forged token, and a webhook delivery with a bad signature: counted.
    let (status, _, _) = stack
        .send("GET", "/v1/feedback", Some("not.a.token"), None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = stack
        .post_raw(
            "/v1/webhooks/stripe",
            &[("stripe-signature", "t=1,v1=00")],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Omar may not read Jane's record.
    let (status, _, _) = stack
        .send("GET", "/v1/patients/patient-jane", Some(&omar), None, None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let zoe = json!({"patientId": "patient-zoe", "name": "Zoe Example", "dateOfBirth": "1990-02-03", "phone": "+1 555 0100 999", "email": "zoe@example.org"});
    ok(stack, "POST", "/v1/patients", &staff, Some(zoe)).await;
    minutes(stack, 120);
    let resolve = format!("/v1/feedback/{}/resolve", fb["id"].as_str().unwrap());
    ok(
        stack,
        "POST",
        &resolve,
        &staff,
        Some(json!({"note": "Refunded."})),
    )
    .await;
    // 10:10: staff cancel today's 11:00 inside the 24-hour cut-off, and read Zoe's record in
    // working hours (she has no appointment).
    ok(stack, "POST", &path(&a4, "cancel"), &staff, Some(json!({}))).await;
    ok(stack, "GET", "/v1/patients/patient-zoe", &staff, None).await;
}

fn table<'a>(report: &'a Value, name: &str) -> &'a Vec<Value> {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no table {name}"))["rows"]
        .as_array()
        .unwrap()
}

pub(crate) fn summary(report: &Value) -> Vec<(String, Value, Value)> {
    table(report, "summary")
        .iter()
        .map(|r| {
            (
                r[1].as_str().unwrap().to_owned(),
                r[2].clone(),
                r[3].clone(),
            )
        })
        .collect()
}

pub(crate) async fn published(job: &ReportJob, id: &str, file: &str) -> Vec<u8> {
    job.store.get(id, file).await.unwrap().expect("published")
}

#[tokio::test]
async fn a_hand_computed_week() {
    let s = setup(Stack::embedded(), None);
    the_week(&s.stack).await;
    // After the week: the log is sealed and signed past its end.
    s.stack
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 7));
    s.audit.integrate().await.unwrap();
    let week = period("2026-11-23", "2026-11-30");
    let manifest = s.job.report(&week).await.unwrap();
    assert_eq!(manifest.id, "2026-11-23_2026-11-30");
    let report: Value =
        serde_json::from_slice(&published(&s.job, &manifest.id, "report.json").await).unwrap();

    let expected: Vec<(&str, Value, Value)> = vec![
        ("intents created", json!(2), json!(0)),
        ("succeeded", json!(1), json!(0)),
        ("completion rate", json!("50.0%"), json!("n/a")),
        ("with a failed attempt", json!(1), json!(0)),
        ("failure rate", json!("50.0%"), json!("n/a")),
        ("median time to success", json!("2 min"), json!("n/a")),
        ("p90 time to success", json!("2 min"), json!("n/a")),
        ("refunds", json!(1), json!(0)),
        ("refunded", json!("40.00 USD"), json!("0.00 USD")),
        ("refunds that failed", json!(0), json!(0)),
        ("disputes opened", json!(1), json!(0)),
        ("disputed", json!("50.00 USD"), json!("0.00 USD")),
        ("disputes won", json!(0), json!(0)),
        ("disputes lost", json!(1), json!(0)),
        ("bookings", json!(5), json!(0)),
        ("cancelled by patients", json!(1), json!(0)),
        ("cancelled by staff", json!(2), json!(0)),
        ("cancelled inside the cut-off", json!(1), json!(0)),
        ("reschedules", json!(1), json!(0)),
        ("holds that lapsed", json!(1), json!(0)),
        ("waitlist offers made", json!(1), json!(0)),
        ("waitlist offers taken", json!(1), json!(0)),
        // None online this week (tests/visits.rs counts them).
        ("online visits held", json!(0), json!(0)),
        ("online visits the patient missed", json!(0), json!(0)),
        ("median time connected online", json!("n/a"), json!("n/a")),
        ("reads of patient data by staff", json!(3), json!(0)),
        ("after-hours reads", json!(2), json!(0)),
        ("requests refused for their token (401)", json!(1), json!(0)),
        (
            "webhook deliveries with a bad signature",
            json!(1),
            json!(0),
        ),
        ("refused requests", json!(1), json!(0)),
        // No delivery ran in this week (tests/notifications.rs counts them).
        ("messages sent", json!(0), json!(0)),
        ("messages failed", json!(0), json!(0)),
        (
            "messages bounced, opted out or complained",
            json!(0),
            json!(0),
        ),
        ("opened", json!(2), json!(0)),
        ("resolved", json!(1), json!(0)),
        ("median time to resolve", json!("2 h"), json!("n/a")),
        ("open for more than 30 days", json!(0), json!("")),
        ("consents signed", json!(0), json!(0)),
        ("consents withdrawn", json!(0), json!(0)),
        ("forms submitted", json!(0), json!(0)),
        ("visits that asked for forms", json!(0), json!(0)),
        (
            "with their forms completed before the visit",
            json!(0),
            json!(0),
        ),
        // The week's visits are follow-up sessions, booked under no cancellation policy.
        ("late cancellation fees charged", json!(0), json!(0)),
        ("no-show fees charged", json!(0), json!(0)),
    ];
    let got = summary(&report);
    for (figure, now, before) in &expected {
        let found = got
            .iter()
            .find(|(f, _, _)| f == figure)
            .unwrap_or_else(|| panic!("no figure {figure} in {got:?}"));
        assert_eq!((&found.1, &found.2), (now, before), "{figure}");
    }
    assert_eq!(got.len(), expected.len(), "{got:?}");
    assert_eq!(
        table(&report, "declines"),
        &vec![json!(["insufficient_funds", 1, 0])]
    );
    let checks = table(&report, "card_checks");
    assert_eq!(checks.len(), 3, "{checks:?}");
    for row in checks {
        assert_eq!(
            (&row[1], &row[2], &row[3]),
            (&json!("pass"), &json!(2), &json!("100.0%"))
        );
    }
    // The week's one dispute: opened for fraud (the processor's reason), lost.
    assert_eq!(
        table(&report, "disputes"),
        &vec![json!(["fraudulent", "lost", 1, 0])]
    );
    // Owed at the week's end: 150.00 + 80.00 charged; 150.00 paid, less 40.00 refunded and the
    // 50.00 the lost dispute took back: 170.00 on 2 charges.
    assert_eq!(
        table(&report, "ageing"),
        &vec![json!(["USD", "0-30 days", "170.00 USD", 2])]
    );
    assert_eq!(
        table(&report, "lead_time"),
        &vec![
            json!(["same day", 1, 0]),
            json!(["1-7 days", 3, 0]),
            json!(["8-30 days", 1, 0])
        ]
    );
    // Rivera: Jane's Tuesday and Omar's Wednesday, 30 minutes each, of five 7-hour days: hours.
    assert_eq!(
        table(&report, "utilisation"),
        &vec![
            json!([
                "Dr. Ana Rivera",
                "1.0 h",
                "35.0 h",
                "2.9%",
                "0.0 h",
                "35.0 h",
                "0.0%"
            ]),
            json!([
                "Sam Okafor, LCSW",
                "0.0 h",
                "35.0 h",
                "0.0%",
                "0.0 h",
                "35.0 h",
                "0.0%"
            ]),
        ]
    );
    assert_eq!(
        table(&report, "access_by_staff"),
        &vec![json!(["Sam Desk (staff-1)", 3, 0, 2, 2, 0, 1, 0])]
    );
    assert_eq!(
        table(&report, "refusals"),
        &vec![json!(["patient-omar", 1, 0])]
    );
    let feedback = table(&report, "feedback");
    assert_eq!(feedback[0], json!(["billing", 1, 0, 1, 0]));
    assert_eq!(feedback[3], json!(["care", 1, 0, 0, 0]));
    assert!(report["flags"].as_array().unwrap().is_empty());
    let log = &report["auditLog"];
    assert_eq!(log["coversPeriod"], true, "{log}");
    assert!(
        log["verification"].as_str().unwrap().starts_with("ok"),
        "{log}"
    );

    // The HTML and CSV say the same, and nothing of the patients' own data.
    let html = String::from_utf8(published(&s.job, &manifest.id, "report.html").await).unwrap();
    assert!(html.contains("<svg") && html.contains("Lead time"));
    // Its days said with both ends included; money as money.
    let last = jiff::civil::Date::strptime("%Y-%m-%d", report["period"]["to"].as_str().unwrap())
        .unwrap()
        .yesterday()
        .unwrap();
    assert!(
        html.contains(&format!("to {last} (both days included)")),
        "inclusive days"
    );
    assert!(html.contains("40.00 USD") && !html.contains("minor units"));
    assert!(!html.contains("<script"));
    for secret in [
        "Jane Demo-Patient",
        "billed twice",
        "Kind and thorough",
        "Refunded.",
        "Zoe Example",
    ] {
        assert!(!html.contains(secret), "{secret} in the report");
    }
    let csv = String::from_utf8(published(&s.job, &manifest.id, "lead_time.csv").await).unwrap();
    assert_eq!(
        csv,
        "lead time,this period,previous period\r\nsame day,1,0\r\n1-7 days,3,0\r\n8-30 days,1,0\r\n"
    );

    // The same data gives the same bytes, even after later activity and a later seal.
    let before = published(&s.job, &manifest.id, "report.html").await;
    let jane = s.stack.token("patient-jane", &[Role::Patient]);
    ok(
        &s.stack,
        "POST",
        "/v1/feedback",
        &jane,
        Some(json!({"category": "website", "text": "Later."})),
    )
    .await;
    s.stack.clock.advance(jiff::SignedDuration::from_hours(2));
    s.audit.integrate().await.unwrap();
    s.job.report(&week).await.unwrap();
    assert_eq!(published(&s.job, &manifest.id, "report.html").await, before);

    // Chromium renders it, charts included.
    screenshot(&before).await;
}

/// Renders `html` in headless Chromium and checks the charts' bars are on the screenshot. With
/// `PRACTICA_WRITE_DOCS=1` the screenshot is kept as `docs/report.png`.
async fn screenshot(html: &[u8]) {
    let Some(chromium) = std::env::var_os("PRACTICA_CHROMIUM") else {
        eprintln!(
            "PRACTICA_CHROMIUM is not set (scripts/test sets it): not rendering in a browser"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    std::fs::write(&page, html).unwrap();
    let png = dir.path().join("report.png");
    let mut command = std::process::Command::new(chromium);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1000,2600",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()));
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .expect("chromium runs");
    assert!(
        png.exists(),
        "no screenshot: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    // The bars of this period are #1f4e79 (headings' rules share it, but are far fewer pixels).
    let count = |rgb: [u8; 3]| {
        pixels
            .chunks(channels)
            .filter(|p| p[..3].iter().zip(rgb).all(|(a, b)| a.abs_diff(b) <= 2))
            .count()
    };
    // (The week before had no activity: its bars have no length.)
    let now = count([0x1f, 0x4e, 0x79]);
    assert!(now > 2000, "this period's bars: {now} pixels");
    if std::env::var("PRACTICA_WRITE_DOCS").as_deref() == Ok("1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/report.png");
        std::fs::copy(&png, docs).unwrap();
    }
}

/// A store whose `put` fails after `ok` files.
struct Flaky {
    inner: DirReports,
    ok: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl ReportStore for Flaky {
    async fn put(&self, id: &str, file: &str, bytes: &[u8]) -> Result<(), ApiError> {
        let left = self.ok.load(std::sync::atomic::Ordering::SeqCst);
        if left == 0 {
            return Err(ApiError::Unavailable {
                code: "report_store_unavailable",
                source: anyhow::anyhow!("injected"),
            });
        }
        self.ok.store(left - 1, std::sync::atomic::Ordering::SeqCst);
        self.inner.put(id, file, bytes).await
    }
    async fn put_manifest(&self, m: &Manifest) -> Result<(), ApiError> {
        self.inner.put_manifest(m).await
    }
    async fn list(&self) -> Result<Vec<Manifest>, ApiError> {
        self.inner.list().await
    }
    async fn get(&self, id: &str, file: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.inner.get(id, file).await
    }
}

#[tokio::test]
async fn a_failed_run_publishes_nothing_and_its_retry_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let flaky = Arc::new(Flaky {
        inner: DirReports::new(dir.path()),
        ok: 3.into(),
    });
    let s = setup(Stack::embedded(), Some(flaky.clone()));
    s.stack.seed().await;
    let week = period("2026-11-16", "2026-11-23");
    let e = s.job.report(&week).await.unwrap_err();
    assert!(matches!(e, reports::JobError::Unavailable(_)), "{e}");
    let diagnostic: lambda_runtime::Diagnostic = e.into();
    assert_eq!(diagnostic.error_type, "Retryable.DependencyUnavailable");
    assert!(
        flaky.list().await.unwrap().is_empty(),
        "nothing is published"
    );
    assert!(
        flaky
            .get(&week.id(), "report.html")
            .await
            .unwrap()
            .is_none()
    );
    flaky
        .ok
        .store(usize::MAX, std::sync::atomic::Ordering::SeqCst);
    let manifest = s.job.report(&week).await.unwrap();
    assert_eq!(flaky.list().await.unwrap(), vec![manifest.clone()]);
    // A second store computes the same bytes from the same data.
    let again = setup(Stack::over(s.stack.state.table.clone()), None);
    let same = again.job.report(&week).await.unwrap();
    for file in &manifest.files {
        assert_eq!(
            flaky.get(&manifest.id, file).await.unwrap(),
            again.job.store.get(&same.id, file).await.unwrap(),
            "{file}"
        );
    }
}

#[tokio::test]
async fn empty_one_event_and_dst_periods_are_readable_and_bad_periods_refused() {
    let s = setup(Stack::embedded(), None);
    let demo = s.stack.seed().await;
    // New York leaves daylight time on 1 November 2026.
    for (from, to) in [("2026-10-01", "2026-10-02"), ("2026-10-25", "2026-11-08")] {
        let manifest = s.job.report(&period(from, to)).await.unwrap();
        let report: Value =
            serde_json::from_slice(&published(&s.job, &manifest.id, "report.json").await).unwrap();
        assert_eq!(summary(&report)[0].1, json!(0));
        let html = String::from_utf8(published(&s.job, &manifest.id, "report.html").await).unwrap();
        assert!(html.contains("None in either period."));
    }
    // A period with one event: one booking, on a day of its own.
    let jane = s.stack.token("patient-jane", &[Role::Patient]);
    let services = ok(&s.stack, "GET", "/v1/services", &jane, None).await;
    let body = json!({"providerId": demo.providers[0], "serviceId": services["services"][1]["id"], "start": "2026-11-24T10:00:00-05:00"});
    ok(&s.stack, "POST", "/v1/appointments", &jane, Some(body)).await;
    let manifest = s
        .job
        .report(&period("2026-11-23", "2026-11-24"))
        .await
        .unwrap();
    let report: Value =
        serde_json::from_slice(&published(&s.job, &manifest.id, "report.json").await).unwrap();
    let bookings = summary(&report)
        .into_iter()
        .find(|(f, _, _)| f == "bookings")
        .unwrap();
    assert_eq!((bookings.1, bookings.2), (json!(1), json!(0)));
    assert_eq!(
        table(&report, "lead_time"),
        &vec![json!(["1-7 days", 1, 0])]
    );
    // The scheduled events: a weekly and a monthly report, and anything else refused.
    let event = |name: &str| -> Value {
        let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let done = s
        .job
        .run(event("schedule-report-weekly.json"))
        .await
        .unwrap();
    assert_eq!(done["report"], "2026-11-16_2026-11-23");
    let done = s
        .job
        .run(event("schedule-report-monthly.json"))
        .await
        .unwrap();
    assert_eq!(done["report"], "2026-10-01_2026-11-01");
    let e = s
        .job
        .run(event("schedule-audit-scheduler.json"))
        .await
        .unwrap_err();
    let diagnostic: lambda_runtime::Diagnostic = e.into();
    assert_eq!(diagnostic.error_type, "Permanent.InvalidEvent");
    // The CLI's bad periods.
    let data = tempfile::tempdir().unwrap();
    practica_cli::serve::seed(data.path()).await.unwrap();
    for (from, to, says) in [
        ("2026-11-02", "2026-11-01", "before"),
        ("2025-01-01", "2026-11-01", "366"),
        ("yesterday", "2026-11-01", "--from must be a date"),
    ] {
        let e = practica_cli::report::report(data.path(), from, to, None)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{from} {to}: {e}");
    }
}

/// The template's report schedules send exactly the fixtures' payloads.
#[test]
fn the_templates_report_schedules_are_the_fixtures() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .unwrap();
    for (name, fixture) in [
        ("        Weekly:", "schedule-report-weekly.json"),
        ("        Monthly:", "schedule-report-monthly.json"),
        ("        Quarterly:", "schedule-report-quarterly.json"),
    ] {
        let schedule = &template[template.find(name).expect("the schedule")..];
        let input = schedule
            .lines()
            .find_map(|l| l.trim().strip_prefix("Input: '"))
            .and_then(|l| l.strip_suffix('\''))
            .expect("an Input");
        let path = format!("{}/../events/{fixture}", env!("CARGO_MANIFEST_DIR"));
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<Value>(input).unwrap(), expected);
        assert!(reports::cadence_of(&expected).is_ok());
    }
}

/// One binary, two kinds of invocation: API Gateway requests reach the routes (admin only, each
/// read audited, the page served under a policy that allows no script); schedules reach the job.
#[tokio::test]
async fn the_function_answers_the_api_and_the_schedules() {
    let s = setup(Stack::embedded(), None);
    s.stack.seed().await;
    let week = period("2026-11-16", "2026-11-23");
    s.job.report(&week).await.unwrap();
    let function = reports::Function {
        http: reports::router(s.stack.state.clone(), s.job.store.clone()),
        job: s.job,
    };
    let event = |op: &str, token: &str| -> Value {
        let path = format!(
            "{}/../events/apigw-v2-{op}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(path)
            .unwrap()
            .replace("{{TOKEN}}", token)
            .replace("{{REPORT_ID}}", &week.id());
        serde_json::from_str(&text).unwrap()
    };
    let admin = s.stack.token("admin-1", &[Role::Admin]);
    let staff = s.stack.token("staff-1", &[Role::Staff]);
    let listed = function.handle(event("listReports", &admin)).await.unwrap();
    assert_eq!(listed["statusCode"], 200, "{listed}");
    let body: Value = serde_json::from_str(listed["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["reports"][0]["id"], week.id());
    let page = function
        .handle(event("getReportFile", &admin))
        .await
        .unwrap();
    assert_eq!(page["statusCode"], 200);
    assert_eq!(page["headers"]["content-type"], "text/html; charset=utf-8");
    assert!(
        page["headers"]["content-security-policy"]
            .as_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert!(
        page["body"]
            .as_str()
            .unwrap()
            .starts_with("<!DOCTYPE html>")
    );
    let refused = function.handle(event("getReport", &staff)).await.unwrap();
    assert_eq!(refused["statusCode"], 403);
    let items = s.stack.scan().await;
    // Both reads, whatever order the scan returns them in (two entries of the same millisecond
    // sort by the random part of their ids).
    let mut reads = items
        .iter()
        .filter(|i| i.get("action").and_then(shared::store::AttrValue::as_s) == Some("report.read"))
        .map(|i| {
            i.get("outcome")
                .and_then(shared::store::AttrValue::as_s)
                .unwrap()
                .to_owned()
        })
        .collect::<Vec<_>>();
    reads.sort();
    assert_eq!(reads, ["denied", "success"]);
    let path = format!(
        "{}/../events/schedule-report-weekly.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let weekly: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let done = function.handle(weekly).await.unwrap();
    assert_eq!(done["report"], week.id());
}

/// The quarterly access review, published like a report: every login of the demo workforce with
/// its standing, the one disabled in the quarter shown so, the front desk's reads of patient data
/// counted, and the logins unused all quarter flagged.
#[tokio::test]
async fn the_quarterly_access_review_lists_every_login_and_flags_the_unused() {
    let s = setup(Stack::embedded(), None);
    s.stack.seed().await;
    let admin = s.stack.token("admin-1", &[Role::Admin]);
    let desk = s.stack.token("staff-1", &[Role::Staff]);
    // The front desk reads Jane's record; the provider is disabled; time passes to the quarter's end.
    ok(&s.stack, "GET", "/v1/patients/patient-jane", &desk, None).await;
    ok(
        &s.stack,
        "POST",
        "/v1/staff/provider-rivera/disable",
        &admin,
        Some(serde_json::json!({})),
    )
    .await;
    // From 2026-11-23 to 2027-01-01 06:00 in New York: the quarter October to December is over.
    let to = jiff::Timestamp::from_second(1_798_801_200).unwrap();
    let now = jiff::Timestamp::from_second(practica_tests::TEST_NOW).unwrap();
    s.stack.clock.advance(to.duration_since(now));
    let path = format!(
        "{}/../events/schedule-report-quarterly.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let quarterly: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let done = s.job.run(quarterly).await.unwrap();
    assert_eq!(done["report"], "2026-10-01_2027-01-01");
    let json = s
        .job
        .store
        .get("2026-10-01_2027-01-01", "report.json")
        .await
        .unwrap()
        .unwrap();
    let review: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(review["kind"], "access_review");
    let rows = table(&review, "access_review");
    let row = |subject: &str| {
        rows.iter()
            .find(|r| r[1] == subject)
            .unwrap_or_else(|| panic!("{subject} in {rows:?}"))
            .clone()
    };
    assert_eq!(rows.len(), 3, "the demo workforce: {rows:?}");
    let desk_row = row("staff-1");
    assert_eq!(desk_row[8], 1, "one read of patient data: {desk_row:?}");
    assert!(
        desk_row[7]
            .as_str()
            .unwrap()
            .starts_with("2026-11-23T13:00:00")
    );
    assert!(
        row("provider-rivera")[4]
            .as_str()
            .unwrap()
            .starts_with("disabled 2026-11-23")
    );
    // Every demo login was made on the day (less than 90 days before the quarter's end): none
    // is unused yet, but none has a second factor.
    let flags = review["flags"].as_array().unwrap();
    assert!(
        flags
            .iter()
            .all(|f| !f.as_str().unwrap().contains("unused")),
        "{flags:?}"
    );
    assert!(flags.iter().any(|f| f.as_str().unwrap().contains("staff-1")
        && f.as_str().unwrap().contains("no second factor")));
    let html = s
        .job
        .store
        .get("2026-10-01_2027-01-01", "report.html")
        .await
        .unwrap()
        .unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(
        html.contains("access review, 2026-10-01 to 2026-12-31"),
        "{html}"
    );
}

/// The production report store on moto: every object encrypted with the named KMS key, the report
/// visible only once its manifest is written, files outside the manifest not served.
#[tokio::test]
async fn on_moto_reports_are_published_to_s3_under_sse_kms() {
    let Some(endpoint) = practica_tests::Emulator::Moto.endpoint() else {
        return;
    };
    let sdk = practica_tests::sdk_config(&endpoint);
    let s3 = practica_cli::s3_client(&sdk);
    let kms = aws_sdk_kms::Client::new(&sdk);
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_owned();
    let bucket = format!(
        "practica-reports-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let store: Arc<dyn ReportStore> = Arc::new(shared::adapters::s3_reports::S3Reports::new(
        s3.clone(),
        &bucket,
        &key_arn,
    ));
    let table = practica_tests::moto_fixture().await.expect("moto runs");
    let stack = Stack::on(Some(table)).await.unwrap();
    let s = setup(stack, Some(store.clone()));
    s.stack.seed().await;
    s.audit.integrate().await.unwrap();
    let week = period("2026-11-16", "2026-11-23");
    // Before its manifest, a report's files are not served.
    store.put(&week.id(), "report.html", b"half").await.unwrap();
    assert!(
        store
            .get(&week.id(), "report.html")
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.list().await.unwrap().is_empty());
    let manifest = s.job.report(&week).await.unwrap();
    assert_eq!(store.list().await.unwrap(), vec![manifest.clone()]);
    let html = store.get(&week.id(), "report.html").await.unwrap().unwrap();
    assert!(html.starts_with(b"<!DOCTYPE html>"));
    assert!(store.get(&week.id(), "other.csv").await.unwrap().is_none());
    assert!(
        store
            .get("../../etc", "report.html")
            .await
            .unwrap()
            .is_none()
    );
    for file in &manifest.files {
        let head = s3
            .head_object()
            .bucket(&bucket)
            .key(format!("reports/{}/{file}", week.id()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            head.server_side_encryption(),
            Some(&aws_sdk_s3::types::ServerSideEncryption::AwsKms),
            "{file}"
        );
        assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()), "{file}");
    }
}

#[tokio::test]
async fn a_live_report_of_any_days_up_to_today_is_computed_now_and_published_nowhere() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    // Today (Monday 2026-11-23 on the stack's clock), Jane books Tuesday.
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1],
        "start": "2026-11-24T10:00:00-05:00"});
    let (status, booked) = stack.post(&jane, "b", "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");

    let live = |token: String, q: &'static str| {
        let stack = &stack;
        async move { stack.get(&token, &format!("/v1/live-report?{q}")).await }
    };
    let (status, report) = live(admin.clone(), "from=2026-11-23&to=2026-11-23").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        (&report["period"]["from"], &report["period"]["to"]),
        (&json!("2026-11-23"), &json!("2026-11-24")),
        "today, its end the next midnight"
    );
    let bookings = summary(&report)
        .into_iter()
        .find(|(f, _, _)| f == "bookings")
        .map(|(_, now, _)| now);
    assert_eq!(bookings, Some(json!(1)), "today's booking, as it is now");
    assert!(
        report["auditLog"]["verification"]
            .as_str()
            .unwrap()
            .starts_with("not verified in a live report")
    );
    // Admins only; days up to today, at most 31, written as dates.
    for token in [&staff, &jane] {
        assert_eq!(
            live(token.clone(), "from=2026-11-23&to=2026-11-23").await.0,
            StatusCode::FORBIDDEN
        );
    }
    for (q, code) in [
        ("from=2026-11-23&to=2026-11-24", "invalid_range"),
        ("from=2026-11-23&to=2026-11-22", "invalid_range"),
        ("from=2026-10-01&to=2026-11-23", "range_too_long"),
        ("from=2026-11-31&to=2026-11-23", "invalid_query"),
        ("from=23/11/2026&to=2026-11-23", "invalid_query"),
    ] {
        let (status, problem) = live(admin.clone(), q).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some(code)),
            "{q}"
        );
    }
    // A read: nothing was published.
    let (status, list) = stack.get(&admin, "/v1/reports").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["reports"], json!([]));
    let items = stack.scan().await;
    let reads = practica_tests::audits(&items, "report.read");
    assert!(reads.len() >= 2, "the reads and the refusals are audited");
}
