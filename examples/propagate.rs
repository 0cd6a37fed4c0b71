//! Continue a trace across services.
//!
//! Reads HTTP-style header lines (`name: value`) from standard input, extracts the trace
//! context (Datadog or W3C headers), starts a child span `web.request`, logs
//! `handled request` through spanlog's logger (standard error), and prints the headers
//! it would send downstream, one `name: value` per line, on standard output. With no
//! valid context in, it starts a new trace.
//!
//! ```sh
//! printf 'traceparent: 00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01\n' \
//!     | cargo run --example propagate
//! ```

use std::io::BufRead;

use spanlog::propagation;

fn main() {
    spanlog::init();

    let mut incoming: Vec<(String, String)> = Vec::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if let Some((name, value)) = line.split_once(':') {
            incoming.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }

    let mut span = spanlog::start_span("web.request")
        .resource("/posts")
        .span_type("web");
    match propagation::extract(&incoming) {
        Some(remote) => span = span.child_of(remote),
        None => span = span.root(),
    }
    let span = span.entered();
    log::info!("handled request");

    let mut outgoing: Vec<(String, String)> = Vec::new();
    propagation::inject(span.context(), &mut outgoing);
    for (name, value) in outgoing {
        println!("{name}: {value}");
    }
}
