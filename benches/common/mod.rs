//! The stacks the benchmarks compare, shared by `peers.rs` (criterion, wall clock) and
//! `instructions.rs` (run under callgrind, instruction counts).
#![allow(dead_code)]

use std::cell::RefCell;
use std::fmt::Write as _;
use std::hint::black_box;

use log::{Log, Metadata, Record};

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
}

/// The last line written on this thread.
pub(crate) fn last_line() -> String {
    LINE.with(|line| line.borrow().clone())
}

/// Writes one formatted line into the thread's buffer and returns its length.
fn write_line(f: impl FnOnce(&mut String)) -> usize {
    LINE.with(|line| {
        let mut line = line.borrow_mut();
        line.clear();
        f(&mut line);
        line.len()
    })
}

/// The floor: the inner logger every `log` stack here ends in.
pub(crate) struct BufferLogger;

impl Log for BufferLogger {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        black_box(write_line(|line| {
            let _ = write!(
                line,
                "[{} {}] {}",
                record.level(),
                record.target(),
                record.args()
            );
            struct Pairs<'a>(&'a mut String);
            impl<'kvs> log::kv::VisitSource<'kvs> for Pairs<'_> {
                fn visit_pair(
                    &mut self,
                    key: log::kv::Key<'kvs>,
                    value: log::kv::Value<'kvs>,
                ) -> Result<(), log::kv::Error> {
                    let _ = write!(self.0, " {key}={value}");
                    Ok(())
                }
            }
            let _ = record.key_values().visit(&mut Pairs(line));
        }));
    }

    fn flush(&self) {}
}

pub(crate) fn spanlog_logger(
    fields: spanlog::LogFields,
) -> spanlog::CorrelatingLogger<BufferLogger> {
    spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .fields(fields)
        .wrap(BufferLogger)
}

/// logforth's appender with the same formatting as `BufferLogger`; the fastrace
/// diagnostic's pairs (trace_id, span_id, sampled) are written as ` key=value`.
#[derive(Debug)]
pub(crate) struct BufferAppend;

impl logforth::Append for BufferAppend {
    fn append(
        &self,
        record: &logforth::record::Record<'_>,
        diags: &[Box<dyn logforth::Diagnostic>],
    ) -> Result<(), logforth::Error> {
        struct Pairs<'a>(&'a mut String);
        impl logforth::kv::Visitor for Pairs<'_> {
            fn visit(
                &mut self,
                key: logforth::kv::Key<'_>,
                value: logforth::kv::Value<'_>,
            ) -> Result<(), logforth::Error> {
                let _ = write!(self.0, " {key}={value}");
                Ok(())
            }
        }
        black_box(write_line(|line| {
            let _ = write!(
                line,
                "[{} {}] {}",
                record.level(),
                record.target(),
                record.payload()
            );
            for diag in diags {
                let _ = diag.visit(&mut Pairs(line));
            }
        }));
        Ok(())
    }

    fn flush(&self) -> Result<(), logforth::Error> {
        Ok(())
    }
}

/// Discards what fastrace collects.
pub(crate) struct NoReport;

impl fastrace::collector::Reporter for NoReport {
    fn report(&mut self, spans: Vec<fastrace::collector::SpanRecord>) {
        black_box(spans);
    }
}

/// tracing's fmt layer writing to a sink, with tracing-log's bridge as a logger value.
pub(crate) fn tracing_stack() -> (tracing::subscriber::DefaultGuard, tracing_log::LogTracer) {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .without_time()
            .with_ansi(false)
            .with_writer(std::io::sink),
    );
    (
        tracing::subscriber::set_default(subscriber),
        tracing_log::LogTracer::new(),
    )
}

/// The tracing span that carries the same ids spanlog prints.
pub(crate) fn tracing_span() -> tracing::Span {
    tracing::info_span!(
        "web.request",
        trace_id = %"6b04d2e800000000e6a5cefc6c3cef4e",
        span_id = 10582933694091117294u64
    )
}

/// logforth with its fastrace diagnostic and `BufferAppend`, as a `log::Log` value.
pub(crate) fn logforth_stack() -> logforth::bridge::log::OwnedLogProxy {
    let logger = logforth::core::builder()
        .dispatch(|d| {
            d.diagnostic(logforth::diagnostic::FastraceDiagnostic::default())
                .append(BufferAppend)
        })
        .build();
    logforth::bridge::log::OwnedLogProxy::new(logger)
}

/// A fastrace root span, to put local spans under.
pub(crate) fn fastrace_root() -> fastrace::Span {
    fastrace::Span::root("root", fastrace::collector::SpanContext::random())
}

