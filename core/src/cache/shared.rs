//! One cache for every worker: the [`Store`] split into shards, each behind its own mutex, a
//! key's shard chosen by a seeded hash of the key. A name cached by one worker is a hit on all.
//!
//! The engine stays sans-io: it does not own a global. A shell makes one `SharedCache` and
//! hands an `Arc` of it to each worker's [`Forwarder`](crate::engine::forwarder::Forwarder)
//! (`Forwarder::with_cache`); the simulator and the npm package get a private one of one shard
//! (`Forwarder::new`), which behaves exactly like the single store it replaces.
//!
//! Each shard has `max_bytes / shards` of the budget, so the whole cache never holds more than
//! `max_bytes`. A lock is held for one lookup and the copy of one answer (or one insert), never
//! across an await or an upstream exchange; with hundreds of shards two workers rarely meet.
//!
//! Shards are small (about [`MIN_SHARD_BYTES`] each, up to [`MAX_SHARDS`]) because a shard's
//! index grows by rehashing every key it holds, in one go, while its worker waits: 16 shards of
//! a 1 GiB cache rehashed ~57,000 keys each near 917,000 keys, 5.5 ms per shard, 89 ms in half
//! a second, and the answers waiting meanwhile were the miss p99 at 20k q/s
//! (bench/results/serve-2026-12-03-p99.md). A 1 MiB shard holds a few thousand keys: its
//! rehash is a fraction of a millisecond.

use core::hash::Hasher;
use core::time::Duration;
use std::sync::MutexGuard;

use crate::shards::Shards;

use super::store::{Store, StoreStats};

/// The budget of a shard of a [`SharedCache::for_workers`] cache, and the smallest: small
/// enough that growing one shard's index (a rehash of every key it holds) takes well under a
/// millisecond, large enough to hold the largest answers.
pub const MIN_SHARD_BYTES: usize = 1 << 20;
/// The most shards a cache has (a larger budget makes larger shards).
pub const MAX_SHARDS: usize = 1 << 12;

/// The sharded cache.
pub struct SharedCache {
    shards: Shards<Store>,
}

