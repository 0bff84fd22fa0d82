//! A card on file through the routers and the sandbox processor's signed webhooks: saving one only
//! under the signed card authorisation (and only by the patient); the card on file when the
//! webhooks say so, named by brand and last four; a late-cancellation fee charged to it by the
//! sweep once (two overlapping runs, a rerun); a newer card replacing it and the old one detached;
//! a declined card leaving the fee owed with the pay-link notice; removing it (a stale one refused,
//! detached at the processor, audited), and a late event that cannot bring it back. On the
//! embedded store and DynamoDB Local.

use std::sync::Arc;

use domain::clock::Clock as _;
use domain::notify::Kind;
use http::StatusCode;
use practica_cli::demo::DEMO_PATIENT;
use practica_cli::sandbox::SandboxProcessor;
use practica_cli::sandbox_cards::TestCard;
use practica_tests::{Stack, audits, dynamodb_local_fixture, waiting_messages};
use serde_json::{Value, json};
use shared::auth::Role;
use shared::payments::collect::{Collected, collect};
use shared::payments::processor::{
    Cancel, DisputeEvidence, Intent, IntentRequest, OffSessionCharge, OffSessionRequest,
    PaymentProcessor, ProcessorError, ProcessorKey, SetupRequest,
};

fn secrets() -> shared::web::webhooks::signature::WebhookSecrets {
    practica_tests::test_webhook_config().stripe
}

