//! Payments through the routers: charges, balances, payment intents (sandbox and Stripe on a mock
//! server), and processor webhooks (signatures, redelivery, order, faults, refunds).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use practica_cli::sandbox::{self, Completion, SandboxIntent};
use practica_tests::{Stack, TEST_NOW, TEST_STANDARD_SECRETS, TEST_STRIPE_SECRETS};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::store::{
    Condition, Consistency, Item, Key, Page, Query, Table, TableError, TransactOp, Update,
};
use shared::web::webhooks::signature::WebhookSecrets;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const JANE: &str = "patient-jane";

fn staff(stack: &Stack) -> String {
    stack.token("staff-1", &[Role::Staff])
}

fn jane(stack: &Stack) -> String {
    stack.token(JANE, &[Role::Patient])
}

fn key() -> String {
    ulid::Ulid::new().to_string()
}

/// Posts a charge for Jane; returns the reply.
async fn charge(stack: &Stack, body: Value) -> (u16, Value) {
    let (status, _, reply) = stack
        .send(
            "POST",
            "/v1/charges",
            Some(&staff(stack)),
            Some(&key()),
            Some(body),
        )
        .await;
    (status.as_u16(), reply)
}

fn visit(amount: i64) -> Value {
    json!({"patientId": JANE, "currency": "USD",
        "lineItems": [{"description": "Individual psychotherapy, 60 min: anxiety follow-up", "amount": amount}]})
}

async fn balance(stack: &Stack) -> Value {
    let (status, _, body) = stack
        .send("GET", "/v1/balance", Some(&jane(stack)), None, None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn usd(body: &Value) -> Value {
    body["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["currency"] == "USD")
        .cloned()
        .unwrap_or(Value::Null)
}

async fn intent(stack: &Stack, body: Value) -> (u16, Value) {
    let (status, _, reply) = stack
        .send(
            "POST",
            "/v1/payment-intents",
            Some(&jane(stack)),
            Some(&key()),
            Some(body),
        )
        .await;
    (status.as_u16(), reply)
}

async fn sandbox_intent(stack: &Stack, id: &str) -> SandboxIntent {
    sandbox::load(&stack.sandbox_file)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.id == id)
        .expect("the sandbox created this intent")
}

fn stripe_headers(secrets: &str, at: i64, body: &[u8]) -> String {
    WebhookSecrets::stripe(secrets)
        .unwrap()
        .sign_stripe(at, body)
}

/// Delivers a Stripe event signed with the newest test secret at the stack's time.
async fn deliver(stack: &Stack, body: &[u8]) -> (u16, Value) {
    let sig = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW, body);
    let (status, _, reply) = stack
        .post_raw(
            "/v1/webhooks/stripe",
            &[
                ("stripe-signature", &sig),
                ("content-type", "application/json"),
            ],
            body.to_vec(),
        )
        .await;
    (status.as_u16(), reply)
}

/// A seeded stack with a 15000-cent charge and a sandbox intent for all of it.
async fn with_intent(stack: &Stack) -> (Value, SandboxIntent) {
    stack.seed().await;
    assert_eq!(charge(stack, visit(15000)).await.0, 201);
    let (status, created) = intent(stack, json!({"currency": "USD"})).await;
    assert_eq!(status, 201, "{created}");
    let sandboxed = sandbox_intent(stack, created["processorIntentId"].as_str().unwrap()).await;
    (created, sandboxed)
}

async fn flow(stack: Stack) {
    stack.seed().await;
    let (status, first) = charge(
        &stack,
        json!({"patientId": JANE, "currency": "USD", "lineItems": [
            {"description": "Initial assessment", "amount": 12000},
            {"description": "Questionnaire scoring", "amount": 3000}]}),
    )
    .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["total"], 15000);
    // A correction is an adjusting entry; the original charge is never changed.
    let (status, adjustment) = charge(
        &stack,
        json!({"patientId": JANE, "currency": "USD", "adjusts": first["id"],
            "lineItems": [{"description": "Sliding-scale discount", "amount": -2000}]}),
    )
    .await;
    assert_eq!(status, 201, "{adjustment}");
    assert_eq!(usd(&balance(&stack).await)["balance"], 13000);

    let (status, created) = intent(&stack, json!({"currency": "USD"})).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["amount"],
        json!({"amount": 13000, "currency": "USD"})
    );
    assert_eq!(created["status"], "requires_payment");
    assert!(
        created["clientSecret"]
            .as_str()
            .unwrap()
            .contains("_secret_")
    );
    let pi = sandbox_intent(&stack, created["processorIntentId"].as_str().unwrap()).await;

    let paid = sandbox::events(&pi, &Completion::Succeed { avs_fail: true }, TEST_NOW);
    let (status, reply) = deliver(&stack, &paid[0]).await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("applied")));
    // The intent's own `succeeded` tells nothing new after the charge's.
    let (status, reply) = deliver(&stack, &paid[1]).await;
    assert_eq!(
        (status, reply["outcome"].as_str()),
        (200, Some("unchanged"))
    );
    let after = balance(&stack).await;
    assert_eq!(
        usd(&after),
        json!({"currency": "USD", "charged": 13000, "paid": 13000, "refunded": 0, "disputed": 0, "balance": 0, "processing": 0})
    );
    // The patient is told a receipt is available, once (the intent's own event added nothing).
    let receipts = |kind| {
        let stack = &stack;
        async move {
            practica_tests::waiting_messages(&stack.state)
                .await
                .iter()
                .filter(|m| m.kind == kind)
                .count()
        }
    };
    assert_eq!(receipts(domain::notify::Kind::Receipt).await, 1);
    let payment = &after["payments"][0];
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(
        payment["cardChecks"],
        json!({"addressLine1": "fail", "postalCode": "fail", "cvc": "pass"})
    );
    // Refunds, partial then full, put the amount back on the balance.
    let refund = |total| sandbox::events(&pi, &Completion::Refund { refunded: total }, TEST_NOW);
    assert_eq!(deliver(&stack, &refund(4000)[0]).await.0, 200);
    assert_eq!(usd(&balance(&stack).await)["balance"], 4000);
    assert_eq!(deliver(&stack, &refund(13000)[0]).await.0, 200);
    let refunded = usd(&balance(&stack).await);
    assert_eq!(
        (refunded["refunded"].clone(), refunded["balance"].clone()),
        (json!(13000), json!(13000))
    );
    // One refund notice per refund that moved money back.
    assert_eq!(receipts(domain::notify::Kind::Refund).await, 2);
    assert_eq!(receipts(domain::notify::Kind::Receipt).await, 1);
}

