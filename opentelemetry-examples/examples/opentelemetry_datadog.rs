//! Datadog's Rust SDK (dd-trace-rs) as the tracer, spanlog as the logger: every `log`
//! line inside an OpenTelemetry span carries the ids dd-trace-rs sends to the Agent.
//!
//! ```text
//! cargo run -p spanlog-opentelemetry-examples --example opentelemetry_datadog
//! ```
//!
//! dd-trace-rs and spanlog both read `DD_SERVICE`, `DD_ENV` and `DD_VERSION`, so both
//! sides of the link name the same service; dd-trace-rs sends to the Agent at
//! `DD_TRACE_AGENT_URL` (default `http://localhost:8126`).

use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::global;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _};

fn main() {
    // dd-trace-rs: configured from the environment, installed as the global provider.
    let provider = datadog_opentelemetry::tracing().init();
    // Wrapped, so that lines know each span's parent (and OpenTelemetry spans can nest
    // in spanlog spans).
    spanlog::opentelemetry::set_tracer_provider(provider.clone());
    // env_logger from RUST_LOG (default `info`), with the correlation fields.
    spanlog::init();

    let tracer = global::tracer("blog");
    for _ in 0..3 {
        tracer.in_span("web.request", |cx| {
            // Datadog's names for the operation and the resource (dd-trace-rs maps them).
            cx.span()
                .set_attribute(KeyValue::new("operation.name", "web.request"));
            cx.span()
                .set_attribute(KeyValue::new("resource.name", "/posts"));
            log::info!("my log message");
            let mut query = tracer.start("db.query");
            query.set_attribute(KeyValue::new("operation.name", "db.query"));
            query.set_attribute(KeyValue::new("resource.name", "SELECT * FROM posts"));
            let _active = opentelemetry::Context::current_with_span(query).attach();
            log::info!("querying posts");
        });
    }

    if let Err(err) = provider.shutdown_with_timeout(Duration::from_secs(5)) {
        log::warn!("dd-trace-rs did not flush: {err}");
    }
}
