//! A disputed fee answered with evidence from the records and the signed audit log: the dispute
//! listed for staff from its webhook; its evidence drafted (the policy's words and version and
//! when they were accepted, the late cancellation and who made it, the confirmation sent, each
//! entry's leaf in the signed log; no service name, no patient name), saved at the processor as a
//! draft, then submitted once; refusals for a submit before the draft, a second submit, a patient.
//! On the embedded store and DynamoDB Local.

use domain::clock::Clock as _;
use http::StatusCode;
use practica_cli::demo::DEMO_PATIENT;
use practica_cli::sandbox::{Completion, SandboxProcessor, Which};
use practica_tests::{Recorder, Stack, audits, delivery, dynamodb_local_fixture};
use serde_json::json;
use shared::adapters::local_signer::LocalSigner;
use shared::auth::Role;

/// Completes a sandbox intent as `how`, its signed events delivered to the webhook route.
pub(crate) async fn complete(
    stack: &Stack,
    sandbox: &SandboxProcessor,
    intent: &str,
    how: Completion,
) {
    let secrets = practica_tests::test_webhook_config().stripe;
    let sent = sandbox
        .complete(
            Which::Id(intent),
            how,
            &secrets,
            stack.clock.now().as_second(),
            |b, s| stack.post_stripe_event(b, s),
        )
        .await
        .unwrap();
    assert!(sent.iter().all(|(_, status, _)| *status == 200), "{sent:?}");
}

