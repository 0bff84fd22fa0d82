//! The routers driven by real API Gateway HTTP API (v2) events from `events/`, converted by
//! lambda_http exactly as the Lambda entry point does.

use http::StatusCode;
use practica_tests::{LocalStack, call};
use shared::auth::Role;

fn event(name: &str, token: Option<&str>) -> http::Request<axum::body::Body> {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&path).expect("event file");
    if let Some(token) = token {
        text = text.replace("{{TOKEN}}", token);
    }
    let request = lambda_http::request::from_str(&text).expect("a valid API Gateway v2 event");
    request.map(axum::body::Body::new)
}

#[tokio::test]
async fn get_me_event_reaches_the_router_with_the_gateway_request_id() {
    let stack = LocalStack::new();
    let token = stack.token("staff-1", &[Role::Staff]);
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        event("apigw-v2-get-me.json", Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["sub"], "staff-1");
    assert_eq!(headers["x-request-id"], "JKJaXmPLvHcESHA=");
}

#[tokio::test]
async fn event_without_token_is_refused() {
    let stack = LocalStack::new();
    let failures = shared::telemetry::token_failures();
    let (status, headers, body) = call(
        booking::router(stack.state.clone()),
        event("apigw-v2-get-me-no-token.json", None),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(body["code"], "unauthorized");
    // Counted (a metric), not stored: no audit record for a token failure.
    assert!(shared::telemetry::token_failures() > failures);
}

/// An event from `events/` with its placeholders filled, also inside base64 bodies.
fn filled_event(name: &str, values: &[(&str, &str)]) -> http::Request<axum::body::Body> {
    let event = practica_tests::event_with(name, values);
    let request = lambda_http::request::from_str(&event.to_string()).expect("a valid v2 event");
    request.map(axum::body::Body::new)
}

/// Every booking route, driven by its API Gateway event through the Lambda entry point's
/// conversion, in the order a practice would use them.
#[tokio::test]
async fn every_booking_event_runs_through_the_lambda_conversion() {
    use practica_tests::Stack;
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let admin = stack.token("admin-1", &[Role::Admin]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    // Her login's ID token, vouching for the address her record has (the portal sends it).
    let jane_id = {
        let now = practica_tests::TEST_NOW as u64;
        let subject = shared::auth::Subject::parse("patient-jane").unwrap();
        (stack.issuer)
            .mint_id_token(&subject, "jane.demo@example.org", true, now, now + 3600)
            .unwrap()
    };
    let provider = demo.providers[0].to_string();
    let service = demo.services[1].to_string();
    let mut appointment = String::new();
    let mut feedback = String::new();
    let mut entry = String::new();
    let (mut series, mut occurrence) = (String::new(), String::new());
    let mut feed = String::new();
    let mut calendar = String::new();
    let (mut version, mut signature) = (String::new(), String::new());
    let (mut form_version, mut submission) = (String::new(), String::new());
    let mut staff_subject = String::new();
    // A published report for the report routes.
    let week = "2026-11-16_2026-11-23";
    let manifest = shared::reports::Manifest {
        id: week.into(),
        from: "2026-11-16".into(),
        to: "2026-11-23".into(),
        files: vec!["report.json".into(), "report.html".into()],
    };
    stack
        .reports
        .put(week, "report.json", br#"{"id": "2026-11-16_2026-11-23"}"#)
        .await
        .unwrap();
    stack
        .reports
        .put(week, "report.html", b"<!DOCTYPE html><title>r</title>")
        .await
        .unwrap();
    stack.reports.put_manifest(&manifest).await.unwrap();
    let steps: &[(&str, &String, StatusCode)] = &[
        ("putPractice", &admin, StatusCode::OK),
        ("getPractice", &jane, StatusCode::OK),
        ("listProviders", &jane, StatusCode::OK),
        ("createProvider", &staff, StatusCode::CREATED),
        ("getProvider", &jane, StatusCode::OK),
        ("putSchedule", &staff, StatusCode::OK),
        ("getAvailability", &jane, StatusCode::OK),
        ("listServices", &jane, StatusCode::OK),
        ("createService", &staff, StatusCode::CREATED),
        ("createHold", &jane, StatusCode::CREATED),
        ("book", &jane, StatusCode::CREATED),
        ("listAppointments", &jane, StatusCode::OK),
        ("getAppointment", &jane, StatusCode::OK),
        ("reschedule", &jane, StatusCode::OK),
        ("cancel", &jane, StatusCode::OK),
        // Cancelled: no attendance to record (the route and its body through the conversion).
        ("recordAttendance", &staff, StatusCode::CONFLICT),
        // Held in person: no visit room (each route and its body through the conversion).
        ("getVisitRoom", &jane, StatusCode::CONFLICT),
        ("joinVisit", &jane, StatusCode::CONFLICT),
        ("admitToVisit", &jane, StatusCode::CONFLICT),
        ("leaveVisit", &jane, StatusCode::CONFLICT),
        ("createSeries", &staff, StatusCode::CREATED),
        ("listSeries", &staff, StatusCode::OK),
        ("getSeries", &jane, StatusCode::OK),
        ("moveSeries", &staff, StatusCode::OK),
        ("cancelSeries", &staff, StatusCode::OK),
        ("createCalendarFeed", &staff, StatusCode::CREATED),
        ("listCalendarFeeds", &staff, StatusCode::OK),
        ("getCalendarFeed", &jane, StatusCode::OK),
        ("revokeCalendarFeed", &staff, StatusCode::OK),
        ("addBusyCalendar", &staff, StatusCode::CREATED),
        ("listBusyCalendars", &staff, StatusCode::OK),
        ("removeBusyCalendar", &staff, StatusCode::OK),
        ("listConsents", &jane, StatusCode::OK),
        ("putConsentDocument", &admin, StatusCode::CREATED),
        ("signConsent", &jane, StatusCode::CREATED),
        ("getConsentCopy", &jane, StatusCode::OK),
        ("exportPatientRecord", &jane, StatusCode::OK),
        ("listPatientConsents", &staff, StatusCode::OK),
        ("withdrawConsent", &jane, StatusCode::CREATED),
        ("listForms", &jane, StatusCode::OK),
        ("putForm", &admin, StatusCode::CREATED),
        ("putFormDraft", &jane, StatusCode::OK),
        ("getFormDraft", &jane, StatusCode::OK),
        ("submitForm", &jane, StatusCode::CREATED),
        ("listPatientForms", &staff, StatusCode::OK),
        ("getFormSubmission", &staff, StatusCode::OK),
        ("createPatient", &staff, StatusCode::CREATED),
        ("searchPatients", &staff, StatusCode::OK),
        ("getPatient", &staff, StatusCode::OK),
        ("getMyPatientRecord", &jane, StatusCode::OK),
        ("putMyPatientRecord", &jane, StatusCode::OK),
        ("verifyMyEmail", &jane, StatusCode::OK),
        ("joinWaitlist", &jane, StatusCode::CREATED),
        ("listWaitlist", &jane, StatusCode::OK),
        ("leaveWaitlist", &jane, StatusCode::OK),
        ("getMyAccessLog", &jane, StatusCode::OK),
        ("putMyNotifications", &jane, StatusCode::OK),
        ("getMyNotifications", &jane, StatusCode::OK),
        ("getPatientAccessLog", &admin, StatusCode::OK),
        ("listPatientMessages", &staff, StatusCode::OK),
        ("searchAudit", &admin, StatusCode::OK),
        ("submitFeedback", &jane, StatusCode::CREATED),
        ("listFeedback", &staff, StatusCode::OK),
        ("resolveFeedback", &staff, StatusCode::OK),
        ("listReports", &admin, StatusCode::OK),
        ("getReport", &admin, StatusCode::OK),
        ("getReportFile", &admin, StatusCode::OK),
        ("getLiveReport", &admin, StatusCode::OK),
        // The workforce's logins: one invited, listed, then disabled.
        ("addStaff", &admin, StatusCode::CREATED),
        ("listStaff", &admin, StatusCode::OK),
        ("disableStaff", &admin, StatusCode::OK),
    ];
    // Today in the practice's zone, on the stack's clock: a live report's days.
    let today = jiff::Timestamp::from_second(practica_tests::TEST_NOW)
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .date()
        .to_string();
    for (op, token, expected) in steps {
        let values = [
            ("{{TOKEN}}", token.as_str()),
            ("{{PROVIDER_ID}}", provider.as_str()),
            ("{{SERVICE_ID}}", service.as_str()),
            ("{{APPOINTMENT_ID}}", appointment.as_str()),
            ("{{FEEDBACK_ID}}", feedback.as_str()),
            ("{{WAITLIST_ID}}", entry.as_str()),
            ("{{REPORT_ID}}", week),
            ("{{ID_TOKEN}}", jane_id.as_str()),
            ("{{TODAY}}", today.as_str()),
            ("{{SERIES_ID}}", series.as_str()),
            ("{{OCCURRENCE_ID}}", occurrence.as_str()),
            ("{{FEED_FILE}}", feed.as_str()),
            ("{{CALENDAR_ID}}", calendar.as_str()),
            ("{{VERSION_HASH}}", version.as_str()),
            ("{{SIGNATURE_ID}}", signature.as_str()),
            ("{{FORM_VERSION}}", form_version.as_str()),
            ("{{SUBMISSION_ID}}", submission.as_str()),
            ("{{STAFF_SUBJECT}}", staff_subject.as_str()),
        ];
        let request = filled_event(&format!("apigw-v2-{op}.json"), &values);
        let (status, headers, body) = call(stack.router.clone(), request).await;
        assert_eq!(status, *expected, "{op}: {body}");
        assert_eq!(headers["x-request-id"], format!("evt-{op}"));
        match *op {
            "book" => {
                // The base64 body arrived intact.
                assert_eq!(body["reason"], "Follow-up on sleep");
                appointment = body["id"].as_str().unwrap().to_owned();
            }
            "getAppointment" => assert_eq!(body["reason"], "Follow-up on sleep"),
            "createSeries" => {
                assert_eq!(body["occurrences"].as_array().map(Vec::len), Some(4));
                series = body["id"].as_str().unwrap().to_owned();
                occurrence = body["occurrences"][1]["appointmentId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            "moveSeries" => {
                assert_eq!(body["occurrences"][1]["start"], "2026-11-25T16:00:00-05:00")
            }
            "cancelSeries" => assert_eq!(body["occurrences"][3]["status"], "cancelled"),
            "addBusyCalendar" => calendar = body["id"].as_str().unwrap().to_owned(),
            "listConsents" => version = practica_tests::version_of(&body, "telehealth"),
            "signConsent" => signature = body["signatureId"].as_str().unwrap().to_owned(),
            "listForms" => form_version = practica_tests::form_version_of(&body, "phq-9"),
            "submitForm" => submission = body["submissionId"].as_str().unwrap().to_owned(),
            "addStaff" => staff_subject = body["subject"].as_str().unwrap().to_owned(),
            "disableStaff" => assert_eq!(body["enabled"], false),
            "createCalendarFeed" => {
                let url = body["url"].as_str().unwrap();
                feed = url.rsplit('/').next().unwrap().to_owned();
            }
            "submitFeedback" => {
                assert_eq!(body["appointmentId"], appointment.as_str());
                feedback = body["id"].as_str().unwrap().to_owned();
            }
            "listFeedback" => assert_eq!(body["feedback"][0]["id"], feedback.as_str()),
            "resolveFeedback" => assert_eq!(body["status"], "resolved"),
            "recordAttendance" => assert_eq!(body["code"], "attendance_not_allowed"),
            op if op.contains("Visit") => assert_eq!(body["code"], "not_online", "{op}"),
            "joinWaitlist" => entry = body["id"].as_str().unwrap().to_owned(),
            "leaveWaitlist" => assert_eq!(body["removed"], true),
            "verifyMyEmail" => assert_eq!(body["emailVerified"], true),
            "listReports" => assert_eq!(body["reports"][0]["id"], week),
            "getReport" => assert_eq!(body["id"], week),
            // Today's bookings are in it, as they are now.
            "getLiveReport" => {
                assert_eq!(body["period"]["from"], today.as_str(), "{body}");
                assert!(
                    body["auditLog"]["verification"]
                        .as_str()
                        .unwrap()
                        .starts_with("not verified")
                );
            }
            "cancel" => assert_eq!(body["status"], "cancelled"),
            "getMyNotifications" => {
                assert_eq!(body["channels"], serde_json::json!(["email", "sms"]))
            }
            "searchPatients" => assert_eq!(body["patients"][0]["patientId"], "patient-omar"),
            // The staff read of Omar's record, with its source as the gateway gave it.
            "searchAudit" => {
                let read = body["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|e| e["requestId"] == "evt-getPatient")
                    .unwrap_or_else(|| panic!("{body}"));
                assert_eq!(read["sourceFunction"], "booking");
                assert_eq!(read["sourceAddress"], "192.0.2.10");
                assert_eq!(read["patientIds"][0], "patient-omar");
            }
            _ => {}
        }
    }
    // Each documented /v1 operation has its event.
    let doc: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap(),
    )
    .unwrap();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for op in ops.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            if path.starts_with("/v1/") && path != "/v1/me" {
                let file = format!(
                    "{}/../events/apigw-v2-{id}.json",
                    env!("CARGO_MANIFEST_DIR")
                );
                assert!(std::path::Path::new(&file).exists(), "no event for {id}");
            }
        }
    }
}

/// Every payments and webhook event, through the Lambda conversion: the Stripe event arrives
/// base64-encoded (as API Gateway sends a body it treats as binary) and verifies over the decoded
/// bytes; the second is signed only by the secret being rotated out; a redelivery changes nothing.
#[tokio::test]
async fn every_payment_and_webhook_event_runs_through_the_lambda_conversion() {
    use practica_tests::Stack;
    let mut stack = Stack::embedded();
    stack.use_processor(std::sync::Arc::new(practica_tests::FixtureProcessor));
    stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let steps: &[(&str, &str, StatusCode)] = &[
        ("createCharge", &staff, StatusCode::CREATED),
        // A charge staff posted is not a fee: the route answers, nothing is waived.
        ("waiveFee", &staff, StatusCode::UNPROCESSABLE_ENTITY),
        ("createPaymentIntent", &jane, StatusCode::CREATED),
        ("getCard", &jane, StatusCode::OK),
        // She has not signed the card authorisation: nothing is set up.
        ("setupCard", &jane, StatusCode::CONFLICT),
        ("removeCard", &jane, StatusCode::NOT_FOUND),
        // No such appointment.
        ("payDeposit", &jane, StatusCode::NOT_FOUND),
        ("listDisputes", &staff, StatusCode::OK),
        // No dispute of that id: nothing drafted or submitted.
        ("draftDisputeEvidence", &staff, StatusCode::NOT_FOUND),
        ("submitDisputeEvidence", &staff, StatusCode::NOT_FOUND),
        ("stripeWebhook", "", StatusCode::OK),
        ("stripeWebhook-charge", "", StatusCode::OK),
        ("stripeWebhook", "", StatusCode::OK),
        ("standardWebhook", "", StatusCode::OK),
        ("getBalance", &jane, StatusCode::OK),
    ];
    let mut outcomes = Vec::new();
    let mut charge = String::new();
    for (op, token, expected) in steps {
        let values = [
            ("{{TOKEN}}", *token),
            ("{{CHARGE_ID}}", charge.as_str()),
            ("{{APPOINTMENT_ID}}", "apt_01KDQ0000000000000000000AA"),
        ];
        let request = filled_event(&format!("apigw-v2-{op}.json"), &values);
        let (status, headers, body) = call(stack.router.clone(), request).await;
        assert_eq!(status, *expected, "{op}: {body}");
        match *op {
            "createCharge" => charge = body["id"].as_str().unwrap().to_owned(),
            "waiveFee" => assert_eq!(body["code"], "not_a_fee"),
            "setupCard" => assert_eq!(body["code"], "consent_required"),
            "removeCard" => assert_eq!(body["code"], "no_card_on_file"),
            _ => {}
        }
        assert_eq!(headers["x-request-id"], format!("evt-{op}"));
        if op.contains("Webhook") {
            outcomes.push(body["outcome"].as_str().unwrap_or_default().to_owned());
        }
        if *op == "getBalance" {
            assert_eq!(body["balances"][0]["balance"], 5000, "{body}");
            let payment = &body["payments"][0];
            assert_eq!(payment["status"], "succeeded");
            assert_eq!(payment["refunded"], 5000);
            assert_eq!(payment["cardChecks"]["postalCode"], "fail");
        }
    }
    assert_eq!(outcomes, ["applied", "applied", "duplicate", "applied"]);
}
