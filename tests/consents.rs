//! Consents through the router: the starter documents, a service that requires two of them
//! refusing bookings, holds and series with `409 consent_required` (nothing written) until the
//! patient signs their current versions; bad signatures (not agreed, empty or control-character
//! names, a stale version, an unknown document) refused with nothing written; two signatures racing
//! write one; a new version asks again; withdrawal; the signed copy (JSON and printable HTML),
//! which `practica audit check-proof` verifies offline once the log has sealed it, and which fails
//! the check when its text is changed. On the embedded store and DynamoDB Local.

use http::StatusCode;
use practica_cli::demo::{DEMO_PATIENT, Demo};
use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::adapters::local_signer::LocalSigner;
use shared::auth::Role;
use shared::crypto::signer::LogSigner as _;

const KEY: &str = practica_tests::TEST_LOG_KEY;

async fn seal(stack: &Stack, signer: &LocalSigner) {
    practica_tests::seal_log(stack, signer).await;
}

/// A 30-minute video visit with Dr. Rivera that needs the treatment and telehealth consents.
async fn telehealth_service(stack: &Stack, demo: &Demo) -> String {
    let admin = stack.token("admin-1", &[Role::Admin]);
    let body = json!({"name": "Video session", "durationMinutes": 30, "providerIds": [demo.providers[0]], "requiredConsents": ["telehealth", "treatment"]});
    let (status, service) = stack.post(&admin, "svc-video", "/v1/services", body).await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    assert_eq!(
        service["requiredConsents"],
        json!(["telehealth", "treatment"])
    );
    let unknown = json!({"name": "x", "durationMinutes": 30, "providerIds": [demo.providers[0]], "requiredConsents": ["no-such-document"]});
    let (status, refused) = stack.post(&admin, "svc-bad", "/v1/services", unknown).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "unknown_document");
    service["id"].as_str().unwrap().to_owned()
}

