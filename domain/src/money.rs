//! Money: integer minor units with an ISO 4217 currency. There is no float anywhere on this path.

use serde::{Deserialize, Deserializer, Serialize};

/// An ISO 4217 currency this deployment accepts, with its number of minor-unit digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(into = "&'static str")]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

/// Currencies a practice may price in (ISO 4217 code, minor-unit digits).
const CURRENCIES: &[(&str, u8)] = &[
    ("AUD", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PLN", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("USD", 2),
    ("ZAR", 2),
];

impl Currency {
    /// An amount of this currency's minor units as people read it: `1234.50 USD`, `1200 JPY`.
    pub fn text(self, minor: i64) -> String {
        let exponent = u32::from(self.exponent);
        if exponent == 0 {
            return format!("{minor} {}", self.code);
        }
        let unit = 10i64.pow(exponent);
        let sign = if minor < 0 { "-" } else { "" };
        let (whole, part) = (
            minor.unsigned_abs() / unit as u64,
            minor.unsigned_abs() % unit as u64,
        );
        format!(
            "{sign}{whole}.{part:0width$} {}",
            self.code,
            width = exponent as usize
        )
    }

    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES
            .iter()
            .find(|(c, _)| *c == code)
            .map(|&(code, exponent)| Currency { code, exponent })
    }
    pub fn code(self) -> &'static str {
        self.code
    }
    pub fn exponent(self) -> u8 {
        self.exponent
    }
}

impl From<Currency> for &'static str {
    fn from(c: Currency) -> Self {
        c.code
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Currency::parse(&s).ok_or_else(|| serde::de::Error::custom("unsupported currency"))
    }
}

/// A non-negative amount in minor units (cents for USD, yen for JPY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "MoneyWire", into = "MoneyWire")]
pub struct Money {
    amount: i64,
    currency: Currency,
}

/// Largest accepted amount: ten million major units of a two-digit currency.
pub const MAX_MINOR_UNITS: i64 = 1_000_000_000;

impl Money {
    pub fn new(amount: i64, currency: Currency) -> Option<Money> {
        (0..=MAX_MINOR_UNITS)
            .contains(&amount)
            .then_some(Money { amount, currency })
    }
    pub fn amount(self) -> i64 {
        self.amount
    }
    pub fn currency(self) -> Currency {
        self.currency
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MoneyWire {
    amount: i64,
    currency: Currency,
}

impl TryFrom<MoneyWire> for Money {
    type Error = &'static str;
    fn try_from(w: MoneyWire) -> Result<Self, Self::Error> {
        Money::new(w.amount, w.currency).ok_or("amount out of range")
    }
}

impl From<Money> for MoneyWire {
    fn from(m: Money) -> Self {
        MoneyWire {
            amount: m.amount,
            currency: m.currency,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn money_is_minor_units_with_a_known_currency() {
        let m: Money = serde_json::from_str(r#"{"amount": 12000, "currency": "USD"}"#).unwrap();
        assert_eq!((m.amount(), m.currency().code()), (12000, "USD"));
        assert_eq!(Currency::parse("JPY").unwrap().exponent(), 0);
        assert_eq!(Currency::parse("USD").unwrap().text(123450), "1234.50 USD");
        assert_eq!(Currency::parse("USD").unwrap().text(-5), "-0.05 USD");
        assert_eq!(Currency::parse("JPY").unwrap().text(1200), "1200 JPY");
        for bad in [
            r#"{"amount": 12.5, "currency": "USD"}"#,
            r#"{"amount": -1, "currency": "USD"}"#,
            r#"{"amount": 1, "currency": "usd"}"#,
            r#"{"amount": 1, "currency": "XXX"}"#,
            r#"{"amount": 1, "currency": "USD", "note": 1}"#,
        ] {
            assert!(serde_json::from_str::<Money>(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn money_round_trips(amount in 0..=MAX_MINOR_UNITS, i in 0..CURRENCIES.len()) {
            let m = Money::new(amount, Currency::parse(CURRENCIES[i].0).unwrap()).unwrap();
            let back: Money = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            prop_assert_eq!(back, m);
        }
    }
}
