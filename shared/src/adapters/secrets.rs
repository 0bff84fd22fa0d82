//! AWS Secrets Manager: a secret variable may hold the ARN of a secret instead of its value; the
//! value is read once at cold start, so it never sits in the function's configuration.

use secrecy::SecretString;

/// Where a secret's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    Value,
    /// A Secrets Manager secret ARN.
    SecretsManager(String),
}

/// Secrets Manager ARNs are recognised by their prefix; anything else is the value itself.
pub fn source_of(value: &str) -> SecretSource {
    let v = value.trim();
    if v.starts_with("arn:aws:secretsmanager:") || v.starts_with("arn:aws-us-gov:secretsmanager:") {
        SecretSource::SecretsManager(v.to_owned())
    } else {
        SecretSource::Value
    }
}

/// Why a secret named by a variable could not be read.
#[derive(Debug, thiserror::Error)]
#[error("the secret named by {name} could not be read: {reason}")]
pub struct Unreadable {
    pub name: &'static str,
    pub reason: String,
}

/// The value of a secret variable, from Secrets Manager when it names a secret there.
pub async fn resolve(
    name: &'static str,
    value: String,
    secrets_manager: &aws_sdk_secretsmanager::Client,
) -> Result<SecretString, Unreadable> {
    match source_of(&value) {
        SecretSource::Value => Ok(SecretString::from(value)),
        SecretSource::SecretsManager(arn) => {
            let out = secrets_manager
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| Unreadable {
                    name,
                    reason: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string(),
                })?;
            let text = out.secret_string().ok_or_else(|| Unreadable {
                name,
                reason: "the secret has no string value".into(),
            })?;
            Ok(SecretString::from(text.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_sources() {
        assert_eq!(source_of("whsec_abc"), SecretSource::Value);
        assert!(matches!(
            source_of("arn:aws:secretsmanager:us-east-1:123456789012:secret:practica/stripe-AbCd"),
            SecretSource::SecretsManager(_)
        ));
    }
}
