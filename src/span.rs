//! Spans: finish-on-drop, tags, guards, and `Span::log()` for manual injection.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use crate::annotations::{self, Annotation};
use crate::clock;
use crate::config;
use crate::context::ContextGuard;
use crate::correlation::Correlation;
use crate::export;
use crate::id::{SpanId, TraceId};
use crate::ids_text::IdsText;
use crate::sampling::roots;
use crate::span_context::SpanContext;

/// A name, resource, tag or other text of a span: borrowed for the life of the
/// program, or owned.
pub(crate) use crate::annotations::Text;
use crate::span_parts::{EndedSpan, SpanParts};
pub(crate) use crate::span_parts::{Extra, InlineSpanType, set, set_span_type};

/// A unit of work: a name, a resource, ids, a start time and, once finished, a duration.
///
/// A span finishes when it is dropped (or by [`Span::finish`]); the finished span goes
/// to the installed [exporter](crate::export), if any. It is `Send`: it may start on
/// one thread and finish on another, and its duration is measured with a monotonic
/// clock either way. Entering it ([`Span::enter`]) makes it current on the entering
/// thread only.
///
/// # Cost
///
/// A span with `&'static str` name, resource and span type allocates nothing, and
/// with no exporter installed it reads no clock. A service, tags, metrics, the error
/// flag or an owned span type live in a part of the span allocated once, by the first
/// setter that needs it.
pub struct Span {
    pub(crate) parts: SpanParts,
    /// When the span started, on the fast monotonic clock (`clock::now`); 0 when no
    /// exporter was installed then.
    pub(crate) start: clock::Stamp,
}

