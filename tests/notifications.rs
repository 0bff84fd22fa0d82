//! Notifications end to end through the API and the delivery job: the outbox messages a booking,
//! a move and a cancellation write in their own transactions, delivered once at their time with
//! minimum-necessary content; reminders withdrawn when the appointment changes; consent, quiet
//! hours, the daily limit, provider outages, bounces, a redelivered batch, a lapsed claim and a
//! reminder whose time passed during an outage; the preferences API.

use std::sync::Arc;

use domain::notify::{Channel, Kind, MAX_ATTEMPTS, Message, SMS_FOOTER, SMS_MAX, State};
use http::StatusCode;
use practica_tests::{Mode, Recorder, Stack, TEST_NOW, audits, delivery, waiting_messages};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::notify::deliver::Outcome;
use shared::notify::{Envelope, deliver_due, deliver_one};
use shared::store::codec::notify::MessageCodec;
use shared::store::keys::outbox_key;
use shared::store::{AttrValue, Consistency, Update, attr};

/// Tue 24 Nov 2026 10:00 in New York; the stack's clock starts Mon 23 Nov 08:00 there.
const VISIT: &str = "2026-11-24T10:00:00-05:00";
const VISIT_AT: i64 = TEST_NOW + 26 * 3600;

async fn book(stack: &Stack, token: &str, key: &str, start: &str) -> Value {
    let demo = stack.seed().await;
    let body = json!({
        "providerId": demo.providers[0],
        "serviceId": demo.services[1],
        "start": start,
        "reason": "Follow-up about my panic attacks",
    });
    let (status, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(token),
            Some(key),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    a
}

/// The demo practice, Jane's token, and delivery through a recording provider.
async fn start() -> (Stack, String, Arc<Recorder>, shared::notify::Delivery) {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let recorder = Recorder::new();
    let delivery = delivery(&recorder);
    (stack, jane, recorder, delivery)
}

/// The patient's preferences PUT; the reply.
async fn choose(stack: &Stack, token: &str, email: bool, sms: bool) -> Value {
    let (status, _, prefs) = stack
        .send(
            "PUT",
            "/v1/patients/me/notifications",
            Some(token),
            None,
            Some(json!({"email": email, "sms": sms})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{prefs}");
    prefs
}

fn set_clock(stack: &Stack, t: i64) {
    use domain::clock::Clock;
    let now = stack.clock.now().as_second();
    stack
        .clock
        .advance(jiff::SignedDuration::from_secs(t - now));
}

async fn message(stack: &Stack, id: &domain::ids::OutboxId) -> Message {
    let item = stack
        .state
        .table
        .get(&outbox_key(id), Consistency::Strong)
        .await
        .unwrap()
        .expect("the message");
    Message::from_item(&item).unwrap()
}

fn outcomes(done: &[(domain::ids::OutboxId, Outcome)]) -> Vec<Outcome> {
    done.iter().map(|(_, o)| o.clone()).collect()
}

#[tokio::test]
async fn a_booking_is_confirmed_and_reminded_once_each_with_minimum_necessary_content() {
    let (stack, jane, recorder, delivery) = start().await;
    let appt = book(&stack, &jane, "b1", VISIT).await;

    // The booking's transaction wrote the confirmation (due now) and two reminders.
    let waiting = waiting_messages(&stack.state).await;
    let kinds: Vec<(Kind, i64)> = waiting.iter().map(|m| (m.kind, m.due_at)).collect();
    assert_eq!(
        kinds,
        vec![
            (Kind::Confirmation, TEST_NOW),
            (Kind::Reminder, VISIT_AT - 24 * 3600),
            (Kind::Reminder, VISIT_AT - 2 * 3600),
        ]
    );
    // A replay of the booking writes no second set.
    let again = book(&stack, &jane, "b1", VISIT).await;
    assert_eq!(again["id"], appt["id"]);
    assert_eq!(waiting_messages(&stack.state).await.len(), 3);

    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Sent(vec![Channel::Email])]);
    let sent = recorder.sent();
    let email = &sent[0];
    assert_eq!(email.to.expose(), "jane.demo@example.org");
    assert_eq!(email.kind, Kind::Confirmation);
    let all = format!(
        "{}\n{}\n{}",
        email.subject.as_deref().unwrap(),
        email.text,
        email.html.as_deref().unwrap()
    );
    assert!(all.contains("\u{2068}Jane\u{2069}"), "{all}");
    assert!(all.contains("Riverside Family Therapy"));
    assert!(all.contains("Tue 24 Nov 2026, 10:00 EST"), "{all}");
    assert!(all.contains("never ask for your card number or password"));
    // Nothing beyond the minimum: not the reason, the surname, the service, the provider, ids.
    for secret in [
        "panic",
        "Demo-Patient",
        appt["id"].as_str().unwrap(),
        appt["serviceId"].as_str().unwrap(),
        appt["providerId"].as_str().unwrap(),
        "Rivera",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    // Run again, and deliver that message again (a redelivered stream record): nothing more.
    assert!(
        deliver_due(&stack.state, &delivery, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        deliver_one(&stack.state, &delivery, &done[0].0)
            .await
            .unwrap(),
        Outcome::AlreadyDone
    );
    assert_eq!(recorder.sent().len(), 1);

    // The reminders at their times, each once.
    set_clock(&stack, VISIT_AT - 24 * 3600);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Sent(vec![Channel::Email])]);
    set_clock(&stack, VISIT_AT - 2 * 3600 + 30);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Sent(vec![Channel::Email])]);
    let kinds: Vec<Kind> = recorder.sent().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![Kind::Confirmation, Kind::Reminder, Kind::Reminder]
    );
    assert!(waiting_messages(&stack.state).await.is_empty());

    // One audit entry per message sent, naming the patient, without content.
    let items = stack.scan().await;
    let entries = audits(&items, "notification.send");
    assert_eq!(entries.len(), 3);
    let dump = format!("{entries:?}");
    assert!(dump.contains("patient-jane"));
    assert!(!dump.contains("Jane") && !dump.contains("10:00") && !dump.contains("Riverside"));
}

