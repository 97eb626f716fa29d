//! Decoded-tile cache with a byte budget.
//!
//! Sharded so threads reading different tiles rarely contend; each shard
//! holds at most its share of the budget, so the whole never exceeds it.
//! Evicts least-recently-used first.

use parking_lot::Mutex;
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SHARDS: usize = 16;

/// Key of a decoded tile: level, column, row.
pub type TileKey = (u32, u32, u32);

/// A decoded tile: RGBA8 rows, `width` x `height`.
#[derive(Debug)]
pub struct TilePixels {
    pub width: u32,
    pub height: u32,
    pub rgba: Vec<u8>,
}

impl TilePixels {
    pub fn bytes(&self) -> u64 {
        self.rgba.len() as u64
    }
}

struct Shard {
    map: lru::LruCache<TileKey, Arc<TilePixels>>,
    bytes: u64,
}

pub struct TileCache {
    shards: Vec<Mutex<Shard>>,
    shard_budget: u64,
    hasher: std::hash::RandomState,
    /// Highest total ever held, for tests and diagnostics.
    peak: AtomicU64,
    total: AtomicU64,
}

impl TileCache {
    pub fn new(budget_bytes: u64) -> Self {
        TileCache {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: lru::LruCache::unbounded(),
                        bytes: 0,
                    })
                })
                .collect(),
            shard_budget: budget_bytes / SHARDS as u64,
            hasher: std::hash::RandomState::new(),
            peak: AtomicU64::new(0),
            total: AtomicU64::new(0),
        }
    }

    fn shard(&self, key: &TileKey) -> &Mutex<Shard> {
        let mut h = self.hasher.build_hasher();
        key.hash(&mut h);
        &self.shards[(std::hash::Hasher::finish(&h) as usize) % SHARDS]
    }

    pub fn get(&self, key: &TileKey) -> Option<Arc<TilePixels>> {
        self.shard(key).lock().map.get(key).cloned()
    }

    /// Insert a tile, evicting older ones to stay within budget. A tile
    /// larger than a shard's share is not cached.
    pub fn put(&self, key: TileKey, tile: Arc<TilePixels>) {
        let size = tile.bytes();
        if size > self.shard_budget {
            return;
        }
        let mut shard = self.shard(&key).lock();
        if let Some(old) = shard.map.pop(&key) {
            shard.bytes -= old.bytes();
            self.total.fetch_sub(old.bytes(), Ordering::Relaxed);
        }
        while shard.bytes + size > self.shard_budget {
            match shard.map.pop_lru() {
                Some((_, old)) => {
                    shard.bytes -= old.bytes();
                    self.total.fetch_sub(old.bytes(), Ordering::Relaxed);
                }
                None => break,
            }
        }
        shard.bytes += size;
        shard.map.put(key, tile);
        let now = self.total.fetch_add(size, Ordering::Relaxed) + size;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Bytes held now.
    pub fn bytes(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }

    /// Most bytes held at any moment since creation.
    pub fn peak_bytes(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn budget(&self) -> u64 {
        self.shard_budget * SHARDS as u64
    }

    pub fn clear(&self) {
        for s in &self.shards {
            let mut s = s.lock();
            self.total.fetch_sub(s.bytes, Ordering::Relaxed);
            s.map.clear();
            s.bytes = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(bytes: usize) -> Arc<TilePixels> {
        Arc::new(TilePixels {
            width: 1,
            height: 1,
            rgba: vec![0; bytes],
        })
    }

    #[test]
    fn never_exceeds_budget_and_evicts_lru() {
        let cache = TileCache::new(16 * 1000);
        for i in 0..10_000u32 {
            cache.put((0, i, 0), tile(300));
            assert!(cache.bytes() <= cache.budget());
        }
        assert!(cache.peak_bytes() <= cache.budget());
        assert!(cache.get(&(0, 9_999, 0)).is_some());
        assert!(cache.get(&(0, 0, 0)).is_none());
        cache.clear();
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn oversized_tile_is_not_cached() {
        let cache = TileCache::new(16 * 100);
        cache.put((0, 0, 0), tile(101));
        assert!(cache.get(&(0, 0, 0)).is_none());
        assert_eq!(cache.bytes(), 0);
    }
}
