//! The audit function's configuration, read once at cold start (the typed style of
//! [`super::Config`]).
//!
//! - `PRACTICA_TABLE`: the table whose audit entries it integrates.
//! - `PRACTICA_AUDIT_SIGNING_KEY_ID`: the KMS key (`ECC_NIST_P256`, `SIGN_VERIFY`) that signs
//!   checkpoints: id, ARN or alias.
//! - `PRACTICA_AUDIT_BUCKET`: the Object Lock bucket checkpoints are archived to.
//! - `PRACTICA_AUDIT_ORIGIN` (default `practica/audit/<table>`) and `PRACTICA_AUDIT_KEY_NAME`
//!   (default the origin): the log's identity and its signature's key name, which verifiers pin.
//! - `PRACTICA_AUDIT_WITNESSES` (default none): the C2SP witnesses each new checkpoint is sent to,
//!   comma-separated, each `<verifier key> <URL prefix>` ([`witnesses`]).

use super::{ConfigError, Env};
use crate::audit::log::{IDLE_CHECKPOINT, LogConfig};
use crate::audit::witnessing::{ConfiguredWitness, MAX_WITNESSES};
use domain::checkpoint::valid_key_name;
use domain::witness::WitnessKey;

pub const SIGNING_KEY: &str = "PRACTICA_AUDIT_SIGNING_KEY_ID";
pub const BUCKET: &str = "PRACTICA_AUDIT_BUCKET";
pub const ORIGIN: &str = "PRACTICA_AUDIT_ORIGIN";
pub const KEY_NAME: &str = "PRACTICA_AUDIT_KEY_NAME";
pub const WITNESSES: &str = "PRACTICA_AUDIT_WITNESSES";
/// How many of them a verifier requires (read where a verifier is configured: the portal's
/// `config.json`; the audit function sends to all).
pub const WITNESS_QUORUM: &str = "PRACTICA_AUDIT_WITNESS_QUORUM";

/// How far back the first integration of a new log looks for entries.
pub const FIRST_SCAN_DAYS: i64 = 31;

#[derive(Clone, Debug)]
pub struct AuditConfig {
    pub table_name: String,
    pub signing_key_id: String,
    pub bucket: String,
    pub log: LogConfig,
    pub witnesses: Vec<ConfiguredWitness>,
}

/// Reads a witness list: entries separated by commas, each a C2SP verifier key (an Ed25519
/// cosignature key, `<name>+<id>+<key>`) and the witness's URL prefix, separated by spaces. A URL
/// is `https://`, or `http://` to this machine only (a witness beside `practica serve`).
pub fn witnesses(text: &str) -> Result<Vec<ConfiguredWitness>, &'static str> {
    let mut out: Vec<ConfiguredWitness> = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut parts = entry.split_whitespace();
        let (Some(vkey), Some(url), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("each witness is `<verifier key> <URL>`");
        };
        let key = WitnessKey::parse_vkey(vkey)
            .ok_or("a witness's verifier key is not an Ed25519 cosignature key")?;
        let uri: http::Uri = url.parse().map_err(|_| "a witness's URL is not a URL")?;
        let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
            return Err("a witness's URL is not a URL");
        };
        let loopback = ["127.0.0.1", "localhost", "[::1]"].contains(&authority.host());
        if authority.as_str().contains('@')
            || !(scheme == "https" || (scheme == "http" && loopback))
        {
            return Err("a witness's URL is https:// (http:// only to this machine)");
        }
        if out.iter().any(|w| w.key.name == key.name) {
            return Err("each witness is named once");
        }
        out.push(ConfiguredWitness {
            key,
            url: url.to_owned(),
        });
    }
    if out.len() > MAX_WITNESSES {
        return Err("at most 15 witnesses (a checkpoint's note carries 16 signatures)");
    }
    Ok(out)
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
        let witnesses =
            witnesses(&env.optional(WITNESSES).unwrap_or_default()).map_err(|reason| {
                ConfigError::Invalid {
                    name: WITNESSES,
                    reason,
                }
            })?;
        Ok(AuditConfig {
            witnesses,
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

    #[test]
    fn witnesses_are_verifier_keys_with_urls() {
        let key = |name: &str| {
            WitnessKey {
                name: name.into(),
                public: [9; 32],
            }
            .vkey()
        };
        let list = format!(
            "{} https://w1.example/witness, {} http://127.0.0.1:7380",
            key("w.example/1"),
            key("w.example/2")
        );
        let read = witnesses(&list).unwrap();
        assert_eq!(read.len(), 2);
        assert_eq!(read[1].url, "http://127.0.0.1:7380");
        assert_eq!(witnesses(" ").unwrap(), vec![]);
        for bad in [
            format!("{} http://w1.example", key("w.example/1")),
            key("w.example/1"),
            "w.example/1+00000000+AAAA https://w1.example".to_owned(),
            format!("{0} https://a, {0} https://b", key("w.example/1")),
            format!("{} http://localhost:1@remote.example/", key("w.example/1")),
            format!("{} http://remote.example:80", key("w.example/1")),
            format!("{} ftp://w.example", key("w.example/1")),
            (0..16)
                .map(|i| format!("{} https://w{i}.example", key(&format!("w.example/{i}"))))
                .collect::<Vec<_>>()
                .join(","),
        ] {
            assert!(witnesses(&bad).is_err(), "{bad}");
        }
        let mut vars = vec![
            ("PRACTICA_TABLE", "practica"),
            (SIGNING_KEY, "alias/practica-audit"),
            (BUCKET, "b"),
        ];
        vars.push((WITNESSES, "nonsense"));
        assert!(from(&vars).unwrap_err().to_string().contains(WITNESSES));
    }
}