#[tokio::test]
async fn cancelling_or_moving_withdraws_the_reminders_and_sends_a_notice() {
    let (stack, jane, recorder, delivery) = start().await;
    let first = book(&stack, &jane, "b1", VISIT).await;
    let second = book(&stack, &jane, "b2", "2026-11-25T10:00:00-05:00").await;
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(recorder.sent().len(), 2);

    let id = first["id"].as_str().unwrap();
    let (status, _, body) = stack
        .send(
            "POST",
            &format!("/v1/appointments/{id}/cancel"),
            Some(&jane),
            Some("c1"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = second["id"].as_str().unwrap();
    let (status, _, body) = stack
        .send(
            "POST",
            &format!("/v1/appointments/{id}/reschedule"),
            Some(&jane),
            Some("r1"),
            Some(json!({"start": "2026-11-25T14:00:00.000-05:00"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(done.len(), 2);
    // Sent side by side: in either order.
    let mut notices = recorder.sent()[2..].to_vec();
    notices.sort_by_key(|e| e.kind);
    let kinds: Vec<Kind> = notices.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![Kind::Rescheduled, Kind::Cancelled]);
    assert!(notices[0].text.contains("Wed 25 Nov 2026, 14:00 EST"));

    // Through both appointments' old and new reminder times: only the moved one's new reminders.
    let mut withdrawn = 0;
    for t in (TEST_NOW..TEST_NOW + 3 * 86_400).step_by(1800) {
        set_clock(&stack, t);
        for (_, outcome) in deliver_due(&stack.state, &delivery, 100).await.unwrap() {
            match outcome {
                Outcome::Withdrawn("appointment_changed") => withdrawn += 1,
                Outcome::Sent(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(withdrawn, 4, "both reminders of each first version");
    let reminders: Vec<Envelope> = recorder
        .sent()
        .into_iter()
        .filter(|e| e.kind == Kind::Reminder)
        .collect();
    assert_eq!(reminders.len(), 2);
    assert!(reminders.iter().all(|e| e.text.contains("14:00 EST")));
}

#[tokio::test]
async fn without_consent_nothing_is_sent_and_sms_needs_its_own() {
    let (stack, jane, recorder, delivery) = start().await;
    // Jane turns email off.
    let prefs = choose(&stack, &jane, false, false).await;
    assert_eq!(prefs["channels"], json!([]));
    book(&stack, &jane, "b1", VISIT).await;
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Skipped("no_consent")]);
    assert!(recorder.sent().is_empty());

    // SMS only, by her consent: sent as one short text; in the quiet hours it waits for morning.
    let prefs = choose(&stack, &jane, false, true).await;
    assert_eq!(prefs["channels"], json!(["sms"]));
    assert!(prefs["smsConsentAt"].is_string());
    // 22:00 in New York on Monday: quiet until 08:00.
    let late = TEST_NOW + 14 * 3600;
    set_clock(&stack, late);
    book(&stack, &jane, "b2", "2026-11-26T10:00:00-05:00").await;
    // The new confirmation and the first visit's 24-hour reminder (due at 10:00) wait.
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(
        outcomes(&done),
        vec![Outcome::Deferred(TEST_NOW + 24 * 3600); 2]
    );
    assert!(recorder.sent().is_empty());
    set_clock(&stack, TEST_NOW + 24 * 3600);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert!(!done.is_empty());
    assert!(
        outcomes(&done)
            .iter()
            .all(|o| *o == Outcome::Sent(vec![Channel::Sms])),
        "{done:?}"
    );
    let sms = &recorder.sent()[0];
    assert_eq!(sms.to.expose(), "+1 555 0100 123");
    assert!(sms.text.chars().count() <= SMS_MAX && sms.text.ends_with(SMS_FOOTER));
    assert!(sms.subject.is_none() && sms.html.is_none());

    // STOP (the provider reports the number opted out): recorded, and SMS stops.
    recorder.set(Mode::OptOut);
    set_clock(&stack, VISIT_AT - 2 * 3600 + 24 * 3600 * 2);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert!(
        outcomes(&done).contains(&Outcome::Failed("opted_out")),
        "{done:?}"
    );
    let prefs = stack.preferences(&jane).await;
    assert_eq!(prefs["smsStopped"], true);
    assert_eq!(prefs["channels"], json!([]));
}

#[tokio::test]
async fn an_outage_is_retried_with_backoff_then_given_up_and_audited() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let recorder = Recorder::new();
    recorder.set(Mode::Unavailable);
    let delivery = delivery(&recorder);
    book(&stack, &jane, "b1", VISIT).await;
    let mut now = TEST_NOW;
    let mut waits = Vec::new();
    for _ in 1..MAX_ATTEMPTS {
        let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
        let [(_, Outcome::Deferred(until))] = done.as_slice() else {
            panic!("{done:?}")
        };
        waits.push(until - now);
        // Not due before its time.
        assert!(
            deliver_due(&stack.state, &delivery, 100)
                .await
                .unwrap()
                .is_empty()
        );
        now = *until;
        set_clock(&stack, now);
    }
    assert_eq!(waits, vec![120, 240, 480, 960]);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(
        outcomes(&done),
        vec![Outcome::Failed("provider_unavailable")]
    );
    let items = stack.scan().await;
    assert_eq!(audits(&items, "notification.fail").len(), 1);
    assert!(audits(&items, "notification.send").is_empty());
    // The day's allowance was given back by every failed attempt.
    let count = items
        .iter()
        .find(|i| i.key.sk.starts_with("NOTIFYCOUNT#"))
        .and_then(|i| i.get(attr::COUNT).and_then(AttrValue::as_n));
    assert_eq!(count, Some(0));
}

#[tokio::test]
async fn a_bounced_address_is_recorded_and_not_written_to_again() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let recorder = Recorder::new();
    recorder.set(Mode::Bounce);
    let delivery = delivery(&recorder);
    book(&stack, &jane, "b1", VISIT).await;
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Failed("bounced")]);
    recorder.set(Mode::Accept);
    set_clock(&stack, VISIT_AT - 24 * 3600);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(outcomes(&done), vec![Outcome::Skipped("no_consent")]);
    assert!(recorder.sent().is_empty());
    // Turning email on again says the address works.
    let prefs = choose(&stack, &jane, true, false).await;
    assert_eq!(prefs["emailBounced"], false, "{prefs}");
    assert_eq!(prefs["channels"], json!(["email"]));
}

#[tokio::test]
async fn the_same_message_delivered_twice_at_once_is_sent_once() {
    let stack = Stack::embedded();
    stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let recorder = Recorder::slow(50);
    let delivery = delivery(&recorder);
    book(&stack, &jane, "b1", VISIT).await;
    let id = waiting_messages(&stack.state).await[0].id.clone();
    // The same stream batch twice, concurrently, plus a scheduled run.
    let (a, b, c) = tokio::join!(
        deliver_one(&stack.state, &delivery, &id),
        deliver_one(&stack.state, &delivery, &id),
        deliver_due(&stack.state, &delivery, 1),
    );
    let mut all = vec![a.unwrap(), b.unwrap()];
    all.extend(outcomes(&c.unwrap()));
    assert_eq!(
        all.iter().filter(|o| matches!(o, Outcome::Sent(_))).count(),
        1,
        "{all:?}"
    );
    assert_eq!(recorder.sent().len(), 1);
    assert_eq!(message(&stack, &id).await.state, State::Sent);
}

#[tokio::test]
async fn a_claim_left_by_a_crash_is_taken_again_and_a_cancellation_since_withdraws_it() {
    let (stack, jane, recorder, delivery) = start().await;
    let appt = book(&stack, &jane, "b1", VISIT).await;
    let confirmation = waiting_messages(&stack.state).await[0].id.clone();
    // A sender claimed it and died before sending.
    stack
        .state
        .table
        .update(
            &outbox_key(&confirmation),
            Update::default()
                .set(attr::STATUS, "sending")
                .set(attr::CLAIM, "dead-sender")
                .set(attr::CLAIMED_AT, TEST_NOW),
            None,
        )
        .await
        .unwrap();
    // Within the claim's lease nobody takes it.
    assert_eq!(
        deliver_one(&stack.state, &delivery, &confirmation)
            .await
            .unwrap(),
        Outcome::Busy
    );
    // Meanwhile the appointment is cancelled; after the lease the claim is taken again, and the
    // check after the claim withdraws it instead of confirming a cancelled visit.
    let id = appt["id"].as_str().unwrap();
    let (status, _, _) = stack
        .send(
            "POST",
            &format!("/v1/appointments/{id}/cancel"),
            Some(&jane),
            Some("c1"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    set_clock(&stack, TEST_NOW + 301);
    assert_eq!(
        deliver_one(&stack.state, &delivery, &confirmation)
            .await
            .unwrap(),
        Outcome::Withdrawn("appointment_changed")
    );
    let kinds: Vec<Kind> = recorder.sent().iter().map(|e| e.kind).collect();
    assert!(!kinds.contains(&Kind::Confirmation));
}

#[tokio::test]
async fn reminders_whose_time_passed_during_an_outage_are_not_sent_late() {
    let (stack, jane, recorder, delivery) = start().await;
    book(&stack, &jane, "b1", VISIT).await;
    // Nothing ran until after the visit began.
    set_clock(&stack, VISIT_AT + 60);
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    assert_eq!(
        outcomes(&done),
        vec![Outcome::Skipped("too_late"); 3],
        "the confirmation and both reminders"
    );
    assert!(recorder.sent().is_empty());
}

#[tokio::test]
async fn the_daily_limit_holds() {
    let stack = Stack::embedded();
    stack.seed().await;
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, _, body) = stack
        .send(
            "PUT",
            "/v1/practice",
            Some(&admin),
            None,
            Some(
                json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York",
                "notifications": {"messagesPerPatientPerDay": 2}}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["notifications"]["messagesPerPatientPerDay"], 2);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let recorder = Recorder::new();
    let delivery = delivery(&recorder);
    for (key, start) in [
        ("b1", "2026-11-30T10:00:00-05:00"),
        ("b2", "2026-12-01T10:00:00-05:00"),
        ("b3", "2026-12-02T10:00:00-05:00"),
    ] {
        book(&stack, &jane, key, start).await;
    }
    let done = deliver_due(&stack.state, &delivery, 100).await.unwrap();
    let sent = outcomes(&done)
        .iter()
        .filter(|o| matches!(o, Outcome::Sent(_)))
        .count();
    assert_eq!(sent, 2, "{done:?}");
    assert!(outcomes(&done).contains(&Outcome::Skipped("daily_limit")));
    // Bad settings are refused.
    for bad in [
        json!({"messagesPerPatientPerDay": 0}),
        json!({"quietFrom": "25:00"}),
        json!({"portalUrl": "javascript:alert(1)"}),
        json!({"reminderMinutes": [1, 2]}),
        json!({"unknown": 1}),
    ] {
        let (status, _, body) = stack
            .send(
                "PUT",
                "/v1/practice",
                Some(&admin),
                None,
                Some(json!({"name": "R", "timeZone": "America/New_York", "notifications": bad})),
            )
            .await;
        assert!(
            status == StatusCode::UNPROCESSABLE_ENTITY || status == StatusCode::BAD_REQUEST,
            "{bad}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn preferences_are_the_patients_own_and_bad_input_changes_nothing() {
    let stack = Stack::embedded();
    stack.seed().await;
    let omar = stack.token("patient-omar", &[Role::Patient]);
    // Omar has no record and never chose: email waits for a verified address.
    let (status, _, prefs) = stack
        .send(
            "GET",
            "/v1/patients/me/notifications",
            Some(&omar),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        prefs,
        json!({"email": false, "sms": false, "channels": [], "emailVerified": false,
            "emailBounced": false, "smsStopped": false})
    );
    let before = stack.scan().await;
    for bad in [
        json!({"email": true}),
        json!({"email": "yes", "sms": false}),
        json!({"email": true, "sms": false, "phone": "+15550100"}),
    ] {
        let (status, headers, body) = stack
            .send(
                "PUT",
                "/v1/patients/me/notifications",
                Some(&omar),
                None,
                Some(bad.clone()),
            )
            .await;
        assert!(status.is_client_error(), "{bad}: {status}");
        assert_eq!(
            headers["content-type"], "application/problem+json",
            "{body}"
        );
    }
    let (status, _, _) = stack
        .send(
            "PUT",
            "/v1/patients/me/notifications",
            None,
            None,
            Some(json!({"email": true, "sms": true})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        practica_tests::without_denials(stack.scan().await).len(),
        practica_tests::without_denials(before).len()
    );
}

#[tokio::test]
async fn messages_sent_failed_and_bounced_are_counted_in_the_report_by_kind() {
    use domain::report::{Cell, Period, compute};
    let (stack, jane, recorder, delivery) = start().await;
    book(&stack, &jane, "b1", VISIT).await;
    // The confirmation is sent; the first reminder bounces (and fails).
    deliver_due(&stack.state, &delivery, 100).await.unwrap();
    recorder.set(Mode::Bounce);
    set_clock(&stack, VISIT_AT - 24 * 3600);
    deliver_due(&stack.state, &delivery, 100).await.unwrap();

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
    let table = |name: &str| {
        report
            .tables
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no table {name}"))
            .rows
            .clone()
    };
    let summary = table("summary");
    let figure = |name: &str| {
        summary
            .iter()
            .find(|r| r[1] == Cell::Text(name.into()))
            .map(|r| r[2].clone())
            .unwrap_or_else(|| panic!("no {name} in {summary:?}"))
    };
    assert_eq!(figure("messages sent"), Cell::Int(1));
    assert_eq!(figure("messages failed"), Cell::Int(1));
    assert_eq!(
        figure("messages bounced, opted out or complained"),
        Cell::Int(1)
    );
    let t = |s: &str| Cell::Text(s.into());
    assert_eq!(
        table("messages"),
        vec![
            vec![
                t("confirmation"),
                Cell::Int(1),
                Cell::Int(0),
                Cell::Int(0),
                Cell::Int(0)
            ],
            vec![
                t("reminder"),
                Cell::Int(0),
                Cell::Int(0),
                Cell::Int(1),
                Cell::Int(0)
            ],
        ]
    );
}
