//! The Stripe adapter of the processor port (payment intents, customers, setup intents, off-session
//! charges and detaching saved cards), form-encoded, with the
//! secret key as bearer token, a pinned API version, timeouts, and retries with exponential backoff
//! and jitter on 429, 5xx and network failures, every attempt under the same `Idempotency-Key`.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::https::HttpsClient;
use crate::payments::processor::{
    Cancel, DisputeEvidence, Intent, IntentRequest, OffSession, OffSessionCharge,
    OffSessionRequest, PaymentProcessor, ProcessorError, ProcessorKey, SETUP_METADATA_KEY,
    SetupRequest,
};

/// The Stripe API version requests are pinned to.
pub const STRIPE_API_VERSION: &str = "2024-06-20";
pub const STRIPE_API_BASE: &str = "https://api.stripe.com";

/// How the adapter talks to Stripe. `Debug` never shows the key (secrecy redacts it).
#[derive(Clone, Debug)]
pub struct StripeConfig {
    pub base_url: String,
    pub secret_key: SecretString,
    /// For the whole of one attempt, connecting and reading the answer included.
    pub request_timeout: Duration,
    /// Attempts in total, the first included.
    pub max_attempts: u32,
    /// Delay before the first retry; doubled for each further one (with jitter), capped at 5 s.
    pub base_delay: Duration,
}

impl StripeConfig {
    pub fn new(secret_key: SecretString) -> Self {
        StripeConfig {
            base_url: STRIPE_API_BASE.into(),
            secret_key,
            request_timeout: Duration::from_secs(10),
            max_attempts: 3,
            base_delay: Duration::from_millis(250),
        }
    }
}

pub struct StripeProcessor {
    http: HttpsClient,
    config: StripeConfig,
}

impl StripeProcessor {
    pub fn new(config: StripeConfig, http: HttpsClient) -> Self {
        StripeProcessor { http, config }
    }

    fn delay(&self, attempt: u32) -> Duration {
        super::backoff::delay(self.config.base_delay, attempt, Duration::from_secs(5))
    }

    fn form(request: &IntentRequest) -> Vec<(String, String)> {
        let mut form = vec![
            ("amount".to_owned(), request.amount.amount().to_string()),
            (
                "currency".to_owned(),
                request.amount.currency().code().to_lowercase(),
            ),
            (
                "automatic_payment_methods[enabled]".to_owned(),
                "true".to_owned(),
            ),
            (
                "description".to_owned(),
                request.description.as_str().to_owned(),
            ),
        ];
        for (key, value) in &request.metadata {
            form.push((format!("metadata[{key}]"), value.as_str().to_owned()));
        }
        form
    }
}

#[derive(Deserialize)]
struct IntentBody {
    id: String,
    client_secret: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: StripeError,
}

#[derive(Deserialize)]
struct StripeError {
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<String>,
    decline_code: Option<String>,
    /// Sent with `payment_intent_unexpected_state`: the intent as it is.
    payment_intent: Option<IntentState>,
}

#[derive(Deserialize)]
struct IntentState {
    id: Option<String>,
    status: Option<String>,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Confirmed {
    id: String,
    status: String,
}

enum Attempt {
    Done(Result<axum::body::Bytes, ProcessorError>),
    Retry(ProcessorError),
}

impl StripeProcessor {
    fn request(
        &self,
        path: &str,
        key: &str,
        form: &[(String, String)],
    ) -> anyhow::Result<http::Request<axum::body::Bytes>> {
        let url = format!("{}{path}", self.config.base_url.trim_end_matches('/'));
        let mut authorization = http::HeaderValue::try_from(format!(
            "Bearer {}",
            self.config.secret_key.expose_secret()
        ))
        .map_err(|_| anyhow::anyhow!("the processor key is not a valid header value"))?;
        authorization.set_sensitive(true);
        Ok(http::Request::post(url)
            .header(http::header::AUTHORIZATION, authorization)
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header("Stripe-Version", STRIPE_API_VERSION)
            .header("Idempotency-Key", key)
            .body(serde_urlencoded::to_string(form)?.into())?)
    }

