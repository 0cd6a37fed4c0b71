//! Spans that follow tokio tasks across worker threads.
//!
//! Twenty concurrent tasks on a multi-threaded runtime each run inside their own span
//! (`Instrument::in_span`). Task `n` logs `task=n step=k` for k = 1..3, yielding and
//! sleeping between steps, so tasks interleave and hop between workers; every line of
//! task `n` still carries task `n`'s trace id, and no two tasks share one.
//!
//! Run it with `cargo run --example async_tasks`.

use std::time::Duration;

use spanlog::Instrument;

fn main() {
    spanlog::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let tasks: Vec<_> = (0..20)
            .map(|n| {
                let span = spanlog::start_span("task").resource(format!("task {n}"));
                tokio::spawn(run_task(n).in_span(span.start()))
            })
            .collect();
        for task in tasks {
            task.await.expect("task completes");
        }
    });
}

async fn run_task(n: u32) {
    for step in 1..=3 {
        log::info!("task={n} step={step}");
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(u64::from(n % 3))).await;
    }
}
