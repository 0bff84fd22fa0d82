//! Issue 9 through the routers: timestamps as clients write them, per-patient limits (also under
//! races, on every store that has locking), authorization before every replay, a charge tied to a
//! real appointment on every store, verified addresses in patient search, bounded request ids.

use std::sync::Arc;

use http::StatusCode;
use practica_cli::demo::Demo;
use practica_tests::{
    Stack, dynamodb_local_fixture, embedded_fixture, moto_fixture, without_denials,
};
use serde_json::{Value, json};
use shared::auth::Role;

/// Tuesday 2026-11-24 in New York (EST, -05:00).
fn tue(hhmm: &str) -> String {
    format!("2026-11-24T{hhmm}:00-05:00")
}

fn follow_up(demo: &Demo, start: &str) -> Value {
    json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": start})
}

fn enc(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn timestamps_as_browsers_python_and_go_write_them() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let availability = |from: &str, to: &str| {
        format!(
            "/v1/providers/{}/availability?serviceId={}&from={}&to={}",
            demo.providers[0],
            demo.services[1],
            enc(from),
            enc(to)
        )
    };
    let whole = stack
        .send(
            "GET",
            &availability("2026-11-24T14:00:00Z", "2026-11-25T00:00:00Z"),
            Some(&jane),
            None,
            None,
        )
        .await;
    assert_eq!(whole.0, StatusCode::OK, "{}", whole.2);
    for (from, to) in [
        // JavaScript: new Date(...).toISOString()
        ("2026-11-24T14:00:00.000Z", "2026-11-25T00:00:00.000Z"),
        // Python: datetime.isoformat() with microseconds, and without
        (
            "2026-11-24T14:00:00.123456+00:00",
            "2026-11-24T19:00:00-05:00",
        ),
        // Go: time.RFC3339Nano
        ("2026-11-24T14:00:00.999999999Z", "2026-11-25T00:00:00.5Z"),
    ] {
        let (status, _, body) = stack
            .send("GET", &availability(from, to), Some(&jane), None, None)
            .await;
        assert_eq!(status, StatusCode::OK, "{from} {to}: {body}");
        // Truncated to the second: the same slots as the whole-second range.
        assert_eq!(body["slots"], whole.2["slots"], "{from} {to}");
    }
    for bad in [
        "-",
        "+01",
        "+1",
        "2026-11-24",
        "2026-11-24T14:00:00",
        "2026-11-24T14:00:00+0500",
    ] {
        let (status, headers, body) = stack
            .send(
                "GET",
                &availability(bad, "2026-11-25T00:00:00Z"),
                Some(&jane),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(body["code"], "invalid_timestamp");
        let list = format!(
            "/v1/appointments?providerId={}&from={}&to=2026-11-25T00%3A00%3A00Z",
            demo.providers[0],
            enc(bad)
        );
        let staff = stack.token("staff-1", &[Role::Staff]);
        let (status, _, _) = stack.send("GET", &list, Some(&staff), None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // A patient's own list checks (and applies) the bounds it is given.
    for bad in ["-", "+1", "x"] {
        let (status, _, body) = stack
            .send(
                "GET",
                &format!("/v1/appointments?from={}", enc(bad)),
                Some(&jane),
                None,
                None,
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid_timestamp")),
            "{bad}"
        );
    }
    // Slot starts: a zero fraction is the same start; any other fraction is off the grid.
    let before = stack.scan().await;
    for (start, code) in [
        ("+1", "invalid_timestamp"),
        ("-", "invalid_timestamp"),
        ("2026-11-24T15:00:00.500Z", "off_grid"),
    ] {
        let (status, _, body) = stack
            .send(
                "POST",
                "/v1/appointments",
                Some(&jane),
                Some(&format!("bad-{code}")),
                Some(follow_up(&demo, start)),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(code)),
            "{start}"
        );
    }
    assert_eq!(stack.scan().await, before, "refusals write nothing");
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("ms"),
            Some(follow_up(&demo, "2026-11-24T15:00:00.000Z")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["start"], "2026-11-24T10:00:00-05:00");
    let listed = |query: &'static str| {
        let (stack, jane) = (&stack, &jane);
        async move {
            let (status, _, body) = stack
                .send(
                    "GET",
                    &format!("/v1/appointments{query}"),
                    Some(jane),
                    None,
                    None,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            body["appointments"].as_array().unwrap().len()
        }
    };
    assert_eq!(listed("").await, 1);
    assert_eq!(listed("?from=2026-11-24T15:00:00.000Z").await, 1);
    assert_eq!(
        listed("?from=2026-11-24T15:00:00.001Z&to=2026-11-25T00:00:00Z").await,
        1
    );
    assert_eq!(listed("?from=2026-11-24T15:00:01Z").await, 0);
    assert_eq!(listed("?to=2026-11-24T15:00:00Z").await, 0);
}

async fn book(stack: &Stack, token: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(token),
            Some(key),
            Some(body),
        )
        .await;
    (status, body)
}

/// A patient books up to the limit and no further; cancelling, rescheduling and time passing move
/// the allowance as they should.
async fn a_patient_cannot_book_out_a_provider(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let mut booked = Vec::new();
    for (i, t) in ["09:00", "10:00", "11:00", "13:00"].iter().enumerate() {
        let (status, body) = book(&stack, &jane, &format!("b{i}"), follow_up(&demo, &tue(t))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        booked.push(body["id"].as_str().unwrap().to_owned());
    }
    let before = stack.scan_if_embedded().await;
    let (status, body) = book(&stack, &jane, "b4", follow_up(&demo, &tue("14:00"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached"))
    );
    assert_eq!(
        stack.scan_if_embedded().await,
        before,
        "over the limit writes nothing"
    );
    // Staff acting for Jane are not limited.
    let mut for_jane = follow_up(&demo, &tue("14:00"));
    for_jane["patientId"] = json!("patient-jane");
    assert_eq!(
        book(&stack, &staff, "s1", for_jane).await.0,
        StatusCode::CREATED
    );
    // Cancelling gives the allowance back; so does time passing the appointment's start.
    let cancel = format!("/v1/appointments/{}/cancel", booked[0]);
    let (status, _, _) = stack
        .send("POST", &cancel, Some(&jane), Some("c0"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        book(&stack, &jane, "b5", follow_up(&demo, &tue("15:00")))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        book(&stack, &jane, "b6", follow_up(&demo, &tue("16:00")))
            .await
            .1["code"],
        "limit_reached"
    );
    // A rescheduled appointment keeps its allowance (moved with it); the others still count.
    let move_to = format!("/v1/appointments/{}/reschedule", booked[2]);
    let (status, _, body) = stack
        .send(
            "POST",
            &move_to,
            Some(&jane),
            Some("m1"),
            Some(json!({"start": tue("16:00")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        book(
            &stack,
            &jane,
            "b7",
            follow_up(&demo, "2026-11-25T09:00:00-05:00")
        )
        .await
        .1["code"],
        "limit_reached"
    );
    // Once an appointment has started it no longer counts: Tuesday 10:01.
    stack
        .clock
        .advance(jiff::SignedDuration::from_secs(86_400 + 7_260));
    let wednesday = "2026-11-25T10:00:00-05:00";
    assert_eq!(
        book(&stack, &jane, "b8", follow_up(&demo, wednesday))
            .await
            .0,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn embedded_a_patient_cannot_book_out_a_provider() {
    // The embedded stack can be scanned raw: "writes nothing" is checked item by item there.
    a_patient_cannot_book_out_a_provider(Some(Stack::embedded())).await;
}

#[tokio::test]
async fn moto_a_patient_cannot_book_out_a_provider() {
    a_patient_cannot_book_out_a_provider(Stack::on(moto_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_a_patient_cannot_book_out_a_provider() {
    a_patient_cannot_book_out_a_provider(Stack::on(dynamodb_local_fixture().await).await).await;
}

#[tokio::test]
async fn limits_on_holds_and_the_waitlist_and_their_settings() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, _, practice) = stack
        .send("GET", "/v1/practice", Some(&jane), None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        practice["limits"],
        json!({"activeAppointmentsPerPatient": 4, "activeHoldsPerPatient": 1, "openWaitlistEntriesPerPatient": 3, "feedbackPerPatientPerDay": 5, "seriesOccurrencesPerPatient": 16})
    );
    let hold = |key: &'static str, t: &'static str| {
        let body = follow_up(&demo, &tue(t));
        let stack = &stack;
        let jane = &jane;
        async move {
            stack
                .send("POST", "/v1/holds", Some(jane), Some(key), Some(body))
                .await
        }
    };
    let (status, _, first) = hold("h1", "09:00").await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, body) = hold("h2", "10:00").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached"))
    );
    // Booking from the hold gives the hold's allowance back.
    let mut from_hold = follow_up(&demo, &tue("09:00"));
    from_hold["holdId"] = first["id"].clone();
    assert_eq!(
        book(&stack, &jane, "fh", from_hold).await.0,
        StatusCode::CREATED
    );
    assert_eq!(hold("h3", "10:00").await.0, StatusCode::CREATED);
    // Waitlist: three open entries (three windows: the same one again would be the same entry).
    for (i, to) in ["17:00", "16:00", "15:00"].into_iter().enumerate() {
        let (status, _, body) = stack
            .send("POST", "/v1/waitlist", Some(&jane), Some(&format!("w{i}")),
                Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "from": tue("09:00"), "to": tue(to)})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, _, body) = stack
        .send("POST", "/v1/waitlist", Some(&jane), Some("w3"),
            Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "from": tue("09:00"), "to": tue("14:00")})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("limit_reached"))
    );
    // The practice sets its own limits; out-of-range ones are refused.
    let (status, _, body) = stack
        .send("PUT", "/v1/practice", Some(&admin), None,
            Some(json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York", "limits": {"activeAppointmentsPerPatient": 0}})))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_limits"))
    );
    let (status, _, body) = stack
        .send("PUT", "/v1/practice", Some(&admin), None,
            Some(json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York", "limits": {"openWaitlistEntriesPerPatient": 4}})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["limits"]["openWaitlistEntriesPerPatient"], 4);
    assert_eq!(body["contact"], json!({}), "a contact left out is none");
    assert_eq!(body["limits"]["activeAppointmentsPerPatient"], 4);
    let (status, _, _) = stack
        .send("POST", "/v1/waitlist", Some(&jane), Some("w4"),
            Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "from": tue("09:00"), "to": tue("14:00")})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

/// One patient fires 12 bookings of distinct free times at once with a limit of 3: exactly 3
/// land, the rest are 409 limit_reached, and the calendar holds exactly 3 of theirs.
async fn racing_past_the_limit(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let stack = Arc::new(stack);
    let demo = Arc::new(stack.seed().await);
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, _, _) = stack
        .send("PUT", "/v1/practice", Some(&admin), None,
            Some(json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York", "limits": {"activeAppointmentsPerPatient": 3}})))
        .await;
    assert_eq!(status, StatusCode::OK);
    let starts = [
        "24T09", "24T10", "24T11", "24T13", "24T14", "24T15", "25T09", "25T10", "25T11", "25T13",
        "25T14", "25T15",
    ];
    let mut tasks = Vec::new();
    for (i, t) in starts.iter().enumerate() {
        let (stack, demo) = (stack.clone(), demo.clone());
        let start = format!("2026-11-{t}:00:00-05:00");
        tasks.push(tokio::spawn(async move {
            let jane = stack.token("patient-jane", &[Role::Patient]);
            book(
                &stack,
                &jane,
                &format!("race-{i}"),
                follow_up(&demo, &start),
            )
            .await
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "limit_reached", "{body}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, refused), (3, 9));
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let (_, _, mine) = stack
        .send("GET", "/v1/appointments", Some(&jane), None, None)
        .await;
    let booked = mine["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "booked")
        .count();
    assert_eq!(booked, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_racing_bookings_of_one_patient_respect_the_limit() {
    racing_past_the_limit(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_local_racing_bookings_of_one_patient_respect_the_limit() {
    racing_past_the_limit(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// (method, path, body, first caller's sub and roles, then the roles of the replay attempt)
type ReplayCase = (
    &'static str,
    &'static str,
    Value,
    &'static str,
    &'static [Role],
    &'static [Role],
);

/// Every idempotent route: a first request by a subject with the right role, then the same
/// request and key by that subject holding a role that may not make it: 403 and no stored body.
#[tokio::test]
async fn embedded_every_idempotent_route_authorizes_before_it_replays() {
    authorize_before_replay(|| async { Some(Stack::embedded()) }).await;
}

#[tokio::test]
async fn moto_every_idempotent_route_authorizes_before_it_replays() {
    authorize_before_replay(|| async { Stack::on(moto_fixture().await).await }).await;
}

#[tokio::test]
async fn dynamodb_local_every_idempotent_route_authorizes_before_it_replays() {
    authorize_before_replay(|| async { Stack::on(dynamodb_local_fixture().await).await }).await;
}

async fn authorize_before_replay<F, Fut>(new_stack: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<Stack>>,
{
    let patient: &[Role] = &[Role::Patient];
    let staff: &[Role] = &[Role::Staff];
    let admin: &[Role] = &[Role::Admin];
    let provider: &[Role] = &[Role::Provider];
    let new_patient = json!({"patientId": "patient-new", "name": "New Person", "dateOfBirth": "1990-02-03", "phone": "+1 555 0100 999", "email": "new@example.org"});
    let details = json!({"name": "Jane Demo-Patient", "dateOfBirth": "1985-04-12", "phone": "+1 555 0100 123", "email": "jane.demo@example.org"});
    let rules = json!({"hours": {"mon": [{"start": "09:00", "end": "17:00"}]}});
    let cases: Vec<ReplayCase> = vec![
        (
            "PUT",
            "/v1/practice",
            json!({"name": "Riverside", "timeZone": "America/New_York"}),
            "admin-1",
            admin,
            staff,
        ),
        (
            "POST",
            "/v1/providers",
            json!({"name": "Dr. New", "rules": rules}),
            "staff-1",
            staff,
            patient,
        ),
        (
            "PUT",
            "/v1/providers/{P}/schedule",
            rules.clone(),
            "staff-1",
            staff,
            patient,
        ),
        (
            "POST",
            "/v1/services",
            json!({"name": "New", "durationMinutes": 30, "providerIds": ["{P}"]}),
            "staff-1",
            staff,
            patient,
        ),
        (
            "POST",
            "/v1/holds",
            json!({"providerId": "{P}", "serviceId": "{S}", "start": tue("14:00")}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/appointments",
            json!({"providerId": "{P}", "serviceId": "{S}", "start": tue("14:00"), "reason": "Headaches"}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/appointments/{A}/reschedule",
            json!({"start": tue("16:00")}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/appointments/{A}/cancel",
            json!({}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/waitlist/{W}/leave",
            json!({"providerId": "{P}"}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/patients",
            new_patient,
            "staff-1",
            staff,
            patient,
        ),
        (
            "PUT",
            "/v1/patients/me",
            details,
            "patient-jane",
            patient,
            staff,
        ),
        (
            "POST",
            "/v1/waitlist",
            json!({"providerId": "{P}", "serviceId": "{S}", "from": tue("09:00"), "to": tue("17:00")}),
            "patient-jane",
            patient,
            provider,
        ),
        (
            "POST",
            "/v1/charges",
            json!({"patientId": "patient-jane", "currency": "USD", "lineItems": [{"description": "Visit", "amount": 500}]}),
            "staff-1",
            staff,
            patient,
        ),
        (
            "POST",
            "/v1/payment-intents",
            json!({"currency": "USD"}),
            "patient-jane",
            patient,
            provider,
        ),
    ];
    let mut failures = Vec::new();
    for (method, path, body, sub, first_roles, replay_roles) in cases {
        let Some(stack) = new_stack().await else {
            return;
        };
        let demo = stack.seed().await;
        let jane = stack.token("patient-jane", &[Role::Patient]);
        let (_, _, appointment) = stack
            .send(
                "POST",
                "/v1/appointments",
                Some(&jane),
                Some("setup"),
                Some(follow_up(&demo, &tue("10:00"))),
            )
            .await;
        let staff_token = stack.token("staff-1", &[Role::Staff]);
        stack
            .send("POST", "/v1/charges", Some(&staff_token), Some("setup-charge"),
                Some(json!({"patientId": "patient-jane", "currency": "USD", "lineItems": [{"description": "Visit", "amount": 15000}]})))
            .await;
        let (_, _, entry) = stack
            .send("POST", "/v1/waitlist", Some(&jane), Some("setup-wait"),
                Some(json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "from": tue("12:00"), "to": tue("13:00")})))
            .await;
        let fill = |t: &str| {
            t.replace("{P}", demo.providers[0].as_str())
                .replace("{S}", demo.services[1].as_str())
                .replace("{A}", appointment["id"].as_str().unwrap())
                .replace("{W}", entry["id"].as_str().unwrap())
        };
        let (path, body): (String, Value) = (
            fill(path),
            serde_json::from_str(&fill(&body.to_string())).unwrap(),
        );
        let first = stack.token(sub, first_roles);
        let (status, _, reply) = stack
            .send(method, &path, Some(&first), Some("K"), Some(body.clone()))
            .await;
        if !status.is_success() {
            failures.push(format!("{method} {path}: first request {status} {reply}"));
            continue;
        }
        let before = stack.scan_if_embedded().await.map(without_denials);
        let replayer = stack.token(sub, replay_roles);
        let (status, headers, again) = stack
            .send(
                method,
                &path,
                Some(&replayer),
                Some("K"),
                Some(body.clone()),
            )
            .await;
        if status != StatusCode::FORBIDDEN
            || headers.contains_key("idempotent-replayed")
            || again["code"] != "forbidden"
        {
            failures.push(format!(
                "{method} {path}: replay by {replay_roles:?} got {status} {again}"
            ));
        }
        if stack.scan_if_embedded().await.map(without_denials) != before {
            failures.push(format!("{method} {path}: refused replay changed the table"));
        }
        // The same subject with no role at all: 403 as well.
        let nobody = stack.token(sub, &[]);
        let (status, _, _) = stack
            .send(method, &path, Some(&nobody), Some("K"), Some(body.clone()))
            .await;
        if status != StatusCode::FORBIDDEN {
            failures.push(format!("{method} {path}: replay with no role got {status}"));
        }
        // The rightful caller still gets the stored reply.
        let (status, headers, again) = stack
            .send(method, &path, Some(&first), Some("K"), Some(body))
            .await;
        if !status.is_success() || headers.get("idempotent-replayed").is_none() || again != reply {
            failures.push(format!(
                "{method} {path}: rightful replay got {status} {again}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn a_replayed_patient_record_is_audited_like_the_first_answer() {
    let stack = Stack::embedded();
    stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let body = json!({"patientId": "patient-new", "name": "New Person", "dateOfBirth": "1990-02-03", "phone": "+1 555 0100 999", "email": "new@example.org"});
    let audits = |items: &[shared::store::Item], action: &str| {
        items
            .iter()
            .filter(|i| {
                i.get("action").and_then(|v| v.as_s()) == Some(action)
                    && i.get("entity_id").and_then(|v| v.as_s()) == Some("patient-new")
            })
            .count()
    };
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/patients",
            Some(&staff),
            Some("K"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(audits(&stack.scan().await, "patient.create"), 1);
    let (status, headers, again) = stack
        .send("POST", "/v1/patients", Some(&staff), Some("K"), Some(body))
        .await;
    assert_eq!(
        (status, headers["idempotent-replayed"].to_str().unwrap()),
        (StatusCode::CREATED, "true")
    );
    assert_eq!(again["name"], "New Person");
    assert_eq!(audits(&stack.scan().await, "reply.replay"), 1);
}

async fn charge_for_a_real_appointment(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, appointment) = book(&stack, &jane, "a1", follow_up(&demo, &tue("10:00"))).await;
    assert_eq!(status, StatusCode::CREATED, "{appointment}");
    let charge = |patient: &str, appointment: &Value| {
        json!({"patientId": patient, "currency": "USD", "appointmentId": appointment,
            "lineItems": [{"description": "Follow-up", "amount": 9000}]})
    };
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/charges",
            Some(&staff),
            Some("c1"),
            Some(charge("patient-jane", &appointment["id"])),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["appointmentId"], appointment["id"]);
    // The same appointment charged to someone else is refused.
    let (status, _, body) = stack
        .send(
            "POST",
            "/v1/charges",
            Some(&staff),
            Some("c2"),
            Some(charge("patient-john", &appointment["id"])),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("unknown_appointment")
        )
    );
}

#[tokio::test]
async fn embedded_charge_tied_to_a_real_appointment() {
    charge_for_a_real_appointment(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn moto_charge_tied_to_a_real_appointment() {
    charge_for_a_real_appointment(Stack::on(moto_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_charge_tied_to_a_real_appointment() {
    charge_for_a_real_appointment(Stack::on(dynamodb_local_fixture().await).await).await;
}

#[tokio::test]
async fn embedded_only_an_address_the_identity_provider_verified_is_marked_verified() {
    verified_addresses(Some(Stack::embedded())).await;
}

#[tokio::test]
async fn moto_only_an_address_the_identity_provider_verified_is_marked_verified() {
    verified_addresses(Stack::on(moto_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_only_an_address_the_identity_provider_verified_is_marked_verified() {
    verified_addresses(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// Search finds every record with the address (through the blind index) and says which are verified.
async fn verified_addresses(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    stack.seed().await;
    let now = practica_tests::TEST_NOW as u64;
    let mint = |sub: &str, email: Option<&str>| {
        stack
            .issuer
            .mint_with_email(
                &shared::auth::Subject::parse(sub).unwrap(),
                &[Role::Patient],
                email,
                now,
                now + 3600,
            )
            .unwrap()
    };
    let details = |name: &str| json!({"name": name, "dateOfBirth": "1990-02-03", "phone": "+1 555 0100 999", "email": "ana@example.org"});
    let owner = mint("patient-ana", Some("Ana@Example.org"));
    let (status, _, body) = stack
        .send(
            "PUT",
            "/v1/patients/me",
            Some(&owner),
            None,
            Some(details("Ana Owner")),
        )
        .await;
    assert_eq!(
        (status, body["emailVerified"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    // Someone else types Ana's address into their own record: it stays unverified.
    let impostor = mint("patient-mallory", Some("mallory@example.org"));
    let (status, _, body) = stack
        .send(
            "PUT",
            "/v1/patients/me",
            Some(&impostor),
            None,
            Some(details("Mallory")),
        )
        .await;
    assert_eq!(
        (status, body["emailVerified"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let no_claim = mint("patient-nobody", None);
    let (_, _, body) = stack
        .send(
            "PUT",
            "/v1/patients/me",
            Some(&no_claim),
            None,
            Some(details("No Claim")),
        )
        .await;
    assert_eq!(body["emailVerified"], false);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, _, found) = stack
        .send(
            "POST",
            "/v1/patients/search",
            Some(&staff),
            None,
            Some(json!({"email": "ana@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut flags: Vec<(String, bool)> = found["patients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["patientId"].as_str().unwrap().to_owned(),
                p["emailVerified"].as_bool().unwrap(),
            )
        })
        .collect();
    flags.sort();
    assert_eq!(
        flags,
        vec![
            ("patient-ana".into(), true),
            ("patient-mallory".into(), false),
            ("patient-nobody".into(), false)
        ]
    );
    // The search is audited even when it finds nobody, and never with the address.
    let before = stack.scan_if_embedded().await;
    let (status, _, found) = stack
        .send(
            "POST",
            "/v1/patients/search",
            Some(&staff),
            None,
            Some(json!({"email": "none@example.org"})),
        )
        .await;
    assert_eq!(
        (status, found["patients"].as_array().unwrap().len()),
        (StatusCode::OK, 0)
    );
    if let (Some(before), Some(after)) = (before, stack.scan_if_embedded().await) {
        assert_eq!(after.len(), before.len() + 1, "the empty search is audited");
        assert!(!format!("{after:?}").contains("none@example.org"));
    }
    // The old query form is gone: no address in a URL.
    let (status, _, _) = stack
        .send(
            "GET",
            "/v1/patients?email=ana%40example.org",
            Some(&staff),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn client_request_ids_are_kept_only_when_they_are_short_tokens() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    for (sent, kept) in [
        ("req-123_abc.def:9", true),
        ("has space", false),
        ("<script>alert(1)</script>", false),
        ("patient Jane Doe, DOB 1985-04-12", false),
        (&"x".repeat(65) as &str, false),
    ] {
        let request = http::Request::get("/v1/patients/me")
            .header("authorization", format!("Bearer {jane}"))
            .header("x-request-id", sent)
            .body(axum::body::Body::empty())
            .unwrap();
        let (_, headers, _) = practica_tests::call(stack.router.clone(), request).await;
        let answered = headers["x-request-id"].to_str().unwrap();
        assert_eq!(answered == sent, kept, "{sent}");
        if !kept {
            assert_eq!(answered.len(), 26, "a fresh ULID for {sent}");
        }
    }
    let stored = format!("{:?}", stack.scan().await);
    assert!(stored.contains("req-123_abc.def:9"));
    assert!(!stored.contains("Jane Doe") && !stored.contains("<script>"));
}

/// The whole router against arbitrary requests by a signed-in patient, staff member, a token with
/// no role, a forged token and nobody: any method, path (real ids, malformed ones, any bytes),
/// query, headers and body. Every answer is defined: never a 5xx, never a dropped connection; a
/// refusal is problem+json and writes nothing.
#[test]
fn any_request_gets_a_defined_answer_and_a_refusal_writes_nothing() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stack = Stack::embedded();
    let demo = runtime.block_on(stack.seed());
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let (_, appointment) = runtime.block_on(book(
        &stack,
        &jane,
        "seed-a",
        follow_up(&demo, &tue("10:00")),
    ));
    let tokens = [
        Some(jane.clone()),
        Some(stack.token("staff-1", &[Role::Staff])),
        Some(stack.token("signed-in", &[])),
        Some("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned()),
        None,
    ];
    let ids = [
        demo.providers[0].to_string(),
        demo.services[1].to_string(),
        appointment["id"].as_str().unwrap().to_owned(),
        "patient-jane".to_owned(),
        "prv_".to_owned(),
        "%00".to_owned(),
        "..%2F..".to_owned(),
        "x".repeat(300),
    ];
    let templates = [
        ("GET", "/v1/practice"),
        ("PUT", "/v1/practice"),
        ("GET", "/v1/providers"),
        ("POST", "/v1/providers"),
        ("GET", "/v1/providers/{id}"),
        ("PUT", "/v1/providers/{id}/schedule"),
        ("GET", "/v1/providers/{id}/availability"),
        ("GET", "/v1/services"),
        ("POST", "/v1/services"),
        ("POST", "/v1/holds"),
        ("GET", "/v1/appointments"),
        ("POST", "/v1/appointments"),
        ("GET", "/v1/appointments/{id}"),
        ("POST", "/v1/appointments/{id}/reschedule"),
        ("POST", "/v1/appointments/{id}/cancel"),
        ("POST", "/v1/patients"),
        ("POST", "/v1/patients/search"),
        ("GET", "/v1/patients/me"),
        ("PUT", "/v1/patients/me"),
        ("GET", "/v1/patients/{id}"),
        ("GET", "/v1/waitlist"),
        ("POST", "/v1/waitlist"),
        ("POST", "/v1/charges"),
        ("GET", "/v1/balance"),
        ("POST", "/v1/payment-intents"),
        ("GET", "/v1/cards"),
        ("POST", "/v1/cards/setup"),
        ("POST", "/v1/cards/remove"),
        ("POST", "/v1/appointments/{id}/deposit"),
        ("GET", "/v1/appointments/{id}/visit"),
        ("POST", "/v1/appointments/{id}/visit/join"),
        ("POST", "/v1/appointments/{id}/visit/admit"),
        ("POST", "/v1/appointments/{id}/visit/leave"),
        ("GET", "/v1/disputes"),
        ("POST", "/v1/disputes/{id}/evidence"),
        ("POST", "/v1/disputes/{id}/submit"),
        ("POST", "/v1/webhooks/stripe"),
        ("POST", "/v1/webhooks/standard"),
        ("GET", "/v1/me"),
        ("DELETE", "/{id}"),
    ];
    let query_values = prop_oneof![
        Just("2026-11-24T00:00:00Z".to_owned()),
        Just("2026-11-24T00:00:00.123Z".to_owned()),
        Just(demo.providers[0].to_string()),
        Just(demo.services[1].to_string()),
        "[-+0-9:.TZ%]{0,30}",
        ".{0,20}",
    ];
    let query = prop::collection::vec(
        (
            prop_oneof![
                Just("from"),
                Just("to"),
                Just("serviceId"),
                Just("providerId"),
                Just("patientId"),
                Just("email"),
                Just("x")
            ],
            query_values,
        ),
        0..4,
    );
    let body = prop_oneof![
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        6 => prop::collection::btree_map(
            prop_oneof![Just("providerId"), Just("serviceId"), Just("start"), Just("from"), Just("to"), Just("reason"),
                Just("patientId"), Just("currency"), Just("amount"), Just("lineItems"), Just("email"), Just("name"), Just("timeZone")],
            prop_oneof![
                Just(json!(demo.providers[0])), Just(json!(demo.services[1])), Just(json!(tue("11:00"))),
                Just(json!("+1")), Just(json!(-1)), Just(json!(i64::MAX)), Just(json!(null)), Just(json!([{}])),
                ".{0,30}".prop_map(|s| json!(s)),
            ],
            0..5,
        ).prop_map(|m| serde_json::to_vec(&m).unwrap()),
    ];
    let header_value = prop_oneof![
        Just(None),
        "[ -~]{0,40}".prop_map(Some),
        Just(Some("\u{7f}".to_owned()))
    ];
    let strategy = (
        prop_oneof![8 => Just(None), 1 => Just(Some("GET")), 1 => Just(Some("POST")), 1 => Just(Some("PATCH"))],
        0..templates.len(),
        0..ids.len(),
        query,
        prop_oneof![3 => Just(0usize), 3 => Just(1usize), 1 => Just(2usize), 1 => Just(3usize), 1 => Just(4usize)],
        (
            header_value.clone(),
            header_value.clone(),
            header_value.clone(),
            header_value,
        ),
        prop_oneof![6 => Just(Some("application/json")), 1 => Just(None), 1 => Just(Some("text/plain")), 1 => Just(Some("application/json; charset=utf-8"))],
        body,
    );
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(300);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    runner
        .run(
            &strategy,
            |(
                method,
                template,
                id,
                query,
                token,
                (idem, request_id, signature, extra),
                content_type,
                body,
            )| {
                let (route_method, path) = templates[template];
                let method = method.unwrap_or(route_method);
                let mut uri = path.replace("{id}", &ids[id]);
                if !query.is_empty() {
                    let q: Vec<String> = query
                        .iter()
                        .map(|(k, v)| {
                            let v: String = v
                                .bytes()
                                .map(|b| {
                                    if b.is_ascii_alphanumeric() || b"-._~%".contains(&b) {
                                        (b as char).to_string()
                                    } else {
                                        format!("%{b:02X}")
                                    }
                                })
                                .collect();
                            format!("{k}={v}")
                        })
                        .collect();
                    uri = format!("{uri}?{}", q.join("&"));
                }
                let mut request = http::Request::builder().method(method).uri(&uri);
                if let Some(t) = &tokens[token] {
                    request = request.header("authorization", format!("Bearer {t}"));
                }
                for (name, value) in [
                    ("idempotency-key", &idem),
                    ("x-request-id", &request_id),
                    ("stripe-signature", &signature),
                    ("webhook-signature", &extra),
                ] {
                    if let Some(v) = value
                        && let Ok(v) = http::HeaderValue::from_str(v)
                    {
                        request = request.header(name, v);
                    }
                }
                if let Some(ct) = content_type {
                    request = request.header("content-type", ct);
                }
                let Ok(request) = request.body(axum::body::Body::from(body)) else {
                    return Ok(()); // not a request http can carry (e.g. an invalid URI)
                };
                let before = without_denials(runtime.block_on(stack.scan()));
                let (status, headers, problem) =
                    runtime.block_on(practica_tests::call(stack.router.clone(), request));
                prop_assert!(status.as_u16() < 500, "{method} {uri}: {status} {problem}");
                if status.is_client_error() {
                    prop_assert_eq!(
                        headers.get("content-type").and_then(|v| v.to_str().ok()),
                        Some("application/problem+json"),
                        "{} {}",
                        method,
                        uri
                    );
                    prop_assert!(problem["code"].is_string());
                    prop_assert!(
                        without_denials(runtime.block_on(stack.scan())) == before,
                        "{method} {uri}: {status} changed the table"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

/// A path segment that does not decode (bad percent-encoding, not UTF-8) names nothing: 404
/// problem+json on every route with a path parameter, never axum's plain-text 400.
#[tokio::test]
async fn undecodable_path_segments_are_404_problems() {
    let stack = Stack::embedded();
    stack.seed().await;
    let admin = stack.token("admin-1", &[Role::Admin]);
    for (method, path) in [
        ("GET", "/v1/appointments/%FF"),
        ("GET", "/v1/providers/%FF%FE"),
        ("GET", "/v1/providers/%C3/availability"),
        ("GET", "/v1/patients/%FF"),
        ("GET", "/v1/patients/%FF/access-log"),
        ("GET", "/v1/patients/%FF/record"),
        ("POST", "/v1/appointments/%FF/cancel"),
        ("POST", "/v1/feedback/%FF/resolve"),
        ("GET", "/v1/reports/%FF"),
        ("GET", "/v1/reports/2026-11-16_2026-11-23/%FF"),
    ] {
        let body = (method == "POST").then(|| json!({"note": "x"}));
        let (status, headers, problem) = stack
            .send(method, path, Some(&admin), Some("k"), body)
            .await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("not_found")),
            "{method} {path}"
        );
        assert_eq!(headers["content-type"], "application/problem+json");
    }
}

#[tokio::test]
async fn the_practice_says_where_it_is_and_how_to_call_it() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let admin = stack.token("admin-1", &[Role::Admin]);
    // The demo's, as every signed-in caller reads it.
    let (status, practice) = stack.get(&jane, "/v1/practice").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        practice["contact"],
        json!({"address": "12 River Street, Springfield", "phone": "+1 555 010 0199"})
    );
    let put = |contact: Value| json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York", "contact": contact});
    for (n, bad) in [
        json!({"address": ""}),
        json!({"address": "12 River Street\nSpringfield"}),
        json!({"address": "x".repeat(201)}),
        json!({"phone": "555-01"}),
        json!({"phone": "call us"}),
        json!({"fax": "+1 555 010 0199"}),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, _, body) = stack
            .send(
                "PUT",
                "/v1/practice",
                Some(&admin),
                Some(&format!("bad-{n}")),
                Some(put(bad.clone())),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
    }
    let (_, still) = stack.get(&jane, "/v1/practice").await;
    assert_eq!(still["contact"], practice["contact"], "nothing changed");
    let moved = json!({"address": "40 Mill Road, Springfield", "phone": "(555) 010-0142"});
    let (status, _, body) = stack
        .send(
            "PUT",
            "/v1/practice",
            Some(&admin),
            Some("moved"),
            Some(put(moved.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(stack.get(&jane, "/v1/practice").await.1["contact"], moved);
}

/// A data directory's clock only moves forward: `practica serve` refuses to start earlier than
/// its audit log was last signed (the entries it wrote then could not enter the log), and starts
/// at that instant or later.
#[tokio::test]
async fn serve_refuses_a_clock_earlier_than_the_data_has_seen() {
    use domain::clock::Clock as _;
    let stack = Stack::embedded();
    stack.seed().await;
    let signer = shared::adapters::local_signer::LocalSigner::generate().unwrap();
    practica_tests::seal_log(&stack, &signer).await;
    let on = |offset: i64| {
        let mut state = stack.state.clone();
        let now = stack.clock.now().as_second() + offset;
        state.clock = Arc::new(domain::clock::ManualClock::new(
            jiff::Timestamp::from_second(now).unwrap(),
        ));
        state
    };
    assert!(
        practica_cli::serve::clock_moves_forward(&on(0))
            .await
            .is_ok()
    );
    assert!(
        practica_cli::serve::clock_moves_forward(&on(3600))
            .await
            .is_ok()
    );
    let refused = practica_cli::serve::clock_moves_forward(&on(-3600))
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("a clock only moves forward"), "{refused}");
}
