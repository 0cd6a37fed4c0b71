//! Decisions made for traces of this process: before their local root was exported (at
//! the first inject, by hand, or for a part of the trace sent ahead of its root), and,
//! for the parts of a trace that finish after it, the decision its local root was sent
//! with. The exporter moves a trace's entry from the first table to the second when it
//! sends the local root.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::Decision;
use crate::id::{IdHasher, TraceId};
use crate::sharded::{SHARDS, Shard, Sharded, clear_if_full, count};

/// Most traces one shard remembers; past it the shard starts over (a trace whose
/// entry is lost is decided again, the same way unless a rate limiter said no).
const MAX_PER_SHARD: usize = 4096;

/// Decisions by trace id.
static TABLE: Sharded<u128, Decision> = Sharded::new();

/// Traces with an entry: looking one up costs one relaxed load when there are none.
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// The decisions local roots were sent with, by trace id: a late part of the trace
/// (a span that finishes after its local root was sent) goes out with the same one.
/// Two generations per shard, the older dropped when the newer fills: the last
/// [`MAX_PER_SHARD`] traces of each shard are always remembered.
static SENT: [Mutex<Generations>; SHARDS] = [const { Mutex::new(Generations::new()) }; SHARDS];

/// Traces in [`SENT`] (a trace remembered in both generations counts twice): looking
/// one up costs one relaxed load when there are none.
static SENT_COUNT: AtomicUsize = AtomicUsize::new(0);

type Generation = Shard<u128, Decision, IdHasher>;

struct Generations {
    newer: Generation,
    older: Generation,
}

impl Generations {
    const fn new() -> Self {
        Generations {
            newer: HashMap::with_hasher(BuildHasherDefault::new()),
            older: HashMap::with_hasher(BuildHasherDefault::new()),
        }
    }

    fn get(&self, id: u128) -> Option<Decision> {
        self.newer.get(&id).or_else(|| self.older.get(&id)).copied()
    }

    /// Remembers `decision` for `id`, the older generation dropped when the newer is
    /// full; how many entries that adds (negative when a generation was dropped).
    fn insert(&mut self, id: u128, decision: Decision) -> isize {
        let mut added = 0;
        if self.newer.len() >= MAX_PER_SHARD {
            let newer = std::mem::take(&mut self.newer);
            added -= std::mem::replace(&mut self.older, newer).len() as isize;
        }
        if self.newer.insert(id, decision).is_none() {
            added += 1;
        }
        added
    }
}

fn lock(trace: TraceId) -> MutexGuard<'static, Shard<u128, Decision, IdHasher>> {
    // The low half of a trace id is random: it picks the shard as it is.
    TABLE.lock(trace.low())
}

fn lock_sent(trace: TraceId) -> MutexGuard<'static, Generations> {
    SENT[(trace.low() as usize) % SHARDS]
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// The decision recorded for `trace`, if any: one made before its local root was sent,
/// else the one its local root was sent with.
pub(crate) fn get(trace: TraceId) -> Option<Decision> {
    let pending = match COUNT.load(Ordering::Relaxed) {
        0 => None,
        _ => lock(trace).get(&trace.to_u128()).copied(),
    };
    pending.or_else(|| sent(trace))
}

/// The decision `trace`'s local root was sent with, if it is remembered.
fn sent(trace: TraceId) -> Option<Decision> {
    if SENT_COUNT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    lock_sent(trace).get(trace.to_u128())
}

/// Remembers the decision `trace`'s local root was sent with, for its late parts.
#[cfg_attr(not(feature = "agent"), allow(dead_code))]
pub(crate) fn root_sent(trace: TraceId, decision: Decision) {
    let added = lock_sent(trace).insert(trace.to_u128(), decision);
    count(&SENT_COUNT, added);
}
/// Records `decision` for `trace` unless one is recorded already (the first decision
/// stands); returns the one that stands.
pub(crate) fn insert_first(trace: TraceId, decision: Decision) -> Decision {
    let mut map = lock(trace);
    if let Some(existing) = map.get(&trace.to_u128()) {
        return *existing;
    }
    make_room(&mut map);
    map.insert(trace.to_u128(), decision);
    COUNT.fetch_add(1, Ordering::Relaxed);
    decision
}

/// Records `decision` for `trace`, replacing any (a manual decision overrides).
pub(crate) fn replace(trace: TraceId, decision: Decision) {
    let mut map = lock(trace);
    if !map.contains_key(&trace.to_u128()) {
        make_room(&mut map);
        COUNT.fetch_add(1, Ordering::Relaxed);
    }
    map.insert(trace.to_u128(), decision);
}

/// Takes `trace`'s decision made before its local root was sent (its local root is
/// being sent), else the one another local root of it was sent with.
#[cfg_attr(not(feature = "agent"), allow(dead_code))]
pub(crate) fn take(trace: TraceId) -> Option<Decision> {
    let pending = match COUNT.load(Ordering::Relaxed) {
        0 => None,
        _ => lock(trace).remove(&trace.to_u128()),
    };
    if pending.is_some() {
        COUNT.fetch_sub(1, Ordering::Relaxed);
    }
    pending.or_else(|| sent(trace))
}

fn make_room(map: &mut Shard<u128, Decision, IdHasher>) {
    COUNT.fetch_sub(clear_if_full(map, MAX_PER_SHARD), Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sampling::Mechanism;

    #[test]
    fn the_last_traces_sent_of_a_shard_are_remembered() {
        let kept = Decision::new(2, Mechanism::Rule);
        let mut sent = Generations::new();
        let max = MAX_PER_SHARD as u128;
        let added: isize = (1..=max * 2).map(|id| sent.insert(id, kept)).sum();
        assert_eq!(added, 2 * MAX_PER_SHARD as isize);
        // The newer generation filled and turned older once: all are remembered.
        assert_eq!(sent.get(1), Some(kept));
        assert_eq!(sent.get(max * 2), Some(kept));
        assert_eq!(sent.insert(max * 2 + 1, kept), 1 - MAX_PER_SHARD as isize);
        // Then the oldest generation goes; the last MAX_PER_SHARD stay.
        assert_eq!(sent.get(1), None);
        assert_eq!(sent.get(max), None);
        assert_eq!(sent.get(max + 1), Some(kept));
        assert_eq!(sent.get(max * 2 + 1), Some(kept));
    }

    #[test]
    fn a_sent_decision_is_found_for_late_parts() {
        let trace = TraceId::from_parts(0x5e47, 0x5e47_0001);
        let dropped = Decision::new(-1, Mechanism::Rule);
        root_sent(trace, dropped);
        assert_eq!(get(trace), Some(dropped));
        assert_eq!(
            take(trace),
            Some(dropped),
            "another local root of the trace"
        );
    }
}
