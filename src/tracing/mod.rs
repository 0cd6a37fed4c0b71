//! `tracing` users: their spans become Datadog spans, their events carry the ids
//! (feature `tracing`).
//!
//! Most Rust services are instrumented with `tracing`. Two pieces connect them to
//! spanlog, and [`init`] sets both up in one call:
//!
//! - [`SpanlogLayer`], a `tracing_subscriber` layer, mirrors every `tracing` span as a
//!   spanlog span: Datadog ids, parents across both kinds, fields mapped as Datadog maps
//!   OpenTelemetry attributes, current on spanlog's stack while entered, finished (and
//!   exported) when closed.
//! - [`CorrelatedWriter`] wraps the writer of a `tracing_subscriber::fmt` layer, so that
//!   every event line ends with the same correlation text as a `log` line, or, for
//!   `fmt().json()`, carries the `dd.*` fields at the root of the object.
//!
//! `log` records bridged into `tracing` (by `tracing-log`, which `init` installs) are
//! events like any other and get the same fields.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! spanlog::tracing::try_init()?; // registry + SpanlogLayer + fmt, RUST_LOG (default info)
//!
//! #[tracing::instrument(name = "web.request", fields(resource.name = "/posts"))]
//! fn handle() {
//!     tracing::info!("my log message"); // ... my log message dd.trace_id="..." ...
//! }
//! handle();
//! # Ok(())
//! # }
//! ```
//!
//! With a subscriber of your own, add the pieces:
//!
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//!
//! let subscriber = tracing_subscriber::registry()
//!     .with(spanlog::tracing::SpanlogLayer::new())
//!     .with(
//!         tracing_subscriber::fmt::layer()
//!             .json()
//!             .with_writer(spanlog::tracing::CorrelatedWriter::json(std::io::stdout)),
//!     );
//! # drop(subscriber);
//! ```

mod layer;
mod writer;

use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};

pub use self::layer::SpanlogLayer;
pub use self::writer::{CorrelatedEventWriter, CorrelatedWriter};

/// [`CorrelatedEventWriter`]'s name in 0.1.
#[deprecated(since = "0.2.0", note = "renamed `CorrelatedEventWriter`")]
pub type Correlating<W> = CorrelatedEventWriter<W>;

/// Installs, as the global `tracing` subscriber: a registry, [`SpanlogLayer`], and a
/// `fmt` layer writing to standard output through [`CorrelatedWriter::text`] (with
/// colours only when standard output is a terminal), filtered
/// by `RUST_LOG` (`target=level` directives separated by commas, as `tracing`'s
/// `Targets` reads them; `info` when unset or empty). A filter it cannot read, such as
/// `EnvFilter`'s span filters (`target[span]=level`), is left out with a warning on
/// standard error, never silently turning output off; for those filters, set up
/// tracing-subscriber's `EnvFilter` with [`SpanlogLayer`] yourself. `log` records are
/// bridged into `tracing`.
///
/// # Errors
///
/// When a global `tracing` subscriber, or a `log` logger, is already installed.
pub fn try_init() -> Result<(), TryInitError> {
    crate::settings::read_all();
    let spec = crate::env::rust_log();
    let filter = spec.parse::<Targets>().unwrap_or_else(|error| {
        crate::env::print_warning(format!(
            "spanlog: ignoring RUST_LOG={spec:?}: {error}; using \"info\""
        ));
        Targets::new().with_default(tracing_core::Level::INFO)
    });
    // Colours only for a terminal: escape codes have no place in a log file.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    tracing_subscriber::registry()
        .with(SpanlogLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(ansi)
                .with_writer(CorrelatedWriter::text(std::io::stdout)),
        )
        .with(filter)
        .try_init()
}

/// Like [`try_init`], but panics when a subscriber or logger is already installed.
///
/// # Panics
///
/// When a global `tracing` subscriber, or a `log` logger, is already installed.
pub fn init() {
    try_init().expect("spanlog::tracing::init: a global subscriber was already installed");
}