impl core::fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedCache")
            .field("shards", &self.shards.len())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl SharedCache {
    /// A cache of `max_bytes` in `shards` shards (rounded up to a power of two, at least one);
    /// `seed` keys the hash that picks a key's shard.
    pub fn new(max_bytes: usize, shards: usize, seed: u64) -> SharedCache {
        let n = shards.clamp(1, 1 << 12).next_power_of_two();
        let per = max_bytes / n;
        SharedCache {
            shards: Shards::new(n, seed, || Store::new(per)),
        }
    }

    /// A cache of one shard: one engine's own (the simulator, the npm `Forwarder`).
    pub fn private(max_bytes: usize) -> SharedCache {
        SharedCache::new(max_bytes, 1, 0)
    }

    /// A cache for the workers of a server: shards of [`MIN_SHARD_BYTES`] (up to [`MAX_SHARDS`]
    /// of them; one when the budget is smaller), whatever the number of workers, which only
    /// need enough shards to rarely meet (a few per worker). The count is fixed for the cache's
    /// life; a reload changes each shard's budget, not their number.
    pub fn for_workers(max_bytes: usize, _workers: usize, seed: u64) -> SharedCache {
        let n = (max_bytes / MIN_SHARD_BYTES).clamp(1, MAX_SHARDS);
        // Round down to a power of two so no shard falls under the minimum.
        let n = if n.is_power_of_two() {
            n
        } else {
            n.next_power_of_two() / 2
        };
        SharedCache::new(max_bytes, n, seed)
    }

    pub fn shards(&self) -> usize {
        self.shards.len()
    }

    /// Which shard holds `key`.
    #[inline]
    pub fn shard_of(&self, key: &[u8]) -> usize {
        self.shards.index(|h| h.write(key))
    }

    /// The shard that holds `key`, locked. Hold it briefly: one lookup and one answer's copy.
    #[inline]
    pub fn lock(&self, key: &[u8]) -> MutexGuard<'_, Store> {
        self.lock_shard(self.shard_of(key))
    }

    /// Shard `i`, locked.
    pub fn lock_shard(&self, i: usize) -> MutexGuard<'_, Store> {
        self.shards.lock(i)
    }

    /// Counters summed over the shards.
    pub fn stats(&self) -> StoreStats {
        let mut s = StoreStats::default();
        for i in 0..self.shards.len() {
            let t = self.lock_shard(i).stats();
            s.keys += t.keys;
            s.bytes += t.bytes;
            s.evictions += t.evictions;
            s.inserts += t.inserts;
        }
        s
    }

    /// The whole budget.
    pub fn max_bytes(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).max_bytes())
            .sum()
    }

    /// Changes the whole budget (a reload), each shard evicting down to its share at once.
    /// Idempotent: every worker of a reload calls it with the same size.
    pub fn set_max_bytes(&self, max_bytes: usize, now: Duration) {
        let per = max_bytes / self.shards.len();
        for i in 0..self.shards.len() {
            let mut s = self.lock_shard(i);
            if s.max_bytes() != per {
                s.set_max_bytes(per, now);
            }
        }
    }

    /// Removes every entry; returns how many keys went.
    pub fn clear(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).clear())
            .sum()
    }

    /// Removes the keys for which `pred` (given the key: DO/CD byte, type, class, lowercased
    /// wire name) returns true, shard by shard; returns how many went. For flushing a name or
    /// every name under a suffix.
    pub fn remove_where(&self, mut pred: impl FnMut(&[u8]) -> bool) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).remove_where(&mut pred))
            .sum()
    }

    /// Removes the keys whose name is `name` (lowercase wire form), or ends with it on a label
    /// boundary when `suffix` (the root matches every key), shard by shard; returns how many
    /// went. The admin API's flush.
    pub fn remove_for(&self, name: &[u8], suffix: bool) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_shard(i).remove_for(name, suffix))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::{Entry, EntryKind, KeyBuf};
    use crate::wire::text::unhex;
    use crate::wire::{Class, Message, Question, RType};

    fn key(name: &str) -> KeyBuf {
        let mut m = Message::default();
        m.questions.push(Question {
            name: name.parse().unwrap(),
            qtype: RType::A,
            class: Class::IN,
        });
        KeyBuf::for_question(&m.to_wire().unwrap(), false, false).unwrap()
    }

    fn entry() -> Entry {
        let seed = unhex(include_str!("../../tests/data/seed000-compressed.hex").trim()).unwrap();
        let z = Duration::ZERO;
        Entry::new(&seed, EntryKind::Positive, z, 60, z, "t").unwrap()
    }

    #[test]
    fn shards_split_the_budget_and_sum_their_stats() {
        let c = SharedCache::new(8 << 20, 8, 42);
        assert_eq!(c.shards(), 8);
        assert_eq!(c.max_bytes(), 8 << 20);
        for i in 0..200 {
            let k = key(&format!("n{i}.example."));
            assert!(c
                .lock(k.as_bytes())
                .insert(k.as_bytes(), entry(), Duration::ZERO));
        }
        let s = c.stats();
        assert_eq!(s.keys, 200);
        assert_eq!(s.inserts, 200);
        // Spread over the shards (a seeded hash), each found again where it went.
        let used = (0..8).filter(|&i| c.lock_shard(i).stats().keys > 0).count();
        assert!(used >= 6, "200 keys in {used} of 8 shards");
        for i in 0..200 {
            let k = key(&format!("n{i}.example."));
            assert!(c.lock(k.as_bytes()).get(k.as_bytes()).is_some());
        }
    }

    #[test]
    fn a_reload_resizes_every_shard_and_flushes_work() {
        let c = SharedCache::new(8 << 20, 4, 1);
        for i in 0..400 {
            let k = key(&format!("n{i}.example."));
            c.lock(k.as_bytes())
                .insert(k.as_bytes(), entry(), Duration::ZERO);
        }
        let before = c.stats();
        // SIGHUP to a quarter of the budget: every shard evicts down to its share at once.
        let small = before.bytes / 4;
        c.set_max_bytes(small, Duration::ZERO);
        let after = c.stats();
        assert!(after.bytes <= small, "{} > {small}", after.bytes);
        assert!(after.keys < before.keys && after.evictions > 0);
        assert_eq!(c.max_bytes(), small / 4 * 4);
        // Idempotent: every worker of the reload calls it.
        c.set_max_bytes(small, Duration::ZERO);
        assert_eq!(c.stats().keys, after.keys);
        // Flush a name, then everything under a suffix, then all.
        let left = after.keys;
        let k = (0..400)
            .map(|i| key(&format!("n{i}.example.")))
            .find(|k| c.lock(k.as_bytes()).get(k.as_bytes()).is_some())
            .unwrap();
        assert_eq!(c.remove_where(|x| x == k.as_bytes()), 1);
        assert_eq!(c.stats().keys, left - 1);
        assert_eq!(
            c.remove_where(|x| x[5..].ends_with(b"\x07example\x00")),
            left - 1
        );
        assert_eq!(c.stats().keys, 0);
        assert_eq!(c.stats().bytes, 0);
        c.lock(k.as_bytes())
            .insert(k.as_bytes(), entry(), Duration::ZERO);
        assert_eq!(c.clear(), 1);
        assert_eq!(c.stats().bytes, 0);
    }

    /// The regression guard of the miss p99 (bench/results/serve-2026-12-03-p99.md): a shard's
    /// index grows by rehashing all its keys at once, so the keys a shard can hold bound the
    /// longest stall. With 16 shards per worker a 1 GiB cache had 64 MiB shards.
    #[test]
    fn for_workers_keeps_shards_small() {
        for mib in [1usize, 2, 3, 64, 100, 1024, 4096] {
            for workers in [1, 2, 8] {
                let c = SharedCache::for_workers(mib << 20, workers, 0);
                let per = (mib << 20) / c.shards();
                assert!(
                    per < 2 * MIN_SHARD_BYTES,
                    "{mib} MiB, {workers} worker(s): {} shards of {per} bytes",
                    c.shards()
                );
                assert!(per >= MIN_SHARD_BYTES, "{mib} MiB: shards of {per} bytes");
            }
        }
    }

    #[test]
    fn for_workers_keeps_shards_large_enough() {
        assert_eq!(SharedCache::for_workers(32 << 20, 2, 0).shards(), 32);
        assert_eq!(SharedCache::for_workers(4 << 20, 2, 0).shards(), 4);
        assert_eq!(SharedCache::for_workers(3 << 20, 2, 0).shards(), 2);
        assert_eq!(SharedCache::for_workers(1000, 8, 0).shards(), 1);
    }
}
