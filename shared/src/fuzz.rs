//! Every function that turns client text or bytes into a value, fed arbitrary input: each returns
//! a value or an error, never panics; where a value renders back to text, the text parses to the
//! same value. Bounded case counts keep the normal test run short; `PROPTEST_CASES` raises them for
//! a longer local run.

use proptest::prelude::*;

use crate::auth::{Role, Subject, bearer};
use crate::booking::book::BookRequest;
use crate::booking::changes::{CancelRequest, RescheduleRequest};
use crate::booking::holds::HoldRequest;
use crate::booking::waitlist::WaitlistRequest;
use crate::common::input::{body_start, query_range};
use crate::payments::charges::ChargeRequest;
use crate::web::webhooks::events;
use crate::web::webhooks::signature::{
    StandardHeaders, WebhookSecrets, verify_standard, verify_stripe,
};
use domain::ids::{
    AppointmentId, ChargeId, HoldId, IdempotencyKey, OutboxId, PatientId, PaymentId, ProviderId,
    ServiceId, WaitlistId,
};
use domain::money::{Currency, Money};
use domain::schedule::{Rules, WallTime};

const NOW: i64 = 1_795_438_800;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(512)
}

/// Text that looks like what the parsers expect, mixed with anything at all.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,48}",
        "[0-9A-Za-z_:.+\\-TZ#@ ]{0,48}",
        "(prv|svc|apt|hld|wl|msg|chg|pay)_[0-9A-Z]{0,30}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?(Z|[+-][0-9]{2}:?[0-9]{0,2})?",
    ]
}

/// JSON-ish bytes: valid JSON objects of arbitrary shape, and arbitrary bytes.
fn body_bytes() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        texty().prop_map(serde_json::Value::from),
    ];
    let json = leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("providerId".to_owned()),
                    Just("serviceId".to_owned()),
                    Just("start".to_owned()),
                    Just("amount".to_owned()),
                    Just("currency".to_owned()),
                    Just("lineItems".to_owned()),
                    "[a-zA-Z]{1,12}",
                ],
                inner,
                0..6
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        json.prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..256),
    ]
}

fn secrets() -> (WebhookSecrets, WebhookSecrets) {
    (
        WebhookSecrets::stripe("whsec_fuzzSecretForPractica000001").unwrap(),
        WebhookSecrets::standard("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw8KzWhSZmT4I=").unwrap(),
    )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ids_and_tokens_parse_or_are_refused(text in texty()) {
        let _ = (
            ProviderId::parse(&text),
            ServiceId::parse(&text),
            AppointmentId::parse(&text),
            HoldId::parse(&text),
            WaitlistId::parse(&text),
            OutboxId::parse(&text),
            ChargeId::parse(&text),
            PaymentId::parse(&text),
            Role::parse(&text),
            Currency::parse(&text),
            WallTime::parse(&text),
        );
        if let Some(p) = PatientId::parse(&text) {
            prop_assert_eq!(p.as_str(), text.as_str());
        }
        if let Some(s) = Subject::parse(&text) {
            prop_assert_eq!(s.as_str(), text.as_str());
        }
        if let Some(k) = IdempotencyKey::parse(&text) {
            prop_assert_eq!(k.as_str(), text.as_str());
        }
        let _ = bearer(Some(&text));
    }

    #[test]
    fn timestamps_parse_or_are_refused(from in texty(), to in texty()) {
        let _ = query_range(&from, &to);
        let _ = body_start(&from);
        let _ = crate::common::input::parse_bound(&to);
    }

    #[test]
    fn request_bodies_parse_or_are_refused(body in body_bytes()) {
        let _ = serde_json::from_slice::<BookRequest>(&body);
        let _ = serde_json::from_slice::<HoldRequest>(&body);
        let _ = serde_json::from_slice::<RescheduleRequest>(&body);
        let _ = serde_json::from_slice::<CancelRequest>(&body);
        let _ = serde_json::from_slice::<WaitlistRequest>(&body);
        let _ = serde_json::from_slice::<ChargeRequest>(&body);
        let _ = serde_json::from_slice::<Money>(&body);
        if let Ok(rules) = serde_json::from_slice::<Rules>(&body) {
            let _ = rules.validate();
        }
    }

    #[test]
    fn webhook_headers_and_bodies_verify_or_are_refused(
        header in texty(),
        id in texty(),
        timestamp in texty(),
        body in body_bytes(),
    ) {
        let (stripe, standard) = secrets();
        prop_assert!(verify_stripe(Some(&header), &body, &stripe, NOW, 300).is_err());
        let headers = StandardHeaders {
            id: Some(&id),
            timestamp: Some(&timestamp),
            signature: Some(&header),
        };
        prop_assert!(verify_standard(headers, &body, &standard, NOW, 300).is_err());
        let _ = events::stripe(&body);
        let _ = events::standard(&id, NOW, &body);
    }

    #[test]
    fn signed_events_with_any_body_are_read_or_refused(body in body_bytes()) {
        let (stripe, _) = secrets();
        let header = stripe.sign_stripe(NOW, &body);
        prop_assert!(verify_stripe(Some(&header), &body, &stripe, NOW, 300).is_ok());
        let _ = events::stripe(&body);
    }
}
