//! Busy time from a provider's other calendars, through the router and the sweep: an address is
//! added (checked, sealed, never shown again), the sweep fetches it through the `CalendarSource`
//! port and its busy blocks take the provider's lock units, so availability leaves them out and a
//! booking over them is refused. A weekly event across the March DST change blocks the same wall
//! time on each of its 16 Tuesdays; an excluded date, a moved instance and an all-day event land
//! where they should; a calendar that fails keeps its last good blocks and shows why; time an
//! appointment held is taken once the appointment goes; a removal gives the time back at once;
//! racing adds stop at the limit. On the embedded store and DynamoDB Local.

use http::StatusCode;
use practica_cli::demo::{DEMO_PATIENT, Demo};
use practica_tests::{Calendars, Stack, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::booking::busy::port::FetchError;

const WEEKLY: &str = "https://calendar.example/rivera/personal.ics";
const CLINIC: &str = "https://rota.example/hospital.ics";

/// Sixteen Tuesdays at 10:00 New York time from 5 January 2027 (EST) to 20 April (EDT).
const WEEKLY_ICS: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//Test//Personal//EN\r
BEGIN:VTIMEZONE\r
TZID:America/New_York\r
END:VTIMEZONE\r
BEGIN:VEVENT\r
UID:school-run@personal\r
DTSTAMP:20261101T000000Z\r
DTSTART;TZID=America/New_York:20270105T100000\r
DTEND;TZID=America/New_York:20270105T110000\r
RRULE:FREQ=WEEKLY;COUNT=16\r
SUMMARY:School run\r
END:VEVENT\r
END:VCALENDAR\r
";

/// Thursdays 14:00-15:00 for six weeks from 7 January, without 21 January, and 4 February's moved
/// to Friday 5 February at 09:00; a day off on Friday 15 January.
const CLINIC_ICS: &str = "BEGIN:VCALENDAR\r
VERSION:2.0\r
BEGIN:VEVENT\r
UID:clinic@rota\r
DTSTART;TZID=America/New_York:20270107T140000\r
DTEND;TZID=America/New_York:20270107T150000\r
RRULE:FREQ=WEEKLY;BYDAY=TH;COUNT=6\r
EXDATE;TZID=America/New_York:20270121T140000\r
SUMMARY:Clinic\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:clinic@rota\r
RECURRENCE-ID;TZID=America/New_York:20270204T140000\r
DTSTART;TZID=America/New_York:20270205T090000\r
DTEND;TZID=America/New_York:20270205T100000\r
SUMMARY:Clinic (moved)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:day-off@rota\r
DTSTART;VALUE=DATE:20270115\r
DTEND;VALUE=DATE:20270116\r
SUMMARY:Day off\r
END:VEVENT\r
END:VCALENDAR\r
";

/// The starts a 30-minute follow-up can be booked at on one day (New York), as `HH:MM`.
async fn free_on(stack: &Stack, demo: &Demo, day: &str) -> Vec<String> {
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let offset = if day < "2027-03-14" {
        "-05:00"
    } else {
        "-04:00"
    };
    let path = format!(
        "/v1/providers/{}/availability?serviceId={}&from={day}T00:00:00{offset}&to={day}T23:59:00{offset}",
        demo.providers[0], demo.services[1]
    );
    let (status, body) = stack.get(&jane, &path).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["slots"]
        .as_array()
        .expect("slots")
        .iter()
        .map(|s| s.as_str().expect("text")[11..16].to_owned())
        .collect()
}

fn follow_up(demo: &Demo, start: &str) -> Value {
    json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": start})
}

async fn sweep(stack: &Stack, calendars: &Calendars) -> shared::booking::sweep::Swept {
    shared::booking::sweep::sweep(&stack.state, calendars, "run-test")
        .await
        .expect("sweep")
}

fn calendars_path(demo: &Demo) -> String {
    format!("/v1/providers/{}/calendars", demo.providers[0])
}

async fn listed(stack: &Stack, token: &str, demo: &Demo) -> Vec<Value> {
    let (status, body) = stack.get(token, &calendars_path(demo)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let text = body.to_string();
    assert!(
        !text.contains("rivera/personal") && !text.contains("hospital.ics"),
        "an address is never shown: {text}"
    );
    body["calendars"].as_array().expect("calendars").clone()
}

/// The sixteen Tuesdays of [`WEEKLY_ICS`].
fn tuesdays() -> Vec<String> {
    let first = jiff::civil::date(2027, 1, 5);
    (0..16)
        .map(|w| {
            first
                .checked_add(jiff::Span::new().weeks(w))
                .unwrap()
                .to_string()
        })
        .collect()
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let calendars = Calendars::default();
    calendars.answer(WEEKLY, Ok(WEEKLY_ICS));
    calendars.answer(CLINIC, Ok(CLINIC_ICS));
    let before = free_on(&stack, &demo, "2027-01-05").await;
    assert!(before.contains(&"10:00".to_owned()), "{before:?}");

    // Rivera adds her personal calendar; staff add her hospital rota for her.
    let (status, added) = stack
        .post(
            &rivera,
            "cal-1",
            &calendars_path(&demo),
            json!({"label": "Personal", "address": WEEKLY}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["host"], "calendar.example");
    assert!(added["lastFetchedAt"].is_null());
    let weekly_id = added["id"].as_str().expect("id").to_owned();
    let (status, again) = stack
        .post(
            &rivera,
            "cal-1",
            &calendars_path(&demo),
            json!({"label": "Personal", "address": WEEKLY}),
        )
        .await;
    assert_eq!(
        (status, &again),
        (StatusCode::CREATED, &added),
        "a retry answers the same"
    );
    let (status, clinic) = stack
        .post(
            &staff,
            "cal-2",
            &calendars_path(&demo),
            json!({"label": "Hospital rota", "address": CLINIC}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{clinic}");
    assert_eq!(listed(&stack, &rivera, &demo).await.len(), 2);
    // Nothing blocks until the sweep has read them.
    assert!(
        free_on(&stack, &demo, "2027-01-05")
            .await
            .contains(&"10:00".to_owned())
    );

    // Jane books Thursday 28 January at 14:00, before the sweep reads the rota.
    let (status, booked) = stack
        .post(
            &jane,
            "jane-1",
            "/v1/appointments",
            follow_up(&demo, "2027-01-28T14:00:00-05:00"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{booked}");

    let swept = sweep(&stack, &calendars).await;
    assert_eq!(
        (swept.calendars_fetched, swept.calendars_failed),
        (2, 0),
        "{swept:?}"
    );
    let mut fetched = calendars.fetched();
    fetched.sort();
    assert_eq!(fetched, [WEEKLY, CLINIC], "each calendar once");

    // The weekly event blocks 10:00 on each of its sixteen Tuesdays, on both sides of 14 March,
    // and the starts whose visit (with its 10-minute buffer) would run into it; 11:00 stays free.
    for day in tuesdays() {
        let free = free_on(&stack, &demo, &day).await;
        for blocked in ["09:30", "09:45", "10:00", "10:15", "10:30", "10:45"] {
            assert!(
                !free.contains(&blocked.to_owned()),
                "{day} {blocked}: {free:?}"
            );
        }
        for open in ["09:00", "09:15", "11:00", "13:00"] {
            assert!(free.contains(&open.to_owned()), "{day} {open}: {free:?}");
        }
    }
    // The seventeenth Tuesday, and the Wednesdays, are untouched.
    assert!(
        free_on(&stack, &demo, "2027-04-27")
            .await
            .contains(&"10:00".to_owned())
    );
    assert!(
        free_on(&stack, &demo, "2027-03-17")
            .await
            .contains(&"10:00".to_owned())
    );
    // A booking over it is refused like one over another appointment.
    let (status, refused) = stack
        .post(
            &jane,
            "jane-2",
            "/v1/appointments",
            follow_up(&demo, "2027-03-16T10:00:00-04:00"),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "slot_taken", "{refused}");
    assert!(!refused.to_string().contains("School run"), "{refused}");

    // The rota: Thursdays at 14:00, not 21 January (excluded), not 4 February (moved to Friday
    // 5 February at 09:00); all of Friday 15 January.
    let thursday = |free: &[String]| !free.contains(&"14:00".to_owned());
    assert!(thursday(&free_on(&stack, &demo, "2027-01-07").await));
    assert!(thursday(&free_on(&stack, &demo, "2027-01-14").await));
    assert!(!thursday(&free_on(&stack, &demo, "2027-01-21").await));
    assert!(!thursday(&free_on(&stack, &demo, "2027-02-04").await));
    assert!(thursday(&free_on(&stack, &demo, "2027-02-11").await));
    let moved_to = free_on(&stack, &demo, "2027-02-05").await;
    assert!(!moved_to.contains(&"09:00".to_owned()) && moved_to.contains(&"10:00".to_owned()));
    assert_eq!(
        free_on(&stack, &demo, "2027-01-15").await,
        Vec::<String>::new()
    );
    // Jane's appointment keeps its time; the rota takes it once she cancels (next fetch).
    let appointment = booked["id"].as_str().expect("id");
    let (status, _) = stack
        .post(
            &jane,
            "jane-1c",
            &format!("/v1/appointments/{appointment}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !thursday(&free_on(&stack, &demo, "2027-01-28").await),
        "freed by the cancel"
    );
    stack.clock.advance(jiff::SignedDuration::from_mins(10));
    assert_eq!(
        sweep(&stack, &calendars).await.calendars_fetched,
        0,
        "not due yet"
    );
    stack.clock.advance(jiff::SignedDuration::from_mins(5));

    // The personal calendar's server fails, then answers something that is not a calendar: the
    // last good blocks stay, and the console shows why.
    calendars.answer(WEEKLY, Err(FetchError::Status(500)));
    let swept = sweep(&stack, &calendars).await;
    assert_eq!(
        (swept.calendars_fetched, swept.calendars_failed),
        (1, 1),
        "{swept:?}"
    );
    assert!(
        thursday(&free_on(&stack, &demo, "2027-01-28").await),
        "taken after the cancel"
    );
    assert!(
        !free_on(&stack, &demo, "2027-02-02")
            .await
            .contains(&"10:00".to_owned())
    );
    let list = listed(&stack, &rivera, &demo).await;
    let personal = list
        .iter()
        .find(|c| c["id"] == weekly_id.as_str())
        .expect("listed");
    assert_eq!(personal["error"], "The calendar's server answered 500.");
    assert_eq!(personal["busyBlocks"], 16);
    assert!(
        personal["lastFetchedAt"].as_str().unwrap() < personal["lastTriedAt"].as_str().unwrap()
    );
    stack.clock.advance(jiff::SignedDuration::from_mins(15));
    calendars.answer(WEEKLY, Ok("<html>Sign in</html>"));
    sweep(&stack, &calendars).await;
    let list = listed(&stack, &rivera, &demo).await;
    let personal = list
        .iter()
        .find(|c| c["id"] == weekly_id.as_str())
        .expect("listed");
    assert_eq!(
        personal["error"],
        "The answer is not an iCalendar file (no BEGIN:VCALENDAR)."
    );
    assert!(
        !free_on(&stack, &demo, "2027-02-02")
            .await
            .contains(&"10:00".to_owned())
    );

    // Removing it gives its time back at once; the rota stays.
    let (status, removed) = stack
        .post(
            &rivera,
            "cal-1r",
            &format!("{}/{weekly_id}/remove", calendars_path(&demo)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    assert!(
        free_on(&stack, &demo, "2027-02-02")
            .await
            .contains(&"10:00".to_owned())
    );
    assert!(thursday(&free_on(&stack, &demo, "2027-02-11").await));
    assert_eq!(listed(&stack, &rivera, &demo).await.len(), 1);
    // A sweep that read the calendars before the removal may take its time again meanwhile: the
    // removal leaves the provider marked until a later sweep has reconciled, which gives it back.
    let tuesday = jiff::civil::date(2027, 2, 2)
        .at(10, 0, 0, 0)
        .to_zoned(jiff::tz::TimeZone::get("America/New_York").unwrap())
        .unwrap()
        .timestamp()
        .as_second();
    let stale =
        shared::store::Item::new(shared::store::keys::lock_key(&demo.providers[0], tuesday))
            .with("owner", shared::store::keys::BUSY_OWNER)
            .with(shared::store::TTL_ATTR, tuesday + 300);
    stack.state.table.put(stale, None).await.unwrap();
    assert!(
        !free_on(&stack, &demo, "2027-02-02")
            .await
            .contains(&"10:00".to_owned())
    );
    let swept = sweep(&stack, &calendars).await;
    assert_eq!(swept.busy_units_released, 1, "{swept:?}");
    assert!(
        free_on(&stack, &demo, "2027-02-02")
            .await
            .contains(&"10:00".to_owned())
    );
    let (status, _) = stack
        .post(
            &rivera,
            "cal-1r2",
            &format!("{}/{weekly_id}/remove", calendars_path(&demo)),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The add and the removal are in the audit log, naming the provider, not the address.
    let admin = stack.token("admin-1", &[Role::Admin]);
    for action in ["busy_calendar.add", "busy_calendar.remove"] {
        let (status, audit) = stack
            .get(
                &admin,
                &format!(
                    "/v1/audit?action={action}&from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z"
                ),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        let text = audit.to_string();
        assert!(text.contains(action), "{text}");
        assert!(!text.contains("calendar.example"), "{text}");
    }
}

#[tokio::test]
async fn embedded_other_calendars_block_their_busy_time() {
    journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_other_calendars_block_their_busy_time() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}

#[tokio::test]
async fn addresses_are_checked_sealed_and_only_their_provider_or_staff_manage_them() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let okafor = stack.token("provider-okafor", &[Role::Provider]);
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let path = calendars_path(&demo);
    let address = |a: &str| json!({"label": "x", "address": a});
    for (n, (body, code)) in [
        (address("http://calendar.example/a.ics"), "calendar_address"),
        (address("ftp://calendar.example/a.ics"), "calendar_address"),
        (
            address("https://calendar.example:8443/a.ics"),
            "calendar_address",
        ),
        (
            address("https://127.0.0.1/a.ics"),
            "calendar_address_private",
        ),
        (
            address("https://169.254.169.254/latest/"),
            "calendar_address_private",
        ),
        (address("https://[::1]/a.ics"), "calendar_address_private"),
        (
            address("https://localhost/a.ics"),
            "calendar_address_private",
        ),
        (
            address("webcal://nas.local/a.ics"),
            "calendar_address_private",
        ),
        (json!({"label": "", "address": WEEKLY}), "invalid_label"),
        (
            json!({"label": "a\u{7}b", "address": WEEKLY}),
            "invalid_label",
        ),
        (
            json!({"label": "x", "address": WEEKLY, "extra": 1}),
            "invalid_body",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, refused) = stack.post(&rivera, &format!("bad-{n}"), &path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["code"], code, "{refused}");
        assert!(!refused.to_string().contains("169.254"), "{refused}");
    }
    for token in [&okafor, &jane] {
        let body = json!({"label": "x", "address": WEEKLY});
        let (status, _) = stack.post(token, "other", &path, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = stack.get(token, &path).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // Apple's webcal:// links are the same address over https.
    let webcal = WEEKLY.replace("https://", "webcal://");
    let (status, added) = stack
        .post(
            &rivera,
            "ok",
            &path,
            json!({"label": "Personal", "address": webcal}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["host"], "calendar.example");
    let id = added["id"].as_str().expect("id");
    let (status, _) = stack
        .post(&okafor, "rm", &format!("{path}/{id}/remove"), json!({}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The address is sealed on the table: no item holds it, or its host, in plain text.
    let items = stack.scan().await;
    let dump = format!("{items:?}");
    assert!(!dump.contains("rivera/personal"), "the address is sealed");
    let stored = items
        .iter()
        .find(|i| i.key.sk == format!("CAL#{id}"))
        .expect("stored");
    assert!(matches!(
        stored.get("address"),
        Some(shared::store::AttrValue::B(_))
    ));
}

async fn racing_adds(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let path = calendars_path(&demo);
    let adds = (0..8).map(|n| {
        let (stack, rivera, path) = (&stack, &rivera, &path);
        async move {
            let body = json!({"label": format!("Calendar {n}"), "address": format!("https://calendar.example/{n}.ics")});
            stack.post(rivera, &format!("race-{n}"), path, body).await
        }
    });
    let results = futures_util::future::join_all(adds).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s != StatusCode::CREATED)
        .map(|(s, b)| (*s, b["code"].clone()))
        .collect();
    assert_eq!(created, 5, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|(s, c)| *s == StatusCode::CONFLICT
                && (c == "too_many_calendars" || c == "conflict")),
        "{refused:?}"
    );
    assert_eq!(listed(&stack, &rivera, &demo).await.len(), 5);
}

#[tokio::test]
async fn embedded_racing_adds_stop_at_five() {
    racing_adds(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_racing_adds_stop_at_five() {
    racing_adds(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// The production reader on an address whose name does not resolve: the sweep records that the
/// server could not be reached, and overlapping sweeps fetch it once.
#[tokio::test]
async fn the_real_reader_records_an_unreachable_calendar_and_overlapping_sweeps_fetch_once() {
    let stack = Stack::embedded();
    let demo = stack.seed().await;
    let rivera = stack.token("provider-rivera", &[Role::Provider]);
    let (status, _) = stack
        .post(
            &rivera,
            "c",
            &calendars_path(&demo),
            json!({"label": "Gone", "address": "https://calendar.invalid/x.ics"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let reader = practica_tests::public_calendars();
    let (a, b) = tokio::join!(
        shared::booking::sweep::sweep(&stack.state, &reader, "run-a"),
        shared::booking::sweep::sweep(&stack.state, &reader, "run-b"),
    );
    let (a, b) = (a.expect("a"), b.expect("b"));
    assert_eq!(a.calendars_failed + b.calendars_failed, 1, "{a:?} {b:?}");
    let list = listed(&stack, &rivera, &demo).await;
    let error = list[0]["error"].as_str().expect("an error");
    assert!(
        error == "The calendar's server could not be reached."
            || error
                == "The address points into a private network, this machine or a link-local range.",
        "{error}"
    );
}
