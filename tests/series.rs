//! Recurring series through the HTTP router, on the embedded store and DynamoDB Local: a weekly
//! series across the March DST change booked all or nothing, conflicts listed with alternatives,
//! `conflicts: skip`, one occurrence cancelled, the rest moved to Thursdays, the rest cancelled;
//! racing series; a request that stops half-way leaves nothing visible and is given back.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::StatusCode;
use practica_cli::demo::{DEMO_PATIENT, Demo};
use practica_tests::{Stack, dynamodb_local_fixture, embedded_fixture, waiting_messages};
use serde_json::{Value, json};
use shared::auth::Role;

fn series_body(demo: &Demo, start: &str, count: u16) -> Value {
    json!({
        "patientId": DEMO_PATIENT,
        "providerId": demo.providers[0],
        "serviceId": demo.services[1],
        "start": start,
        "everyWeeks": 1,
        "count": count,
    })
}

fn starts(series: &Value) -> Vec<String> {
    series["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .map(|o| o["start"].as_str().expect("start").to_owned())
        .collect()
}

fn occurrence(series: &Value, i: usize) -> String {
    series["occurrences"][i]["appointmentId"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The provider's booked appointments from January to May 2027.
async fn booked(stack: &Stack, demo: &Demo) -> Vec<String> {
    let staff = stack.token("staff-1", &[Role::Staff]);
    let mut out = Vec::new();
    for (from, to) in [
        ("2027-01-01T00:00:00Z", "2027-01-31T00:00:00Z"),
        ("2027-01-31T00:00:00Z", "2027-03-02T00:00:00Z"),
        ("2027-03-02T00:00:00Z", "2027-04-01T00:00:00Z"),
        ("2027-04-01T00:00:00Z", "2027-05-01T00:00:00Z"),
        ("2027-05-01T00:00:00Z", "2027-05-31T00:00:00Z"),
    ] {
        let path = format!(
            "/v1/appointments?providerId={}&from={from}&to={to}",
            demo.providers[0]
        );
        let (status, body) = stack.get(&staff, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for a in body["appointments"].as_array().expect("list") {
            if a["status"] == "booked" {
                out.push(a["start"].as_str().expect("start").to_owned());
            }
        }
    }
    out
}

async fn weekly_journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    // Another patient already has Tuesday 2 February at 10:00.
    let john = stack.token("patient-john", &[Role::Patient]);
    let single = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2027-02-02T10:00:00-05:00"});
    let (status, johns_first) = stack
        .post(&john, "john-1", "/v1/appointments", single)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{johns_first}");
    let messages_before = waiting_messages(&stack.state).await.len();

    // Sixteen Tuesdays at 10:00 from 5 January: all or nothing, so nothing is booked, and the
    // answer names 2 February with the nearest free starts that day.
    let body = series_body(&demo, "2027-01-05T10:00:00.000-05:00", 16);
    let (status, refused) = stack.post(&staff, "series-1", "/v1/series", body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "series_conflicts");
    let conflicts = refused["conflicts"].as_array().expect("conflicts");
    assert_eq!(conflicts.len(), 1, "{refused}");
    assert_eq!(conflicts[0]["date"], "2027-02-02");
    assert_eq!(conflicts[0]["reason"], "slot_taken");
    let alternatives: Vec<&str> = conflicts[0]["alternatives"]
        .as_array()
        .expect("alternatives")
        .iter()
        .map(|a| a.as_str().expect("text"))
        .collect();
    assert!(!alternatives.is_empty(), "{refused}");
    assert!(
        alternatives
            .iter()
            .all(|a| a.starts_with("2027-02-02T") && !a.starts_with("2027-02-02T10:00")),
        "{alternatives:?}"
    );
    assert_eq!(
        booked(&stack, &demo).await,
        vec!["2027-02-02T10:00:00-05:00"]
    );

    // John moves away from that Tuesday; the same request then books all sixteen, 10:00 on both
    // sides of 14 March.
    let johns_first = johns_first["id"].as_str().expect("id").to_owned();
    let (status, _) = stack
        .post(
            &john,
            "john-1c",
            &format!("/v1/appointments/{johns_first}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let body = series_body(&demo, "2027-01-05T10:00:00-05:00", 16);
    let (status, series) = stack
        .post(&staff, "series-2", "/v1/series", body.clone())
        .await;
    assert_eq!(status, StatusCode::CREATED, "{series}");
    let times = starts(&series);
    assert_eq!(times.len(), 16);
    assert_eq!(times[0], "2027-01-05T10:00:00-05:00");
    assert_eq!(times[9], "2027-03-09T10:00:00-05:00");
    assert_eq!(times[10], "2027-03-16T10:00:00-04:00");
    assert_eq!(times[15], "2027-04-20T10:00:00-04:00");
    assert!(times.iter().all(|t| t.contains("T10:00:00-0")), "{times:?}");
    // A retry answers the same; the calendar shows each occurrence once.
    let (status, again) = stack.post(&staff, "series-2", "/v1/series", body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(again, series);
    let calendar = booked(&stack, &demo).await;
    assert_eq!(calendar, times);
    // Ordinary appointments: Jane lists them, each knows its series, each has its reminder.
    let (status, mine) = stack.get(&jane, "/v1/appointments").await;
    assert_eq!(status, StatusCode::OK);
    let mine = mine["appointments"].as_array().expect("list");
    assert_eq!(mine.len(), 16);
    assert!(
        mine.iter().all(|a| a["seriesId"] == series["id"]),
        "{mine:?}"
    );
    let messages = waiting_messages(&stack.state).await.len() - messages_before;
    assert!(messages >= 16, "{messages} messages for 16 occurrences");
    // One message says the series is booked; each visit has its reminders, no confirmation each.
    let kinds = |kind: domain::notify::Kind| {
        let state = stack.state.clone();
        async move {
            waiting_messages(&state)
                .await
                .iter()
                .filter(|m| m.kind == kind && m.patient.as_str() == DEMO_PATIENT)
                .count()
        }
    };
    assert_eq!(kinds(domain::notify::Kind::SeriesBooked).await, 1);
    assert_eq!(kinds(domain::notify::Kind::Confirmation).await, 0);
    // She reads her series; the audit trail names her in the series and in each occurrence.
    let (status, listed) = stack.get(&jane, "/v1/series").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed["series"][0]["id"], series["id"]);
    if let Some(items) = stack.scan_if_embedded().await {
        assert_eq!(practica_tests::audits(&items, "series.create").len(), 1);
        let created = practica_tests::audits(&items, "appointment.create");
        assert_eq!(created.len(), 16 + 2, "two of John's single bookings");
    }
    // Another patient may not read it.
    let id = series["id"].as_str().expect("id");
    let (status, _) = stack.get(&john, &format!("/v1/series/{id}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Cancel the third occurrence alone: the others stay.
    let third = occurrence(&series, 2);
    let (status, body) = stack
        .post(
            &staff,
            "cancel-3",
            &format!("/v1/appointments/{third}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(booked(&stack, &demo).await.len(), 15);
    // Move the fourth alone to the Wednesday: the series' record follows it, and reading the
    // series leaves it there (its old Tuesday is free for anyone).
    let fourth = occurrence(&series, 3);
    let (status, body) = stack
        .post(
            &staff,
            "move-4",
            &format!("/v1/appointments/{fourth}/reschedule"),
            json!({"start": "2027-01-27T10:00:00-05:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, read) = stack.get(&jane, &format!("/v1/series/{id}")).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["occurrences"][3]["start"], "2027-01-27T10:00:00-05:00");
    let old_tuesday = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2027-01-26T10:00:00-05:00"});
    let (status, body) = stack
        .post(&john, "john-26", "/v1/appointments", old_tuesday)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (_, again) = stack.get(&staff, &format!("/v1/series/{id}")).await;
    assert_eq!(
        again["occurrences"][3]["start"],
        "2027-01-27T10:00:00-05:00"
    );
    assert_eq!(booked(&stack, &demo).await.len(), 16);
    // Move the fifth and all following to Thursdays at 10:00, all or nothing: John's Thursday
    // 11 February at 10:00 blocks it, then, once he cancels, it goes through.
    let thursday = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2027-02-11T10:00:00-05:00"});
    let (status, johns) = stack
        .post(&john, "john-2", "/v1/appointments", thursday)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{johns}");
    let fifth = occurrence(&series, 4);
    let to_thursday = json!({"fromAppointmentId": fifth, "start": "2027-02-04T10:00:00-05:00"});
    let (status, refused) = stack
        .post(
            &staff,
            "move-1",
            &format!("/v1/series/{id}/move"),
            to_thursday.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["conflicts"][0]["date"], "2027-02-11");
    assert_eq!(booked(&stack, &demo).await.len(), 17);
    let johns_id = johns["id"].as_str().expect("id");
    let (status, _) = stack
        .post(
            &john,
            "john-3",
            &format!("/v1/appointments/{johns_id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, moved) = stack
        .post(
            &staff,
            "move-2",
            &format!("/v1/series/{id}/move"),
            to_thursday,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let times = starts(&moved);
    assert_eq!(&times[..3], &starts(&series)[..3]);
    assert_eq!(times[3], "2027-01-27T10:00:00-05:00", "moved alone before");
    assert_eq!(times[4], "2027-02-04T10:00:00-05:00");
    assert_eq!(times[9], "2027-03-11T10:00:00-05:00");
    assert_eq!(times[10], "2027-03-18T10:00:00-04:00");
    assert_eq!(times[15], "2027-04-22T10:00:00-04:00");
    assert_eq!(moved["occurrences"][2]["status"], "cancelled");
    // One message for the twelve visits moved, not twelve "moved" messages.
    assert_eq!(kinds(domain::notify::Kind::SeriesMoved).await, 1);
    assert_eq!(
        kinds(domain::notify::Kind::Rescheduled).await,
        1,
        "the fourth, moved alone"
    );
    let calendar = booked(&stack, &demo).await;
    assert_eq!(calendar.len(), 16, "{calendar:?}");
    assert!(calendar.contains(&"2027-04-22T10:00:00-04:00".to_owned()));
    assert!(!calendar.contains(&"2027-04-20T10:00:00-04:00".to_owned()));
    // The old Tuesday times are free again: a single booking takes one.
    let tuesday = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2027-03-16T10:00:00-04:00"});
    let (status, body) = stack
        .post(&john, "john-4", "/v1/appointments", tuesday)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Cancel the eleventh and all following.
    let eleventh = occurrence(&series, 10);
    let (status, cancelled) = stack
        .post(
            &staff,
            "cancel-rest",
            &format!("/v1/series/{id}/cancel"),
            json!({"fromAppointmentId": eleventh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let statuses: Vec<&str> = cancelled["occurrences"]
        .as_array()
        .expect("occurrences")
        .iter()
        .map(|o| o["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == "booked").count(), 9);
    assert!(
        statuses[10..].iter().all(|s| *s == "cancelled"),
        "{statuses:?}"
    );
    assert_eq!(booked(&stack, &demo).await.len(), 11);
    assert_eq!(kinds(domain::notify::Kind::SeriesCancelled).await, 1);
    // The same cancellation again (another key, as after an interrupted request): nothing left
    // to cancel, and not a refusal.
    let (status, again) = stack
        .post(
            &staff,
            "cancel-rest-2",
            &format!("/v1/series/{id}/cancel"),
            json!({"fromAppointmentId": eleventh}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(booked(&stack, &demo).await.len(), 11);
}

#[tokio::test]
async fn embedded_weekly_series_across_dst_is_booked_moved_and_cancelled() {
    weekly_journey(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test]
async fn dynamodb_local_weekly_series_across_dst_is_booked_moved_and_cancelled() {
    weekly_journey(Stack::on(dynamodb_local_fixture().await).await).await;
}

async fn skip_and_rules(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    // 12 January is taken: with conflicts: skip the other occurrences book and it is listed.
    let john = stack.token("patient-john", &[Role::Patient]);
    let single = json!({"providerId": demo.providers[0], "serviceId": demo.services[1], "start": "2027-01-12T09:45:00-05:00"});
    let (status, _) = stack
        .post(&john, "john-1", "/v1/appointments", single)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut body = series_body(&demo, "2027-01-05T10:00:00-05:00", 4);
    body["conflicts"] = "skip".into();
    let (status, series) = stack.post(&staff, "skip-1", "/v1/series", body).await;
    assert_eq!(status, StatusCode::CREATED, "{series}");
    assert_eq!(starts(&series).len(), 3);
    assert_eq!(series["skipped"], json!(["2027-01-12T10:00:00-05:00"]));
    // A patient books a series herself only of a service the practice marks for it, and no
    // longer than its limit; it counts once against her appointments.
    let mut own = series_body(&demo, "2027-01-06T11:00:00-05:00", 4);
    own.as_object_mut().expect("object").remove("patientId");
    own["serviceId"] = demo.services[0].to_string().into();
    let (status, refused) = stack.post(&jane, "own-1", "/v1/series", own.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "series_not_self_bookable");
    own["serviceId"] = demo.services[1].to_string().into();
    own["count"] = 17.into();
    let (status, refused) = stack.post(&jane, "own-2", "/v1/series", own.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["code"], "series_limit");
    own["count"] = 8.into();
    let (status, mine) = stack.post(&jane, "own-3", "/v1/series", own).await;
    assert_eq!(status, StatusCode::CREATED, "{mine}");
    // Bad recurrences get their reasons in words.
    for (field, value, code) in [
        ("everyWeeks", json!(5), "invalid_recurrence"),
        ("count", json!(53), "invalid_recurrence"),
        ("count", json!(1), "invalid_recurrence"),
    ] {
        let mut bad = series_body(&demo, "2027-01-05T10:00:00-05:00", 4);
        bad[field] = value;
        let (status, refused) = stack
            .post(&staff, &format!("bad-{field}-{code}"), "/v1/series", bad)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
        assert_eq!(refused["code"], code, "{refused}");
    }
    let mut both = series_body(&demo, "2027-01-05T10:00:00-05:00", 4);
    both["until"] = "2027-03-01".into();
    let (status, refused) = stack.post(&staff, "bad-both", "/v1/series", both).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let mut until = series_body(&demo, "2027-01-05T10:00:00-05:00", 4);
    until.as_object_mut().expect("object").remove("count");
    until["until"] = "2027-01-26".into();
    until["everyWeeks"] = 2.into();
    until["start"] = "2027-01-07T14:00:00-05:00".into();
    until["reason"] = "Weekly therapy".into();
    let (status, fortnightly) = stack.post(&staff, "until-1", "/v1/series", until).await;
    assert_eq!(status, StatusCode::CREATED, "{fortnightly}");
    assert_eq!(
        starts(&fortnightly),
        vec!["2027-01-07T14:00:00-05:00", "2027-01-21T14:00:00-05:00"]
    );
    // The reason is sealed with each occurrence, as a single booking's is.
    let second = occurrence(&fortnightly, 1);
    let (status, read) = stack
        .get(&staff, &format!("/v1/appointments/{second}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["reason"], "Weekly therapy");
    if let Some(items) = stack.scan_if_embedded().await {
        assert!(!format!("{items:?}").contains("Weekly therapy"));
    }
}

#[tokio::test]
async fn embedded_series_skip_limits_and_refusals() {
    skip_and_rules(Stack::on(embedded_fixture().await).await).await;
}

/// Two series wanting one Tuesday at once: one books all its occurrences, the other none.
async fn racing_series(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let stack = Arc::new(stack);
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let racers: Vec<_> = ["2027-01-05T10:00:00-05:00", "2027-01-26T10:00:00-05:00"]
        .into_iter()
        .enumerate()
        .map(|(i, start)| {
            let (stack, staff) = (stack.clone(), staff.clone());
            let body = series_body(&demo, start, 16);
            tokio::spawn(async move {
                stack
                    .post(&staff, &format!("race-{i}"), "/v1/series", body)
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for racer in racers {
        let (status, body) = racer.await.expect("racer");
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::CONFLICT => assert!(
                ["series_conflicts", "slot_taken"].contains(&body["code"].as_str().unwrap_or("")),
                "{body}"
            ),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    let calendar = booked(&stack, &demo).await;
    assert_eq!(calendar.len(), 16, "{calendar:?}");
    let mut unique = calendar.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_racing_series_one_books() {
    racing_series(Stack::on(embedded_fixture().await).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamodb_local_racing_series_one_books() {
    racing_series(Stack::on(dynamodb_local_fixture().await).await).await;
}

/// A table that stops writing after `budget` transactions, as a function that died: every
/// write fails from then on until `revive`.
struct Dying {
    inner: Arc<dyn shared::store::Table>,
    budget: AtomicUsize,
    armed: AtomicBool,
    dead: AtomicBool,
    /// Dies right after the first transaction that writes an appointment (the commit).
    after_commit: AtomicBool,
}

impl Dying {
    fn arm(&self, transactions: usize) {
        self.budget.store(transactions, Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }
    fn arm_after_commit(&self) {
        self.after_commit.store(true, Ordering::SeqCst);
    }
    fn revive(&self) {
        self.armed.store(false, Ordering::SeqCst);
        self.after_commit.store(false, Ordering::SeqCst);
        self.dead.store(false, Ordering::SeqCst);
    }
    fn check(&self) -> Result<(), shared::store::TableError> {
        if self.dead.load(Ordering::SeqCst) {
            return Err(shared::store::TableError::Unavailable(anyhow::anyhow!(
                "dead"
            )));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl shared::store::Table for Dying {
    async fn get(
        &self,
        key: &shared::store::Key,
        c: shared::store::Consistency,
    ) -> Result<Option<shared::store::Item>, shared::store::TableError> {
        self.inner.get(key, c).await
    }
    async fn put(
        &self,
        item: shared::store::Item,
        c: Option<shared::store::Condition>,
    ) -> Result<(), shared::store::TableError> {
        self.check()?;
        self.inner.put(item, c).await
    }
    async fn delete(
        &self,
        key: &shared::store::Key,
        c: Option<shared::store::Condition>,
    ) -> Result<(), shared::store::TableError> {
        self.check()?;
        self.inner.delete(key, c).await
    }
    async fn update(
        &self,
        key: &shared::store::Key,
        u: shared::store::Update,
        c: Option<shared::store::Condition>,
    ) -> Result<shared::store::Item, shared::store::TableError> {
        self.check()?;
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
        self.check()?;
        if self.armed.load(Ordering::SeqCst) {
            if self.budget.load(Ordering::SeqCst) == 0 {
                self.dead.store(true, Ordering::SeqCst);
                return Err(shared::store::TableError::Unavailable(anyhow::anyhow!(
                    "died"
                )));
            }
            self.budget.fetch_sub(1, Ordering::SeqCst);
        }
        let commits = ops.iter().any(|op| {
            matches!(op, shared::store::TransactOp::Put { item, .. } if item.key.pk.starts_with("APPT#"))
        });
        if commits && self.after_commit.load(Ordering::SeqCst) {
            self.arm(0);
        }
        self.inner.transact_write(ops).await
    }
}

#[tokio::test]
async fn a_series_that_stops_half_way_leaves_nothing_visible_and_is_given_back() {
    let fixture = embedded_fixture().await.expect("embedded");
    let dying = Arc::new(Dying {
        inner: fixture.table.clone(),
        budget: AtomicUsize::new(0),
        armed: AtomicBool::new(false),
        dead: AtomicBool::new(false),
        after_commit: AtomicBool::new(false),
    });
    let stack = Stack::over(dying.clone());
    let demo = stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    // The function dies after its first transaction (the series record and the first lock
    // units), before the commit.
    let body = series_body(&demo, "2027-01-05T10:00:00-05:00", 16);
    dying.arm(1);
    let (status, _) = stack
        .post(&staff, "dies-1", "/v1/series", body.clone())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    dying.revive();
    // Nothing anybody can list: no appointment on the calendar, none in Jane's list, no message.
    assert!(booked(&stack, &demo).await.is_empty());
    let (_, mine) = stack.get(&jane, "/v1/appointments").await;
    assert_eq!(mine["appointments"], json!([]));
    let (_, series) = stack.get(&jane, "/v1/series").await;
    assert_eq!(series["series"], json!([]));
    // Its units block the first Tuesday like a hold until the sweep gives them back after the
    // two-minute deadline.
    let provider = &demo.providers[0];
    let path = format!(
        "/v1/providers/{provider}/availability?serviceId={}&from=2027-01-05T15:00:00Z&to=2027-01-05T15:30:00Z",
        demo.services[1]
    );
    let (_, free) = stack.get(&jane, &path).await;
    assert_eq!(free["slots"], json!([]), "{free}");
    let event = practica_tests::deployed::fixture("schedule-sweep.json", &[]);
    let done = sweep::run(
        &stack.state,
        &practica_tests::public_calendars(),
        &practica_tests::FixtureProcessor,
        event.clone(),
        "req-early",
    )
    .await
    .expect("sweep");
    assert_eq!(done["seriesReleased"], 0);
    stack.clock.advance(jiff::SignedDuration::from_mins(3));
    let done = sweep::run(
        &stack.state,
        &practica_tests::public_calendars(),
        &practica_tests::FixtureProcessor,
        event,
        "req-late",
    )
    .await
    .expect("sweep");
    assert_eq!(done["seriesReleased"], 1);
    let (_, free) = stack.get(&jane, &path).await;
    assert!(
        free["slots"]
            .to_string()
            .contains("2027-01-05T10:00:00-05:00"),
        "{free}"
    );

    // A 25-week series commits with its first occurrences and dies writing the rest: the retry
    // of the same request finishes it and answers as the first time would have.
    let long = series_body(&demo, "2026-12-01T10:00:00-05:00", 25);
    dying.arm_after_commit();
    let (status, _) = stack
        .post(&staff, "dies-2", "/v1/series", long.clone())
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    dying.revive();
    let (_, mine) = stack.get(&jane, "/v1/appointments").await;
    let partial = mine["appointments"].as_array().map_or(0, Vec::len);
    assert!(partial > 0 && partial < 25, "{partial} of 25 visible");
    let (status, done) = stack.post(&staff, "dies-2", "/v1/series", long).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    assert_eq!(starts(&done).len(), 25);
    let (_, mine) = stack.get(&jane, "/v1/appointments").await;
    assert_eq!(mine["appointments"].as_array().map(Vec::len), Some(25));
}
