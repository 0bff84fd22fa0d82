//! The notify function's handler, driven by its `events/` fixtures: a stream record of a new
//! message sends it (and the same batch again sends nothing), the schedule sends reminders as they
//! come due, SES's bounce and complaint events are recorded against the patient, and events no
//! trigger sends are refused as permanent. The SES adapter against moto's SES v2.

use domain::notify::{Channel, Kind};
use http::StatusCode;
use practica_tests::{Emulator, Recorder, Stack, delivery, sdk_config, waiting_messages};
use serde_json::{Value, json};
use shared::adapters::ses::SesEmail;
use shared::adapters::sms::EndUserSms;
use shared::auth::Role;
use shared::notify::{Envelope, Notifier, NotifyError};

fn fixture(name: &str, message: &str) -> Value {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text.replace("{{MESSAGE_ID}}", message)).unwrap()
}

async fn booked(stack: &Stack) {
    let demo = stack.seed().await;
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let body = json!({"providerId": demo.providers[0], "serviceId": demo.services[1],
        "start": "2026-11-24T10:00:00-05:00"});
    let (status, _, a) = stack
        .send(
            "POST",
            "/v1/appointments",
            Some(&jane),
            Some("b"),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
}

#[tokio::test]
async fn the_handler_sends_on_the_stream_once_reminds_on_schedule_and_records_bounces() {
    let stack = Stack::embedded();
    booked(&stack).await;
    let recorder = Recorder::new();
    let job = notify::NotifyJob {
        state: stack.state.clone(),
        delivery: delivery(&recorder),
    };
    let waiting = waiting_messages(&stack.state).await;
    let confirmation = waiting[0].id.to_string();
    let batch = fixture("dynamodb-stream-outbox.json", &confirmation);
    let done = job.run(batch.clone()).await.unwrap();
    assert_eq!(done["batchItemFailures"], json!([]));
    assert_eq!(done["outcomes"], json!(["Sent([Email])"]));
    // The same batch again (a redelivery): nothing more is sent.
    let again = job.run(batch).await.unwrap();
    assert_eq!(again["outcomes"], json!(["AlreadyDone"]));
    assert_eq!(recorder.sent().len(), 1);
    // A reminder's own stream record comes before its time: nothing is sent yet; the schedule
    // sends it when due.
    let reminder = waiting[1].id.to_string();
    let early = job
        .run(fixture("dynamodb-stream-outbox.json", &reminder))
        .await
        .unwrap();
    assert_eq!(early["outcomes"], json!(["NotDue"]));
    let schedule = fixture("schedule-notify.json", "");
    assert_eq!(
        job.run(schedule.clone()).await.unwrap()["outcomes"],
        json!([])
    );
    stack.clock.advance(jiff::SignedDuration::from_hours(2));
    let done = job.run(schedule).await.unwrap();
    assert_eq!(done["outcomes"], json!(["Sent([Email])"]));
    assert_eq!(recorder.sent()[1].kind, Kind::Reminder);

    // SES reports the address bounced: recorded, and the patient's email stops.
    let bounce = job
        .run(fixture("ses-bounce.json", &confirmation))
        .await
        .unwrap();
    assert_eq!(bounce["recorded"], true);
    let jane = stack.token("patient-jane", &[Role::Patient]);
    let prefs = stack.preferences(&jane).await;
    assert_eq!(prefs["emailBounced"], true, "{prefs}");
    assert_eq!(prefs["channels"], json!([]));
    // A complaint turns email off as if the patient had.
    let complaint = job
        .run(fixture("ses-complaint.json", &confirmation))
        .await
        .unwrap();
    assert_eq!(complaint["recorded"], true);
    let prefs = stack.preferences(&jane).await;
    assert_eq!(prefs["email"], false, "{prefs}");
    // An SES event about a message that is not ours is acknowledged and ignored.
    let foreign = job
        .run(fixture("ses-bounce.json", "msg_01KAQ00000000000000000000Z"))
        .await
        .unwrap();
    assert_eq!(foreign["recorded"], false);
}

#[tokio::test]
async fn events_no_trigger_sends_are_refused_as_permanent() {
    let stack = Stack::embedded();
    let recorder = Recorder::new();
    let job = notify::NotifyJob {
        state: stack.state.clone(),
        delivery: delivery(&recorder),
    };
    let audit_batch: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../events/dynamodb-stream-audit.json"
        ))
        .unwrap(),
    )
    .unwrap();
    for wrong in [
        audit_batch,
        fixture("schedule-sweep.json", ""),
        json!({"Records": []}),
        json!({"Records": [{"eventSource": "aws:sqs"}]}),
        json!({"source": "aws.ses"}),
        json!({}),
    ] {
        let e = job.run(wrong.clone()).await.unwrap_err();
        let diagnostic: lambda_runtime::Diagnostic = e.into();
        assert_eq!(diagnostic.error_type, "Permanent.InvalidEvent", "{wrong}");
    }
}