/// A setup intent for Jane's card form: its client secret.
async fn start_setup(stack: &Stack, key: &str) -> String {
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let (status, setup) = stack.post(&jane, key, "/v1/cards/setup", json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{setup}");
    setup["clientSecret"].as_str().unwrap().to_owned()
}

/// Saves `card` as Jane would: a setup intent, then the card form (the sandbox's) confirming it.
async fn save_card(stack: &Stack, sandbox: &SandboxProcessor, key: &str, card: TestCard) -> Value {
    let secret = start_setup(stack, key).await;
    confirm_setup(stack, sandbox, &secret, card).await
}

/// The card form confirming a setup begun before; what the API then shows on file.
async fn confirm_setup(
    stack: &Stack,
    sandbox: &SandboxProcessor,
    secret: &str,
    card: TestCard,
) -> Value {
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let sent = sandbox
        .confirm_setup(secret, card, &secrets(), |b, s| {
            stack.post_stripe_event(b, s)
        })
        .await
        .unwrap()
        .expect("a setup to confirm");
    let kinds: Vec<_> = sent
        .iter()
        .map(|(k, status, _)| (k.as_str(), *status))
        .collect();
    assert_eq!(
        kinds,
        [
            ("payment_method.attached", 200),
            ("setup_intent.succeeded", 200)
        ],
        "{sent:?}"
    );
    let (status, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(status, StatusCode::OK, "{shown}");
    shown["card"].clone()
}

/// November `day` (from 31 on, December `day - 30`) at `hour` in New York.
fn at(day: u32, hour: u32) -> String {
    let (month, day) = if day > 30 { (12, day - 30) } else { (11, day) };
    format!("2026-{month:02}-{day:02}T{hour:02}:00:00-05:00")
}

/// The sandbox, except that its next off-session charge answers as if the connection timed out
/// after the processor took it (the charge happened; we never heard).
struct TimesOutOnce {
    sandbox: Arc<SandboxProcessor>,
    armed: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl PaymentProcessor for TimesOutOnce {
    async fn create_intent(&self, r: &IntentRequest) -> Result<Intent, ProcessorError> {
        self.sandbox.create_intent(r).await
    }
    async fn cancel_intent(&self, id: &str, key: &ProcessorKey) -> Result<Cancel, ProcessorError> {
        self.sandbox.cancel_intent(id, key).await
    }
    async fn create_customer(&self, key: &ProcessorKey) -> Result<String, ProcessorError> {
        self.sandbox.create_customer(key).await
    }
    async fn create_setup_intent(&self, r: &SetupRequest) -> Result<Intent, ProcessorError> {
        self.sandbox.create_setup_intent(r).await
    }
    async fn charge_off_session(
        &self,
        r: &OffSessionRequest,
    ) -> Result<OffSessionCharge, ProcessorError> {
        let charged = self.sandbox.charge_off_session(r).await;
        if self.armed.swap(false, std::sync::atomic::Ordering::SeqCst) {
            return Err(ProcessorError::Unavailable(anyhow::anyhow!("timed out")));
        }
        charged
    }
    async fn detach_payment_method(&self, id: &str) -> Result<(), ProcessorError> {
        self.sandbox.detach_payment_method(id).await
    }
    async fn refund(
        &self,
        intent: &str,
        amount: domain::money::Money,
        key: &ProcessorKey,
    ) -> Result<(), ProcessorError> {
        self.sandbox.refund(intent, amount, key).await
    }
    async fn update_dispute(
        &self,
        id: &str,
        e: &DisputeEvidence,
        submit: bool,
    ) -> Result<(), ProcessorError> {
        self.sandbox.update_dispute(id, e, submit).await
    }
}

/// Books the 60-minute policy service on November `day` at 14:00 and, 20 hours before it,
/// cancels it inside the window: its 40.00 USD fee.
async fn late_cancellation(stack: &Stack, service: &str, provider: &str, day: u32) {
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let body = json!({"providerId": provider, "serviceId": service, "start": at(day, 14)});
    let n = day;
    let (status, appt) = stack
        .post(&jane, &format!("book-{n}"), "/v1/appointments", body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    stack.advance_to(&at(day - 1, 18));
    let path = format!("/v1/appointments/{}/cancel", appt["id"].as_str().unwrap());
    let fee = json!({"acceptFee": {"amount": 4000, "currency": "USD"}});
    let (status, cancelled) = stack.post(&jane, &format!("cancel-{n}"), &path, fee).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    assert_eq!(cancelled["fee"]["amount"]["amount"], 4000, "{cancelled}");
}

/// Jane's latest late-cancellation fee's charge id.
async fn latest_fee(stack: &Stack) -> String {
    let staff = stack.token("staff-1", &[Role::Staff]);
    let (_, balance) = stack
        .get(&staff, &format!("/v1/balance?patientId={DEMO_PATIENT}"))
        .await;
    balance["charges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["fee"] == "late_cancellation")
        .max_by_key(|c| c["createdAt"].as_str().unwrap().to_owned())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// What Jane owes in USD.
async fn outstanding(stack: &Stack) -> i64 {
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let (_, balance) = stack.get(&jane, "/v1/balance").await;
    balance["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["currency"] == "USD")
        .map_or(0, |t| t["balance"].as_i64().unwrap())
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let sandbox = stack.sandbox.clone();
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let admin = stack.token("admin-1", &[Role::Admin]);

    // Only the patient saves a card, and only once she signed the card authorisation.
    let (status, refused) = stack
        .post(&staff, "s-staff", "/v1/cards/setup", json!({}))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("forbidden")),
        "{refused}"
    );
    let (status, refused) = stack
        .post(&jane, "s-unsigned", "/v1/cards/setup", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "consent_required", "{refused}");
    assert_eq!(refused["documents"][0]["documentId"], "card", "{refused}");
    let (_, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(shown["card"], Value::Null);
    assert_eq!(shown["authorisation"]["signed"], false);
    let version = shown["authorisation"]["versionHash"].clone();
    let sign = json!({"versionHash": version, "typedName": "Jane Demo-Patient", "agree": true});
    let (status, signed) = stack
        .post(&jane, "sign-card", "/v1/consents/card/sign", sign)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{signed}");

    // Saved: on file once the webhooks said so, as brand and last four only.
    let card = save_card(&stack, &sandbox, "s-1", TestCard::Succeeds).await;
    assert_eq!(card["brand"], "visa", "{card}");
    assert_eq!(card["last4"], "4242", "{card}");
    assert_eq!(card["authorisationVersion"], version, "{card}");
    let first = card["paymentMethodId"].as_str().unwrap().to_owned();
    // Staff see it too; a replayed setup request answers as the first did.
    let (_, seen) = stack
        .get(&staff, &format!("/v1/cards?patientId={DEMO_PATIENT}"))
        .await;
    assert_eq!(seen["card"], card);

    // A service with a late-cancellation fee (40% of 100.00 USD inside 24 hours).
    let service = json!({"name": "Assessment", "durationMinutes": 60, "price": {"amount": 10_000, "currency": "USD"},
        "providerIds": [demo.providers[0]], "cancellationPolicy": {"lateWindowHours": 24, "lateCancellationFee": {"percent": 40}}});
    let (status, service) = stack.post(&admin, "svc", "/v1/services", service).await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    let service = service["id"].as_str().unwrap().to_owned();
    let provider = demo.providers[0].to_string();

    // Cancelled inside the window: the fee goes on her ledger, and the sweep charges it to the
    // card once, however many runs overlap or follow.
    let before = outstanding(&stack).await;
    late_cancellation(&stack, &service, &provider, 24).await;
    assert_eq!(outstanding(&stack).await - before, 4000);
    let (a, b) = tokio::join!(
        collect(&stack.state, &*sandbox, "run-a"),
        collect(&stack.state, &*sandbox, "run-b")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.fees_charged + b.fees_charged, 1, "{a:?} {b:?}");
    assert_eq!(
        collect(&stack.state, &*sandbox, "run-c").await.unwrap(),
        Collected::default()
    );
    let intents = practica_cli::sandbox::load(&stack.sandbox_file)
        .await
        .unwrap();
    assert_eq!(
        intents.iter().filter(|i| i.status == "succeeded").count(),
        1
    );
    // The processor's events arrive after the charge's record: the fee is paid.
    let delivered = sandbox
        .deliver_pending(&secrets(), |b, s| stack.post_stripe_event(b, s))
        .await
        .unwrap();
    assert_eq!(delivered, 2);
    assert_eq!(outstanding(&stack).await, before);

    // A newer card (one that will be declined) replaces it; the sweep detaches the old one.
    let second = save_card(&stack, &sandbox, "s-2", TestCard::Declines).await;
    assert_eq!(second["last4"], "0341", "{second}");
    let collected = collect(&stack.state, &*sandbox, "run-d").await.unwrap();
    assert_eq!(collected.cards_detached, 1, "{collected:?}");
    // The processor's detach event names a card no longer on file: nothing changes.
    sandbox
        .deliver_pending(&secrets(), |b, s| stack.post_stripe_event(b, s))
        .await
        .unwrap();
    let (_, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(shown["card"], second);

    // Declined: the fee stays owed and she is sent the pay link.
    late_cancellation(&stack, &service, &provider, 25).await;
    let collected = collect(&stack.state, &*sandbox, "run-e").await.unwrap();
    assert_eq!(collected.fees_declined, 1, "{collected:?}");
    sandbox
        .deliver_pending(&secrets(), |b, s| stack.post_stripe_event(b, s))
        .await
        .unwrap();
    assert_eq!(outstanding(&stack).await - before, 4000);
    let waiting = waiting_messages(&stack.state).await;
    assert_eq!(
        waiting
            .iter()
            .filter(|m| m.kind == Kind::CardDeclined)
            .count(),
        1
    );
    let (_, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(
        shown["card"]["lastDeclinedAt"], "2026-11-24T23:00:00Z",
        "{shown}"
    );

    // Removing: a card that is no longer the one on file is refused; the current one is detached
    // at the processor and leaves the file.
    let remove = |pm: &str| json!({"paymentMethodId": pm});
    let (status, refused) = stack
        .post(&jane, "r-stale", "/v1/cards/remove", remove(&first))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("card_changed")),
        "{refused}"
    );
    let pm = second["paymentMethodId"].as_str().unwrap();
    let (status, removed) = stack
        .post(&jane, "r-1", "/v1/cards/remove", remove(pm))
        .await;
    assert_eq!(status, StatusCode::OK, "{removed}");
    let (status, again) = stack
        .post(&jane, "r-1", "/v1/cards/remove", remove(pm))
        .await;
    assert_eq!((status, &again), (StatusCode::OK, &removed));
    let (status, refused) = stack
        .post(&jane, "r-2", "/v1/cards/remove", remove(pm))
        .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("no_card_on_file")),
        "{refused}"
    );
    let (_, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(shown["card"], Value::Null);
    // With no card on file, a fee stays owed for the portal.
    late_cancellation(&stack, &service, &provider, 26).await;
    let collected = collect(&stack.state, &*sandbox, "run-f").await.unwrap();
    assert_eq!(collected, Collected::default());
    assert_eq!(outstanding(&stack).await - before, 8000);

    // A setup begun earlier but confirmed after a newer card was saved (its event late, as the
    // processor may deliver them) never replaces the newer card; the card it saved is detached.
    let sign = json!({"versionHash": version, "typedName": "Jane Demo-Patient", "agree": true});
    let (status, _) = stack
        .post(&jane, "sign-card-2", "/v1/consents/card/sign", sign)
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "still signed: no second signature"
    );
    let early = start_setup(&stack, "s-early").await;
    stack.clock.advance(jiff::SignedDuration::from_secs(60));
    let newer = save_card(&stack, &sandbox, "s-newer", TestCard::Succeeds).await;
    let shown = confirm_setup(&stack, &sandbox, &early, TestCard::Succeeds).await;
    assert_eq!(shown, newer, "the newer card stays on file");
    let collected = collect(&stack.state, &*sandbox, "run-g").await.unwrap();
    assert_eq!(collected.cards_detached, 1, "{collected:?}");

    // A fee she paid from the portal first is not charged to the card again.
    late_cancellation(&stack, &service, &provider, 30).await;
    let fee = latest_fee(&stack).await;
    let pay = json!({"currency": "USD", "chargeIds": [fee]});
    let (status, payment) = stack
        .post(&jane, "pay-fee", "/v1/payment-intents", pay)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let secrets = secrets();
    let paid = sandbox
        .complete(
            practica_cli::sandbox::Which::Id(payment["processorIntentId"].as_str().unwrap()),
            practica_cli::sandbox::Completion::Succeed { avs_fail: false },
            &secrets,
            stack.clock.now().as_second(),
            |b, s| stack.post_stripe_event(b, s),
        )
        .await
        .unwrap();
    assert!(paid.iter().all(|(_, status, _)| *status == 200), "{paid:?}");
    let collected = collect(&stack.state, &*sandbox, "run-h").await.unwrap();
    assert_eq!(collected, Collected::default(), "nothing left to charge");
    assert_eq!(outstanding(&stack).await - before, 8000);

    // A charge the processor took but whose answer never came (a timeout): the next run charges
    // the amount the first fixed, under the same key, so the processor answers with the same
    // intent, even though a waiver changed what is owed meanwhile. One charge, recorded once.
    late_cancellation(&stack, &service, &provider, 31).await;
    let flaky = TimesOutOnce {
        sandbox: sandbox.clone(),
        armed: true.into(),
    };
    let collected = collect(&stack.state, &flaky, "run-timeout").await.unwrap();
    assert_eq!(collected.deferred, 1, "{collected:?}");
    let fee = latest_fee(&stack).await;
    let waive = json!({"patientId": DEMO_PATIENT, "reason": "goodwill"});
    let (status, waived) = stack
        .post(
            &staff,
            "waive-timeout",
            &format!("/v1/charges/{fee}/waive"),
            waive,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{waived}");
    let collected = collect(&stack.state, &flaky, "run-after").await.unwrap();
    assert_eq!(collected.fees_charged, 1, "{collected:?}");
    let intents = practica_cli::sandbox::load(&stack.sandbox_file)
        .await
        .unwrap();
    let for_fee: Vec<_> = intents
        .iter()
        .filter(|i| i.metadata.get("practica_charges").map(String::as_str) == Some(fee.as_str()))
        .collect();
    assert_eq!(for_fee.len(), 1, "one charge at the processor: {for_fee:?}");
    assert_eq!(for_fee[0].amount, 4000);

    // Withdrawing the card authorisation takes the card off file (and to the sweep to detach).
    let withdraw = json!({"typedName": "Jane Demo-Patient", "agree": true});
    let (status, withdrawn) = stack
        .post(
            &jane,
            "withdraw-card",
            "/v1/consents/card/withdraw",
            withdraw,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{withdrawn}");
    let (_, shown) = stack.get(&jane, "/v1/cards").await;
    assert_eq!(shown["card"], Value::Null);
    assert_eq!(shown["authorisation"]["signed"], false);
    let collected = collect(&stack.state, &*sandbox, "run-i").await.unwrap();
    assert_eq!(collected.cards_detached, 1, "{collected:?}");
    let (status, refused) = stack
        .post(&jane, "s-after", "/v1/cards/setup", json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");

    // Each step is in the audit log (the save naming the authorisation's version).
    let Some(items) = stack.scan_if_embedded().await else {
        return;
    };
    let saves = audits(&items, "card.save");
    assert_eq!(saves.len(), 3);
    assert_eq!(audits(&items, "card.remove").len(), 1);
    assert_eq!(audits(&items, "fee.collect").len(), 2);
    assert_eq!(audits(&items, "fee.collect_declined").len(), 1);
    // No card data is stored: only the processor's ids, brand and last four.
    for item in &items {
        let text = format!("{item:?}");
        assert!(
            !text.contains("4242424242424242") && !text.contains("exp_month"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_card_on_file_pays_fees_on_the_embedded_store() {
    journey(Some(Stack::embedded())).await;
}

#[tokio::test]
async fn a_card_on_file_pays_fees_on_dynamodb_local() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}
