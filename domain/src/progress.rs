//! Where a payment stands, as a merge of the processor's events that does not depend on their order.
//!
//! Each field is the maximum of what the events say under a total order of "stamps":
//! - the status: ranked `requires_payment < processing < failed < canceled < succeeded`, then by
//!   the event's creation time, then by event id. A late `processing` after `succeeded` loses; a
//!   failed attempt followed by a successful one ends `succeeded`.
//! - the card checks: from the event with the highest (status rank, time, id) that carries them;
//! - the failure: from the latest event (time, id) that carries one;
//! - the refunded amount: the largest cumulative figure (the processor reports running totals);
//! - the time of success: the earliest success event's creation time (a minimum);
//! - refunds the processor reports as objects, per refund id: the largest amount, failed once any
//!   event says so (a refund can fail after it succeeded), first seen at the earliest time;
//! - disputes, per dispute id: the largest amount, funds withdrawn or reinstated once any event
//!   says so, the outcome (won or lost) once closed, opened and closed at the earliest times.
//!
//! A maximum is commutative, associative and idempotent, so every delivery order (and every
//! redelivery) ends in the same record; the tests check it over every permutation.

use serde::Serialize;

/// A payment's status, in forward order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    RequiresPayment,
    Processing,
    Failed,
    Canceled,
    Succeeded,
}

impl PaymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::RequiresPayment => "requires_payment",
            PaymentStatus::Processing => "processing",
            PaymentStatus::Failed => "failed",
            PaymentStatus::Canceled => "canceled",
            PaymentStatus::Succeeded => "succeeded",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [
            PaymentStatus::RequiresPayment,
            PaymentStatus::Processing,
            PaymentStatus::Failed,
            PaymentStatus::Canceled,
            PaymentStatus::Succeeded,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// The outcome of one card check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckResult {
    Pass,
    Fail,
    Unavailable,
    Unchecked,
}

impl CheckResult {
    /// The processor's value; absent or null means the check was not performed.
    pub fn parse(s: Option<&str>) -> CheckResult {
        match s {
            Some("pass") => CheckResult::Pass,
            Some("fail") => CheckResult::Fail,
            Some("unavailable") => CheckResult::Unavailable,
            _ => CheckResult::Unchecked,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CheckResult::Pass => "pass",
            CheckResult::Fail => "fail",
            CheckResult::Unavailable => "unavailable",
            CheckResult::Unchecked => "unchecked",
        }
    }
}

/// Address line 1, postal code and CVC checks of the card used, and (when the processor says)
/// which card it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardChecks {
    pub address_line1: CheckResult,
    pub postal_code: CheckResult,
    pub cvc: CheckResult,
    /// Shown apart from the checks (a receipt names the card; the checks are for staff).
    #[serde(skip)]
    pub card: Option<CardUsed>,
}

/// The card a payment was made with, as a receipt names it: its brand and last four digits, never
/// more of the number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CardUsed {
    pub brand: CardBrand,
    pub last4: Last4,
}

/// Card brands as the processor names them; any other is `other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CardBrand {
    Visa,
    Mastercard,
    Amex,
    Discover,
    Diners,
    Jcb,
    Unionpay,
    Other,
}

impl CardBrand {
    const ALL: [CardBrand; 8] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
        CardBrand::Diners,
        CardBrand::Jcb,
        CardBrand::Unionpay,
        CardBrand::Other,
    ];
    pub fn parse(raw: &str) -> CardBrand {
        Self::ALL
            .into_iter()
            .find(|b| b.as_str() == raw)
            .unwrap_or(CardBrand::Other)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::Diners => "diners",
            CardBrand::Jcb => "jcb",
            CardBrand::Unionpay => "unionpay",
            CardBrand::Other => "other",
        }
    }
}

/// Exactly four digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Last4([u8; 4]);

impl Last4 {
    pub fn parse(raw: &str) -> Option<Last4> {
        let bytes: [u8; 4] = raw.as_bytes().try_into().ok()?;
        bytes.iter().all(u8::is_ascii_digit).then_some(Last4(bytes))
    }
    pub fn as_str(&self) -> &str {
        // Four ASCII digits, checked when parsed.
        std::str::from_utf8(&self.0).unwrap_or("????")
    }
}

impl Serialize for Last4 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Why an attempt failed: the processor's codes, never its free-text message.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
}

