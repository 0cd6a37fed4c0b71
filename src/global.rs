//! The vocabulary of process-wide state, one rule for each kind.
//!
//! - **Settings** are values that say how spanlog behaves: [`Config`], [`Propagator`],
//!   [`Sampler`]. `T::new()` gives the defaults and never reads the environment;
//!   `T::from_env()` reads the `DD_*` variables. A value becomes the process's with
//!   `value.set_global()`, which fails with [`AlreadySet`] (handing it back) once the
//!   setting was set or read; `T::global()` reads it, falling back to `T::from_env()`
//!   on first use.
//! - **Installers** start something that runs for the rest of the process or receives
//!   what it makes: the logger, a `tracing` subscriber, an exporter. Each is a free
//!   function of the module that owns it, `try_init` returning an error and `init`
//!   panicking with it, as env_logger and tracing-subscriber name theirs:
//!   `spanlog::try_init` (env_logger, standard error), `json::try_init` (standard
//!   output), `tracing::try_init` (standard output, as tracing-subscriber's `fmt`),
//!   [`export::try_init`] and `agent::try_init`, and the method form
//!   [`CorrelatingLogger::try_init`] for a logger built by hand. The streams differ on
//!   purpose: `init` keeps env_logger's standard error, where people read a program's
//!   text logs; JSON lines and tracing-subscriber's `fmt` output go to standard output,
//!   where those crates write them and where container log collectors expect a
//!   service's structured lines. A logger or subscriber
//!   fails with the error of the facade it installs into (`log::SetLoggerError`,
//!   tracing-subscriber's `TryInitError`); the others with [`AlreadySet`]. One
//!   exception keeps another crate's name: `opentelemetry::set_tracer_provider` wraps,
//!   and is named after, `opentelemetry::global::set_tracer_provider`.
//! - **Setters** that build a value are named for what they set (`resource`,
//!   `max_level`, `rule`), except where the type reads the same value back under that
//!   name: then the reader keeps the bare name and the setter says `with_`
//!   (`Config::with_service` beside `Config::service`).
//!
//! [`Config`]: crate::Config
//! [`Propagator`]: crate::propagation::Propagator
//! [`Sampler`]: crate::sampling::Sampler
//! [`export::try_init`]: crate::export::try_init
//! [`CorrelatingLogger::try_init`]: crate::CorrelatingLogger::try_init

use std::fmt;

/// The error of every `set_global` and of the installers that are not loggers
/// ([`Config::set_global`], [`Propagator::set_global`], [`Sampler::set_global`],
/// [`export::try_init`], and `agent::try_init` with the `agent` feature): that
/// process-wide setting was already set, or already read with its default, or an
/// exporter is already installed. The value that was not installed comes back through
/// [`AlreadySet::into_inner`].
///
/// [`Config::set_global`]: crate::Config::set_global
/// [`Propagator::set_global`]: crate::propagation::Propagator::set_global
/// [`Sampler::set_global`]: crate::sampling::Sampler::set_global
/// [`export::try_init`]: crate::export::try_init
///
/// # Examples
///
/// ```
/// use spanlog::Config;
///
/// let _ = spanlog::Config::global(); // read once: from now on it is fixed
/// let error = Config::new().with_service("late").set_global().unwrap_err();
/// assert_eq!(error.into_inner().service(), "late");
/// ```
pub struct AlreadySet<T> {
    what: &'static str,
    value: T,
}

impl<T> AlreadySet<T> {
    pub(crate) fn new(what: &'static str, value: T) -> Self {
        AlreadySet { what, value }
    }

    /// The value that was not installed.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for AlreadySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlreadySet")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for AlreadySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the process-wide spanlog {} was already set or in use",
            self.what
        )
    }
}

impl<T> std::error::Error for AlreadySet<T> {}