impl Span {
    /// Makes this span current on this thread until the guard is dropped.
    ///
    /// ```
    /// let span = spanlog::start_span("work").start();
    /// {
    ///     let _entered = span.enter();
    ///     assert_eq!(spanlog::current().map(|c| c.span_id()), Some(span.span_id()));
    /// }
    /// assert_eq!(spanlog::current(), None);
    /// ```
    #[inline]
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            _guard: self.parts.context.enter(),
            _span: PhantomData,
        }
    }

    /// Runs `f` with this span current, then restores the previous one.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _entered = self.enter();
        f()
    }

    /// The correlation fields of this span for a log line, as Datadog's Go tracer prints
    /// a span with `%v` (manual injection). Uses the global [`Config`](crate::Config).
    ///
    /// ```
    /// let span = spanlog::start_span("web.request").resource("/posts").start();
    /// let line = format!("my log message {}", span.log());
    /// assert!(line.contains(&format!(r#"dd.span_id="{}" dd.parent_id="0""#, span.span_id())));
    /// ```
    pub fn log(&self) -> Correlation<'static> {
        let c = &self.parts.context;
        let wide = config::global().trace_id_128_logging();
        Correlation::global(Some(IdsText::new(c.trace_id, c.span_id, c.parent_id, wide)))
    }

    /// This span's context: what children and other threads need.
    pub fn context(&self) -> &SpanContext {
        &self.parts.context
    }

    /// The trace id.
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        self.parts.context.trace_id
    }

    /// The span id.
    #[inline]
    pub fn span_id(&self) -> SpanId {
        self.parts.context.span_id
    }

    /// The parent's span id, zero for a root span.
    #[inline]
    pub fn parent_id(&self) -> SpanId {
        self.parts.context.parent_id
    }

    /// The operation name.
    pub fn name(&self) -> &str {
        &self.parts.name
    }

    /// The resource (the name unless one was set).
    pub fn resource(&self) -> &str {
        self.parts.resource.as_deref().unwrap_or(&self.parts.name)
    }

    /// Replaces the resource.
    pub fn set_resource(&mut self, resource: impl Into<Text>) {
        self.parts.resource = Some(resource.into());
        self.root_changed();
    }

    /// Replaces the service this span belongs to (see [`SpanBuilder::service`](crate::SpanBuilder::service)).
    pub fn set_service(&mut self, service: impl Into<Text>) {
        self.parts.extra.get_or_insert_default().service = Some(service.into());
        self.root_changed();
    }

    /// Replaces the span type (`web`, `sql`, ...).
    pub fn set_span_type(&mut self, span_type: impl Into<Text>) {
        set_span_type(
            &mut self.parts.span_type,
            &mut self.parts.extra,
            span_type.into(),
        );
    }

    /// Sets a string tag (Datadog `meta`), replacing one with the same key.
    ///
    /// As in Datadog's tracers, `manual.keep` and `manual.drop` are decisions, not
    /// tags: they keep or drop the trace, as [`sampling::keep`](crate::sampling::keep)
    /// and [`sampling::reject`](crate::sampling::reject) do.
    pub fn set_tag(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        let key = key.into();
        if let Some(keep_trace) = crate::sampling::manual_tag(&key) {
            return crate::sampling::decide_by_hand(&self.parts.context, keep_trace);
        }
        set(
            &mut self.parts.extra.get_or_insert_default().tags,
            key,
            value.into(),
        );
        self.root_changed();
    }

    /// Sets a numeric tag (Datadog `metrics`), replacing one with the same key.
    pub fn set_metric(&mut self, key: impl Into<Text>, value: f64) {
        set(
            &mut self.parts.extra.get_or_insert_default().metrics,
            key.into(),
            value,
        );
        self.root_changed();
    }

    /// Links the span to another span (see [`SpanLink`](crate::SpanLink)).
    pub fn add_link(&mut self, link: crate::SpanLink) {
        self.parts.extra.get_or_insert_default().links.push(link);
    }

    /// The span's links, in the order they were added.
    pub fn links(&self) -> &[crate::SpanLink] {
        self.parts.extra.as_deref().map_or(&[], |e| &e.links)
    }

    /// Records an event during the span (see [`SpanEvent`](crate::SpanEvent)).
    pub fn add_event(&mut self, event: crate::SpanEvent) {
        self.parts.extra.get_or_insert_default().events.push(event);
    }

    /// The span's events, in the order they were recorded.
    pub fn events(&self) -> &[crate::SpanEvent] {
        self.parts.extra.as_deref().map_or(&[], |e| &e.events)
    }

    /// Sets the W3C baggage item `key` to `value`: spans started from this one from
    /// now on (also through this thread's stack, where it is entered) inherit it, and
    /// it is sent on with the trace's headers. An item already there keeps its place.
    ///
    /// ```
    /// let mut request = spanlog::start_span("web.request").entered();
    /// request.span_mut().set_baggage("user.id", "42");
    /// let query = spanlog::start_span("db.query").start();
    /// assert_eq!(query.baggage_item("user.id"), Some("42"));
    /// ```
    pub fn set_baggage(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.parts.context.set_baggage_item(key, value);
        crate::context::refresh(&self.parts.context);
    }

    /// The value of the baggage item `key`, if any (all items:
    /// [`SpanContext::baggage`] on [`context`](Span::context)).
    pub fn baggage_item(&self, key: &str) -> Option<&str> {
        self.parts.context.baggage_item(key)
    }

    /// Removes the baggage item `key` and returns its value, if it was there.
    pub fn remove_baggage(&mut self, key: &str) -> Option<String> {
        let removed = self.parts.context.remove_baggage_item(key);
        if removed.is_some() {
            crate::context::refresh(&self.parts.context);
        }
        removed
    }

    /// Removes every baggage item.
    pub fn clear_baggage(&mut self) {
        self.parts.context.clear_baggage();
        crate::context::refresh(&self.parts.context);
    }

    /// The string tag `key`, if set.
    ///
    /// ```
    /// let mut span = spanlog::start_span("web.request").tag("http.method", "GET").start();
    /// span.set_tag("http.status_code", "200");
    /// assert_eq!(span.tag("http.method"), Some("GET"));
    /// assert_eq!(span.tag("http.status_code"), Some("200"));
    /// assert_eq!(span.tag("missing"), None);
    /// ```
    pub fn tag(&self, key: &str) -> Option<&str> {
        let extra = self.parts.extra.as_deref()?;
        extra.tags.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
    }

    /// The numeric tag `key`, if set.
    pub fn metric(&self, key: &str) -> Option<f64> {
        let extra = self.parts.extra.as_deref()?;
        extra
            .metrics
            .iter()
            .find(|(k, _)| k == key)
            .map(|&(_, v)| v)
    }

    /// Marks the span as failed (or not).
    pub fn set_error(&mut self, error: bool) {
        match &mut self.parts.extra {
            Some(extra) => extra.error = error,
            None if error => self.parts.extra.get_or_insert_default().error = true,
            None => {}
        }
    }

    /// Marks the span as failed with the error's details, as Datadog's Error Tracking
    /// reads them: `error.message` (its `Display`), `error.type` (its type name) and
    /// `error.stack` (the chain of `source()`s, then a backtrace when `RUST_BACKTRACE` or
    /// `RUST_LIB_BACKTRACE` enables one).
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.set_error(true);
        for (key, value) in crate::current_span::error_details(error) {
            self.set_tag(key, value);
        }
    }

    /// The trace's sampling decision, made now if it was not made yet, as the exporter
    /// would make it: from the trace's local root as it is now (this span when it is
    /// the local root, or when the sampler's rules do not read the root), and recorded
    /// for the rest of the trace; `None` when the decision came with the trace from
    /// upstream (see [`SpanContext::sampling_priority`]). See [`crate::sampling`].
    ///
    /// ```
    /// let span = spanlog::start_span("web.request").start();
    /// let decision = span.sampling_decision().expect("a trace that started here");
    /// assert_eq!(decision.priority, 1); // no rule, no Agent rate: kept
    /// assert_eq!(decision.mechanism.decision_maker(), "-0");
    /// ```
    pub fn sampling_decision(&self) -> Option<crate::sampling::Decision> {
        let config = config::global();
        crate::sampling::decide_for_export(&self.parts.context, &self.root_info(config), false)
    }

    /// What `sampler` would decide for this span's trace with this span as its local
    /// root, without recording it: to try rules, or to measure them.
    pub fn sampling_decision_by(
        &self,
        sampler: &crate::sampling::Sampler,
    ) -> crate::sampling::Decision {
        sampler.decide(&self.root_info(config::global()))
    }

    fn root_info<'a>(&'a self, config: &'a crate::Config) -> crate::sampling::RootInfo<'a> {
        let extra = self.parts.extra.as_deref();
        crate::sampling::RootInfo::of_span(
            self.parts.context.trace_id,
            config,
            &self.parts.name,
            extra.and_then(|e| e.service.as_deref()),
            self.parts.resource.as_deref(),
            extra.map(|e| e.tags.as_slice()).unwrap_or_default(),
            extra.map(|e| e.metrics.as_slice()).unwrap_or_default(),
        )
    }

    /// A local root's entry in the sampling roots table follows its changes (a
    /// relaxed load when it has none; a child span skips even that).
    #[inline]
    fn root_changed(&self) {
        if self.parts.context.is_local_root() {
            crate::sampling::roots::changed(&self.parts);
        }
    }

    /// Whether the span is marked as failed.
    pub fn is_error(&self) -> bool {
        self.parts.extra.as_ref().is_some_and(|extra| extra.error)
    }

    /// Finishes the span now; the same as dropping it.
    pub fn finish(self) {}
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        // Changes made through `with_current_span`, a local root registered for
        // sampling: one relaxed load when there are none.
        if annotations::finish_has_work() {
            self.finish_work();
        }
        if let Some(collector) = export::installed() {
            collector.collect(EndedSpan::new(&mut self.parts, self.start));
        }
    }
}

