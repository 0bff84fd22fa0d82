//! The front desk's day: every provider's calendar at once with patients' names (a read that names
//! each patient shown), and attendance recorded on the appointment (check in, completed, no-show)
//! by staff and the appointment's own provider, at the times it can be true.

use http::StatusCode;
use practica_cli::demo::{DEMO_PROVIDER_LOGINS, Demo};
use practica_tests::Stack;
use serde_json::{Value, json};
use shared::auth::Role;

/// Tuesday 2026-11-24 in New York (EST, -05:00).
fn tue(hhmm: &str) -> String {
    format!("2026-11-24T{hhmm}:00-05:00")
}

/// Staff book the 30-minute follow-up with `provider` for `patient` at `start`; its id.
async fn booked(stack: &Stack, demo: &Demo, provider: usize, patient: &str, start: &str) -> String {
    let desk = stack.token("staff-1", &[Role::Staff]);
    let body = json!({"providerId": demo.providers[provider], "serviceId": demo.services[1],
        "start": tue(start), "patientId": patient});
    let key = format!("book-{patient}-{start}");
    let (status, appt) = stack.post(&desk, &key, "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    appt["id"].as_str().unwrap().to_owned()
}

async fn register(stack: &Stack, id: &str, name: &str) {
    let desk = stack.token("staff-1", &[Role::Staff]);
    let body = json!({"patientId": id, "name": name, "dateOfBirth": "1980-02-03",
        "phone": "+1 555 0100 123", "email": format!("{id}@example.org")});
    let (status, created) = stack
        .post(&desk, &format!("reg-{id}"), "/v1/patients", body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
}

#[tokio::test]
async fn the_front_desk_sees_every_providers_day_with_names() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    register(&stack, "patient-omar", "Omar Haddad").await;
    booked(&stack, &demo, 0, "patient-jane", "10:00").await;
    booked(&stack, &demo, 1, "patient-omar", "11:00").await;
    let desk = stack.token("staff-1", &[Role::Staff]);
    let day = format!(
        "/v1/appointments?from={}&to={}",
        tue("00:00").replace('+', "%2B"),
        "2026-11-25T00:00:00-05:00"
    );
    let (status, _, body) = stack.send("GET", &day, Some(&desk), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let shown: Vec<(String, String, String)> = body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let field = |name: &str| a[name].as_str().unwrap_or_default().to_owned();
            (field("start"), field("patientName"), field("providerId"))
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                tue("10:00"),
                "Jane Demo-Patient".into(),
                demo.providers[0].to_string()
            ),
            (
                tue("11:00"),
                "Omar Haddad".into(),
                demo.providers[1].to_string()
            ),
        ]
    );
    // The read names both patients; a range is required.
    let items = stack.scan().await;
    let lists = practica_tests::audits(&items, "appointment.list");
    let patients = format!("{:?}", lists.last().unwrap().get("patient_ids"));
    assert!(
        patients.contains("patient-jane") && patients.contains("patient-omar"),
        "{patients}"
    );
    let (status, _, body) = stack
        .send("GET", "/v1/appointments", Some(&desk), None, None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("range_required"))
    );
    // A patient's own list carries no names; a provider still names their own calendar.
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let (_, _, mine) = stack
        .send("GET", "/v1/appointments", Some(&jane), None, None)
        .await;
    assert_eq!(
        mine["appointments"][0]["patientName"],
        Value::Null,
        "{mine}"
    );
    // A provider's waitlist names its patients for the front desk; Jane's own list does not.
    let window = json!({"providerId": demo.providers[0], "serviceId": demo.services[1],
        "from": tue("12:00"), "to": tue("17:00")});
    let (status, entry) = stack.post(&jane, "w", "/v1/waitlist", window).await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let waiting = format!("/v1/waitlist?providerId={}", demo.providers[0]);
    let (_, list) = stack.get(&desk, &waiting).await;
    assert_eq!(
        list["entries"][0]["patientName"], "Jane Demo-Patient",
        "{list}"
    );
    let (_, own) = stack.get(&jane, "/v1/waitlist").await;
    assert_eq!(own["entries"][0]["patientName"], Value::Null, "{own}");
    let rivera = stack.token(DEMO_PROVIDER_LOGINS[0], &[Role::Provider]);
    let (status, _, body) = stack.send("GET", &day, Some(&rivera), None, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("provider_required"))
    );
}

