//! The audit function's configuration, read once at cold start (the typed style of
//! [`super::Config`]).
//!
//! - `PRACTICA_TABLE`: the table whose audit entries it integrates.
//! - `PRACTICA_AUDIT_SIGNING_KEY_ID`: the KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`) that signs
//!   checkpoints: id, ARN or alias.
//! - `PRACTICA_AUDIT_BUCKET`: the Object Lock bucket checkpoints are archived to.
//! - `PRACTICA_AUDIT_ORIGIN` (default `practica/audit/<table>`) and `PRACTICA_AUDIT_KEY_NAME`
//!   (default the origin): the log's identity and its signature's key name, which verifiers pin.

use super::{ConfigError, Env};
use crate::audit::log::{IDLE_CHECKPOINT, LogConfig};
use domain::checkpoint::valid_key_name;

pub const SIGNING_KEY: &str = "PRACTICA_AUDIT_SIGNING_KEY_ID";
pub const BUCKET: &str = "PRACTICA_AUDIT_BUCKET";
pub const ORIGIN: &str = "PRACTICA_AUDIT_ORIGIN";
pub const KEY_NAME: &str = "PRACTICA_AUDIT_KEY_NAME";

/// How far back the first integration of a new log looks for entries.
pub const FIRST_SCAN_DAYS: i64 = 31;

#[derive(Clone, Debug)]
pub struct AuditConfig {
    pub table_name: String,
    pub signing_key_id: String,
    pub bucket: String,
    pub log: LogConfig,
}

impl AuditConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let table_name = env.required("PRACTICA_TABLE")?;
        let origin = env
            .optional(ORIGIN)
            .unwrap_or_else(|| format!("practica/audit/{table_name}"));
        if origin.chars().any(char::is_control) {
            return Err(ConfigError::Invalid {
                name: ORIGIN,
                reason: "must be one line of text",
            });
        }
        let key_name = env.optional(KEY_NAME).unwrap_or_else(|| origin.clone());
        if !valid_key_name(&key_name) {
            return Err(ConfigError::Invalid {
                name: KEY_NAME,
                reason: "must be non-empty, without spaces or +",
            });
        }
        Ok(AuditConfig {
            signing_key_id: env.required(SIGNING_KEY)?,
            bucket: env.required(BUCKET)?,
            log: LogConfig {
                origin,
                key_name,
                first_scan_days: FIRST_SCAN_DAYS,
                idle_checkpoint: IDLE_CHECKPOINT,
            },
            table_name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<AuditConfig, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        AuditConfig::from_lookup(|n| vars.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone()))
    }

    #[test]
    fn each_variable_is_named_when_missing_or_wrong() {
        let full = [
            ("PRACTICA_TABLE", "practica"),
            (SIGNING_KEY, "alias/practica-audit"),
            (BUCKET, "practica-audit-checkpoints"),
        ];
        let config = from(&full).unwrap();
        assert_eq!(config.log.origin, "practica/audit/practica");
        assert_eq!(config.log.key_name, "practica/audit/practica");
        for missing in 0..full.len() {
            let mut vars = full.to_vec();
            let (name, _) = vars.remove(missing);
            let err = from(&vars).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let mut vars = full.to_vec();
        vars.push((KEY_NAME, "has space"));
        assert!(from(&vars).unwrap_err().to_string().contains(KEY_NAME));
    }
}
