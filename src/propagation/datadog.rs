//! Datadog's `x-datadog-*` headers.

use std::borrow::Cow;

use super::carrier::{Extractor, Injector};
use super::outgoing::Trace;
use super::values::{MAX_TAGS_LEN, parse_decimal, parse_hex16, readable_origin, valid_tag};
use crate::id::{SpanId, TraceId};
use crate::span_context::{SpanContext, TraceMeta};

pub(super) const TRACE_ID: &str = "x-datadog-trace-id";
pub(super) const PARENT_ID: &str = "x-datadog-parent-id";
pub(super) const SAMPLING_PRIORITY: &str = "x-datadog-sampling-priority";
pub(super) const ORIGIN: &str = "x-datadog-origin";
pub(super) const TAGS: &str = "x-datadog-tags";

/// The context the headers describe; `None` when there is no valid trace id. What
/// else is wrong drops only what is wrong, as Datadog's tracers do: a missing or zero
/// parent id continues the trace with no parent (synthetics sends 0), an origin that
/// is not printable ASCII and a malformed `_dd.p.tid` are left out, and unreadable
/// tags are dropped and noted.
pub(super) fn extract<E: Extractor + ?Sized>(carrier: &E) -> Option<SpanContext> {
    let trace_low = parse_decimal(&carrier.get(TRACE_ID)?)?;
    if trace_low == 0 {
        return None;
    }
    let parent = match carrier.get(PARENT_ID) {
        None => 0,
        Some(value) => parse_decimal(&value)?,
    };
    let sampling_priority = match carrier.get(SAMPLING_PRIORITY) {
        None => None,
        Some(value) => Some(value.trim().parse::<i32>().ok()?),
    };
    let origin = carrier
        .get(ORIGIN)
        .and_then(|value| readable_origin(value.trim()).map(str::to_owned));
    // Tags that cannot be read are dropped, not the trace, as Datadog's tracers do.
    let (trace_high, tags, propagation_error) = match carrier.get(TAGS) {
        None => (0, Vec::new(), None),
        Some(value) if value.len() > MAX_TAGS_LEN => {
            (0, Vec::new(), Some(Cow::Borrowed("extract_max_size")))
        }
        Some(value) => match parse_tags(&value) {
            Ok(Tags {
                high: Ok(high),
                tags,
            }) => (high, tags, None),
            Ok(Tags {
                high: Err(tid),
                tags,
            }) => (0, tags, Some(Cow::Owned(format!("malformed_tid {tid}")))),
            Err(Malformed) => (0, Vec::new(), Some(Cow::Borrowed("decoding_error"))),
        },
    };
    let mut context = SpanContext {
        remote: true,
        trace: TraceMeta {
            origin,
            tags,
            propagation_error,
            ..TraceMeta::default()
        }
        .shared(),
        ..SpanContext::new(
            TraceId::from_parts(trace_high, trace_low),
            SpanId::from_u64(parent),
        )
    };
    context.set_upstream_priority(sampling_priority);
    Some(context)
}

/// A tag list that breaks the header's syntax.
struct Malformed;

/// What `x-datadog-tags` carries that spanlog keeps.
struct Tags {
    /// The upper 64 bits of the trace id (`_dd.p.tid`; 0 when absent), or the value
    /// that was not 16 lower-case hex digits.
    high: Result<u64, String>,
    /// The propagated `_dd.p.*` tags that may travel in both styles, in arrival order.
    tags: Vec<(String, String)>,
}

/// `k=v,...`, read as Datadog's tracers read it: keys are printable ASCII without
/// spaces, `,` or `=`; values are printable ASCII without `,` (trailing spaces dropped);
/// a later key replaces an earlier one; keys other than `_dd.p.*` are left out.
fn parse_tags(header: &str) -> Result<Tags, Malformed> {
    let mut out = Tags {
        high: Ok(0),
        tags: Vec::new(),
    };
    for member in header.split(',') {
        let (key, value) = member.split_once('=').ok_or(Malformed)?;
        let value = value.trim_end_matches(' ');
        let key_ok = |b: u8| (0x21..0x7f).contains(&b) && b != b',' && b != b'=';
        if key.is_empty() || !key.bytes().all(key_ok) || value.is_empty() {
            return Err(Malformed);
        }
        if !value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b',')
        {
            return Err(Malformed);
        }
        if key == "_dd.p.tid" {
            out.high = parse_hex16(value).ok_or_else(|| value.to_owned());
        } else if valid_tag(key, value) {
            out.tags.retain(|(k, _)| k != key);
            out.tags.push((key.to_owned(), value.to_owned()));
        }
    }
    Ok(out)
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
    for (key, value) in trace.tags().filter(|(k, v)| valid_tag(k, v)) {
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
