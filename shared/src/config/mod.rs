//! Configuration, read from the environment once at cold start into typed structs: [`Config`] (every
//! function) and [`payments`] (the processor and webhook secrets). A missing or malformed variable
//! fails start-up with a [`ConfigError`] that names it (never its value).

use std::time::Duration;

use crate::auth::{AuthConfig, TokenUse};
use crate::crypto::CachePolicy;

pub mod audit;
pub mod edge;
pub mod payments;
pub mod reports;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("missing environment variable {0}")]
    Missing(&'static str),
    #[error("environment variable {name} is malformed: {reason}")]
    Invalid {
        name: &'static str,
        reason: &'static str,
    },
    /// A list of webhook signing secrets that the processor's format does not allow.
    #[error("environment variable {name} is malformed: {reason}")]
    Secrets {
        name: &'static str,
        reason: crate::web::webhooks::signature::SecretsError,
    },
    /// The variable names a secret in Secrets Manager that could not be read.
    #[error("the secret named by {name} could not be read: {reason}")]
    SecretUnreadable { name: &'static str, reason: String },
}

/// Configuration of a Lambda function.
#[derive(Clone, Debug)]
pub struct Config {
    /// The single table (`PRACTICA_TABLE`).
    pub table_name: String,
    /// The KMS key that wraps data keys (`PRACTICA_KMS_KEY_ID`: id, ARN or alias).
    pub kms_key_id: String,
    pub auth: AuthConfig,
    /// `PRACTICA_AUTH_JWKS_URL`, default `{issuer}/.well-known/jwks.json`.
    pub jwks_url: String,
    pub data_key_cache: CachePolicy,
    /// The patients' own user pool, when there is one (`PRACTICA_PATIENT_AUTH_*`).
    pub patient_pool: Option<PoolConfig>,
    /// Whether the cold start opens the table's connection by reading the practice record
    /// (`PRACTICA_PREOPEN_TABLE`, default true), so the first request does not wait on a TLS
    /// handshake.
    pub preopen_table: bool,
}

/// A second token issuer: its URL, app client id and key set location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolConfig {
    pub issuer: String,
    pub client_id: String,
    pub jwks_url: String,
}

/// Reads variables through a lookup (the process environment, or a map in tests).
struct Env<F>(F);

impl<F: Fn(&str) -> Option<String>> Env<F> {
    fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        match (self.0)(name) {
            Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
            _ => Err(ConfigError::Missing(name)),
        }
    }

    fn optional(&self, name: &'static str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn number(
        &self,
        name: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(v) => {
                let n: u64 = v.parse().map_err(|_| ConfigError::Invalid {
                    name,
                    reason: "not a whole number",
                })?;
                if range.contains(&n) {
                    Ok(n)
                } else {
                    Err(ConfigError::Invalid {
                        name,
                        reason: "out of range",
                    })
                }
            }
        }
    }

    fn flag(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self.optional(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(ConfigError::Invalid {
                name,
                reason: "must be true or false",
            }),
        }
    }
}

/// A required secret variable of the process environment, resolved (see
/// [`crate::adapters::secrets::resolve`]).
pub(crate) async fn env_secret(
    name: &'static str,
    secrets_manager: &aws_sdk_secretsmanager::Client,
) -> Result<secrecy::SecretString, ConfigError> {
    let value = Env(|n: &str| std::env::var(n).ok()).required(name)?;
    crate::adapters::secrets::resolve(name, value, secrets_manager)
        .await
        .map_err(|e| ConfigError::SecretUnreadable {
            name: e.name,
            reason: e.reason,
        })
}

/// Signing keys are fetched over TLS; plain http only to this machine (local emulators, serve).
pub fn secure_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(host, "127.0.0.1" | "::1" | "localhost")
}

