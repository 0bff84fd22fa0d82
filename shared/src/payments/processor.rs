//! The payment-processor port, and the only values that may cross it.
//!
//! Nothing about a patient's health may reach the processor. A request to it is built from
//! [`ProcessorText`], which only our opaque id types can produce: there is no way to put a charge
//! description, a name or a reason into a description, metadata value or statement descriptor.

use async_trait::async_trait;

use domain::ids::{ChargeId, PaymentId};
use domain::money::Money;

/// The metadata key every intent Practica creates carries: the payment it pays. Webhook events
/// about intents whose metadata lacks it were made by another integration and are ignored.
pub const PAYMENT_METADATA_KEY: &str = "practica_payment";

/// The metadata key every setup intent Practica creates carries (its value is a fixed label):
/// setup events without it were made by another integration and are ignored.
pub const SETUP_METADATA_KEY: &str = "practica_setup";

/// An id the processor gave (`pi_...`, `cus_...`, `pm_...`): letters, digits and underscores.
pub fn processor_id_ok(id: &str) -> bool {
    !id.is_empty() && id.len() <= 255 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Ids that are opaque outside Practica and may therefore be shown to the processor.
pub trait OpaqueId: sealed::Sealed {
    fn opaque(&self) -> &str;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for domain::ids::PaymentId {}
    impl Sealed for domain::ids::ChargeId {}
}

impl OpaqueId for PaymentId {
    fn opaque(&self) -> &str {
        self.as_str()
    }
}
impl OpaqueId for ChargeId {
    fn opaque(&self) -> &str {
        self.as_str()
    }
}

/// Text sent to the processor: a fixed label and opaque ids, nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorText(String);

impl ProcessorText {
    /// `label` is a compile-time constant (it cannot carry data); `ids` are opaque ids.
    pub fn new(label: &'static str, ids: &[&dyn OpaqueId]) -> Self {
        ProcessorText(format!("{label} {}", Self::ids(ids).0))
    }
    /// A fixed label alone.
    pub fn label(label: &'static str) -> Self {
        ProcessorText(label.to_owned())
    }
    /// Opaque ids separated by spaces.
    pub fn ids(ids: &[&dyn OpaqueId]) -> Self {
        let parts: Vec<&str> = ids.iter().map(|id| id.opaque()).collect();
        ProcessorText(parts.join(" "))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The processor's idempotency key for one of our requests (derived from the client's key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessorKey(pub(crate) String);

impl ProcessorKey {
    /// A key as given (adapters' tests); the use cases derive theirs from the client's key.
    pub fn new(key: impl Into<String>) -> Self {
        ProcessorKey(key.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What we ask the processor to create.
#[derive(Clone, Debug)]
pub struct IntentRequest {
    pub amount: Money,
    pub idempotency_key: ProcessorKey,
    pub description: ProcessorText,
    pub metadata: Vec<(&'static str, ProcessorText)>,
}

impl IntentRequest {
    /// The request for one of our payments: description and metadata name only our ids.
    pub fn for_payment(
        payment: &PaymentId,
        charges: &[ChargeId],
        amount: Money,
        key: ProcessorKey,
    ) -> Self {
        let mut metadata = vec![(PAYMENT_METADATA_KEY, ProcessorText::ids(&[payment]))];
        if !charges.is_empty() {
            let ids: Vec<&dyn OpaqueId> = charges.iter().map(|c| c as &dyn OpaqueId).collect();
            metadata.push(("practica_charges", ProcessorText::ids(&ids)));
        }
        IntentRequest {
            amount,
            idempotency_key: key,
            description: ProcessorText::new("Practica payment", &[payment]),
            metadata,
        }
    }
}

/// A setup intent for saving a card to charge later without the patient (`usage: off_session`).
#[derive(Clone, Debug)]
pub struct SetupRequest {
    /// The processor's customer the card is saved for (`cus_...`).
    pub customer: String,
    pub idempotency_key: ProcessorKey,
}

/// A charge of a saved card with no patient present (`off_session`, confirmed at once).
#[derive(Clone, Debug)]
pub struct OffSessionRequest {
    pub intent: IntentRequest,
    pub customer: String,
    pub payment_method: String,
}

/// How an off-session charge ended at once. Its events follow through the webhooks as for any
/// intent; this only says whether the patient must now be asked to pay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OffSession {
    /// Paid, or being paid (`succeeded`, `processing`).
    Accepted,
    /// The bank wants the cardholder present (`authentication_required`).
    AuthenticationRequired,
    /// Declined; the processor's code (`card_declined`, `expired_card`...).
    Declined { code: String },
}

/// What an off-session charge created: the intent (also on a decline, which the processor records
/// on an intent), and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffSessionCharge {
    pub intent: String,
    pub outcome: OffSession,
}

/// The evidence answering a dispute, in the processor's fields (Stripe's `evidence[...]`). Built
/// only by [`super::disputes`] from our records and the signed audit log: dates, the policy's
/// words, what happened when and by whom; the service is described generically, never by a name
/// that could say something about the patient's health.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct DisputeEvidence {
    pub product_description: String,
    pub service_date: String,
    pub cancellation_policy_disclosure: Option<String>,
    pub cancellation_rebuttal: Option<String>,
    pub access_activity_log: Option<String>,
}

impl DisputeEvidence {
    /// The most characters one field sends (the processor caps the evidence's text).
    pub const FIELD_MAX: usize = 5_000;

    /// Every field, by the processor's names; one not set is sent empty, which clears what an
    /// earlier draft put there.
    pub fn fields(&self) -> Vec<(&'static str, &str)> {
        fn text(v: &Option<String>) -> &str {
            v.as_deref().unwrap_or_default()
        }
        vec![
            ("product_description", self.product_description.as_str()),
            ("service_date", self.service_date.as_str()),
            (
                "cancellation_policy_disclosure",
                text(&self.cancellation_policy_disclosure),
            ),
            ("cancellation_rebuttal", text(&self.cancellation_rebuttal)),
            ("access_activity_log", text(&self.access_activity_log)),
        ]
    }
}

/// What the processor created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Intent {
    /// The processor's id (`pi_...`).
    pub id: String,
    /// Handed to the patient's browser to confirm the payment; never stored in plaintext.
    pub client_secret: domain::sensitive::Sensitive<String>,
}

/// Why the processor did not create an intent.
#[derive(Debug, thiserror::Error)]
pub enum ProcessorError {
    /// The card or payment was declined (`card_error`).
    #[error("declined: {code}")]
    Declined {
        code: String,
        decline_code: Option<String>,
        /// The intent the processor recorded the declined attempt on, when it names one.
        intent: Option<String>,
    },
    /// The same idempotency key was used with different parameters.
    #[error("idempotency key reused with other parameters")]
    IdempotencyConflict,
    /// Still rate limited after the retries.
    #[error("rate limited")]
    RateLimited,
    /// The processor refused the request as invalid (our bug or configuration).
    #[error("request refused: {code}")]
    Rejected { code: String },
    /// The intent is not in a state that allows this (e.g. cancelling a paid one); its status.
    #[error("intent in unexpected state {status}")]
    UnexpectedState { status: String },
    /// Unreachable, timing out or failing on its side after the retries.
    #[error("processor unavailable")]
    Unavailable(#[source] anyhow::Error),
}

impl From<ProcessorError> for crate::error::ApiError {
    fn from(e: ProcessorError) -> Self {
        use crate::error::ApiError;
        use domain::refusals::PaymentError;
        match e {
            ProcessorError::Declined { .. } => ApiError::Payment(PaymentError::Declined),
            ProcessorError::IdempotencyConflict => {
                ApiError::Payment(PaymentError::ProcessorKeyReused)
            }
            ProcessorError::RateLimited => ApiError::Unavailable {
                code: "processor_rate_limited",
                source: anyhow::Error::new(e),
            },
            ProcessorError::Unavailable(_) => ApiError::Unavailable {
                code: "processor_unavailable",
                source: anyhow::Error::new(e),
            },
            ProcessorError::Rejected { .. } | ProcessorError::UnexpectedState { .. } => {
                ApiError::Unexpected(anyhow::Error::new(e).context("processor refused request"))
            }
        }
    }
}

/// What cancelling an intent came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cancel {
    /// It cannot be paid any more (cancelled now or before).
    Canceled,
    /// Too late: it is paid or being paid.
    TooLate,
}

/// The payment-processor port.
#[async_trait]
pub trait PaymentProcessor: Send + Sync {
    /// Creates (or, for a key seen before, returns) a payment intent.
    async fn create_intent(&self, request: &IntentRequest) -> Result<Intent, ProcessorError>;
    /// Cancels an intent nobody has paid, so it can no longer be paid.
    async fn cancel_intent(&self, id: &str, key: &ProcessorKey) -> Result<Cancel, ProcessorError>;
    /// Creates (or, for a key seen before, returns) a customer to save cards for. It carries no
    /// name, email or metadata: only our table links it to a patient.
    async fn create_customer(&self, key: &ProcessorKey) -> Result<String, ProcessorError>;
    /// Creates (or returns) a setup intent saving a card for off-session use.
    async fn create_setup_intent(&self, request: &SetupRequest) -> Result<Intent, ProcessorError>;
    /// Charges a saved card with no one present. The same key charges once, however often it is
    /// retried; a decline is an answer (`Ok`), not an error.
    async fn charge_off_session(
        &self,
        request: &OffSessionRequest,
    ) -> Result<OffSessionCharge, ProcessorError>;
    /// Detaches a saved card from its customer so it can never be charged again (one already
    /// detached, or unknown to the processor, is detached).
    async fn detach_payment_method(&self, id: &str) -> Result<(), ProcessorError>;
    /// Refunds `amount` of a paid intent (`pi_...`). The same key refunds once, however often it
    /// is retried; the refund's events follow through the webhooks.
    async fn refund(
        &self,
        intent: &str,
        amount: Money,
        key: &ProcessorKey,
    ) -> Result<(), ProcessorError>;
    /// Saves `evidence` on a dispute (`dp_...`): a draft for the practice to review (`submit`
    /// false), or submitted to the card network (true; final).
    async fn update_dispute(
        &self,
        id: &str,
        evidence: &DisputeEvidence,
        submit: bool,
    ) -> Result<(), ProcessorError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::money::Currency;

    #[test]
    fn a_request_names_only_ids() {
        let payment = PaymentId::new();
        let charge = ChargeId::new();
        let request = IntentRequest::for_payment(
            &payment,
            std::slice::from_ref(&charge),
            Money::new(100, Currency::parse("USD").unwrap()).unwrap(),
            ProcessorKey("k".into()),
        );
        assert_eq!(
            request.description.as_str(),
            format!("Practica payment {payment}")
        );
        assert_eq!(request.metadata[0].1.as_str(), payment.as_str());
        assert_eq!(request.metadata[1].1.as_str(), charge.as_str());
    }
}
