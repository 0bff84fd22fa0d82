//! Deposits at booking through the routers, the sandbox processor's signed webhooks and the sweep:
//! a booking that waits for its deposit (its time held, no confirmation sent, not movable); one
//! checkout per appointment however often (or by whom) it is asked for; the webhook confirming it
//! (booked, confirmation queued, audited) and the deposit credited on the ledger; a cancellation in
//! time refunding it once; a late one keeping it as the fee; a no-show keeping it; an unpaid one
//! lapsing (its intent cancelled, its time free, no checkout after); a deposit paid after its time
//! was taken by someone else refunded. On the embedded store and DynamoDB Local.

use domain::notify::Kind;
use http::StatusCode;
use practica_cli::demo::DEMO_PATIENT;
use practica_cli::sandbox::Completion;
use practica_tests::{Stack, audits, dynamodb_local_fixture, waiting_messages};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::payments::deposits::{Settled, settle};

/// November `day` at `hour` in New York.
fn at(day: u32, hour: u32, minute: u32) -> String {
    format!("2026-11-{day:02}T{hour:02}:{minute:02}:00-05:00")
}

async fn pay(stack: &Stack, intent: &str) {
    let paid = Completion::Succeed { avs_fail: false };
    crate::disputes::complete(stack, &stack.sandbox, intent, paid).await;
}

/// The sandbox's queued events (refunds) delivered to the webhook route.
async fn deliver(stack: &Stack) -> usize {
    let secrets = practica_tests::test_webhook_config().stripe;
    stack
        .sandbox
        .deliver_pending(&secrets, |b, s| stack.post_stripe_event(b, s))
        .await
        .unwrap()
}

