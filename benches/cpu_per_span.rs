//! Whole-process CPU per exported span, at a paced rate: everything the process spends
//! (the application's thread making spans, and the exporter's thread or collector
//! grouping, encoding and sending them) divided by the spans made. Measured with
//! `getrusage`, each stack in a process of its own (a process has one exporter).
//!
//! `cargo bench -p spanlog-benches --no-default-features --bench cpu_per_span [-- RATE
//! SECONDS ROUNDS]`
//!
//! `--no-default-features` builds spanlog as a service that exports to the agent
//! deploys it: `agent` without `opentelemetry` (the other features the bench crate
//! turns on do not touch a span's path). (The bench crate's default turns
//! spanlog's `opentelemetry` feature on for the peers' OpenTelemetry rows; every span
//! start then also looks for an active OpenTelemetry span, about 70 instructions more.)
//!
//! Every stack makes 10-span traces (a root and nine children, each entered and
//! finished), 1 ms worth at a time, at RATE spans per second (default 200,000) for
//! SECONDS (default 3), then flushes. The sink is an HTTP server in a process of its
//! own (this executable, started again), as the Datadog Agent is: it reads each
//! request and answers `200 {}` at once, and what it spends receiving is not counted.
//! What sending costs the measured process (the exporter's encoding, its system calls,
//! the kernel's share of loopback TCP on the sending side) is.
//!
//! - `spanlog_agent`: spanlog's agent exporter (batches, msgpack, HTTP/1.1) to the sink,
//!   v0.4 payloads (the default).
//! - `spanlog_agent_v05`: the same with v0.5 payloads (`DD_TRACE_API_VERSION=v0.5`, what
//!   Datadog's Python tracer sends by default): a string table, about a quarter of the
//!   bytes.
//! - `spanlog_agent_uds`: the same to the same sink on a Unix domain socket (how the
//!   Datadog Agent is reached in containers, `unix:///var/run/datadog/apm.socket`):
//!   what the kernel charges for loopback TCP is most of what the exporter thread
//!   spends.
//! - `spanlog_agent_stats`: `spanlog_agent` to a sink that takes client-side stats (as
//!   Datadog's Agent does): the exporter also computes the trace metrics and sends them
//!   to `/v0.6/stats`; every trace is kept, so every chunk is still sent.
//! - `spanlog_agent_sampled`: `spanlog_agent` with `DD_TRACE_SAMPLE_RATE=0.1` (the rate
//!   limit lifted, so that exactly the rate decides), no stats: every chunk is sent,
//!   nine in ten marked dropped (today's send-everything).
//! - `spanlog_agent_sampled_stats`: the same to a sink that takes stats: the nine in
//!   ten are counted in the stats and never sent.
//! - `fastrace_datadog`: fastrace's `LocalSpan`s under a root, collected by fastrace's
//!   collector and sent by `fastrace-datadog` (msgpack, reqwest) to the sink.
//! - `fastrace_collector`: the same spans, fastrace's collector with a reporter that
//!   discards: fastrace's own share, nothing encoded or sent.

mod common;
#[path = "../tests/common/cpu_harness.rs"]
mod cpu_harness;

use std::hint::black_box;
use std::time::Duration;

const STACKS: [&str; 8] = [
    "spanlog_agent",
    "spanlog_agent_v05",
    "spanlog_agent_uds",
    "spanlog_agent_stats",
    "spanlog_agent_sampled",
    "spanlog_agent_sampled_stats",
    "fastrace_datadog",
    "fastrace_collector",
];

fn main() {
    if common::serve_if_sink_process() {
        return;
    }
    cpu_harness::main(&STACKS, run);
}

const SPANS_PER_TRACE: u64 = 10;

fn run(stack: &str, rate: u64, seconds: u64) {
    let sink_process = match stack {
        "spanlog_agent_stats" | "spanlog_agent_sampled_stats" => {
            common::SinkProcess::start_taking_stats()
        }
        _ => common::SinkProcess::start(stack == "spanlog_agent_uds"),
    };
    let sink = sink_process.address.clone();
    if stack.starts_with("spanlog_agent_sampled") {
        let sampler = spanlog::sampling::Sampler::new()
            .rule(spanlog::sampling::SamplingRule::new(0.1))
            .rate_limit(-1.0);
        sampler.set_global().expect("the first sampler");
    }
    let mut agent = None;
    let mut made = 0u64;
    let mut make: Box<dyn FnMut()> = match stack {
        "spanlog_agent"
        | "spanlog_agent_v05"
        | "spanlog_agent_uds"
        | "spanlog_agent_stats"
        | "spanlog_agent_sampled"
        | "spanlog_agent_sampled_stats" => {
            let version = match stack {
                "spanlog_agent_v05" => spanlog::agent::ApiVersion::V05,
                _ => spanlog::agent::ApiVersion::V04,
            };
            let config = spanlog::agent::AgentConfig::new()
                .with_address(&sink)
                .unwrap()
                .with_queue_capacity(1_000_000)
                .with_api_version(version);
            agent = Some(spanlog::agent::try_init(config).expect("the first exporter"));
            Box::new(|| {
                common::spanlog_trace(SPANS_PER_TRACE);
                made += SPANS_PER_TRACE;
            })
        }
        "fastrace_datadog" | "fastrace_collector" => {
            let config = fastrace::collector::Config::default();
            if stack == "fastrace_datadog" {
                let address = sink.trim_start_matches("http://").parse().unwrap();
                let reporter =
                    fastrace_datadog::DatadogReporter::new(address, "bench", "/posts", "web");
                fastrace::set_reporter(reporter, config);
            } else {
                common::fastrace_setup();
            }
            Box::new(|| {
                let root = common::fastrace_root();
                let _parent = root.set_local_parent();
                for _ in 1..SPANS_PER_TRACE {
                    let span = fastrace::local::LocalSpan::enter_with_local_parent("db.query");
                    black_box(&span);
                }
            })
        }
        other => panic!("unknown stack {other}"),
    };
    cpu_harness::paced(stack, SPANS_PER_TRACE, rate, seconds, &mut make, &|| {
        flush(stack)
    });
    drop(make);
    if let Some(agent) = agent {
        agent.shutdown(Duration::from_secs(60));
        let stats = agent.stats();
        assert_eq!((stats.dropped, stats.failed), (0, 0), "{stats}");
        eprintln!("{stats} unsampled_chunks={}", stats.unsampled_chunks);
        let bytes = sink_process.finish() * 1_000 / made.max(1);
        eprintln!("note: request body bytes per 1,000 spans: {bytes}");
    }
}

/// Waits until what was made so far has left the process.
fn flush(stack: &str) {
    if stack.starts_with("spanlog_agent") {
        assert!(spanlog::export::flush(Duration::from_secs(60)));
    } else {
        fastrace::flush();
    }
}
