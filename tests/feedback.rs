//! The feedback and complaints log through the API: a patient sends feedback (text sealed at rest,
//! optionally about their own appointment), sees only their own, staff list and resolve it once;
//! every step is audited; bad input and the daily limit write nothing.

use http::StatusCode;
use practica_tests::{Stack, audits, without_denials};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::store::Item;

const TEXT: &str = "The bill charged me twice for the counselling session about my divorce.";

async fn book_for_jane(stack: &Stack, demo: &practica_cli::demo::Demo, jane: &str) -> String {
    let body = json!({
        "providerId": demo.providers[0],
        "serviceId": demo.services[1],
        "start": "2026-11-24T10:00:00-05:00",
    });
    let (status, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(jane),
            Some("b"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    a["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn feedback_is_sealed_private_to_its_patient_resolved_once_and_audited() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let appointment = book_for_jane(&stack, &demo, &jane).await;
    let body =
        json!({"category": "billing", "rating": 2, "text": TEXT, "appointmentId": appointment});
    let (status, _, sent) = stack
        .send(
            "POST",
            "/v1/feedback",
            Some(&jane),
            Some("f1"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{sent}");
    assert_eq!(sent["status"], "open");
    assert_eq!(sent["text"], TEXT);
    assert_eq!(sent["patientId"], "patient-jane");
    let id = sent["id"].as_str().unwrap().to_owned();
    // A retry with the same key gets the same answer and writes nothing more.
    let (status, _, again) = stack
        .send("POST", "/v1/feedback", Some(&jane), Some("f1"), Some(body))
        .await;
    assert_eq!((status, &again), (StatusCode::CREATED, &sent));
    // The text is sealed at rest.
    let dump = format!("{:?}", stack.scan().await).to_lowercase();
    assert!(!dump.contains("divorce") && !dump.contains("charged me twice"));

    // Jane sees hers; Omar sees none; staff see it with the text.
    let list = |token: String| {
        let stack = &stack;
        async move {
            let (status, _, body) = stack
                .send("GET", "/v1/feedback", Some(&token), None, None)
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["feedback"].as_array().unwrap().clone()
        }
    };
    let mine = list(jane.clone()).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["text"], TEXT);
    assert!(list(omar.clone()).await.is_empty());
    let all = list(staff.clone()).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["id"], id.as_str());
    // One patient's, for her page: staff only.
    for (token, patient, expected) in [
        (&staff, "patient-jane", Ok(1)),
        (&staff, "patient-omar", Ok(0)),
        (&jane, "patient-omar", Err(StatusCode::FORBIDDEN)),
        (&omar, "patient-jane", Err(StatusCode::FORBIDDEN)),
    ] {
        let path = format!("/v1/feedback?patientId={patient}");
        let (status, _, body) = stack.send("GET", &path, Some(token), None, None).await;
        match expected {
            Ok(n) => {
                assert_eq!(status, StatusCode::OK, "{body}");
                assert_eq!(body["feedback"].as_array().unwrap().len(), n, "{patient}");
            }
            Err(code) => assert_eq!(status, code, "{patient}: {body}"),
        }
    }

    // Resolving: staff only, once; the note is sealed too.
    let path = format!("/v1/feedback/{id}/resolve");
    let note = json!({"note": "Refunded the duplicate charge; apologised by phone."});
    let (status, _, _) = stack
        .send("POST", &path, Some(&jane), Some("r0"), Some(note.clone()))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, resolved) = stack
        .send("POST", &path, Some(&staff), Some("r1"), Some(note.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{resolved}");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolutionNote"], note["note"]);
    let (status, _, replay) = stack
        .send("POST", &path, Some(&staff), Some("r1"), Some(note.clone()))
        .await;
    assert_eq!((status, &replay), (StatusCode::OK, &resolved));
    let other = json!({"note": "A second opinion."});
    let (status, _, problem) = stack
        .send("POST", &path, Some(&staff), Some("r2"), Some(other))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_resolved"))
    );
    let mine = list(jane.clone()).await;
    assert_eq!(mine[0]["status"], "resolved");
    assert_eq!(mine[0]["resolutionNote"], note["note"]);
    let dump = format!("{:?}", stack.scan().await).to_lowercase();
    assert!(!dump.contains("apologised"));

    let items = stack.scan().await;
    assert_eq!(audits(&items, "feedback.create").len(), 1);
    assert_eq!(audits(&items, "feedback.resolve").len(), 1);
    let reads = audits(&items, "feedback.list");
    assert!(reads.len() >= 4);
    let names_jane = |i: &&Item| format!("{:?}", i.get("patient_ids")).contains("patient-jane");
    assert!(reads.iter().any(names_jane), "staff's read names Jane");
}

#[tokio::test]
async fn bad_feedback_is_refused_and_writes_nothing() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let janes = book_for_jane(&stack, &demo, &jane).await;
    let before = without_denials(stack.scan().await);
    let ok = |extra: Value| {
        let mut body = json!({"category": "care", "text": "Fine."});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    let cases: Vec<(&String, Value, StatusCode, &str)> = vec![
        (
            &jane,
            ok(json!({"text": "x".repeat(4001)})),
            unprocessable,
            "invalid_text",
        ),
        (
            &jane,
            ok(json!({"text": "  "})),
            unprocessable,
            "invalid_text",
        ),
        (
            &jane,
            ok(json!({"text": "ding\u{7}"})),
            unprocessable,
            "invalid_text",
        ),
        (
            &jane,
            ok(json!({"category": "food"})),
            unprocessable,
            "invalid_body",
        ),
        (
            &jane,
            ok(json!({"rating": 6})),
            unprocessable,
            "invalid_rating",
        ),
        (
            &jane,
            ok(json!({"rating": 0})),
            unprocessable,
            "invalid_rating",
        ),
        (
            &jane,
            ok(json!({"mood": "bad"})),
            unprocessable,
            "invalid_body",
        ),
        (
            &jane,
            ok(json!({"appointmentId": "apt_01ARZ3NDEKTSV4RRFFQ69G5FAV"})),
            unprocessable,
            "unknown_appointment",
        ),
        // Jane's appointment is not Omar's.
        (
            &omar,
            ok(json!({"appointmentId": janes})),
            unprocessable,
            "unknown_appointment",
        ),
        (&staff, ok(json!({})), StatusCode::FORBIDDEN, "forbidden"),
    ];
    for (token, body, status, code) in cases {
        let (got, headers, problem) = stack
            .send(
                "POST",
                "/v1/feedback",
                Some(token),
                Some("bad"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{body}: {problem}"
        );
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(
            without_denials(stack.scan().await),
            before,
            "{body} wrote something"
        );
    }
    let (status, _, _) = stack
        .send("POST", "/v1/feedback", None, Some("k"), Some(ok(json!({}))))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let path = "/v1/feedback/fb_01ARZ3NDEKTSV4RRFFQ69G5FAV/resolve";
    let (status, _, _) = stack
        .send(
            "POST",
            path,
            Some(&staff),
            Some("k"),
            Some(json!({"note": "x"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = stack
        .send(
            "GET",
            "/v1/feedback?cursor=garbage",
            Some(&staff),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_patient_sends_at_most_the_daily_limit() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let send = |key: String| {
        let stack = &stack;
        let jane = &jane;
        async move {
            let body = json!({"category": "website", "text": format!("Message {key}")});
            stack
                .send("POST", "/v1/feedback", Some(jane), Some(&key), Some(body))
                .await
        }
    };
    // The practice's default allows five a day.
    for n in 0..5 {
        let (status, _, body) = send(format!("k{n}")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _, problem) = send("k5".into()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached"))
    );
    // A day later the allowance is back.
    stack.clock.advance(jiff::SignedDuration::from_hours(24));
    let (status, _, _) = send("k6".into()).await;
    assert_eq!(status, StatusCode::CREATED);
}
