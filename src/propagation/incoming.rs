//! What extraction makes of the contexts several styles found in one request: whether
//! they are of one trace, how a W3C context refines another, the links to those it did
//! not continue, and the new trace a restart (or baggage alone) begins.

use super::carrier::Extractor;
use super::style::PropagationStyle;
use super::w3c;
use crate::id::{SpanId, TraceId};
use crate::links::SpanLink;
use crate::span_context::{SpanContext, TraceMeta};

/// Whether two contexts are of one trace: the same lower half, and the same upper half
/// when the first knows it (a Datadog context without `_dd.p.tid` does not).
pub(super) fn same_trace(first: &SpanContext, other: &SpanContext) -> bool {
    other.trace_id.low() == first.trace_id.low()
        && (first.trace_id.high() == 0 || other.trace_id.high() == first.trace_id.high())
}

/// A W3C context of the same trace refines one of another style, as Datadog's tracers
/// do: other vendors' tracestate members are kept for the next hop, and when a proxy
/// updated only `traceparent`, its parent wins, the other one being kept as the last
/// Datadog parent (`_dd.parent_id`).
pub(super) fn refine(context: &mut SpanContext, w3c: &SpanContext) {
    let w3c_meta = w3c.trace.as_deref();
    let foreign = w3c_meta
        .map(|m| &m.foreign_tracestate)
        .filter(|members| !members.is_empty());
    let random = w3c_meta.is_some_and(|m| m.random_flag);
    let last_parent = (w3c.span_id != context.span_id).then(|| {
        let p = w3c_meta.and_then(|m| m.last_parent_id.clone());
        let other = context.span_id.to_u64();
        p.or_else(|| (other != 0).then(|| format!("{other:016x}")))
    });
    if foreign.is_some() || last_parent.is_some() || random {
        let meta = context.trace.get_or_insert_with(Default::default);
        let meta = std::sync::Arc::make_mut(meta);
        if let Some(members) = foreign {
            meta.foreign_tracestate = members.clone();
        }
        meta.random_flag = random;
        if let Some(last_parent) = last_parent {
            meta.last_parent_id = last_parent;
            context.span_id = w3c.span_id;
        }
    }
}

/// A link to an incoming context, as Datadog's tracers make it: the sampled flag from
/// its decision, its `tracestate` when it came in W3C headers, and why it is linked.
pub(super) fn link<E: Extractor + ?Sized>(
    style: PropagationStyle,
    context: &SpanContext,
    carrier: &E,
    reason: &'static str,
) -> SpanLink {
    let mut link = SpanLink::to(context)
        .attribute("reason", reason)
        .attribute("context_headers", style.to_string());
    if style == PropagationStyle::TraceContext {
        if let Some(state) = carrier.get(w3c::TRACESTATE) {
            link = link.tracestate(state.trim());
        }
    }
    link
}

/// A new trace in place of an incoming one (`restart`, or baggage alone): a remote
/// context with no span, whose child is the root of a new trace with `links`.
pub(super) fn fresh(links: Vec<SpanLink>) -> SpanContext {
    let generate_128 = crate::config::global().trace_id_128_generation();
    let (trace_id, _) = TraceId::random_root(generate_128, crate::clock::now());
    SpanContext {
        remote: true,
        trace: TraceMeta {
            links,
            ..TraceMeta::default()
        }
        .shared(),
        ..SpanContext::new(trace_id, SpanId::ZERO)
    }
}
