//! `Sensitive<T>`: patient data and secrets that cannot be logged by accident.
//!
//! `Debug` and `Display` print `[REDACTED]`; the value is reached only through [`Sensitive::expose`],
//! so every place that uses the plaintext is visible in review. Serde is transparent, because the
//! value must reach the authorized caller in a response body and the sealer on its way to the table.

use serde::{Deserialize, Serialize};

#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Sensitive<T> {
    fn from(value: T) -> Self {
        Sensitive(value)
    }
}

impl<T> std::fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T> std::fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let s = Sensitive::new("Jane Doe, DOB 1980-01-01".to_owned());
        assert_eq!(
            format!("{s:?} {s} {:?}", Some(&s)),
            "[REDACTED] [REDACTED] Some([REDACTED])"
        );
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            "\"Jane Doe, DOB 1980-01-01\""
        );
    }
}
