//! A map split over a fixed number of locks, for process-wide tables that many threads
//! touch at once: each key's shard is picked from a number the caller spreads well.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
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

/// Empties `map` when it holds `max` entries or more, so that a table whose entries
/// may never be taken out (a span that never finishes) stays bounded; how many
/// entries it dropped.
pub(crate) fn clear_if_full<K, V, H>(map: &mut Shard<K, V, H>, max: usize) -> usize {
    if map.len() < max {
        return 0;
    }
    let dropped = map.len();
    map.clear();
    dropped
}

/// Adds `change` to a count of entries (subtracts, when negative).
pub(crate) fn count(counter: &AtomicUsize, change: isize) {
    match usize::try_from(change) {
        Ok(more) => counter.fetch_add(more, Ordering::Relaxed),
        Err(_) => counter.fetch_sub(change.unsigned_abs(), Ordering::Relaxed),
    };
}

impl<K, V, H> Default for Sharded<K, V, H> {
    fn default() -> Self {
        Sharded::new()
    }
}
