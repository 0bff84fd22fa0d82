//! The AWS KMS key adapter (aws-sdk-kms): GenerateDataKey and Decrypt with an encryption context.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata as _;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroizing;

use crate::crypto::keys::{DataKey, EncryptionContext, KeyError, KeyService, PlainKey};

#[derive(Clone, Debug)]
pub struct KmsKeys {
    client: Client,
    key_id: String,
}

impl KmsKeys {
    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsKeys {
            client,
            key_id: key_id.into(),
        }
    }
}

fn context_map(context: &EncryptionContext) -> std::collections::HashMap<String, String> {
    context
        .pairs()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Copies KMS plaintext into a zeroizing buffer. (The SDK's own response buffer is not zeroized;
/// it is dropped at once.)
fn plain_key(bytes: &[u8]) -> Result<PlainKey, KeyError> {
    let key: [u8; 32] = bytes.try_into().map_err(|_| {
        KeyError::Unavailable(anyhow::anyhow!("KMS returned a key of the wrong size"))
    })?;
    Ok(Zeroizing::new(key))
}

fn failure<E, R>(err: aws_sdk_kms::error::SdkError<E, R>, operation: &'static str) -> KeyError
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("InvalidCiphertextException" | "IncorrectKeyException") => KeyError::InvalidCiphertext,
        // Disabled, pending deletion, not found, throttled, unreachable: the service cannot serve now.
        _ => KeyError::Unavailable(anyhow::Error::new(err).context(operation)),
    }
}

#[async_trait]
impl KeyService for KmsKeys {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|e| failure(e, "KMS GenerateDataKey"))?;
        let plaintext = plain_key(out.plaintext().map(Blob::as_ref).unwrap_or_default())?;
        let wrapped = out
            .ciphertext_blob()
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| KeyError::Unavailable(anyhow::anyhow!("KMS returned no ciphertext")))?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlainKey, KeyError> {
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.to_vec()))
            .set_encryption_context(Some(context_map(context)))
            .send()
            .await
            .map_err(|e| failure(e, "KMS Decrypt"))?;
        plain_key(out.plaintext().map(Blob::as_ref).unwrap_or_default())
    }
}