fn document<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["documentId"] == id)
        .unwrap_or_else(|| panic!("{id} in {list}"))
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let service = telehealth_service(&stack, &demo).await;

    // The starter documents, each with its text and version; Jane has signed none.
    let (status, list) = stack.get(&jane, "/v1/consents").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["documents"].as_array().unwrap().len(), 5);
    let telehealth = document(&list, "telehealth").clone();
    let treatment = document(&list, "treatment").clone();
    assert_eq!(telehealth["mine"]["status"], "not_signed");
    let text = telehealth["text"].as_str().unwrap();
    assert_eq!(
        telehealth["versionHash"],
        domain::consent::version_hash(text).as_str()
    );

    // Booking, holding or a series of the service: 409 naming both documents, nothing written.
    let start = "2026-11-24T14:00:00-05:00";
    let booking = json!({"providerId": demo.providers[0], "serviceId": service, "start": start});
    for (key, path, body) in [
        ("b1", "/v1/appointments", booking.clone()),
        ("h1", "/v1/holds", booking.clone()),
        (
            "s1",
            "/v1/series",
            json!({"providerId": demo.providers[0], "serviceId": service, "start": start, "everyWeeks": 1, "count": 4, "patientId": DEMO_PATIENT}),
        ),
    ] {
        let token = if path == "/v1/series" { &staff } else { &jane };
        let (status, refused) = stack.post(token, key, path, body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{path}: {refused}");
        assert_eq!(refused["code"], "consent_required", "{refused}");
        let ids: Vec<_> = refused["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["documentId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, ["telehealth", "treatment"], "{refused}");
        assert_eq!(
            refused["documents"][0]["versionHash"],
            telehealth["versionHash"]
        );
    }
    // Nothing booked, held or reserved (the seed has no appointments).
    if let Some(items) = stack.scan_if_embedded().await {
        assert!(
            !items.iter().any(|i| ["APPT#", "LOCK#", "HOLD#", "SERIES#"]
                .iter()
                .any(|p| i.key.pk.starts_with(p))),
            "nothing booked, held or reserved"
        );
    }

    // Bad signatures: each refused, nothing written.
    let sign = |hash: &Value, name: &str, agree: bool| json!({"versionHash": hash, "typedName": name, "agree": agree});
    for (n, (path, body, status, code)) in [
        (
            "/v1/consents/telehealth/sign",
            sign(&telehealth["versionHash"], "Jane Demo-Patient", false),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_agreed",
        ),
        (
            "/v1/consents/telehealth/sign",
            sign(&telehealth["versionHash"], "   ", true),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_typed_name",
        ),
        (
            "/v1/consents/telehealth/sign",
            sign(&telehealth["versionHash"], "\u{1}\u{2}", true),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_typed_name",
        ),
        (
            "/v1/consents/telehealth/sign",
            sign(&treatment["versionHash"], "Jane Demo-Patient", true),
            StatusCode::CONFLICT,
            "consent_version_changed",
        ),
        (
            "/v1/consents/no-such/sign",
            sign(&telehealth["versionHash"], "Jane Demo-Patient", true),
            StatusCode::NOT_FOUND,
            "unknown_document",
        ),
        (
            "/v1/consents/telehealth/withdraw",
            json!({"typedName": "Jane Demo-Patient", "agree": true}),
            StatusCode::CONFLICT,
            "consent_not_signed",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (got, body) = stack.post(&jane, &format!("bad-{n}"), path, body).await;
        assert_eq!(
            (got, body["code"].as_str().unwrap_or_default()),
            (status, code),
            "{body}"
        );
    }
    // Staff do not sign for a patient.
    let body = sign(&telehealth["versionHash"], "Jane Demo-Patient", true);
    let (status, _) = stack
        .post(&staff, "staff-sign", "/v1/consents/telehealth/sign", body)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Two signatures of the same version racing: one is written.
    let body = sign(&telehealth["versionHash"], "Jane Demo-Patient", true);
    let (a, b) = tokio::join!(
        stack.post(
            &jane,
            "tele-a",
            "/v1/consents/telehealth/sign",
            body.clone()
        ),
        stack.post(
            &jane,
            "tele-b",
            "/v1/consents/telehealth/sign",
            body.clone()
        ),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::CREATED, StatusCode::CONFLICT],
        "{} {}",
        a.1,
        b.1
    );
    let signed = if a.0 == StatusCode::CREATED { a.1 } else { b.1 };
    assert_eq!(signed["typedName"], "Jane Demo-Patient");
    let signature = signed["signatureId"].as_str().unwrap().to_owned();
    let body = sign(&treatment["versionHash"], "Jane Demo-Patient", true);
    let (status, _) = stack
        .post(&jane, "treat", "/v1/consents/treatment/sign", body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, appt) = stack
        .post(&jane, "b2", "/v1/appointments", booking.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");

    // The practice publishes a new treatment text: Jane is asked again (only for it).
    let new_text = format!(
        "{}\nI also agree to be contacted by the practice.\n",
        treatment["text"].as_str().unwrap()
    );
    let put = json!({"title": "Consent to treatment", "text": new_text});
    let (status, _, published) = stack
        .send(
            "PUT",
            "/v1/consents/treatment",
            Some(&admin),
            Some("pub-1"),
            Some(put.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    let (status, _, _) = stack
        .send(
            "PUT",
            "/v1/consents/treatment",
            Some(&staff),
            Some("pub-2"),
            Some(put),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "only an admin publishes");
    // A long text in a script of three-byte characters (75 kB, over the 64 KiB general limit,
    // within the document's 50,000 characters) publishes; a body over 384 KiB is a 413.
    let euros = format!("Frais\n{}\n", "€".repeat(25_000));
    let long = json!({"title": "Long", "text": euros});
    let (status, _, long) = stack
        .send(
            "PUT",
            "/v1/consents/long-text",
            Some(&admin),
            Some("pub-long"),
            Some(long),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{long}");
    let huge = json!({"title": "Huge", "text": "€".repeat(140_000)});
    let (status, _, huge) = stack
        .send(
            "PUT",
            "/v1/consents/huge-text",
            Some(&admin),
            Some("pub-huge"),
            Some(huge),
        )
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{huge}");
    assert_eq!(huge["code"], "payload_too_large");
    let later = json!({"providerId": demo.providers[0], "serviceId": service, "start": "2026-11-25T14:00:00-05:00"});
    let (status, refused) = stack
        .post(&jane, "b3", "/v1/appointments", later.clone())
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["documents"].as_array().unwrap().len(), 1);
    assert_eq!(
        refused["documents"][0]["versionHash"],
        published["versionHash"]
    );
    let (_, list) = stack.get(&jane, "/v1/consents").await;
    assert_eq!(
        document(&list, "treatment")["mine"]["status"],
        "signed_earlier_version"
    );

    // Staff read Jane's consents and the signed copy; John may not.
    let path = format!("/v1/patients/{DEMO_PATIENT}/consents");
    let (status, hers) = stack.get(&staff, &path).await;
    assert_eq!(status, StatusCode::OK, "{hers}");
    assert_eq!(hers["signatures"].as_array().unwrap().len(), 2);
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _) = stack.get(&john, &path).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let copy_path = format!("{path}/{signature}");
    let (status, copy) = stack.get(&jane, &copy_path).await;
    assert_eq!(status, StatusCode::OK, "{copy}");
    assert_eq!(copy["text"], telehealth["text"]);
    assert_eq!(copy["typedName"], "Jane Demo-Patient");
    assert!(
        copy["entries"][0].get("inclusion").is_none(),
        "not sealed yet"
    );

    // Once the log is sealed, the copy verifies offline; a changed text does not.
    let signer = LocalSigner::generate().unwrap();
    seal(&stack, &signer).await;
    let (_, copy) = stack.get(&jane, &copy_path).await;
    let pem = practica_cli::audit::pem_of(signer.public_key());
    let checked =
        practica_cli::audit::check_proof(&copy.to_string(), &pem, KEY, Default::default())
            .expect("the copy verifies");
    assert_eq!(
        checked.document.as_deref(),
        telehealth["versionHash"].as_str()
    );
    assert_eq!(checked.with_bytes, 1);
    let mut forged = copy.clone();
    forged["text"] = json!(format!("{}\nAnd more.\n", copy["text"].as_str().unwrap()));
    let e = practica_cli::audit::check_proof(&forged.to_string(), &pem, KEY, Default::default())
        .unwrap_err();
    assert!(e.to_string().contains("not the version it names"), "{e}");
    let mut other_version = copy.clone();
    other_version["text"] = treatment["text"].clone();
    other_version["versionHash"] = treatment["versionHash"].clone();
    let e =
        practica_cli::audit::check_proof(&other_version.to_string(), &pem, KEY, Default::default())
            .unwrap_err();
    assert!(e.to_string().contains("names version"), "{e}");
    // Nor does a copy whose name, time or signature was changed.
    for (field, value, expected) in [
        ("typedName", json!("Jane Doe"), "another name"),
        ("signedAtUtc", json!("2026-11-20T10:00:00Z"), "signed at"),
        (
            "signatureId",
            json!("sig_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
            "another signature",
        ),
    ] {
        let mut changed = copy.clone();
        changed[field] = value;
        let e =
            practica_cli::audit::check_proof(&changed.to_string(), &pem, KEY, Default::default())
                .unwrap_err();
        assert!(e.to_string().contains(expected), "{field}: {e}");
    }
    // The printable copy.
    let response = tower::ServiceExt::oneshot(
        stack.router.clone(),
        http::Request::get(format!("{copy_path}?format=html"))
            .header("authorization", format!("Bearer {jane}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let page = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(
        page.contains("Jane Demo-Patient")
            && page.contains(telehealth["versionHash"].as_str().unwrap())
    );
    assert!(
        page.contains("of the practice's signed audit log"),
        "{page}"
    );

    // Withdrawal is signed too; the service is refused again.
    let (status, withdrawn) = stack
        .post(
            &jane,
            "w1",
            "/v1/consents/telehealth/withdraw",
            json!({"typedName": "Jane Demo-Patient", "agree": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{withdrawn}");
    assert_eq!(withdrawn["kind"], "withdraw");
    let (_, list) = stack.get(&jane, "/v1/consents").await;
    assert_eq!(document(&list, "telehealth")["mine"]["status"], "withdrawn");
    // The practice's report counts them, naming no one and no document.
    let (status, report) = stack
        .get(&admin, "/v1/live-report?from=2026-11-23&to=2026-11-23")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let rows = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "summary")
        .unwrap()["rows"]
        .as_array()
        .unwrap()
        .clone();
    let figure = |name: &str| rows.iter().find(|r| r[1] == name).map(|r| r[2].clone());
    assert_eq!(figure("consents signed"), Some(json!(2)), "{rows:?}");
    assert_eq!(figure("consents withdrawn"), Some(json!(1)));
    // Jane's access log shows the staff member's read of her consents.
    let (_, log) = stack.get(&jane, "/v1/patients/me/access-log").await;
    let actions: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        actions.contains(&"consent.sign".to_owned())
            && actions.contains(&"consent.list".to_owned()),
        "{actions:?}"
    );
}

#[tokio::test]
async fn embedded_consents_are_signed_required_and_proven() {
    journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_consents_are_signed_required_and_proven() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}
