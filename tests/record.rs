//! The patient's copy of her record (`GET /v1/patients/{id}/record`): Jane's holds her details,
//! her appointment with its provider and service, her charge and balance, her PHQ-9 with each
//! answer, her signature, and her access log with proofs once the log is sealed; the readable
//! page shows the same, escaped, with no scripts allowed. One audited read (`record.export`)
//! whoever makes it, which her access log then shows. Another patient and a provider are refused
//! (audited); staff make it for her without the access log; a patient the practice does not know
//! is 404. On the embedded store and DynamoDB Local.

use http::StatusCode;
use practica_cli::demo::DEMO_PATIENT;
use std::collections::BTreeMap;

use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::adapters::local_signer::LocalSigner;
use shared::auth::Role;
use shared::crypto::signer::LogSigner as _;

fn find<'a>(list: &'a Value, field: &str, value: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("a list: {list}"))
        .iter()
        .find(|v| v[field] == value)
        .unwrap_or_else(|| panic!("{field} = {value} in {list}"))
}

/// How many entries of each action and outcome her whole access log holds.
async fn actions(stack: &Stack, jane: &str) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = stack
            .get(
                jane,
                &format!("/v1/patients/me/access-log?limit=50{cursor}"),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        for e in page["entries"].as_array().unwrap() {
            let key = format!(
                "{}/{}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            );
            *counts.entry(key).or_default() += 1;
        }
        match page["next"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return counts,
        }
    }
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let path = format!("/v1/patients/{DEMO_PATIENT}/record");

    // Her week: a consultation, a charge, the PHQ-9, the treatment consent.
    let booking = json!({"providerId": demo.providers[0], "serviceId": demo.services[0], "start": "2026-11-24T10:00:00-05:00"});
    let (status, appt) = stack.post(&jane, "b1", "/v1/appointments", booking).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    let charge = json!({"patientId": DEMO_PATIENT, "currency": "USD",
        "lineItems": [{"description": "Initial assessment <b>60 min</b>", "amount": 12050}]});
    let (status, charged) = stack.post(&staff, "c1", "/v1/charges", charge).await;
    assert_eq!(status, StatusCode::CREATED, "{charged}");
    let (_, forms) = stack.get(&jane, "/v1/forms").await;
    let phq = find(&forms["forms"], "formId", "phq-9")["versionHash"].clone();
    let answers: serde_json::Map<String, Value> = (1..=9)
        .map(|i| (format!("phq-{i}"), json!(i % 2)))
        .collect();
    let (status, sent) = stack
        .post(
            &jane,
            "f1",
            "/v1/forms/phq-9/submissions",
            json!({"versionHash": phq, "answers": answers}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    let (_, consents) = stack.get(&jane, "/v1/consents").await;
    let treatment = find(&consents["documents"], "documentId", "treatment")["versionHash"].clone();
    let (status, signed) = stack
        .post(
            &jane,
            "s1",
            "/v1/consents/treatment/sign",
            json!({"versionHash": treatment, "typedName": "Jane Demo-Patient", "agree": true}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");
    let signer = LocalSigner::generate().unwrap();

    // Others may not; each refusal is audited naming her.
    for token in [&john, &rivera] {
        for format in ["", "?format=html"] {
            let (status, _, problem) = stack
                .send("GET", &format!("{path}{format}"), Some(token), None, None)
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
        }
    }
    // Her access log holds what the log has integrated.
    practica_tests::seal_log(&stack, &signer).await;
    let before = actions(&stack, &jane).await;
    assert_eq!(before.get("record.export/denied"), Some(&4), "{before:?}");

    // Jane's copy: everything of hers, one audited read.
    let (status, record) = stack.get(&jane, &path).await;
    assert_eq!(status, StatusCode::OK, "{record}");
    practica_tests::seal_log(&stack, &signer).await;
    let mut after = actions(&stack, &jane).await;
    for (action, n) in &before {
        *after.get_mut(action).unwrap() -= n;
    }
    after.retain(|_, n| *n > 0);
    let expected: BTreeMap<String, usize> = [
        ("access_log.read/success".to_owned(), 1),
        ("record.export/success".to_owned(), 1),
    ]
    .into();
    assert_eq!(
        after, expected,
        "one entry for the whole copy (and the log's own read)"
    );
    assert_eq!(record["format"], "practica.patient-record.v1");
    assert_eq!(record["patientId"], DEMO_PATIENT);
    assert_eq!(
        record["generatedAt"], "2026-11-23T13:00:00Z",
        "the clock's time"
    );
    assert_eq!(record["profile"]["name"], "Jane Demo-Patient");
    assert_eq!(record["profile"]["email"], "jane.demo@example.org");
    let mine = find(&record["appointments"], "id", appt["id"].as_str().unwrap());
    assert_eq!(mine["start"], "2026-11-24T10:00:00-05:00");
    assert_eq!(mine["providerName"], "Dr. Ana Rivera");
    assert!(mine["serviceName"].is_string(), "{mine}");
    let usd = find(&record["billing"]["balances"], "currency", "USD");
    assert_eq!(usd["charged"], 12050);
    assert_eq!(usd["balance"], 12050);
    assert_eq!(
        record["billing"]["charges"][0]["lineItems"][0]["description"],
        "Initial assessment <b>60 min</b>"
    );
    let phq9 = find(&record["forms"], "formId", "phq-9");
    assert_eq!(phq9["score"]["total"], 5);
    let answered = phq9["answers"].as_array().unwrap();
    assert_eq!(answered.len(), 9, "{phq9}");
    assert!(answered[0]["question"].as_str().unwrap().len() > 10);
    assert_eq!(answered[0]["answer"], 1);
    let signature = find(&record["consents"]["signatures"], "documentId", "treatment");
    assert_eq!(signature["kind"], "sign");
    assert!(record["messages"].is_array());
    let log = &record["accessLog"];
    assert_eq!(log["complete"], true);
    assert!(
        log["checkpoint"]
            .as_str()
            .unwrap()
            .contains("practica.test"),
        "{log}"
    );
    let entries = log["entries"].as_array().unwrap();
    let signing = entries
        .iter()
        .find(|e| e["action"] == "consent.sign")
        .expect("her signature in her access log");
    assert!(signing["inclusion"]["proof"].is_array(), "{signing}");
    assert_eq!(signing["by"]["you"], true);
    assert!(
        entries
            .iter()
            .any(|e| e["action"] == "record.export" && e["outcome"] == "denied"),
        "John's refused try is in her log: {log}"
    );
    // The copy's access log checks offline as her access log's page does.
    let pem = practica_cli::audit::pem_of(signer.public_key());
    let checked = practica_cli::audit::check_proof(
        &log.to_string(),
        &pem,
        practica_tests::TEST_LOG_KEY,
        Default::default(),
    )
    .expect("the copy's access log verifies");
    assert!(checked.proven > 0 && checked.with_bytes == checked.proven);

    // The page to read and print: the same facts, escaped, no scripts allowed.
    let response = tower::ServiceExt::oneshot(
        stack.router.clone(),
        http::Request::get(format!("{path}?format=html"))
            .header("authorization", format!("Bearer {jane}"))
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    assert_eq!(headers["cache-control"], "no-store");
    let page = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains("Jane Demo-Patient"));
    assert!(page.contains("Dr. Ana Rivera"));
    assert!(page.contains("120.50 USD"));
    assert!(page.contains("Initial assessment &lt;b&gt;60 min&lt;/b&gt;"));
    assert!(!page.contains("<b>60"), "her text is escaped");
    assert!(page.contains("Score 5"));
    assert!(page.contains("consent.sign"));

    // Staff make it for her at the desk: the same record without the access log; an admin's
    // has it. A patient the practice does not know is 404, and audited.
    let (status, at_desk) = stack.get(&staff, &path).await;
    assert_eq!(status, StatusCode::OK, "{at_desk}");
    assert_eq!(at_desk["accessLog"], Value::Null);
    assert_eq!(at_desk["appointments"], record["appointments"]);
    let (status, by_admin) = stack.get(&admin, &path).await;
    assert_eq!(status, StatusCode::OK, "{by_admin}");
    assert!(by_admin["accessLog"]["entries"].is_array());
    let (status, _) = stack
        .get(&staff, "/v1/patients/patient-nobody/record")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // A patient who never gave her details still gets her (empty) record.
    let (status, johns) = stack.get(&john, "/v1/patients/patient-john/record").await;
    assert_eq!(status, StatusCode::OK, "{johns}");
    assert_eq!(johns["profile"], Value::Null);
    assert_eq!(johns["appointments"], json!([]));

    // Her access log names who made each copy.
    practica_tests::seal_log(&stack, &signer).await;
    let (_, log) = stack.get(&jane, "/v1/patients/me/access-log").await;
    let copies: Vec<_> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "record.export" && e["outcome"] == "success")
        .map(|e| e["by"]["role"].as_str().unwrap_or("you").to_owned())
        .collect();
    // The admin's, the front desk's, and hers (the page, then the JSON).
    assert_eq!(copies, ["admin", "staff", "patient", "patient"]);
}

#[tokio::test]
async fn the_patients_copy_of_her_record_on_the_embedded_store() {
    journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn the_patients_copy_of_her_record_on_dynamodb_local() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}
