//! The `opentelemetry` feature costs nothing until spanlog knows OpenTelemetry spans can
//! exist: an active OpenTelemetry span is not looked for before a
//! `CorrelatedTracerProvider` is made or `look_up_active_spans` is called, and is
//! after. The switch is process-wide, hence a binary of its own, in order.

mod common;

use log::info;
use opentelemetry::Context;
use opentelemetry::trace::{
    SpanContext as OtelContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use spanlog::{Config, LoggerBuilder};

use common::{Capture, field};

fn remote(span: u64) -> OtelContext {
    OtelContext::new(
        TraceId::from_bytes(0xabc_u128.to_be_bytes()),
        SpanId::from_bytes(span.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    )
}

fn main() {
    let logger = LoggerBuilder::new()
        .config(Config::new())
        .wrap(Capture::new());
    let attached = Context::new().with_remote_span_context(remote(12)).attach();

    // Off: the active OpenTelemetry span is not seen, by lines, current() or new spans.
    info!(logger: &logger, "before");
    let line = logger.inner().take().remove(0);
    assert!(!line.contains("dd.span_id"), "{line}");
    assert!(spanlog::current().is_none());
    let root = spanlog::start_span("work").start();
    assert_ne!(root.trace_id().to_u128(), 0xabc, "a new trace, not a child");
    drop(root);

    // Making the wrapper turns the look-up on.
    let _provider = spanlog::opentelemetry::CorrelatedTracerProvider::new(
        opentelemetry::trace::noop::NoopTracerProvider::new(),
    );
    info!(logger: &logger, "after");
    let line = logger.inner().take().remove(0);
    assert_eq!(field(&line, "dd.span_id"), "12", "{line}");
    let child = spanlog::start_span("work").start();
    assert_eq!(child.trace_id().to_u128(), 0xabc);
    assert_eq!(child.parent_id().to_u64(), 12);
    drop(child);
    drop(attached);

    // The explicit switch, once on, stays on (and says so again harmlessly).
    spanlog::opentelemetry::look_up_active_spans();
    let _attached = Context::new().with_remote_span_context(remote(13)).attach();
    assert_eq!(spanlog::current().map(|c| c.span_id().to_u64()), Some(13));
    println!("opentelemetry_gate: ok");
}