/// An issuer variable's value: an https URL, and its key set's location (`{issuer}/.well-known/
/// jwks.json` unless `jwks_name` says otherwise; plain http only to this machine).
fn issuer_and_keys<F: Fn(&str) -> Option<String>>(
    env: &Env<F>,
    issuer_name: &'static str,
    issuer: String,
    jwks_name: &'static str,
) -> Result<(String, String), ConfigError> {
    if !issuer.starts_with("https://") {
        return Err(ConfigError::Invalid {
            name: issuer_name,
            reason: "must be an https URL",
        });
    }
    let jwks_url = env
        .optional(jwks_name)
        .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
    if !secure_or_loopback(&jwks_url) {
        return Err(ConfigError::Invalid {
            name: jwks_name,
            reason: "must be an https URL (plain http only to 127.0.0.1, [::1] or localhost)",
        });
    }
    Ok((issuer, jwks_url))
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let (issuer, jwks_url) = issuer_and_keys(
            &env,
            "PRACTICA_AUTH_ISSUER",
            env.required("PRACTICA_AUTH_ISSUER")?,
            "PRACTICA_AUTH_JWKS_URL",
        )?;
        let patient_pool = match env.optional("PRACTICA_PATIENT_AUTH_ISSUER") {
            None => None,
            Some(value) => {
                let (issuer, jwks_url) = issuer_and_keys(
                    &env,
                    "PRACTICA_PATIENT_AUTH_ISSUER",
                    value,
                    "PRACTICA_PATIENT_AUTH_JWKS_URL",
                )?;
                let client_id = env.required("PRACTICA_PATIENT_AUTH_CLIENT_ID")?;
                Some(PoolConfig {
                    issuer,
                    client_id,
                    jwks_url,
                })
            }
        };
        if patient_pool.as_ref().is_some_and(|p| p.issuer == issuer) {
            return Err(ConfigError::Invalid {
                name: "PRACTICA_PATIENT_AUTH_ISSUER",
                reason: "must be another pool than PRACTICA_AUTH_ISSUER",
            });
        }
        let token_use = match env.optional("PRACTICA_AUTH_TOKEN_USE") {
            None => TokenUse::Access,
            Some(v) => TokenUse::parse(&v).ok_or(ConfigError::Invalid {
                name: "PRACTICA_AUTH_TOKEN_USE",
                reason: "must be access or id",
            })?,
        };
        let mut auth = AuthConfig::new(issuer, env.required("PRACTICA_AUTH_CLIENT_ID")?);
        auth.token_use = token_use;
        auth.leeway = Duration::from_secs(env.number("PRACTICA_AUTH_LEEWAY_SECS", 30, 0..=300)?);
        let data_key_cache = CachePolicy {
            max_age: Duration::from_secs(env.number(
                "PRACTICA_DATA_KEY_MAX_AGE_SECS",
                300,
                1..=86_400,
            )?),
            max_uses: env.number("PRACTICA_DATA_KEY_MAX_USES", 10_000, 1..=1_000_000)?,
            ..CachePolicy::default()
        };
        Ok(Config {
            table_name: env.required("PRACTICA_TABLE")?,
            kms_key_id: env.required("PRACTICA_KMS_KEY_ID")?,
            auth,
            jwks_url,
            data_key_cache,
            patient_pool,
            preopen_table: env.flag("PRACTICA_PREOPEN_TABLE", true)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    const BASE: [(&str, &str); 4] = [
        ("PRACTICA_TABLE", "practica"),
        ("PRACTICA_KMS_KEY_ID", "alias/practica"),
        (
            "PRACTICA_AUTH_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/pool/",
        ),
        ("PRACTICA_AUTH_CLIENT_ID", "abc"),
    ];

    #[test]
    fn defaults_and_derived_values() {
        let c = config(&BASE).unwrap();
        assert_eq!(
            c.jwks_url,
            "https://cognito-idp.us-east-1.amazonaws.com/pool/.well-known/jwks.json"
        );
        assert_eq!(c.data_key_cache, CachePolicy::default());
        assert_eq!(c.auth.token_use, TokenUse::Access);
        assert!(c.preopen_table);
    }

    #[test]
    fn preopening_the_table_is_a_flag() {
        let mut vars = BASE.to_vec();
        vars.push(("PRACTICA_PREOPEN_TABLE", "false"));
        assert!(!config(&vars).unwrap().preopen_table);
        vars.pop();
        vars.push(("PRACTICA_PREOPEN_TABLE", "no"));
        assert_eq!(
            config(&vars).unwrap_err(),
            ConfigError::Invalid {
                name: "PRACTICA_PREOPEN_TABLE",
                reason: "must be true or false",
            }
        );
    }

    #[test]
    fn each_missing_variable_is_named() {
        for (skip, (name, _)) in BASE.iter().enumerate() {
            let vars: Vec<_> = BASE
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, v)| *v)
                .collect();
            assert_eq!(config(&vars).unwrap_err(), ConfigError::Missing(name));
        }
    }

    #[test]
    fn malformed_values_are_named() {
        let mut vars = BASE.to_vec();
        vars.push(("PRACTICA_DATA_KEY_MAX_USES", "many"));
        let err = config(&vars).unwrap_err();
        assert!(err.to_string().contains("PRACTICA_DATA_KEY_MAX_USES"));
        let mut vars = BASE.to_vec();
        vars[2] = ("PRACTICA_AUTH_ISSUER", "http://insecure");
        assert!(matches!(
            config(&vars),
            Err(ConfigError::Invalid {
                name: "PRACTICA_AUTH_ISSUER",
                ..
            })
        ));
    }

    #[test]
    fn the_patient_pool_is_optional_and_checked_like_the_first() {
        assert_eq!(config(&BASE).unwrap().patient_pool, None);
        let mut vars = BASE.to_vec();
        vars.push((
            "PRACTICA_PATIENT_AUTH_ISSUER",
            "https://cognito-idp.us-east-1.amazonaws.com/patients",
        ));
        assert_eq!(
            config(&vars).unwrap_err(),
            ConfigError::Missing("PRACTICA_PATIENT_AUTH_CLIENT_ID")
        );
        vars.push(("PRACTICA_PATIENT_AUTH_CLIENT_ID", "portal"));
        let pool = config(&vars).unwrap().patient_pool.unwrap();
        assert_eq!(
            pool.jwks_url,
            "https://cognito-idp.us-east-1.amazonaws.com/patients/.well-known/jwks.json"
        );
        assert_eq!(pool.client_id, "portal");
        vars[4].1 = "http://patients.example";
        assert!(matches!(
            config(&vars),
            Err(ConfigError::Invalid {
                name: "PRACTICA_PATIENT_AUTH_ISSUER",
                ..
            })
        ));
        vars[4].1 = BASE[2].1;
        assert!(matches!(
            config(&vars),
            Err(ConfigError::Invalid {
                name: "PRACTICA_PATIENT_AUTH_ISSUER",
                ..
            })
        ));
    }

    #[test]
    fn signing_keys_come_over_tls_except_from_this_machine() {
        for (url, ok) in [
            ("https://idp.example.org/jwks.json", true),
            ("http://127.0.0.1:8080/.well-known/jwks.json", true),
            ("http://localhost:9000/jwks", true),
            ("http://[::1]:8080/jwks", true),
            ("http://idp.example.org/jwks.json", false),
            ("http://127.0.0.1.evil.example/jwks", false),
            ("http://localhost@evil.example/jwks", false),
            ("http://10.0.0.1/jwks", false),
            ("ftp://127.0.0.1/jwks", false),
            ("", false),
        ] {
            assert_eq!(secure_or_loopback(url), ok, "{url}");
            let mut vars = BASE.to_vec();
            vars.push(("PRACTICA_AUTH_JWKS_URL", url));
            let refused = matches!(
                config(&vars),
                Err(ConfigError::Invalid {
                    name: "PRACTICA_AUTH_JWKS_URL",
                    ..
                })
            );
            // An empty value means "not set": the issuer's https default applies.
            assert_eq!(refused, !ok && !url.is_empty(), "{url}");
        }
    }
}