async fn appointment(stack: &Stack, token: &str, id: &str) -> Value {
    let (status, list) = stack.get(token, "/v1/appointments").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list["appointments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .cloned()
        .unwrap_or(Value::Null)
}

/// What Jane owes in USD (negative: a credit).
async fn balance(stack: &Stack, jane: &str) -> i64 {
    let (_, balance) = stack.get(jane, "/v1/balance").await;
    balance["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["currency"] == "USD")
        .map_or(0, |t| t["balance"].as_i64().unwrap())
}

async fn run(stack: &Stack, id: &str) -> Settled {
    settle(&stack.state, &*stack.sandbox, id).await.unwrap()
}

async fn journey(stack: Option<Stack>) -> Option<Stack> {
    let stack = stack?;
    let demo = stack.seed().await;
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let other = stack.token("patient-other", &[Role::Patient]);
    // The demo's extended session asks a 50.00 USD deposit, kept when cancelled inside 48 hours.
    let (_, services) = stack.get(&jane, "/v1/services").await;
    let extended = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Extended session")
        .unwrap()
        .clone();
    let terms = &extended["cancellationTerms"];
    assert_eq!(terms["deposit"]["amount"], 5000, "{terms}");
    assert_eq!(terms["lateCancellationFee"]["amount"], 5000, "{terms}");
    let words = terms["words"].to_string();
    assert!(
        words.contains("A deposit of 50.00 USD is paid when booking"),
        "{words}"
    );
    let book = |day: u32, hour: u32| {
        json!({"providerId": demo.providers[0], "serviceId": extended["id"], "start": at(day, hour, 0),
            "acceptedPolicyVersion": terms["version"]})
    };

    // Booked: waiting for its deposit, the time held, nothing confirmed yet.
    let (status, waiting) = stack
        .post(&jane, "b-1", "/v1/appointments", book(30, 10))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waiting}");
    assert_eq!(waiting["status"], "awaiting_deposit", "{waiting}");
    assert_eq!(waiting["deposit"]["amount"]["amount"], 5000, "{waiting}");
    assert_eq!(waiting["deposit"]["state"], "awaiting", "{waiting}");
    assert_eq!(
        waiting["deposit"]["dueBy"], "2026-11-23T13:05:00Z",
        "{waiting}"
    );
    let id = waiting["id"].as_str().unwrap().to_owned();
    let confirmations = |messages: &[domain::notify::Message], id: &str| {
        messages
            .iter()
            .filter(|m| {
                m.kind == Kind::Confirmation
                    && m.appointment
                        .as_ref()
                        .is_some_and(|(a, _)| a.as_str() == id)
            })
            .count()
    };
    assert_eq!(confirmations(&waiting_messages(&stack.state).await, &id), 0);
    let (status, taken) = stack
        .post(&other, "o-1", "/v1/appointments", book(30, 10))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{taken}");
    assert_eq!(taken["code"], "slot_taken", "{taken}");
    let path = format!("/v1/appointments/{id}/reschedule");
    let (status, refused) = stack
        .post(&jane, "m-1", &path, json!({"start": at(30, 13, 0)}))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("awaiting_deposit")),
        "{refused}"
    );

    // One checkout per appointment: asked twice (two tabs) and by staff, the same intent; never
    // by another patient.
    let deposit = format!("/v1/appointments/{id}/deposit");
    let (status, first) = stack.post(&jane, "d-1", &deposit, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["amount"]["amount"], 5000, "{first}");
    assert_eq!(first["depositFor"], id.as_str(), "{first}");
    let (status, second) = stack.post(&jane, "d-2", &deposit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let (status, by_staff) = stack.post(&staff, "d-3", &deposit, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{by_staff}");
    for again in [&second, &by_staff] {
        assert_eq!(again["id"], first["id"]);
        assert_eq!(again["processorIntentId"], first["processorIntentId"]);
        assert_eq!(again["clientSecret"], first["clientSecret"]);
    }
    let (status, refused) = stack.post(&other, "d-4", &deposit, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let intents = practica_cli::sandbox::load(&stack.sandbox_file)
        .await
        .unwrap();
    assert_eq!(intents.len(), 1);

    // Paid: the webhook confirms the booking, its confirmation queued once; the deposit is a
    // credit toward the visit's charge.
    let intent = first["processorIntentId"].as_str().unwrap().to_owned();
    pay(&stack, &intent).await;
    let booked = appointment(&stack, &jane, &id).await;
    assert_eq!(booked["status"], "booked", "{booked}");
    assert_eq!(booked["deposit"]["state"], "paid", "{booked}");
    assert_eq!(confirmations(&waiting_messages(&stack.state).await, &id), 1);
    assert_eq!(balance(&stack, &jane).await, -5000);
    let (status, refused) = stack.post(&jane, "d-5", &deposit, json!({})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_deposit_due")),
        "{refused}"
    );
    // The sweep only removes its task.
    assert_eq!(run(&stack, "run-1").await, Settled::default());

    // Cancelled 48 hours or more before: no fee, the deposit refunded once.
    let (status, cancelled) = stack
        .post(
            &jane,
            "c-1",
            &format!("/v1/appointments/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["fee"], Value::Null, "{cancelled}");
    assert_eq!(cancelled["deposit"]["refund"], 5000, "{cancelled}");
    let (a, b) = tokio::join!(run(&stack, "run-2a"), run(&stack, "run-2b"));
    assert_eq!(a.refunded + b.refunded, 1, "{a:?} {b:?}");
    assert_eq!(run(&stack, "run-2c").await, Settled::default());
    assert_eq!(deliver(&stack).await, 1, "one refund, however many runs");
    assert_eq!(balance(&stack, &jane).await, 0);
    let intents = practica_cli::sandbox::load(&stack.sandbox_file)
        .await
        .unwrap();
    assert_eq!(intents[0].refunded, 5000);

    // Not paid in time: the booking lapses, its intent cancelled, its time free again.
    let (_, unpaid) = stack
        .post(&jane, "b-2", "/v1/appointments", book(30, 13))
        .await;
    assert_eq!(unpaid["status"], "awaiting_deposit", "{unpaid}");
    let unpaid_id = unpaid["id"].as_str().unwrap().to_owned();
    let deposit2 = format!("/v1/appointments/{unpaid_id}/deposit");
    let (status, checkout) = stack.post(&jane, "d-6", &deposit2, json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{checkout}");
    assert_eq!(run(&stack, "run-3").await.lapsed, 0, "not due yet");
    stack.advance_to(&at(23, 8, 6));
    assert_eq!(run(&stack, "run-4").await.lapsed, 1);
    let lapsed = appointment(&stack, &jane, &unpaid_id).await;
    assert_eq!(lapsed["status"], "cancelled", "{lapsed}");
    assert_eq!(lapsed["deposit"]["state"], "lapsed", "{lapsed}");
    let intents = practica_cli::sandbox::load(&stack.sandbox_file)
        .await
        .unwrap();
    let cancelled_intent = intents
        .iter()
        .find(|i| i.id == checkout["processorIntentId"].as_str().unwrap())
        .unwrap();
    assert_eq!(cancelled_intent.status, "canceled");
    let (status, refused) = stack.post(&jane, "d-7", &deposit2, json!({})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("deposit_lapsed")),
        "{refused}"
    );

    // Paid after its time was lapsed and taken by someone else: refunded, never confirmed.
    let (_, late) = stack
        .post(&jane, "b-3", "/v1/appointments", book(30, 15))
        .await;
    let late_id = late["id"].as_str().unwrap().to_owned();
    let (_, checkout) = stack
        .post(
            &jane,
            "d-8",
            &format!("/v1/appointments/{late_id}/deposit"),
            json!({}),
        )
        .await;
    stack.advance_to(&at(23, 8, 12));
    let (status, theirs) = stack
        .post(
            &staff,
            "o-2",
            "/v1/appointments",
            json!({"providerId": demo.providers[0],
            "serviceId": demo.services[1], "start": at(30, 15, 0), "patientId": DEMO_PATIENT}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{theirs}");
    pay(&stack, checkout["processorIntentId"].as_str().unwrap()).await;
    let settled = run(&stack, "run-5").await;
    assert_eq!((settled.lapsed, settled.refunded), (1, 1), "{settled:?}");
    assert_eq!(deliver(&stack).await, 1);
    let gone = appointment(&stack, &jane, &late_id).await;
    assert_eq!(gone["status"], "cancelled", "{gone}");

    // Cancelled inside the window: the deposit is kept as the fee; nothing refunded, nothing owed.
    let (_, kept) = stack
        .post(&jane, "b-4", "/v1/appointments", book(25, 10))
        .await;
    let kept_id = kept["id"].as_str().unwrap().to_owned();
    let (_, checkout) = stack
        .post(
            &jane,
            "d-9",
            &format!("/v1/appointments/{kept_id}/deposit"),
            json!({}),
        )
        .await;
    pay(&stack, checkout["processorIntentId"].as_str().unwrap()).await;
    let before = balance(&stack, &jane).await;
    stack.advance_to(&at(24, 9, 0));
    let path = format!("/v1/appointments/{kept_id}/cancel");
    let (status, asked) = stack.post(&jane, "c-2", &path, json!({})).await;
    assert_eq!(
        (status, asked["code"].as_str()),
        (StatusCode::CONFLICT, Some("fee_applies")),
        "{asked}"
    );
    let fee = json!({"acceptFee": {"amount": 5000, "currency": "USD"}});
    let (status, cancelled) = stack.post(&jane, "c-3", &path, fee).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["fee"]["amount"]["amount"], 5000, "{cancelled}");
    assert_eq!(
        cancelled["deposit"]["refund"],
        Value::from(0),
        "{cancelled}"
    );
    assert_eq!(run(&stack, "run-6").await.refunded, 0);
    assert_eq!(balance(&stack, &jane).await, before + 5000);
    assert_eq!(balance(&stack, &jane).await, 0);

    // A no-show keeps it too.
    let (_, missed) = stack
        .post(&jane, "b-5", "/v1/appointments", book(27, 10))
        .await;
    let missed_id = missed["id"].as_str().unwrap().to_owned();
    let (_, checkout) = stack
        .post(
            &jane,
            "d-10",
            &format!("/v1/appointments/{missed_id}/deposit"),
            json!({}),
        )
        .await;
    pay(&stack, checkout["processorIntentId"].as_str().unwrap()).await;
    stack.advance_to(&at(27, 10, 30));
    let (status, marked) = stack
        .post(
            &staff,
            "n-1",
            &format!("/v1/appointments/{missed_id}/attendance"),
            json!({"status": "no_show"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{marked}");
    assert_eq!(marked["fee"]["amount"]["amount"], 5000, "{marked}");
    assert_eq!(balance(&stack, &jane).await, 0);
    assert_eq!(run(&stack, "run-7").await.refunded, 0);

    // Booked by the front desk (no deposit asked): cancelled late, it costs nothing, since the
    // policy's only fee is the deposit she never paid.
    let (status, by_desk) = stack
        .post(
            &staff,
            "b-6",
            "/v1/appointments",
            json!({"providerId": demo.providers[0],
            "serviceId": extended["id"], "start": at(30, 9, 0), "patientId": DEMO_PATIENT}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{by_desk}");
    assert_eq!(by_desk["status"], "booked", "{by_desk}");
    assert_eq!(by_desk["deposit"], Value::Null, "{by_desk}");
    assert_eq!(
        by_desk["cancellationTerms"]["lateCancellationFee"],
        Value::Null,
        "{by_desk}"
    );
    stack.advance_to(&at(29, 1, 0));
    let path = format!(
        "/v1/appointments/{}/cancel",
        by_desk["id"].as_str().unwrap()
    );
    let (status, cancelled) = stack.post(&jane, "c-4", &path, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["fee"], Value::Null, "{cancelled}");
    assert_eq!(balance(&stack, &jane).await, 0);

    if let Some(items) = stack.scan_if_embedded().await {
        assert_eq!(audits(&items, "appointment.confirm").len(), 3);
        assert_eq!(audits(&items, "appointment.lapse").len(), 2);
        assert_eq!(audits(&items, "deposit.refund").len(), 2);
    }
    Some(stack)
}

/// The week's report: four deposits paid (the lapsed one never was), two refunded, two kept (as
/// the late cancellation's and the no-show's fees), as money in its currency.
#[tokio::test]
async fn deposits_confirm_lapse_and_refund_on_the_embedded_store() {
    use crate::reports::{period, published, setup, summary};
    let stack = journey(Some(Stack::embedded())).await.unwrap();
    let s = setup(stack, None);
    s.stack
        .clock
        .advance(jiff::SignedDuration::from_hours(24 * 7));
    s.audit.integrate().await.unwrap();
    let manifest = s
        .job
        .report(&period("2026-11-23", "2026-11-30"))
        .await
        .unwrap();
    let report: Value =
        serde_json::from_slice(&published(&s.job, &manifest.id, "report.json").await).unwrap();
    let rows = summary(&report);
    let row = |name: &str| {
        rows.iter()
            .find(|(n, ..)| n == name)
            .map(|(_, now, _)| now.clone())
            .unwrap_or_else(|| panic!("no row {name}: {rows:?}"))
    };
    assert_eq!(row("deposits paid at booking"), json!(4));
    assert_eq!(row("deposits taken"), json!("200.00 USD"));
    assert_eq!(row("deposits refunded"), json!("100.00 USD"));
    assert_eq!(
        row("deposits kept (fees, or toward visits)"),
        json!("100.00 USD")
    );
}

#[tokio::test]
async fn deposits_confirm_lapse_and_refund_on_dynamodb_local() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}
