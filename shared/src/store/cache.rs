//! A short-lived read cache for records that change rarely and are read on every booking (the
//! practice, providers, services), so a booking costs one table round trip. Writes made through
//! this environment invalidate their entry; other environments see a change within the TTL.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Consistency, Item, Key, Table, TableError};

pub const DEFAULT_TTL: Duration = Duration::from_secs(30);
const MAX_ENTRIES: usize = 1024;

#[derive(Debug)]
pub struct ReadCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, (Instant, Option<Item>)>>,
}

impl Default for ReadCache {
    fn default() -> Self {
        ReadCache::new(DEFAULT_TTL)
    }
}

impl ReadCache {
    pub fn new(ttl: Duration) -> Self {
        ReadCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The item at `key`, from the cache when fresh, else read strongly and remembered.
    pub async fn get(&self, table: &dyn Table, key: &Key) -> Result<Option<Item>, TableError> {
        self.get_at(table, key, Instant::now()).await
    }

    /// [`ReadCache::get`] at a given moment of the monotonic clock (tests step it).
    async fn get_at(
        &self,
        table: &dyn Table,
        key: &Key,
        now: Instant,
    ) -> Result<Option<Item>, TableError> {
        if let Some((at, item)) = self.lock().get(key)
            && now.saturating_duration_since(*at) < self.ttl
        {
            return Ok(item.clone());
        }
        let item = table.get(key, Consistency::Strong).await?;
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key.clone(), (now, item.clone()));
        Ok(item)
    }

    pub fn invalidate(&self, key: &Key) {
        self.lock().remove(key);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (Instant, Option<Item>)>> {
        // A panic while holding this lock cannot leave the map inconsistent: recover it.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::EmbeddedTable;

    #[tokio::test]
    async fn serves_from_cache_until_the_ttl_then_rereads() {
        let start = Instant::now();
        let later = start + Duration::from_secs(31);
        let dir = tempfile::tempdir().unwrap();
        let table = EmbeddedTable::open(&dir.path().join("t.redb")).unwrap();
        let cache = ReadCache::new(Duration::from_secs(30));
        let key = Key::new("P", "S");
        assert!(cache.get_at(&table, &key, start).await.unwrap().is_none());
        table.put(Item::new(key.clone()), None).await.unwrap();
        let cached = cache.get_at(&table, &key, start + Duration::from_secs(29));
        assert!(cached.await.unwrap().is_none(), "cached");
        assert!(cache.get_at(&table, &key, later).await.unwrap().is_some());
        table.delete(&key, None).await.unwrap();
        cache.invalidate(&key);
        assert!(cache.get_at(&table, &key, later).await.unwrap().is_none());
    }
}