impl Span {
    #[cold]
    fn finish_work(&mut self) {
        if let Some(changes) = annotations::take(self.parts.context.span_id.to_u64()) {
            self.apply(changes);
        }
        roots::finished(&self.parts.context, export::installed());
        #[cfg(feature = "opentelemetry")]
        crate::opentelemetry::bridge::finished(&self.parts);
    }

    fn apply(&mut self, changes: Vec<Annotation>) {
        for change in changes {
            match change {
                Annotation::Tag(key, value) => self.set_tag(key, value),
                Annotation::Metric(key, value) => self.set_metric(key, value),
                Annotation::Resource(resource) => self.set_resource(resource),
                Annotation::Error(error) => self.set_error(error),
            }
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("name", &self.parts.name)
            .field("resource", &self.resource())
            .field("trace_id", &self.parts.context.trace_id)
            .field("span_id", &self.parts.context.span_id)
            .field("parent_id", &self.parts.context.parent_id)
            .field("error", &self.is_error())
            .finish_non_exhaustive()
    }
}

impl From<&Span> for SpanContext {
    fn from(span: &Span) -> Self {
        span.parts.context.clone()
    }
}

/// Keeps a borrowed [`Span`] current on this thread; made by [`Span::enter`]. Dropping it
/// leaves the span (it does not finish it).
#[must_use = "the span is current only while the guard lives; `let _ = ...` drops it at once"]
#[derive(Debug)]
pub struct Entered<'a> {
    _guard: ContextGuard,
    _span: PhantomData<&'a Span>,
}

