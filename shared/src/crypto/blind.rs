//! Blind index: HMAC-SHA256 of a normalized value, for exact-match lookups on an encrypted field
//! (a patient's email) without storing it in plaintext.
//!
//! The HMAC key is a data key from the key service; only its wrapped form is stored, in the table
//! (`KEYRING` / `BLIND#v1`). The first environment to need it creates it with a conditional put; a
//! racing one reads the winner's. It is unwrapped once per execution environment.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::CryptoError;
use super::keys::{EncryptionContext, KeyService, PlainKey};
use crate::store::{AttrValue, Condition, Consistency, Item, Table, TableError};

const WRAPPED: &str = "wrapped";

pub struct BlindIndex {
    key: PlainKey,
}

impl std::fmt::Debug for BlindIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlindIndex([REDACTED])")
    }
}

fn context(table: &str) -> EncryptionContext {
    EncryptionContext::new(&[
        ("app", "practica"),
        ("table", table),
        ("purpose", "blind-index"),
    ])
}

impl BlindIndex {
    pub fn from_key(key: PlainKey) -> Self {
        BlindIndex { key }
    }

    /// Loads the table's blind-index key, creating it on first use.
    pub async fn load_or_create(
        table: &dyn Table,
        table_name: &str,
        keys: &dyn KeyService,
    ) -> Result<Self, CryptoError> {
        let ctx = context(table_name);
        let key = crate::store::keys::blind_index_key();
        let stored = table
            .get(&key, Consistency::Strong)
            .await
            .map_err(table_error)?;
        let wrapped = match stored
            .as_ref()
            .and_then(|i| i.get(WRAPPED))
            .and_then(AttrValue::as_b)
        {
            Some(w) => w.to_vec(),
            None => {
                let fresh = keys.generate_data_key(&ctx).await?;
                let item = Item::new(key.clone()).with(WRAPPED, fresh.wrapped.clone());
                match table.put(item, Some(Condition::ItemAbsent)).await {
                    Ok(()) => {
                        return Ok(BlindIndex {
                            key: fresh.plaintext,
                        });
                    }
                    Err(TableError::ConditionFailed) => table
                        .get(&key, Consistency::Strong)
                        .await
                        .map_err(table_error)?
                        .and_then(|i| i.get(WRAPPED).and_then(AttrValue::as_b).map(<[u8]>::to_vec))
                        .ok_or_else(|| anyhow::anyhow!("blind-index key vanished"))?,
                    Err(e) => return Err(table_error(e)),
                }
            }
        };
        Ok(BlindIndex {
            key: keys.decrypt_data_key(&wrapped, &ctx).await?,
        })
    }

    /// The index value of `value` for a named purpose (e.g. `email`); purposes never collide.
    pub fn compute(&self, purpose: &str, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(domain::hash::hmac_sha256(
            self.key.as_ref(),
            &[purpose.as_bytes(), &[0], value.as_bytes()],
        ))
    }

    /// The index value of an email address: trimmed and lower-cased before hashing.
    pub fn email(&self, email: &str) -> String {
        self.compute("email", &email.trim().to_lowercase())
    }
}

fn table_error(e: TableError) -> CryptoError {
    match e {
        TableError::Throttled => {
            CryptoError::KeyServiceUnavailable(anyhow::anyhow!("table throttled"))
        }
        other => CryptoError::Unexpected(anyhow::Error::new(other).context("blind-index key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedTable;
    use crate::adapters::local_keys::LocalKeys;

    #[tokio::test]
    async fn created_once_and_stable_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
        let keys = LocalKeys::from_key(&[1; 32]);
        let a = BlindIndex::load_or_create(&table, "t", &keys)
            .await
            .unwrap();
        let b = BlindIndex::load_or_create(&table, "t", &keys)
            .await
            .unwrap();
        assert_eq!(a.email("Jane@Example.com "), b.email("jane@example.com"));
        assert_ne!(a.email("jane@example.com"), a.email("john@example.com"));
        assert_ne!(a.compute("email", "x"), a.compute("phone", "x"));
        assert!(!a.email("jane@example.com").contains("jane"));
    }
}
