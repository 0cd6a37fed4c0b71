//! Where finished spans go: the [`Exporter`] trait and the process-wide exporter.
//!
//! With the `agent` feature, `spanlog::agent` provides the exporter that sends spans to
//! a Datadog Agent; implement [`Exporter`] to send them anywhere else.

use std::borrow::Cow;
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::context::SpanContext;
use crate::global::AlreadySet;
#[cfg(feature = "agent")]
use crate::span_parts::InlineSpanType;
#[cfg(feature = "agent")]
use crate::span_parts::PendingSpan;
use crate::span_parts::{Extra, SpanParts};

/// A span that has finished, handed to the installed [`Exporter`].
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FinishedSpan {
    /// The span's identity: trace, span and parent ids, and the trace's sampling
    /// priority, origin and propagated tags.
    pub context: SpanContext,
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
}

impl FinishedSpan {
    /// A finished span of `context` named `name`, with the name as its resource, no
    /// service, type, tags or metrics, not failed, starting at the unix epoch and
    /// lasting nothing: a starting point for an exporter's tests.
    ///
    /// ```
    /// use spanlog::export::FinishedSpan;
    /// use spanlog::{SpanContext, SpanId, TraceId};
    ///
    /// let context = SpanContext::new(TraceId::from_parts(0, 1), SpanId::from_u64(2));
    /// let mut span = FinishedSpan::new(context, "web.request");
    /// span.duration_nanos = 1_000;
    /// assert_eq!(span.resource, "web.request");
    /// ```
    pub fn new(context: SpanContext, name: impl Into<Cow<'static, str>>) -> Self {
        let name = name.into();
        FinishedSpan {
            context,
            resource: name.clone(),
            name,
            service: None,
            span_type: None,
            start_unix_nanos: 0,
            duration_nanos: 0,
            error: false,
            meta: Vec::new(),
            metrics: Vec::new(),
        }
    }

    /// A span's parts, with its times: what it hands its exporter.
    #[inline]
    pub(crate) fn from_parts(parts: SpanParts, start_unix_nanos: i64, duration_nanos: i64) -> Self {
        let SpanParts {
            context,
            name,
            resource,
            span_type: inline_type,
            extra,
        } = parts;
        let Extra {
            service,
            span_type,
            error,
            tags,
            metrics,
        } = extra.map(|extra| *extra).unwrap_or_default();
        FinishedSpan {
            context,
            resource: resource.unwrap_or_else(|| name.clone()),
            name,
            service,
            span_type: span_type.or(inline_type.get().map(Cow::Borrowed)),
            start_unix_nanos,
            duration_nanos,
            error,
            meta: tags,
            metrics,
        }
    }
}

/// A finished span as the agent exporter's buffers hold one, its times already on the
/// wall clock: what [`FinishedSpan::from_parts`] made it from, again.
#[cfg(feature = "agent")]
impl From<FinishedSpan> for PendingSpan {
    fn from(span: FinishedSpan) -> PendingSpan {
        let FinishedSpan {
            context,
            name,
            resource,
            service,
            span_type,
            start_unix_nanos,
            duration_nanos,
            error,
            meta,
            metrics,
        } = span;
        let extra = Extra {
            service,
            span_type,
            error,
            tags: meta,
            metrics,
        };
        let plain = extra.service.is_none()
            && extra.span_type.is_none()
            && !extra.error
            && extra.tags.is_empty()
            && extra.metrics.is_empty();
        let parts = SpanParts {
            context,
            name,
            resource: Some(resource),
            span_type: InlineSpanType::default(),
            extra: (!plain).then(|| Box::new(extra)),
        };
        PendingSpan::on_wall_clock(parts, start_unix_nanos, duration_nanos)
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

/// An exporter that keeps finished spans in a buffer of its own (the agent exporter): a
/// finishing span's parts are moved into it as they are (times converted on the
/// exporter's thread), not made a `FinishedSpan` and moved through [`Exporter::export`]'s
/// `dyn` call and the layers behind it.
#[cfg(feature = "agent")]
pub(crate) trait Buffered: Send + Sync + 'static {
    /// Runs `push` with the buffer the span goes in, at most once (not when the
    /// exporter has stopped and counts the span as dropped).
    fn export_into(&self, push: &mut dyn FnMut(&mut Vec<PendingSpan>));

    /// The same exporter, for everything else (flushing).
    fn as_exporter(&self) -> &dyn Exporter;
}

/// The installed exporter: any, or one that buffers spans itself.
pub(crate) enum Installed {
    Any(Box<dyn Exporter>),
    #[cfg(feature = "agent")]
    Buffered(Box<dyn Buffered>),
}

impl Installed {
    fn as_dyn(&self) -> &dyn Exporter {
        match self {
            Installed::Any(exporter) => &**exporter,
            #[cfg(feature = "agent")]
            Installed::Buffered(exporter) => exporter.as_exporter(),
        }
    }
}

static EXPORTER: OnceCell<Installed> = OnceCell::new();

/// Installs the process-wide exporter. Spans that finish before this, or while none is
/// installed, are not recorded anywhere (their ids still appear in log lines).
///
/// # Errors
///
/// Fails, handing the exporter back, when one is already installed.
pub fn set_global<E: Exporter>(exporter: E) -> Result<(), AlreadySet<E>> {
    let mut slot = Some(exporter);
    install(|| Installed::Any(Box::new(slot.take().expect("taken once"))));
    match slot {
        None => Ok(()),
        Some(exporter) => Err(AlreadySet::new("exporter", exporter)),
    }
}

/// Installs an exporter that buffers spans itself; hands it back when an exporter is
/// already installed.
#[cfg(feature = "agent")]
pub(crate) fn set_buffered<E: Buffered>(exporter: E) -> Result<(), E> {
    let mut slot = Some(exporter);
    install(|| Installed::Buffered(Box::new(slot.take().expect("taken once"))));
    slot.map_or(Ok(()), Err)
}

fn install(make: impl FnOnce() -> Installed) {
    // Spans read the fast clock from now on: calibrate it here, not in the first span.
    crate::clock::warm_up();
    EXPORTER.get_or_init(make);
}

#[inline]
pub(crate) fn installed() -> Option<&'static dyn Exporter> {
    EXPORTER.get().map(Installed::as_dyn)
}

/// The installed exporter, as what it is.
#[inline]
pub(crate) fn installed_kind() -> Option<&'static Installed> {
    EXPORTER.get()
}

/// Whether an exporter is installed (without asking it for anything).
#[inline]
pub(crate) fn is_installed() -> bool {
    EXPORTER.get().is_some()
}

#[cfg(all(test, feature = "agent"))]
pub(crate) mod testing {
    use super::FinishedSpan;
    use crate::context::SpanContext;
    use crate::id::{SpanId, TraceId};

    /// A finished span named `n` of the 64-bit trace `trace`, with id `id` and parent
    /// `parent` (0: a root).
    pub(crate) fn finished(trace: u64, id: u64, parent: u64) -> FinishedSpan {
        let mut context = SpanContext::new(TraceId::from_parts(0, trace), SpanId::from_u64(id));
        context.parent_id = SpanId::from_u64(parent);
        FinishedSpan::new(context, "n")
    }

    /// `batch` as the agent exporter's buffers hold spans, its times as they are.
    #[cfg(feature = "agent")]
    pub(crate) fn pending(batch: &[FinishedSpan]) -> Vec<crate::span_parts::PendingSpan> {
        batch.iter().map(|span| span.clone().into()).collect()
    }
}
