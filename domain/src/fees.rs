//! A service's cancellation policy, the terms an appointment is booked under, and the fees they
//! give rise to.
//!
//! A policy names amounts as a fixed sum or a share of the service's price; at booking it becomes
//! [`Terms`]: money in the price's currency, the words the patient was shown, and their version
//! (a hash of those words). A fee is charged from the terms the appointment was booked under, so a
//! later change of the policy never reaches an appointment already booked.

use serde::{Deserialize, Serialize};

use crate::ids::{AppointmentId, ChargeId};
use crate::money::{MAX_MINOR_UNITS, Money};
use crate::refusals::SetupError;

/// The longest late-cancellation window: a week.
pub const MAX_WINDOW_HOURS: u16 = 168;

/// A fee: a fixed amount (minor units of the service's price's currency) or a share of the price.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Amount {
    Fixed(i64),
    Percent(u8),
}

impl Amount {
    /// This amount of a service priced `price` (a share rounded half up to the minor unit).
    pub fn of(self, price: Money) -> Option<Money> {
        let minor = match self {
            Amount::Fixed(minor) => minor,
            Amount::Percent(p) => (price.amount() * i64::from(p) + 50) / 100,
        };
        Money::new(minor, price.currency())
    }
}

/// What a service's policy says; staff set it with the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Policy {
    /// A cancellation less than this many hours before the start is late.
    pub late_window_hours: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_cancellation_fee: Option<Amount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_fee: Option<Amount>,
    /// Paid when booking, before the visit is confirmed: a fixed amount or a share of the price
    /// (`{"percent": 100}` is full prepayment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<Amount>,
}

impl Policy {
    /// Whether the policy can be set on a service priced `price`.
    pub fn check(&self, price: Option<Money>) -> Result<(), SetupError> {
        let price = price.ok_or(SetupError::PolicyNeedsPrice)?;
        let fees = [self.late_cancellation_fee, self.no_show_fee, self.deposit];
        let amount_ok = |a: &Amount| match *a {
            Amount::Fixed(minor) => (1..=price.amount().min(MAX_MINOR_UNITS)).contains(&minor),
            Amount::Percent(p) => {
                (1..=100).contains(&p) && a.of(price).is_some_and(|m| m.amount() > 0)
            }
        };
        let ok = (1..=MAX_WINDOW_HOURS).contains(&self.late_window_hours)
            && fees.iter().any(Option::is_some)
            && fees.iter().flatten().all(amount_ok);
        if ok {
            Ok(())
        } else {
            Err(SetupError::InvalidCancellationPolicy)
        }
    }

    /// The terms a booking of a service priced `price` is made under.
    pub fn terms(&self, price: Money) -> Terms {
        let window_secs = i64::from(self.late_window_hours) * 3600;
        let late_fee = self.late_cancellation_fee.and_then(|a| a.of(price));
        let no_show_fee = self.no_show_fee.and_then(|a| a.of(price));
        let deposit = self.deposit.and_then(|a| a.of(price));
        let version = version_of(&words(window_secs, late_fee, no_show_fee, deposit));
        Terms {
            window_secs,
            late_fee,
            no_show_fee,
            deposit,
            version,
        }
    }
}

/// The policy an appointment was booked under, in money.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Terms {
    pub window_secs: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_fee: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_show_fee: Option<Money>,
    /// Paid when booking; the visit is confirmed when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit: Option<Money>,
    /// The hash of [`Terms::words`]: what the patient was shown.
    pub version: String,
}

fn hours(secs: i64) -> String {
    match secs / 3600 {
        1 => "1 hour".into(),
        h => format!("{h} hours"),
    }
}

fn words(
    window_secs: i64,
    late: Option<Money>,
    no_show: Option<Money>,
    deposit: Option<Money>,
) -> Vec<String> {
    let text = |m: Money| m.currency().text(m.amount());
    let mut out = Vec::new();
    if let Some(deposit) = deposit {
        out.push(format!(
            "A deposit of {} is paid when booking: the visit is confirmed once it is paid, and it counts toward the visit's charge.",
            text(deposit)
        ));
        out.push(format!(
            "Cancelling {} or more before the visit refunds the deposit.",
            hours(window_secs)
        ));
        out.push(match late {
            None => format!(
                "Cancelling less than {} before the visit keeps the deposit as a fee.",
                hours(window_secs)
            ),
            Some(_) => format!(
                "Cancelling less than {} before the visit: the fee below is taken from the deposit, and what is left of the deposit is refunded.",
                hours(window_secs)
            ),
        });
        if no_show.is_none() {
            out.push("Missing the visit without cancelling keeps the deposit as a fee.".into());
        }
    }
    if let Some(fee) = late {
        out.push(format!(
            "Cancelling less than {} before the visit costs a fee of {}.",
            hours(window_secs),
            fee.currency().text(fee.amount())
        ));
    }
    if let Some(fee) = no_show {
        out.push(format!(
            "Missing the visit without cancelling costs a fee of {}.",
            fee.currency().text(fee.amount())
        ));
    }
    out
}

