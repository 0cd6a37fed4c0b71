//! A map split over a fixed number of locks, for process-wide tables that many threads
//! touch at once: each key's shard is picked from a number the caller spreads well.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::{Mutex, MutexGuard};

use crate::id::IdHasher;

/// How many locks a [`Sharded`] map has.
pub(crate) const SHARDS: usize = 16;

/// One shard's map.
pub(crate) type Shard<K, V, H> = HashMap<K, V, BuildHasherDefault<H>>;

/// `SHARDS` maps behind their own locks; `H` hashes keys within a shard (by default
/// [`IdHasher`], for keys that are random already).
pub(crate) struct Sharded<K, V, H = IdHasher> {
    shards: [Mutex<Shard<K, V, H>>; SHARDS],
}

impl<K, V, H> Sharded<K, V, H> {
    /// Empty: usable in a `static`.
    pub(crate) const fn new() -> Self {
        Sharded {
            shards: [const { Mutex::new(HashMap::with_hasher(BuildHasherDefault::new())) }; SHARDS],
        }
    }

    /// The shard `spread` picks, locked. A poisoned shard is used as it is: the maps hold
    /// plain values, which a panic elsewhere cannot leave half-written.
    pub(crate) fn lock(&self, spread: u64) -> MutexGuard<'_, Shard<K, V, H>> {
        self.shards[(spread as usize) % SHARDS]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

impl<K, V, H> Default for Sharded<K, V, H> {
    fn default() -> Self {
        Sharded::new()
    }
}
