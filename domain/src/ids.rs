//! Identifier types. An id enters the domain only through `parse` (or is minted with `new`), so a
//! value of one of these types is proof that it is well formed and safe to embed in a table key.

use serde::{Deserialize, Deserializer, Serialize};

use crate::access::Subject;

macro_rules! ulid_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id; ULIDs sort by creation time.
            #[allow(clippy::new_without_default)] // a fresh id is not a default value
            pub fn new() -> Self {
                Self(format!("{}_{}", $prefix, ulid::Ulid::new()))
            }

            pub fn parse(s: &str) -> Option<Self> {
                let rest = s.strip_prefix(concat!($prefix, "_"))?;
                (rest.len() == 26 && ulid::Ulid::from_string(rest).is_ok())
                    .then(|| Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a valid ", stringify!($name)))
                })
            }
        }
    };
}

ulid_id!(
    /// A provider (a clinician whose time is booked).
    ProviderId,
    "prv"
);
ulid_id!(
    /// A bookable service (a visit type with a duration).
    ServiceId,
    "svc"
);
ulid_id!(AppointmentId, "apt");
ulid_id!(
    /// A recurring series of appointments.
    SeriesId,
    "ser"
);
ulid_id!(HoldId, "hld");
ulid_id!(
    /// A patient's submission of a form.
    SubmissionId,
    "fsub"
);
ulid_id!(
    /// A patient's signature (or withdrawal) of a consent document.
    SignatureId,
    "sig"
);
ulid_id!(
    /// One of a provider's other calendars (an ICS address whose busy time blocks theirs).
    CalendarId,
    "cal"
);
ulid_id!(WaitlistId, "wl");
ulid_id!(OutboxId, "msg");
ulid_id!(
    /// A patient's feedback or complaint.
    FeedbackId,
    "fb"
);
ulid_id!(
    /// A charge (or adjusting entry) on a patient's account.
    ChargeId,
    "chg"
);
ulid_id!(
    /// Our record of one payment attempt (one processor payment intent).
    PaymentId,
    "pay"
);

/// The ULID text of a digest: the top bits are cleared so the value is inside ULID's 128-bit
/// text range.
fn derived_ulid(digest: [u8; 16]) -> ulid::Ulid {
    ulid::Ulid::from(u128::from_be_bytes(digest) >> 2)
}

impl PaymentId {
    /// The id a request with a given idempotency digest gets, so a retried request that reaches
    /// the processor again names the same payment (the processor compares parameters).
    pub fn derived(digest: [u8; 16]) -> Self {
        Self(format!("{}_{}", Self::PREFIX, derived_ulid(digest)))
    }
}

impl ChargeId {
    /// The id named by `parts` (hashed): a charge that must exist at most once (a fee for one
    /// appointment, the waiver of one fee) is written under it with a condition that it is new.
    pub fn derived(parts: &[&[u8]]) -> Self {
        let hash = crate::hash::sha256(parts);
        let mut digest = [0u8; 16];
        digest.copy_from_slice(&hash[..16]);
        Self(format!("{}_{}", Self::PREFIX, derived_ulid(digest)))
    }
}

impl SeriesId {
    /// The id a series request with a given idempotency digest gets: a retry after an
    /// interruption finds (and finishes or reuses) what the first attempt wrote.
    pub fn derived(digest: [u8; 16]) -> Self {
        Self(format!("{}_{}", Self::PREFIX, derived_ulid(digest)))
    }

    /// The id of the series' `index`th occurrence, the same for every attempt of the request.
    pub fn occurrence(&self, index: u16) -> AppointmentId {
        let digest = crate::hash::sha256(&[
            b"series-occurrence",
            self.0.as_bytes(),
            &index.to_be_bytes(),
        ]);
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        AppointmentId(format!("{}_{}", AppointmentId::PREFIX, derived_ulid(first)))
    }
}

/// A patient is identified by the subject of their login, so a patient token maps to its record
/// without a lookup; staff register a patient under the subject of the account they created.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PatientId(Subject);

impl PatientId {
    pub fn parse(s: &str) -> Option<Self> {
        Subject::parse(s).map(PatientId)
    }
    pub fn of(subject: &Subject) -> Self {
        PatientId(subject.clone())
    }
    pub fn subject(&self) -> &Subject {
        &self.0
    }
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for PatientId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PatientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        PatientId::parse(&s).ok_or_else(|| serde::de::Error::custom("not a valid PatientId"))
    }
}

/// True for 1 to 128 characters of `A-Z a-z 0-9 - _ . :`, which are safe inside a table key (no
/// `#`): client idempotency keys, processor event and message ids.
pub fn is_key_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// The client's `Idempotency-Key`: 1 to 128 characters of `A-Z a-z 0-9 - _ . :` (UUIDs fit).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(s: &str) -> Option<Self> {
        is_key_token(s).then(|| IdempotencyKey(s.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_round_trip_and_reject_foreign_prefixes() {
        let id = AppointmentId::new();
        assert_eq!(AppointmentId::parse(id.as_str()), Some(id.clone()));
        assert!(ProviderId::parse(id.as_str()).is_none());
        assert!(AppointmentId::parse("apt_").is_none());
        assert!(AppointmentId::parse("apt_01ARZ3NDEKTSV4RRFFQ69G5FA#").is_none());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(serde_json::from_str::<AppointmentId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<AppointmentId>("\"apt_x\"").is_err());
    }

    proptest! {
        #[test]
        fn parsed_ids_never_hold_key_separators(s in "\\PC{0,40}") {
            for parsed in [
                ProviderId::parse(&s).map(|i| i.0),
                PatientId::parse(&s).map(|i| i.as_str().to_owned()),
                IdempotencyKey::parse(&s).map(|i| i.0),
            ].into_iter().flatten() {
                prop_assert!(!parsed.contains('#'));
                prop_assert!(!parsed.is_empty());
            }
        }
    }
}
