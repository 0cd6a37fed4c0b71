//! Where finished spans go: the [`Exporter`] trait and the process-wide exporter.

#[cfg(feature = "agent")]
pub mod agent;
#[cfg(feature = "agent")]
mod msgpack;

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::context::TraceMeta;
use crate::id::{SpanId, TraceId};

/// A span that has finished, handed to the installed [`Exporter`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FinishedSpan {
    /// The trace id.
    pub trace_id: TraceId,
    /// The span id.
    pub span_id: SpanId,
    /// The parent's span id, zero for a root span.
    pub parent_id: SpanId,
    /// The operation name.
    pub name: Cow<'static, str>,
    /// The resource (the name when none was set).
    pub resource: Cow<'static, str>,
    /// The span's own service, when it differs from the configured one.
    pub service: Option<Cow<'static, str>>,
    /// The span type (`web`, `sql`, ...), if set.
    pub span_type: Option<Cow<'static, str>>,
    /// Start time, nanoseconds since the unix epoch.
    pub start_unix_nanos: i64,
    /// Duration in nanoseconds, from a monotonic clock.
    pub duration_nanos: i64,
    /// Whether the span was marked as failed.
    pub error: bool,
    /// String tags.
    pub meta: Vec<(Cow<'static, str>, Cow<'static, str>)>,
    /// Numeric tags.
    pub metrics: Vec<(Cow<'static, str>, f64)>,
    pub(crate) trace: Option<Arc<TraceMeta>>,
}

impl FinishedSpan {
    /// The trace's sampling priority: upstream's decision, or 1 (kept by default).
    pub fn sampling_priority(&self) -> i32 {
        TraceMeta::priority(self.trace.as_deref())
    }

    /// The trace's origin, if any.
    pub fn origin(&self) -> Option<&str> {
        self.trace.as_ref().and_then(|t| t.origin.as_deref())
    }
}

/// Receives every finished span. Implementations must return quickly and never block
/// the caller: hand the span to a queue and do the work elsewhere.
pub trait Exporter: Send + Sync + 'static {
    /// Takes one finished span.
    fn export(&self, span: FinishedSpan);

    /// Sends what is queued, waiting at most `timeout`; `true` when everything went out.
    /// The default does nothing and returns `true`.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }
}

/// Flushes the installed exporter, waiting at most `timeout`; `true` when everything
/// queued went out (or when no exporter is installed). Call it before the process
/// exits: statics are not dropped, so nothing else will.
pub fn flush(timeout: Duration) -> bool {
    installed().is_none_or(|exporter| exporter.flush(timeout))
}

static EXPORTER: OnceCell<Box<dyn Exporter>> = OnceCell::new();

/// Installs the process-wide exporter. Spans that finish before this, or while none is
/// installed, are not recorded anywhere (their ids still appear in log lines).
///
/// # Errors
///
/// Fails, handing the exporter back, when one is already installed.
pub fn set_exporter<E: Exporter>(exporter: E) -> Result<(), ExporterAlreadySet<E>> {
    let mut slot = Some(exporter);
    EXPORTER.get_or_init(|| Box::new(slot.take().expect("taken once")));
    match slot {
        None => Ok(()),
        Some(exporter) => Err(ExporterAlreadySet(exporter)),
    }
}

#[inline]
pub(crate) fn installed() -> Option<&'static dyn Exporter> {
    EXPORTER.get().map(|boxed| &**boxed)
}

/// The error of [`set_exporter`]: an exporter was already installed.
pub struct ExporterAlreadySet<E>(E);

impl<E> ExporterAlreadySet<E> {
    /// The exporter that was not installed.
    pub fn into_inner(self) -> E {
        self.0
    }
}

impl<E> fmt::Debug for ExporterAlreadySet<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ExporterAlreadySet")
    }
}

impl<E> fmt::Display for ExporterAlreadySet<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a spanlog exporter was already installed")
    }
}

impl<E> std::error::Error for ExporterAlreadySet<E> {}