/// A span that is current on this thread and finishes when dropped; made by
/// [`SpanBuilder::entered`](crate::SpanBuilder::entered). It dereferences to the [`Span`].
#[must_use = "the span is current only while the guard lives; `let _ = ...` drops it at once"]
#[derive(Debug)]
pub struct EnteredSpan {
    // Field order matters: the guard leaves the stack before the span finishes.
    pub(crate) _guard: ContextGuard,
    pub(crate) span: Span,
}

impl EnteredSpan {
    /// Mutable access to the span, to set tags or mark an error while it is current.
    pub fn span_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl Deref for EnteredSpan {
    type Target = Span;

    #[inline]
    fn deref(&self) -> &Span {
        &self.span
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context;
    use crate::span_builder::start_span;

    #[test]
    fn a_span_started_inside_another_is_its_child() {
        let parent = start_span("parent").entered();
        let child = start_span("child").start();
        assert_eq!(child.trace_id(), parent.trace_id());
        assert_eq!(child.parent_id(), parent.span_id());
        assert_ne!(child.span_id(), parent.span_id());
    }

    #[test]
    fn root_ignores_the_current_span() {
        let _parent = start_span("parent").entered();
        let root = start_span("other").root().start();
        assert_eq!(root.parent_id(), SpanId::ZERO);
        assert_ne!(root.trace_id(), _parent.trace_id());
    }

    #[test]
    fn child_of_an_explicit_context() {
        let remote = SpanContext::new(TraceId::from_parts(1, 2), SpanId::from_u64(3));
        let span = start_span("x").child_of(remote).start();
        assert_eq!(span.trace_id(), TraceId::from_parts(1, 2));
        assert_eq!(span.parent_id(), SpanId::from_u64(3));
        let invalid = SpanContext::new(TraceId::ZERO, SpanId::from_u64(3));
        let span = start_span("x").child_of(invalid).start();
        assert!(!span.trace_id().is_zero());
        assert_eq!(
            span.parent_id(),
            SpanId::ZERO,
            "a zero trace id starts a new trace"
        );
    }

    #[test]
    fn builder_options_and_setters() {
        let mut span = start_span("web.request")
            .resource("/posts")
            .service("blog")
            .span_type("web")
            .tag("http.method", "GET")
            .tag("http.method", "POST")
            .start();
        assert_eq!(span.name(), "web.request");
        assert_eq!(span.resource(), "/posts");
        let tags = |span: &Span| span.parts.extra.as_ref().unwrap().tags.clone();
        assert_eq!(
            tags(&span),
            vec![(Text::from("http.method"), Text::from("POST"))]
        );
        span.set_resource("/posts/1");
        assert_eq!(span.resource(), "/posts/1");
        assert!(!span.is_error());
        span.record_error(&std::fmt::Error);
        assert!(span.is_error());
        assert_eq!(
            tags(&span)[1],
            ("error.message".into(), std::fmt::Error.to_string().into())
        );
        assert_eq!(
            tags(&span)[2],
            ("error.type".into(), "core::fmt::Error".into())
        );
        assert_eq!(start_span("n").start().resource(), "n");
    }

    /// Moving a larger value costs a call to `memcpy` (see BENCHMARKS.md): keep what
    /// `entered()` returns within 128 bytes.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_entered_span_fits_in_128_bytes() {
        assert!(std::mem::size_of::<EnteredSpan>() <= 128);
        // Ids (32 bytes), the shared trace data (8) and two flags.
        assert_eq!(std::mem::size_of::<SpanContext>(), 48);
    }

    #[test]
    fn entered_span_leaves_the_stack_when_dropped() {
        let outer = start_span("outer").entered();
        let inner = start_span("inner").entered();
        assert_eq!(context::current().unwrap().span_id(), inner.span_id());
        drop(inner);
        assert_eq!(context::current().unwrap().span_id(), outer.span_id());
        drop(outer);
        assert!(context::current().is_none());
    }
}
