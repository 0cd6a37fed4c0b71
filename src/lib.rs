//! Connect [`log`] records to Datadog traces.
//!
//! spanlog keeps a stack of active spans per thread and wraps any `log::Log` so that
//! every line logged inside a span carries the span's correlation fields, byte for byte
//! as Datadog's Go tracer prints them:
//!
//! ```text
//! my log message dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0"
//! ```
//!
//! Datadog's log pipelines parse those fields (ids as strings), so a log line opens the
//! trace it belongs to.
//!
//! # Quick start
//!
//! ```
//! // env_logger configured from RUST_LOG (default `info`), wrapped and installed.
//! spanlog::init();
//!
//! // A span for a web request at /posts; it finishes when the guard is dropped.
//! let request = spanlog::start_span("web.request").resource("/posts").entered();
//! log::info!("my log message"); // automatic injection, through the installed logger
//! log::info!("my log message {}", request.log()); // manual injection, as in Go
//!
//! {
//!     let _query = spanlog::start_span("db.query").entered();
//!     log::info!("querying posts"); // carries db.query's ids, parent = web.request
//! }
//! ```
//!
//! # In libraries
//!
//! Start spans with [`start_span`] and log with the `log` macros; do not install a
//! logger. Spans cost a few nanoseconds and nothing is formatted unless a line is logged
//! inside them.
//!
//! # In applications
//!
//! Install the wrapper once, early in `main`: `init()` for env_logger, or
//! [`LoggerBuilder::wrap`] around any other logger. Configure service, env and version through
//! `DD_SERVICE`, `DD_ENV` and `DD_VERSION`, or in code with [`Config::set_global`]
//! *before* `init()` (installing a logger reads the configuration, which is then fixed
//! for the life of the process). Without an installed wrapper, [`Span::log`] still gives
//! the fields for manual injection.
//!
//! # What a line looks like
//!
//! The fields follow the message after one space: `dd.service`, `dd.env`, `dd.version`
//! (each left out when empty), then `dd.trace_id`, `dd.span_id` and `dd.parent_id`
//! (`"0"` for a root span), the ids double-quoted so that Datadog parses them as
//! strings. The trace id is 32 lower-case hex digits when it has upper bits and 128-bit
//! logging is on (the default), else its lower 64 bits in decimal
//! ([`TraceId::for_logs`] gives the same string, for a response header, say); span ids
//! are decimal. [`FieldStyle::Python`] writes Python's bracketed layout instead, where every
//! key is present (`dd.env=` when empty, as dd-trace-py prints it). A service, env or
//! version containing blanks, quotes, `\`, `=`, control characters or Unicode line
//! breaks is written quoted and escaped, so it can neither split a line nor forge a key.
//! A message that ends with line breaks gets the fields before them, on its last line.
//!
//! # Robustness
//!
//! Logging never panics, allocates or holds a lock while the inner logger runs. From a
//! thread-local destructor, lines go through, with ids while the thread's span stack
//! still exists and without once it is gone. Ids come from a per-thread generator seeded
//! by the operating system; a child process reseeds after `fork()`, so parent and child
//! never share ids; where a thread's locals are gone, ids come from the operating system
//! directly.
//!
//! # Threads
//!
//! The stack is per thread. To carry a span to another thread, hand over its
//! [`SpanContext`] (`Send + Sync + Clone`) and [`enter`](SpanContext::enter) it there,
//! or wrap the work: [`bind`] for closures, [`spawn`] for threads, and
//! [`Instrument::in_span`] / [`Instrument::in_current_context`] for futures, which enter
//! the context on every poll, on whichever thread polls them.
//!
//! # Across services, and into Datadog
//!
//! [`propagation`] extracts trace context from incoming Datadog or W3C headers (continue
//! it with [`SpanBuilder::child_of`]) and injects it into outgoing ones. With the `agent`
//! feature, `agent::init()` sends finished spans to a Datadog Agent, so the ids in
//! the log lines point at traces that exist. With the `json` feature, `json::init()` writes
//! JSON lines with the `dd.*` fields at the root, which Datadog joins without a pipeline.
//!
//! # Sampling and errors
//!
//! [`sampling`] decides which traces Datadog keeps, the way Datadog's tracers do
//! (rules, rate limit, the Agent's rates, by hand), off the application's path.
//! [`with_current_span`] and [`record_err`] let code that does not hold the span tag
//! it or record an error on it; an ERROR line marks its span as failed.
//!
//! # Crate features
//!
//! - `env_logger` (default): `init()`, `try_init()` and `LoggerBuilder::wrap_env_logger`.
//! - `kv`: `LogFields::KeyValues`, the correlation fields as `log` key-values for
//!   structured loggers (enables `log/kv`).
//! - `agent`: `agent::init()`, export of finished spans to a Datadog Agent.
//! - `http`: [`propagation`] carriers for `http::HeaderMap` and `http::Request`.
//! - `json`: `json::init()`, JSON lines on standard output with the `dd.*` fields at
//!   the root of each object, as Datadog expects (enables `kv`).
//! - `opentelemetry`: lines logged inside an active OpenTelemetry span (dd-trace-rs's
//!   or any SDK's) carry its ids, and spanlog spans nest in OpenTelemetry spans and the
//!   other way round; see `spanlog::opentelemetry`.
//! - `tracing`: `tracing::SpanlogLayer` mirrors `tracing` spans as spanlog spans, and
//!   `tracing::CorrelatedWriter` puts the fields in `tracing_subscriber::fmt` lines;
//!   `tracing::init()` sets both up.
//! - `tower`: `tower::ServerLayer` and `tower::ClientLayer`, server and client
//!   middleware for tower/hyper HTTP services (enables `http`).
//! - `axum`: `tower`, plus axum's matched route as the resource.
//!
//! # Process-wide settings
//!
//! Settings (the configuration, the propagator, the sampler) are made the process's
//! with `set_global` ([`Config::set_global`], [`propagation::Propagator::set_global`],
//! [`sampling::Sampler::set_global`]) before first use, and read with `global()`;
//! what runs (the logger, the exporter) is installed with `init`/`try_init`
//! (`init`, [`export::init`], `agent::init`). A setting set twice, or an exporter
//! installed twice, fails with [`AlreadySet`], which hands the value back.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Output goes through the one warning sink (`env::print_warning`), nowhere else.
#![warn(clippy::print_stderr, clippy::print_stdout)]

