//! Webhook benchmark (`scripts/bench`):
//! 1. verification throughput: our verifier (signature check + reading the event) against the
//!    official Stripe Python library's `Webhook.construct_event` (which also checks and parses),
//!    on the same signed payloads, in one run; the Python interpreter is `PRACTICA_STRIPE_PYTHON`;
//! 2. p50/p99 of a full webhook request through the router (verify, read, dedupe, merge, one
//!    transaction with receipt, payment and audit record), on the embedded store.

use std::time::{Duration, Instant};

use practica_cli::sandbox::{self, Completion};
use practica_tests::{Stack, TEST_NOW, TEST_STRIPE_SECRETS, percentile};
use serde_json::json;
use shared::auth::Role;
use shared::web::webhooks::signature::{WebhookSecrets, verify_stripe};

const PAYLOADS: usize = 2_000;
const ROUNDS: usize = 5;
const REQUESTS: usize = 400;

/// A Stripe-sized event (about 2 KB, as a charge event with its card details).
fn payload(i: usize) -> Vec<u8> {
    json!({
        "id": format!("evt_bench_{i:08}"), "object": "event", "api_version": "2024-06-20",
        "created": TEST_NOW, "livemode": false, "type": "charge.succeeded",
        "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "data": {"object": {
            "id": format!("ch_bench_{i:08}"), "object": "charge", "amount": 15000, "amount_captured": 15000,
            "amount_refunded": 0, "currency": "usd", "captured": true, "paid": true, "status": "succeeded",
            "payment_intent": "pi_bench_000001", "balance_transaction": "txn_3MmlLrLkdIwHu7ix0uke3Ezy",
            "billing_details": {"address": {"city": null, "country": "US", "line1": null, "line2": null,
                "postal_code": "10001", "state": null}, "email": null, "name": null, "phone": null},
            "outcome": {"network_status": "approved_by_network", "reason": null, "risk_level": "normal",
                "risk_score": 32, "seller_message": "Payment complete.", "type": "authorized"},
            "payment_method": "pm_1MmlLrLkdIwHu7ixIJwEWSNR",
            "payment_method_details": {"type": "card", "card": {"brand": "visa", "country": "US",
                "exp_month": 3, "exp_year": 2030, "fingerprint": "mToisGZ01V71BCos", "funding": "credit",
                "last4": "4242", "network": "visa", "three_d_secure": null,
                "checks": {"address_line1_check": null, "address_postal_code_check": "pass", "cvc_check": "pass"}}},
            "metadata": {"practica_payment": "pay_01KAW0D6BZ0000000000000000"},
            "receipt_url": "https://pay.stripe.com/receipts/payment/CAcaFwoVYWNjdF8xTTJKVGtMa2RJd0h1N2l4KOvG06AGMgZfBXyr1aw6LBa9vaaSRWU96d8qBwz9z2J_CObiV_H2-e8RezSK_sw0KISesp4czsOUlVKY",
            "refunded": false, "refunds": {"object": "list", "data": [], "has_more": false, "total_count": 0,
                "url": "/v1/charges/ch_bench/refunds"},
            "statement_descriptor": null, "transfer_group": null
        }}
    })
    .to_string()
    .into_bytes()
}

fn ours(signed: &[(Vec<u8>, String)], secrets: &WebhookSecrets, now: i64) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for (body, header) in signed {
            verify_stripe(Some(header), body, secrets, now, 300).expect("verifies");
            let event = shared::web::webhooks::events::stripe(body).expect("reads");
            std::hint::black_box(event);
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    signed.len() as f64 / best
}

const PYTHON: &str = r#"
import json, sys, time, stripe
data = json.load(open(sys.argv[1]))
best = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    for p in data["payloads"]:
        stripe.Webhook.construct_event(p["payload"], p["header"], data["secret"], tolerance=300)
    best = min(best, time.perf_counter() - start)
print(len(data["payloads"]) / best)
"#;

