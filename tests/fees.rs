//! The cancellation policy through the routers: a service's policy (refused without a price or
//! with bad amounts) shown in words before booking, carried by the appointment and stated in the
//! confirmation email; a late cancellation charging its fee once (retries, replays), none outside
//! the window or when the practice cancels; a no-show mark charging once when two staff race, a
//! second mark and a mark before the start refused; a late arrival waiving the no-show fee;
//! staff waiving a fee with a reason code once, refusals for non-fees, patients and reserved
//! reasons; each fee and waiver in the audit log, the fee's entry naming the policy version. On
//! the embedded store and DynamoDB Local.

use domain::clock::Clock as _;
use domain::notify::{Channel, Kind};
use http::StatusCode;
use practica_cli::demo::{DEMO_PATIENT, Demo};
use practica_tests::{Recorder, Stack, delivery, dynamodb_local_fixture, embedded_fixture};
use serde_json::{Value, json};
use shared::auth::Role;

/// A 60-minute visit at 100.00 USD: cancelling less than 24 hours before costs 40%, missing it
/// 75.00 USD.
async fn service_with_policy(stack: &Stack, demo: &Demo) -> (String, Value) {
    let admin = stack.token("admin-1", &[Role::Admin]);
    let policy = json!({"lateWindowHours": 24, "lateCancellationFee": {"percent": 40}, "noShowFee": {"fixed": 7500}});
    let service = |price: Value, policy: Value| {
        json!({"name": "Assessment", "durationMinutes": 60, "price": price,
               "providerIds": [demo.providers[0]], "cancellationPolicy": policy})
    };
    let usd = |amount: i64| json!({"amount": amount, "currency": "USD"});
    for (n, (price, bad, code)) in [
        (Value::Null, policy.clone(), "policy_needs_price"),
        (
            usd(10_000),
            json!({"lateWindowHours": 0, "noShowFee": {"fixed": 1}}),
            "invalid_cancellation_policy",
        ),
        (
            usd(10_000),
            json!({"lateWindowHours": 24, "noShowFee": {"fixed": 10_001}}),
            "invalid_cancellation_policy",
        ),
        (
            usd(10_000),
            json!({"lateWindowHours": 24}),
            "invalid_cancellation_policy",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = service(price.clone(), bad);
        if price.is_null() {
            body.as_object_mut().unwrap().remove("price");
        }
        let (status, refused) = stack
            .post(&admin, &format!("bad-{n}"), "/v1/services", body)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["code"], code, "{refused}");
    }
    let (status, created) = stack
        .post(&admin, "svc", "/v1/services", service(usd(10_000), policy))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let terms = created["cancellationTerms"].clone();
    assert_eq!(
        terms["words"],
        json!([
            "Cancelling less than 24 hours before the visit costs a fee of 40.00 USD.",
            "Missing the visit without cancelling costs a fee of 75.00 USD."
        ])
    );
    (created["id"].as_str().unwrap().to_owned(), terms)
}

fn at(day: u32, hour: u32) -> String {
    format!("2026-11-{day:02}T{hour:02}:00:00-05:00")
}

