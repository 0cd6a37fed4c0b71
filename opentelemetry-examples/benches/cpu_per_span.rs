//! Whole-process CPU per exported span with Datadog's Rust SDK, dd-trace-rs, beside
//! spanlog's agent exporter: the same harness as `benches/cpu_per_span.rs` (10-span
//! traces at a paced rate, `getrusage` over the whole process, a local sink in a
//! process of its own that answers `200 {}` at once), each stack in a process of its
//! own.
//!
//! `cargo bench -p spanlog-opentelemetry-examples --bench cpu_per_span [-- RATE SECONDS ROUNDS]`
//!
//! - `spanlog_agent`: spanlog spans (a root entered, nine children entered and
//!   finished), spanlog's agent exporter.
//! - `dd_trace_rs`: OpenTelemetry spans of dd-trace-rs's tracer provider (a root, nine
//!   children started and ended inside it), dd-trace-rs's span processor and exporter.

#[path = "../../tests/common/cpu_harness.rs"]
mod cpu_harness;
#[path = "../../tests/common/sink.rs"]
mod sink;

use std::hint::black_box;
use std::time::Duration;

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

const STACKS: [&str; 2] = ["spanlog_agent", "dd_trace_rs"];
const SPANS_PER_TRACE: u64 = 10;

fn main() {
    if sink::serve_if_sink_process() {
        return;
    }
    cpu_harness::main(&STACKS, run);
}

fn run(stack: &str, rate: u64, seconds: u64) {
    let sink_process = sink::SinkProcess::start(false);
    let sink = sink_process.address.clone();
    let mut make: Box<dyn FnMut()>;
    let flush: Box<dyn Fn()>;
    match stack {
        "spanlog_agent" => {
            let config = spanlog::agent::AgentConfig::new()
                .with_address(&sink)
                .unwrap()
                .with_queue_capacity(1_000_000);
            let agent = spanlog::agent::try_init(config).expect("the first exporter");
            make = Box::new(|| {
                let _root = spanlog::start_span("web.request")
                    .resource("/posts")
                    .entered();
                for _ in 1..SPANS_PER_TRACE {
                    let span = spanlog::start_span("db.query").entered();
                    black_box(&span);
                }
            });
            flush = Box::new(move || {
                assert!(agent.flush(Duration::from_secs(60)), "{}", agent.stats());
            });
        }
        "dd_trace_rs" => {
            let config = datadog_opentelemetry::configuration::Config::builder()
                .set_trace_agent_url(sink.clone())
                .build();
            let provider = datadog_opentelemetry::tracing().with_config(config).init();
            let tracer = provider.tracer("bench");
            make = Box::new(move || {
                tracer.in_span("web.request", |_cx| {
                    for _ in 1..SPANS_PER_TRACE {
                        let mut span = tracer.start("db.query");
                        span.end();
                        black_box(&span);
                    }
                });
            });
            flush = Box::new(move || {
                let _ = provider.force_flush();
            });
        }
        other => panic!("unknown stack {other}"),
    }
    let spans = cpu_harness::paced(stack, SPANS_PER_TRACE, rate, seconds, &mut make, &flush);
    // Give the last request time to land, then report what reached the sink.
    std::thread::sleep(Duration::from_millis(500));
    let received = sink_process.finish();
    eprintln!(
        "note: `{stack}` sent {} bytes to the sink ({} per span)",
        received,
        received / (spans + 1_000 * SPANS_PER_TRACE)
    );
}