fn python(signed: &[(Vec<u8>, String)], secret: &str) -> Option<(f64, String)> {
    let Ok(interpreter) = std::env::var("PRACTICA_STRIPE_PYTHON") else {
        println!(
            "webhook verify: PRACTICA_STRIPE_PYTHON not set; run scripts/bench for the comparison"
        );
        return None;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("payloads.json");
    let payloads: Vec<_> = signed
        .iter()
        .map(|(b, h)| json!({"payload": String::from_utf8_lossy(b), "header": h}))
        .collect();
    std::fs::write(
        &file,
        json!({"secret": secret, "payloads": payloads}).to_string(),
    )
    .expect("write");
    let version = std::process::Command::new(&interpreter)
        .args(["-c", "import stripe; print(stripe.VERSION)"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let out = std::process::Command::new(&interpreter)
        .args([
            "-c",
            PYTHON,
            file.to_str().expect("utf-8 path"),
            &ROUNDS.to_string(),
        ])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rate = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a rate");
    Some((rate, version))
}

async fn through_the_router() -> (Vec<Duration>, Vec<Duration>) {
    let stack = Stack::embedded();
    stack.seed().await;
    let staff = stack.token("staff-1", &[Role::Staff]);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let body = json!({"patientId": "patient-jane", "currency": "USD",
        "lineItems": [{"description": "Visit", "amount": 1_000_000}]});
    let (status, _, _) = stack
        .send(
            "POST",
            "/v1/charges",
            Some(&staff),
            Some("bench-charge"),
            Some(body),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, created) = stack
        .send(
            "POST",
            "/v1/payment-intents",
            Some(&jane),
            Some("bench-intent"),
            Some(json!({"currency": "USD"})),
        )
        .await;
    assert_eq!(status, 201);
    let intents = sandbox::load(&stack.sandbox_file).await.expect("sandbox");
    let intent = intents
        .iter()
        .find(|i| Some(i.id.as_str()) == created["processorIntentId"].as_str())
        .expect("intent");
    let secrets = WebhookSecrets::stripe(TEST_STRIPE_SECRETS).expect("secrets");
    let mut applied = Vec::with_capacity(REQUESTS);
    let mut duplicates = Vec::with_capacity(REQUESTS);
    for i in 0..REQUESTS {
        // Each a new event that changes the payment: a growing cumulative refund.
        let body = sandbox::events(
            intent,
            &Completion::Refund {
                refunded: (i as i64 + 1) * 100,
            },
            TEST_NOW,
        )
        .remove(0);
        let header = secrets.sign_stripe(TEST_NOW, &body);
        for timings in [&mut applied, &mut duplicates] {
            let start = Instant::now();
            let (status, _, reply) = stack
                .post_raw(
                    "/v1/webhooks/stripe",
                    &[("stripe-signature", &header)],
                    body.clone(),
                )
                .await;
            timings.push(start.elapsed());
            assert_eq!(status, 200, "{reply}");
        }
    }
    applied.sort();
    duplicates.sort();
    (applied, duplicates)
}

fn main() {
    let secret = TEST_STRIPE_SECRETS.split(',').next().expect("a secret");
    let secrets = WebhookSecrets::stripe(TEST_STRIPE_SECRETS).expect("secrets");
    // Signed now: the Python library checks the tolerance against the system clock.
    let now = jiff::Timestamp::now().as_second();
    let signer = WebhookSecrets::stripe(secret).expect("secret");
    let signed: Vec<(Vec<u8>, String)> = (0..PAYLOADS)
        .map(|i| {
            let body = payload(i);
            let header = signer.sign_stripe(now, &body);
            (body, header)
        })
        .collect();
    let rate = ours(&signed, &secrets, now);
    println!(
        "webhook verify+read, ours: {rate:.0} events/s ({PAYLOADS} payloads of ~{} bytes, best of {ROUNDS}; two secrets configured)",
        signed[0].0.len()
    );
    if let Some((py, version)) = python(&signed, secret) {
        println!(
            "webhook verify+read, stripe-python {version} Webhook.construct_event: {py:.0} events/s"
        );
        println!("webhook verify ratio ours/stripe-python: {:.1}x", rate / py);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (applied, duplicates) = runtime.block_on(through_the_router());
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "webhook request through the router, applied (embedded store): p50 {:.1} µs, p99 {:.1} µs ({REQUESTS} requests)",
        us(percentile(&applied, 0.5)),
        us(percentile(&applied, 0.99))
    );
    println!(
        "webhook request through the router, redelivered duplicate: p50 {:.1} µs, p99 {:.1} µs",
        us(percentile(&duplicates, 0.5)),
        us(percentile(&duplicates, 0.99))
    );
}