#[tokio::test]
async fn charge_intent_pay_refund_on_the_embedded_store() {
    flow(Stack::embedded()).await;
}

#[tokio::test]
async fn charge_intent_pay_refund_on_moto() {
    if let Some(stack) = Stack::on(practica_tests::moto_fixture().await).await {
        flow(stack).await;
    }
}

#[tokio::test]
async fn charge_intent_pay_refund_on_dynamodb_local() {
    if let Some(stack) = Stack::on(practica_tests::dynamodb_local_fixture().await).await {
        flow(stack).await;
    }
}

#[tokio::test]
async fn a_declined_payment_records_its_codes_and_leaves_the_balance() {
    let stack = Stack::embedded();
    let (_, pi) = with_intent(&stack).await;
    let fail = Completion::Fail {
        decline_code: "insufficient_funds".into(),
    };
    for body in sandbox::events(&pi, &fail, TEST_NOW) {
        assert_eq!(deliver(&stack, &body).await.0, 200);
    }
    let after = balance(&stack).await;
    assert_eq!(usd(&after)["balance"], 15000);
    assert_eq!(after["payments"][0]["status"], "failed");
    assert_eq!(
        after["payments"][0]["failure"],
        json!({"code": "card_declined", "declineCode": "insufficient_funds"})
    );
}

#[tokio::test]
async fn redelivery_and_late_events_change_nothing() {
    let stack = Stack::embedded();
    let (_, pi) = with_intent(&stack).await;
    let events = sandbox::events(&pi, &Completion::Succeed { avs_fail: false }, TEST_NOW);
    for body in &events {
        assert_eq!(deliver(&stack, body).await.0, 200);
    }
    let before = stack.scan().await;
    for body in &events {
        let (status, reply) = deliver(&stack, body).await;
        assert_eq!(
            (status, reply["outcome"].as_str()),
            (200, Some("duplicate"))
        );
    }
    assert_eq!(stack.scan().await, before);
    // A `processing` sent late (new event id, older news): recorded as received, payment unchanged.
    let late = json!({"id": "evt_late_processing", "type": "payment_intent.processing", "created": TEST_NOW - 60,
        "data": {"object": {"id": pi.id, "amount": pi.amount, "currency": pi.currency}}});
    let (status, reply) = deliver(&stack, late.to_string().as_bytes()).await;
    assert_eq!(
        (status, reply["outcome"].as_str()),
        (200, Some("unchanged"))
    );
    assert_eq!(balance(&stack).await["payments"][0]["status"], "succeeded");
}

fn event(id: &str, kind: &str, created: i64, object: Value) -> Vec<u8> {
    json!({"id": id, "object": "event", "type": kind, "created": created, "data": {"object": object}})
        .to_string()
        .into_bytes()
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for i in 0..=p.len() {
            let mut q = p.clone();
            q.insert(i, n - 1);
            out.push(q);
        }
    }
    out
}

