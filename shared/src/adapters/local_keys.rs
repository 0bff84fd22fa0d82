//! The local key provider: a 256-bit master key in a file (created 0600 on first run) wraps data
//! keys with AES-256-GCM, the encryption context as associated data. For `practica serve` and tests.

use std::path::Path;

use async_trait::async_trait;
use zeroize::Zeroizing;

use crate::adapters::files::read_or_create_secret;
use crate::crypto::aead::{self, NONCE_LEN};
use crate::crypto::keys::{DataKey, EncryptionContext, KeyError, KeyService, PlainKey};

const WRAP_VERSION: u8 = 1;

pub struct LocalKeys {
    master: Zeroizing<[u8; 32]>,
}

impl LocalKeys {
    /// Reads the master key file, creating it (mode 0600) when absent.
    pub fn open_or_create(path: &Path) -> anyhow::Result<Self> {
        let key = read_or_create_secret(path)?;
        Ok(Self::from_key(&key))
    }

    pub fn from_key(key: &[u8; 32]) -> Self {
        LocalKeys {
            master: Zeroizing::new(*key),
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
        let failed = |what| KeyError::Unavailable(anyhow::anyhow!("local key {what} failed"));
        aws_lc_rs::rand::fill(plaintext.as_mut()).map_err(|_| failed("generation"))?;
        let mut wrapped = vec![WRAP_VERSION];
        aead::seal_into(
            &self.master,
            &aad(context),
            plaintext.as_ref(),
            &mut wrapped,
        )
        .map_err(|_| failed("wrap"))?;
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
        let plain = aead::open(&self.master, &aad(context), rest)
            .map_err(|_| KeyError::InvalidCiphertext)?;
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
