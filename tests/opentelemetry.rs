//! Correlation from OpenTelemetry spans: line bytes for OpenTelemetry contexts, the
//! tracer wrapper's parents, and nesting with spanlog spans both ways. Spans come from a
//! minimal tracer written against the OpenTelemetry API (no SDK): ids are chosen by the
//! test, parents follow the context they start in, as the SDK's do.

mod common;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use common::{Capture, field};
use log::info;
use opentelemetry::trace::{
    self as otel, SpanContext as OtelContext, Status, TraceContextExt, TraceFlags, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use spanlog::opentelemetry::CorrelatedTracerProvider;
use spanlog::{Config, LoggerBuilder, start_span};

/// Span ids 1, 2, 3, ... in start order; trace ids from the parent, or the next one.
#[derive(Debug, Default)]
struct TestProvider;

#[derive(Debug)]
struct TestTracer;

#[derive(Debug)]
struct TestSpan(OtelContext);

static NEXT: AtomicU64 = AtomicU64::new(0x1000);
const TRACE_HIGH: u128 = 0x6b04d2e8_00000000 << 64;

fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn local(trace: u128, span: u64, sampled: bool) -> OtelContext {
    OtelContext::new(
        otel::TraceId::from_bytes(trace.to_be_bytes()),
        otel::SpanId::from_bytes(span.to_be_bytes()),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::NOT_SAMPLED
        },
        false,
        TraceState::default(),
    )
}

impl otel::TracerProvider for TestProvider {
    type Tracer = TestTracer;
    fn tracer_with_scope(&self, _: InstrumentationScope) -> TestTracer {
        TestTracer
    }
}

impl otel::Tracer for TestTracer {
    type Span = TestSpan;
    fn build_with_context(&self, _: otel::SpanBuilder, parent: &Context) -> TestSpan {
        let p = parent.span().span_context().clone();
        let span = next();
        if p.is_valid() {
            TestSpan(OtelContext::new(
                p.trace_id(),
                otel::SpanId::from_bytes(span.to_be_bytes()),
                p.trace_flags(),
                false,
                p.trace_state().clone(),
            ))
        } else {
            TestSpan(local(TRACE_HIGH | u128::from(next()), span, true))
        }
    }
}

impl otel::Span for TestSpan {
    fn add_event_with_timestamp<T: Into<Cow<'static, str>>>(
        &mut self,
        _: T,
        _: SystemTime,
        _: Vec<KeyValue>,
    ) {
    }
    fn span_context(&self) -> &OtelContext {
        &self.0
    }
    fn is_recording(&self) -> bool {
        true
    }
    fn set_attribute(&mut self, _: KeyValue) {}
    fn set_status(&mut self, _: Status) {}
    fn update_name<T: Into<Cow<'static, str>>>(&mut self, _: T) {}
    fn add_link(&mut self, _: OtelContext, _: Vec<KeyValue>) {}
    fn end_with_timestamp(&mut self, _: SystemTime) {}
}

fn logger(config: Config) -> spanlog::CorrelatingLogger<Capture> {
    LoggerBuilder::new().config(config).wrap(Capture::new())
}

fn ids(line: &str) -> (String, String, String) {
    (
        field(line, "dd.trace_id").to_owned(),
        field(line, "dd.span_id").to_owned(),
        field(line, "dd.parent_id").to_owned(),
    )
}

fn with_span<R>(context: OtelContext, f: impl FnOnce() -> R) -> R {
    // Spans made here are not made through spanlog's wrapper: say they exist.
    spanlog::opentelemetry::look_up_active_spans();
    let _guard = Context::current_with_span(TestSpan(context)).attach();
    f()
}

#[test]
fn line_bytes_for_128_bit_ids_with_and_without_upper_bits() {
    let wide = logger(Config::new().with_service("blog"));
    let narrow = logger(Config::new().with_trace_id_128_logging(false));
    let trace = 0x6b04d2e800000000e6a5cefc6c3cef4e_u128;
    with_span(local(trace, 10582933694091117294, true), || {
        info!(logger: &wide, "my log message");
        info!(logger: &narrow, "my log message");
    });
    assert_eq!(
        wide.inner().take(),
        [
            r#"INFO my log message dd.service=blog dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0""#
        ]
    );
    assert_eq!(
        narrow.inner().take(),
        [
            r#"INFO my log message dd.trace_id="16619917583423696718" dd.span_id="10582933694091117294" dd.parent_id="0""#
        ]
    );
    // No upper bits: decimal, whatever the switch says.
    with_span(local(0xe6a5cefc6c3cef4e, 7, true), || {
        info!(logger: &wide, "my log message");
    });
    assert_eq!(
        wide.inner().take(),
        [
            r#"INFO my log message dd.service=blog dd.trace_id="16619917583423696718" dd.span_id="7" dd.parent_id="0""#
        ]
    );
}

#[test]
fn an_invalid_context_adds_nothing() {
    let logger = logger(Config::new());
    let invalid = OtelContext::empty_context();
    with_span(invalid, || info!(logger: &logger, "no span"));
    info!(logger: &logger, "no context");
    assert_eq!(logger.inner().take(), ["INFO no span", "INFO no context"]);
    assert!(spanlog::current().is_none());
}

#[test]
fn an_unsampled_span_still_correlates() {
    let logger = logger(Config::new());
    with_span(local(5, 6, false), || info!(logger: &logger, "m"));
    assert_eq!(
        ids(&logger.inner().take()[0]),
        ("5".into(), "6".into(), "0".into())
    );
}

