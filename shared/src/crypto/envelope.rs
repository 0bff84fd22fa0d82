//! The sealer: AES-256-GCM under a data key from the key port, with a per-environment data-key cache.
//!
//! Sealed value (stored as a binary attribute):
//! `0x01 | wrapped-key length (u16 BE) | wrapped data key | nonce (12) | ciphertext + tag`.
//! The AAD is the header (version and wrapped key) followed by the length-prefixed table name, `pk`,
//! `sk` and attribute name. Nonces are random; a data key seals at most `max_uses` values (default
//! 10,000), far below the 2^32 random-nonce bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::CryptoError;
use super::aead::{self, NONCE_LEN, TAG_LEN};
use super::keys::{EncryptionContext, KeyService, PlainKey};
use crate::store::Key;
use domain::clock::Clock;

const VERSION: u8 = 1;

/// How long and how often one data key is used, and how many unwrapped keys are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CachePolicy {
    pub max_age: Duration,
    pub max_uses: u64,
    pub max_entries: usize,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            max_age: Duration::from_secs(300),
            max_uses: 10_000,
            max_entries: 256,
        }
    }
}

struct CurrentKey {
    plaintext: PlainKey,
    wrapped: Arc<[u8]>,
    created: Timestamp,
    uses: u64,
}

struct Unwrapped {
    plaintext: PlainKey,
    cached: Timestamp,
}

/// Seals and opens attribute values. One per execution environment, shared by all requests.
pub struct Sealer {
    keys: Arc<dyn KeyService>,
    clock: Arc<dyn Clock>,
    table: String,
    context: EncryptionContext,
    policy: CachePolicy,
    current: Mutex<Option<CurrentKey>>,
    // Keyed by the wrapped form; the plaintext is zeroized when an entry is evicted or dropped.
    unwrapped: Mutex<HashMap<Arc<[u8]>, Unwrapped>>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("table", &self.table)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(
        keys: Arc<dyn KeyService>,
        clock: Arc<dyn Clock>,
        table: impl Into<String>,
        policy: CachePolicy,
    ) -> Self {
        let table = table.into();
        let context =
            EncryptionContext::new(&[("app", "practica"), ("table", &table), ("purpose", "field")]);
        Sealer {
            keys,
            clock,
            table,
            context,
            policy,
            current: Mutex::new(None),
            unwrapped: Mutex::new(HashMap::new()),
        }
    }

    fn expired(&self, since: Timestamp) -> bool {
        let age = self.clock.now().duration_since(since);
        age.is_negative() || age.unsigned_abs() >= self.policy.max_age
    }

    /// A data key for one more encryption, from the cache when it is young and not worn out.
    async fn encryption_key(&self) -> Result<(PlainKey, Arc<[u8]>), CryptoError> {
        // Held across the key-service call, so a cold or expired cache costs one call, not one per request.
        let mut current = self.current.lock().await;
        let usable = current
            .as_ref()
            .is_some_and(|c| c.uses < self.policy.max_uses && !self.expired(c.created));
        if !usable {
            let fresh = self.keys.generate_data_key(&self.context).await?;
            *current = Some(CurrentKey {
                plaintext: fresh.plaintext,
                wrapped: fresh.wrapped.into(),
                created: self.clock.now(),
                uses: 0,
            });
        }
        let c = current
            .as_mut()
            .ok_or_else(|| anyhow::anyhow!("data key cache empty"))?;
        c.uses += 1;
        Ok((Zeroizing::new(*c.plaintext), c.wrapped.clone()))
    }

