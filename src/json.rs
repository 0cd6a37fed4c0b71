//! Datadog-ready JSON logs: `dd.*` fields at the root of every object, ids as strings.
//!
//! Datadog parses JSON logs without any pipeline, and joins them to traces, when
//! `dd.trace_id` and `dd.span_id` are string attributes at the root of the object.
//! [`init`] sets that up in one call: the [`structured-logger`] crate writes one JSON
//! object per line to standard output, with every key-value of the record at the root,
//! and spanlog adds the correlation fields as key-values ([`LogFields::KeyValues`]):
//!
//! ```text
//! {"dd.parent_id":"0","dd.service":"blog","dd.span_id":"10582933694091117294","dd.trace_id":"6b04d2e800000000e6a5cefc6c3cef4e","level":"INFO","message":"my log message","target":"blog","timestamp":1764000000000}
//! ```
//!
//! The values are the text of the Go-style line without its quotes: the trace id is 32
//! hex digits (or the lower 64 bits in decimal, see
//! [`Config::with_trace_id_128_logging`](crate::Config::with_trace_id_128_logging)),
//! span and parent ids are decimal. `dd.service`, `dd.env` and `dd.version` appear when
//! set.
//!
//! # Key collisions
//!
//! A record that carries its own `dd.trace_id` (or any other `dd.*` key spanlog adds)
//! keeps its value, and spanlog's is left out: an explicit key-value is a deliberate
//! choice of the caller (a batch job logging on behalf of the trace that produced a
//! message, say), while spanlog's is only the ambient default. No key is ever written
//! twice. The JSON logger itself owns `message`, `level`, `target` and `timestamp`; a
//! record key of those names is replaced by the logger's.
//!
//! # With another logger
//!
//! Any key-value-aware logger that writes key-values at the root works the same way:
//!
//! ```no_run
//! # fn my_json_logger() -> Box<dyn log::Log> { unimplemented!() }
//! spanlog::LoggerBuilder::new()
//!     .fields(spanlog::LogFields::KeyValues)
//!     .wrap(my_json_logger())
//!     .max_level(log::LevelFilter::Info)
//!     .init();
//! ```
//!
//! Loggers that nest context under one attribute leave the ids where Datadog's default
//! remapper does not look, and need a remapping pipeline instead: log4rs's JSON encoder,
//! for one, writes its context as a nested `"mdc"` object.
//!
//! [`structured-logger`]: https://docs.rs/structured-logger
//! [`LogFields::KeyValues`]: crate::LogFields::KeyValues

use log::SetLoggerError;

use crate::{LogFields, LoggerBuilder};

/// Installs JSON logging to standard output with the correlation fields at the root of
/// each object, filtered by `RUST_LOG` (env_logger's syntax; `info` when unset or
/// empty), and sets the max level from that filter.
///
/// # Errors
///
/// When a global logger is already installed.
///
/// # Examples
///
/// ```
/// spanlog::json::try_init().expect("no other logger yet");
/// let _span = spanlog::start_span("web.request").entered();
/// log::info!(user = "ana"; "signed in"); // {"dd.span_id":"...",...,"user":"ana"}
/// ```
pub fn try_init() -> Result<(), SetLoggerError> {
    let filter = env_filter::Builder::new()
        .parse(&crate::env::rust_log())
        .build();
    let level = filter.filter();
    let json = structured_logger::Builder::with_level("trace")
        .with_default_writer(structured_logger::json::new_writer(std::io::stdout()))
        .build();
    LoggerBuilder::new()
        .fields(LogFields::KeyValues)
        .wrap(env_filter::FilteredLog::new(json, filter))
        .max_level(level)
        .try_init()
}

/// Like [`try_init`], but panics when a global logger is already installed.
///
/// # Panics
///
/// When a global logger is already installed.
pub fn init() {
    try_init().expect("spanlog::json::init: a global logger was already installed");
}