    async fn attempt(&self, path: &str, key: &str, form: &[(String, String)]) -> Attempt {
        let request = match self.request(path, key, form) {
            Ok(request) => request,
            Err(e) => return Attempt::Done(Err(ProcessorError::Unavailable(e))),
        };
        let response = match self.http.send(request, self.config.request_timeout).await {
            Ok(r) => r,
            // The error text names the method and URL only, never a header.
            Err(e) => return Attempt::Retry(ProcessorError::Unavailable(e)),
        };
        let status = response.status();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let bytes = response.into_body();
        if status.is_success() {
            return Attempt::Done(Ok(bytes));
        }
        let error = serde_json::from_slice::<ErrorBody>(&bytes)
            .ok()
            .map(|b| b.error);
        let kind = error.as_ref().and_then(|e| e.kind.as_deref());
        let code = || {
            error
                .as_ref()
                .and_then(|e| e.code.clone())
                .unwrap_or_else(|| status.as_u16().to_string())
        };
        let unexpected_state = error
            .as_ref()
            .is_some_and(|e| e.code.as_deref() == Some("payment_intent_unexpected_state"));
        match (status.as_u16(), kind) {
            (_, Some("idempotency_error")) => {
                Attempt::Done(Err(ProcessorError::IdempotencyConflict))
            }
            (402, _) | (_, Some("card_error")) => Attempt::Done(Err(ProcessorError::Declined {
                code: code(),
                decline_code: error.as_ref().and_then(|e| e.decline_code.clone()),
                intent: error
                    .as_ref()
                    .and_then(|e| e.payment_intent.as_ref())
                    .and_then(|p| p.id.clone()),
            })),
            _ if unexpected_state => Attempt::Done(Err(ProcessorError::UnexpectedState {
                status: error
                    .and_then(|e| e.payment_intent)
                    .and_then(|p| p.status)
                    .unwrap_or_default(),
            })),
            (429, _) => Attempt::Retry(ProcessorError::RateLimited),
            (s, _) if s >= 500 && should_retry != Some(false) => Attempt::Retry(
                ProcessorError::Unavailable(anyhow::anyhow!("processor answered {s}")),
            ),
            (s, _) if s >= 500 => Attempt::Done(Err(ProcessorError::Unavailable(anyhow::anyhow!(
                "processor answered {s}"
            )))),
            (409, _) if should_retry == Some(true) => Attempt::Retry(ProcessorError::Unavailable(
                anyhow::anyhow!("processor lock timeout"),
            )),
            _ => Attempt::Done(Err(ProcessorError::Rejected { code: code() })),
        }
    }

    /// One POST, retried with backoff where a retry can help, under one idempotency key.
    async fn post(
        &self,
        path: &str,
        key: &str,
        form: &[(String, String)],
    ) -> Result<axum::body::Bytes, ProcessorError> {
        let mut attempt = 0;
        loop {
            match self.attempt(path, key, form).await {
                Attempt::Done(result) => return result,
                Attempt::Retry(error) => {
                    attempt += 1;
                    if attempt >= self.config.max_attempts {
                        return Err(error);
                    }
                    tracing::warn!(attempt, error = %error, "processor call failed; retrying");
                    tokio::time::sleep(self.delay(attempt - 1)).await;
                }
            }
        }
    }
}

#[async_trait]
impl PaymentProcessor for StripeProcessor {
    #[tracing::instrument(skip_all, fields(amount = request.amount.amount(), currency = request.amount.currency().code()))]
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, ProcessorError> {
        let bytes = self
            .post(
                "/v1/payment_intents",
                request.idempotency_key.as_str(),
                &Self::form(request),
            )
            .await?;
        serde_json::from_slice::<IntentBody>(&bytes)
            .map(|b| Intent {
                id: b.id,
                client_secret: b.client_secret.into(),
            })
            .map_err(|e| {
                ProcessorError::Unavailable(
                    anyhow::Error::new(e).context("unreadable payment intent"),
                )
            })
    }

