//! Decisions made for traces of this process before their local root was exported: at
//! the first inject, by hand, or for a part of the trace sent ahead of its root. The
//! exporter takes a trace's entry when it sends the local root.

use std::sync::MutexGuard;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Decision;
use crate::id::{IdHasher, TraceId};
use crate::sharded::{Shard, Sharded};

/// Most traces one shard remembers; past it the shard starts over (a trace whose
/// entry is lost is decided again, the same way unless a rate limiter said no).
const MAX_PER_SHARD: usize = 4096;

/// Decisions by trace id.
static TABLE: Sharded<u128, Decision> = Sharded::new();

/// Traces with an entry: looking one up costs one relaxed load when there are none.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn lock(trace: TraceId) -> MutexGuard<'static, Shard<u128, Decision, IdHasher>> {
    // The low half of a trace id is random: it picks the shard as it is.
    TABLE.lock(trace.low())
}

/// The decision recorded for `trace`, if any.
pub(crate) fn get(trace: TraceId) -> Option<Decision> {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    lock(trace).get(&trace.to_u128()).copied()
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

/// Forgets `trace`: its local root was sent.
#[cfg_attr(not(feature = "agent"), allow(dead_code))]
pub(crate) fn remove(trace: TraceId) -> Option<Decision> {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let removed = lock(trace).remove(&trace.to_u128());
    if removed.is_some() {
        COUNT.fetch_sub(1, Ordering::Relaxed);
    }
    removed
}

fn make_room(map: &mut Shard<u128, Decision, IdHasher>) {
    if map.len() >= MAX_PER_SHARD {
        COUNT.fetch_sub(map.len(), Ordering::Relaxed);
        map.clear();
    }
}
