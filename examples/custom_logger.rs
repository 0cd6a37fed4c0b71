//! Automatic injection around a logger that is not env_logger: any `log::Log` works.
//!
//! A minimal logger printing `LEVEL target: message` to standard output is wrapped
//! with `spanlog::LoggerBuilder`, installed with an explicit max level, and every line inside
//! a span gets the correlation fields (here in Datadog's Python layout, for a fleet
//! whose log pipeline expects it).
//!
//! Run it with `cargo run --example custom_logger`.

use log::{LevelFilter, Log, Metadata, Record};

/// Prints each record on standard output.
struct StdoutLogger;

impl Log for StdoutLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            println!("{} {}: {}", record.level(), record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

fn main() {
    spanlog::LoggerBuilder::new()
        .style(spanlog::FieldStyle::Python)
        .wrap(StdoutLogger)
        .max_level(LevelFilter::Info)
        .init();

    log::info!("starting"); // outside a span: ids are 0 in the Python layout

    let job = spanlog::start_span("batch.job")
        .resource("nightly-report")
        .entered();
    log::info!("job started");
    for part in 1..=2 {
        let _part = spanlog::start_span("batch.part").entered();
        log::info!("processing part {part}");
    }
    log::debug!("not shown: above the max level");
    drop(job);
}