impl Failure {
    /// Codes are short snake_case words; anything else is replaced, never stored verbatim.
    pub fn code(raw: Option<&str>) -> Option<String> {
        raw.map(|c| {
            let ok = !c.is_empty()
                && c.len() <= 64
                && c.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if ok {
                c.to_owned()
            } else {
                "unrecognized".to_owned()
            }
        })
    }
}

/// Orders events: (status rank, event time, event id). Stored as text that sorts the same way.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub rank: PaymentStatus,
    pub created: i64,
    pub event_id: String,
}

impl Stamp {
    pub fn encode(&self) -> String {
        format!("{}|{:012}|{}", self.rank as u8, self.created, self.event_id)
    }
    pub fn decode(s: &str) -> Option<Stamp> {
        let mut parts = s.splitn(3, '|');
        let rank = match parts.next()?.parse::<u8>().ok()? {
            0 => PaymentStatus::RequiresPayment,
            1 => PaymentStatus::Processing,
            2 => PaymentStatus::Failed,
            3 => PaymentStatus::Canceled,
            4 => PaymentStatus::Succeeded,
            _ => return None,
        };
        Some(Stamp {
            rank,
            created: parts.next()?.parse().ok()?,
            event_id: parts.next()?.to_owned(),
        })
    }
}

/// What one event says about a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observation {
    pub event_id: String,
    pub created: i64,
    pub status: Option<PaymentStatus>,
    pub checks: Option<CardChecks>,
    pub failure: Option<Failure>,
    /// Cumulative refunded amount, in the payment's minor units.
    pub refunded: Option<i64>,
    /// A refund object (`refund.*`, `charge.refund.updated`).
    pub refund: Option<RefundObservation>,
    /// A dispute object (`charge.dispute.*`).
    pub dispute: Option<DisputeObservation>,
}

impl Observation {
    /// An event that says nothing yet but its id and time.
    pub fn new(event_id: impl Into<String>, created: i64) -> Observation {
        Observation {
            event_id: event_id.into(),
            created,
            status: None,
            checks: None,
            failure: None,
            refunded: None,
            refund: None,
            dispute: None,
        }
    }
}

/// What a refund event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundObservation {
    pub id: String,
    pub amount: i64,
    pub failed: bool,
}

/// How a dispute ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeOutcome {
    Lost,
    Won,
}

/// What a dispute event says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisputeObservation {
    pub id: String,
    pub amount: i64,
    pub withdrawn: bool,
    pub reinstated: bool,
    pub outcome: Option<DisputeOutcome>,
    /// The card network's reason, as one of [`DISPUTE_REASONS`].
    pub reason: Option<&'static str>,
}

/// The reasons a processor gives for a dispute (Stripe's documented `reason` values); any other
/// is `other`, so no free text reaches the record.
pub const DISPUTE_REASONS: [&str; 15] = [
    "bank_cannot_process",
    "check_returned",
    "credit_not_processed",
    "customer_initiated",
    "debit_not_authorized",
    "duplicate",
    "fraudulent",
    "general",
    "incorrect_account_details",
    "insufficient_funds",
    "noncompliant",
    "product_not_received",
    "product_unacceptable",
    "subscription_canceled",
    "unrecognized",
];

/// A dispute's reason as we keep it: one of [`DISPUTE_REASONS`], or `other`.
pub fn dispute_reason(code: &str) -> &'static str {
    DISPUTE_REASONS
        .iter()
        .find(|r| **r == code)
        .copied()
        .unwrap_or("other")
}

/// A refund's merged state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Refund {
    pub amount: i64,
    pub failed: bool,
    pub at: i64,
}

/// A dispute's merged state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dispute {
    pub amount: i64,
    pub opened_at: i64,
    pub withdrawn: bool,
    pub reinstated: bool,
    pub outcome: Option<DisputeOutcome>,
    pub closed_at: Option<i64>,
    /// Absent on disputes recorded before reasons were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Dispute {
    /// What the practice is owed again: the withdrawn amount, until the dispute is won.
    pub fn owed_again(&self) -> i64 {
        let withdrawn = self.withdrawn || self.outcome == Some(DisputeOutcome::Lost);
        let back = self.reinstated || self.outcome == Some(DisputeOutcome::Won);
        if withdrawn && !back { self.amount } else { 0 }
    }
}