#[tokio::test]
async fn every_delivery_order_ends_in_the_same_payment() {
    let mut finals = Vec::new();
    for order in permutations(4) {
        let stack = Stack::embedded();
        let (_, pi) = with_intent(&stack).await;
        let pi_object = |status: &str| json!({"id": pi.id, "amount": 15000, "currency": "usd", "status": status});
        let charge = |refunded: i64, checks: &str| {
            json!({"id": "ch_1", "payment_intent": pi.id, "amount": 15000,
            "amount_refunded": refunded, "currency": "usd",
            "payment_method_details": {"card": {"brand": "mastercard", "last4": "4444", "exp_month": 12,
                "checks": {"address_line1_check": checks, "address_postal_code_check": "pass", "cvc_check": "pass"}}}})
        };
        let set = [
            event(
                "evt_1",
                "payment_intent.processing",
                TEST_NOW - 40,
                pi_object("processing"),
            ),
            event(
                "evt_2",
                "charge.succeeded",
                TEST_NOW - 30,
                charge(0, "pass"),
            ),
            event(
                "evt_3",
                "payment_intent.succeeded",
                TEST_NOW - 30,
                pi_object("succeeded"),
            ),
            event(
                "evt_4",
                "charge.refunded",
                TEST_NOW - 10,
                charge(5000, "pass"),
            ),
        ];
        for &i in &order {
            let (status, reply) = deliver(&stack, &set[i]).await;
            assert_eq!(status, 200, "{order:?}: {reply}");
        }
        let after = balance(&stack).await;
        let mut payment = after["payments"][0].clone();
        payment.as_object_mut().unwrap().remove("id");
        payment.as_object_mut().unwrap().remove("processorIntentId");
        payment.as_object_mut().unwrap().remove("createdAt");
        finals.push((payment, usd(&after)));
    }
    assert_eq!(finals.len(), 24);
    let (payment, totals) = &finals[0];
    assert_eq!(payment["status"], "succeeded");
    assert_eq!(payment["refunded"], 5000);
    assert_eq!(totals["balance"], 5000);
    // The receipt names the card by brand and last four, and no more of it.
    assert_eq!(
        payment["card"],
        json!({"brand": "mastercard", "last4": "4444"})
    );
    assert!(!payment.to_string().contains("exp_month") && !payment.to_string().contains("\"12\""));
    assert!(finals.iter().all(|f| f == &finals[0]));
}

