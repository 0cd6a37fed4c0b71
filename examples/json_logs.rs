//! Datadog-ready JSON logs: the `web_request` scenario, one JSON object per line on
//! standard output, with `dd.trace_id`, `dd.span_id`, `dd.parent_id` and `dd.service`
//! as string attributes at the root of each object.
//!
//! ```text
//! {"dd.parent_id":"0","dd.service":"json_logs","dd.span_id":"...","dd.trace_id":"...","level":"INFO","message":"my log message","target":"json_logs","timestamp":...}
//! ```
//!
//! Run it with `cargo run --example json_logs --features json`.

use std::thread;
use std::time::Duration;

fn main() {
    spanlog::json::init();

    for request in 1..=3 {
        let _request = spanlog::start_span("web.request")
            .resource("/posts")
            .span_type("web")
            .entered();
        log::info!(request; "my log message");
        {
            let _query = spanlog::start_span("db.query")
                .resource("SELECT * FROM posts")
                .span_type("sql")
                .entered();
            log::info!("querying posts");
            thread::sleep(Duration::from_millis(2));
        }
    }
}
