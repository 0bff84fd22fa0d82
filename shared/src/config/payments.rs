//! Payment configuration, read once at cold start (the typed style of [`super::Config`]).
//!
//! - `STRIPE_WEBHOOK_SECRETS`, `STANDARD_WEBHOOK_SECRETS`: comma-separated secrets, newest first.
//! - `STRIPE_SECRET_KEY`: the processor's API key; `STRIPE_API_BASE` (default Stripe's).
//! - `PRACTICA_WEBHOOK_TOLERANCE_SECS`: signed-timestamp tolerance either side of now (default 300).
//!
//! On Lambda any of the secret variables may instead hold the ARN of a Secrets Manager secret
//! (`arn:aws:secretsmanager:...`) whose string value is what the variable would hold; it is read
//! once at cold start, so the value never sits in the function's configuration.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{ConfigError, Env, env_secret};
use crate::web::webhooks::signature::{
    DEFAULT_TOLERANCE_SECS, SecretsError, WebhookSecrets, generate_standard_secret,
    generate_stripe_secret,
};

pub const STRIPE_WEBHOOK_SECRETS: &str = "STRIPE_WEBHOOK_SECRETS";
pub const STANDARD_WEBHOOK_SECRETS: &str = "STANDARD_WEBHOOK_SECRETS";
pub const STRIPE_SECRET_KEY: &str = "STRIPE_SECRET_KEY";
pub const STRIPE_API_BASE: &str = "STRIPE_API_BASE";
pub const WEBHOOK_TOLERANCE: &str = "PRACTICA_WEBHOOK_TOLERANCE_SECS";

/// The webhook function's secrets and tolerance.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub stripe: WebhookSecrets,
    pub standard: WebhookSecrets,
    pub tolerance_secs: i64,
}

fn tolerance(lookup: impl Fn(&str) -> Option<String>) -> Result<i64, ConfigError> {
    let default = DEFAULT_TOLERANCE_SECS.unsigned_abs();
    let secs = Env(lookup).number(WEBHOOK_TOLERANCE, default, 1..=3600)?;
    Ok(secs.cast_signed())
}

fn malformed(name: &'static str) -> impl FnOnce(SecretsError) -> ConfigError {
    move |reason| ConfigError::Secrets { name, reason }
}

impl WebhookConfig {
    fn parse(stripe: &str, standard: &str, tolerance_secs: i64) -> Result<Self, ConfigError> {
        Ok(WebhookConfig {
            stripe: WebhookSecrets::stripe(stripe).map_err(malformed(STRIPE_WEBHOOK_SECRETS))?,
            standard: WebhookSecrets::standard(standard)
                .map_err(malformed(STANDARD_WEBHOOK_SECRETS))?,
            tolerance_secs,
        })
    }

    /// On Lambda: from the environment, reading Secrets Manager where a variable names a secret.
    pub async fn from_env(sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        use secrecy::ExposeSecret as _;
        let lookup = |n: &str| std::env::var(n).ok();
        let client = aws_sdk_secretsmanager::Client::new(sdk);
        // Both reads at once: they are on the cold-start path.
        let (stripe, standard) = tokio::try_join!(
            env_secret(STRIPE_WEBHOOK_SECRETS, &client),
            env_secret(STANDARD_WEBHOOK_SECRETS, &client),
        )?;
        Self::parse(
            stripe.expose_secret(),
            standard.expose_secret(),
            tolerance(lookup)?,
        )
    }

    /// For `practica serve` and `practica pay`: the same variables, else secrets kept in
    /// `webhook-secrets.json` in the data directory (generated on first use). Returns the file's
    /// path when it was used.
    pub fn local(
        data_dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<(Self, Option<PathBuf>)> {
        let tolerance_secs = tolerance(&lookup)?;
        let from_env = (
            lookup(STRIPE_WEBHOOK_SECRETS),
            lookup(STANDARD_WEBHOOK_SECRETS),
        );
        if let (Some(stripe), Some(standard)) = from_env {
            return Ok((Self::parse(&stripe, &standard, tolerance_secs)?, None));
        }
        let path = data_dir.join("webhook-secrets.json");
        let stored: LocalSecrets = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is malformed", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let fresh = LocalSecrets {
                    stripe: generate_stripe_secret(),
                    standard: generate_standard_secret(),
                };
                crate::adapters::files::write_private_file(
                    &path,
                    &serde_json::to_vec_pretty(&fresh)?,
                )?;
                fresh
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let stripe = lookup(STRIPE_WEBHOOK_SECRETS).unwrap_or(stored.stripe);
        let standard = lookup(STANDARD_WEBHOOK_SECRETS).unwrap_or(stored.standard);
        Ok((Self::parse(&stripe, &standard, tolerance_secs)?, Some(path)))
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct LocalSecrets {
    stripe: String,
    standard: String,
}

/// The Stripe adapter's configuration from the environment (the key possibly from Secrets Manager).
pub async fn stripe_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<crate::adapters::stripe::StripeConfig, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let key = env_secret(STRIPE_SECRET_KEY, &client).await?;
    let mut config = crate::adapters::stripe::StripeConfig::new(key);
    if let Some(base) = Env(|n: &str| std::env::var(n).ok()).optional(STRIPE_API_BASE) {
        // The API key travels to it: TLS, except to this machine (a local processor mock).
        if !super::secure_or_loopback(&base) {
            return Err(ConfigError::Invalid {
                name: STRIPE_API_BASE,
                reason: "must be an https URL (plain http only to 127.0.0.1, [::1] or localhost)",
            });
        }
        config.base_url = base;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_secrets_are_generated_once_and_env_wins() {
        let dir = tempfile::tempdir().unwrap();
        let none = |_: &str| None;
        let (first, path) = WebhookConfig::local(dir.path(), none).unwrap();
        let path = path.unwrap();
        let (second, _) = WebhookConfig::local(dir.path(), none).unwrap();
        let body = b"{}";
        assert_eq!(
            first.stripe.sign_stripe(1, body),
            second.stripe.sign_stripe(1, body)
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let env =
            |n: &str| (n == STRIPE_WEBHOOK_SECRETS).then(|| "whsec_fromtheenvironment".to_owned());
        let (from_env, _) = WebhookConfig::local(dir.path(), env).unwrap();
        assert_ne!(
            from_env.stripe.sign_stripe(1, body),
            first.stripe.sign_stripe(1, body)
        );
        assert_eq!(
            from_env.standard.sign_standard("m", 1, body),
            first.standard.sign_standard("m", 1, body)
        );
    }
}