/// Events for one payment arriving at once: each merges on a fresh read and lands (a version
/// conflict means "merge again"), and the result is the same as one at a time.
async fn concurrent_events(stack: Stack) {
    let (_, pi) = with_intent(&stack).await;
    let mut set = sandbox::events(&pi, &Completion::Succeed { avs_fail: true }, TEST_NOW);
    for refunded in [1000, 2000, 3000, 4000] {
        set.extend(sandbox::events(
            &pi,
            &Completion::Refund { refunded },
            TEST_NOW,
        ));
    }
    let stack = Arc::new(stack);
    let tasks: Vec<_> = set
        .into_iter()
        .map(|body| {
            let stack = stack.clone();
            tokio::spawn(async move { deliver(&stack, &body).await })
        })
        .collect();
    for task in tasks {
        let (status, reply) = task.await.unwrap();
        assert_eq!(status, 200, "{reply}");
    }
    let after = balance(&stack).await;
    assert_eq!(after["payments"][0]["status"], "succeeded");
    assert_eq!(after["payments"][0]["refunded"], 4000);
    assert_eq!(usd(&after)["balance"], 4000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_events_for_one_payment_on_the_embedded_store() {
    concurrent_events(Stack::embedded()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_events_for_one_payment_on_dynamodb_local() {
    if let Some(stack) = Stack::on(practica_tests::dynamodb_local_fixture().await).await {
        concurrent_events(stack).await;
    }
}

/// A webhook case: name, headers, body, expected status and problem code.
type Refusal<'a> = (&'a str, Vec<(&'a str, &'a str)>, Vec<u8>, u16, &'a str);

async fn ledger_payments(stack: &Stack) -> Vec<(String, String)> {
    balance(stack).await["payments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["processorIntentId"].as_str().unwrap().to_owned(),
                p["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_new_checkout_cancels_the_unpaid_one_and_never_one_being_paid() {
    let stack = Stack::embedded();
    let (_, first) = with_intent(&stack).await;
    let (status, second) = intent(&stack, json!({"currency": "USD"})).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["processorIntentId"].as_str().unwrap().to_owned();
    assert_eq!(sandbox_intent(&stack, &first.id).await.status, "canceled");
    let mut payments = ledger_payments(&stack).await;
    payments.sort_by_key(|(id, _)| (id != &first.id, id.clone()));
    assert_eq!(
        payments,
        [
            (first.id.clone(), "canceled".into()),
            (second_id.clone(), "requires_payment".into())
        ]
    );
    // The processor has taken the second payment but its webhook has not arrived: a third checkout
    // must not cancel it (too late) nor take the balance again.
    let mut intents = sandbox::load(&stack.sandbox_file).await.unwrap();
    intents
        .iter_mut()
        .find(|i| i.id == second_id)
        .unwrap()
        .status = "succeeded".into();
    sandbox::store(&stack.sandbox_file, &intents).await.unwrap();
    let before = stack.scan().await;
    let (status, reply) = intent(&stack, json!({"currency": "USD"})).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (409, Some("payment_in_progress"))
    );
    assert_eq!(stack.scan().await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checkouts_leave_at_most_one_payable_intent() {
    let stack = Arc::new(Stack::embedded());
    stack.seed().await;
    assert_eq!(charge(&stack, visit(15000)).await.0, 201);
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let stack = stack.clone();
            tokio::spawn(async move { intent(&stack, json!({"currency": "USD"})).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        let (status, reply) = task.await.unwrap();
        match status {
            201 => created += 1,
            409 => assert_eq!(reply["code"], "balance_changed"),
            other => panic!("{other}: {reply}"),
        }
    }
    assert!(created >= 1);
    let payable: Vec<_> = sandbox::load(&stack.sandbox_file)
        .await
        .unwrap()
        .into_iter()
        .filter(|i| i.status != "canceled")
        .collect();
    let open_in_ledger = ledger_payments(&stack)
        .await
        .into_iter()
        .filter(|(_, status)| status == "requires_payment")
        .count();
    assert_eq!(open_in_ledger, 1);
    // A processor intent created by a request that then lost the race is never recorded and its
    // client secret never handed out; the ledger's one open intent is payable.
    let open = ledger_payments(&stack)
        .await
        .into_iter()
        .find(|(_, s)| s == "requires_payment")
        .unwrap();
    assert!(payable.iter().any(|i| i.id == open.0));
}

#[tokio::test]
async fn signatures_are_checked_before_anything_else() {
    let stack = Stack::embedded();
    let (_, pi) = with_intent(&stack).await;
    let body = sandbox::events(&pi, &Completion::Succeed { avs_fail: false }, TEST_NOW).remove(1);
    let good = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW, &body);
    let mut tampered = body.clone();
    let at = tampered.len() / 2;
    tampered[at] = if tampered[at] == b'1' { b'2' } else { b'1' };
    let wrong = stripe_headers("whsec_notOneOfOursAtAll000", TEST_NOW, &body);
    let stale = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW - 301, &body);
    let future = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW + 301, &body);
    let invalid_json = b"{\"id\": \"evt_x\", \"type\": ".to_vec();
    let invalid_sig = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW, &invalid_json);
    let unknown = event(
        "evt_unknown_pi",
        "payment_intent.succeeded",
        TEST_NOW,
        json!({"id": "pi_not_ours", "amount": 1, "currency": "usd"}),
    );
    let unknown_sig = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW, &unknown);
    let huge = vec![b' '; webhooks::WEBHOOK_MAX_BYTES + 1];
    let huge_sig = stripe_headers(TEST_STRIPE_SECRETS, TEST_NOW, &huge);
    let cases: Vec<Refusal> = vec![
        ("no header", vec![], body.clone(), 400, "signature_missing"),
        (
            "malformed",
            vec![("stripe-signature", "t=abc,v1")],
            body.clone(),
            400,
            "signature_malformed",
        ),
        (
            "wrong secret",
            vec![("stripe-signature", &wrong)],
            body.clone(),
            400,
            "signature_mismatch",
        ),
        (
            "tampered",
            vec![("stripe-signature", &good)],
            tampered,
            400,
            "signature_mismatch",
        ),
        (
            "stale",
            vec![("stripe-signature", &stale)],
            body.clone(),
            400,
            "signature_timestamp_out_of_tolerance",
        ),
        (
            "future",
            vec![("stripe-signature", &future)],
            body.clone(),
            400,
            "signature_timestamp_out_of_tolerance",
        ),
        (
            "too large",
            vec![("stripe-signature", &huge_sig)],
            huge,
            413,
            "payload_too_large",
        ),
        (
            "invalid json",
            vec![("stripe-signature", &invalid_sig)],
            invalid_json,
            400,
            "invalid_event",
        ),
        (
            "unknown payment",
            vec![("stripe-signature", &unknown_sig)],
            unknown,
            404,
            "not_found",
        ),
    ];
    let before = stack.scan().await;
    for (name, headers, body, status, code) in cases {
        let (got, h, reply) = stack.post_raw("/v1/webhooks/stripe", &headers, body).await;
        assert_eq!(
            (got.as_u16(), reply["code"].as_str()),
            (status, Some(code)),
            "{name}"
        );
        assert_eq!(h["content-type"], "application/problem+json", "{name}");
        let after = stack.scan().await;
        assert_eq!(
            practica_tests::without_counters(after),
            before,
            "{name} changed state"
        );
    }
    // Each signature refusal was counted (the report shows them), nothing else.
    let failures = practica_tests::counted(&stack.scan().await, "webhook_signature_failures");
    assert!(failures >= 4, "{failures}");
    // Signed by the secret being rotated out: still accepted.
    let by_old = stripe_headers("whsec_testOldSecretForPractica00", TEST_NOW, &body);
    let (status, _, reply) = stack
        .post_raw(
            "/v1/webhooks/stripe",
            &[("stripe-signature", &by_old)],
            body,
        )
        .await;
    assert_eq!(
        (status.as_u16(), reply["outcome"].as_str()),
        (200, Some("applied"))
    );
}

#[tokio::test]
async fn unknown_event_types_are_acknowledged_and_ignored() {
    let stack = Stack::embedded();
    stack.seed().await;
    let before = stack.scan().await;
    let body = event(
        "evt_c",
        "customer.created",
        TEST_NOW,
        json!({"id": "cus_1", "email": "x@example.org"}),
    );
    let (status, reply) = deliver(&stack, &body).await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("ignored")));
    assert_eq!(stack.scan().await, before);
}

/// Another integration on the same processor account: its intents' events are acknowledged and
/// change nothing (a 404 would be retried by the processor for three days); an intent of ours whose
/// record is not there yet still answers 404, so that the retry applies it.
#[tokio::test]
async fn intents_another_integration_made_are_acknowledged_and_ignored() {
    let stack = Stack::embedded();
    stack.seed().await;
    let before = stack.scan().await;
    let foreign = event(
        "evt_foreign",
        "payment_intent.succeeded",
        TEST_NOW,
        json!({"id": "pi_other_shop", "amount": 2500, "currency": "usd", "metadata": {"order_id": "A-17"}}),
    );
    let (status, reply) = deliver(&stack, &foreign).await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("ignored")));
    assert_eq!(stack.scan().await, before);
    let ours_unknown = event(
        "evt_early",
        "payment_intent.succeeded",
        TEST_NOW,
        json!({"id": "pi_not_yet", "amount": 2500, "currency": "usd", "metadata": {"practica_payment": "pay_01KAQ0000000000000000000AB"}}),
    );
    let (status, _) = deliver(&stack, &ours_unknown).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn standard_webhooks_are_verified_and_applied() {
    let stack = Stack::embedded();
    let (_, pi) = with_intent(&stack).await;
    let body = json!({"type": "payment_intent.succeeded", "timestamp": "2026-11-23T13:00:00Z",
        "data": {"id": pi.id, "amount": 15000, "currency": "usd"}})
    .to_string()
    .into_bytes();
    let secrets = WebhookSecrets::standard(TEST_STANDARD_SECRETS).unwrap();
    let signature = format!(
        "v1,bm90IGEgc2lnbmF0dXJl {}",
        secrets.sign_standard("msg_1", TEST_NOW, &body)
    );
    let ts = TEST_NOW.to_string();
    let headers = [
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", ts.as_str()),
        ("webhook-signature", signature.as_str()),
    ];
    let before = stack.scan().await;
    let mut forged = headers;
    forged[0] = ("webhook-id", "msg_2");
    let (status, _, reply) = stack
        .post_raw("/v1/webhooks/standard", &forged, body.clone())
        .await;
    assert_eq!(
        (status.as_u16(), reply["code"].as_str()),
        (400, Some("signature_mismatch"))
    );
    let after = stack.scan().await;
    assert_eq!(
        practica_tests::counted(&after, "webhook_signature_failures"),
        1
    );
    assert_eq!(practica_tests::without_counters(after), before);
    let (status, _, reply) = stack
        .post_raw("/v1/webhooks/standard", &headers, body.clone())
        .await;
    assert_eq!(
        (status.as_u16(), reply["outcome"].as_str()),
        (200, Some("applied")),
        "{reply}"
    );
    let (_, _, reply) = stack
        .post_raw("/v1/webhooks/standard", &headers, body)
        .await;
    assert_eq!(reply["outcome"], "duplicate");
    assert_eq!(usd(&balance(&stack).await)["balance"], 0);
}