#[test]
fn a_remote_context_gives_the_callers_ids_and_no_parent() {
    let logger = logger(Config::new());
    let remote = OtelContext::new(
        otel::TraceId::from_bytes(11_u128.to_be_bytes()),
        otel::SpanId::from_bytes(12_u64.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    spanlog::opentelemetry::look_up_active_spans();
    let _guard = Context::new().with_remote_span_context(remote).attach();
    info!(logger: &logger, "m");
    assert_eq!(
        ids(&logger.inner().take()[0]),
        ("11".into(), "12".into(), "0".into())
    );
    let current = spanlog::current().expect("the remote context");
    assert_eq!(current.span_id().to_u64(), 12);
    assert_eq!(current.parent_id().to_u64(), 0);
}

#[test]
fn the_wrapper_records_parents_for_log_lines() {
    let logger = logger(Config::new());
    let tracer = CorrelatedTracerProvider::new(TestProvider).tracer("test");
    let (root, child) = tracer.in_span("web.request", |cx| {
        info!(logger: &logger, "my log message");
        let root = cx.span().span_context().span_id();
        let child = tracer.in_span("db.query", |cx| {
            info!(logger: &logger, "querying posts");
            cx.span().span_context().span_id()
        });
        (root, child)
    });
    let lines = logger.inner().take();
    let root = u64::from_be_bytes(root.to_bytes()).to_string();
    let child = u64::from_be_bytes(child.to_bytes()).to_string();
    assert_eq!(ids(&lines[0]).1, root);
    assert_eq!(ids(&lines[0]).2, "0");
    assert_eq!(ids(&lines[1]).1, child);
    assert_eq!(ids(&lines[1]).2, root);
    assert_eq!(ids(&lines[0]).0, ids(&lines[1]).0);
}

#[test]
fn a_spanlog_span_inside_an_otel_span_is_its_child_and_the_current_one() {
    let logger = logger(Config::new());
    let state = TraceState::from_key_value([("dd", "s:2;o:rum"), ("other", "x")]).unwrap();
    let otel_span = OtelContext::new(
        otel::TraceId::from_bytes((TRACE_HIGH | 99).to_be_bytes()),
        otel::SpanId::from_bytes(100_u64.to_be_bytes()),
        TraceFlags::SAMPLED,
        false,
        state,
    );
    with_span(otel_span, || {
        let span = start_span("db.query").entered();
        assert_eq!(span.trace_id().to_u128(), TRACE_HIGH | 99);
        assert_eq!(span.parent_id().to_u64(), 100);
        assert_eq!(span.context().sampling_priority(), 2);
        assert_eq!(span.context().origin(), Some("rum"));
        info!(logger: &logger, "inside");
        assert_eq!(
            spanlog::current().map(|c| c.span_id()),
            Some(span.span_id())
        );
        // Injected onward with the trace state carried.
        let mut headers = std::collections::HashMap::new();
        spanlog::propagation::inject(span.context(), &mut headers);
        assert!(headers["tracestate"].contains("other=x"), "{headers:?}");
        assert_eq!(headers["x-datadog-sampling-priority"], "2");
        drop(span);
        info!(logger: &logger, "after");
    });
    let lines = logger.inner().take();
    assert_eq!(ids(&lines[0]).2, "100");
    assert_eq!(ids(&lines[1]).1, "100");
}

#[test]
fn an_otel_span_inside_a_spanlog_span_is_its_child_and_the_innermost() {
    let logger = logger(Config::new());
    let tracer = CorrelatedTracerProvider::new(TestProvider).tracer("test");
    let request = start_span("web.request").entered();
    let (otel_span, inner_spanlog) = tracer.in_span("db.query", |cx| {
        let sc = cx.span().span_context().clone();
        assert_eq!(
            u128::from_be_bytes(sc.trace_id().to_bytes()),
            request.trace_id().to_u128()
        );
        info!(logger: &logger, "in otel");
        // And a spanlog span inside that OTel span is its child again.
        let inner = start_span("cache.get").entered();
        info!(logger: &logger, "in spanlog");
        (sc, inner.context().clone())
    });
    info!(logger: &logger, "back in request");
    let otel_id = u64::from_be_bytes(otel_span.span_id().to_bytes());
    assert_eq!(inner_spanlog.parent_id().to_u64(), otel_id);
    let lines = logger.inner().take();
    assert_eq!(
        ids(&lines[0]),
        (
            format!("{:032x}", request.trace_id().to_u128()),
            otel_id.to_string(),
            request.span_id().to_string()
        )
    );
    assert_eq!(ids(&lines[1]).1, inner_spanlog.span_id().to_string());
    assert_eq!(ids(&lines[1]).2, otel_id.to_string());
    assert_eq!(ids(&lines[2]).1, request.span_id().to_string());
}

#[test]
fn an_explicit_parent_context_is_honoured_inside_a_spanlog_span() {
    let tracer = CorrelatedTracerProvider::new(TestProvider).tracer("test");
    let _request = start_span("web.request").entered();
    let other = Context::new().with_remote_span_context(local(77, 78, true));
    let span = tracer.start_with_context("elsewhere", &other);
    assert_eq!(
        u128::from_be_bytes(otel::Span::span_context(&span).trace_id().to_bytes()),
        77
    );
}

#[test]
fn threads_and_bind_carry_the_otel_context() {
    let logger = std::sync::Arc::new(logger(Config::new()));
    with_span(local(41, 42, true), || {
        let logger = logger.clone();
        std::thread::spawn(spanlog::bind(move || info!(logger: &*logger, "worker")))
            .join()
            .unwrap();
    });
    assert_eq!(ids(&logger.inner().take()[0]).1, "42");
}
