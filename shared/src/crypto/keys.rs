//! The key port: data keys from a key service (AWS KMS in production, a local key file otherwise).

use std::collections::BTreeMap;

use async_trait::async_trait;
use zeroize::Zeroizing;

/// A 256-bit plaintext data key, zeroized when dropped.
pub type PlainKey = Zeroizing<[u8; 32]>;

/// A fresh data key: its plaintext, and the same key wrapped by the key service.
pub struct DataKey {
    pub plaintext: PlainKey,
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("plaintext", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

/// Non-secret key/value pairs the key service binds to a wrapped key (KMS encryption context).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EncryptionContext(BTreeMap<String, String>);

impl EncryptionContext {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        EncryptionContext(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// A canonical byte form (sorted, length-prefixed) for use as associated data.
    pub fn canonical(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (k, v) in &self.0 {
            for part in [k, v] {
                out.extend_from_slice(&(part.len() as u32).to_be_bytes());
                out.extend_from_slice(part.as_bytes());
            }
        }
        out
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Outage, throttling, a disabled or deleted key, missing permission: nothing can be sealed.
    #[error("key service unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// The wrapped key does not unwrap under this context (tampered or moved).
    #[error("wrapped key does not unwrap under this context")]
    InvalidCiphertext,
}

/// The key port.
#[async_trait]
pub trait KeyService: Send + Sync {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError>;
    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlainKey, KeyError>;
}
