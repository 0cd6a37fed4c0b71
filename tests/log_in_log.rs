//! Re-entrancy through the global logger: an inner logger that logs, and a message
//! argument that logs while it is formatted by env_logger. Its own binary: it installs
//! the global logger.

mod common;

use std::io::Write;

use common::Pipe;
use log::{Log, Metadata, Record, info, warn};

/// Hands records to env_logger; on a record from target `audit` it first logs a
/// record of its own through the global logger (the wrapper, again).
struct Auditing {
    inner: env_logger::Logger,
}

impl Log for Auditing {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.inner.enabled(metadata)
    }
    fn log(&self, record: &Record<'_>) {
        if record.target() == "audit" {
            warn!(target: "auditor", "audited: {}", record.args());
        }
        self.inner.log(record);
    }
    fn flush(&self) {
        self.inner.flush();
    }
}

struct LogsWhenShown;

impl std::fmt::Display for LogsWhenShown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        info!("formatting");
        f.write_str("shown")
    }
}

fn main() {
    let pipe = Pipe::default();
    let inner = env_logger::Builder::new()
        .parse_filters("info")
        .format(|buf, record| {
            writeln!(
                buf,
                "{} {}: {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .target(env_logger::Target::Pipe(Box::new(pipe.clone())))
        .build();
    let level = inner.filter();
    spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new().with_service("svc"))
        .wrap(Auditing { inner })
        .max_level(level)
        .init();

    let span = spanlog::start_span("web.request").entered();
    info!(target: "audit", "payment accepted");
    info!("value is {}", LogsWhenShown);
    log::debug!("filtered out by env_logger's filter");
    let ids = format!(
        r#"dd.service=svc dd.trace_id="{:032x}" dd.span_id="{}" dd.parent_id="0""#,
        span.trace_id(),
        span.span_id()
    );
    drop(span);
    info!("after the span");

    let out = pipe.text();
    let expected = [
        // The auditor saw the record as the wrapper passed it on, ids included.
        format!("WARN auditor: audited: payment accepted {ids} {ids}"),
        format!("INFO audit: payment accepted {ids}"),
        format!("INFO log_in_log: formatting {ids}"),
        format!("INFO log_in_log: value is shown {ids}"),
        "INFO log_in_log: after the span dd.service=svc".to_owned(),
    ];
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, expected, "\n{out}");
    println!("1 passed, 0 failed");
}
