//! spanlog's `tracing` integration beside the registry alone and tracing-opentelemetry.
//!
//! `cargo bench -p spanlog-benches --bench tracing`
//!
//! - `tracing_span_lifecycle`: `info_span!` + `enter()` + exit + close of a child span
//!   under an entered root.
//!   - `registry`: a registry alone, the floor every layer builds on.
//!   - `registry_spanlog`: plus `SpanlogLayer` (each span mirrored with Datadog ids,
//!     current on spanlog's stack while entered); no exporter installed.
//!   - `registry_otel`: plus tracing-opentelemetry over an OpenTelemetry SDK tracer with a
//!     simple processor and an exporter that discards.
//! - `tracing_event`: `info!("request {}", i)` inside an entered span, formatted by
//!   `fmt` (no time, no ANSI) into `io::sink`.
//!   - `fmt`: the registry and fmt alone (no ids).
//!   - `fmt_spanlog`: plus `SpanlogLayer`, with `CorrelatedWriter`: each line gets the
//!     span's `dd.*` fields.
//!   - `fmt_otel`: plus tracing-opentelemetry as above, ids not printed (fmt cannot):
//!     what carrying OpenTelemetry ids costs before printing them at all.

mod common;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tracing_subscriber::layer::SubscriberExt;

/// A child span under an entered root, as most spans in a service are (a root span also
/// reads the wall clock, for its 128-bit trace id: about 35 ns with spanlog's layer).
fn lifecycle(b: &mut criterion::Bencher<'_>) {
    let root = tracing::info_span!("request");
    let _root = root.enter();
    b.iter(|| {
        let span = tracing::info_span!("work");
        let entered = span.enter();
        black_box(&entered);
    })
}

fn tracing_span_lifecycle(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracing_span_lifecycle");
    group.bench_function("registry", |b| {
        tracing::subscriber::with_default(tracing_subscriber::registry(), || lifecycle(b))
    });
    group.bench_function("registry_spanlog", |b| {
        let subscriber = tracing_subscriber::registry().with(spanlog::tracing::SpanlogLayer::new());
        tracing::subscriber::with_default(subscriber, || lifecycle(b))
    });
    group.bench_function("registry_otel", |b| {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(common::otel_tracer()));
        tracing::subscriber::with_default(subscriber, || lifecycle(b))
    });
    group.finish();
}

fn event(b: &mut criterion::Bencher<'_>) {
    let span = tracing::info_span!("web.request");
    let _entered = span.enter();
    let mut i = 0u64;
    b.iter(|| {
        i += 1;
        tracing::info!("request {}", i);
    })
}

fn tracing_event(c: &mut Criterion) {
    macro_rules! fmt {
        () => {
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_ansi(false)
        };
    }
    let mut group = c.benchmark_group("tracing_event");
    group.bench_function("fmt", |b| {
        let subscriber = tracing_subscriber::registry().with(fmt!().with_writer(std::io::sink));
        tracing::subscriber::with_default(subscriber, || event(b))
    });
    group.bench_function("fmt_spanlog", |b| {
        let subscriber = tracing_subscriber::registry()
            .with(spanlog::tracing::SpanlogLayer::new())
            .with(fmt!().with_writer(spanlog::tracing::CorrelatedWriter::text(std::io::sink)));
        tracing::subscriber::with_default(subscriber, || event(b))
    });
    group.bench_function("fmt_otel", |b| {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(common::otel_tracer()))
            .with(fmt!().with_writer(std::io::sink));
        tracing::subscriber::with_default(subscriber, || event(b))
    });
    group.finish();
}

criterion_group!(benches, tracing_span_lifecycle, tracing_event);
criterion_main!(benches);
