//! Per-request overhead of HTTP server middleware on an in-process tower service (no
//! sockets): one request through the stack, response body drained, side by side.
//!
//! `cargo bench -p spanlog-benches --bench http`
//!
//! The service answers `200 ok` at once. Every request carries a `traceparent`, a
//! `user-agent` and a `host` header.
//!
//! - `no_layer`: the service alone (the floor): build the request, call, drain the body.
//! - `spanlog_no_export`: `spanlog::tower::ServerLayer` before any exporter is
//!   installed: extraction of the caller's context, the span with its HTTP tags and
//!   resource, current during the call, finished when the body ends; no clock read and
//!   nothing handed over at the end (what `tower_http` over a bare registry compares
//!   with: it exports nothing either). It runs first: an exporter cannot be removed.
//! - `spanlog`: the same with a no-op exporter installed (export on, nothing shipped):
//!   two clock readings and the finished span built and handed over.
//! - `tower_http`: tower-http's `TraceLayer::new_for_http()` with a tracing registry as
//!   the thread's subscriber (its default span and `on_request`/`on_response` events,
//!   recorded by the registry; no export step, no propagation).
//! - `tower_http_otel`: the same plus tracing-opentelemetry over the OpenTelemetry SDK's
//!   tracer (simple processor, an exporter that discards): what exporting the spans of
//!   tower-http's layer costs. Still no propagation (tower-http does not extract).

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use tower::Layer;

use common::http::{Ok200, serve};

fn http_server(c: &mut Criterion) {
    let mut group = c.benchmark_group("http_server");

    let mut bare = Ok200;
    group.bench_function("no_layer", |b| b.iter(|| serve(&mut bare)));

    let mut spanlog = spanlog::tower::ServerLayer::new().layer(Ok200);
    group.bench_function("spanlog_no_export", |b| b.iter(|| serve(&mut spanlog)));

    common::noop_exporter();
    group.bench_function("spanlog", |b| b.iter(|| serve(&mut spanlog)));

    let mut tower_http = tower_http::trace::TraceLayer::new_for_http().layer(Ok200);
    group.bench_function("tower_http", |b| {
        let _registry = tracing::subscriber::set_default(tracing_subscriber::registry());
        b.iter(|| serve(&mut tower_http))
    });

    let mut tower_http_otel = tower_http::trace::TraceLayer::new_for_http().layer(Ok200);
    group.bench_function("tower_http_otel", |b| {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(common::otel_tracer()));
        let _registry = tracing::subscriber::set_default(subscriber);
        b.iter(|| serve(&mut tower_http_otel))
    });

    group.finish();
}

criterion_group!(benches, http_server);
criterion_main!(benches);
