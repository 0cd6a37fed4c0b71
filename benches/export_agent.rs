//! The agent exporter, end to end: its cost on the application's thread, and how many
//! spans one exporter thread ships.
//!
//! `cargo bench -p spanlog-benches --bench export_agent`
//!
//! - `span_lifecycle_export/spanlog_agent`: a child span's start, enter, exit and
//!   finish with the agent exporter installed, sending to a local sink (an HTTP server
//!   in this process that reads each request and answers `200 {}` at once): the clock
//!   reads and the hand-off to this thread's buffer; batches go to the exporter thread.
//!   Compare with `span_lifecycle_export` in the `export` bench (same harness).
//! - `export_throughput/spanlog_agent_10_span_traces`: 1,000 traces of 10 spans made as
//!   fast as possible, then `flush`, timed together: spans per second shipped by the
//!   one exporter thread (encoded, sent, answered), with no span dropped (checked).

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn agent_export(c: &mut Criterion) {
    let agent = common::agent_to_sink();

    let mut group = c.benchmark_group("span_lifecycle_export");
    group.bench_function("spanlog_agent", common::spanlog_child_lifecycle);
    group.finish();
    assert!(agent.flush(Duration::from_secs(60)));
    let lifecycle = agent.stats();
    eprintln!("after span_lifecycle_export/spanlog_agent: {lifecycle}");

    let mut group = c.benchmark_group("export_throughput");
    const TRACES: u64 = 1_000;
    const SPANS_PER_TRACE: u64 = 10;
    group.throughput(Throughput::Elements(TRACES * SPANS_PER_TRACE));
    group.bench_function("spanlog_agent_10_span_traces", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for _ in 0..TRACES {
                    common::spanlog_trace(SPANS_PER_TRACE);
                }
                assert!(agent.flush(Duration::from_secs(60)), "flushed");
            }
            start.elapsed()
        })
    });
    group.finish();
    let stats = agent.stats();
    eprintln!("after export_throughput: {stats}");
    assert_eq!(
        stats.dropped, lifecycle.dropped,
        "no span dropped while shipping"
    );
    assert_eq!(stats.failed, 0, "{stats}");
}

criterion_group!(benches, agent_export);
criterion_main!(benches);