/// A table whose writes fail while `down` is set, as when DynamoDB is unreachable.
struct Outage {
    inner: Arc<dyn Table>,
    down: AtomicBool,
}

impl Outage {
    fn check(&self) -> Result<(), TableError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(TableError::Unavailable(anyhow::anyhow!("injected outage")));
        }
        Ok(())
    }
}

#[async_trait]
impl Table for Outage {
    async fn get(&self, key: &Key, c: Consistency) -> Result<Option<Item>, TableError> {
        self.inner.get(key, c).await
    }
    async fn put(&self, item: Item, condition: Option<Condition>) -> Result<(), TableError> {
        self.check()?;
        self.inner.put(item, condition).await
    }
    async fn delete(&self, key: &Key, condition: Option<Condition>) -> Result<(), TableError> {
        self.check()?;
        self.inner.delete(key, condition).await
    }
    async fn update(&self, key: &Key, u: Update, c: Option<Condition>) -> Result<Item, TableError> {
        self.check()?;
        self.inner.update(key, u, c).await
    }
    async fn query(&self, query: &Query) -> Result<Page, TableError> {
        self.inner.query(query).await
    }
    async fn transact_write(&self, ops: Vec<TransactOp>) -> Result<(), TableError> {
        self.check()?;
        self.inner.transact_write(ops).await
    }
}