async fn book(
    stack: &Stack,
    token: &str,
    key: &str,
    demo: &Demo,
    service: &str,
    start: &str,
) -> Value {
    let body = json!({"providerId": demo.providers[0], "serviceId": service, "start": start});
    let (status, appt) = stack.post(token, key, "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    appt
}

async fn cancel(
    stack: &Stack,
    token: &str,
    key: &str,
    appt: &Value,
    body: Value,
) -> (StatusCode, Value) {
    let path = format!("/v1/appointments/{}/cancel", appt["id"].as_str().unwrap());
    stack.post(token, key, &path, body).await
}

async fn mark(
    stack: &Stack,
    token: &str,
    key: &str,
    appt: &Value,
    status: &str,
) -> (StatusCode, Value) {
    let path = format!(
        "/v1/appointments/{}/attendance",
        appt["id"].as_str().unwrap()
    );
    stack
        .post(token, key, &path, json!({"status": status}))
        .await
}

/// Jane's charges that are fees or waivers, as (kind, total, waiver).
async fn fees(stack: &Stack) -> Vec<(String, i64, Value)> {
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (status, balance) = stack
        .get(&staff, &format!("/v1/balance?patientId={DEMO_PATIENT}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{balance}");
    let mut out: Vec<_> = balance["charges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["fee"].is_null())
        .map(|c| {
            (
                c["fee"].as_str().unwrap().to_owned(),
                c["total"].as_i64().unwrap(),
                c["waiver"].clone(),
            )
        })
        .collect();
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    out
}

fn advance_to(stack: &Stack, rfc3339: &str) {
    let to: jiff::Timestamp = rfc3339.parse().unwrap();
    let by = to.as_second() - stack.clock.now().as_second();
    stack.clock.advance(jiff::SignedDuration::from_secs(by));
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (service, terms) = service_with_policy(&stack, &demo).await;

    // The policy is listed with the service, and the appointment carries the terms it was booked
    // under. (The clock: Monday 23 November, 08:00 in New York.)
    let (_, services) = stack.get(&jane, "/v1/services").await;
    let listed = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == service.as_str())
        .unwrap();
    assert_eq!(listed["cancellationTerms"], terms);
    // Booked with the policy version she was shown; one that changed since is refused.
    let stale = json!({"providerId": demo.providers[0], "serviceId": service, "start": at(24, 14), "acceptedPolicyVersion": "0123456789abcdef"});
    let (status, refused) = stack
        .post(&jane, "b-stale", "/v1/appointments", stale)
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("policy_changed")),
        "{refused}"
    );
    let accepted = json!({"providerId": demo.providers[0], "serviceId": service, "start": at(24, 14), "acceptedPolicyVersion": terms["version"]});
    let (status, late) = stack
        .post(&jane, "b-late", "/v1/appointments", accepted)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{late}");
    assert_eq!(late["cancellationTerms"], terms);
    let in_time = book(&stack, &jane, "b-in-time", &demo, &service, &at(26, 14)).await;
    let practice_cancels = book(&stack, &jane, "b-practice", &demo, &service, &at(24, 11)).await;

    // A window longer than the provider's 24-hour cut-off: 32 hours before the visit she may not
    // move it online (it would leave the window and cancel free); staff may.
    let admin = stack.token("admin-1", &[Role::Admin]);
    let long = json!({"name": "Long window", "durationMinutes": 60, "price": {"amount": 10_000, "currency": "USD"},
                      "providerIds": [demo.providers[0]], "cancellationPolicy": {"lateWindowHours": 48, "lateCancellationFee": {"percent": 10}}});
    let (status, long) = stack.post(&admin, "svc-long", "/v1/services", long).await;
    assert_eq!(status, StatusCode::CREATED, "{long}");
    let inside = book(
        &stack,
        &jane,
        "b-inside",
        &demo,
        long["id"].as_str().unwrap(),
        &at(24, 16),
    )
    .await;
    let path = format!(
        "/v1/appointments/{}/reschedule",
        inside["id"].as_str().unwrap()
    );
    let (status, refused) = stack
        .post(&jane, "r-inside", &path, json!({"start": at(30, 16)}))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("inside_fee_window")),
        "{refused}"
    );
    let (status, moved) = stack
        .post(
            &staff,
            "r-inside-staff",
            &path,
            json!({"start": at(30, 16)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");

    // The confirmation email states the policy.
    let recorder = Recorder::new();
    shared::notify::deliver_due(&stack.state, &delivery(&recorder), 100)
        .await
        .unwrap();
    let confirmations: Vec<_> = recorder
        .sent()
        .into_iter()
        .filter(|e| e.kind == Kind::Confirmation && e.channel == Channel::Email)
        .collect();
    assert_eq!(confirmations.len(), 3);
    assert!(
        confirmations[0].text.contains("costs a fee of 40.00 USD"),
        "{}",
        confirmations[0].text
    );

    // Monday 18:00: the 14:00 visit on Tuesday is 20 hours away, inside the window (and past the
    // provider's 24-hour cut-off, which the fee answers for a patient's cancellation).
    advance_to(&stack, "2026-11-23T18:00:00-05:00");
    // She is charged only a fee she accepted: without it (or with another amount) nothing is
    // cancelled and the answer names the fee.
    let fee = json!({"amount": 4000, "currency": "USD"});
    for (key, body) in [
        ("c-unaccepted", json!({})),
        (
            "c-other",
            json!({"acceptFee": {"amount": 3999, "currency": "USD"}}),
        ),
    ] {
        let (status, refused) = cancel(&stack, &jane, key, &late, body).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (StatusCode::CONFLICT, Some("fee_applies")),
            "{refused}"
        );
        assert_eq!(refused["fee"], fee);
    }
    assert!(fees(&stack).await.is_empty());
    let (status, cancelled) =
        cancel(&stack, &jane, "c-late", &late, json!({"acceptFee": fee})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["fee"]["kind"], "late_cancellation");
    assert_eq!(
        cancelled["fee"]["amount"],
        json!({"amount": 4000, "currency": "USD"})
    );
    // A retry gets the same answer; the fee exists once.
    let (status, again) = cancel(&stack, &jane, "c-late", &late, json!({"acceptFee": fee})).await;
    assert_eq!((status, &again), (StatusCode::OK, &cancelled));
    assert_eq!(
        fees(&stack).await,
        [("late_cancellation".into(), 4000, Value::Null)]
    );
    // A visit more than 24 hours away: no fee. The practice's own cancellation: none either, and
    // only staff may say the practice cancelled.
    let (status, free) = cancel(&stack, &jane, "c-in-time", &in_time, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{free}");
    assert!(free.get("fee").is_none(), "{free}");
    let (status, _) = cancel(
        &stack,
        &jane,
        "c-jane-practice",
        &practice_cancels,
        json!({"byPractice": true}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, by_practice) = cancel(
        &stack,
        &staff,
        "c-practice",
        &practice_cancels,
        json!({"byPractice": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{by_practice}");
    assert!(by_practice.get("fee").is_none());
    assert_eq!(by_practice["cancelledByPractice"], true);
    assert_eq!(fees(&stack).await.len(), 1);
    let kinds: Vec<Kind> = practica_tests::waiting_messages(&stack.state)
        .await
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == Kind::FeeCharged).count(),
        1,
        "{kinds:?}"
    );

    // No-shows: a mark before the start is refused; two staff marking at once charge once.
    let body = json!({"providerId": demo.providers[0], "serviceId": service, "start": at(25, 10), "patientId": DEMO_PATIENT});
    let (status, missed) = stack
        .post(&staff, "b-missed", "/v1/appointments", body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{missed}");
    let (status, early) = mark(&stack, &staff, "m-early", &missed, "no_show").await;
    assert_eq!(status, StatusCode::CONFLICT, "{early}");
    let start: jiff::Timestamp = missed["start"].as_str().unwrap().parse().unwrap();
    stack.clock.advance(jiff::SignedDuration::from_secs(
        start.as_second() - stack.clock.now().as_second() + 900,
    ));
    let (a, b) = tokio::join!(
        mark(&stack, &staff, "m-1", &missed, "no_show"),
        mark(&stack, &staff, "m-2", &missed, "no_show")
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} {}",
        a.1,
        b.1
    );
    let marked = if a.0 == StatusCode::OK { a.1 } else { b.1 };
    assert_eq!(
        marked["fee"]["amount"],
        json!({"amount": 7500, "currency": "USD"})
    );
    let (status, second) = mark(&stack, &staff, "m-3", &missed, "no_show").await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    assert_eq!(
        fees(&stack).await,
        [
            ("late_cancellation".into(), 4000, Value::Null),
            ("no_show".into(), 7500, Value::Null)
        ]
    );
    // She turns up late after all: the check-in waives the no-show fee.
    let (status, arrived) = mark(&stack, &staff, "m-arrived", &missed, "arrived").await;
    assert_eq!(status, StatusCode::OK, "{arrived}");
    assert_eq!(
        fees(&stack).await,
        [
            ("late_cancellation".into(), 4000, Value::Null),
            ("no_show".into(), -7500, json!("arrived_late")),
            ("no_show".into(), 7500, Value::Null),
        ]
    );

    // Staff waive the late-cancellation fee with a reason code, once.
    let fee_id = cancelled["fee"]["chargeId"].as_str().unwrap().to_owned();
    let waive = |reason: &str| json!({"patientId": DEMO_PATIENT, "reason": reason});
    let path = format!("/v1/charges/{fee_id}/waive");
    let (status, _) = stack.post(&jane, "w-jane", &path, waive("goodwill")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a patient waives nothing");
    let (status, reserved) = stack
        .post(&staff, "w-reserved", &path, waive("arrived_late"))
        .await;
    assert_eq!(
        (status, reserved["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("waiver_reason_reserved")
        )
    );
    let (status, waived) = stack.post(&staff, "w-1", &path, waive("goodwill")).await;
    assert_eq!(status, StatusCode::CREATED, "{waived}");
    assert_eq!(
        (waived["total"].as_i64(), waived["adjusts"].as_str()),
        (Some(-4000), Some(fee_id.as_str()))
    );
    let (status, replayed) = stack.post(&staff, "w-1", &path, waive("goodwill")).await;
    assert_eq!((status, &replayed), (StatusCode::CREATED, &waived));
    let (status, twice) = stack.post(&staff, "w-2", &path, waive("emergency")).await;
    assert_eq!(
        (status, twice["code"].as_str()),
        (StatusCode::CONFLICT, Some("fee_already_waived"))
    );
    // A charge staff posted is corrected by an adjusting entry, not waived.
    let charge = json!({"patientId": DEMO_PATIENT, "currency": "USD", "lineItems": [{"description": "Visit", "amount": 9000}]});
    let (status, posted) = stack.post(&staff, "ch-1", "/v1/charges", charge).await;
    assert_eq!(status, StatusCode::CREATED, "{posted}");
    let other = format!("/v1/charges/{}/waive", posted["id"].as_str().unwrap());
    let (status, not_fee) = stack.post(&staff, "w-3", &other, waive("goodwill")).await;
    assert_eq!(
        (status, not_fee["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("not_a_fee"))
    );
    let (_, balance) = stack.get(&jane, "/v1/balance").await;
    assert_eq!(
        balance["balances"][0]["balance"], 9000,
        "both fees waived: only the posted charge is owed"
    );

    // The practice's report: the fees charged in the period, what became of them, the waivers'
    // reasons, and the provider's no-show and late-cancellation rates.
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (status, report) = stack
        .get(&admin, "/v1/live-report?from=2026-11-23&to=2026-11-25")
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let table = |name: &str| {
        report["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == name)
            .unwrap()["rows"]
            .clone()
    };
    let summary = table("summary");
    let figure = |name: &str| {
        summary
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == "fees" && r[1] == name)
            .map(|r| r[2].clone())
    };
    assert_eq!(
        figure("late cancellation fees charged"),
        Some(json!(1)),
        "{summary}"
    );
    assert_eq!(figure("no-show fees charged"), Some(json!(1)));
    assert_eq!(figure("fees charged"), Some(json!("115.00 USD")));
    assert_eq!(figure("of them waived"), Some(json!("115.00 USD")));
    assert_eq!(figure("of them outstanding"), Some(json!("0.00 USD")));
    assert_eq!(
        table("fee_waivers"),
        json!([["arrived late", 1, 0], ["goodwill", 1, 0]])
    );
    let rivera = table("no_shows")
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "Dr. Ana Rivera")
        .unwrap()
        .clone();
    // Due in the period: the two visits cancelled inside the window (one by the practice, which is
    // not hers to count), and the one she came to late.
    assert_eq!(
        rivera,
        json!(["Dr. Ana Rivera", 1, 0, "0.0%", 1, "33.3%", "n/a", "n/a"])
    );

    // The log: each fee and each waiver, the fee's entry naming the policy version.
    if let Some(items) = stack.scan_if_embedded().await {
        let created = practica_tests::audits(&items, "fee.create");
        assert_eq!(created.len(), 2);
        for entry in &created {
            assert_eq!(
                entry
                    .get(shared::store::attr::DOCUMENT_HASH)
                    .and_then(|v| v.as_s()),
                terms["version"].as_str()
            );
        }
        assert_eq!(practica_tests::audits(&items, "fee.waive").len(), 2);
        // The booking's own entry names the policy version it was made under.
        let booked = practica_tests::audits(&items, "appointment.create")
            .into_iter()
            .find(|e| {
                e.get(shared::store::attr::ENTITY_ID).and_then(|v| v.as_s()) == late["id"].as_str()
            })
            .expect("the booking's entry");
        assert_eq!(
            booked
                .get(shared::store::attr::DOCUMENT_HASH)
                .and_then(|v| v.as_s()),
            terms["version"].as_str()
        );
    }
}

#[tokio::test]
async fn embedded_fees_are_charged_once_and_waived_once() {
    journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_fees_are_charged_once_and_waived_once() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// The practice marks no-shows automatically 30 minutes after the start: the sweep marks a visit
/// no one checked in to (charging its fee once, however often it runs), leaves the one checked in
/// and the one not yet 30 minutes old, and a sweep racing the front desk's own mark writes one.
async fn automatic(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let admin = stack.token("admin-1", &[Role::Admin]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (service, _) = service_with_policy(&stack, &demo).await;
    let practice = |minutes: Value| {
        json!({"name": "Riverside Family Therapy", "timeZone": "America/New_York",
               "contact": {"address": "12 River Street, Springfield", "phone": "+1 555 010 0199"},
               "autoNoShowMinutes": minutes})
    };
    for bad in [json!(14), json!(241)] {
        let (status, _, refused) = stack
            .send(
                "PUT",
                "/v1/practice",
                Some(&admin),
                None,
                Some(practice(bad)),
            )
            .await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_policy")),
            "{refused}"
        );
    }
    let (status, _, set) = stack
        .send(
            "PUT",
            "/v1/practice",
            Some(&admin),
            None,
            Some(practice(json!(30))),
        )
        .await;
    assert_eq!(
        (status, &set["autoNoShowMinutes"]),
        (StatusCode::OK, &json!(30)),
        "{set}"
    );
    let visit = |key: &str, hour: u32| {
        let body = json!({"providerId": demo.providers[0], "serviceId": service, "start": at(24, hour), "patientId": DEMO_PATIENT});
        let stack = &stack;
        let staff = staff.clone();
        let key = key.to_owned();
        async move {
            let (status, a) = stack.post(&staff, &key, "/v1/appointments", body).await;
            assert_eq!(status, StatusCode::CREATED, "{a}");
            a
        }
    };
    let missed = visit("v-missed", 9).await;
    let came = visit("v-came", 11).await;
    let recent = visit("v-recent", 13).await;
    let raced = visit("v-raced", 15).await;
    let calendars = practica_tests::public_calendars();
    let sweep = |run: &'static str| shared::booking::sweep::sweep(&stack.state, &calendars, run);

    // Tuesday 11:10: 9:00 is past its 30 minutes; 11:00 was checked in; none other is due.
    advance_to(&stack, "2026-11-24T11:10:00-05:00");
    let (status, _) = mark(&stack, &staff, "m-came", &came, "arrived").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sweep("run-1").await.unwrap().no_shows_marked, 1);
    assert_eq!(
        sweep("run-2").await.unwrap().no_shows_marked,
        0,
        "marked once"
    );
    let status_of = |a: &Value| {
        let path = format!("/v1/appointments/{}", a["id"].as_str().unwrap());
        let stack = &stack;
        let staff = staff.clone();
        async move { stack.get(&staff, &path).await.1["status"].clone() }
    };
    assert_eq!(status_of(&missed).await, "no_show");
    assert_eq!(status_of(&came).await, "arrived");
    // Checking in a no-show after the visit's end is refused: the mark and its fee stand.
    let (status, late) = mark(&stack, &staff, "m-missed-late", &missed, "arrived").await;
    assert_eq!(
        (status, late["code"].as_str()),
        (StatusCode::CONFLICT, Some("attendance_not_allowed"))
    );
    // 13:20: the 13:00 visit is 20 minutes old, not yet due.
    advance_to(&stack, "2026-11-24T13:20:00-05:00");
    assert_eq!(sweep("run-3").await.unwrap().no_shows_marked, 0);
    assert_eq!(status_of(&recent).await, "booked");
    // 15:45: the sweep and the front desk mark the 15:00 visit at once; one mark, one fee.
    advance_to(&stack, "2026-11-24T15:45:00-05:00");
    let (swept, desk) = tokio::join!(
        sweep("run-4"),
        mark(&stack, &staff, "m-raced", &raced, "no_show")
    );
    let swept = swept.unwrap().no_shows_marked;
    let by_desk = desk.0 == StatusCode::OK;
    assert!(by_desk || desk.0 == StatusCode::CONFLICT, "{}", desk.1);
    // The 13:00 visit, and the 15:00 one unless the front desk's mark landed first.
    assert_eq!(swept, 1 + usize::from(!by_desk), "{}", desk.1);
    assert_eq!(status_of(&raced).await, "no_show");
    // The 13:00 visit was also due by then (the sweep marked it); each no-show charged once.
    assert_eq!(status_of(&recent).await, "no_show");
    let no_show_fees: Vec<_> = fees(&stack)
        .await
        .into_iter()
        .filter(|f| f.0 == "no_show")
        .collect();
    assert_eq!(no_show_fees.len(), 3, "{no_show_fees:?}");
    if let Some(items) = stack.scan_if_embedded().await {
        let marks = practica_tests::audits(&items, "appointment.no_show");
        assert_eq!(marks.len(), 3);
        let by_sweep = marks
            .iter()
            .filter(|e| {
                e.get(shared::store::attr::ACTOR).and_then(|v| v.as_s()) == Some("system:sweep")
            })
            .count();
        assert_eq!(by_sweep, if by_desk { 2 } else { 3 });
    }
}

#[tokio::test]
async fn embedded_no_shows_are_marked_automatically_once() {
    automatic(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_no_shows_are_marked_automatically_once() {
    automatic(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// Cancelling a series from a visit inside its window charges that visit's fee (once), and none
/// for the later visits outside it.
async fn series_cancelled_late(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (service, _) = service_with_policy(&stack, &demo).await;
    let body = json!({"providerId": demo.providers[0], "serviceId": service, "start": "2026-11-30T14:00:00-05:00",
                      "everyWeeks": 1, "count": 3, "patientId": DEMO_PATIENT});
    let (status, series) = stack.post(&staff, "s-1", "/v1/series", body).await;
    assert_eq!(status, StatusCode::CREATED, "{series}");
    let first = series["occurrences"][0]["appointmentId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Sunday 20:00: Monday's 14:00 visit is 18 hours away.
    advance_to(&stack, "2026-11-29T20:00:00-05:00");
    let path = format!("/v1/series/{}/cancel", series["id"].as_str().unwrap());
    let cancel = json!({"fromAppointmentId": first});
    let (status, cancelled) = stack.post(&staff, "sc-1", &path, cancel.clone()).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let (status, again) = stack.post(&staff, "sc-1", &path, cancel).await;
    assert_eq!((status, &again), (StatusCode::OK, &cancelled));
    assert_eq!(
        fees(&stack).await,
        [("late_cancellation".into(), 4000, Value::Null)]
    );
    // Corrected to nothing by an adjusting entry: nothing is left to waive, and the report owes
    // nothing of it.
    let fee_id = domain::fees::FeeKind::LateCancellation
        .charge_id(&domain::ids::AppointmentId::parse(&first).unwrap());
    let correction = json!({"patientId": DEMO_PATIENT, "currency": "USD", "adjusts": fee_id,
                            "lineItems": [{"description": "Fee corrected", "amount": -4000}]});
    let (status, corrected) = stack.post(&staff, "adj-1", "/v1/charges", correction).await;
    assert_eq!(status, StatusCode::CREATED, "{corrected}");
    let waive = json!({"patientId": DEMO_PATIENT, "reason": "goodwill"});
    let (status, refused) = stack
        .post(
            &staff,
            "w-left",
            &format!("/v1/charges/{fee_id}/waive"),
            waive,
        )
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("fee_nothing_left")),
        "{refused}"
    );
    let admin = stack.token("admin-1", &[Role::Admin]);
    let (_, report) = stack
        .get(&admin, "/v1/live-report?from=2026-11-29&to=2026-11-29")
        .await;
    let summary = report["tables"][0]["rows"].as_array().unwrap().clone();
    let outstanding = summary
        .iter()
        .find(|r| r[0] == "fees" && r[1] == "of them outstanding")
        .unwrap();
    assert_eq!(outstanding[2], "0.00 USD", "{summary:?}");
}

#[tokio::test]
async fn embedded_a_series_cancelled_late_charges_one_fee() {
    series_cancelled_late(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_a_series_cancelled_late_charges_one_fee() {
    series_cancelled_late(Stack::on(dynamodb_local_fixture().await).await).await;
}
