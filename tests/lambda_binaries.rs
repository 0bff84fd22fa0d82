//! The functions' release binaries (`cargo lambda build --release`, as deployed), each run the way
//! Lambda runs it: a fresh process configured only by environment variables (the template's, plus
//! the emulators' endpoints and the token issuer's key location), talking to a Runtime API
//! (`support/runtime_api.rs`), its table on DynamoDB Local, its keys, secrets, buckets and mail on
//! moto, its tokens from a local JWKS issuer and its processor on a local mock. Every fixture in
//! `events/` is invoked on the function the template routes it to, and its answer and effect are
//! checked; a missing or malformed variable ends in `init/error` naming it.

use std::collections::HashSet;

use practica_tests::deployed::{World, fixture, http_answer, owner, resign, secret, world};
use practica_tests::runtime_api::{RuntimeApi, bootstrap, lambda_environment, spawn};
use practica_tests::{Emulator, sdk_config};
use serde_json::{Value, json};
use shared::auth::Role;

#[tokio::test]
async fn every_fixture_runs_on_the_release_binaries() {
    let Some(world) = world().await else {
        return;
    };
    let admin = world.token("admin-1", Role::Admin);
    let staff = world.token("staff-1", Role::Staff);
    let jane = world.patient_token("patient-jane", &[]);
    // Her login's ID token, shaped as the patient pool issues it (`aud`, `token_use: id`,
    // `email_verified`): Cognito's access tokens carry no address, so the portal sends this one.
    let jane_id = world.patient_id_token("patient-jane", "jane.demo@example.org");
    // Signed by the patient pool's own key, but claiming staff: the patient pool grants nothing
    // but the patient role, so the token is refused whatever it claims.
    let forged = world.patient_token("patient-jane", &[Role::Staff]);
    let demo = practica_cli::demo::seed(&world.state).await.unwrap();
    let provider = demo.providers[0].to_string();
    let service = demo.services[1].to_string();

    // One execution environment per function, all started at once; each serves many invocations.
    let functions = [
        "booking", "payments", "webhooks", "sweep", "audit", "reports", "notify",
    ];
    let mut apis = std::collections::HashMap::new();
    let mut processes = Vec::new();
    for f in functions {
        let api = RuntimeApi::start().await;
        processes.push(world.start(f, &api));
        apis.insert(f, api);
    }
    let mut fixtures_run = HashSet::new();

    // The API: every route's fixture, in the order a practice uses them, on its function.
    let mut appointment = String::new();
    let mut feedback = String::new();
    let mut entry = String::new();
    let mut report = String::new();
    let (mut series, mut occurrence) = (String::new(), String::new());
    let mut feed = String::new();
    let mut calendar = String::new();
    let (mut version, mut signature) = (String::new(), String::new());
    let (mut form_version, mut submission) = (String::new(), String::new());
    let mut charge = String::new();
    let mut staff_subject = String::new();
    let steps: &[(&str, &str, u64)] = &[
        ("get-me", &staff, 200),
        ("get-me-no-token", "", 401),
        ("get-me", &forged, 401),
        ("putPractice", &admin, 200),
        ("getPractice", &jane, 200),
        ("listProviders", &jane, 200),
        ("createProvider", &staff, 201),
        ("getProvider", &jane, 200),
        ("putSchedule", &staff, 200),
        ("getAvailability", &jane, 200),
        ("listServices", &jane, 200),
        ("createService", &staff, 201),
        ("createHold", &jane, 201),
        ("book", &jane, 201),
        ("listAppointments", &jane, 200),
        ("getAppointment", &jane, 200),
        ("reschedule", &jane, 200),
        ("cancel", &jane, 200),
        // Cancelled: no attendance to record (the route and its body on the release binary).
        ("recordAttendance", &staff, 409),
        // Held in person: no visit room.
        ("getVisitRoom", &jane, 409),
        ("joinVisit", &jane, 409),
        ("admitToVisit", &jane, 409),
        ("leaveVisit", &jane, 409),
        ("createSeries", &staff, 201),
        ("listSeries", &staff, 200),
        ("getSeries", &jane, 200),
        ("moveSeries", &staff, 200),
        ("cancelSeries", &staff, 200),
        ("createCalendarFeed", &staff, 201),
        ("listCalendarFeeds", &staff, 200),
        ("getCalendarFeed", "", 200),
        ("revokeCalendarFeed", &staff, 200),
        ("addBusyCalendar", &staff, 201),
        ("listBusyCalendars", &staff, 200),
        ("removeBusyCalendar", &staff, 200),
        ("listConsents", &jane, 200),
        ("putConsentDocument", &admin, 201),
        ("signConsent", &jane, 201),
        ("getConsentCopy", &jane, 200),
        ("exportPatientRecord", &jane, 200),
        ("listPatientConsents", &staff, 200),
        ("withdrawConsent", &jane, 201),
        ("listForms", &jane, 200),
        ("putForm", &admin, 201),
        ("putFormDraft", &jane, 200),
        ("getFormDraft", &jane, 200),
        ("submitForm", &jane, 201),
        ("listPatientForms", &staff, 200),
        ("getFormSubmission", &staff, 200),
        ("createPatient", &staff, 201),
        ("searchPatients", &staff, 200),
        ("getPatient", &staff, 200),
        ("getMyPatientRecord", &jane, 200),
        ("putMyPatientRecord", &jane, 200),
        ("verifyMyEmail", &jane, 200),
        ("joinWaitlist", &jane, 201),
        ("listWaitlist", &jane, 200),
        ("leaveWaitlist", &jane, 200),
        ("getMyAccessLog", &jane, 200),
        ("putMyNotifications", &jane, 200),
        ("getMyNotifications", &jane, 200),
        ("getPatientAccessLog", &admin, 200),
        ("listPatientMessages", &staff, 200),
        ("searchAudit", &admin, 200),
        ("submitFeedback", &jane, 201),
        ("listFeedback", &staff, 200),
        ("resolveFeedback", &staff, 200),
        ("createCharge", &staff, 201),
        ("waiveFee", &staff, 422),
        ("createPaymentIntent", &jane, 201),
        ("getCard", &jane, 200),
        ("setupCard", &jane, 409),
        ("removeCard", &jane, 404),
        ("payDeposit", &jane, 409),
        ("listDisputes", &staff, 200),
        ("draftDisputeEvidence", &staff, 404),
        ("submitDisputeEvidence", &staff, 404),
        ("stripeWebhook", "", 200),
        ("stripeWebhook-charge", "", 200),
        ("stripeWebhook", "", 200),
        ("standardWebhook", "", 200),
        ("getBalance", &jane, 200),
        // The workforce's logins, in moto's staff pool: one invited, listed, then disabled.
        ("addStaff", &admin, 201),
        ("listStaff", &admin, 200),
        ("disableStaff", &admin, 200),
    ];
    let mut webhook_outcomes = Vec::new();
    for (op, token, expected) in steps {
        let name = format!("apigw-v2-{op}.json");
        let mut event = fixture(
            &name,
            &[
                ("{{TOKEN}}", token),
                ("{{PROVIDER_ID}}", &provider),
                ("{{SERVICE_ID}}", &service),
                ("{{APPOINTMENT_ID}}", &appointment),
                ("{{FEEDBACK_ID}}", &feedback),
                ("{{WAITLIST_ID}}", &entry),
                ("{{ID_TOKEN}}", &jane_id),
                ("{{SERIES_ID}}", &series),
                ("{{OCCURRENCE_ID}}", &occurrence),
                ("{{FEED_FILE}}", &feed),
                ("{{CALENDAR_ID}}", &calendar),
                ("{{VERSION_HASH}}", &version),
                ("{{SIGNATURE_ID}}", &signature),
                ("{{FORM_VERSION}}", &form_version),
                ("{{SUBMISSION_ID}}", &submission),
                ("{{CHARGE_ID}}", &charge),
                ("{{STAFF_SUBJECT}}", &staff_subject),
            ],
        );
        if op.contains("Webhook") {
            event = resign(event);
        }
        let function = owner(event["routeKey"].as_str().unwrap());
        let (status, body) = http_answer(apis[function.as_str()].invoke(event).await);
        assert_eq!(status, *expected, "{op} on {function}: {body}");
        fixtures_run.insert(name);
        match *op {
            "book" => {
                assert_eq!(body["reason"], "Follow-up on sleep");
                appointment = body["id"].as_str().unwrap().to_owned();
            }
            "getAppointment" => assert_eq!(body["reason"], "Follow-up on sleep"),
            "cancel" => assert_eq!(body["status"], "cancelled"),
            "createSeries" => {
                series = body["id"].as_str().unwrap().to_owned();
                occurrence = body["occurrences"][1]["appointmentId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            "cancelSeries" => assert_eq!(body["occurrences"][3]["status"], "cancelled"),
            "addBusyCalendar" => calendar = body["id"].as_str().unwrap().to_owned(),
            "listConsents" => version = practica_tests::version_of(&body, "telehealth"),
            "signConsent" => signature = body["signatureId"].as_str().unwrap().to_owned(),
            "listForms" => form_version = practica_tests::form_version_of(&body, "phq-9"),
            "submitForm" => submission = body["submissionId"].as_str().unwrap().to_owned(),
            "addStaff" => staff_subject = body["subject"].as_str().unwrap().to_owned(),
            "listStaff" => assert!(
                body["staff"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["subject"] == staff_subject.as_str()),
                "{body}"
            ),
            "disableStaff" => assert_eq!(body["enabled"], false, "{body}"),
            "createCalendarFeed" => {
                let url = body["url"].as_str().unwrap();
                feed = url.rsplit('/').next().unwrap().to_owned();
            }
            "verifyMyEmail" => assert_eq!(body["emailVerified"], true, "{body}"),
            "submitFeedback" => feedback = body["id"].as_str().unwrap().to_owned(),
            "resolveFeedback" => assert_eq!(body["status"], "resolved"),
            "recordAttendance" => assert_eq!(body["code"], "attendance_not_allowed"),
            op if op.contains("Visit") => assert_eq!(body["code"], "not_online", "{op}"),
            "joinWaitlist" => entry = body["id"].as_str().unwrap().to_owned(),
            "leaveWaitlist" => assert_eq!(body["removed"], true, "{body}"),
            "createCharge" => charge = body["id"].as_str().unwrap().to_owned(),
            "waiveFee" => assert_eq!(body["code"], "not_a_fee"),
            "setupCard" => assert_eq!(body["code"], "consent_required"),
            "removeCard" => assert_eq!(body["code"], "no_card_on_file"),
            "payDeposit" => assert_eq!(body["code"], "no_deposit_due"),
            "createPaymentIntent" => assert_eq!(body["clientSecret"], "pi_fixture_1_secret_x"),
            "getBalance" => {
                assert_eq!(body["balances"][0]["balance"], 5000, "{body}");
                assert_eq!(body["payments"][0]["status"], "succeeded");
                assert_eq!(body["payments"][0]["refunded"], 5000);
            }
            op if op.contains("Webhook") => {
                webhook_outcomes.push(body["outcome"].as_str().unwrap_or_default().to_owned())
            }
            _ => {}
        }
    }
    assert_eq!(
        webhook_outcomes,
        ["applied", "applied", "duplicate", "applied"]
    );
    // The booking left its messages in the table (same transaction), with its audit entries.
    let waiting = practica_tests::waiting_messages(&world.state).await;
    assert!(
        !waiting.is_empty(),
        "the booking's messages wait in the outbox"
    );

    // Only through the edge: each HTTP function refuses a request without CloudFront's origin
    // secret (as one sent to the API's own execute-api address would be), or with a wrong one,
    // before its token is even looked at; the previous secret still opens during a rotation.
    let edge_cases: [(&str, &str, u64); 4] = [
        ("get-me", &staff, 200),
        ("getBalance", &jane, 200),
        ("standardWebhook", "", 200),
        ("listReports", &admin, 200),
    ];
    for (op, token, expected) in edge_cases {
        let event = || {
            let event = fixture(&format!("apigw-v2-{op}.json"), &[("{{TOKEN}}", token)]);
            if op.contains("Webhook") {
                resign(event)
            } else {
                event
            }
        };
        let function = owner(event()["routeKey"].as_str().unwrap());
        let headers = [
            None,
            Some("edgeCurrent0123456789abcdefghijklmnopqrstu"),
            Some(""),
            Some(practica_tests::TEST_PREVIOUS_ORIGIN_SECRET),
        ];
        for header in headers {
            let mut event = event();
            let fields = event["headers"].as_object_mut().unwrap();
            fields.remove("x-practica-origin");
            if let Some(value) = header {
                fields.insert("x-practica-origin".into(), value.into());
            }
            let (status, body) = http_answer(apis[function.as_str()].invoke(event).await);
            let previous = header == Some(practica_tests::TEST_PREVIOUS_ORIGIN_SECRET);
            assert_eq!(
                status,
                if previous { expected } else { 403 },
                "{op} with {header:?}: {body}"
            );
            if !previous {
                assert_eq!(body["status"], 403, "{body}");
            }
        }
    }
    // Behind the edge the client's address is the viewer's, as CloudFront reports it, not the
    // edge server's that API Gateway saw.
    let mut search = fixture("apigw-v2-searchAudit.json", &[("{{TOKEN}}", &admin)]);
    let now = jiff::Timestamp::now();
    let (from, to) = (
        now - jiff::SignedDuration::from_hours(1),
        now + jiff::SignedDuration::from_hours(1),
    );
    let rfc = |t: jiff::Timestamp| t.to_string();
    search["rawQueryString"] =
        format!("from={}&to={}&action=patient.read", rfc(from), rfc(to)).into();
    search["queryStringParameters"] =
        json!({"from": rfc(from), "to": rfc(to), "action": "patient.read"});
    let (status, body) = http_answer(apis["booking"].invoke(search).await);
    assert_eq!(status, 200, "{body}");
    let addresses: HashSet<&str> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["sourceAddress"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(addresses, HashSet::from(["198.51.100.7"]), "{body}");

    // A webhook whose bytes were changed after signing is refused before anything is parsed.
    let mut forged = resign(fixture("apigw-v2-standardWebhook.json", &[]));
    forged["body"] = json!(forged["body"].as_str().unwrap().replace("5000", "15000"));
    let (status, _) = http_answer(apis["webhooks"].invoke(forged).await);
    assert_eq!(status, 400);

    // The scheduled and event-driven functions.
    let answer = apis["sweep"]
        .invoke(fixture("schedule-sweep.json", &[]))
        .await
        .response();
    assert!(answer["removed"].is_u64(), "{answer}");
    fixtures_run.insert("schedule-sweep.json".into());

    let answer = apis["audit"]
        .invoke(fixture("dynamodb-stream-audit.json", &[]))
        .await
        .response();
    assert_eq!(answer["trigger"], "stream", "{answer}");
    let integrated = answer["size"].as_u64().unwrap();
    assert!(
        integrated > 10,
        "every entry so far is in the log: {answer}"
    );
    assert!(
        answer["archived"].is_string(),
        "checkpoint archived: {answer}"
    );
    for name in ["schedule-audit.json", "schedule-audit-scheduler.json"] {
        let answer = apis["audit"].invoke(fixture(name, &[])).await.response();
        assert_eq!(answer["trigger"], "schedule", "{name}: {answer}");
        assert!(answer["size"].as_u64().unwrap() >= integrated, "{answer}");
        fixtures_run.insert(name.into());
    }
    fixtures_run.insert("dynamodb-stream-audit.json".into());
    // A batch reporting audit entries modified and removed: recorded as tampering, sealed.
    let answer = apis["audit"]
        .invoke(fixture("dynamodb-stream-audit-tamper.json", &[]))
        .await
        .response();
    assert_eq!(answer["tamperDetected"], 3, "{answer}");
    assert!(
        answer["size"].as_u64().unwrap() >= integrated + 3,
        "{answer}"
    );
    fixtures_run.insert("dynamodb-stream-audit-tamper.json".into());
    // The proof that the log the stream run signed is a prefix of the one signed since: the
    // patient's page asks for it from the size it last checked.
    let (from, size) = (integrated.to_string(), answer["size"].to_string());
    let event = fixture(
        "apigw-v2-getAuditConsistency.json",
        &[
            ("{{TOKEN}}", &jane),
            ("{{FROM}}", &from),
            ("{{SIZE}}", &size),
        ],
    );
    let (status, body) = http_answer(apis["booking"].invoke(event).await);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["to"], answer["size"], "{body}");
    assert!(!body["proof"].as_array().unwrap().is_empty(), "{body}");
    fixtures_run.insert("apigw-v2-getAuditConsistency.json".into());

    // The cancellation notice (Jane's email is on; SMS has no origination here, so email only),
    // delivered from its stream record through SES on moto; the same record again sends nothing.
    let outbox = practica_tests::waiting_messages(&world.state).await;
    let notice = outbox
        .iter()
        .find(|m| m.kind == domain::notify::Kind::Cancelled)
        .map(|m| m.id.to_string())
        .expect("the cancellation notice waits in the outbox");
    let record = fixture(
        "dynamodb-stream-outbox.json",
        &[("{{MESSAGE_ID}}", &notice)],
    );
    let answer = apis["notify"].invoke(record.clone()).await.response();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(answer["outcomes"], json!(["Sent([Email])"]), "{answer}");
    let again = apis["notify"].invoke(record).await.response();
    assert_eq!(again["outcomes"], json!(["AlreadyDone"]), "{again}");

    // Jane books again (her address is verified now, through her login's ID token): the booking's
    // confirmation is emailed to her by the notify function, through SES on moto.
    let mut event = fixture(
        "apigw-v2-book.json",
        &[
            ("{{TOKEN}}", &jane),
            ("{{PROVIDER_ID}}", &provider),
            ("{{SERVICE_ID}}", &service),
        ],
    );
    event["headers"]["idempotency-key"] = json!("event-book-again");
    let body = {
        use base64::Engine as _;
        let engine = base64::engine::general_purpose::STANDARD;
        let text =
            String::from_utf8(engine.decode(event["body"].as_str().unwrap()).unwrap()).unwrap();
        engine.encode(text.replace("T10:00:00", "T11:30:00"))
    };
    event["body"] = json!(body);
    let (status, booked) = http_answer(apis["booking"].invoke(event).await);
    assert_eq!(status, 201, "{booked}");
    let confirmation = practica_tests::waiting_messages(&world.state)
        .await
        .into_iter()
        .find(|m| {
            m.kind == domain::notify::Kind::Confirmation
                && m.appointment.as_ref().map(|(id, _)| id.to_string())
                    == booked["id"].as_str().map(str::to_owned)
        })
        .map(|m| m.id.to_string())
        .expect("the booking's confirmation waits in the outbox");
    let record = fixture(
        "dynamodb-stream-outbox.json",
        &[("{{MESSAGE_ID}}", &confirmation)],
    );
    let answer = apis["notify"].invoke(record).await.response();
    assert_eq!(answer["outcomes"], json!(["Sent([Email])"]), "{answer}");
    let answer = apis["notify"]
        .invoke(fixture("schedule-notify.json", &[]))
        .await
        .response();
    assert_eq!(answer["trigger"], "schedule", "{answer}");
    for name in ["ses-bounce.json", "ses-complaint.json"] {
        let answer = apis["notify"]
            .invoke(fixture(name, &[("{{MESSAGE_ID}}", &notice)]))
            .await
            .response();
        assert_eq!(answer["recorded"], true, "{name}: {answer}");
        fixtures_run.insert(name.into());
    }
    fixtures_run.insert("dynamodb-stream-outbox.json".into());
    fixtures_run.insert("schedule-notify.json".into());

    for name in [
        "schedule-report-weekly.json",
        "schedule-report-monthly.json",
    ] {
        let answer = apis["reports"].invoke(fixture(name, &[])).await.response();
        report = answer["report"]
            .as_str()
            .unwrap_or_else(|| panic!("{answer}"))
            .to_owned();
        fixtures_run.insert(name.into());
    }
    // The quarterly access review, reading moto's staff pool through the Cognito adapter: the
    // login invited and disabled above is in it.
    let answer = apis["reports"]
        .invoke(fixture("schedule-report-quarterly.json", &[]))
        .await
        .response();
    let review = answer["report"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"));
    assert_eq!(review.len(), 21, "a quarter's dates: {answer}");
    fixtures_run.insert("schedule-report-quarterly.json".into());
    // The release binaries run on the system clock: today in the practice's zone.
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .date()
        .to_string();
    for (op, expected) in [
        ("listReports", 200),
        ("getReport", 200),
        ("getReportFile", 200),
        ("getLiveReport", 200),
    ] {
        let name = format!("apigw-v2-{op}.json");
        let event = fixture(
            &name,
            &[
                ("{{TOKEN}}", &admin),
                ("{{REPORT_ID}}", &report),
                ("{{TODAY}}", &today),
            ],
        );
        assert_eq!(owner(event["routeKey"].as_str().unwrap()), "reports");
        let (status, body) = http_answer(apis["reports"].invoke(event).await);
        assert_eq!(status, expected, "{op}: {body}");
        fixtures_run.insert(name);
    }

    // Every fixture in events/ was run.
    let all: HashSet<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let missed: Vec<_> = all.difference(&fixtures_run).collect();
    assert!(missed.is_empty(), "fixtures never invoked: {missed:?}");

    // Still running: no invocation took its execution environment down.
    for mut p in processes {
        assert!(p.child.try_wait().unwrap().is_none(), "a function exited");
    }
}

/// A variable set to a value, or removed.
type Change<'a> = (&'a str, Option<&'a str>);

/// A function started with `vars` changed: it must end in `init/error` naming the variable.
async fn refused_start(world: &World, function: &str, change: &[Change<'_>]) -> Value {
    let api = RuntimeApi::start().await;
    let mut env = lambda_environment(&api, function);
    env.extend(world.vars.iter().cloned());
    for (name, value) in change {
        env.retain(|(k, _)| k != name);
        if let Some(v) = value {
            env.push(((*name).into(), (*v).into()));
        }
    }
    let mut process = spawn(&bootstrap(function), &env);
    let status = tokio::time::timeout(std::time::Duration::from_secs(30), process.child.wait())
        .await
        .expect("the function gave up within 30 s")
        .unwrap();
    assert!(!status.success(), "{function} exited successfully");
    let (error_type, body) = api
        .init_error()
        .unwrap_or_else(|| panic!("{function} exited without init/error"));
    assert_eq!(body["errorType"], error_type);
    assert!(
        api.first_next().is_none(),
        "asked for an event after failing"
    );
    body
}

#[tokio::test]
async fn a_missing_or_malformed_variable_ends_in_init_error_naming_it() {
    let Some(world) = world().await else {
        return;
    };
    let sm = aws_sdk_secretsmanager::Client::new(&sdk_config(&Emulator::Moto.endpoint().unwrap()));
    let short = secret(&sm, "whsec_short").await;
    let weak_origin = secret(&sm, r#"{"current":"whsec_short"}"#).await;
    // (function, variables changed: a value or removed, the variable named, what the message says)
    let cases: Vec<(&str, Vec<Change>, &str, &str)> = vec![
        (
            "booking",
            vec![("PRACTICA_TABLE", None)],
            "PRACTICA_TABLE",
            "missing",
        ),
        (
            "booking",
            vec![("PRACTICA_AUTH_ISSUER", Some("http://cognito.example"))],
            "PRACTICA_AUTH_ISSUER",
            "must be an https URL",
        ),
        (
            "payments",
            vec![("STRIPE_API_BASE", Some("http://api.stripe.example"))],
            "STRIPE_API_BASE",
            "https",
        ),
        (
            "webhooks",
            vec![("STRIPE_WEBHOOK_SECRETS", Some(short.as_str()))],
            "STRIPE_WEBHOOK_SECRETS",
            "too short",
        ),
        (
            "webhooks",
            vec![("STANDARD_WEBHOOK_SECRETS", None)],
            "STANDARD_WEBHOOK_SECRETS",
            "missing",
        ),
        (
            "audit",
            vec![("PRACTICA_AUDIT_SIGNING_KEY_ID", None)],
            "PRACTICA_AUDIT_SIGNING_KEY_ID",
            "missing",
        ),
        (
            "reports",
            vec![("PRACTICA_REPORTS_BUCKET", None)],
            "PRACTICA_REPORTS_BUCKET",
            "missing",
        ),
        (
            "notify",
            vec![("PRACTICA_SES_FROM", None)],
            "PRACTICA_SES_FROM",
            "missing",
        ),
        (
            "booking",
            vec![("PRACTICA_ORIGIN_SECRET", None)],
            "PRACTICA_ORIGIN_SECRET",
            "missing",
        ),
        (
            "reports",
            vec![("PRACTICA_ORIGIN_SECRET", Some(weak_origin.as_str()))],
            "PRACTICA_ORIGIN_SECRET",
            "shorter than 32",
        ),
        (
            "sweep",
            vec![("PRACTICA_DATA_KEY_MAX_USES", Some("many"))],
            "PRACTICA_DATA_KEY_MAX_USES",
            "not a whole number",
        ),
    ];
    for (function, change, variable, what) in cases {
        let body = refused_start(&world, function, &change).await;
        let message = body["errorMessage"].as_str().unwrap();
        assert!(
            message.contains(variable) && message.contains(what),
            "{function}: {message}"
        );
        assert_eq!(
            body["errorType"], "Practica.ConfigError",
            "{function}: {body}"
        );
        assert!(
            !message.contains("whsec_short"),
            "a value in the message: {message}"
        );
    }
}
