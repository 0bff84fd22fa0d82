//! Reading processor events, after their signature has been verified.
//!
//! Stripe events (`{id, type, created, data: {object}}`) and Standard Webhooks payloads
//! (`{type, timestamp, data}`, id and time from the signed headers) carry the same objects:
//! a PaymentIntent (`payment_intent.*`), a Charge (`charge.*`), a Dispute (`charge.dispute.*`) or a
//! Refund (`refund.*`, `charge.refund.updated`). Only the fields we need are read; anything else in
//! the payload is ignored, never logged.

use serde::Deserialize;

use crate::error::{ApiError, InputError};
pub use domain::progress::Event;
use domain::progress::{
    CardBrand, CardChecks, CardUsed, CheckResult, DisputeObservation, DisputeOutcome, Failure,
    Last4, Observation, PaymentStatus, RefundObservation,
};

#[derive(Deserialize)]
struct StripeEnvelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: Data,
}

#[derive(Deserialize)]
struct StandardEnvelope {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

#[derive(Deserialize)]
struct Data {
    object: serde_json::Value,
}

#[derive(Deserialize)]
struct IntentObject {
    id: String,
    amount: Option<i64>,
    currency: Option<String>,
    last_payment_error: Option<PaymentError>,
    /// Ours carry `practica_payment` (the payment they pay).
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct PaymentError {
    code: Option<String>,
    decline_code: Option<String>,
}

#[derive(Deserialize)]
struct ChargeObject {
    payment_intent: Option<String>,
    amount: Option<i64>,
    amount_refunded: Option<i64>,
    currency: Option<String>,
    failure_code: Option<String>,
    outcome: Option<Outcome>,
    payment_method_details: Option<MethodDetails>,
}

/// A Dispute or a Refund: both name their payment intent, an amount and a status.
#[derive(Deserialize)]
struct ClaimObject {
    id: String,
    amount: i64,
    currency: Option<String>,
    payment_intent: Option<String>,
    status: Option<String>,
    /// A dispute's reason.
    reason: Option<String>,
}

#[derive(Deserialize)]
struct Outcome {
    reason: Option<String>,
}

#[derive(Deserialize)]
struct MethodDetails {
    card: Option<Card>,
}

#[derive(Deserialize)]
struct Card {
    checks: Option<Checks>,
    brand: Option<String>,
    last4: Option<String>,
}

#[derive(Deserialize)]
struct Checks {
    address_line1_check: Option<String>,
    address_postal_code_check: Option<String>,
    cvc_check: Option<String>,
}

fn invalid() -> ApiError {
    ApiError::Input(InputError::InvalidEvent)
}

/// A Stripe event from its verified bytes.
pub fn stripe(body: &[u8]) -> Result<(String, Event), ApiError> {
    let envelope: StripeEnvelope = serde_json::from_slice(body).map_err(|_| invalid())?;
    if !domain::ids::is_key_token(&envelope.id) {
        return Err(invalid());
    }
    let event = interpret(
        &envelope.kind,
        &envelope.id,
        envelope.created,
        envelope.data.object,
    )?;
    Ok((envelope.id, event))
}

/// A Standard Webhooks payload; `id` and `timestamp` come from its verified headers.
pub fn standard(id: &str, timestamp: i64, body: &[u8]) -> Result<Event, ApiError> {
    let envelope: StandardEnvelope = serde_json::from_slice(body).map_err(|_| invalid())?;
    interpret(&envelope.kind, id, timestamp, envelope.data)
}

fn interpret(
    kind: &str,
    id: &str,
    created: i64,
    object: serde_json::Value,
) -> Result<Event, ApiError> {
    let base = Observation::new(id, created);
    if kind.starts_with("charge.dispute.")
        || matches!(
            kind,
            "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated"
        )
    {
        return claim(kind, object, base);
    }
    match kind {
        "setup_intent.succeeded" => return setup(object),
        "payment_method.attached" | "payment_method.detached" => {
            return payment_method(kind, object);
        }
        _ => {}
    }
    let intent_status = match kind {
        "payment_intent.processing" => Some(PaymentStatus::Processing),
        "payment_intent.payment_failed" => Some(PaymentStatus::Failed),
        "payment_intent.canceled" => Some(PaymentStatus::Canceled),
        "payment_intent.succeeded" => Some(PaymentStatus::Succeeded),
        _ => None,
    };
    if let Some(status) = intent_status {
        let pi: IntentObject = serde_json::from_value(object).map_err(|_| invalid())?;
        // An intent with metadata that does not name one of our payments was made by another
        // integration on the same processor account: acknowledged and ignored, not a 404 the
        // processor would retry for three days. (Without metadata, as some senders send it, the
        // intent is looked up as before.)
        if pi
            .metadata
            .as_ref()
            .is_some_and(|m| !m.contains_key(crate::payments::processor::PAYMENT_METADATA_KEY))
        {
            return Ok(Event::Ignored);
        }
        let failure = (status == PaymentStatus::Failed).then(|| Failure {
            code: Failure::code(
                pi.last_payment_error
                    .as_ref()
                    .and_then(|e| e.code.as_deref()),
            )
            .unwrap_or_else(|| "unknown".into()),
            decline_code: Failure::code(
                pi.last_payment_error
                    .as_ref()
                    .and_then(|e| e.decline_code.as_deref()),
            ),
        });
        return Ok(Event::Payment {
            intent: pi.id,
            amount: pi.amount,
            currency: pi.currency,
            observation: Observation {
                status: Some(status),
                failure,
                ..base
            },
        });
    }
    let charge_status = match kind {
        "charge.succeeded" => Some(Some(PaymentStatus::Succeeded)),
        "charge.failed" => Some(Some(PaymentStatus::Failed)),
        "charge.refunded" => Some(None),
        _ => None,
    };
    let Some(status) = charge_status else {
        return Ok(Event::Ignored);
    };
    let charge: ChargeObject = serde_json::from_value(object).map_err(|_| invalid())?;
    let Some(intent) = charge.payment_intent else {
        // A charge made outside a payment intent is not one of ours.
        return Ok(Event::Ignored);
    };
    let checks = charge
        .payment_method_details
        .and_then(|d| d.card)
        .and_then(|card| {
            let used = card
                .last4
                .as_deref()
                .and_then(Last4::parse)
                .map(|last4| CardUsed {
                    brand: CardBrand::parse(card.brand.as_deref().unwrap_or("other")),
                    last4,
                });
            // The card is named with its checks (Stripe sends both on a card charge): an event
            // without checks says nothing of either, so it cannot turn a failed check unchecked.
            let c = card.checks?;
            Some(CardChecks {
                address_line1: CheckResult::parse(c.address_line1_check.as_deref()),
                postal_code: CheckResult::parse(c.address_postal_code_check.as_deref()),
                cvc: CheckResult::parse(c.cvc_check.as_deref()),
                card: used,
            })
        });
    let failure = (status == Some(PaymentStatus::Failed)).then(|| Failure {
        code: Failure::code(charge.failure_code.as_deref()).unwrap_or_else(|| "unknown".into()),
        decline_code: Failure::code(charge.outcome.and_then(|o| o.reason).as_deref()),
    });
    let refunded = if kind == "charge.refunded" {
        Some(charge.amount_refunded.ok_or_else(invalid)?)
    } else {
        None
    };
    Ok(Event::Payment {
        intent,
        amount: charge.amount,
        currency: charge.currency,
        observation: Observation {
            status,
            checks,
            failure,
            refunded,
            ..base
        },
    })
}

#[derive(Deserialize)]
struct SetupObject {
    id: String,
    customer: Option<String>,
    payment_method: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct PaymentMethodObject {
    id: String,
    customer: Option<String>,
    card: Option<Card>,
}

/// A setup intent that saved a card. Ours carry `practica_setup` in their metadata; one without
/// it, or without a customer (a card saved for another integration), is ignored.
fn setup(object: serde_json::Value) -> Result<Event, ApiError> {
    let o: SetupObject = serde_json::from_value(object).map_err(|_| invalid())?;
    let ours = o
        .metadata
        .as_ref()
        .is_some_and(|m| m.contains_key(crate::payments::processor::SETUP_METADATA_KEY));
    let (Some(customer), Some(payment_method), true) = (o.customer, o.payment_method, ours) else {
        return Ok(Event::Ignored);
    };
    Ok(Event::CardSaved {
        setup_intent: o.id,
        customer,
        payment_method,
    })
}

/// A payment method attached to a customer (naming the card) or detached from one.
fn payment_method(kind: &str, object: serde_json::Value) -> Result<Event, ApiError> {
    let o: PaymentMethodObject = serde_json::from_value(object).map_err(|_| invalid())?;
    if kind == "payment_method.detached" {
        return Ok(Event::CardDetached {
            payment_method: o.id,
        });
    }
    let Some(customer) = o.customer else {
        return Ok(Event::Ignored);
    };
    let card = o.card.and_then(|card| {
        Some(CardUsed {
            brand: CardBrand::parse(card.brand.as_deref().unwrap_or("other")),
            last4: Last4::parse(card.last4.as_deref()?)?,
        })
    });
    Ok(Event::CardAttached {
        payment_method: o.id,
        customer,
        card,
    })
}

/// A dispute or refund event: the amount it concerns is not the payment's, so only the currency is
/// checked against the payment; the amount is checked to be within it.
fn claim(kind: &str, object: serde_json::Value, base: Observation) -> Result<Event, ApiError> {
    let o: ClaimObject = serde_json::from_value(object).map_err(|_| invalid())?;
    if !domain::ids::is_key_token(&o.id) || o.amount < 0 {
        return Err(invalid());
    }
    let Some(intent) = o.payment_intent else {
        // Not about a payment intent: not one of ours.
        return Ok(Event::Ignored);
    };
    let status = o.status.as_deref();
    let observation = if let Some(stage) = kind.strip_prefix("charge.dispute.") {
        let outcome = match status {
            Some("won") => Some(DisputeOutcome::Won),
            Some("lost") => Some(DisputeOutcome::Lost),
            _ => None,
        };
        Observation {
            dispute: Some(DisputeObservation {
                id: o.id,
                amount: o.amount,
                withdrawn: stage == "funds_withdrawn",
                reinstated: stage == "funds_reinstated",
                outcome,
                reason: o.reason.as_deref().map(domain::progress::dispute_reason),
            }),
            ..base
        }
    } else {
        Observation {
            refund: Some(RefundObservation {
                id: o.id,
                amount: o.amount,
                failed: kind == "refund.failed" || matches!(status, Some("failed" | "canceled")),
            }),
            ..base
        }
    };
    Ok(Event::Payment {
        intent,
        amount: None,
        currency: o.currency,
        observation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payment(e: Event) -> (String, Observation) {
        match e {
            Event::Payment {
                intent,
                observation,
                ..
            } => (intent, observation),
            other => panic!("expected a payment event, got {other:?}"),
        }
    }

    #[test]
    fn reads_card_events_and_ignores_other_integrations_setups() {
        let setup = |metadata: &str| {
            format!(
                r#"{{"id":"evt_s","type":"setup_intent.succeeded","created":5,"data":{{"object":{{
                "id":"seti_1","customer":"cus_1","payment_method":"pm_1","metadata":{metadata}}}}}}}"#
            )
        };
        assert_eq!(
            stripe(setup(r#"{"practica_setup":"card"}"#).as_bytes())
                .unwrap()
                .1,
            Event::CardSaved {
                setup_intent: "seti_1".into(),
                customer: "cus_1".into(),
                payment_method: "pm_1".into(),
            }
        );
        assert_eq!(stripe(setup("{}").as_bytes()).unwrap().1, Event::Ignored);
        let attached = br#"{"id":"evt_a","type":"payment_method.attached","created":5,"data":{"object":{
            "id":"pm_1","customer":"cus_1","card":{"brand":"visa","last4":"4242","exp_month":12}}}}"#;
        let Event::CardAttached { card, customer, .. } = stripe(attached).unwrap().1 else {
            panic!("attached")
        };
        assert_eq!(customer, "cus_1");
        assert_eq!(
            card.map(|c| c.last4.as_str().to_owned()),
            Some("4242".into())
        );
        let detached =
            br#"{"id":"evt_d","type":"payment_method.detached","created":5,"data":{"object":{
            "id":"pm_1","customer":null},"previous_attributes":{"customer":"cus_1"}}}"#;
        assert_eq!(
            stripe(detached).unwrap().1,
            Event::CardDetached {
                payment_method: "pm_1".into()
            }
        );
        // Not an object of the type named: refused, not guessed at.
        assert!(stripe(br#"{"id":"evt_x","type":"payment_method.attached","created":5,"data":{"object":{"customer":"cus_1"}}}"#).is_err());
    }

    #[test]
    fn reads_intent_and_charge_events() {
        let (id, e) = stripe(br#"{"id":"evt_1","type":"payment_intent.payment_failed","created":5,
            "data":{"object":{"id":"pi_1","amount":100,"currency":"usd",
            "last_payment_error":{"code":"card_declined","decline_code":"insufficient_funds","message":"Jane's card"}}}}"#).unwrap();
        assert_eq!(id, "evt_1");
        let (intent, observation) = payment(e);
        assert_eq!(intent, "pi_1");
        assert_eq!(observation.status, Some(PaymentStatus::Failed));
        assert_eq!(
            observation.failure.unwrap().decline_code.as_deref(),
            Some("insufficient_funds")
        );
        let (_, e) = stripe(br#"{"id":"evt_2","type":"charge.refunded","created":6,
            "data":{"object":{"id":"ch_1","payment_intent":"pi_1","amount":100,"amount_refunded":40,"currency":"usd",
            "payment_method_details":{"card":{"checks":{"address_line1_check":"fail","address_postal_code_check":null,"cvc_check":"pass"}}}}}}"#).unwrap();
        let (_, observation) = payment(e);
        assert_eq!(observation.refunded, Some(40));
        assert_eq!(observation.status, None);
        let checks = observation.checks.unwrap();
        assert_eq!(
            (checks.address_line1, checks.postal_code, checks.cvc),
            (CheckResult::Fail, CheckResult::Unchecked, CheckResult::Pass)
        );
    }

    #[test]
    fn the_card_is_named_with_its_checks_and_nothing_more() {
        let charge = |card: &str| {
            format!(
                r#"{{"id":"evt_5","type":"charge.succeeded","created":7,"data":{{"object":{{"id":"ch_1",
                "payment_intent":"pi_1","amount":100,"currency":"usd","payment_method_details":{{"card":{card}}}}}}}}}"#
            )
        };
        let named = charge(
            r#"{"brand":"amex","last4":"0005","exp_year":2030,"fingerprint":"x","checks":{"cvc_check":"pass"}}"#,
        );
        let checks = payment(stripe(named.as_bytes()).unwrap().1)
            .1
            .checks
            .unwrap();
        assert_eq!(
            checks.card.map(|c| (c.brand, c.last4.as_str().to_owned())),
            Some((domain::progress::CardBrand::Amex, "0005".to_owned()))
        );
        // No checks: nothing about the card (a failed check is never turned unchecked by it).
        let bare = charge(r#"{"brand":"visa","last4":"4242"}"#);
        assert_eq!(payment(stripe(bare.as_bytes()).unwrap().1).1.checks, None);
        // A last four that is not four digits names no card.
        let odd = charge(r#"{"brand":"visa","last4":"42424","checks":{}}"#);
        let checks = payment(stripe(odd.as_bytes()).unwrap().1).1.checks.unwrap();
        assert_eq!(checks.card, None);
    }

    #[test]
    fn intents_another_integration_made_are_ignored() {
        let foreign = br#"{"id":"evt_9","type":"payment_intent.succeeded","created":5,
            "data":{"object":{"id":"pi_other","amount":100,"currency":"usd","metadata":{"order":"42"}}}}"#;
        assert!(matches!(stripe(foreign).unwrap().1, Event::Ignored));
        let ours = br#"{"id":"evt_10","type":"payment_intent.succeeded","created":5,
            "data":{"object":{"id":"pi_1","amount":100,"currency":"usd","metadata":{"practica_payment":"pay_1"}}}}"#;
        assert_eq!(payment(stripe(ours).unwrap().1).0, "pi_1");
    }

    #[test]
    fn unknown_types_are_ignored_and_bad_shapes_refused() {
        let (_, e) =
            stripe(br#"{"id":"evt_3","type":"customer.created","created":1,"data":{"object":{}}}"#)
                .unwrap();
        assert_eq!(e, Event::Ignored);
        for bad in [
            &b"not json"[..],
            br#"{"id":"evt_4","type":"payment_intent.succeeded","created":1,"data":{"object":{}}}"#,
            br#"{"id":"evt#4","type":"customer.created","created":1,"data":{"object":{}}}"#,
            br#"{"type":"payment_intent.succeeded"}"#,
        ] {
            assert!(stripe(bad).is_err());
        }
        let e = standard(
            "msg_1",
            9,
            br#"{"type":"payment_intent.succeeded","timestamp":"x","data":{"id":"pi_9"}}"#,
        )
        .unwrap();
        let (intent, observation) = payment(e);
        assert_eq!((intent.as_str(), observation.created), ("pi_9", 9));
    }
}
