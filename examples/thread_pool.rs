//! A request whose work is split across worker threads.
//!
//! The request span is current on the main thread; each `std::thread::scope` worker
//! runs a closure bound to that context with `spanlog::bind`, opens its own child span
//! and logs. Every worker line carries the request's trace id and its own span id, with
//! the request's span id as parent.
//!
//! Run it with `cargo run --example thread_pool`.

fn main() {
    spanlog::init();

    let request = spanlog::start_span("web.request")
        .resource("/report")
        .entered();
    log::info!("splitting the report into 4 parts");

    let rows: Vec<u64> = (1..=400).collect();
    let totals: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = rows
            .chunks(100)
            .enumerate()
            .map(|(worker, chunk)| {
                scope.spawn(spanlog::bind(move || {
                    let _part = spanlog::start_span("report.part").entered();
                    let total = chunk.iter().sum();
                    log::info!("worker={worker} summed {} rows: {total}", chunk.len());
                    total
                }))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });

    log::info!("report total {}", totals.iter().sum::<u64>());
    drop(request);
}
