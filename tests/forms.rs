//! Forms through the router: the starter intake questionnaire and PHQ-9 due before Jane's first
//! consultation; answers refused with the question named (unknown, wrong kind, out of range,
//! missing, too large, a version that changed) and nothing stored; a draft saved and read back;
//! submissions scored by PHQ-9's published bands, amended by a new one that keeps the old (the
//! trend); read by her provider (audited, in her access log), refused to another provider and to
//! another patient. On the embedded store and DynamoDB Local.

use http::StatusCode;
use practica_cli::demo::DEMO_PATIENT;
use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::auth::Role;

fn version(list: &Value, form: &str) -> String {
    list["forms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["formId"] == form)
        .unwrap_or_else(|| panic!("{form} in {list}"))["versionHash"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn phq(answers: [i64; 9]) -> Value {
    Value::Object(
        answers
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("phq-{}", i + 1), json!(n)))
            .collect(),
    )
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let okafor = stack.token("provider-okafor", &[Role::Provider]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let john = stack.token("patient-john", &[Role::Patient]);

    // Her first consultation asks for the intake questionnaire and the PHQ-9.
    let booking = json!({"providerId": demo.providers[0], "serviceId": demo.services[0], "start": "2026-11-24T10:00:00-05:00"});
    let (status, appt) = stack.post(&jane, "b1", "/v1/appointments", booking).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    let (status, list) = stack.get(&jane, "/v1/forms").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let due: Vec<_> = list["due"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["formId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(due, ["intake", "phq-9"], "{list}");
    assert_eq!(list["due"][0]["appointmentId"], appt["id"]);
    let phq_version = version(&list, "phq-9");
    let intake_version = version(&list, "intake");

    // Refused answers: the question named, nothing stored.
    let submit = |v: &str, answers: Value| json!({"versionHash": v, "answers": answers});
    let big = "x".repeat(70_000);
    for (n, (body, code, question)) in [
        (
            submit(
                &intake_version,
                json!({"concern": "Sleep", "seen-before": true, "nope": 1}),
            ),
            "unknown_question",
            Some("nope"),
        ),
        (
            submit(
                &intake_version,
                json!({"concern": "Sleep", "seen-before": "yes"}),
            ),
            "invalid_answer",
            Some("seen-before"),
        ),
        (
            submit(
                &intake_version,
                json!({"concern": "Sleep", "seen-before": true, "sleep": 30}),
            ),
            "invalid_answer",
            Some("sleep"),
        ),
        (
            submit(&intake_version, json!({"concern": "Sleep"})),
            "answer_required",
            Some("seen-before"),
        ),
        (
            submit(
                &intake_version,
                json!({"concern": big, "seen-before": true}),
            ),
            "answers_too_large",
            None,
        ),
        (
            submit(
                &phq_version,
                json!({"concern": "Sleep", "seen-before": true}),
            ),
            "form_version_changed",
            None,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, refused) = stack
            .post(
                &jane,
                &format!("bad-{n}"),
                "/v1/forms/intake/submissions",
                body,
            )
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY
                || status == StatusCode::CONFLICT
                || status == StatusCode::PAYLOAD_TOO_LARGE,
            "{refused}"
        );
        if status != StatusCode::PAYLOAD_TOO_LARGE {
            assert_eq!(refused["code"], code, "{refused}");
            assert_eq!(refused["question"].as_str(), question, "{refused}");
        }
    }
    let (_, hers) = stack
        .get(&jane, &format!("/v1/patients/{DEMO_PATIENT}/forms"))
        .await;
    assert_eq!(hers["submissions"], json!([]), "nothing stored");
    // Staff do not fill in her forms.
    let (status, _) = stack
        .post(
            &staff,
            "s1",
            "/v1/forms/phq-9/submissions",
            submit(&phq_version, phq([0; 9])),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // A draft, saved and read back, then the submissions.
    let draft = json!({"versionHash": intake_version, "answers": {"concern": "Trouble sleeping"}});
    let (status, _, saved) = stack
        .send(
            "PUT",
            "/v1/forms/intake/draft",
            Some(&jane),
            Some("d1"),
            Some(draft),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let (_, back) = stack.get(&jane, "/v1/forms/intake/draft").await;
    assert_eq!(back["draft"]["answers"]["concern"], "Trouble sleeping");
    let intake = json!({"concern": "Trouble sleeping", "seen-before": false, "sleep": 5, "last-visit": "2026-03-01", "support": ["Family"]});
    let (status, done) = stack
        .post(
            &jane,
            "i1",
            "/v1/forms/intake/submissions",
            submit(&intake_version, intake),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert!(done["score"].is_null());
    let (_, back) = stack.get(&jane, "/v1/forms/intake/draft").await;
    assert!(
        back["draft"].is_null(),
        "the draft went with the submission"
    );
    let (status, first) = stack
        .post(
            &jane,
            "p1",
            "/v1/forms/phq-9/submissions",
            submit(&phq_version, phq([2, 2, 1, 1, 1, 1, 1, 1, 0])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["score"], json!({"total": 10, "band": "moderate"}));
    stack.clock.advance(jiff::SignedDuration::from_mins(10));
    let (status, amended) = stack
        .post(
            &jane,
            "p2",
            "/v1/forms/phq-9/submissions",
            submit(&phq_version, phq([1, 1, 1, 1, 1, 0, 0, 0, 0])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{amended}");
    assert_eq!(amended["score"], json!({"total": 5, "band": "mild"}));
    let (_, list) = stack.get(&jane, "/v1/forms").await;
    assert_eq!(list["due"], json!([]), "{list}");

    // Her provider reads them with the scores and their trend; another provider and another
    // patient may not.
    let path = format!("/v1/patients/{DEMO_PATIENT}/forms");
    let (status, read) = stack.get(&rivera, &path).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["submissions"].as_array().unwrap().len(), 3);
    let trend: Vec<i64> = read["trends"]["phq-9"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["total"].as_i64().unwrap())
        .collect();
    assert_eq!(trend, [10, 5]);
    for token in [&okafor, &john] {
        let (status, _) = stack.get(token, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let (status, _) = stack.get(&staff, &path).await;
    assert_eq!(status, StatusCode::OK);
    let id = first["submissionId"].as_str().unwrap();
    let (status, one) = stack.get(&rivera, &format!("{path}/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["answers"]["phq-1"], 2);
    assert_eq!(one["definition"]["title"], "PHQ-9");

    // A new version of the PHQ-9: the old one's answers are still read on their version; the old
    // version is refused for new answers.
    let admin = stack.token("admin-1", &[Role::Admin]);
    let mut changed = domain::forms::phq9();
    changed.intro =
        "Over the last 2 weeks, how often have you been bothered by the following?".into();
    let (status, _, published) = stack
        .send(
            "PUT",
            "/v1/forms/phq-9",
            Some(&admin),
            Some("f1"),
            Some(serde_json::to_value(&changed).unwrap()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{published}");
    let (status, refused) = stack
        .post(
            &jane,
            "p3",
            "/v1/forms/phq-9/submissions",
            submit(&phq_version, phq([0; 9])),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("form_version_changed"))
    );
    let (_, one) = stack.get(&rivera, &format!("{path}/{id}")).await;
    assert_eq!(one["versionHash"], phq_version.as_str());

    // The practice's report counts the submissions, naming no one, no form and no score.
    let (status, report) = stack
        .get(&admin, "/v1/live-report?from=2026-11-23&to=2026-11-23")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let text = report.to_string();
    let summary = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "summary")
        .unwrap()["rows"]
        .clone();
    let submitted = summary
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[1] == "forms submitted")
        .map(|r| r[2].clone());
    assert_eq!(submitted, Some(json!(3)), "{summary}");
    assert!(
        !text.contains("PHQ") && !text.contains("moderate"),
        "no form or score in the report"
    );

    // The week's report: her consultation asked for forms and had them before it began.
    {
        use domain::report::{Cell, Period, compute};
        let zone = jiff::tz::TimeZone::get("America/New_York").unwrap();
        let week = Period::new(
            "2026-11-23".parse().unwrap(),
            "2026-11-30".parse().unwrap(),
            &zone,
        )
        .unwrap();
        let previous = week.previous(&zone).unwrap();
        let facts =
            shared::reports::collect::facts(&*stack.state.table, &week, &previous, "n/a".into())
                .await
                .unwrap();
        let report = compute(&facts, &week, &previous);
        let summary = &report
            .tables
            .iter()
            .find(|t| t.name == "summary")
            .unwrap()
            .rows;
        let figure = |name: &str| {
            summary
                .iter()
                .find(|r| r[1] == Cell::Text(name.into()))
                .map(|r| r[2].clone())
        };
        assert_eq!(figure("visits that asked for forms"), Some(Cell::Int(1)));
        assert_eq!(
            figure("with their forms completed before the visit"),
            Some(Cell::Int(1))
        );
    }

    // Her access log shows Dr. Rivera's reads (once the log has sealed them).
    let signer = shared::adapters::local_signer::LocalSigner::generate().unwrap();
    practica_tests::seal_log(&stack, &signer).await;
    let (_, log) = stack.get(&jane, "/v1/patients/me/access-log").await;
    let provider_reads = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"].as_str().unwrap().starts_with("form.") && e["by"]["role"] == "provider"
        })
        .count();
    assert!(provider_reads >= 2, "{log}");
}

#[tokio::test]
async fn embedded_forms_are_filled_scored_and_read_by_her_provider() {
    journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_forms_are_filled_scored_and_read_by_her_provider() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// The messages of a visit that asks for forms: the confirmation says the practice asks for forms
/// (never which), a reminder 48 hours before goes out while they are missing, and is withdrawn
/// once they are filled in.
#[tokio::test]
async fn the_confirmation_and_the_48_hour_reminder_ask_for_forms_without_naming_them() {
    use practica_tests::{Recorder, delivery};
    use shared::notify::deliver_due;
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let recorder = Recorder::new();
    let delivery = delivery(&recorder);
    let consult = |start: &str| json!({"providerId": demo.providers[0], "serviceId": demo.services[0], "start": start});
    for (key, start) in [
        ("a", "2026-11-27T10:00:00-05:00"),
        ("b", "2026-12-04T10:00:00-05:00"),
    ] {
        let (status, body) = stack
            .post(&jane, key, "/v1/appointments", consult(start))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let sent = recorder.sent();
    let confirmations: Vec<_> = sent
        .iter()
        .filter(|e| e.kind == domain::notify::Kind::ConfirmationForms)
        .collect();
    assert_eq!(
        confirmations.len(),
        2,
        "{:?}",
        sent.iter().map(|e| e.kind).collect::<Vec<_>>()
    );
    for e in &confirmations {
        assert!(
            e.text.contains("Your practice asks you to complete forms"),
            "{}",
            e.text
        );
        assert!(
            !e.text.contains("PHQ") && !e.text.contains("ntake"),
            "{}",
            e.text
        );
    }
    // 48 hours before the first visit, nothing filled in: the reminder goes out.
    let at = |t: &str| t.parse::<jiff::Timestamp>().unwrap().as_second();
    let now = domain::clock::Clock::now(&*stack.clock).as_second();
    stack.clock.advance(jiff::SignedDuration::from_secs(
        at("2026-11-25T15:01:00Z") - now,
    ));
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let due: Vec<_> = recorder
        .sent()
        .into_iter()
        .filter(|e| e.kind == domain::notify::Kind::FormsDue)
        .collect();
    assert_eq!(due.len(), 1);
    assert!(
        due[0].text.contains("complete forms before your visit"),
        "{}",
        due[0].text
    );
    assert!(!due[0].text.contains("PHQ"), "{}", due[0].text);
    // She fills them in; the second visit's reminder is withdrawn when it comes due.
    let (_, list) = stack.get(&jane, "/v1/forms").await;
    for (form, answers) in [
        ("intake", json!({"concern": "Sleep", "seen-before": false})),
        ("phq-9", phq([0; 9])),
    ] {
        let body = json!({"versionHash": practica_tests::form_version_of(&list, form), "answers": answers});
        let (status, done) = stack
            .post(
                &jane,
                &format!("f-{form}"),
                &format!("/v1/forms/{form}/submissions"),
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{done}");
    }
    let now = domain::clock::Clock::now(&*stack.clock).as_second();
    stack.clock.advance(jiff::SignedDuration::from_secs(
        at("2026-12-02T15:01:00Z") - now,
    ));
    let outcomes = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let due: Vec<_> = recorder
        .sent()
        .into_iter()
        .filter(|e| e.kind == domain::notify::Kind::FormsDue)
        .collect();
    assert_eq!(due.len(), 1, "no second reminder: {outcomes:?}");
    assert!(
        format!("{outcomes:?}").contains("forms_complete"),
        "{outcomes:?}"
    );
}