/// Start, enter, exit and finish one spanlog span under an entered root, like
/// fastrace's `LocalSpan` under its root.
pub(crate) fn spanlog_child_lifecycle(b: &mut criterion::Bencher<'_>) {
    let _root = spanlog::start_span("root").entered();
    b.iter(|| {
        let span = spanlog::start_span("work").entered();
        black_box(&span);
    })
}

/// One trace of `spans` spans: a `web.request` root and its `db.query` children, each
/// entered and finished.
pub(crate) fn spanlog_trace(spans: u64) {
    let _root = spanlog::start_span("web.request")
        .resource("/posts")
        .entered();
    for _ in 1..spans {
        let span = spanlog::start_span("db.query").entered();
        black_box(&span);
    }
}

/// `info_span!` + `enter()` with a registry subscriber (the span store every tracing
/// layer builds on).
pub(crate) fn tracing_lifecycle(b: &mut criterion::Bencher<'_>) {
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry());
    b.iter(|| {
        let span = tracing::info_span!("work");
        let entered = span.enter();
        black_box(&entered);
    })
}

/// A `LocalSpan` under a root, as fastrace recommends for hot paths. Timed in batches
/// of 1,000 under one root (fastrace keeps up to 10,240 local spans per root); the
/// root's creation and submission are left out of the time, in fastrace's favour.
pub(crate) fn fastrace_lifecycle(b: &mut criterion::Bencher<'_>) {
    b.iter_custom(|iters| {
        let mut elapsed = std::time::Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let batch = left.min(1000);
            left -= batch;
            let root = fastrace_root();
            let parent = root.set_local_parent();
            let start = std::time::Instant::now();
            for _ in 0..batch {
                let span = fastrace::local::LocalSpan::enter_with_local_parent("work");
                black_box(&span);
            }
            elapsed += start.elapsed();
            drop(parent);
            drop(root);
        }
        elapsed
    })
}

/// Installs a reporter that discards spans, so fastrace collects as in production.
pub(crate) fn fastrace_setup() {
    fastrace::set_reporter(NoReport, fastrace::collector::Config::default());
}

/// Installs an exporter that drops every span: what spanlog costs with export on, the
/// exporter's own work left out.
pub(crate) fn noop_exporter() {
    struct Discard;
    impl spanlog::export::Exporter for Discard {
        fn export(&self, span: spanlog::export::FinishedSpan) {
            black_box(span);
        }
    }
    let _ = spanlog::export::try_init(Discard);
}

#[allow(dead_code)] // for the benches that use it
pub(crate) mod http;

#[path = "../../tests/common/sink.rs"]
mod sink_server;
pub(crate) use sink_server::sink;
#[allow(unused_imports)] // for the benches that use them
pub(crate) use sink_server::{SinkProcess, TAKES_STATS, serve_if_sink_process, sink_uds};

/// The agent exporter, installed, sending to a local [`sink`].
pub(crate) fn agent_to_sink() -> spanlog::agent::Agent {
    let config = spanlog::agent::AgentConfig::new()
        .with_address(&sink())
        .expect("a valid address")
        .with_queue_capacity(100_000);
    spanlog::agent::try_init(config).expect("the first exporter")
}

/// Starts a span of `provider`'s tracer and makes it active until the guard drops.
pub(crate) fn otel_span<P>(provider: &P) -> opentelemetry::ContextGuard
where
    P: opentelemetry::trace::TracerProvider,
    <P::Tracer as opentelemetry::trace::Tracer>::Span: Send + Sync + 'static,
{
    use opentelemetry::trace::{TraceContextExt, Tracer};
    let span = provider.tracer("bench").start("web.request");
    opentelemetry::Context::current_with_span(span).attach()
}

/// An OpenTelemetry log exporter that drops every batch.
#[derive(Debug)]
pub(crate) struct NoopLogExporter;

impl opentelemetry_sdk::logs::LogExporter for NoopLogExporter {
    async fn export(
        &self,
        _batch: opentelemetry_sdk::logs::LogBatch<'_>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

/// An OpenTelemetry span exporter that drops every batch.
#[derive(Debug)]
pub(crate) struct DiscardSpans;

impl opentelemetry_sdk::trace::SpanExporter for DiscardSpans {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        std::hint::black_box(batch);
        Ok(())
    }
}

/// The SDK's tracer with a simple processor and an exporter that discards: export on,
/// nothing shipped.
pub(crate) fn otel_tracer() -> opentelemetry_sdk::trace::Tracer {
    use opentelemetry::trace::TracerProvider as _;
    opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(DiscardSpans)
        .build()
        .tracer("bench")
}

/// An error with one cause, as an ERROR line that reports one carries it.
#[derive(Debug)]
pub(crate) struct LoadError(std::io::Error);

impl LoadError {
    pub(crate) fn new() -> Self {
        LoadError(std::io::Error::other("connection refused"))
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not load posts")
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}
