//! spanlog's spans exported through the OpenTelemetry tracer provider given to
//! [`set_tracer_provider`](super::set_tracer_provider), while spanlog has no exporter of
//! its own: each becomes an OpenTelemetry span as it starts (so that its ids are the
//! ones the provider sends, and the ones its log lines carry) and takes its name,
//! resource, tags and error to it as it finishes.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use ::opentelemetry::global::{ObjectSafeSpan, ObjectSafeTracer};
use ::opentelemetry::trace::{
    self as otel, SpanBuilder, Status, TraceContextExt, TraceFlags, TraceState,
};
use ::opentelemetry::{Context, KeyValue};
use once_cell::sync::OnceCell;

use crate::id::{SpanId, TraceId};
use crate::sharded::{Sharded, clear_if_full};
use crate::span_parts::{SpanParts, Text};

type OpenSpan = Box<dyn ObjectSafeSpan + Send + Sync>;

/// The provider's tracer, once one was registered.
static TRACER: OnceCell<Box<dyn ObjectSafeTracer + Send + Sync>> = OnceCell::new();

/// Whether [`TRACER`] is set: one relaxed load for a span start to know.
static ON: AtomicBool = AtomicBool::new(false);

/// The OpenTelemetry span of each bridged spanlog span that has not finished, by span
/// id. Spans never finished (leaked) stay; past this bound a shard starts over.
static OPEN: Sharded<u64, OpenSpan> = Sharded::new();
const MAX_PER_SHARD: usize = 16_384;

/// Makes spans started from now on, while spanlog has no exporter, OpenTelemetry spans
/// of `tracer`. The first provider registered stays.
pub(crate) fn install<T, S>(tracer: T)
where
    T: otel::Tracer<Span = S> + Send + Sync + 'static,
    S: otel::Span + Send + Sync + 'static,
{
    if TRACER.set(Box::new(tracer)).is_ok() {
        ON.store(true, Ordering::Release);
    }
}

/// Whether a span that starts now goes through the provider: one registered, and no
/// spanlog exporter installed.
#[inline(always)]
pub(crate) fn on() -> bool {
    ON.load(Ordering::Relaxed) && !crate::export::is_installed()
}

/// Starts the OpenTelemetry span of a span starting with `parts`, a child of its
/// parent, and gives the span its ids. A span the provider does not make (an invalid
/// context back) keeps its own.
pub(crate) fn started(parts: &mut SpanParts) {
    let Some(tracer) = TRACER.get() else {
        return;
    };
    let context = &parts.context;
    let parent = match context.parent_id.is_zero() {
        true => Context::new(),
        false => Context::new().with_remote_span_context(otel::SpanContext::new(
            otel::TraceId::from_bytes(context.trace_id.to_u128().to_be_bytes()),
            otel::SpanId::from_bytes(context.parent_id.to_u64().to_be_bytes()),
            match context.sampling_priority() > 0 {
                true => TraceFlags::SAMPLED,
                false => TraceFlags::NOT_SAMPLED,
            },
            context.parent_remote,
            TraceState::default(),
        )),
    };
    let builder = SpanBuilder::from_name(parts.name.clone()).with_start_time(SystemTime::now());
    let open = tracer.build_with_context_boxed(builder, &parent);
    let ids = open.span_context();
    if !ids.is_valid() {
        return;
    }
    let trace_id = TraceId::from_u128(u128::from_be_bytes(ids.trace_id().to_bytes()));
    let span_id = SpanId::from_u64(u64::from_be_bytes(ids.span_id().to_bytes()));
    parts.context.trace_id = trace_id;
    parts.context.span_id = span_id;
    let mut map = OPEN.lock(span_id.to_u64());
    crate::annotations::count_finish_work(-(clear_if_full(&mut map, MAX_PER_SHARD) as isize));
    if map.insert(span_id.to_u64(), open).is_none() {
        crate::annotations::count_finish_work(1);
    }
}

/// A span finishing: when it was bridged, its OpenTelemetry span gets its name,
/// resource, type, service, tags, metrics and error, and ends now.
#[cold]
pub(crate) fn finished(parts: &SpanParts) {
    if !ON.load(Ordering::Relaxed) {
        return;
    }
    let span_id = parts.context.span_id.to_u64();
    let Some(mut open) = OPEN.lock(span_id).remove(&span_id) else {
        return;
    };
    crate::annotations::count_finish_work(-1);
    // Datadog's names for the span's parts, as its OpenTelemetry mapping reads them.
    open.set_attribute(KeyValue::new("operation.name", parts.name.clone()));
    if let Some(resource) = &parts.resource {
        open.set_attribute(KeyValue::new("resource.name", resource.clone()));
    }
    let extra = parts.extra.as_deref();
    let span_type = (parts.span_type.get().map(Text::Borrowed))
        .or_else(|| extra.and_then(|e| e.span_type.clone()));
    if let Some(span_type) = span_type {
        open.set_attribute(KeyValue::new("span.type", span_type));
    }
    if let Some(service) = extra.and_then(|e| e.service.clone()) {
        open.set_attribute(KeyValue::new("service.name", service));
    }
    for (key, value) in extra.map(|e| e.tags.as_slice()).unwrap_or_default() {
        open.set_attribute(KeyValue::new(key.clone(), value.clone()));
    }
    for (key, value) in extra.map(|e| e.metrics.as_slice()).unwrap_or_default() {
        open.set_attribute(KeyValue::new(key.clone(), *value));
    }
    for link in extra.map(|e| e.links.as_slice()).unwrap_or_default() {
        let attributes = (link.attributes.iter())
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        open.add_link(otel_link_context(link), attributes);
    }
    for event in extra.map(|e| e.events.as_slice()).unwrap_or_default() {
        let attributes = (event.attributes.iter())
            .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
            .collect();
        let at = u64::try_from(event.time_unix_nanos).unwrap_or(0);
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(at);
        open.add_event_with_timestamp(event.name.clone(), at, attributes);
    }
    if extra.is_some_and(|e| e.error) {
        let message = extra
            .and_then(|e| e.tags.iter().find(|(k, _)| k == "error.message"))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        open.set_status(Status::error(message));
    }
    open.end_with_timestamp(SystemTime::now());
}

/// The OpenTelemetry span context a spanlog link points at.
fn otel_link_context(link: &crate::SpanLink) -> otel::SpanContext {
    let state = (link.tracestate.as_deref())
        .and_then(|state| state.parse::<TraceState>().ok())
        .unwrap_or_default();
    otel::SpanContext::new(
        otel::TraceId::from_bytes(link.trace_id.to_u128().to_be_bytes()),
        otel::SpanId::from_bytes(link.span_id.to_u64().to_be_bytes()),
        TraceFlags::new(link.flags.unwrap_or(0)),
        true,
        state,
    )
}
