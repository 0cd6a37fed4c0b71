//! This process's local root spans that have not been sent yet, by trace: what a
//! decision made before its root is sent reads (at the first inject, or for a part of
//! the trace sent ahead of its root), so that it is the decision the root would get
//! with its name, service, resource and tags of that moment, as Datadog's tracers
//! decide on the root span object whether or not it has finished.
//!
//! Kept only while the sampler has a rule that reads the root span: without one a
//! decision does not depend on it, and spans cost nothing here (child spans never
//! do: only a local root registers).
//!
//! A root leaves the table when it finishes, unless the installed exporter takes it
//! out itself when it sends the root (the agent exporter: a part of the trace sent
//! between the root finishing and the root being sent still finds it). Past
//! [`MAX_PER_SHARD`] roots a shard starts over: a trace whose root is lost is decided
//! from what is sent, as it was before this table existed.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::RootInfo;
use crate::annotations::{Annotation, Text};
use crate::config::Config;
use crate::export::Collector;
use crate::id::TraceId;
use crate::sharded::{Shard, Sharded, clear_if_full, count};
use crate::span_context::SpanContext;
use crate::span_parts::{SpanParts, set};

/// Most roots one shard remembers.
const MAX_PER_SHARD: usize = 4096;

/// What a rule reads of a local root span, copied from it as it changes.
#[derive(Debug)]
struct Root {
    span_id: u64,
    name: Text,
    service: Option<Text>,
    resource: Option<Text>,
    tags: Vec<(Text, Text)>,
    metrics: Vec<(Text, f64)>,
}

impl Root {
    fn of(parts: &SpanParts) -> Root {
        let extra = parts.extra.as_deref();
        Root {
            span_id: parts.context.span_id.to_u64(),
            name: parts.name.clone(),
            service: extra.and_then(|e| e.service.clone()),
            resource: parts.resource.clone(),
            tags: extra.map(|e| e.tags.clone()).unwrap_or_default(),
            metrics: extra.map(|e| e.metrics.clone()).unwrap_or_default(),
        }
    }

    fn info<'a>(&'a self, trace_id: TraceId, config: &'a Config) -> RootInfo<'a> {
        RootInfo::of_span(
            trace_id,
            config,
            &self.name,
            self.service.as_deref(),
            self.resource.as_deref(),
            &self.tags,
            &self.metrics,
        )
    }
}

/// Roots by trace id.
static TABLE: Sharded<u128, Root> = Sharded::new();

/// Roots in the table: a span that changes looks at it only when this is not zero.
static COUNT: AtomicUsize = AtomicUsize::new(0);

fn key(trace: TraceId) -> (u128, u64) {
    // The low half of a trace id is random: it picks the shard as it is.
    (trace.to_u128(), trace.low())
}

/// `f` of the entry of `trace_id`, with its shard locked, when it is the root span
/// `span_id`'s.
fn with_entry(
    trace_id: TraceId,
    span_id: u64,
    f: impl FnOnce(&mut Shard<u128, Root, crate::id::IdHasher>, u128),
) {
    let (trace, spread) = key(trace_id);
    let mut map = TABLE.lock(spread);
    if map.get(&trace).is_some_and(|root| root.span_id == span_id) {
        f(&mut map, trace);
    }
}

/// Whether local roots are registered: not known yet (the sampler is not read yet),
/// no, or yes.
static REGISTERING: AtomicU8 = AtomicU8::new(UNKNOWN);
const UNKNOWN: u8 = 0;
const NO: u8 = 1;
const YES: u8 = 2;

/// Whether a local root that starts may have to register: one relaxed load.
#[inline(always)]
pub(crate) fn may_register() -> bool {
    REGISTERING.load(Ordering::Relaxed) != NO
}

/// A local root span started: registered when the sampler reads roots. Out of line:
/// a span start carries only [`may_register`]'s load and a branch.
#[inline(never)]
pub(crate) fn started(parts: &SpanParts) {
    let registering = match REGISTERING.load(Ordering::Relaxed) {
        UNKNOWN => {
            let reads = super::Sampler::global().reads_roots();
            REGISTERING.store(if reads { YES } else { NO }, Ordering::Relaxed);
            reads
        }
        state => state == YES,
    };
    if registering {
        register(parts);
    }
}

#[cold]
fn register(parts: &SpanParts) {
    let (trace, spread) = key(parts.context.trace_id);
    let mut map = TABLE.lock(spread);
    if map.contains_key(&trace) {
        // Another local root of the same trace (two requests of one upstream trace):
        // the first stands.
        return;
    }
    counted(-(clear_if_full(&mut map, MAX_PER_SHARD) as isize));
    map.insert(trace, Root::of(parts));
    counted(1);
}

/// A local root span changed (its resource, service or tags): its entry follows.
#[inline]
pub(crate) fn changed(parts: &SpanParts) {
    if COUNT.load(Ordering::Relaxed) != 0 {
        refresh(parts);
    }
}

#[cold]
fn refresh(parts: &SpanParts) {
    let context = &parts.context;
    with_entry(context.trace_id, context.span_id.to_u64(), |map, trace| {
        map.insert(trace, Root::of(parts));
    });
}

/// A change made to span `span_id` by code that does not hold it
/// ([`with_current_span`](crate::with_current_span)): applied to its entry if it is a
/// registered root.
pub(crate) fn annotated(trace_id: TraceId, span_id: u64, change: &Annotation) {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    with_entry(trace_id, span_id, |map, trace| {
        let Some(root) = map.get_mut(&trace) else {
            return;
        };
        match change {
            Annotation::Tag(key, value) => set(&mut root.tags, key.clone(), value.clone()),
            Annotation::Metric(key, value) => set(&mut root.metrics, key.clone(), *value),
            Annotation::Resource(resource) => root.resource = Some(resource.clone()),
            Annotation::Error(_) => {}
        }
    });
}

/// Counts `change` more roots here, and as work for finishing spans.
fn counted(change: isize) {
    count(&COUNT, change);
    crate::annotations::count_finish_work(change);
}

/// A span finished while roots may be registered: a local root leaves the table, unless
/// `collector` takes it out when it sends it (it decides sampling as it sends: a part
/// of the trace sent between the root finishing and the root being sent still finds
/// it).
#[cold]
pub(crate) fn finished(context: &SpanContext, collector: Option<&dyn Collector>) {
    if context.is_local_root() && !collector.is_some_and(|c| c.takes_roots()) {
        remove(context.trace_id, context.span_id.to_u64());
    }
}

/// Takes the root span `span_id` of `trace_id` out of the table, if it is there.
#[inline]
pub(crate) fn remove(trace_id: TraceId, span_id: u64) {
    if COUNT.load(Ordering::Relaxed) != 0 {
        remove_slow(trace_id, span_id);
    }
}

#[cold]
fn remove_slow(trace_id: TraceId, span_id: u64) {
    with_entry(trace_id, span_id, |map, trace| {
        map.remove(&trace);
        counted(-1);
    });
}

/// `f` of what is known of `trace_id`'s local root, if it is registered (under the
/// shard's lock: `f` must not start or finish spans).
pub(crate) fn with_root<R>(
    trace_id: TraceId,
    config: &Config,
    f: impl FnOnce(&RootInfo<'_>) -> R,
) -> Option<R> {
    if COUNT.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let (trace, spread) = key(trace_id);
    let map = TABLE.lock(spread);
    map.get(&trace).map(|root| f(&root.info(trace_id, config)))
}
