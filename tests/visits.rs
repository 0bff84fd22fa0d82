//! Online visits' rooms through the booking router: a follow-up booked online (a service that
//! may be either), an in-person service refused online; the room shut before its window (and
//! after), open from 15 minutes before the start; only the visit's patient and its provider's side
//! enter (another patient, another provider, staff for a provider with a login: 403, audited
//! naming the patient); each side's page registers its certificate; the patient waits,
//! the provider admits (a patient cannot, nobody waiting cannot be), each given a signaling address
//! of their own only when the room lets them in; leaving keeps the admission for a rejoin. On the
//! embedded store and DynamoDB Local.

use domain::notify::Kind;
use http::StatusCode;
use practica_cli::demo::{DEMO_PATIENT, DEMO_PROVIDER_LOGINS};
use practica_tests::{Recorder, Stack, audits, delivery, dynamodb_local_fixture, is_denial};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::notify::deliver_due;

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let other = stack.token("patient-other", &[Role::Patient]);
    let rivera = stack.token(DEMO_PROVIDER_LOGINS[0], &[Role::Provider]);
    let okafor = stack.token(DEMO_PROVIDER_LOGINS[1], &[Role::Provider]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let start = "2026-11-24T10:00:00-05:00";
    let book = |service: &str, online: bool| json!({"providerId": demo.providers[0], "serviceId": service, "start": start, "online": online});
    // Only a service offered online is booked online.
    let (status, refused) = stack
        .post(
            &jane,
            "b-0",
            "/v1/appointments",
            book(&demo.services[0].to_string(), true),
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("visit_mode_not_offered")
        ),
        "{refused}"
    );
    let (status, appt) = stack
        .post(
            &jane,
            "b-1",
            "/v1/appointments",
            book(&demo.services[1].to_string(), true),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    assert_eq!(appt["online"], true, "{appt}");
    let id = appt["id"].as_str().unwrap().to_owned();
    let room = format!("/v1/appointments/{id}/visit");
    // Her confirmation's link opens the visit in the portal (once she signs in: it is no bearer
    // link), and says how to join; it names no appointment.
    let recorder = Recorder::new();
    let delivery = delivery(&recorder);
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let confirmation = recorder.sent().pop().expect("a confirmation");
    assert_eq!(confirmation.kind, Kind::Confirmation);
    assert!(
        confirmation
            .text
            .contains("It is an online visit, by video")
            && confirmation
                .text
                .contains("from 15 minutes before the start"),
        "{}",
        confirmation.text
    );
    assert!(
        confirmation.text.contains("/#/visit\n") && !confirmation.text.contains(&id),
        "{}",
        confirmation.text
    );
    // Another, at 09:00 on Tuesday, that she will miss (the report counts it).
    let mut missed = book(&demo.services[1].to_string(), true);
    missed["start"] = json!("2026-11-24T09:00:00-05:00");
    let (status, body) = stack
        .post(&jane, "b-missed", "/v1/appointments", missed)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let step = |name: &str| format!("{room}/{name}");

    // Monday: shut, saying when it opens; joining is refused.
    let (status, shut) = stack.get(&jane, &room).await;
    assert_eq!(status, StatusCode::OK, "{shut}");
    assert_eq!(shut["open"], false);
    assert_eq!(
        (shut["startsAt"].clone(), shut["endsAt"].clone()),
        (json!("2026-11-24T15:00:00Z"), json!("2026-11-24T15:30:00Z"))
    );
    assert_eq!(shut["opensAt"], "2026-11-24T14:45:00Z");
    assert_eq!(shut["closesAt"], "2026-11-24T16:00:00Z");
    assert_eq!(shut["signaling"], Value::Null);
    let (status, early) = stack.post(&jane, "j-0", &step("join"), json!({})).await;
    assert_eq!(
        (status, early["code"].as_str()),
        (StatusCode::CONFLICT, Some("visit_not_open")),
        "{early}"
    );

    // Nobody else enters: another patient, another provider.
    for (token, who) in [(&other, "another patient"), (&okafor, "another provider")] {
        let (status, body) = stack.get(token, &room).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
        let (status, body) = stack.post(token, "x", &step("join"), json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}: {body}");
    }

    // Tuesday 09:50: open. The provider's side may connect (as the channel's master) once its
    // page has joined; the patient only once admitted. Her reminders (the day before, two hours before) carry the
    // link too.
    stack.advance_to("2026-11-24T09:50:00-05:00");
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let reminders: Vec<_> = recorder
        .sent()
        .into_iter()
        .filter(|m| m.kind == Kind::Reminder)
        .collect();
    assert_eq!(reminders.len(), 2);
    assert!(
        reminders
            .iter()
            .all(|m| m.text.contains("/#/visit\n") && m.text.contains("online visit")),
        "{reminders:?}"
    );
    let (_, waiting) = stack.get(&jane, &room).await;
    assert_eq!(
        (waiting["open"].clone(), waiting["patient"].clone()),
        (json!(true), json!("empty"))
    );
    assert_eq!(
        waiting["signaling"],
        Value::Null,
        "not before she is admitted"
    );
    let (_, host) = stack.get(&rivera, &room).await;
    assert_eq!(host["role"], "host", "{host}");
    assert_eq!(
        host["signaling"],
        Value::Null,
        "not before her page has joined (audited, its certificate registered)"
    );
    let (status, none) = stack.post(&rivera, "a-0", &step("admit"), json!({})).await;
    assert_eq!(
        (status, none["code"].as_str()),
        (StatusCode::CONFLICT, Some("nobody_waiting")),
        "{none}"
    );

    // She waits; she cannot admit herself; the provider admits her.
    // Her page registers its certificate when she joins (a malformed one is refused); the
    // provider's page registers its own when it enters; each side is told the other's.
    let hers = format!("sha-256 {}", ["AB"; 32].join(":"));
    let theirs = format!("sha-256 {}", ["CD"; 32].join(":"));
    let sha1 = format!("sha-1 {}", ["AB"; 20].join(":"));
    for bad in ["sha-256 AB:CD", "md5 AB", "AB:CD", sha1.as_str()] {
        let (status, refused) = stack
            .post(&jane, "j-bad", &step("join"), json!({"certificate": bad}))
            .await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("invalid_certificate")
            ),
            "{bad}: {refused}"
        );
    }
    let (status, joined) = stack
        .post(&jane, "j-1", &step("join"), json!({"certificate": hers}))
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    assert_eq!(joined["patient"], "waiting", "{joined}");
    assert_eq!(joined["certificate"], hers.as_str(), "{joined}");
    assert_eq!(joined["signaling"], Value::Null, "{joined}");
    let (status, entered) = stack
        .post(
            &rivera,
            "h-1",
            &step("join"),
            json!({"certificate": theirs}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{entered}");
    assert_eq!(entered["peerCertificate"], hers.as_str(), "{entered}");
    assert_eq!(
        entered["signaling"],
        Value::Null,
        "a step's answer carries none"
    );
    let (_, headers, host) = stack.send("GET", &room, Some(&rivera), None, None).await;
    assert_eq!(
        headers.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "a signaling address is kept by no cache"
    );
    assert_eq!(host["signaling"]["role"], "master", "{host}");
    assert!(
        host["signaling"]["url"]
            .as_str()
            .unwrap()
            .starts_with("/local/signal?"),
        "{host}"
    );
    let (status, refused) = stack
        .post(
            &rivera,
            "a-x",
            &step("admit"),
            json!({"certificate": theirs}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "only joining names one: {refused}"
    );
    let (status, again) = stack
        .post(&jane, "j-1", &step("join"), json!({"certificate": hers}))
        .await;
    assert_eq!(
        (status, &again),
        (StatusCode::OK, &joined),
        "a retry replays"
    );
    let (status, body) = stack.post(&jane, "a-1", &step("admit"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (_, host) = stack.get(&rivera, &room).await;
    assert_eq!(host["patient"], "waiting");
    let (status, admitted) = stack.post(&rivera, "a-2", &step("admit"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{admitted}");
    assert_eq!(admitted["patient"], "admitted", "{admitted}");
    let (_, inside) = stack.get(&jane, &room).await;
    assert_eq!(inside["signaling"]["role"], "viewer", "{inside}");
    assert_eq!(inside["peerCertificate"], theirs.as_str(), "{inside}");
    assert_ne!(
        inside["signaling"]["url"], host["signaling"]["url"],
        "an address per participant"
    );
    // The provider's side is the provider herself (she has a login): staff do not enter.
    let (status, desk) = stack.get(&staff, &room).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{desk}");

    // 10:35: she leaves, and may come back while the room is open, without a new admission.
    stack.advance_to("2026-11-24T10:35:00-05:00");
    let (status, _) = stack.post(&jane, "l-1", &step("leave"), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, back) = stack.get(&jane, &room).await;
    assert_eq!(back["signaling"]["role"], "viewer", "{back}");

    // Her provider's calendar feed says the visit is online (and where: not the practice).
    let (status, feed) = stack
        .post(
            &rivera,
            "feed",
            "/v1/calendar-feeds",
            json!({"providerId": demo.providers[0]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let link = crate::feeds::path_of(feed["url"].as_str().unwrap());
    let (status, _, text) = crate::feeds::fetch(&stack, &link, None).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let unfolded = text.replace("\r\n ", "");
    assert!(
        unfolded.contains("SUMMARY:Appointment: Follow-up session (online)"),
        "{unfolded}"
    );
    assert!(
        unfolded.contains("LOCATION:Online (video visit\\, from the practice's console)"),
        "{unfolded}"
    );

    // 11:01, past the end and its half hour: shut again.
    stack.advance_to("2026-11-24T11:01:00-05:00");
    let (_, closed) = stack.get(&jane, &room).await;
    assert_eq!(
        (closed["open"].clone(), closed["signaling"].clone()),
        (json!(false), Value::Null)
    );
    let (status, late) = stack.post(&jane, "j-2", &step("join"), json!({})).await;
    assert_eq!(
        (status, late["code"].as_str()),
        (StatusCode::CONFLICT, Some("visit_not_open")),
        "{late}"
    );

    // An in-person visit has no room.
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2026-11-25T10:00:00-05:00"});
    let (_, in_person) = stack.post(&jane, "b-2", "/v1/appointments", body).await;
    assert_eq!(in_person["online"], Value::Null, "{in_person}");
    let path = format!(
        "/v1/appointments/{}/visit",
        in_person["id"].as_str().unwrap()
    );
    let (status, body) = stack.get(&jane, &path).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_online")),
        "{body}"
    );
    // Its confirmation says nothing of joining, and its link is the portal's.
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let plain = recorder.sent().pop().expect("its confirmation");
    assert_eq!(plain.kind, Kind::Confirmation);
    assert!(
        !plain.text.contains("online") && !plain.text.contains("#/visit"),
        "{}",
        plain.text
    );

    // The practice sets the room's window: an hour before, ten minutes after (a setting out of
    // range is refused).
    let admin = stack.token("admin-1", &[Role::Admin]);
    let settings = |room: Value| json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York", "visitRoom": room});
    let put = |key: &'static str, body: Value| {
        let stack = &stack;
        let admin = admin.clone();
        async move {
            let (status, _, body) = stack
                .send("PUT", "/v1/practice", Some(&admin), Some(key), Some(body))
                .await;
            (status, body)
        }
    };
    let (status, refused) = put("p-0", settings(json!({"opensMinutesBefore": 61}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, set) = put(
        "p-1",
        settings(json!({"opensMinutesBefore": 60, "closesMinutesAfter": 10})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(
        set["visitRoom"],
        json!({"opensMinutesBefore": 60, "closesMinutesAfter": 10})
    );
    let (_, shut) = stack.get(&jane, &room).await;
    assert_eq!(
        (shut["opensAt"].clone(), shut["closesAt"].clone()),
        (json!("2026-11-24T14:00:00Z"), json!("2026-11-24T15:40:00Z")),
        "{shut}"
    );

    // The day's report: one online visit held, connected 45 minutes (09:50 to 10:35); one
    // missed (she never joined its waiting room).
    let (status, report) = stack
        .get(&admin, "/v1/live-report?from=2026-11-24&to=2026-11-24")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let figures = crate::reports::summary(&report);
    for (figure, value) in [
        ("online visits held", json!(1)),
        ("online visits the patient missed", json!(1)),
        ("median time connected online", json!("45 min")),
    ] {
        let found = figures.iter().find(|(f, _, _)| f == figure);
        assert_eq!(
            found.map(|(_, now, _)| now),
            Some(&value),
            "{figure}: {figures:?}"
        );
    }

    if let Some(items) = stack.scan_if_embedded().await {
        assert_eq!(
            audits(&items, "visit.join")
                .iter()
                .filter(|i| !is_denial(i))
                .count(),
            2
        );
        assert_eq!(
            audits(&items, "visit.admit")
                .iter()
                .filter(|i| !is_denial(i))
                .count(),
            1
        );
        assert_eq!(audits(&items, "visit.leave").len(), 1);
        // Refusals are in the log, naming her (her access log shows them).
        let denied = items.iter().filter(|i| {
            is_denial(i)
                && i.get("action")
                    .and_then(shared::store::AttrValue::as_s)
                    .is_some_and(|a| a.starts_with("visit."))
        });
        assert!(denied.count() >= 4);
    }
}

#[tokio::test]
async fn an_online_visit_room_on_the_embedded_store() {
    journey(Some(Stack::embedded())).await;
}

#[tokio::test]
async fn an_online_visit_room_on_dynamodb_local() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// Channels as the deployed signaling keeps them (one per visit that was entered): the sweep's
/// step removes those of rooms that are not open, and keeps an open one's.
#[derive(Default)]
struct Channels {
    kept: std::sync::Mutex<Vec<domain::ids::AppointmentId>>,
}

#[async_trait::async_trait]
impl shared::signaling::Signaling for Channels {
    async fn access(
        &self,
        _: &domain::ids::AppointmentId,
        _: shared::signaling::SignalRole,
        _: &str,
        _: i64,
        _: i64,
    ) -> Result<shared::signaling::SignalAccess, shared::signaling::SignalingError> {
        unreachable!("the sweep gives out no address")
    }
    async fn channels(
        &self,
    ) -> Result<Vec<domain::ids::AppointmentId>, shared::signaling::SignalingError> {
        Ok(self.kept.lock().unwrap().clone())
    }
    async fn remove(
        &self,
        visit: &domain::ids::AppointmentId,
    ) -> Result<(), shared::signaling::SignalingError> {
        self.kept.lock().unwrap().retain(|v| v != visit);
        Ok(())
    }
}

#[tokio::test]
async fn the_sweep_removes_the_channels_of_rooms_that_closed() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2026-11-24T10:00:00-05:00", "online": true});
    let (status, appt) = stack.post(&jane, "b", "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    let visit = domain::ids::AppointmentId::parse(appt["id"].as_str().unwrap()).unwrap();
    let gone = domain::ids::AppointmentId::new();
    let channels = std::sync::Arc::new(Channels::default());
    *channels.kept.lock().unwrap() = vec![visit.clone(), gone];
    let state = stack.state.clone().with_signaling(channels.clone());
    // In its room's time, its channel stays; a channel whose visit does not exist goes.
    stack.advance_to("2026-11-24T10:10:00-05:00");
    assert_eq!(
        shared::booking::visits::close_rooms(&state).await.unwrap(),
        1
    );
    assert_eq!(*channels.kept.lock().unwrap(), vec![visit.clone()]);
    // Once the room has closed (30 minutes after the end), it goes too.
    stack.advance_to("2026-11-24T10:59:59-05:00");
    assert_eq!(
        shared::booking::visits::close_rooms(&state).await.unwrap(),
        0
    );
    stack.advance_to("2026-11-24T11:00:00-05:00");
    assert_eq!(
        shared::booking::visits::close_rooms(&state).await.unwrap(),
        1
    );
    assert!(channels.kept.lock().unwrap().is_empty());
}
