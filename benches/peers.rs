//! spanlog against the libraries a user would pick instead, side by side in one run.
//!
//! `cargo bench -p spanlog-benches --bench peers`
//!
//! Every `log_call` stack ends in the same kind of sink: a logger that formats
//! `[LEVEL target] message` plus any key-values or diagnostics as ` key=value` into a
//! reused thread-local buffer, with no I/O. The message is the same everywhere:
//! `info!("request {}", i)`. spanlog's benches use an empty service/env/version, so
//! that, like the peers, it adds only the ids (trace id, span id, and parent id).

mod common;

use std::hint::black_box;

use common::{BufferLogger, spanlog_logger};
use criterion::{Criterion, criterion_group, criterion_main};
use log::info;

fn log_call(c: &mut Criterion) {
    log::set_max_level(log::LevelFilter::Trace);
    let mut group = c.benchmark_group("log_call");

    let inner = BufferLogger;
    group.bench_function("inner_only", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &inner, "request {}", i);
        })
    });

    let text = spanlog_logger(spanlog::LogFields::Text);
    group.bench_function("spanlog_no_span", |b| {
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &text, "request {}", i);
        })
    });

    group.bench_function("spanlog_span", |b| {
        let _span = spanlog::start_span("web.request").entered();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &text, "request {}", i);
        })
    });

    group.bench_function("spanlog_span_depth8", |b| {
        let _spans: Vec<_> = (0..8)
            .map(|_| spanlog::start_span("level").entered())
            .collect();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &text, "request {}", i);
        })
    });

    let kv = spanlog_logger(spanlog::LogFields::KeyValues);
    group.bench_function("spanlog_kv", |b| {
        let _span = spanlog::start_span("web.request").entered();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &kv, "request {}", i);
        })
    });

    // tracing: the `log` record goes through tracing-log's LogTracer (as a value, the
    // global logger slot stays free) into a fmt layer that formats the line into its
    // reused thread-local buffer and writes it to `io::sink`. The span carries the ids
    // as fields, which the fmt layer prints with the line, as spanlog does.
    group.bench_function("tracing_fmt_span", |b| {
        let (_default, bridge) = common::tracing_stack();
        let span = common::tracing_span();
        let _entered = span.enter();
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &bridge, "request {}", i);
        })
    });

    // logforth with its fastrace diagnostic, inside a fastrace local span under a root.
    group.bench_function("logforth_fastrace", |b| {
        let bridge = common::logforth_stack();
        let root = common::fastrace_root();
        let _parent = root.set_local_parent();
        let _local = fastrace::local::LocalSpan::enter_with_local_parent("web.request");
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &bridge, "request {}", i);
        })
    });

    // OpenTelemetry: a span of the SDK's tracer (no exporter), started through spanlog's
    // wrapper and active for the whole run; the line goes through spanlog into the same
    // sink. Compare with `spanlog_span`: the difference is the OpenTelemetry lookup.
    let provider = spanlog::opentelemetry::CorrelatedTracerProvider::new(
        opentelemetry_sdk::trace::SdkTracerProvider::builder().build(),
    );
    group.bench_function("otel_span", |b| {
        let _active = common::otel_span(&provider);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &text, "request {}", i);
        })
    });

    // For the record, the path dd-trace-rs documents for logs today:
    // opentelemetry-appender-log into the SDK's logger provider with a simple processor
    // and a no-op exporter, in the same span. It builds an OpenTelemetry log record
    // (with the span's ids) and formats nothing.
    group.bench_function("otel_appender_log", |b| {
        let logs = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
            .with_simple_exporter(common::NoopLogExporter)
            .build();
        let bridge = opentelemetry_appender_log::OpenTelemetryLogBridge::new(&logs);
        let _active = common::otel_span(&provider);
        let mut i = 0u64;
        b.iter(|| {
            i += 1;
            info!(logger: &bridge, "request {}", i);
        })
    });

    group.finish();
}

fn span_lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_lifecycle");

    // Start, enter, exit and finish one span under an entered root, like fastrace's
    // LocalSpan below; no exporter installed, so no clock is read.
    group.bench_function("spanlog", common::spanlog_child_lifecycle);

    // The same for a root span: a new 128-bit trace id reads the wall clock once.
    group.bench_function("spanlog_root", |b| {
        b.iter(|| {
            let span = spanlog::start_span("work").entered();
            black_box(&span);
        })
    });

    // A LocalSpan under a root, as fastrace recommends for hot paths. Timed in batches
    // of 1,000 under one root (fastrace keeps up to 10,240 local spans per root); the
    // root's creation and submission are left out of the time, in fastrace's favour.
    group.bench_function("fastrace", common::fastrace_lifecycle);

    // tracing with a registry subscriber (the span store every tracing layer builds on).
    group.bench_function("tracing", common::tracing_lifecycle);

    group.finish();
}

fn ids(c: &mut Criterion) {
    let mut group = c.benchmark_group("ids");
    group.bench_function("trace_id", |b| {
        b.iter(|| spanlog::TraceId::random_with(true))
    });
    group.bench_function("span_id", |b| b.iter(spanlog::SpanId::random));
    group.bench_function("fastrace_trace_id", |b| {
        b.iter(fastrace::collector::TraceId::random)
    });
    group.bench_function("fastrace_span_id", |b| {
        b.iter(fastrace::collector::SpanId::random)
    });
    group.finish();
}

fn setup(c: &mut Criterion) {
    common::fastrace_setup();
    let _ = c;
}

criterion_group!(benches, setup, log_call, span_lifecycle, ids);
criterion_main!(benches);
