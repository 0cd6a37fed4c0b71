//! Where finished spans go: the [`Exporter`] trait and the process-wide exporter.
//!
//! With the `agent` feature, `spanlog::agent` provides the exporter that sends spans to
//! a Datadog Agent; implement [`Exporter`] to send them anywhere else.

use std::borrow::Cow;
use std::time::Duration;

use once_cell::sync::OnceCell;

use crate::clock;
use crate::global::AlreadySet;
use crate::span_context::SpanContext;
use crate::span_parts::{EndedSpan, Extra, SpanParts};

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
    /// Links to other spans.
    pub links: Vec<crate::SpanLink>,
    /// Events during the span.
    pub events: Vec<crate::SpanEvent>,
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
            links: Vec::new(),
            events: Vec::new(),
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
            links,
            events,
            manual: _,
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
            links,
            events,
        }
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

/// The seam between the core and whatever receives finished spans: the core hands a
/// finishing span over as its own record ([`EndedSpan`]: its parts and fast-clock
/// readings), and the backend makes of it what it needs, on its side. An [`Exporter`]
/// sits behind it through [`Converting`]; a backend that buffers spans itself (the
/// agent exporter) implements it directly and keeps the span's parts as they are.
pub(crate) trait Collector: Send + Sync + 'static {
    /// Takes one finished span. Must return quickly and never block.
    fn collect(&self, span: EndedSpan<'_>);

    /// Sends what is queued, waiting at most `timeout`; `true` when everything went out.
    fn flush(&self, timeout: Duration) -> bool;

    /// Whether this collector decides sampling as it sends spans, taking each local
    /// root it sends out of the sampling roots table: a finished root then stays there
    /// until it is sent, for a part of its trace sent just before it.
    fn takes_roots(&self) -> bool {
        false
    }
}

/// An [`Exporter`] behind the seam: each span's times are placed on the wall clock on
/// the finishing thread and the span is handed over as a [`FinishedSpan`].
struct Converting<E>(E);

impl<E: Exporter> Collector for Converting<E> {
    #[inline]
    fn collect(&self, span: EndedSpan<'_>) {
        let (parts, start, end) = span.take();
        let (start_unix_nanos, duration_nanos) = clock::place_here(start, end);
        self.0.export(FinishedSpan::from_parts(
            parts,
            start_unix_nanos,
            duration_nanos,
        ));
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.0.flush(timeout)
    }
}

static COLLECTOR: OnceCell<Box<dyn Collector>> = OnceCell::new();

/// Installs the process-wide exporter. Spans that finish before this, or while none is
/// installed, are not recorded anywhere (their ids still appear in log lines).
///
/// # Errors
///
/// Fails, handing the exporter back, when one is already installed.
///
/// # Examples
///
/// ```
/// use spanlog::export::{Exporter, FinishedSpan};
///
/// struct Print;
///
/// impl Exporter for Print {
///     fn export(&self, span: FinishedSpan) {
///         println!("{} took {} ns", span.name, span.duration_nanos);
///     }
/// }
///
/// spanlog::export::try_init(Print).expect("the first exporter");
/// assert!(spanlog::export::try_init(Print).is_err());
/// ```
pub fn try_init<E: Exporter>(exporter: E) -> Result<(), AlreadySet<E>> {
    set_collector(Converting(exporter))
        .map_err(|Converting(exporter)| AlreadySet::new("exporter", exporter))
}

/// Like [`try_init`], but panics when an exporter is already installed.
///
/// # Panics
///
/// When an exporter is already installed.
pub fn init<E: Exporter>(exporter: E) {
    if try_init(exporter).is_err() {
        panic!("spanlog::export::init: an exporter was already installed");
    }
}

/// Installs the process-wide exporter.
///
/// # Errors
///
/// Fails, handing the exporter back, when one is already installed.
#[deprecated(since = "0.2.0", note = "use `export::try_init`")]
pub fn set_global<E: Exporter>(exporter: E) -> Result<(), AlreadySet<E>> {
    try_init(exporter)
}

/// Installs a backend behind the seam; hands it back when one is already installed.
pub(crate) fn set_collector<C: Collector>(collector: C) -> Result<(), C> {
    // Spans read the fast clock from now on: calibrate it here, not in the first span.
    clock::warm_up();
    let mut slot = Some(collector);
    COLLECTOR.get_or_init(|| Box::new(slot.take().expect("taken once")));
    slot.map_or(Ok(()), Err)
}

/// Flushes the installed exporter, waiting at most `timeout`; `true` when everything
/// queued went out (or when no exporter is installed). Call it before the process
/// exits: statics are not dropped, so nothing else will.
pub fn flush(timeout: Duration) -> bool {
    installed().is_none_or(|collector| collector.flush(timeout))
}

/// The installed backend.
#[inline]
pub(crate) fn installed() -> Option<&'static dyn Collector> {
    COLLECTOR.get().map(|collector| &**collector)
}

/// Whether an exporter is installed (without asking it for anything).
#[inline]
pub(crate) fn is_installed() -> bool {
    COLLECTOR.get().is_some()
}