fn version_of(words: &[String]) -> String {
    let text = words.join("\n");
    let digest = crate::hash::sha256(&[b"cancellation-policy\n", text.as_bytes()]);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl Terms {
    /// The policy in words, as the patient is shown it before booking and in the confirmation.
    pub fn words(&self) -> Vec<String> {
        words(
            self.window_secs,
            self.late_fee,
            self.no_show_fee,
            self.deposit,
        )
    }

    /// The late-cancellation fee of a visit whose deposit `paid` (if it paid one): the policy's,
    /// or (it sets none) the deposit, kept as the fee. A visit booked without its deposit (by
    /// staff, in a series) is never charged the deposit as a fee.
    pub fn late_fee(&self, paid: Option<Money>) -> Option<Money> {
        self.late_fee.or(paid)
    }

    /// The no-show fee, as [`Terms::late_fee`].
    pub fn no_show_fee(&self, paid: Option<Money>) -> Option<Money> {
        self.no_show_fee.or(paid)
    }

    /// The fee a cancellation at `now` of a visit starting at `start` (whose deposit `paid`)
    /// costs, if any: one inside the window and before the start.
    pub fn late_fee_at(&self, start: i64, now: i64, paid: Option<Money>) -> Option<Money> {
        (now < start && now > start - self.window_secs)
            .then(|| self.late_fee(paid))
            .flatten()
    }

    /// The terms as the API shows them, with the fees of a visit whose deposit `paid` (a
    /// service's: as for a patient who pays its deposit).
    pub fn view(&self, paid: Option<Money>) -> serde_json::Value {
        serde_json::json!({
            "lateWindowHours": self.window_secs / 3600,
            "lateCancellationFee": self.late_fee(paid),
            "noShowFee": self.no_show_fee(paid),
            "deposit": self.deposit,
            "words": self.words(),
            "version": self.version,
        })
    }
}

/// A booking's deposit: what is asked, until when the time is held for it unpaid, and where it
/// stands. The appointment waits (`awaiting_deposit`) until the processor's webhook says it was
/// paid; its time is held until `due_by`, then the sweep lets it lapse.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Deposit {
    pub amount: Money,
    pub due_by: i64,
    pub state: DepositState,
    /// What is refunded of it (a cancellation, a no-show, a payment that came too late); the
    /// sweep refunds it at the processor.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub refund: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DepositState {
    /// Asked, not paid yet: the visit is not confirmed.
    Awaiting,
    /// Paid (the webhook said so): the visit is confirmed.
    Paid,
    /// Not paid in time: the visit lapsed.
    Lapsed,
}

impl Deposit {
    /// The one payment a deposit is paid with: whoever asks for it, however often, reaches the
    /// same payment and the same processor intent.
    pub fn payment_id(appointment: &AppointmentId) -> crate::ids::PaymentId {
        let hash = crate::hash::sha256(&[b"deposit\n", appointment.as_str().as_bytes()]);
        let mut id = [0u8; 16];
        id.copy_from_slice(&hash[..16]);
        crate::ids::PaymentId::derived(id)
    }

    /// What is kept of a paid deposit when `fee` is charged (a cancellation inside the window, a
    /// no-show), and so what is refunded: the rest.
    pub fn refund_keeping(&self, fee: Option<Money>) -> i64 {
        let kept = fee.map_or(0, |f| f.amount().min(self.amount.amount()));
        self.amount.amount() - kept
    }

    pub fn view(&self) -> serde_json::Value {
        serde_json::json!({
            "amount": self.amount,
            "dueBy": crate::instant::render_utc(self.due_by),
            "state": self.state,
            "refund": self.refund,
        })
    }
}

/// What a fee is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeeKind {
    LateCancellation,
    NoShow,
}

impl FeeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeKind::LateCancellation => "late_cancellation",
            FeeKind::NoShow => "no_show",
        }
    }
    pub fn parse(s: &str) -> Option<FeeKind> {
        match s {
            "late_cancellation" => Some(FeeKind::LateCancellation),
            "no_show" => Some(FeeKind::NoShow),
            _ => None,
        }
    }
    /// The fee's line item: generic words, nothing about the visit's care.
    pub fn line(self) -> &'static str {
        match self {
            FeeKind::LateCancellation => "Late cancellation fee",
            FeeKind::NoShow => "Missed appointment fee",
        }
    }
    /// The one charge id of this fee for an appointment: whoever records it, however often,
    /// writes the same charge (created once).
    pub fn charge_id(self, appointment: &AppointmentId) -> ChargeId {
        ChargeId::derived(&[
            b"fee",
            self.as_str().as_bytes(),
            appointment.as_str().as_bytes(),
        ])
    }
}

