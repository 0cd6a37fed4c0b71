//! Zipkin's B3 headers, in both forms: several `x-b3-*` headers (`b3multi`), or one
//! `b3` header (`b3`). Read and written as Datadog's tracers do.

use super::carrier::{Extractor, Injector};
use super::outgoing::Trace;
use super::values::parse_lower_hex;
use crate::id::{SpanId, TraceId};
use crate::span_context::SpanContext;

pub(super) const TRACE_ID: &str = "x-b3-traceid";
pub(super) const SPAN_ID: &str = "x-b3-spanid";
pub(super) const SAMPLED: &str = "x-b3-sampled";
pub(super) const FLAGS: &str = "x-b3-flags";
pub(super) const SINGLE: &str = "b3";

/// The context in `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` and `x-b3-flags`.
pub(super) fn extract_multi<E: Extractor + ?Sized>(carrier: &E) -> Option<SpanContext> {
    let trace_id = carrier.get(TRACE_ID)?;
    let span_id = carrier.get(SPAN_ID);
    let mut priority = carrier.get(SAMPLED).and_then(|s| sampling(s.trim()));
    // Debug: kept by the user upstream.
    if carrier.get(FLAGS).is_some_and(|f| f.trim() == "1") {
        priority = Some(2);
    }
    context(&trace_id, span_id.as_deref(), priority)
}

/// The context in `b3: {trace id}-{span id}[-{sampling state}[-{parent span id}]]`.
/// A header with the sampling state alone carries no trace to continue.
pub(super) fn extract_single<E: Extractor + ?Sized>(carrier: &E) -> Option<SpanContext> {
    let header = carrier.get(SINGLE)?;
    let mut parts = header.trim().split('-');
    let (trace_id, span_id) = (parts.next()?, parts.next()?);
    let priority = parts.next().and_then(sampling);
    context(trace_id, Some(span_id), priority)
}

/// `0` drops, `1` keeps, `d` (debug) keeps as the user would.
fn sampling(state: &str) -> Option<i32> {
    match state {
        "0" => Some(0),
        "1" => Some(1),
        "d" => Some(2),
        _ => None,
    }
}

/// Ids are hex, up to 32 digits for the trace id (16 meaning the upper half is zero)
/// and up to 16 for the span id; upper-case digits are read too, as Datadog's tracers
/// read them. A zero or missing span id continues the trace without a parent.
fn context(trace_id: &str, span_id: Option<&str>, priority: Option<i32>) -> Option<SpanContext> {
    let trace_id = hex(trace_id.trim(), 32)?;
    if trace_id == 0 {
        return None;
    }
    let span_id = match span_id {
        None => 0,
        Some(span_id) => hex(span_id.trim(), 16)? as u64,
    };
    let mut context = SpanContext {
        remote: true,
        ..SpanContext::new(TraceId::from_u128(trace_id), SpanId::from_u64(span_id))
    };
    context.set_upstream_priority(priority);
    Some(context)
}

fn hex(value: &str, max_digits: usize) -> Option<u128> {
    if value.len() > max_digits {
        return None;
    }
    if value.bytes().any(|b| b.is_ascii_uppercase()) {
        return parse_lower_hex(&value.to_ascii_lowercase());
    }
    parse_lower_hex(value)
}

/// The trace id as 32 hex digits when its upper half is set, else 16.
fn trace_id_hex(trace_id: TraceId) -> String {
    match trace_id.high() {
        0 => format!("{:016x}", trace_id.low()),
        _ => format!("{:032x}", trace_id.to_u128()),
    }
}

pub(super) fn inject_multi(trace: &Trace<'_>, carrier: &mut dyn Injector) {
    let ctx = trace.context;
    carrier.set(TRACE_ID, trace_id_hex(ctx.trace_id));
    carrier.set(SPAN_ID, format!("{:016x}", ctx.span_id.to_u64()));
    match trace.sampling_priority {
        p if p > 1 => carrier.set(FLAGS, "1".to_owned()),
        p => carrier.set(SAMPLED, if p > 0 { "1" } else { "0" }.to_owned()),
    }
}

pub(super) fn inject_single(trace: &Trace<'_>, carrier: &mut dyn Injector) {
    let ctx = trace.context;
    let state = match trace.sampling_priority {
        p if p > 1 => "d",
        p if p > 0 => "1",
        _ => "0",
    };
    carrier.set(
        SINGLE,
        format!(
            "{}-{:016x}-{state}",
            trace_id_hex(ctx.trace_id),
            ctx.span_id.to_u64()
        ),
    );
}
