//! The Go tracer's log-correlation example, in Rust, with automatic injection.
//!
//! `spanlog::init()` installs env_logger (from `RUST_LOG`, `info` by default) wrapped in
//! spanlog's logger. Three simulated requests to `/posts` each open a `web.request`
//! span and a child `db.query` span; every line logged inside them ends with the
//! span's correlation fields:
//!
//! ```text
//! [... INFO  web_request] my log message dd.service=web_request dd.trace_id="..." dd.span_id="..." dd.parent_id="0"
//! [... INFO  web_request] querying posts dd.service=web_request dd.trace_id="..." dd.span_id="..." dd.parent_id="..."
//! ```
//!
//! Run it with `cargo run --example web_request`; set `DD_SERVICE`, `DD_ENV` and
//! `DD_VERSION` to see them in the lines.
//!
//! With `--features agent` it also sends the spans to the Datadog Agent at
//! `DD_TRACE_AGENT_URL` (default `http://localhost:8126`), so each `dd.trace_id` in the
//! log opens a trace in Datadog. It shuts the exporter down before exiting (statics are
//! never dropped, so that is the place to flush) and prints the exporter's counters on
//! standard error.

use std::thread;
use std::time::Duration;

fn main() {
    spanlog::init();
    #[cfg(feature = "agent")]
    let agent = spanlog::agent::init(spanlog::agent::AgentConfig::from_env());

    for _ in 0..3 {
        handle_request();
    }

    // Send what is queued before the process exits, waiting two seconds at most.
    #[cfg(feature = "agent")]
    {
        agent.shutdown(Duration::from_secs(2));
        eprintln!("{}", agent.stats());
    }
}

fn handle_request() {
    // Create a span for a web request at the /posts URL; it finishes when dropped.
    let _request = spanlog::start_span("web.request")
        .resource("/posts")
        .span_type("web")
        .entered();
    log::info!("my log message");
    query_posts();
}

fn query_posts() {
    let _query = spanlog::start_span("db.query")
        .resource("SELECT * FROM posts")
        .span_type("sql")
        .entered();
    log::info!("querying posts");
    thread::sleep(Duration::from_millis(2));
}
