//! The edge's origin secret (`PRACTICA_ORIGIN_SECRET`), read once at cold start by the functions
//! that answer HTTP: the ARN of the Secrets Manager secret the template creates (or, in tests, its
//! value), whose string is `{"current": "…", "previous": "…"}` ([`crate::web::edge`]).

use secrecy::ExposeSecret as _;

use super::ConfigError;
use crate::web::edge::{OriginSecretError, OriginSecrets};

pub const ORIGIN_SECRET: &str = "PRACTICA_ORIGIN_SECRET";

/// The accepted origin secrets, from the process environment (and Secrets Manager).
pub async fn origin_secrets_from_env(
    sdk: &aws_config::SdkConfig,
) -> Result<OriginSecrets, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let value = super::env_secret(ORIGIN_SECRET, &client).await?;
    OriginSecrets::parse(value.expose_secret()).map_err(|e| ConfigError::Invalid {
        name: ORIGIN_SECRET,
        reason: match e {
            OriginSecretError::Shape => {
                "its secret is not {\"current\": \"…\", \"previous\": \"…\"}"
            }
            OriginSecretError::Weak => {
                "its secret holds a value shorter than 32 characters or not printable ASCII"
            }
        },
    })
}