async fn journey(stack: Option<Stack>) {
    let Some(stack) = stack else { return };
    let demo = stack.seed().await;
    let sandbox = stack.sandbox.clone();
    let jane = stack.token(DEMO_PATIENT, &[Role::Patient]);
    let staff = stack.token("staff-1", &[Role::Staff]);
    let admin = stack.token("admin-1", &[Role::Admin]);

    // A late cancellation's fee (40.00 USD), paid from the portal.
    let service = json!({"name": "Trauma-focused therapy", "durationMinutes": 60, "price": {"amount": 10_000, "currency": "USD"},
        "providerIds": [demo.providers[0]], "cancellationPolicy": {"lateWindowHours": 24, "lateCancellationFee": {"percent": 40}}});
    let (status, service) = stack.post(&admin, "svc", "/v1/services", service).await;
    assert_eq!(status, StatusCode::CREATED, "{service}");
    let body = json!({"providerId": demo.providers[0], "serviceId": service["id"], "start": "2026-11-24T14:00:00-05:00"});
    let (status, appt) = stack.post(&jane, "book", "/v1/appointments", body).await;
    assert_eq!(status, StatusCode::CREATED, "{appt}");
    // Her confirmation goes out (the evidence names it).
    let recorder = Recorder::new();
    shared::notify::deliver_due(&stack.state, &delivery(&recorder), 100)
        .await
        .unwrap();
    stack.advance_to("2026-11-23T18:00:00-05:00");
    let path = format!("/v1/appointments/{}/cancel", appt["id"].as_str().unwrap());
    let fee = json!({"acceptFee": {"amount": 4000, "currency": "USD"}});
    let (status, cancelled) = stack.post(&jane, "cancel", &path, fee).await;
    assert_eq!(status, StatusCode::OK, "{cancelled}");
    let charge = cancelled["fee"]["chargeId"].clone();
    let pay = json!({"currency": "USD", "chargeIds": [charge]});
    let (status, payment) = stack.post(&jane, "pay", "/v1/payment-intents", pay).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let intent = payment["processorIntentId"].as_str().unwrap();
    complete(
        &stack,
        &sandbox,
        intent,
        Completion::Succeed { avs_fail: false },
    )
    .await;
    let signer = LocalSigner::generate().unwrap();
    practica_tests::seal_log(&stack, &signer).await;

    // She disputes it with her bank: listed for staff (not for her).
    let reason = "product_unacceptable".to_owned();
    complete(&stack, &sandbox, intent, Completion::Dispute { reason }).await;
    let (status, _) = stack.get(&jane, "/v1/disputes").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, listed) = stack.get(&staff, "/v1/disputes").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let dispute = &listed["disputes"][0];
    assert_eq!(dispute["reason"], "product_unacceptable", "{listed}");
    // Staff see whose it is (the processor never does).
    assert_eq!(dispute["patientName"], "Jane Demo-Patient", "{listed}");
    assert_eq!(dispute["evidenceStatus"], "none");
    assert_eq!(dispute["amount"]["amount"], 4000);
    let id = dispute["disputeId"].as_str().unwrap().to_owned();

    // Nothing to submit before a draft.
    let submit = format!("/v1/disputes/{id}/submit");
    let draft = format!("/v1/disputes/{id}/evidence");
    let (status, refused) = stack.post(&staff, "s-early", &submit, json!({})).await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (StatusCode::CONFLICT, Some("evidence_not_drafted"))
    );
    let (status, refused) = stack.post(&jane, "d-jane", &draft, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    // Drafted: from the records and the signed log, with no health information.
    let (status, drafted) = stack.post(&staff, "d-1", &draft, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{drafted}");
    assert_eq!(drafted["evidenceStatus"], "draft");
    let evidence = &drafted["evidence"];
    let disclosure = evidence["cancellation_policy_disclosure"].as_str().unwrap();
    let terms = &appt["cancellationTerms"];
    assert!(
        disclosure.contains(terms["version"].as_str().unwrap()),
        "{disclosure}"
    );
    assert!(
        disclosure
            .contains("Cancelling less than 24 hours before the visit costs a fee of 40.00 USD."),
        "{disclosure}"
    );
    assert!(
        disclosure.contains("shown to the cardholder in the patient portal before she confirmed the booking on 2026-11-23T13:00:00Z"),
        "{disclosure}"
    );
    let rebuttal = evidence["cancellation_rebuttal"].as_str().unwrap();
    assert!(
        rebuttal.contains("was cancelled at 2026-11-23T23:00:00Z by the cardholder, signed in to the practice's patient portal, 20 hours before its start: inside the policy's 24-hour"),
        "{rebuttal}"
    );
    let log = evidence["access_activity_log"].as_str().unwrap();
    assert!(
        log.contains("appointment booked by the cardholder"),
        "{log}"
    );
    assert!(
        log.contains("appointment cancelled by the cardholder"),
        "{log}"
    );
    assert!(log.contains("[audit log leaf "), "{log}");
    assert!(
        log.contains("booking confirmation (stating the cancellation policy) sent by email"),
        "{log}"
    );
    // In time order: booked, confirmed, cancelled.
    let order: Vec<usize> = [
        "appointment booked",
        "booking confirmation",
        "appointment cancelled",
    ]
    .iter()
    .map(|what| log.find(what).unwrap())
    .collect();
    assert!(order.is_sorted(), "{log}");
    assert_eq!(evidence["service_date"], "2026-11-24");
    let text = evidence.to_string();
    for private in ["Trauma", "therapy", "Jane", "Demo-Patient", "jane.demo"] {
        assert!(!text.contains(private), "{private} in {text}");
    }
    // Saved at the processor as a draft.
    let saved = || async {
        practica_cli::sandbox_cards::load(&practica_cli::sandbox_cards::path_beside(
            &stack.sandbox_file,
        ))
        .await
        .unwrap()
        .disputes
    };
    let at_processor = saved().await;
    assert_eq!(at_processor.len(), 1);
    assert!(!at_processor[0].submitted);
    assert_eq!(
        at_processor[0].evidence.cancellation_rebuttal.as_deref(),
        Some(rebuttal)
    );

    // Submitted once, however it is clicked: two submits racing (a double click) are one
    // submission at the processor, one 200 and one 409; a replay answers the same, another submit
    // or draft is refused.
    let (a, b) = tokio::join!(
        stack.post(&staff, "s-1", &submit, json!({})),
        stack.post(&staff, "s-1b", &submit, json!({}))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let (loser, submitted, key) = if a.0 == StatusCode::OK {
        (b.1, a.1, "s-1")
    } else {
        (a.1, b.1, "s-1b")
    };
    assert_eq!(loser["code"], "evidence_submitted", "{loser}");
    assert_eq!(submitted["evidenceStatus"], "submitted");
    let (_, again) = stack.post(&staff, key, &submit, json!({})).await;
    assert_eq!(again, submitted);
    for (key, path) in [("s-2", &submit), ("d-2", &draft)] {
        let (status, refused) = stack.post(&staff, key, path, json!({})).await;
        assert_eq!(
            (status, refused["code"].as_str()),
            (StatusCode::CONFLICT, Some("evidence_submitted")),
            "{path}"
        );
    }
    assert!(saved().await[0].submitted);
    let (_, listed) = stack.get(&staff, "/v1/disputes").await;
    assert_eq!(listed["disputes"][0]["evidenceStatus"], "submitted");

    let Some(items) = stack.scan_if_embedded().await else {
        return;
    };
    assert_eq!(audits(&items, "dispute.evidence_draft").len(), 1);
    assert_eq!(audits(&items, "dispute.evidence_submit").len(), 1);
    assert!(!audits(&items, "dispute.list").is_empty());
}

#[tokio::test]
async fn a_disputed_fee_is_answered_from_the_signed_log_on_the_embedded_store() {
    journey(Some(Stack::embedded())).await;
}

#[tokio::test]
async fn a_disputed_fee_is_answered_from_the_signed_log_on_dynamodb_local() {
    journey(Stack::on(dynamodb_local_fixture().await).await).await;
}