    /// The plaintext of a wrapped key, from the cache or the key service.
    async fn decryption_key(&self, wrapped: &[u8]) -> Result<PlainKey, CryptoError> {
        {
            let cache = self.unwrapped.lock().await;
            if let Some(hit) = cache.get(wrapped)
                && !self.expired(hit.cached)
            {
                return Ok(Zeroizing::new(*hit.plaintext));
            }
        }
        let plaintext = self.keys.decrypt_data_key(wrapped, &self.context).await?;
        let mut cache = self.unwrapped.lock().await;
        cache.retain(|_, entry| !self.expired(entry.cached));
        while cache.len() >= self.policy.max_entries {
            let oldest = cache
                .iter()
                .min_by_key(|(_, e)| e.cached)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => cache.remove(&k),
                None => break,
            };
        }
        cache.insert(
            wrapped.into(),
            Unwrapped {
                plaintext: Zeroizing::new(*plaintext),
                cached: self.clock.now(),
            },
        );
        Ok(plaintext)
    }

    fn aad(&self, header: &[u8], key: &Key, attribute: &str) -> Vec<u8> {
        let mut aad = Vec::with_capacity(header.len() + 64);
        aad.extend_from_slice(header);
        for part in [self.table.as_str(), &key.pk, &key.sk, attribute] {
            aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
            aad.extend_from_slice(part.as_bytes());
        }
        aad
    }

    /// Seals `plaintext` for attribute `attribute` of the item at `key`.
    pub async fn seal(
        &self,
        key: &Key,
        attribute: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let (data_key, wrapped) = self.encryption_key().await?;
        let wrapped_len =
            u16::try_from(wrapped.len()).map_err(|_| anyhow::anyhow!("wrapped key too long"))?;
        let mut out = Vec::with_capacity(3 + wrapped.len() + NONCE_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&wrapped_len.to_be_bytes());
        out.extend_from_slice(&wrapped);
        let aad = self.aad(&out, key, attribute);
        aead::seal_into(&data_key, &aad, plaintext, &mut out)
            .map_err(|_| anyhow::anyhow!("AES-GCM encryption failed"))?;
        Ok(out)
    }

    /// Opens a value sealed for attribute `attribute` of the item at `key`.
    pub async fn open(
        &self,
        key: &Key,
        attribute: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Integrity)?;
        if version != VERSION || rest.len() < 2 {
            return Err(CryptoError::Integrity);
        }
        let wrapped_len = u16::from_be_bytes([rest[0], rest[1]]) as usize;
        let header_len = 3 + wrapped_len;
        if sealed.len() < header_len + NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Integrity);
        }
        let (header, body) = sealed.split_at(header_len);
        let data_key = self.decryption_key(&header[3..]).await?;
        aead::open(&data_key, &self.aad(header, key, attribute), body)
            .map_err(|_| CryptoError::Integrity)
    }

    /// Seals a UTF-8 string.
    pub async fn seal_str(
        &self,
        key: &Key,
        attribute: &str,
        plaintext: &str,
    ) -> Result<Vec<u8>, CryptoError> {
        self.seal(key, attribute, plaintext.as_bytes()).await
    }

    /// Opens a value sealed with [`Sealer::seal_str`].
    pub async fn open_str(
        &self,
        key: &Key,
        attribute: &str,
        sealed: &[u8],
    ) -> Result<domain::sensitive::Sensitive<String>, CryptoError> {
        let plain = self.open(key, attribute, sealed).await?;
        let text = std::str::from_utf8(&plain).map_err(|_| CryptoError::Integrity)?;
        Ok(domain::sensitive::Sensitive::new(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::local_keys::LocalKeys;
    use domain::clock::ManualClock;
    use proptest::prelude::*;

    type CountingKeys = crate::crypto::testing::CountingKeys<LocalKeys>;

    fn counting() -> Arc<CountingKeys> {
        Arc::new(CountingKeys::new(LocalKeys::from_key(&[7; 32])))
    }

    fn sealer(keys: Arc<CountingKeys>, clock: Arc<ManualClock>, policy: CachePolicy) -> Sealer {
        Sealer::new(keys, clock, "practica-test", policy)
    }

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(
            Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_hours(24 * 20_000),
        ))
    }

    fn k(pk: &str, sk: &str) -> Key {
        Key::new(pk, sk)
    }

    #[tokio::test]
    async fn round_trip_and_binding() {
        let keys = counting();
        let s = sealer(keys, clock(), CachePolicy::default());
        let sealed = s
            .seal(&k("PAT#1", "PROFILE"), "name", b"Jane Doe")
            .await
            .unwrap();
        assert!(!sealed.windows(8).any(|w| w == b"Jane Doe"));
        assert_eq!(
            &*s.open(&k("PAT#1", "PROFILE"), "name", &sealed)
                .await
                .unwrap(),
            b"Jane Doe"
        );
        // Moved to another item, another sort key or another attribute: refuses to open.
        for (pk, sk, attr) in [
            ("PAT#2", "PROFILE", "name"),
            ("PAT#1", "OTHER", "name"),
            ("PAT#1", "PROFILE", "email"),
        ] {
            assert!(matches!(
                s.open(&k(pk, sk), attr, &sealed).await,
                Err(CryptoError::Integrity)
            ));
        }
        // Another table (another sealer context) refuses it too.
        let other = Sealer::new(counting(), clock(), "other-table", CachePolicy::default());
        assert!(matches!(
            other.open(&k("PAT#1", "PROFILE"), "name", &sealed).await,
            Err(CryptoError::Integrity)
        ));
    }

    #[tokio::test]
    async fn every_flipped_bit_is_detected() {
        let s = sealer(counting(), clock(), CachePolicy::default());
        let key = k("PAT#1", "PROFILE");
        let sealed = s.seal(&key, "dob", b"1980-01-01").await.unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(
                s.open(&key, "dob", &tampered).await.is_err(),
                "bit flip at byte {i} went unnoticed"
            );
        }
        assert!(
            s.open(&key, "dob", &sealed[..sealed.len() - 1])
                .await
                .is_err()
        );
        assert!(s.open(&key, "dob", &[]).await.is_err());
    }

    #[tokio::test]
    async fn cache_bounds_key_service_calls() {
        let keys = counting();
        let clock = clock();
        let s = sealer(keys.clone(), clock.clone(), CachePolicy::default());
        let key = k("PAT#1", "PROFILE");
        let mut sealed = Vec::new();
        for i in 0..1_000 {
            sealed.push(
                s.seal(&key, "name", format!("n{i}").as_bytes())
                    .await
                    .unwrap(),
            );
        }
        assert_eq!(keys.generated(), 1);
        for v in &sealed {
            s.open(&key, "name", v).await.unwrap();
        }
        assert_eq!(keys.decrypted(), 1);
        // Age bound.
        clock.advance(jiff::SignedDuration::from_secs(301));
        s.seal(&key, "name", b"x").await.unwrap();
        assert_eq!(keys.generated(), 2);
    }

    #[tokio::test]
    async fn use_bound_rotates_the_key() {
        let keys = counting();
        let policy = CachePolicy {
            max_uses: 10,
            ..CachePolicy::default()
        };
        let s = sealer(keys.clone(), clock(), policy);
        for _ in 0..25 {
            s.seal(&k("a", "b"), "c", b"x").await.unwrap();
        }
        assert_eq!(keys.generated(), 3);
    }

    #[tokio::test]
    async fn concurrent_cold_start_calls_the_key_service_once() {
        let keys = counting();
        let s = Arc::new(sealer(keys.clone(), clock(), CachePolicy::default()));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let s = s.clone();
                tokio::spawn(async move { s.seal(&k("a", "b"), "c", b"x").await.unwrap() })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(keys.generated(), 1);
    }

    #[tokio::test]
    async fn key_service_outage_fails_closed() {
        let keys = counting();
        keys.set_down(true);
        let s = sealer(keys, clock(), CachePolicy::default());
        assert!(matches!(
            s.seal(&k("a", "b"), "c", b"x").await,
            Err(CryptoError::KeyServiceUnavailable(_))
        ));
    }

    proptest! {
        #[test]
        fn any_value_round_trips(value in proptest::collection::vec(any::<u8>(), 0..512), attr in "[a-z]{1,8}") {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let s = sealer(counting(), clock(), CachePolicy::default());
                let key = k("P", "S");
                let sealed = s.seal(&key, &attr, &value).await.unwrap();
                prop_assert_eq!(&*s.open(&key, &attr, &sealed).await.unwrap(), &value);
                Ok(())
            })?;
        }
    }
}
