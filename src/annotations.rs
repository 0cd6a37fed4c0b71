//! Changes to a span made by code that does not hold it (`with_current_span`, an error
//! log line): kept by span id until the span finishes, on whichever thread.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::sharded::{Sharded, clear_if_full, count};

/// A tag key or value: borrowed when static, owned otherwise.
pub(crate) type Text = std::borrow::Cow<'static, str>;

/// One change to a span.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Annotation {
    Tag(Text, Text),
    Metric(Text, f64),
    Resource(Text),
    Error(bool),
}

/// Most spans one shard holds changes for. Changes to a context with no local span to
/// finish (a remote context entered by hand) are never taken; past this bound the
/// oldest shard contents are dropped rather than grow.
const MAX_PER_SHARD: usize = 4096;

/// Changes by span id (random: it picks the shard as it is).
static TABLE: Sharded<u64, Vec<Annotation>> = Sharded::new();

/// How many spans have changes waiting.
static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Work waiting for spans as they finish: changes here, plus local roots registered
/// for sampling (`sampling::roots`). Finishing a span looks further only when this is
/// not zero: one relaxed load for both.
pub(crate) static FINISH_WORK: AtomicUsize = AtomicUsize::new(0);

/// Counts `change` more (or fewer) pieces of work for finishing spans, kept elsewhere.
pub(crate) fn count_finish_work(change: isize) {
    count(&FINISH_WORK, change);
}

/// Whether finishing spans have anything to look up.
#[inline(always)]
pub(crate) fn finish_has_work() -> bool {
    FINISH_WORK.load(Ordering::Relaxed) != 0
}

/// Records a change to the span `span_id`.
pub(crate) fn add(span_id: u64, annotation: Annotation) {
    let mut map = TABLE.lock(span_id);
    if !map.contains_key(&span_id) {
        let dropped = clear_if_full(&mut map, MAX_PER_SHARD);
        PENDING.fetch_sub(dropped, Ordering::Relaxed);
        FINISH_WORK.fetch_sub(dropped, Ordering::Relaxed);
    }
    let list = map.entry(span_id).or_insert_with(|| {
        PENDING.fetch_add(1, Ordering::Relaxed);
        FINISH_WORK.fetch_add(1, Ordering::Relaxed);
        Vec::new()
    });
    list.push(annotation);
}

/// Takes the changes recorded for `span_id`, if any. One relaxed load when nothing is
/// pending anywhere.
#[inline]
pub(crate) fn take(span_id: u64) -> Option<Vec<Annotation>> {
    if PENDING.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let list = TABLE.lock(span_id).remove(&span_id)?;
    PENDING.fetch_sub(1, Ordering::Relaxed);
    FINISH_WORK.fetch_sub(1, Ordering::Relaxed);
    Some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_taken_once() {
        add(0x5151, Annotation::Error(true));
        add(0x5151, Annotation::Resource("r".into()));
        assert_eq!(
            take(0x5151),
            Some(vec![
                Annotation::Error(true),
                Annotation::Resource("r".into())
            ])
        );
        assert_eq!(take(0x5151), None);
    }
}