/// The merged state of a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub status: PaymentStatus,
    pub checks: Option<(CardChecks, Stamp)>,
    pub failure: Option<(Failure, Stamp)>,
    pub refunded: i64,
    /// The creation time of the earliest success event (how long paying took, for the report).
    pub succeeded_at: Option<i64>,
    /// Refunds reported as objects, by refund id.
    pub refunds: std::collections::BTreeMap<String, Refund>,
    /// Disputes, by dispute id.
    pub disputes: std::collections::BTreeMap<String, Dispute>,
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            status: PaymentStatus::RequiresPayment,
            checks: None,
            failure: None,
            refunded: 0,
            succeeded_at: None,
            refunds: Default::default(),
            disputes: Default::default(),
        }
    }
}

fn newer(current: Option<&Stamp>, candidate: &Stamp) -> bool {
    current.is_none_or(|c| candidate > c)
}

impl Progress {
    /// The state after `observation`; equal to `self` when the event changes nothing.
    pub fn merge(&self, o: &Observation) -> Progress {
        let mut next = self.clone();
        let rank = o.status.unwrap_or(PaymentStatus::RequiresPayment);
        let stamp = Stamp {
            rank,
            created: o.created,
            event_id: o.event_id.clone(),
        };
        if let Some(status) = o.status {
            // Events of one rank carry the same status, so the rank alone decides.
            next.status = next.status.max(status);
        }
        if o.status == Some(PaymentStatus::Succeeded) {
            next.succeeded_at = Some(self.succeeded_at.map_or(o.created, |t| t.min(o.created)));
        }
        if let Some(checks) = o.checks
            && newer(self.checks.as_ref().map(|c| &c.1), &stamp)
        {
            next.checks = Some((checks, stamp.clone()));
        }
        if let Some(failure) = &o.failure {
            // Failures are ordered by time alone: the most recent attempt's reason.
            let time_stamp = Stamp {
                rank: PaymentStatus::RequiresPayment,
                ..stamp.clone()
            };
            if newer(self.failure.as_ref().map(|f| &f.1), &time_stamp) {
                next.failure = Some((failure.clone(), time_stamp));
            }
        }
        if let Some(refunded) = o.refunded {
            next.refunded = next.refunded.max(refunded);
        }
        if let Some(r) = &o.refund {
            let e = next.refunds.entry(r.id.clone()).or_insert(Refund {
                amount: r.amount,
                failed: r.failed,
                at: o.created,
            });
            e.amount = e.amount.max(r.amount);
            e.failed |= r.failed;
            e.at = e.at.min(o.created);
        }
        if let Some(d) = &o.dispute {
            let e = next.disputes.entry(d.id.clone()).or_insert(Dispute {
                amount: d.amount,
                opened_at: o.created,
                withdrawn: false,
                reinstated: false,
                outcome: None,
                closed_at: None,
                reason: None,
            });
            // Every event of a dispute names the same reason; the first one seen stays.
            if e.reason.is_none() {
                e.reason = d.reason.map(str::to_owned);
            }
            e.amount = e.amount.max(d.amount);
            e.opened_at = e.opened_at.min(o.created);
            e.withdrawn |= d.withdrawn;
            e.reinstated |= d.reinstated;
            e.outcome = e.outcome.max(d.outcome);
            if d.outcome.is_some() {
                e.closed_at = Some(e.closed_at.map_or(o.created, |t| t.min(o.created)));
            }
        }
        next
    }

    /// What was refunded in the end: the processor's running total less the refunds that failed
    /// since, or the refunds still standing if they say more (whatever order the events came in).
    pub fn refunded_net(&self, amount: i64) -> i64 {
        let (failed, standing): (i64, i64) = self.refunds.values().fold((0, 0), |(f, s), r| {
            if r.failed {
                (f + r.amount, s)
            } else {
                (f, s + r.amount)
            }
        });
        (self.refunded - failed).max(standing).clamp(0, amount)
    }

    /// What counts against the balance: (paid, refunded, owed again through disputes) of a
    /// succeeded payment.
    pub fn settled(&self, amount: i64) -> (i64, i64, i64) {
        if self.status != PaymentStatus::Succeeded {
            return (0, 0, 0);
        }
        let refunded = self.refunded_net(amount);
        let disputed: i64 = self.disputes.values().map(Dispute::owed_again).sum();
        (amount, refunded, disputed.clamp(0, amount - refunded))
    }
}