    #[tracing::instrument(skip_all)]
    async fn cancel_intent(&self, id: &str, key: &ProcessorKey) -> Result<Cancel, ProcessorError> {
        let form = [("cancellation_reason".to_owned(), "abandoned".to_owned())];
        let path = format!("/v1/payment_intents/{id}/cancel");
        match self.post(&path, key.as_str(), &form).await {
            Ok(_) => Ok(Cancel::Canceled),
            Err(ProcessorError::UnexpectedState { status }) if status == "canceled" => {
                Ok(Cancel::Canceled)
            }
            Err(ProcessorError::UnexpectedState { .. }) => Ok(Cancel::TooLate),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(amount = amount.amount()))]
    async fn refund(
        &self,
        intent: &str,
        amount: domain::money::Money,
        key: &ProcessorKey,
    ) -> Result<(), ProcessorError> {
        let form = [
            ("payment_intent", intent.to_owned()),
            ("amount", amount.amount().to_string()),
            ("reason", "requested_by_customer".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v));
        match self.post("/v1/refunds", key.as_str(), &form).await {
            Ok(_) => Ok(()),
            // Refunded in full already (by an earlier attempt, or from the dashboard).
            Err(ProcessorError::Rejected { code }) if code == "charge_already_refunded" => Ok(()),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn create_customer(&self, key: &ProcessorKey) -> Result<String, ProcessorError> {
        let bytes = self.post("/v1/customers", key.as_str(), &[]).await?;
        serde_json::from_slice::<Created>(&bytes)
            .map(|c| c.id)
            .map_err(|e| unreadable(e, "unreadable customer"))
    }

    #[tracing::instrument(skip_all)]
    async fn create_setup_intent(&self, request: &SetupRequest) -> Result<Intent, ProcessorError> {
        let form = [
            ("customer", request.customer.as_str()),
            ("usage", "off_session"),
            // Cards only: what is saved is charged off-session, where no redirect can happen.
            ("payment_method_types[]", "card"),
            (&format!("metadata[{SETUP_METADATA_KEY}]"), "card"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()));
        let bytes = self
            .post("/v1/setup_intents", request.idempotency_key.as_str(), &form)
            .await?;
        serde_json::from_slice::<IntentBody>(&bytes)
            .map(|b| Intent {
                id: b.id,
                client_secret: b.client_secret.into(),
            })
            .map_err(|e| unreadable(e, "unreadable setup intent"))
    }

    #[tracing::instrument(skip_all, fields(amount = request.intent.amount.amount()))]
    async fn charge_off_session(
        &self,
        request: &OffSessionRequest,
    ) -> Result<OffSessionCharge, ProcessorError> {
        let mut form = Self::form(&request.intent);
        // Cards only, confirmed now: no redirect can happen with no one present.
        form.retain(|(k, _)| !k.starts_with("automatic_payment_methods"));
        for (k, v) in [
            ("payment_method_types[]", "card"),
            ("customer", request.customer.as_str()),
            ("payment_method", request.payment_method.as_str()),
            ("off_session", "true"),
            ("confirm", "true"),
        ] {
            form.push((k.to_owned(), v.to_owned()));
        }
        let key = request.intent.idempotency_key.as_str();
        match self.post("/v1/payment_intents", key, &form).await {
            Ok(bytes) => {
                let pi = serde_json::from_slice::<Confirmed>(&bytes)
                    .map_err(|e| unreadable(e, "unreadable payment intent"))?;
                let outcome = match pi.status.as_str() {
                    "succeeded" | "processing" | "requires_capture" => OffSession::Accepted,
                    "requires_action" => OffSession::AuthenticationRequired,
                    other => OffSession::Declined {
                        code: other.to_owned(),
                    },
                };
                Ok(OffSessionCharge {
                    intent: pi.id,
                    outcome,
                })
            }
            Err(ProcessorError::Declined {
                code,
                decline_code,
                intent: Some(intent),
            }) => Ok(OffSessionCharge {
                intent,
                outcome: if code == "authentication_required" {
                    OffSession::AuthenticationRequired
                } else {
                    OffSession::Declined {
                        code: decline_code.unwrap_or(code),
                    }
                },
            }),
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all)]
    async fn detach_payment_method(&self, id: &str) -> Result<(), ProcessorError> {
        let path = format!("/v1/payment_methods/{id}/detach");
        let key = format!("practica-detach-{id}");
        match self.post(&path, &key, &[]).await {
            Ok(_) => Ok(()),
            // Detached before (by us or from the dashboard), or gone: it cannot be charged.
            Err(ProcessorError::Rejected { code })
                if matches!(
                    code.as_str(),
                    "payment_method_unexpected_state" | "resource_missing"
                ) =>
            {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    #[tracing::instrument(skip_all, fields(submit))]
    async fn update_dispute(
        &self,
        id: &str,
        evidence: &DisputeEvidence,
        submit: bool,
    ) -> Result<(), ProcessorError> {
        let mut form: Vec<(String, String)> = evidence
            .fields()
            .into_iter()
            .map(|(k, v)| (format!("evidence[{k}]"), v.to_owned()))
            .collect();
        form.push(("submit".to_owned(), submit.to_string()));
        // A draft: one key per save, kept across its retries (saving the same evidence again after
        // another draft is a new save, never a replay of the old one). A submission: one key per
        // evidence, so two submits of the same draft racing are one submission.
        let key = if submit {
            let body = serde_urlencoded::to_string(&form)
                .map_err(|e| ProcessorError::Unavailable(anyhow::Error::new(e)))?;
            let digest = domain::hash::sha256(&[body.as_bytes()]);
            format!(
                "practica-dispute-{id}-submit-{}",
                domain::hash::hex(&digest[..12])
            )
        } else {
            format!("practica-dispute-{id}-{}", ulid::Ulid::new())
        };
        self.post(&format!("/v1/disputes/{id}"), &key, &form)
            .await
            .map(|_| ())
    }
}

fn unreadable(e: serde_json::Error, what: &'static str) -> ProcessorError {
    ProcessorError::Unavailable(anyhow::Error::new(e).context(what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::processor::ProcessorKey;
    use domain::ids::PaymentId;
    use domain::money::{Currency, Money};
    use wiremock::matchers::{body_string_contains, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    fn processor(server: &MockServer) -> StripeProcessor {
        let mut config = StripeConfig::new(SecretString::from("sk_test_practica_secret"));
        config.base_url = server.uri();
        config.base_delay = Duration::from_millis(1);
        config.request_timeout = Duration::from_millis(500);
        StripeProcessor::new(config, HttpsClient::new(Duration::from_secs(1)))
    }

    fn request() -> IntentRequest {
        IntentRequest::for_payment(
            &PaymentId::new(),
            &[],
            Money::new(12000, Currency::parse("USD").unwrap()).unwrap(),
            ProcessorKey("practica-key-1".into()),
        )
    }

    fn intent_body() -> serde_json::Value {
        serde_json::json!({"id": "pi_123", "object": "payment_intent", "client_secret": "pi_123_secret_abc",
            "amount": 12000, "currency": "usd", "status": "requires_payment_method"})
    }

    fn stripe_error(kind: &str, code: &str) -> serde_json::Value {
        serde_json::json!({"error": {"type": kind, "code": code, "message": "Your card was declined.",
            "decline_code": "insufficient_funds"}})
    }

    #[tokio::test]
    async fn creates_a_form_encoded_intent_with_key_version_and_idempotency_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/payment_intents"))
            .and(header("authorization", "Bearer sk_test_practica_secret"))
            .and(header("idempotency-key", "practica-key-1"))
            .and(header("stripe-version", STRIPE_API_VERSION))
            .and(header("content-type", "application/x-www-form-urlencoded"))
            .and(body_string_contains("amount=12000"))
            .and(body_string_contains("currency=usd"))
            .and(body_string_contains("metadata%5Bpractica_payment%5D=pay_"))
            .respond_with(ResponseTemplate::new(200).set_body_json(intent_body()))
            .expect(1)
            .mount(&server)
            .await;
        let intent = processor(&server).create_intent(&request()).await.unwrap();
        assert_eq!(intent.id, "pi_123");
        assert_eq!(intent.client_secret.expose(), "pi_123_secret_abc");
    }

    #[tokio::test]
    async fn retries_429_5xx_and_network_errors_with_the_same_key() {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(500).set_body_json(stripe_error("api_error", "x")))
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(429)
                    .set_body_json(stripe_error("rate_limit_error", "rate_limit")),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(intent_body()))
            .mount(&server)
            .await;
        let intent = processor(&server).create_intent(&request()).await.unwrap();
        assert_eq!(intent.id, "pi_123");
        let received = server.received_requests().await.unwrap();
        assert_eq!(received.len(), 3);
        for r in &received {
            assert_eq!(r.headers["idempotency-key"], "practica-key-1");
        }

        // A request that times out is retried too, and gives up as Unavailable.
        let slow = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
            .mount(&slow)
            .await;
        assert!(matches!(
            processor(&slow).create_intent(&request()).await,
            Err(ProcessorError::Unavailable(_))
        ));
        assert_eq!(slow.received_requests().await.unwrap().len(), 3);
    }

    #[tokio::test]
    async fn typed_errors() {
        let cases = [
            (402, stripe_error("card_error", "card_declined"), "declined"),
            (
                400,
                stripe_error("idempotency_error", "idempotency_key_in_use"),
                "idempotency",
            ),
            (429, stripe_error("rate_limit_error", "rate_limit"), "rate"),
            (
                400,
                stripe_error("invalid_request_error", "parameter_invalid_integer"),
                "rejected",
            ),
            (503, serde_json::json!({}), "unavailable"),
        ];
        for (status, body, expected) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(status).set_body_json(body))
                .mount(&server)
                .await;
            let error = processor(&server)
                .create_intent(&request())
                .await
                .unwrap_err();
            let kind = match &error {
                ProcessorError::Declined {
                    code, decline_code, ..
                } => {
                    assert_eq!(code, "card_declined");
                    assert_eq!(decline_code.as_deref(), Some("insufficient_funds"));
                    "declined"
                }
                ProcessorError::IdempotencyConflict => "idempotency",
                ProcessorError::RateLimited => "rate",
                ProcessorError::Rejected { .. } | ProcessorError::UnexpectedState { .. } => {
                    "rejected"
                }
                ProcessorError::Unavailable(_) => "unavailable",
            };
            assert_eq!(kind, expected, "{status}");
            let retried = matches!(expected, "rate" | "unavailable");
            assert_eq!(
                server.received_requests().await.unwrap().len(),
                if retried { 3 } else { 1 },
                "{expected}"
            );
        }
    }

    #[tokio::test]
    async fn cancels_and_reports_intents_that_are_too_late_to_cancel() {
        let key = ProcessorKey("practica-cancel-pay_1".into());
        let unexpected = |status: &str| {
            serde_json::json!({"error": {"type": "invalid_request_error",
                "code": "payment_intent_unexpected_state", "payment_intent": {"id": "pi_1", "status": status}}})
        };
        let cases = [
            (
                ResponseTemplate::new(200).set_body_json(intent_body()),
                Cancel::Canceled,
            ),
            (
                ResponseTemplate::new(400).set_body_json(unexpected("canceled")),
                Cancel::Canceled,
            ),
            (
                ResponseTemplate::new(400).set_body_json(unexpected("succeeded")),
                Cancel::TooLate,
            ),
            (
                ResponseTemplate::new(400).set_body_json(unexpected("processing")),
                Cancel::TooLate,
            ),
        ];
        for (response, expected) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/payment_intents/pi_1/cancel"))
                .and(header("idempotency-key", "practica-cancel-pay_1"))
                .and(body_string_contains("cancellation_reason=abandoned"))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
            assert_eq!(
                processor(&server)
                    .cancel_intent("pi_1", &key)
                    .await
                    .unwrap(),
                expected
            );
        }
    }

    #[tokio::test]
    async fn saves_cards_for_off_session_use_and_charges_them() {
        use crate::payments::processor::{OffSession, OffSessionRequest, SetupRequest};
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/customers"))
            .and(header("idempotency-key", "practica-customer-1"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"id": "cus_1", "object": "customer"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/setup_intents"))
            .and(body_string_contains("customer=cus_1"))
            .and(body_string_contains("usage=off_session"))
            .and(body_string_contains("metadata%5Bpractica_setup%5D=card"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "id": "seti_1", "object": "setup_intent", "client_secret": "seti_1_secret_x",
                "status": "requires_payment_method", "usage": "off_session"})))
            .expect(1)
            .mount(&server)
            .await;
        let stripe = processor(&server);
        let customer = stripe
            .create_customer(&ProcessorKey("practica-customer-1".into()))
            .await
            .unwrap();
        assert_eq!(customer, "cus_1");
        let setup = stripe
            .create_setup_intent(&SetupRequest {
                customer,
                idempotency_key: ProcessorKey("practica-setup-1".into()),
            })
            .await
            .unwrap();
        assert_eq!(setup.id, "seti_1");

        // Off-session: confirmed at once; a decline and a bank asking for the cardholder are
        // answers on the intent Stripe names, not errors.
        let charge = || OffSessionRequest {
            intent: request(),
            customer: "cus_1".into(),
            payment_method: "pm_1".into(),
        };
        let declined = |code: &str| {
            serde_json::json!({"error": {"type": "card_error", "code": code, "decline_code": "insufficient_funds",
                "payment_intent": {"id": "pi_9", "status": "requires_payment_method"}}})
        };
        let cases = [
            (
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"id": "pi_9", "status": "succeeded"})),
                OffSession::Accepted,
            ),
            (
                ResponseTemplate::new(402).set_body_json(declined("card_declined")),
                OffSession::Declined {
                    code: "insufficient_funds".into(),
                },
            ),
            (
                ResponseTemplate::new(402).set_body_json(declined("authentication_required")),
                OffSession::AuthenticationRequired,
            ),
        ];
        for (response, expected) in cases {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/payment_intents"))
                .and(body_string_contains("off_session=true"))
                .and(body_string_contains("confirm=true"))
                .and(body_string_contains("customer=cus_1"))
                .and(body_string_contains("payment_method=pm_1"))
                .and(header("idempotency-key", "practica-key-1"))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
            let done = processor(&server)
                .charge_off_session(&charge())
                .await
                .unwrap();
            assert_eq!(done.intent, "pi_9");
            assert_eq!(done.outcome, expected);
        }
    }

