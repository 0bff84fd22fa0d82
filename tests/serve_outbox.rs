//! Under `practica serve` (the real local stack on a loopback port, real time, its own background
//! jobs): a booking, a waitlist offer and a payment each leave their message in the local mailbox,
//! which `practica outbox` lists.

use std::time::Duration;

use practica_cli::sandbox::Completion;
use serde_json::{Value, json};
use shared::adapters::local_issuer::LocalIssuer;
use shared::auth::{Role, Subject};
// `practica serve` runs on the system clock, so its tokens are dated by it.
use domain::clock::{Clock as _, SystemClock};

struct Local {
    base: String,
    issuer: LocalIssuer,
    client: reqwest::Client,
}

impl Local {
    fn token(&self, sub: &str, role: Role) -> String {
        let subject = Subject::parse(sub).unwrap();
        self.issuer
            .mint(
                &subject,
                &[role],
                SystemClock.now(),
                Duration::from_secs(600),
            )
            .unwrap()
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .client
            .request(method.parse().unwrap(), format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("idempotency-key", ulid::Ulid::new().to_string());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// Waits (up to 20 s: serve delivers every 2 s) until the mailbox lists a message of `kind` to `to`.
async fn mailed(data: &std::path::Path, kind: &str, to: &str) -> String {
    for _ in 0..100 {
        let lines = practica_cli::serve::outbox(data).unwrap();
        if let Some(line) = lines
            .iter()
            .find(|l| l.contains(&format!(" {kind} ")) && l.contains(to))
        {
            return line.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "no {kind} to {to} in the mailbox: {:?}",
        practica_cli::serve::outbox(data).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn booking_a_waitlist_offer_and_a_payment_each_leave_a_message_in_the_mailbox() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let demo = practica_cli::serve::seed(data).await.unwrap();
    let (listener, app) = practica_cli::serve::bind(0, data).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let local = Local {
        base: format!("http://127.0.0.1:{port}"),
        issuer: LocalIssuer::open_or_create(data).unwrap(),
        client: reqwest::Client::new(),
    };
    let jane = local.token("patient-jane", Role::Patient);
    let john = local.token("patient-john", Role::Patient);
    let staff = local.token("staff-1", Role::Staff);
    let provider = demo.providers[0].to_string();
    let service = demo.services[1].to_string();

    // A slot two to nine days ahead (outside the 24-hour cut-off, so Jane may cancel it).
    let now = jiff::Timestamp::now();
    let from = now + jiff::SignedDuration::from_hours(48);
    let to = now + jiff::SignedDuration::from_hours(9 * 24);
    let (status, slots) = local
        .send(
            "GET",
            &format!(
                "/v1/providers/{provider}/availability?serviceId={service}&from={from}&to={to}"
            ),
            &jane,
            None,
        )
        .await;
    assert_eq!(status, 200, "{slots}");
    let start = slots["slots"][0].as_str().unwrap().to_owned();
    let (status, appt) = local
        .send(
            "POST",
            "/v1/appointments",
            &jane,
            Some(json!({"providerId": provider, "serviceId": service, "start": start})),
        )
        .await;
    assert_eq!(status, 201, "{appt}");
    let line = mailed(data, "confirmation", "jane.demo@example.org").await;
    assert!(line.contains("is booked"), "{line}");

    // John registers, turns email on and waits for that time; Jane cancels: John is offered it.
    let (status, body) = local
        .send(
            "PUT",
            "/v1/patients/me",
            &john,
            Some(json!({"name": "John Waiting", "dateOfBirth": "1975-02-03",
                "phone": "+1 555 0100 456", "email": "john@example.org"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = local
        .send(
            "PUT",
            "/v1/patients/me/notifications",
            &john,
            Some(json!({"email": true, "sms": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = local
        .send(
            "POST",
            "/v1/waitlist",
            &john,
            Some(json!({"providerId": provider, "serviceId": service,
                "from": from.to_string(), "to": to.to_string()})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = appt["id"].as_str().unwrap();
    let (status, body) = local
        .send(
            "POST",
            &format!("/v1/appointments/{id}/cancel"),
            &jane,
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    mailed(data, "cancelled", "jane.demo@example.org").await;
    let offer = mailed(data, "waitlist_offer", "john@example.org").await;
    assert!(offer.contains("A time opened up"), "{offer}");

    // Staff post a charge, Jane pays it through the sandbox's signed webhooks: a receipt notice.
    let (status, body) = local
        .send(
            "POST",
            "/v1/charges",
            &staff,
            Some(json!({"patientId": "patient-jane", "currency": "USD",
                "lineItems": [{"description": "Follow-up visit", "amount": 9000}]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, intent) = local
        .send(
            "POST",
            "/v1/payment-intents",
            &jane,
            Some(json!({"currency": "USD"})),
        )
        .await;
    assert_eq!(status, 201, "{intent}");
    let pi = intent["processorIntentId"].as_str().unwrap();
    practica_cli::serve::pay(data, port, pi, Completion::Succeed { avs_fail: false })
        .await
        .unwrap();
    let receipt = mailed(data, "receipt", "jane.demo@example.org").await;
    assert!(
        receipt.contains("A receipt from") && receipt.contains("Riverside Family Therapy"),
        "{receipt}"
    );
    // The message files hold no amounts and no reason, and are the user's alone.
    for entry in std::fs::read_dir(data.join("mailbox")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("9000") && !text.contains("90.00"), "{text}");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{}", path.display());
    }
}
