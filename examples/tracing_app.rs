//! A service instrumented with `tracing`, its spans mirrored as spanlog spans and its
//! lines carrying their Datadog ids.
//!
//! `spanlog::tracing::init()` installs a registry with spanlog's layer and a `fmt` layer
//! whose lines end with the correlation fields, filtered by `RUST_LOG` (`info` by
//! default), and bridges `log` records into `tracing`. Three requests each open a
//! `web.request` span (through `#[tracing::instrument]`) and a child `db.query` span,
//! in which a library logs with the `log` crate:
//!
//! ```text
//! ... INFO web.request: tracing_app: my log message dd.service=tracing_app dd.trace_id="..." dd.span_id="..." dd.parent_id="0"
//! ... INFO web.request:db.query: tracing_app: querying posts dd.service=tracing_app dd.trace_id="..." dd.span_id="..." dd.parent_id="..."
//! ```
//!
//! Run it with `cargo run --example tracing_app --features tracing`. With
//! `--features tracing,agent` it also sends the spans to the Datadog Agent at
//! `DD_TRACE_AGENT_URL` (default `http://localhost:8126`) and prints the exporter's
//! counters on standard error before exiting.

use std::time::Duration;

fn main() {
    spanlog::tracing::init();
    #[cfg(feature = "agent")]
    let agent = spanlog::agent::init(spanlog::agent::AgentConfig::from_env());

    for _ in 0..3 {
        handle_request();
    }

    #[cfg(feature = "agent")]
    {
        agent.shutdown(Duration::from_secs(2));
        eprintln!("{}", agent.stats());
    }
}

#[tracing::instrument(name = "web.request", fields(resource.name = "/posts", span.type = "web"))]
fn handle_request() {
    tracing::info!("my log message");
    query_posts();
}

#[tracing::instrument(name = "db.query", fields(resource.name = "SELECT * FROM posts", span.type = "sql"))]
fn query_posts() {
    // A library that logs with the `log` crate: bridged into tracing, same fields.
    log::info!("querying posts");
    std::thread::sleep(Duration::from_millis(2));
}