/// Records `status` on appointment `id` as `token`: the answer's status and body.
async fn record(
    stack: &Stack,
    token: &str,
    key: &str,
    id: &str,
    status: &str,
) -> (StatusCode, Value) {
    let path = format!("/v1/appointments/{id}/attendance");
    stack
        .post(token, key, &path, json!({"status": status}))
        .await
}

/// An answer's status and problem code.
fn code(answer: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (answer.0, answer.1["code"].as_str())
}

/// An answer's status and the appointment's state in it.
fn state(answer: &(StatusCode, Value)) -> (StatusCode, Option<&str>) {
    (answer.0, answer.1["status"].as_str())
}

#[tokio::test]
async fn attendance_is_recorded_by_the_desk_and_the_provider_when_it_can_be_true() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    register(&stack, "patient-omar", "Omar Haddad").await;
    let jane_appt = booked(&stack, &demo, 0, "patient-jane", "10:00").await;
    let omar_appt = booked(&stack, &demo, 1, "patient-omar", "11:00").await;
    let desk = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let rivera = stack.token(DEMO_PROVIDER_LOGINS[0], &[Role::Provider]);

    // Monday: too early for Tuesday's check-in.
    assert_eq!(
        code(&record(&stack, &desk, "a1", &jane_appt, "arrived").await),
        (StatusCode::CONFLICT, Some("attendance_too_early"))
    );
    // Tuesday 08:30: Jane may be checked in (from two hours before), not yet marked a no-show.
    stack
        .clock
        .advance(jiff::SignedDuration::from_mins(24 * 60 + 30));
    assert_eq!(
        code(&record(&stack, &desk, "a2", &jane_appt, "no_show").await),
        (StatusCode::CONFLICT, Some("attendance_too_early"))
    );
    let (status, body) = record(&stack, &jane, "a3", &jane_appt, "arrived").await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a patient does not check herself in: {body}"
    );
    let (status, body) = record(&stack, &desk, "a4", &jane_appt, "arrived").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "arrived");
    let (status, replay) = record(&stack, &desk, "a4", &jane_appt, "arrived").await;
    assert_eq!((status, &replay), (StatusCode::OK, &body), "a retry");
    assert_eq!(
        code(&record(&stack, &desk, "a5", &jane_appt, "arrived").await),
        (StatusCode::CONFLICT, Some("attendance_not_allowed"))
    );
    // Checked in, the appointment is no longer moved or cancelled online.
    let (status, body) = stack
        .post(
            &desk,
            "c1",
            &format!("/v1/appointments/{jane_appt}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("attendance_recorded"))
    );
    // Not before the start: completed; from 10:00, her own provider completes it.
    assert_eq!(
        code(&record(&stack, &rivera, "a6", &jane_appt, "completed").await),
        (StatusCode::CONFLICT, Some("attendance_too_early"))
    );
    stack.clock.advance(jiff::SignedDuration::from_mins(150));
    assert_eq!(
        state(&record(&stack, &rivera, "a7", &jane_appt, "completed").await),
        (StatusCode::OK, Some("completed"))
    );
    // Omar (11:00 with the other provider): not Dr. Rivera's to record; the desk marks him a
    // no-show at 11:00, and checks him in when he turns up late.
    let (status, _) = record(&stack, &rivera, "b1", &omar_appt, "no_show").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        state(&record(&stack, &desk, "b2", &omar_appt, "no_show").await),
        (StatusCode::OK, Some("no_show"))
    );
    assert_eq!(
        state(&record(&stack, &desk, "b3", &omar_appt, "arrived").await),
        (StatusCode::OK, Some("arrived"))
    );
    let (status, body) = record(&stack, &desk, "b4", &omar_appt, "late").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // Jane's own list shows what was recorded; every change is an update naming its patient.
    let (_, _, mine) = stack
        .send("GET", "/v1/appointments", Some(&jane), None, None)
        .await;
    assert_eq!(mine["appointments"][0]["status"], "completed", "{mine}");
    let items = stack.scan().await;
    // Each record says what was recorded: Jane checked in and completed; Omar a no-show, then in.
    let recorded = |action: &str| -> Vec<&shared::store::Item> {
        practica_tests::audits(&items, action)
            .into_iter()
            .filter(|a| !practica_tests::is_denial(a))
            .collect()
    };
    let counts = [
        "appointment.check_in",
        "appointment.complete",
        "appointment.no_show",
    ]
    .map(|action| recorded(action).len());
    assert_eq!(counts, [2, 1, 1]);
    // The other provider's refused attempt and Jane's own are denials naming the patient.
    let denied = practica_tests::audits(&items, "appointment.no_show")
        .into_iter()
        .filter(|a| practica_tests::is_denial(a))
        .count();
    assert_eq!(denied, 1);
    let all = [
        "appointment.check_in",
        "appointment.complete",
        "appointment.no_show",
    ]
    .into_iter()
    .flat_map(recorded);
    for entry in all {
        assert_eq!(
            entry
                .get("action_kind")
                .and_then(shared::store::AttrValue::as_s),
            Some("update")
        );
    }
}