/// What a verified event means for us.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // one per webhook request, never held in bulk
pub enum Event {
    /// An event about a payment intent.
    Payment {
        /// The processor's intent id (`pi_...`).
        intent: String,
        /// Amount and currency as the processor states them (checked against our record).
        amount: Option<i64>,
        currency: Option<String>,
        observation: Observation,
    },
    /// A card saved for later charges (`setup_intent.succeeded`): the processor's setup intent, the
    /// customer it saved the card for and the card's payment method.
    CardSaved {
        setup_intent: String,
        customer: String,
        payment_method: String,
    },
    /// A payment method attached to a customer (`payment_method.attached`): what the card is.
    CardAttached {
        payment_method: String,
        customer: String,
        card: Option<CardUsed>,
    },
    /// A payment method detached from its customer (`payment_method.detached`), at our request
    /// or from the processor's dashboard: it can no longer be charged.
    CardDetached { payment_method: String },
    /// A type we do not act on.
    Ignored,
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_card_is_named_by_brand_and_exactly_four_digits() {
        assert_eq!(
            Last4::parse("4242").map(|l| l.as_str().to_owned()),
            Some("4242".into())
        );
        for bad in ["424", "42424", "42a2", "", "４２４２"] {
            assert_eq!(Last4::parse(bad), None, "{bad}");
        }
        assert_eq!(CardBrand::parse("amex"), CardBrand::Amex);
        assert_eq!(CardBrand::parse("<script>"), CardBrand::Other);
        let used = CardUsed {
            brand: CardBrand::Visa,
            last4: Last4::parse("0005").unwrap(),
        };
        assert_eq!(
            serde_json::to_value(used).unwrap(),
            serde_json::json!({"brand": "visa", "last4": "0005"})
        );
    }

    use super::*;

    fn obs(id: &str, created: i64) -> Observation {
        Observation::new(id, created)
    }

    fn events() -> Vec<Observation> {
        let checks = |line1| CardChecks {
            card: None,
            address_line1: line1,
            postal_code: CheckResult::Pass,
            cvc: CheckResult::Pass,
        };
        vec![
            Observation {
                status: Some(PaymentStatus::Processing),
                ..obs("evt_a", 100)
            },
            Observation {
                status: Some(PaymentStatus::Failed),
                checks: Some(checks(CheckResult::Fail)),
                failure: Some(Failure {
                    code: "card_declined".into(),
                    decline_code: Some("insufficient_funds".into()),
                }),
                ..obs("evt_b", 101)
            },
            Observation {
                status: Some(PaymentStatus::Succeeded),
                checks: Some(checks(CheckResult::Pass)),
                ..obs("evt_c", 102)
            },
            Observation {
                refunded: Some(3000),
                ..obs("evt_d", 103)
            },
            Observation {
                refunded: Some(12000),
                ..obs("evt_e", 104)
            },
            Observation {
                status: Some(PaymentStatus::Processing),
                ..obs("evt_f", 105)
            },
        ]
    }

    fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
        if items.len() <= 1 {
            return vec![items.to_vec()];
        }
        let mut out = Vec::new();
        for i in 0..items.len() {
            let mut rest = items.to_vec();
            let first = rest.remove(i);
            for mut p in permutations(&rest) {
                p.insert(0, first.clone());
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn every_delivery_order_ends_in_the_same_state() {
        let all = events();
        let orders = permutations(&all);
        assert_eq!(orders.len(), 720);
        let reference = all.iter().fold(Progress::default(), |p, o| p.merge(o));
        assert_eq!(reference.status, PaymentStatus::Succeeded);
        assert_eq!(reference.refunded, 12000);
        assert_eq!(
            reference.checks.as_ref().map(|c| c.0.address_line1),
            Some(CheckResult::Pass)
        );
        assert_eq!(
            reference.failure.as_ref().map(|f| f.0.code.as_str()),
            Some("card_declined")
        );
        for order in orders {
            // Each delivered twice, the second time at the end: redeliveries change nothing.
            let once = order.iter().fold(Progress::default(), |p, o| p.merge(o));
            let twice = order.iter().fold(once.clone(), |p, o| p.merge(o));
            assert_eq!(once, reference);
            assert_eq!(twice, reference);
        }
    }

    /// A paid 120.00, a refund of 30.00 that later fails, one of 10.00 that stands, and a dispute
    /// of 50.00 whose funds are withdrawn, then lost; or, in the second script, won.
    fn refund_and_dispute_events(outcome: DisputeOutcome) -> Vec<Observation> {
        let refund = |id: &str, amount, failed| RefundObservation {
            id: id.into(),
            amount,
            failed,
        };
        let dispute = |withdrawn, outcome| DisputeObservation {
            id: "dp_1".into(),
            amount: 5000,
            withdrawn,
            reinstated: outcome == Some(DisputeOutcome::Won),
            outcome,
            reason: Some("fraudulent"),
        };
        vec![
            Observation {
                status: Some(PaymentStatus::Succeeded),
                ..obs("evt_paid", 100)
            },
            Observation {
                refunded: Some(3000),
                refund: Some(refund("re_1", 3000, false)),
                ..obs("evt_r1", 110)
            },
            Observation {
                refund: Some(refund("re_1", 3000, true)),
                ..obs("evt_r1_failed", 120)
            },
            Observation {
                refunded: Some(1000),
                refund: Some(refund("re_2", 1000, false)),
                ..obs("evt_r2", 130)
            },
            Observation {
                dispute: Some(dispute(false, None)),
                ..obs("evt_d_open", 140)
            },
            Observation {
                dispute: Some(dispute(true, None)),
                ..obs("evt_d_withdrawn", 150)
            },
            Observation {
                dispute: Some(dispute(outcome == DisputeOutcome::Lost, Some(outcome))),
                ..obs("evt_d_closed", 160)
            },
        ]
    }

    #[test]
    fn a_dispute_reason_is_a_known_code_or_other() {
        assert_eq!(dispute_reason("fraudulent"), "fraudulent");
        assert_eq!(
            dispute_reason("product_not_received"),
            "product_not_received"
        );
        for free_text in [
            "",
            "Fraudulent",
            "patient said the visit never happened",
            "<b>",
        ] {
            assert_eq!(dispute_reason(free_text), "other", "{free_text}");
        }
    }

    #[test]
    fn failed_refunds_and_disputes_settle_the_same_in_every_order() {
        for (outcome, owed) in [(DisputeOutcome::Lost, 5000), (DisputeOutcome::Won, 0)] {
            let all = refund_and_dispute_events(outcome);
            let reference = all.iter().fold(Progress::default(), |p, o| p.merge(o));
            // The failed 30.00 is back on the balance; the standing 10.00 is refunded; a lost
            // dispute's 50.00 is owed again, a won one's is not.
            assert_eq!(reference.settled(12000), (12000, 1000, owed), "{outcome:?}");
            let d = &reference.disputes["dp_1"];
            assert_eq!(
                (d.opened_at, d.closed_at, d.outcome),
                (140, Some(160), Some(outcome))
            );
            assert!(reference.refunds["re_1"].failed && !reference.refunds["re_2"].failed);
            for order in permutations(&all) {
                let once = order.iter().fold(Progress::default(), |p, o| p.merge(o));
                let twice = order.iter().fold(once.clone(), |p, o| p.merge(o));
                assert_eq!((&once, &twice), (&reference, &reference));
            }
        }
        // Withdrawn and not yet closed: owed again meanwhile.
        let open = refund_and_dispute_events(DisputeOutcome::Won)[..6]
            .iter()
            .fold(Progress::default(), |p, o| p.merge(o));
        assert_eq!(open.settled(12000), (12000, 1000, 5000));
    }

    #[test]
    fn never_moves_backwards() {
        let done = events()[2].clone();
        let late = events()[0].clone();
        let state = Progress::default().merge(&done);
        assert_eq!(state.merge(&late), state);
        assert_eq!(state.settled(12000), (12000, 0, 0));
        let refunded = state.merge(&events()[3]);
        assert_eq!(refunded.settled(12000), (12000, 3000, 0));
        assert_eq!(
            Progress::default().merge(&events()[3]).settled(12000),
            (0, 0, 0)
        );
    }

    #[test]
    fn stamps_round_trip_and_sort_as_text() {
        let a = Stamp {
            rank: PaymentStatus::Failed,
            created: 99,
            event_id: "evt_z|x".into(),
        };
        let b = Stamp {
            rank: PaymentStatus::Succeeded,
            created: 1,
            event_id: "evt_a".into(),
        };
        assert_eq!(Stamp::decode(&a.encode()), Some(a.clone()));
        assert!(a < b && a.encode() < b.encode());
        assert_eq!(
            Failure::code(Some("Card Declined!")).as_deref(),
            Some("unrecognized")
        );
    }
}
