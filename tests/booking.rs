//! Booking through the HTTP router: no double-booking under concurrency on every table adapter,
//! idempotent replay, reschedule atomicity, cancellation, hold expiry, the waitlist, encryption at
//! rest, and bad input refused with nothing written.

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

fn service_of(demo: &Demo, minutes: u16) -> String {
    // The demo's services: 60-minute consultation first, 30-minute follow-up second.
    match minutes {
        60 => demo.services[0].to_string(),
        _ => demo.services[1].to_string(),
    }
}

fn booking(demo: &Demo, minutes: u16, start: &str) -> Value {
    json!({
        "providerId": demo.providers[0],
        "serviceId": service_of(demo, minutes),
        "start": start,
    })
}

async fn slots(
    stack: &Stack,
    token: &str,
    demo: &Demo,
    minutes: u16,
    from: &str,
    to: &str,
) -> Vec<String> {
    let path = format!(
        "/v1/providers/{}/availability?serviceId={}&from={}&to={}",
        demo.providers[0],
        service_of(demo, minutes),
        urlencode(from),
        urlencode(to)
    );
    let (status, _, body) = stack.send("GET", &path, Some(token), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn urlencode(s: &str) -> String {
    s.replace('+', "%2B").replace(':', "%3A")
}

async fn calendar(stack: &Stack, demo: &Demo, from: &str, to: &str) -> Vec<Value> {
    let staff = stack.token("staff-1", &[Role::Staff]);
    let path = format!(
        "/v1/appointments?providerId={}&from={}&to={}",
        demo.providers[0],
        urlencode(from),
        urlencode(to)
    );
    let (status, _, body) = stack.send("GET", &path, Some(&staff), None, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["status"] == "booked")
        .cloned()
        .collect()
}

/// 200 patients race for overlapping times (30- and 60-minute services at five different starts,
/// every pair overlapping): exactly one 201, 199 × 409, one appointment on the calendar.
async fn two_hundred_racers(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let stack = Arc::new(stack);
    let demo = Arc::new(stack.seed().await);
    let variants = [
        (60, "09:15"),
        (60, "09:30"),
        (30, "09:45"),
        (30, "10:00"),
        (60, "10:00"),
        (30, "10:15"),
    ];
    let mut tasks = Vec::new();
    for i in 0..200 {
        let (stack, demo) = (stack.clone(), demo.clone());
        let (minutes, start) = variants[i % variants.len()];
        tasks.push(tokio::spawn(async move {
            let token = stack.token(&format!("racer-{i}"), &[Role::Patient]);
            let body = booking(&demo, minutes, &tue(start));
            let key = format!("race-{i}");
            let (status, _, body) = stack
                .send(
                    "POST",
                    "/v1/appointments",
                    Some(&token),
                    Some(&key),
                    Some(body),
                )
                .await;
            (status, body)
        }));
    }
    let (mut created, mut taken) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], "slot_taken");
                taken += 1
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((created, taken), (1, 199));
    let booked = calendar(&stack, &demo, &tue("08:00"), &tue("12:00")).await;
    assert_eq!(booked.len(), 1, "{booked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_two_hundred_concurrent_bookings_one_wins() {
    two_hundred_racers(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_two_hundred_concurrent_bookings_one_wins() {
    two_hundred_racers(Stack::on(moto_fixture().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_local_two_hundred_concurrent_bookings_one_wins() {
    two_hundred_racers(Stack::on(dynamodb_local_fixture().await).await).await;
}

#[tokio::test]
async fn replay_returns_the_same_reply_without_a_second_write() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let mut body = booking(&demo, 30, &tue("10:00"));
    body["reason"] = json!("Recurring migraines");
    let first = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("key-1"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.2);
    let items_after_first = stack.scan().await.len();
    let again = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("key-1"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(again.0, StatusCode::CREATED);
    assert_eq!(again.2, first.2);
    assert_eq!(again.1["idempotent-replayed"], "true");
    // A replay changes nothing but leaves one audit record: it showed the reason for visit again.
    let after = stack.scan().await;
    assert_eq!(
        after.len(),
        items_after_first + 1,
        "a replay writes only its audit record"
    );
    let replay_audits: Vec<_> = after
        .iter()
        .filter(|i| i.get("action").and_then(|v| v.as_s()) == Some("reply.replay"))
        .collect();
    assert_eq!(replay_audits.len(), 1);
    assert_eq!(
        replay_audits[0].get("entity_id").and_then(|v| v.as_s()),
        first.2["id"].as_str()
    );
    // The same key with another body is refused; so is a missing key.
    let other = booking(&demo, 30, &tue("11:00"));
    let (status, _, problem) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("key-1"),
            Some(other.clone()),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let (status, _, problem) = stack
        .send("POST", "/v1/appointments", Some(&jane), None, Some(other))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("idempotency_key_required"))
    );
    assert_eq!(stack.scan().await.len(), items_after_first + 1);
    // Another caller's identical key is another request.
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("key-1"),
            Some(booking(&demo, 30, &tue("13:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn reschedule_moves_atomically_or_not_at_all() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let (_, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("a"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("b"),
            Some(booking(&demo, 60, &tue("14:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let id = a["id"].as_str().unwrap();
    let before = stack.scan().await;
    // Onto John's time (partly overlapping): refused, and nothing changed at all.
    let path = format!("/v1/appointments/{id}/reschedule");
    let (status, _, problem) = stack
        .send(
            "POST",
            &path,
            Some(&jane),
            Some("r1"),
            Some(json!({"start": tue("14:30")})),
        )
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("slot_taken"))
    );
    assert_eq!(stack.scan().await, before);
    // Onto free time: old time freed, new time taken, in one step.
    let (status, _, moved) = stack
        .send(
            "POST",
            &path,
            Some(&jane),
            Some("r2"),
            Some(json!({"start": tue("16:00")})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(moved["start"], tue("16:00"));
    assert_eq!(moved["version"], 2);
    let free = slots(&stack, &jane, &demo, 30, &tue("09:00"), &tue("17:00")).await;
    assert!(free.contains(&tue("10:00")));
    assert!(!free.contains(&tue("16:00")));
    let booked = calendar(&stack, &demo, &tue("00:00"), &tue("23:00")).await;
    let starts: Vec<_> = booked
        .iter()
        .map(|a| a["start"].as_str().unwrap())
        .collect();
    assert_eq!(starts, [tue("14:00"), tue("16:00")]);
}

#[tokio::test]
async fn cancelling_frees_the_time_and_patients_keep_the_cutoff() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (_, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("a"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("b"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let path = format!("/v1/appointments/{}/cancel", a["id"].as_str().unwrap());
    let (status, _, cancelled) = stack
        .send(
            "POST",
            &path,
            Some(&jane),
            Some("c"),
            Some(json!({"reason": "Feeling better"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("b2"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the freed time is bookable at once"
    );

    // Monday 14:00 is six hours away: inside the 24-hour cut-off for the patient, not for staff.
    let (_, _, soon) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("d"),
            Some(booking(&demo, 30, "2026-11-23T14:00:00-05:00")),
        )
        .await;
    let path = format!("/v1/appointments/{}/cancel", soon["id"].as_str().unwrap());
    let (status, _, problem) = stack
        .send("POST", &path, Some(&jane), Some("e"), Some(json!({})))
        .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("cutoff_passed"))
    );
    let (status, _, _) = stack
        .send("POST", &path, Some(&staff), Some("e"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn holds_reserve_until_they_expire() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _, hold) = stack
        .send(
            "POST",
            "/v1/holds",
            Some(&jane),
            Some("h"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hold}");
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("j1"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "held for Jane");
    assert!(
        !slots(&stack, &john, &demo, 30, &tue("09:00"), &tue("12:00"))
            .await
            .contains(&tue("10:00"))
    );
    // Jane books from her hold.
    let mut with_hold = booking(&demo, 30, &tue("10:00"));
    with_hold["holdId"] = hold["id"].clone();
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("j2"),
            Some(with_hold),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    // A hold nobody uses lapses after five minutes without any sweep.
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/holds",
            Some(&jane),
            Some("h2"),
            Some(booking(&demo, 30, &tue("11:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    stack
        .clock
        .advance(jiff::SignedDuration::from_mins(5) + jiff::SignedDuration::from_secs(1));
    assert!(
        slots(&stack, &john, &demo, 30, &tue("09:00"), &tue("12:00"))
            .await
            .contains(&tue("11:00"))
    );
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("j3"),
            Some(booking(&demo, 30, &tue("11:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn freed_time_is_offered_to_the_earliest_waiting_patient() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let mary = stack.token("patient-mary", &[Role::Patient]);
    let (_, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("a"),
            Some(booking(&demo, 60, &tue("10:00"))),
        )
        .await;
    let window = |from: &str, to: &str| json!({"providerId": demo.providers[0], "serviceId": service_of(&demo, 30), "from": tue(from), "to": tue(to)});
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/waitlist",
            Some(&john),
            Some("w"),
            Some(window("10:00", "11:00")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/waitlist",
            Some(&mary),
            Some("w"),
            Some(window("10:00", "11:00")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/v1/appointments/{}/cancel", a["id"].as_str().unwrap());
    let (status, _, _) = stack
        .send("POST", &path, Some(&jane), Some("c"), Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::OK);

    let (_, _, list) = stack
        .send("GET", "/v1/waitlist", Some(&john), None, None)
        .await;
    let entry = &list["entries"][0];
    assert_eq!(entry["status"], "offered", "{list}");
    let (_, _, list) = stack
        .send("GET", "/v1/waitlist", Some(&mary), None, None)
        .await;
    assert_eq!(list["entries"][0]["status"], "waiting");
    assert_eq!(list["entries"][0]["offer"], serde_json::Value::Null);
    // The list says what the offer holds and until when (the portal books it from there).
    let offered = &entry["offer"];
    assert_eq!(offered["start"], json!(tue("10:00")), "{entry}");
    assert!(offered["expiresAt"].as_str().is_some(), "{entry}");
    // One offer in the outbox, for John, with the hold's expiry.
    let offers: Vec<_> = practica_tests::waiting_messages(&stack.state)
        .await
        .into_iter()
        .filter(|m| m.kind == domain::notify::Kind::WaitlistOffer)
        .collect();
    assert_eq!(offers.len(), 1);
    assert_eq!(offers[0].patient.as_str(), "patient-john");
    assert_eq!(
        offers[0].hold.as_ref().map(|h| h.to_string()),
        entry["holdId"].as_str().map(str::to_owned)
    );
    assert!(offers[0].offer_expires_at.is_some());
    // John books the offered time from his hold (the earliest start that the freed time allows).
    let mut body = booking(&demo, 30, &tue("10:00"));
    body["holdId"] = entry["holdId"].clone();
    let (status, _, booked) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&john),
            Some("b"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
    // Booked: the hold is gone and the request served, so the list no longer shows it.
    let (_, _, list) = stack
        .send("GET", "/v1/waitlist", Some(&john), None, None)
        .await;
    assert_eq!(
        list["entries"][0]["offer"],
        serde_json::Value::Null,
        "{list}"
    );
    assert_eq!(list["entries"], json!([]), "{list}");
}

/// Jane waits for a time on Tuesday morning (first in line) and holds an appointment there; when
/// she cancels it, the freed time goes to John, next in line, not back to her; so does the time
/// she leaves when she moves another appointment.
#[tokio::test]
async fn a_patients_own_cancellation_or_move_is_never_offered_back_to_her() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let window = |from: &str, to: &str| json!({"providerId": demo.providers[0], "serviceId": service_of(&demo, 30), "from": tue(from), "to": tue(to)});
    for (token, key) in [(&jane, "wj"), (&john, "wo")] {
        let (status, _, entry) = stack
            .send(
                "POST",
                "/v1/waitlist",
                Some(token),
                Some(key),
                Some(window("10:00", "12:00")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
    }
    let mut ids = Vec::new();
    for (time, key) in [("10:00", "a1"), ("11:00", "a2")] {
        let (status, _, a) = stack
            .send(
                "POST",
                "/v1/appointments",
                Some(&jane),
                Some(key),
                Some(booking(&demo, 30, &tue(time))),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let offers = |stack: &Stack| {
        let state = stack.state.clone();
        async move {
            practica_tests::waiting_messages(&state)
                .await
                .into_iter()
                .filter(|m| m.kind == domain::notify::Kind::WaitlistOffer)
                .map(|m| m.patient.to_string())
                .collect::<Vec<_>>()
        }
    };
    let path = format!("/v1/appointments/{}/cancel", ids[0]);
    let (status, _) = stack.post(&jane, "c", &path, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(offers(&stack).await, ["patient-john"]);
    let (_, mine) = stack.get(&jane, "/v1/waitlist").await;
    assert_eq!(mine["entries"][0]["status"], "waiting", "{mine}");

    // John holds the offer; Jane moves her 11:00 to the afternoon: no one else waits, and the
    // time she left is not offered back to her either.
    let path = format!("/v1/appointments/{}/reschedule", ids[1]);
    let (status, moved) = stack
        .post(&jane, "m", &path, json!({"start": tue("15:00")}))
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(offers(&stack).await, ["patient-john"]);
    let (_, mine) = stack.get(&jane, "/v1/waitlist").await;
    assert_eq!(mine["entries"][0]["status"], "waiting", "{mine}");
}

/// John may have one open waitlist request; the offer he books closes it, and its allowance is
/// given back with the booking, so he may ask again at once.
#[tokio::test]
async fn booking_a_waitlist_offer_gives_back_the_requests_allowance() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    one_request_each(&stack).await;
    let john = stack.token("patient-john", &[Role::Patient]);
    let window = |from: &str, to: &str| tuesday_window(&demo, from, to);
    let list = offered_after_janes_cancellation(&stack, &demo, &["patient-john"]).await;
    let entry = &list["entries"][0];
    let (status, refused) = wait_for(&stack, &john, "w2", window("14:00", "15:00")).await;
    assert_eq!(status, StatusCode::CONFLICT, "one open request: {refused}");

    let mut body = booking(&demo, 30, &tue("10:00"));
    body["holdId"] = entry["holdId"].clone();
    let (status, booked) = stack.post(&john, "b", "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");

    let (status, again) = wait_for(&stack, &john, "w3", window("14:00", "15:00")).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the booked offer gave its allowance back: {again}"
    );
}

/// A waitlist request through the router: its status and body.
async fn wait_for(stack: &Stack, token: &str, key: &str, window: Value) -> (StatusCode, Value) {
    stack.post(token, key, "/v1/waitlist", window).await
}

/// A practice whose patients may have one open waitlist request each.
async fn one_request_each(stack: &Stack) {
    let admin = stack.token("admin-1", &[Role::Admin]);
    let practice = json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York",
        "limits": {"openWaitlistEntriesPerPatient": 1}});
    let (status, _, body) = stack
        .send("PUT", "/v1/practice", Some(&admin), None, Some(practice))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A waitlist request for Tuesday, `from`-`to`, for the 30-minute service.
fn tuesday_window(demo: &Demo, from: &str, to: &str) -> Value {
    json!({"providerId": demo.providers[0], "serviceId": service_of(demo, 30), "from": tue(from), "to": tue(to)})
}

/// The same request again is the same entry (200 with it, not a second one); John leaves it and
/// may ask for something else; Jane may not remove his entry, the front desk may.
#[tokio::test]
async fn a_waitlist_request_is_one_entry_that_its_patient_or_staff_may_remove() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    one_request_each(&stack).await;
    let (jane, john) = (
        stack.token("patient-jane", &[Role::Patient]),
        stack.token("patient-john", &[Role::Patient]),
    );
    let desk = stack.token("staff-1", &[Role::Staff]);
    let morning = tuesday_window(&demo, "10:00", "11:00");
    let (status, first) = wait_for(&stack, &john, "w1", morning.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = wait_for(&stack, &john, "w2", morning.clone()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the first entry is the answer: {again}"
    );
    assert_eq!(again["id"], first["id"]);
    // Staff asking for him with the same request get the same entry.
    let mut for_john = morning.clone();
    for_john["patientId"] = json!("patient-john");
    let (status, same) = stack.post(&desk, "w3", "/v1/waitlist", for_john).await;
    assert_eq!((status, &same["id"]), (StatusCode::OK, &first["id"]));
    let (_, list) = stack.get(&john, "/v1/waitlist").await;
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(1), "{list}");
    // Days the provider does not book yet could never be offered: refused in words.
    let far = json!({"providerId": demo.providers[0], "serviceId": service_of(&demo, 30),
        "from": "2027-06-01T00:00:00-04:00", "to": "2027-06-05T00:00:00-04:00"});
    let (status, refused) = wait_for(&stack, &john, "w-far", far).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("beyond_booking_window")
        )
    );
    let (status, full) =
        wait_for(&stack, &john, "w4", tuesday_window(&demo, "14:00", "15:00")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{full}");
    assert!(
        full["detail"].as_str().unwrap().contains("leave one"),
        "{full}"
    );

    let id = first["id"].as_str().unwrap();
    let leave = format!("/v1/waitlist/{id}/leave");
    let provider = json!({"providerId": demo.providers[0]});
    let (status, _) = stack.post(&jane, "l1", &leave, provider.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "not Jane's entry");
    let (status, _) = stack
        .post(
            &john,
            "l2",
            "/v1/waitlist/wl_01KBNCTZ8Y4X9V6T2JQ0W7E3HR/leave",
            provider.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, left) = stack.post(&john, "l3", &leave, provider.clone()).await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert_eq!(left, json!({"id": id, "removed": true}));
    let (status, replayed) = stack.post(&john, "l3", &leave, provider.clone()).await;
    assert_eq!((status, &replayed), (StatusCode::OK, &left), "a retry");
    let (_, list) = stack.get(&john, "/v1/waitlist").await;
    assert_eq!(list["entries"], json!([]), "{list}");

    // His allowance is free again, and so is the request.
    let (status, afternoon) =
        wait_for(&stack, &john, "w5", tuesday_window(&demo, "14:00", "15:00")).await;
    assert_eq!(status, StatusCode::CREATED, "{afternoon}");
    let leave = format!("/v1/waitlist/{}/leave", afternoon["id"].as_str().unwrap());
    let (status, removed) = stack.post(&desk, "l4", &leave, provider).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the front desk removes it: {removed}"
    );
    let (status, again) = wait_for(&stack, &john, "w6", morning).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_ne!(again["id"], first["id"]);

    let items = stack.scan().await;
    let (denied, removals): (Vec<_>, Vec<_>) = practica_tests::audits(&items, "waitlist.delete")
        .into_iter()
        .partition(|a| practica_tests::is_denial(a));
    // Jane's attempt names John (his entry); the unknown id names no one.
    assert_eq!(denied.len(), 2, "{denied:?}");
    assert_eq!(removals.len(), 2, "{removals:?}");
    let names_john =
        |a: &shared::store::Item| format!("{:?}", a.get("patient_ids")).contains("patient-john");
    assert_eq!(
        denied.iter().filter(|a| names_john(a)).count(),
        1,
        "{denied:?}"
    );
    assert!(removals.iter().all(|a| names_john(a)), "{removals:?}");
}

/// A table whose first `n` reads of a waitlist request's claim wait for one another: every racer
/// has read "no open entry" before any of them writes, so only the claim's condition can keep them
/// one entry.
struct Lockstep {
    inner: Arc<dyn shared::store::Table>,
    reads: std::sync::atomic::AtomicUsize,
    n: usize,
    barrier: tokio::sync::Barrier,
}

#[async_trait::async_trait]
impl shared::store::Table for Lockstep {
    async fn get(
        &self,
        key: &shared::store::Key,
        c: shared::store::Consistency,
    ) -> Result<Option<shared::store::Item>, shared::store::TableError> {
        let read = self.inner.get(key, c).await;
        if key.sk.starts_with("WAITREQ#")
            && self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) < self.n
        {
            self.barrier.wait().await;
        }
        read
    }
    async fn put(
        &self,
        item: shared::store::Item,
        c: Option<shared::store::Condition>,
    ) -> Result<(), shared::store::TableError> {
        self.inner.put(item, c).await
    }
    async fn delete(
        &self,
        key: &shared::store::Key,
        c: Option<shared::store::Condition>,
    ) -> Result<(), shared::store::TableError> {
        self.inner.delete(key, c).await
    }
    async fn update(
        &self,
        key: &shared::store::Key,
        u: shared::store::Update,
        c: Option<shared::store::Condition>,
    ) -> Result<shared::store::Item, shared::store::TableError> {
        self.inner.update(key, u, c).await
    }
    async fn query(
        &self,
        q: &shared::store::Query,
    ) -> Result<shared::store::Page, shared::store::TableError> {
        self.inner.query(q).await
    }
    async fn transact_write(
        &self,
        ops: Vec<shared::store::TransactOp>,
    ) -> Result<(), shared::store::TableError> {
        self.inner.transact_write(ops).await
    }
}

/// Identical requests at once (each has read that none is open) make one entry: every answer
/// names it.
async fn twin_requests(fixture: Option<shared::store::contract::Fixture>) {
    let Some(fixture) = fixture else { return };
    const RACERS: usize = 4;
    let table = Arc::new(Lockstep {
        inner: fixture.table.clone(),
        reads: Default::default(),
        n: RACERS,
        barrier: tokio::sync::Barrier::new(RACERS),
    });
    let stack = Arc::new(Stack::over(table));
    let demo = stack.seed().await;
    let john = stack.token("patient-john", &[Role::Patient]);
    let body = tuesday_window(&demo, "10:00", "11:00");
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (stack, john, body) = (stack.clone(), john.clone(), body.clone());
            tokio::spawn(async move {
                stack
                    .post(&john, &format!("twin-{i}"), "/v1/waitlist", body)
                    .await
            })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    let mut created = 0;
    for racer in racers {
        let (status, body) = racer.await.unwrap();
        assert!(
            status == StatusCode::CREATED || status == StatusCode::OK,
            "{status}: {body}"
        );
        created += usize::from(status == StatusCode::CREATED);
        ids.insert(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!((created, ids.len()), (1, 1), "{ids:?}");
    let (_, list) = stack.get(&john, "/v1/waitlist").await;
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(1), "{list}");
    drop(fixture.guard);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_twin_waitlist_requests_make_one_entry() {
    twin_requests(embedded_fixture().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_local_twin_waitlist_requests_make_one_entry() {
    twin_requests(dynamodb_local_fixture().await).await;
}

/// Jane books Tuesday 10:00; the patients named wait for 10:00-11:00, in that order; Jane cancels,
/// so the first of them is offered the time. Returns that patient's waitlist as listed then.
async fn offered_after_janes_cancellation(stack: &Stack, demo: &Demo, waiting: &[&str]) -> Value {
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let (_, a) = stack
        .post(
            &jane,
            "a",
            "/v1/appointments",
            booking(demo, 30, &tue("10:00")),
        )
        .await;
    for (i, patient) in waiting.iter().enumerate() {
        let token = stack.token(patient, &[Role::Patient]);
        let window = tuesday_window(demo, "10:00", "11:00");
        let (status, entry) = wait_for(stack, &token, &format!("w-{i}"), window).await;
        assert_eq!(status, StatusCode::CREATED, "{entry}");
    }
    let cancel = format!("/v1/appointments/{}/cancel", a["id"].as_str().unwrap());
    let (status, _) = stack.post(&jane, "c", &cancel, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let first = stack.token(waiting[0], &[Role::Patient]);
    let (_, list) = stack.get(&first, "/v1/waitlist").await;
    assert_eq!(list["entries"][0]["status"], "offered", "{list}");
    list
}

/// John leaves while he holds an offer: its time is released at once and offered to Mary, next in
/// line.
#[tokio::test]
async fn leaving_with_an_offer_passes_the_time_to_the_next_patient() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let list =
        offered_after_janes_cancellation(&stack, &demo, &["patient-john", "patient-mary"]).await;
    let entry = &list["entries"][0];
    let (john, mary) = (
        stack.token("patient-john", &[Role::Patient]),
        stack.token("patient-mary", &[Role::Patient]),
    );

    let leave = format!("/v1/waitlist/{}/leave", entry["id"].as_str().unwrap());
    let (status, left) = stack
        .post(&john, "l", &leave, json!({"providerId": demo.providers[0]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    let (_, list) = stack.get(&mary, "/v1/waitlist").await;
    assert_eq!(list["entries"][0]["status"], "offered", "{list}");
    assert_eq!(
        list["entries"][0]["offer"]["start"],
        json!(tue("10:00")),
        "{list}"
    );
    // John's hold is gone: the time is Mary's to book.
    let mut body = booking(&demo, 30, &tue("10:00"));
    body["holdId"] = list["entries"][0]["holdId"].clone();
    let (status, booked) = stack.post(&mary, "b", "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");
}

/// An offer that lapses unbooked closes its request: the sweep marks the entry lapsed (it writes
/// no patient keys), and John's next request removes it with its allowance slot and claim, so he
/// may ask again, even for the same days.
#[tokio::test]
async fn a_lapsed_offer_closes_its_request_and_frees_the_allowance() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    one_request_each(&stack).await;
    offered_after_janes_cancellation(&stack, &demo, &["patient-john"]).await;
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _) = wait_for(&stack, &john, "w2", tuesday_window(&demo, "14:00", "15:00")).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "the offered request still counts"
    );

    // The offer window is an hour.
    stack.clock.advance(jiff::SignedDuration::from_mins(61));
    let swept = shared::booking::holds::sweep_expired_holds(&stack.state, "t")
        .await
        .unwrap();
    assert_eq!(
        swept,
        (1, 0),
        "John's lapsed offer; not offered back to him"
    );
    let (_, list) = stack.get(&john, "/v1/waitlist").await;
    assert_eq!(list["entries"][0]["status"], "lapsed", "{list}");
    let lapsed_id = list["entries"][0]["id"].clone();
    let (status, again) =
        wait_for(&stack, &john, "w3", tuesday_window(&demo, "10:00", "11:00")).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the same days, asked again: {again}"
    );
    assert_ne!(again["id"], lapsed_id);
    let (_, list) = stack.get(&john, "/v1/waitlist").await;
    assert_eq!(list["entries"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["entries"][0]["id"], again["id"]);
    let items = stack.scan().await;
    let actor = |action: &str| {
        let records = practica_tests::audits(&items, action);
        assert_eq!(records.len(), 1, "{action}: {records:?}");
        let actor = records[0]
            .get("actor")
            .and_then(shared::store::AttrValue::as_s);
        actor.map(str::to_owned)
    };
    assert_eq!(actor("waitlist.lapse").as_deref(), Some("system:sweep"));
    assert_eq!(actor("waitlist.delete").as_deref(), Some("system:waitlist"));
    // One claim for John's one open request (the lapsed one's was given back).
    let swept_keys: Vec<_> = items
        .iter()
        .filter(|i| i.key.pk.starts_with("PATIENT#patient-john"))
        .map(|i| i.key.sk.clone())
        .collect();
    assert!(
        swept_keys
            .iter()
            .filter(|k| k.starts_with("WAITREQ#"))
            .count()
            == 1,
        "one open request's claim: {swept_keys:?}"
    );
}

#[tokio::test]
async fn an_expired_hold_is_swept_and_offered_to_the_waitlist() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/holds",
            Some(&jane),
            Some("h"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let wait = json!({"providerId": demo.providers[0], "serviceId": service_of(&demo, 30), "from": tue("10:00"), "to": tue("10:30")});
    stack
        .send("POST", "/v1/waitlist", Some(&john), Some("w"), Some(wait))
        .await;
    assert_eq!(
        shared::booking::holds::sweep_expired_holds(&stack.state, "t")
            .await
            .unwrap(),
        (0, 0)
    );
    stack.clock.advance(jiff::SignedDuration::from_mins(6));
    assert_eq!(
        shared::booking::holds::sweep_expired_holds(&stack.state, "t")
            .await
            .unwrap(),
        (1, 1)
    );
    // The sweep's deletion left its record: a system job, deleting, about Jane's hold.
    let text = |i: &shared::store::Item, name: &str| {
        i.get(name)
            .and_then(shared::store::AttrValue::as_s)
            .map(str::to_owned)
    };
    let swept: Vec<_> = stack
        .scan()
        .await
        .into_iter()
        .filter(|i| text(i, "action").as_deref() == Some("hold.sweep"))
        .collect();
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(text(&swept[0], "agent_kind").as_deref(), Some("system"));
    assert_eq!(text(&swept[0], "action_kind").as_deref(), Some("delete"));
    assert_eq!(text(&swept[0], "actor").as_deref(), Some("system:sweep"));
    let patients = format!("{:?}", swept[0].get("patient_ids"));
    assert!(patients.contains("patient-jane"), "{patients}");
    let (_, _, list) = stack
        .send("GET", "/v1/waitlist", Some(&john), None, None)
        .await;
    assert_eq!(list["entries"][0]["status"], "offered");
}

/// What a raw read of the table shows after the demo booking: no patient data in plaintext.
#[tokio::test]
async fn a_raw_scan_holds_no_patient_plaintext() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let mut body = booking(&demo, 30, &tue("10:00"));
    body["reason"] = json!("Persistent insomnia after bereavement");
    let (status, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("k"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/v1/appointments/{}/cancel", a["id"].as_str().unwrap());
    stack
        .send(
            "POST",
            &path,
            Some(&jane),
            Some("c"),
            Some(json!({"reason": "Moving to Ohio for chemo"})),
        )
        .await;
    let dump = format!("{:?}", stack.scan().await);
    assert!(
        dump.contains("Dr. Ana Rivera"),
        "the scan sees plaintext where there is some"
    );
    for secret in [
        "Jane Demo-Patient",
        "jane.demo@example.org",
        "JANE.DEMO",
        "0100 123",
        "1988-04-12",
        "insomnia",
        "chemo",
    ] {
        assert!(
            !dump.to_lowercase().contains(&secret.to_lowercase()),
            "{secret} in the table"
        );
    }
    // Staff find Jane by her email through the blind index, in any case.
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, _, found) = stack
        .send(
            "POST",
            "/v1/patients/search",
            Some(&staff),
            None,
            Some(json!({"email": "JANE.Demo@example.org"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["patients"][0]["name"], "Jane Demo-Patient");
    // The address was typed by staff when the demo was seeded: nobody has verified it.
    assert_eq!(found["patients"][0]["emailVerified"], false);
}

#[tokio::test]
async fn reads_of_patient_data_are_audited_before_they_return() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let (_, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("k"),
            Some(booking(&demo, 30, &tue("10:00"))),
        )
        .await;
    let audits = |items: Vec<shared::store::Item>| {
        items
            .into_iter()
            .filter(|i| i.key.pk.starts_with("AUDIT#"))
            .map(|i| i.get("action").and_then(|v| v.as_s()).unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let before = audits(stack.scan().await);
    assert!(before.contains(&"appointment.create".to_owned()));
    stack
        .send(
            "GET",
            &format!("/v1/appointments/{}", a["id"].as_str().unwrap()),
            Some(&jane),
            None,
            None,
        )
        .await;
    stack
        .send("GET", "/v1/patients/me", Some(&jane), None, None)
        .await;
    let after = audits(stack.scan().await);
    assert_eq!(after.len(), before.len() + 2);
    assert!(after.contains(&"appointment.read".to_owned()));
    assert!(after.contains(&"patient.read".to_owned()));
    let record = stack
        .scan()
        .await
        .into_iter()
        .find(|i| i.get("action").and_then(|v| v.as_s()) == Some("patient.read"))
        .unwrap();
    assert_eq!(
        record.get("actor").and_then(|v| v.as_s()),
        Some("patient-jane")
    );
    assert_eq!(
        record.get("outcome").and_then(|v| v.as_s()),
        Some("success")
    );
    assert!(record.get("request_id").and_then(|v| v.as_s()).is_some());
}

/// Each bad request gets its 4xx problem and leaves the table exactly as it was.
#[tokio::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let prv = demo.providers[0].to_string();
    let other_service_provider = {
        // A service the second provider does not offer: make one for the first provider only.
        let staff = stack.token("staff-1", &[Role::Staff]);
        let (_, _, s) = stack
            .send(
                "POST",
                "/v1/services",
                Some(&staff),
                Some("svc"),
                Some(json!({"name": "Solo", "durationMinutes": 30, "providerIds": [prv]})),
            )
            .await;
        s["id"].as_str().unwrap().to_owned()
    };
    let before = without_denials(stack.scan().await);
    let book = |start: &str| booking(&demo, 30, start);
    let avail = |q: &str| {
        format!(
            "/v1/providers/{prv}/availability?serviceId={}&{q}",
            service_of(&demo, 30)
        )
    };
    let cases: Vec<(&str, String, Option<Value>, StatusCode, &str)> = vec![
        ("POST", "/v1/appointments".into(), Some(book(&tue("10:07"))), StatusCode::UNPROCESSABLE_ENTITY, "off_grid"),
        ("POST", "/v1/appointments".into(), Some(book(&tue("12:15"))), StatusCode::UNPROCESSABLE_ENTITY, "off_grid"),
        ("POST", "/v1/appointments".into(), Some(book("2026-11-20T10:00:00-05:00")), StatusCode::UNPROCESSABLE_ENTITY, "in_past"),
        ("POST", "/v1/appointments".into(), Some(book("2026-11-23T09:00:00-05:00")), StatusCode::UNPROCESSABLE_ENTITY, "inside_minimum_notice"),
        ("POST", "/v1/appointments".into(), Some(book("2027-06-01T10:00:00-04:00")), StatusCode::UNPROCESSABLE_ENTITY, "beyond_booking_window"),
        ("POST", "/v1/appointments".into(), Some(book("2026-11-24T10:00:00")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_timestamp"),
        ("POST", "/v1/appointments".into(), Some(json!({"providerId": demo.providers[1], "serviceId": other_service_provider, "start": tue("10:00")})), StatusCode::UNPROCESSABLE_ENTITY, "service_not_offered"),
        ("POST", "/v1/appointments".into(), Some(json!({"providerId": "prv_01ARZ3NDEKTSV4RRFFQ69G5FAV", "serviceId": demo.services[0], "start": tue("10:00")})), StatusCode::NOT_FOUND, "not_found"),
        ("POST", "/v1/appointments".into(), Some(json!({"providerId": prv, "serviceId": demo.services[1], "start": tue("10:00"), "diagnosis": "x"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
        ("POST", "/v1/appointments".into(), Some(json!({"providerId": prv, "serviceId": demo.services[1], "start": tue("10:00"), "reason": "x".repeat(1001)})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_reason"),
        ("POST", "/v1/appointments".into(), Some(json!({"providerId": prv, "serviceId": demo.services[1], "start": tue("10:00"), "reason": "x".repeat(70_000)})), StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ("POST", "/v1/appointments/apt_01ARZ3NDEKTSV4RRFFQ69G5FAV/cancel".into(), Some(json!({})), StatusCode::NOT_FOUND, "not_found"),
        ("POST", "/v1/appointments/not-an-id/reschedule".into(), Some(json!({"start": tue("10:00")})), StatusCode::NOT_FOUND, "not_found"),
        ("GET", "/v1/appointments/apt_01ARZ3NDEKTSV4RRFFQ69G5FAV".into(), None, StatusCode::NOT_FOUND, "not_found"),
        ("GET", avail("from=2026-11-24T10%3A00%3A00Z&to=2026-11-24T09%3A00%3A00Z"), None, StatusCode::BAD_REQUEST, "invalid_range"),
        ("GET", avail("from=2026-11-24T00%3A00%3A00Z&to=2026-12-26T00%3A00%3A00Z"), None, StatusCode::BAD_REQUEST, "range_too_long"),
        ("GET", avail("from=2026-11-24T00%3A00%3A00&to=2026-11-25T00%3A00%3A00Z"), None, StatusCode::BAD_REQUEST, "invalid_timestamp"),
        ("GET", avail("from=2026-11-24T00%3A00%3A00Z&to=2026-11-25T00%3A00%3A00Z&color=red"), None, StatusCode::BAD_REQUEST, "invalid_query"),
        ("GET", format!("/v1/providers/{prv}/availability?serviceId={other_service_provider}&from=2026-11-24T00%3A00%3A00Z&to=2026-11-25T00%3A00%3A00Z").replace(&prv, demo.providers[1].as_str()), None, StatusCode::UNPROCESSABLE_ENTITY, "service_not_offered"),
        ("POST", "/v1/waitlist".into(), Some(json!({"providerId": prv, "serviceId": demo.services[1], "from": tue("11:00"), "to": tue("10:00")})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_range"),
        ("PUT", "/v1/patients/me".into(), Some(json!({"name": "Jane", "dateOfBirth": "2999-01-01", "phone": "+1 555 0100", "email": "j@example.org"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_date_of_birth"),
        ("PUT", "/v1/patients/me".into(), Some(json!({"name": "Jane", "dateOfBirth": "1990-01-01", "phone": "+1 555 0100", "email": "not-an-email"})), StatusCode::UNPROCESSABLE_ENTITY, "invalid_email"),
    ];
    for (method, path, body, status, code) in cases {
        let (got, headers, problem) = if let Some(b) = &body
            && b.to_string().len() > 65_536
        {
            // Sent raw: the oversized body is refused before it is parsed.
            stack
                .send(method, &path, Some(&jane), Some("bad"), Some(b.clone()))
                .await
        } else {
            stack
                .send(method, &path, Some(&jane), Some("bad"), body.clone())
                .await
        };
        assert_eq!(
            (got, problem["code"].as_str()),
            (status, Some(code)),
            "{method} {path} {body:?}: {problem}"
        );
        assert_eq!(headers["content-type"], "application/problem+json");
        assert_eq!(
            without_denials(stack.scan().await),
            before,
            "{method} {path} wrote something"
        );
    }
    // Malformed JSON, through a raw request.
    let request = http::Request::post("/v1/appointments")
        .header("authorization", format!("Bearer {jane}"))
        .header("idempotency-key", "raw")
        .header("content-type", "application/json")
        .body(axum::body::Body::from("{\"providerId\": "))
        .unwrap();
    let (status, _, problem) = practica_tests::call(stack.router.clone(), request).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_json"))
    );
    assert_eq!(without_denials(stack.scan().await), before);
}
