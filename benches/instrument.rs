//! The per-poll cost of running a future inside a span.
//!
//! `cargo bench -p spanlog-benches --bench instrument`

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use criterion::{Criterion, criterion_group, criterion_main};
use spanlog::Instrument;

/// Never ready: each poll does a little work and returns `Pending`.
struct Forever;

impl Future for Forever {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        black_box(());
        Poll::Pending
    }
}

fn poll(c: &mut Criterion) {
    let mut group = c.benchmark_group("poll");
    let mut cx = Context::from_waker(Waker::noop());

    let mut bare = std::pin::pin!(Forever);
    group.bench_function("bare", |b| b.iter(|| bare.as_mut().poll(&mut cx)));

    let mut in_span = std::pin::pin!(Forever.in_span(spanlog::start_span("task").start()));
    group.bench_function("in_span", |b| b.iter(|| in_span.as_mut().poll(&mut cx)));

    let context = spanlog::start_span("request").start().context().clone();
    let mut in_context = std::pin::pin!(Forever.in_context(context));
    group.bench_function("in_context", |b| {
        b.iter(|| in_context.as_mut().poll(&mut cx))
    });

    group.finish();
}

criterion_group!(benches, poll);
criterion_main!(benches);
