//! Manual injection, as in Datadog's Go document: plain env_logger, no wrapper, and the
//! span's correlation fields formatted into the message with `span.log()`.
//!
//! ```text
//! [... INFO  manual_injection] my log message dd.service=manual_injection dd.trace_id="..." dd.span_id="..." dd.parent_id="0"
//! ```
//!
//! Run it with `cargo run --example manual_injection`.

fn main() {
    // Plain env_logger: `env_logger::init()`, but showing info lines when RUST_LOG is
    // unset (env_logger's own default shows only errors).
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();

    // Create a span for a web request at the /posts URL.
    let span = spanlog::start_span("web.request")
        .resource("/posts")
        .start();

    // Append span info to the log message.
    log::info!("my log message {}", span.log());

    // The span finishes when it goes out of scope.
}
