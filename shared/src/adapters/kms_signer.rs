//! The production audit-log signer: an AWS KMS asymmetric key (`ECC_NIST_P256`, usage
//! `SIGN_VERIFY`) signs checkpoints with `ECDSA_SHA_256`; only the audit function's role may call
//! `kms:Sign` on it. Its public key is read once (GetPublicKey, DER SubjectPublicKeyInfo).

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, MessageType, SigningAlgorithmSpec};

use crate::crypto::KeyError;
use crate::crypto::signer::{LogSigner, P256_SPKI_PREFIX};

pub struct KmsSigner {
    client: Client,
    key_id: String,
    spki: Vec<u8>,
}

fn unavailable(e: impl std::fmt::Display) -> KeyError {
    KeyError::Unavailable(anyhow::anyhow!("{e}"))
}

impl KmsSigner {
    /// Reads the key's public half; refuses a key that is not a P-256 signing key.
    pub async fn new(client: Client, key_id: impl Into<String>) -> Result<Self, KeyError> {
        let key_id = key_id.into();
        let out = client
            .get_public_key()
            .key_id(&key_id)
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(e)))?;
        // Emulators may leave KeySpec out; the public key's own curve OID is checked below.
        if out
            .key_spec()
            .is_some_and(|spec| *spec != KeySpec::EccNistP256)
        {
            return Err(unavailable("the audit signing key is not ECC_NIST_P256"));
        }
        let spki = out
            .public_key()
            .map(|b| b.as_ref().to_vec())
            .filter(|k| k.starts_with(&P256_SPKI_PREFIX))
            .ok_or_else(|| unavailable("KMS returned no P-256 public key"))?;
        Ok(KmsSigner {
            client,
            key_id,
            spki,
        })
    }
}

#[async_trait]
impl LogSigner for KmsSigner {
    fn public_key(&self) -> &[u8] {
        &self.spki
    }

    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| unavailable(DisplayErrorContext(e)))?;
        out.signature()
            .map(|s| s.as_ref().to_vec())
            .ok_or_else(|| unavailable("KMS returned no signature"))
    }
}
