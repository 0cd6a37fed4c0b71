//! What the sampler costs, side by side with a root span's lifecycle.
//!
//! `cargo bench -p spanlog-benches --bench sampling`
//!
//! spanlog decides a trace off the application's path: on the exporter's thread when
//! the local root is sent, or once at the first inject. Starting and finishing a root
//! span does no sampling work. These rows measure a root span's lifecycle alone
//! (`root`), and the same plus one decision made on the spot
//! (`Span::sampling_decision_by`), which is what the exporter thread or the first
//! inject pays per trace:
//!
//! - `root_decide_default`: no rules, no Agent rates (kept, `-0`).
//! - `root_decide_rules`: three rules with glob patterns on name and resource, the last
//!   one matching (`-3`).
//! - `root_decide_limiter`: one rule keeping everything, through the rate limiter.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use spanlog::sampling::{Sampler, SamplingRule};

fn sampling(c: &mut Criterion) {
    let mut group = c.benchmark_group("span_lifecycle_sampling");
    group.bench_function("root", |b| {
        b.iter(|| {
            let span = spanlog::start_span("web.request").root().entered();
            black_box(&span);
        })
    });
    let variants = [
        ("root_decide_default", Sampler::new()),
        (
            "root_decide_rules",
            Sampler::new()
                .rule(SamplingRule::new(0.1).name("db.*"))
                .rule(SamplingRule::new(0.2).resource("GET /health*"))
                .rule(
                    SamplingRule::new(0.5)
                        .name("web.*")
                        .resource("GET /posts/*"),
                ),
        ),
        (
            "root_decide_limiter",
            Sampler::new().rule(SamplingRule::new(1.0)).rate_limit(1e12),
        ),
    ];
    for (name, sampler) in variants {
        group.bench_function(name, |b| {
            b.iter(|| {
                let span = spanlog::start_span("web.request")
                    .resource("GET /posts/{id}")
                    .root()
                    .entered();
                black_box(span.sampling_decision_by(&sampler));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sampling);
criterion_main!(benches);