/// Why staff waived a fee: a code, never free text (the log and the report carry it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaiverReason {
    /// The patient turned up after being marked a no-show (recorded by the check-in itself).
    ArrivedLate,
    Emergency,
    FirstOccurrence,
    PracticeError,
    Goodwill,
    Other,
}

impl WaiverReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaiverReason::ArrivedLate => "arrived_late",
            WaiverReason::Emergency => "emergency",
            WaiverReason::FirstOccurrence => "first_occurrence",
            WaiverReason::PracticeError => "practice_error",
            WaiverReason::Goodwill => "goodwill",
            WaiverReason::Other => "other",
        }
    }
    pub fn parse(s: &str) -> Option<WaiverReason> {
        [
            WaiverReason::ArrivedLate,
            WaiverReason::Emergency,
            WaiverReason::FirstOccurrence,
            WaiverReason::PracticeError,
            WaiverReason::Goodwill,
            WaiverReason::Other,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }
    /// The one id of the entry that waives `fee`: a fee is waived once.
    pub fn waiver_id(fee: &ChargeId) -> ChargeId {
        ChargeId::derived(&[b"fee-waiver", fee.as_str().as_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;

    fn usd(minor: i64) -> Money {
        Money::new(minor, Currency::parse("USD").unwrap()).unwrap()
    }

    #[test]
    fn a_policy_becomes_terms_in_money_and_words() {
        let policy: Policy = serde_json::from_str(
            r#"{"lateWindowHours": 24, "lateCancellationFee": {"percent": 50}, "noShowFee": {"fixed": 8000}}"#,
        )
        .unwrap();
        assert_eq!(policy.check(Some(usd(12_005))), Ok(()));
        assert_eq!(policy.check(None), Err(SetupError::PolicyNeedsPrice));
        let terms = policy.terms(usd(12_005));
        assert_eq!(
            terms.late_fee,
            Some(usd(6003)),
            "half of 120.05, rounded half up"
        );
        assert_eq!(
            terms.words(),
            [
                "Cancelling less than 24 hours before the visit costs a fee of 60.03 USD.",
                "Missing the visit without cancelling costs a fee of 80.00 USD."
            ]
        );
        assert_eq!(terms.version, version_of(&terms.words()));
        assert_eq!(terms.version.len(), 16);
        let other = Policy {
            late_window_hours: 48,
            ..policy
        };
        assert_ne!(other.terms(usd(12_005)).version, terms.version);
        // The window: inside it and before the start only.
        let start = 100 * 3600;
        assert_eq!(terms.late_fee_at(start, start - 25 * 3600, None), None);
        assert_eq!(
            terms.late_fee_at(start, start - 24 * 3600, None),
            None,
            "exactly 24 h is in time"
        );
        assert_eq!(
            terms.late_fee_at(start, start - 3600, None),
            Some(usd(6003))
        );
        assert_eq!(
            terms.late_fee_at(start, start, None),
            None,
            "started: not a cancellation"
        );
    }

    #[test]
    fn bad_policies_are_refused() {
        let price = Some(usd(10_000));
        for bad in [
            r#"{"lateWindowHours": 0, "noShowFee": {"fixed": 1}}"#,
            r#"{"lateWindowHours": 169, "noShowFee": {"fixed": 1}}"#,
            r#"{"lateWindowHours": 24}"#,
            r#"{"lateWindowHours": 24, "noShowFee": {"fixed": 0}}"#,
            r#"{"lateWindowHours": 24, "noShowFee": {"fixed": 10001}}"#,
            r#"{"lateWindowHours": 24, "noShowFee": {"percent": 0}}"#,
            r#"{"lateWindowHours": 24, "noShowFee": {"percent": 101}}"#,
        ] {
            let policy: Policy = serde_json::from_str(bad).unwrap();
            assert_eq!(
                policy.check(price),
                Err(SetupError::InvalidCancellationPolicy),
                "{bad}"
            );
        }
        // 1% of a one-cent price rounds to nothing.
        let policy: Policy =
            serde_json::from_str(r#"{"lateWindowHours": 24, "noShowFee": {"percent": 1}}"#)
                .unwrap();
        assert_eq!(
            policy.check(Some(usd(1))),
            Err(SetupError::InvalidCancellationPolicy)
        );
        for bad in [
            r#"{"lateWindowHours": 24, "noShowFee": {"fixed": 1, "percent": 2}}"#,
            r#"{"lateWindowHours": 24, "noShowFee": {"share": 2}}"#,
            r#"{"lateWindowHours": 24, "deposit": {"fixed": 2, "percent": 1}}"#,
            r#"{"lateWindowHours": 24, "deposit": "full"}"#,
        ] {
            assert!(serde_json::from_str::<Policy>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_deposit_is_said_before_booking_and_kept_as_the_fee_the_policy_leaves_unset() {
        let policy: Policy =
            serde_json::from_str(r#"{"lateWindowHours": 48, "deposit": {"percent": 25}}"#).unwrap();
        assert_eq!(policy.check(Some(usd(20_000))), Ok(()));
        let terms = policy.terms(usd(20_000));
        assert_eq!(terms.deposit, Some(usd(5_000)));
        assert_eq!(
            terms.words(),
            [
                "A deposit of 50.00 USD is paid when booking: the visit is confirmed once it is paid, and it counts toward the visit's charge.",
                "Cancelling 48 hours or more before the visit refunds the deposit.",
                "Cancelling less than 48 hours before the visit keeps the deposit as a fee.",
                "Missing the visit without cancelling keeps the deposit as a fee."
            ]
        );
        // No fee set: a paid deposit is the fee, inside the window only; a visit booked without
        // it (staff, a series) is charged nothing.
        let paid = terms.deposit;
        assert_eq!(terms.late_fee(paid), Some(usd(5_000)));
        assert_eq!(terms.no_show_fee(paid), Some(usd(5_000)));
        assert_eq!(terms.late_fee(None), None);
        assert_eq!(terms.no_show_fee(None), None);
        let start = 100 * 3600;
        assert_eq!(terms.late_fee_at(start, start - 47 * 3600, None), None);
        assert_eq!(terms.late_fee_at(start, start - 49 * 3600, paid), None);
        assert_eq!(
            terms.late_fee_at(start, start - 47 * 3600, paid),
            Some(usd(5_000))
        );
        // A deposit changes the words, so the version.
        let without: Policy =
            serde_json::from_str(r#"{"lateWindowHours": 48, "noShowFee": {"fixed": 100}}"#)
                .unwrap();
        assert_ne!(without.terms(usd(20_000)).version, terms.version);
        // A fee set is charged as set; the deposit pays what it can and the rest is refunded.
        let both: Policy = serde_json::from_str(
            r#"{"lateWindowHours": 24, "lateCancellationFee": {"fixed": 2000}, "deposit": {"fixed": 5000}}"#,
        )
        .unwrap();
        let terms = both.terms(usd(20_000));
        assert_eq!(terms.late_fee(terms.deposit), Some(usd(2_000)));
        let deposit = Deposit {
            amount: usd(5_000),
            due_by: 0,
            state: DepositState::Paid,
            refund: 0,
        };
        assert_eq!(deposit.refund_keeping(terms.late_fee(terms.deposit)), 3_000);
        assert_eq!(deposit.refund_keeping(Some(usd(8_000))), 0);
        assert_eq!(deposit.refund_keeping(None), 5_000);
        // Full prepayment is the whole price; more than the price is refused.
        let full: Policy =
            serde_json::from_str(r#"{"lateWindowHours": 24, "deposit": {"percent": 100}}"#)
                .unwrap();
        assert_eq!(full.terms(usd(20_000)).deposit, Some(usd(20_000)));
        let over: Policy =
            serde_json::from_str(r#"{"lateWindowHours": 24, "deposit": {"fixed": 20001}}"#)
                .unwrap();
        assert_eq!(
            over.check(Some(usd(20_000))),
            Err(SetupError::InvalidCancellationPolicy)
        );
        // One payment per appointment.
        let a = AppointmentId::new();
        assert_eq!(Deposit::payment_id(&a), Deposit::payment_id(&a));
        assert_ne!(
            Deposit::payment_id(&a),
            Deposit::payment_id(&AppointmentId::new())
        );
    }

    #[test]
    fn fee_and_waiver_ids_are_one_per_appointment_and_kind() {
        let a = AppointmentId::new();
        let b = AppointmentId::new();
        let late = FeeKind::LateCancellation.charge_id(&a);
        assert_eq!(late, FeeKind::LateCancellation.charge_id(&a));
        assert_ne!(late, FeeKind::NoShow.charge_id(&a));
        assert_ne!(late, FeeKind::LateCancellation.charge_id(&b));
        assert!(ChargeId::parse(late.as_str()).is_some());
        assert_eq!(
            WaiverReason::waiver_id(&late),
            WaiverReason::waiver_id(&late)
        );
        assert_ne!(WaiverReason::waiver_id(&late), late);
        for r in ["arrived_late", "goodwill", "other"] {
            assert_eq!(WaiverReason::parse(r).unwrap().as_str(), r);
        }
    }
}