#[tokio::test]
async fn the_front_desk_reads_one_patients_appointments_and_no_one_else_does() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    register(&stack, "patient-omar", "Omar Haddad").await;
    booked(&stack, &demo, 1, "patient-jane", "14:00").await;
    booked(&stack, &demo, 0, "patient-jane", "10:00").await;
    booked(&stack, &demo, 0, "patient-omar", "11:00").await;
    let desk = stack.token("staff-1", &[Role::Staff]);
    let (status, list) = stack
        .get(&desk, "/v1/appointments?patientId=patient-jane")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let starts: Vec<&str> = list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a["patientId"], "patient-jane");
            a["start"].as_str().unwrap()
        })
        .collect();
    assert_eq!(starts, [tue("10:00"), tue("14:00")], "hers, by start");

    // A provider, another patient, or a list mixed with a calendar: refused.
    let rivera = stack.token(DEMO_PROVIDER_LOGINS[0], &[Role::Provider]);
    let omar = stack.token("patient-omar", &[Role::Patient]);
    for token in [&rivera, &omar] {
        let (status, _) = stack
            .get(token, "/v1/appointments?patientId=patient-jane")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let mixed = format!(
        "/v1/appointments?patientId=patient-jane&providerId={}",
        demo.providers[0]
    );
    assert_eq!(stack.get(&desk, &mixed).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        stack.get(&desk, "/v1/appointments?patientId=").await.0,
        StatusCode::BAD_REQUEST
    );
    // The refused reads are in the audit log, naming Jane.
    let denied = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| i.key.pk.starts_with("AUDIT#"))
        .filter(|i| i.get("action").and_then(|v| v.as_s()) == Some("appointment.list"))
        .filter(|i| i.get("outcome").and_then(|v| v.as_s()) == Some("denied"))
        .count();
    assert_eq!(denied, 2);
}

#[tokio::test]
async fn the_front_desk_reads_one_patients_waitlist_and_no_one_else_does() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    register(&stack, "patient-omar", "Omar Haddad").await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1],
        "from": tue("09:00"), "to": tue("12:00")});
    let (status, entry) = stack.post(&jane, "wait", "/v1/waitlist", body).await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    let desk = stack.token("staff-1", &[Role::Staff]);
    let (status, list) = stack
        .get(&desk, "/v1/waitlist?patientId=patient-jane")
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["entries"].as_array().unwrap().len(), 1);
    assert_eq!(list["entries"][0]["id"], entry["id"]);
    let (_, none) = stack
        .get(&desk, "/v1/waitlist?patientId=patient-omar")
        .await;
    assert!(none["entries"].as_array().unwrap().is_empty());
    let omar = stack.token("patient-omar", &[Role::Patient]);
    let rivera = stack.token(DEMO_PROVIDER_LOGINS[0], &[Role::Provider]);
    for token in [&omar, &rivera] {
        let (status, _) = stack
            .get(token, "/v1/waitlist?patientId=patient-jane")
            .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    let mixed = format!(
        "/v1/waitlist?patientId=patient-jane&providerId={}",
        demo.providers[0]
    );
    assert_eq!(stack.get(&desk, &mixed).await.0, StatusCode::BAD_REQUEST);
}
