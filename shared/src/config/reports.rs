//! The reports function's configuration, read once at cold start.
//!
//! - `PRACTICA_TABLE`: the table it reads (never writes).
//! - `PRACTICA_REPORTS_BUCKET`: the private, versioned bucket reports are published to.
//! - `PRACTICA_REPORTS_KMS_KEY`: the KMS key every report object is encrypted with (SSE-KMS).
//! - the audit log's `PRACTICA_AUDIT_SIGNING_KEY_ID` (its public half only: the job verifies the
//!   log), `PRACTICA_AUDIT_BUCKET` (the archived checkpoints it checks against), and the optional
//!   origin and key name, as the audit function reads them.

use super::audit::AuditConfig;
use super::{ConfigError, Env};

pub const BUCKET: &str = "PRACTICA_REPORTS_BUCKET";
pub const KMS_KEY: &str = "PRACTICA_REPORTS_KMS_KEY";

#[derive(Clone, Debug)]
pub struct ReportsConfig {
    pub audit: AuditConfig,
    pub bucket: String,
    pub kms_key: String,
}

impl ReportsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let audit = AuditConfig::from_lookup(&lookup)?;
        let env = Env(lookup);
        Ok(ReportsConfig {
            audit,
            bucket: env.required(BUCKET)?,
            kms_key: env.required(KMS_KEY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variable_is_required_and_named_when_missing() {
        let all = [
            ("PRACTICA_TABLE", "t"),
            ("PRACTICA_AUDIT_SIGNING_KEY_ID", "alias/audit"),
            ("PRACTICA_AUDIT_BUCKET", "checkpoints"),
            (BUCKET, "reports"),
            (KMS_KEY, "alias/data"),
        ];
        let from = |vars: Vec<(&str, &str)>| {
            ReportsConfig::from_lookup(|n| {
                vars.iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| (*v).to_owned())
            })
        };
        let config = from(all.to_vec()).unwrap();
        assert_eq!(
            (config.bucket.as_str(), config.kms_key.as_str()),
            ("reports", "alias/data")
        );
        for (missing, _) in all {
            let rest = all.iter().copied().filter(|(k, _)| *k != missing).collect();
            assert_eq!(from(rest).unwrap_err(), ConfigError::Missing(missing));
        }
    }
}
