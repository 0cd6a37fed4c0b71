//! The parent of each OpenTelemetry span started through spanlog's tracer wrapper.
//!
//! The OpenTelemetry API gives no way to read a span's parent back, and Datadog's
//! `dd.parent_id` needs it: the wrapper records it here when the span starts and takes
//! it out when the span is dropped; the log path reads it once per span and thread.

use crate::sharded::Sharded;

/// Most spans one shard remembers. Spans that are never dropped (leaked) cannot grow
/// the table past `SHARDS × MAX_PER_SHARD` entries; past it, new spans log parent `0`.
const MAX_PER_SHARD: usize = 1 << 16;

/// Parents by span id (random: it picks the shard as it is).
static TABLE: Sharded<u64, u64> = Sharded::new();

/// Remembers `parent_id` as the parent of `span_id`. Roots (parent zero) need no entry.
pub(super) fn record(span_id: u64, parent_id: u64) {
    if span_id == 0 || parent_id == 0 {
        return;
    }
    let mut map = TABLE.lock(span_id);
    if map.len() < MAX_PER_SHARD {
        map.insert(span_id, parent_id);
    }
}

/// Forgets `span_id`: its span was dropped.
pub(super) fn forget(span_id: u64) {
    TABLE.lock(span_id).remove(&span_id);
}

/// The recorded parent of `span_id`, or zero.
pub(super) fn parent_of(span_id: u64) -> u64 {
    TABLE.lock(span_id).get(&span_id).copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_kept_until_forgotten() {
        record(0xabc1, 7);
        record(0xabc2, 0);
        assert_eq!(parent_of(0xabc1), 7);
        assert_eq!(parent_of(0xabc2), 0);
        forget(0xabc1);
        assert_eq!(parent_of(0xabc1), 0);
    }
}
