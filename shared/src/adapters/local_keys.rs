//! The local key provider: a 256-bit master key in a file (created 0600 on first run) wraps data
//! keys with AES-256-GCM, the encryption context as associated data. For `practica serve` and tests.

use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use async_trait::async_trait;
use rand::RngCore as _;
use zeroize::Zeroizing;

use crate::adapters::files::read_or_create_secret;
use crate::crypto::keys::{DataKey, EncryptionContext, KeyError, KeyService, PlainKey};

const WRAP_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

pub struct LocalKeys {
    master: Aes256Gcm,
}

impl LocalKeys {
    /// Reads the master key file, creating it (mode 0600) when absent.
    pub fn open_or_create(path: &Path) -> anyhow::Result<Self> {
        let key = read_or_create_secret(path)?;
        Ok(Self::from_key(&key))
    }

    pub fn from_key(key: &[u8; 32]) -> Self {
        LocalKeys {
            master: Aes256Gcm::new(key.into()),
        }
    }
}

fn aad(context: &EncryptionContext) -> Vec<u8> {
    let mut aad = b"practica-local-wrap-v1".to_vec();
    aad.extend_from_slice(&context.canonical());
    aad
}

#[async_trait]
impl KeyService for LocalKeys {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        let mut plaintext = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(plaintext.as_mut());
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .master
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_ref(),
                    aad: &aad(context),
                },
            )
            .map_err(|_| KeyError::Unavailable(anyhow::anyhow!("local key wrap failed")))?;
        let mut wrapped = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        wrapped.push(WRAP_VERSION);
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&sealed);
        Ok(DataKey { plaintext, wrapped })
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlainKey, KeyError> {
        let (version, rest) = wrapped.split_first().ok_or(KeyError::InvalidCiphertext)?;
        if *version != WRAP_VERSION || rest.len() < NONCE_LEN {
            return Err(KeyError::InvalidCiphertext);
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let plain = Zeroizing::new(
            self.master
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: sealed,
                        aad: &aad(context),
                    },
                )
                .map_err(|_| KeyError::InvalidCiphertext)?,
        );
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::InvalidCiphertext)?;
        Ok(Zeroizing::new(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wraps_under_context_and_refuses_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let keys = LocalKeys::open_or_create(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let ctx = EncryptionContext::new(&[("table", "t1")]);
        let dk = keys.generate_data_key(&ctx).await.unwrap();
        assert_eq!(
            *keys.decrypt_data_key(&dk.wrapped, &ctx).await.unwrap(),
            *dk.plaintext
        );
        let other = EncryptionContext::new(&[("table", "t2")]);
        assert!(matches!(
            keys.decrypt_data_key(&dk.wrapped, &other).await,
            Err(KeyError::InvalidCiphertext)
        ));
        // The same file yields the same master key after a restart.
        let reopened = LocalKeys::open_or_create(&path).unwrap();
        assert_eq!(
            *reopened.decrypt_data_key(&dk.wrapped, &ctx).await.unwrap(),
            *dk.plaintext
        );
    }
}
