//! Envelope encryption of sensitive attributes.
//!
//! - [`keys`]: the key port (data keys) and its errors; its adapters are `crate::adapters::local_keys`
//!   (a key file) and `crate::adapters::kms`.
//! - [`envelope`]: the sealer: AES-256-GCM under a cached data key, AAD bound to table, item and attribute.
//! - [`aead`]: AES-256-GCM with random nonces (aws-lc-rs), for the sealer and the local key file.
//! - [`blind`]: a blind index (HMAC-SHA256) for equality lookups on an encrypted field.
//!
//! Binding levels: the AAD of every sealed value binds the table name, `pk`, `sk` and the attribute
//! name, so a ciphertext moved to another item or attribute fails to open. The key-service encryption
//! context binds the application, the table and the purpose (`field` or `blind-index`): binding it to
//! each item would need one data key per item and one key-service call per write, which the data-key
//! cache exists to avoid.

pub mod aead;
pub mod blind;
pub mod cosign;
pub mod envelope;
pub mod keys;
pub mod passphrase;
pub mod signer;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use blind::BlindIndex;
pub use envelope::{CachePolicy, Sealer};
pub use keys::{DataKey, EncryptionContext, KeyError, KeyService, PlainKey};

/// Errors of sealing and opening.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The key service could not be reached or refused to serve: fail closed, retry later.
    #[error("key service unavailable")]
    KeyServiceUnavailable(#[source] anyhow::Error),
    /// A sealed value did not open: tampered, moved to another item or attribute, or wrapped under
    /// another context. Never the caller's fault, never silently ignored.
    #[error("sealed value failed to open")]
    Integrity,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<KeyError> for CryptoError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::Unavailable(e) => CryptoError::KeyServiceUnavailable(e),
            KeyError::InvalidCiphertext => CryptoError::Integrity,
        }
    }
}