#[tokio::test]
async fn a_fault_on_our_side_is_a_5xx_so_the_processor_retries() {
    let dir = tempfile::tempdir().unwrap();
    let inner =
        shared::adapters::embedded::EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
    let table = Arc::new(Outage {
        inner: Arc::new(inner),
        down: AtomicBool::new(false),
    });
    let stack = Stack::over(table.clone());
    let (_, pi) = with_intent(&stack).await;
    let body = sandbox::events(&pi, &Completion::Succeed { avs_fail: false }, TEST_NOW).remove(1);
    table.down.store(true, Ordering::SeqCst);
    let (status, reply) = deliver(&stack, &body).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (503, Some("storage_unavailable"))
    );
    table.down.store(false, Ordering::SeqCst);
    let (status, reply) = deliver(&stack, &body).await;
    assert_eq!((status, reply["outcome"].as_str()), (200, Some("applied")));
    assert_eq!(usd(&balance(&stack).await)["balance"], 0);
}

// ---------------------------------------------------------------------------------------------
// Payment intents against Stripe's API on a mock server

/// Answers as Stripe does for a new intent: a fresh id each time.
struct NewIntent;

impl wiremock::Respond for NewIntent {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let id = format!("pi_mock_{}", ulid::Ulid::new());
        ResponseTemplate::new(200).set_body_json(json!({
            "id": id, "object": "payment_intent", "client_secret": format!("{id}_secret_x"),
            "amount": 1, "currency": "usd", "status": "requires_payment_method"}))
    }
}

async fn stripe_stack() -> (Stack, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(NewIntent)
        .mount(&server)
        .await;
    let mut config = shared::adapters::stripe::StripeConfig::new("sk_test_mock".to_owned().into());
    config.base_url = server.uri();
    let processor = shared::adapters::stripe::StripeProcessor::new(
        config,
        shared::adapters::https::HttpsClient::new(shared::app::CONNECT_TIMEOUT),
    );
    let mut stack = Stack::embedded();
    stack.use_processor(Arc::new(processor));
    stack.seed().await;
    (stack, server)
}

