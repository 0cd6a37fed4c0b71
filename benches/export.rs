//! Span lifecycles with export on, side by side: what each library costs the
//! application's thread when finished spans go somewhere.
//!
//! `cargo bench -p spanlog-benches --bench export`
//!
//! - `spanlog_noop`: start, enter, exit, finish a child span under an entered root, with
//!   an exporter installed that drops what it is given: the clock reads, the conversion
//!   to wall-clock time and the hand-off of a `FinishedSpan`, and nothing of any
//!   exporter's own work.
//! - `fastrace`: a `LocalSpan` under a root, with a reporter installed that discards:
//!   fastrace reads its clock at both ends and records every span for its collector.
//!   Timed in batches of 1,000 per root; the root's creation and submission are left out,
//!   in fastrace's favour.
//! - `tracing`: `info_span!` + `enter()` on a registry, which has no export step: the
//!   floor of what a tracing layer that exports would build on.
//!
//! The agent exporter has a bench of its own (`export_agent`): a process has one
//! exporter.

mod common;

use criterion::{Criterion, criterion_group, criterion_main};

fn span_lifecycle_export(c: &mut Criterion) {
    common::noop_exporter();
    common::fastrace_setup();
    let mut group = c.benchmark_group("span_lifecycle_export");

    group.bench_function("spanlog_noop", common::spanlog_child_lifecycle);

    group.bench_function("fastrace", common::fastrace_lifecycle);

    group.bench_function("tracing", common::tracing_lifecycle);

    group.finish();
}

criterion_group!(benches, span_lifecycle_export);
criterion_main!(benches);