fn envelope(to: &str) -> Envelope {
    Envelope {
        dedupe_key: "msg_01KAQ0000000000000000000A1.email".into(),
        kind: Kind::Confirmation,
        channel: Channel::Email,
        to: domain::sensitive::Sensitive::new(to.into()),
        subject: Some("Your appointment at Riverside Family Therapy is booked".into()),
        text: "Hello Jane,\n\nyour appointment is booked.\n".into(),
        html: Some("<p>Hello <bdi>Jane</bdi>,</p>".into()),
    }
}

#[tokio::test]
async fn ses_sends_from_a_verified_identity_and_refusals_are_permanent() {
    let Some(endpoint) = Emulator::Moto.endpoint() else {
        return;
    };
    let client = aws_sdk_sesv2::Client::new(&sdk_config(&endpoint));
    let from = format!("appointments-{}@practice.example", ulid::Ulid::new()).to_lowercase();
    client
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .unwrap();
    let ses = SesEmail::new(client.clone(), from, None);
    let sent = ses.send(&envelope("jane.demo@example.org")).await.unwrap();
    assert!(!sent.provider_id.is_empty());
    // From an address SES has not verified: refused, and no retry can change that.
    let unverified = SesEmail::new(client, "nobody@unverified.example", None);
    match unverified.send(&envelope("jane.demo@example.org")).await {
        Err(NotifyError::Rejected(why)) => assert!(!why.contains("Jane"), "{why}"),
        other => panic!("{other:?}"),
    }
    // SES is not an SMS provider.
    let ses_for_sms = Envelope {
        channel: Channel::Sms,
        ..envelope("+15550100123")
    };
    assert!(matches!(
        SesEmail::new(
            aws_sdk_sesv2::Client::new(&sdk_config(&endpoint)),
            "x@y.example",
            None
        )
        .send(&ses_for_sms)
        .await,
        Err(NotifyError::Rejected(_))
    ));
}

/// End User Messaging SMS has no emulator here (moto has none): its JSON protocol is served by a
/// mock with the service's own answers, so the adapter's request and its reading of the answers run
/// through the real SDK.
async fn sms_answering(status: u16, body: Value) -> (wiremock::MockServer, EndUserSms) {
    use wiremock::matchers::{body_partial_json, header, method};
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(method("POST"))
        .and(header("x-amz-target", "PinpointSMSVoiceV2.SendTextMessage"))
        .and(body_partial_json(json!({
            "DestinationPhoneNumber": "+15550100123",
            "OriginationIdentity": "pool-practice",
            "MessageType": "TRANSACTIONAL",
            "Context": {"message": "msg_01KAQ0000000000000000000A1"},
        })))
        .respond_with(
            wiremock::ResponseTemplate::new(status)
                .insert_header("content-type", "application/x-amz-json-1.0")
                .set_body_json(body),
        )
        .mount(&server)
        .await;
    let client = aws_sdk_pinpointsmsvoicev2::Client::new(&sdk_config(&server.uri()));
    (server, EndUserSms::new(client, "pool-practice", None))
}

fn text_envelope() -> Envelope {
    Envelope {
        channel: Channel::Sms,
        subject: None,
        html: None,
        text: "Reminder: your visit is Tue 24 Nov 2026, 10:00 EST.".into(),
        ..envelope("+1 555 0100 123")
    }
}

#[tokio::test]
async fn sms_goes_through_end_user_messaging_and_an_opted_out_number_is_reported() {
    let (_server, sms) = sms_answering(200, json!({"MessageId": "sms-1"})).await;
    assert_eq!(
        sms.send(&text_envelope()).await.unwrap().provider_id,
        "sms-1"
    );
    let (_server, sms) = sms_answering(
        400,
        json!({"__type": "ConflictException", "Message": "The destination phone number +15550100123 is opted out",
            "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT", "ResourceType": "opt-out-list", "ResourceId": "Default"}),
    )
    .await;
    assert!(matches!(
        sms.send(&text_envelope()).await,
        Err(NotifyError::OptedOut)
    ));
    let (_server, sms) = sms_answering(
        400,
        json!({"__type": "ValidationException", "Message": "Invalid number +15550100123", "Reason": "INVALID_PARAMETER"}),
    )
    .await;
    match sms.send(&text_envelope()).await {
        Err(NotifyError::Rejected(why)) => assert!(!why.contains("5550100123"), "{why}"),
        other => panic!("{other:?}"),
    }
    let (_server, sms) = sms_answering(
        500,
        json!({"__type": "InternalServerException", "Message": "try later"}),
    )
    .await;
    assert!(matches!(
        sms.send(&text_envelope()).await,
        Err(NotifyError::Unavailable(_))
    ));
    // A number with no country code is never sent.
    let local = Envelope {
        to: domain::sensitive::Sensitive::new("555 0100 123".into()),
        ..text_envelope()
    };
    assert!(matches!(
        sms.send(&local).await,
        Err(NotifyError::Rejected(_))
    ));
}