    #[tokio::test]
    async fn saves_dispute_evidence_as_a_draft_then_submits_it() {
        use crate::payments::processor::DisputeEvidence;
        let evidence = DisputeEvidence {
            product_description: "A scheduled appointment".into(),
            service_date: "2026-11-24".into(),
            cancellation_rebuttal: Some("Cancelled 20 hours before".into()),
            ..DisputeEvidence::default()
        };
        for submit in [false, true] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/disputes/dp_1"))
                .and(body_string_contains("evidence%5Bservice_date%5D=2026-11-24"))
                .and(body_string_contains(
                    "evidence%5Bcancellation_rebuttal%5D=Cancelled+20+hours+before",
                ))
                .and(body_string_contains(format!("submit={submit}")))
                .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "id": "dp_1", "object": "dispute", "status": if submit { "under_review" } else { "needs_response" }})))
                .expect(1)
                .mount(&server)
                .await;
            processor(&server)
                .update_dispute("dp_1", &evidence, submit)
                .await
                .unwrap();
            let sent = server.received_requests().await.unwrap();
            let body = String::from_utf8_lossy(&sent[0].body);
            // A field not set is sent empty: it clears what an earlier draft put there.
            assert!(
                body.contains("evidence%5Baccess_activity_log%5D=&"),
                "{body}"
            );
        }
    }

    #[tokio::test]
    async fn detaching_a_card_detached_before_is_done() {
        for (response, ok) in [
            (
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::json!({"id": "pm_1", "customer": null})),
                true,
            ),
            (
                ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
                    "type": "invalid_request_error", "code": "payment_method_unexpected_state"}})),
                true,
            ),
            (
                ResponseTemplate::new(401).set_body_json(serde_json::json!({"error": {
                "type": "invalid_request_error", "code": "api_key_expired"}})),
                false,
            ),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/payment_methods/pm_1/detach"))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
            assert_eq!(
                processor(&server)
                    .detach_payment_method("pm_1")
                    .await
                    .is_ok(),
                ok
            );
        }
    }

    /// A refund of part of a paid intent (Stripe's `POST /v1/refunds`), under the caller's key; one
    /// refunded in full already is done; a refusal of another kind is an error.
    #[tokio::test]
    async fn a_refund_names_the_intent_and_amount_under_its_key() {
        for (response, ok) in [
            (
                ResponseTemplate::new(200).set_body_json(serde_json::json!({
                    "id": "re_1", "object": "refund", "amount": 2500, "payment_intent": "pi_1", "status": "succeeded"})),
                true,
            ),
            (
                ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
                    "type": "invalid_request_error", "code": "charge_already_refunded"}})),
                true,
            ),
            (
                ResponseTemplate::new(400).set_body_json(serde_json::json!({"error": {
                    "type": "invalid_request_error", "code": "amount_too_large"}})),
                false,
            ),
        ] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/refunds"))
                .and(header("idempotency-key", "practica-refund-pay_1"))
                .and(body_string_contains("payment_intent=pi_1"))
                .and(body_string_contains("amount=2500"))
                .and(body_string_contains("reason=requested_by_customer"))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
            let amount = Money::new(2500, Currency::parse("USD").unwrap()).unwrap();
            let refunded = processor(&server)
                .refund("pi_1", amount, &ProcessorKey::new("practica-refund-pay_1"))
                .await;
            assert_eq!(refunded.is_ok(), ok, "{refunded:?}");
        }
    }

    #[test]
    fn the_key_never_prints() {
        let config = StripeConfig::new(SecretString::from("sk_live_verysecret"));
        assert!(!format!("{config:?}").contains("verysecret"));
    }
}