// The modules form a ladder: each imports only modules on the rungs below it, so the
// import graph has no circle. From the bottom:
//   1. clock, digits, env, global, rng (leaves)
//   2. id, config
//   3. ids_text, sharded, span_context
//   4. context (the thread's stack), annotations, sampling
//   5. current_span, propagation, span_parts
//   6. export (the seam), opentelemetry, settings (read at set-up)
//   7. active (where a line's span comes from), agent (behind the export seam)
//   8. correlation
//   9. logger, span
//  10. instrument, span_builder
//  11. json, tower, tracing (integrations, on top of the public API; json reaches the
//      logger through the crate root)
mod active;
#[cfg(feature = "agent")]
pub mod agent;
mod annotations;
pub mod baggage;
mod clock;
mod config;
mod context;
mod correlation;
mod current_span;
#[cfg(feature = "agent")]
mod digits;
mod env;
pub mod export;
pub mod git;
mod global;
mod id;
mod ids_text;
mod instrument;
mod invalid;
#[cfg(feature = "json")]
pub mod json;
mod links;
mod logger;
#[cfg(feature = "opentelemetry")]
pub mod opentelemetry;
pub mod propagation;
mod rng;
pub mod sampling;
mod settings;
mod sharded;
mod span;
mod span_builder;
mod span_context;
mod span_parts;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "tracing")]
pub mod tracing;

pub use crate::active::{current, inject_current};
pub use crate::config::Config;
pub use crate::context::ContextGuard;
pub use crate::correlation::{Correlation, FieldStyle};
pub use crate::current_span::{CurrentSpan, record_result, with_current_span};
pub use crate::global::AlreadySet;
pub use crate::id::{LogTraceId, SpanId, TraceId};
pub use crate::instrument::{Instrument, Instrumented, WithContext, bind, spawn};
pub use crate::invalid::InvalidValue;
pub use crate::links::{SpanEvent, SpanLink};
pub use crate::logger::{CorrelatingLogger, LogFields, LoggerBuilder};
pub use crate::span::{Entered, EnteredSpan, Span};
pub use crate::span_builder::{SpanBuilder, start_span};
pub use crate::span_context::SpanContext;

/// This thread's stack of entered spans, as tests and diagnostics look at it.
pub mod stack {
    pub use crate::context::{MAX_DEPTH, depth};
}

/// [`LoggerBuilder`]'s name in 0.1.
#[deprecated(
    since = "0.2.0",
    note = "renamed `LoggerBuilder` (beside `SpanBuilder`)"
)]
pub type Builder = LoggerBuilder;

/// [`LogFields`]' name in 0.1.
#[deprecated(since = "0.2.0", note = "renamed `LogFields`")]
pub type Fields = LogFields;

/// [`FieldStyle`]'s name in 0.1.
#[deprecated(since = "0.2.0", note = "renamed `FieldStyle`")]
pub type Style = FieldStyle;

/// How many spans are entered on this thread.
#[deprecated(since = "0.2.0", note = "moved to `spanlog::stack::depth`")]
pub fn depth() -> usize {
    stack::depth()
}

/// How many spans a thread's stack holds at most.
#[deprecated(since = "0.2.0", note = "moved to `spanlog::stack::MAX_DEPTH`")]
pub const MAX_DEPTH: usize = stack::MAX_DEPTH;

/// Records `result`'s error, if any, on the current span.
#[deprecated(
    since = "0.2.0",
    note = "renamed `record_result` (beside `Span::record_error`)"
)]
pub fn record_err<T, E: std::error::Error>(result: Result<T, E>) -> Result<T, E> {
    record_result(result)
}

/// Installs `env_logger`, configured from `RUST_LOG`, wrapped in a [`CorrelatingLogger`]
/// as the global logger, and sets the max level from env_logger's own filter.
///
/// When `RUST_LOG` is unset or empty the filter is `info` (env_logger alone would show
/// only errors; a service wants its info lines). `RUST_LOG_STYLE` chooses colours, and
/// output goes to standard error, as with env_logger.
///
/// # Panics
///
/// When a global logger is already installed; see [`try_init`].
#[cfg(feature = "env_logger")]
pub fn init() {
    try_init().expect("spanlog::init: a global logger was already installed");
}

/// Like [`init`], but returns an error instead of panicking.
///
/// # Errors
///
/// When a global logger is already installed.
#[cfg(feature = "env_logger")]
pub fn try_init() -> Result<(), log::SetLoggerError> {
    let mut inner = env_logger::Builder::new();
    inner.parse_filters(&env::rust_log());
    if let Some(style) = env::process().get("RUST_LOG_STYLE") {
        inner.parse_write_style(&style);
    }
    LoggerBuilder::new()
        .wrap_env_logger(inner.build())
        .try_init()
}

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
