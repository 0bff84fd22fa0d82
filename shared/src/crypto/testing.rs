//! A key-service fake for tests: counts calls to a real key service and can be switched into an
//! outage (what moto cannot do: it does not enforce disabled or pending-deletion keys).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;

use super::keys::{DataKey, EncryptionContext, KeyError, KeyService, PlainKey};

pub struct CountingKeys<K> {
    inner: K,
    generated: AtomicUsize,
    decrypted: AtomicUsize,
    down: AtomicBool,
}

impl<K> CountingKeys<K> {
    pub fn new(inner: K) -> Self {
        CountingKeys {
            inner,
            generated: AtomicUsize::new(0),
            decrypted: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        }
    }

    /// GenerateDataKey calls so far.
    pub fn generated(&self) -> usize {
        self.generated.load(Ordering::SeqCst)
    }

    /// Decrypt calls so far.
    pub fn decrypted(&self) -> usize {
        self.decrypted.load(Ordering::SeqCst)
    }

    /// Every later call fails as a disabled key does.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), KeyError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(KeyError::Unavailable(anyhow::anyhow!(
                "DisabledException: the key is disabled"
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl<K: KeyService> KeyService for CountingKeys<K> {
    async fn generate_data_key(&self, context: &EncryptionContext) -> Result<DataKey, KeyError> {
        self.check()?;
        self.generated.fetch_add(1, Ordering::SeqCst);
        self.inner.generate_data_key(context).await
    }

    async fn decrypt_data_key(
        &self,
        wrapped: &[u8],
        context: &EncryptionContext,
    ) -> Result<PlainKey, KeyError> {
        self.check()?;
        self.decrypted.fetch_add(1, Ordering::SeqCst);
        self.inner.decrypt_data_key(wrapped, context).await
    }
}
