//! A table split into shards for a server's workers to share: each shard a mutex on its own
//! cache line(s), so two workers locking neighbouring shards do not share a line, and an item's
//! shard chosen by a seeded hash. Used by the one cache ([`crate::cache::SharedCache`]) and the
//! one per-client admission table ([`crate::engine::admission::SharedAdmission`]).

use core::hash::Hasher;
use std::sync::{Mutex, MutexGuard};

#[repr(align(64))]
struct Shard<T>(Mutex<T>);

/// `n` shards (a power of two), each made by `make`.
pub struct Shards<T> {
    shards: Box<[Shard<T>]>,
    /// `shards.len() - 1`.
    mask: usize,
    seed: usize,
}

impl<T> core::fmt::Debug for Shards<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Shards({})", self.shards.len())
    }
}

impl<T> Shards<T> {
    /// `n` (a power of two, at least one) shards; `seed` keys the hash that picks one.
    pub fn new(n: usize, seed: u64, mut make: impl FnMut() -> T) -> Shards<T> {
        debug_assert!(n.is_power_of_two());
        Shards {
            shards: (0..n).map(|_| Shard(Mutex::new(make()))).collect(),
            mask: n - 1,
            seed: seed as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.shards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.shards.is_empty()
    }

    /// The shard of an item `write` feeds to the seeded hash. The high bits pick it: a shard's
    /// own hash table uses the low ones of its (unseeded) hash.
    #[inline]
    pub fn index(&self, write: impl FnOnce(&mut rustc_hash::FxHasher)) -> usize {
        if self.mask == 0 {
            return 0;
        }
        let mut h = rustc_hash::FxHasher::with_seed(self.seed);
        write(&mut h);
        (h.finish().rotate_left(20) as usize) & self.mask
    }

    /// Shard `i`, locked. A poisoned lock is taken as is: the tables sharded here are consistent
    /// between calls (and a panic aborts `serve` anyway).
    #[inline]
    pub fn lock(&self, i: usize) -> MutexGuard<'_, T> {
        match self.shards[i & self.mask].0.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }
}