#[tokio::test]
async fn a_retried_request_makes_one_processor_call() {
    let (stack, server) = stripe_stack().await;
    assert_eq!(charge(&stack, visit(15000)).await.0, 201);
    let k = key();
    let token = jane(&stack);
    let send = || {
        stack.send(
            "POST",
            "/v1/payment-intents",
            Some(&token),
            Some(&k),
            Some(json!({"currency": "USD", "amount": 5000})),
        )
    };
    let (first, _, created) = send().await;
    let (second, headers, replayed) = send().await;
    assert_eq!((first.as_u16(), second.as_u16()), (201, 201));
    assert_eq!(replayed, created);
    assert_eq!(headers["idempotent-replayed"], "true");
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let processor_key = received[0].headers["idempotency-key"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(processor_key.starts_with("practica-") && !processor_key.contains(&k));
}

#[tokio::test]
async fn nothing_about_the_patient_reaches_the_processor() {
    let (stack, server) = stripe_stack().await;
    let appointment_reason = "Panic attacks since the divorce";
    let (status, c1) = charge(
        &stack,
        json!({"patientId": JANE, "currency": "USD", "lineItems": [
        {"description": "Psychotherapy for major depressive disorder", "amount": 9000},
        {"description": appointment_reason, "amount": 1000}]}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(charge(&stack, visit(5000)).await.0, 201);
    for body in [
        json!({"currency": "USD"}),
        json!({"currency": "USD", "amount": 100}),
        json!({"currency": "USD", "chargeIds": [c1["id"]]}),
    ] {
        let _ = intent(&stack, body).await;
    }
    let staff_token = staff(&stack);
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/payment-intents",
            Some(&staff_token),
            Some(&key()),
            Some(json!({"currency": "USD", "patientId": JANE, "amount": 200})),
        )
        .await;
    assert_eq!(status, 201);
    let received = server.received_requests().await.unwrap();
    // Four intents; each new checkout cancelled the unpaid one before it.
    let cancels = received
        .iter()
        .filter(|r| r.url.path().ends_with("/cancel"))
        .count();
    assert_eq!((received.len(), cancels), (7, 3));
    let forbidden = [
        "Jane",
        "Demo-Patient",
        "jane.demo",
        "example.org",
        // Her phone and date of birth, whole: a short run of digits ("555") also turns up in
        // random ids now and then.
        "555 0100",
        "5550100",
        "1988-04-12",
        "19880412",
        "depress",
        "Psychotherapy",
        "Panic",
        "divorce",
        "anxiety",
        JANE,
    ];
    for request in &received {
        let text = String::from_utf8(request.body.clone()).unwrap();
        let decoded: Vec<(String, String)> = url_decode(&text);
        for (name, value) in &decoded {
            for word in forbidden {
                assert!(
                    !value.contains(word) && !name.contains(word),
                    "{word} in {name}={value}"
                );
            }
        }
        for header in request.headers.values() {
            let h = header.to_str().unwrap_or_default();
            assert!(!forbidden.iter().any(|w| h.contains(w)), "{h}");
        }
    }
}

fn url_decode(form: &str) -> Vec<(String, String)> {
    form.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (percent(k), percent(v)))
        .collect()
}

fn percent(s: &str) -> String {
    let bytes = s.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn bad_intents_change_nothing_and_never_reach_the_processor() {
    let (stack, server) = stripe_stack().await;
    assert_eq!(charge(&stack, visit(15000)).await.0, 201);
    let before = stack.scan().await;
    let cases = [
        (
            json!({"currency": "USD", "amount": 0}),
            422,
            "invalid_amount",
        ),
        (
            json!({"currency": "USD", "amount": -500}),
            422,
            "invalid_amount",
        ),
        (
            json!({"currency": "USD", "amount": 15001}),
            422,
            "amount_exceeds_balance",
        ),
        (json!({"currency": "EUR"}), 422, "currency_mismatch"),
        (json!({"currency": "XXX"}), 422, "invalid_body"),
        (
            json!({"currency": "USD", "amount": 12.5}),
            422,
            "invalid_body",
        ),
        (
            json!({"currency": "USD", "chargeIds": ["chg_01KAW0D6BZ0000000000000000"]}),
            422,
            "unknown_charge",
        ),
        (
            json!({"currency": "USD", "patientId": "patient-john"}),
            403,
            "forbidden",
        ),
    ];
    for (body, status, code) in cases {
        let (got, reply) = intent(&stack, body.clone()).await;
        assert_eq!(
            (got, reply["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert_eq!(stack.scan().await, before, "{body}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn charges_are_staff_only_and_checked() {
    let stack = Stack::embedded();
    stack.seed().await;
    let (status, first) = charge(&stack, visit(1000)).await;
    assert_eq!(status, 201);
    let before = stack.scan().await;
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/charges",
            Some(&jane(&stack)),
            Some(&key()),
            Some(visit(1)),
        )
        .await;
    assert_eq!(status, 403);
    let bad = [
        (
            json!({"patientId": "patient-nobody", "currency": "USD", "lineItems": [{"description": "x", "amount": 1}]}),
            "unknown_patient",
        ),
        (
            json!({"patientId": JANE, "currency": "USD", "lineItems": []}),
            "invalid_line_items",
        ),
        (
            json!({"patientId": JANE, "currency": "USD", "lineItems": [{"description": " ", "amount": 1}]}),
            "invalid_description",
        ),
        (
            json!({"patientId": JANE, "currency": "USD", "lineItems": [{"description": "x", "amount": -1}]}),
            "invalid_amount",
        ),
        (
            json!({"patientId": JANE, "currency": "USD", "adjusts": first["id"], "lineItems": [{"description": "x", "amount": -1001}]}),
            "adjustment_exceeds_charge",
        ),
        (
            json!({"patientId": JANE, "currency": "EUR", "adjusts": first["id"], "lineItems": [{"description": "x", "amount": -1}]}),
            "currency_mismatch",
        ),
        (
            json!({"patientId": JANE, "currency": "USD", "appointmentId": "apt_01KAW0D6BZ0000000000000000", "lineItems": [{"description": "x", "amount": 1}]}),
            "unknown_appointment",
        ),
    ];
    for (body, code) in bad {
        let (status, reply) = charge(&stack, body.clone()).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (422, Some(code)),
            "{body}"
        );
    }
    assert_eq!(stack.scan().await, before);
    // Another patient's balance is not Jane's to read; staff name the patient.
    let john = stack.token("patient-john", &[Role::Patient]);
    let (status, _, _) = stack
        .send(
            "GET",
            &format!("/v1/balance?patientId={JANE}"),
            Some(&john),
            None,
            None,
        )
        .await;
    assert_eq!(status, 403);
    let (status, _, body) = stack
        .send(
            "GET",
            &format!("/v1/balance?patientId={JANE}"),
            Some(&staff(&stack)),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), usd(&body)["balance"].clone()),
        (200, json!(1000))
    );
}

/// Refunds that fail after being made put their amount back on the balance; a dispute's withdrawn
/// funds are owed again until it is won; in any delivery order, and redeliveries change nothing.
#[tokio::test]
async fn failed_refunds_and_disputes_move_the_balance_in_any_order() {
    let stack = Stack::embedded();
    let (_, pi) = with_intent(&stack).await;
    for body in sandbox::events(&pi, &Completion::Succeed { avs_fail: false }, TEST_NOW) {
        assert_eq!(deliver(&stack, &body).await.0, 200);
    }
    let refund = |id: &str, kind: &str, status: &str| {
        event(
            &format!("evt_{id}_{status}"),
            kind,
            TEST_NOW,
            json!({"id": id, "object": "refund", "amount": 3000, "currency": "usd",
                "payment_intent": pi.id, "status": status}),
        )
    };
    let dispute = |kind: &str, status: &str| {
        event(
            &format!("evt_{}", kind.replace('.', "_")),
            kind,
            TEST_NOW,
            json!({"id": "dp_1", "object": "dispute", "amount": 5000, "currency": "usd",
                "payment_intent": pi.id, "status": status}),
        )
    };
    let refunded_total = sandbox::events(&pi, &Completion::Refund { refunded: 3000 }, TEST_NOW);
    let steps: Vec<(Vec<u8>, i64, i64, i64)> = vec![
        // (event, balance, refunded, disputed) after it
        (refund("re_1", "refund.created", "succeeded"), 3000, 3000, 0),
        (refunded_total[0].clone(), 3000, 3000, 0),
        (refund("re_1", "refund.failed", "failed"), 0, 0, 0),
        (dispute("charge.dispute.created", "needs_response"), 0, 0, 0),
        (
            dispute("charge.dispute.funds_withdrawn", "needs_response"),
            5000,
            0,
            5000,
        ),
        (dispute("charge.dispute.funds_reinstated", "won"), 0, 0, 0),
        (dispute("charge.dispute.closed", "won"), 0, 0, 0),
    ];
    for (body, expected, refunded, disputed) in &steps {
        assert_eq!(deliver(&stack, body).await.0, 200);
        let totals = usd(&balance(&stack).await);
        assert_eq!(
            (&totals["balance"], &totals["refunded"], &totals["disputed"]),
            (&json!(expected), &json!(refunded), &json!(disputed)),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // The same events in reverse order, on another stack: the same end.
    let other = Stack::embedded();
    let (_, pi2) = with_intent(&other).await;
    let rename = |b: &Vec<u8>| {
        String::from_utf8(b.clone())
            .unwrap()
            .replace(&pi.id, &pi2.id)
    };
    for body in sandbox::events(&pi2, &Completion::Succeed { avs_fail: false }, TEST_NOW) {
        assert_eq!(deliver(&other, &body).await.0, 200);
    }
    for (body, ..) in steps.iter().rev() {
        assert_eq!(deliver(&other, rename(body).as_bytes()).await.0, 200);
    }
    let totals = usd(&balance(&other).await);
    assert_eq!(
        (&totals["balance"], &totals["disputed"]),
        (&json!(0), &json!(0))
    );
    // A dispute larger than the payment is refused as inconsistent, and changes nothing.
    let before = stack.scan().await;
    let huge = event(
        "evt_huge",
        "charge.dispute.created",
        TEST_NOW,
        json!({"id": "dp_2", "amount": 999_999, "currency": "usd", "payment_intent": pi.id, "status": "needs_response"}),
    );
    assert_eq!(deliver(&stack, &huge).await.0, 422);
    assert_eq!(
        practica_tests::without_denials(stack.scan().await),
        practica_tests::without_denials(before)
    );
}
