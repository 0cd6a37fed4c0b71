//! Datadog's `x-datadog-*` headers.

use std::sync::Arc;

use super::carrier::{Extractor, Injector};
use super::outgoing::Trace;
use super::values::{parse_decimal, parse_hex16, valid_origin};
use crate::context::{SpanContext, TraceMeta};
use crate::id::{SpanId, TraceId};

pub(super) const TRACE_ID: &str = "x-datadog-trace-id";
pub(super) const PARENT_ID: &str = "x-datadog-parent-id";
pub(super) const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
pub(super) const ORIGIN: &str = "x-datadog-origin";
pub(super) const TAGS: &str = "x-datadog-tags";

/// Datadog's limit on `x-datadog-tags`, in bytes.
pub(super) const MAX_TAGS_LEN: usize = 512;

/// The context the headers describe; `None` when they are absent or invalid in any way.
pub(super) fn extract(carrier: &dyn Extractor) -> Option<SpanContext> {
    let trace_low = parse_decimal(&carrier.get(TRACE_ID)?)?;
    let parent = parse_decimal(&carrier.get(PARENT_ID)?)?;
    if trace_low == 0 || parent == 0 {
        return None;
    }
    let sampling_priority = match carrier.get(SAMPLING_PRIORITY) {
        None => None,
        Some(value) => Some(value.trim().parse::<i32>().ok()?),
    };
    let origin = match carrier.get(ORIGIN) {
        None => None,
        Some(value) => Some(valid_origin(value.trim())?.to_owned()),
    };
    let (trace_high, tags) = match carrier.get(TAGS) {
        None => (0, Vec::new()),
        Some(value) => parse_tags(&value)?,
    };
    Some(SpanContext {
        trace_id: TraceId::from_parts(trace_high, trace_low),
        span_id: SpanId::from_u64(parent),
        parent_id: SpanId::ZERO,
        trace: Some(Arc::new(TraceMeta {
            sampling_priority,
            origin,
            tags,
            foreign_tracestate: Vec::new(),
        })),
    })
}

/// `_dd.p.k=v,...`: the upper 64 bits of the trace id (`_dd.p.tid`) and the other
/// propagated tags. Keys that are not `_dd.p.*` are dropped, as Datadog's tracers do;
/// a malformed list, an invalid tid or an oversize header make the whole header invalid.
fn parse_tags(header: &str) -> Option<(u64, Vec<(String, String)>)> {
    if header.len() > MAX_TAGS_LEN {
        return None;
    }
    let mut high = 0;
    let mut tags = Vec::new();
    for member in header.split(',').map(str::trim).filter(|m| !m.is_empty()) {
        let (key, value) = member.split_once('=')?;
        let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !visible(key) || !visible(value) || key.contains(' ') {
            return None;
        }
        if key == "_dd.p.tid" {
            high = parse_hex16(value)?;
        } else if key.starts_with("_dd.p.") && !tags.iter().any(|(k, _)| k == key) {
            tags.push((key.to_owned(), value.to_owned()));
        }
    }
    Some((high, tags))
}

pub(super) fn inject(trace: &Trace<'_>, carrier: &mut dyn Injector) {
    let ctx = trace.context;
    carrier.set(TRACE_ID, ctx.trace_id.low().to_string());
    carrier.set(PARENT_ID, ctx.span_id.to_u64().to_string());
    carrier.set(SAMPLING_PRIORITY, trace.sampling_priority.to_string());
    if let Some(origin) = trace.origin {
        carrier.set(ORIGIN, origin.to_owned());
    }
    let mut tags = String::new();
    for (key, value) in trace.tags() {
        if !tags.is_empty() {
            tags.push(',');
        }
        tags.push_str(key);
        tags.push('=');
        tags.push_str(value);
    }
    let high = ctx.trace_id.high();
    if high != 0 {
        if !tags.is_empty() {
            tags.push(',');
        }
        tags.push_str(&format!("_dd.p.tid={high:016x}"));
    }
    // Over Datadog's limit the tags are not sent at all, as its tracers do.
    if !tags.is_empty() && tags.len() <= MAX_TAGS_LEN {
        carrier.set(TAGS, tags);
    }
}
