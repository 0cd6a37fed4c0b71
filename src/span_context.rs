//! The context a span hands to its children, log lines and other services: its ids
//! and the trace-wide data that travel with the trace.

use std::borrow::Cow;
use std::sync::Arc;

use crate::id::{SpanId, TraceId};

/// The identity of a span as its children, log lines and other services need it: the
/// trace it belongs to, its own id, its parent's id, and trace-wide data that travels
/// with the trace (sampling decision, origin, propagated tags).
///
/// It is cheap to clone (ids plus one optional reference count), `Send` and `Sync`: hand
/// it to another thread and [`enter`](SpanContext::enter) it there, or give it to
/// [`SpanBuilder::child_of`](crate::SpanBuilder::child_of).
///
/// # Examples
///
/// ```
/// let request = spanlog::start_span("web.request").entered();
/// let context = spanlog::current().expect("inside a span");
/// std::thread::spawn(move || {
///     let _guard = context.enter();
///     // Log lines here carry the request's ids; spans started here are its children.
///     let child = spanlog::start_span("worker").start();
///     assert_eq!(child.parent_id(), context.span_id());
/// })
/// .join()
/// .unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpanContext {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) parent_id: SpanId,
    pub(crate) trace: Option<Arc<TraceMeta>>,
    /// The span lives in another process: a context extracted from headers (or taken
    /// from an OpenTelemetry span), not a span of this one.
    pub(crate) remote: bool,
    /// The parent is such a remote span: this span is its process's local root.
    pub(crate) parent_remote: bool,
    /// The sampling priority decided upstream, when `has_upstream_priority`: kept
    /// inline, so that a context that carries nothing else needs no trace data.
    pub(crate) upstream_priority: i32,
    pub(crate) has_upstream_priority: bool,
}

/// Trace-wide data that children inherit and propagation carries between services.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct TraceMeta {
    /// Where the trace started (`x-datadog-origin`), e.g. `synthetics` or `rum`.
    pub(crate) origin: Option<String>,
    /// Propagated `_dd.p.*` tags other than `_dd.p.tid`, in arrival order.
    pub(crate) tags: Vec<(String, String)>,
    /// Other vendors' `tracestate` members, in order, kept for the next hop.
    pub(crate) foreign_tracestate: Vec<String>,
    /// The last Datadog span id upstream (`p:` in `tracestate`, copied as it came, or
    /// the Datadog parent a W3C parent replaced, as 16 hex digits): `_dd.parent_id` on
    /// this process's root span.
    pub(crate) last_parent_id: Option<String>,
    /// What went wrong with the propagated tags on the way in (`extract_max_size`,
    /// `decoding_error`, `malformed_tid <value>`): `_dd.propagation_error` on this
    /// process's root span.
    pub(crate) propagation_error: Option<Cow<'static, str>>,
    /// W3C's `random` trace flag (level 2) as it arrived: set again on every
    /// `traceparent` sent for the same trace.
    pub(crate) random_flag: bool,
    /// Links the local root span continuing this context gets: to contexts of other
    /// styles that extraction did not continue (`terminated_context`), or to the one
    /// it restarted from (`propagation_behavior_extract`).
    pub(crate) links: Vec<crate::links::SpanLink>,
    /// W3C baggage: items the application set or received, in order, keys unique.
    pub(crate) baggage: Vec<(String, String)>,
    /// Incoming baggage items chosen by `DD_TRACE_BAGGAGE_TAG_KEYS`, as
    /// `baggage.<key>` tags for this process's root span.
    pub(crate) baggage_tags: Vec<(String, String)>,
}

/// Sets `key` to `value`, in place when the key is there already (its position kept),
/// else at the end.
pub(crate) fn put_baggage(items: &mut Vec<(String, String)>, key: String, value: String) {
    match items.iter_mut().find(|(k, _)| *k == key) {
        Some((_, old)) => *old = value,
        None => items.push((key, value)),
    }
}

impl TraceMeta {
    /// The data to share between the contexts of a trace; `None` when there is none
    /// (the common case: no allocation).
    pub(crate) fn shared(self) -> Option<Arc<TraceMeta>> {
        let empty = self.origin.is_none()
            && self.tags.is_empty()
            && self.foreign_tracestate.is_empty()
            && self.last_parent_id.is_none()
            && self.propagation_error.is_none()
            && !self.random_flag
            && self.links.is_empty()
            && self.baggage.is_empty()
            && self.baggage_tags.is_empty();
        (!empty).then(|| Arc::new(self))
    }
}

impl SpanContext {
    /// A context for the given ids, with no parent and no trace-wide data. Use it to
    /// continue a trace whose ids arrived by other means.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        SpanContext {
            trace_id,
            span_id,
            parent_id: SpanId::ZERO,
            trace: None,
            remote: false,
            parent_remote: false,
            upstream_priority: 0,
            has_upstream_priority: false,
        }
    }

    /// The sampling priority decided upstream, if any.
    #[inline]
    pub(crate) fn upstream_priority(&self) -> Option<i32> {
        self.has_upstream_priority.then_some(self.upstream_priority)
    }

    #[inline]
    pub(crate) fn set_upstream_priority(&mut self, priority: Option<i32>) {
        self.upstream_priority = priority.unwrap_or(0);
        self.has_upstream_priority = priority.is_some();
    }

    /// The trace id.
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The span id.
    #[inline]
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent span's id; zero for a root span and for remote contexts.
    pub fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The trace's sampling priority: the one decided upstream, or 1 (kept by the
    /// default mechanism) for a trace that started here or arrived without a decision.
    pub fn sampling_priority(&self) -> i32 {
        self.upstream_priority().unwrap_or(1)
    }

    /// Whether this span is the first of its trace in this process: a root, or the
    /// child of a context that came from another service. Sampling decides on it.
    pub fn is_local_root(&self) -> bool {
        self.parent_id.is_zero() || self.parent_remote
    }

    /// The trace's origin (`x-datadog-origin`), if any.
    pub fn origin(&self) -> Option<&str> {
        self.trace.as_ref().and_then(|t| t.origin.as_deref())
    }

    /// The value of the baggage item `key`, if any.
    ///
    /// Baggage is W3C's way to send key-value pairs along a request: items arrive in
    /// the `baggage` header, are inherited by every span started from this context,
    /// and are sent on by [`inject`](crate::propagation::inject).
    ///
    /// ```
    /// let mut span = spanlog::start_span("web.request").start();
    /// span.set_baggage("user.id", "42");
    /// let child = spanlog::start_span("db.query").child_of(span.context().clone()).start();
    /// assert_eq!(child.context().baggage_item("user.id"), Some("42"));
    /// ```
    pub fn baggage_item(&self, key: &str) -> Option<&str> {
        self.baggage_slice()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every baggage item, in the order they were set or received.
    pub fn baggage(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.baggage_slice()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub(crate) fn baggage_slice(&self) -> &[(String, String)] {
        self.trace
            .as_deref()
            .map(|t| t.baggage.as_slice())
            .unwrap_or_default()
    }

    /// Sets the baggage item `key` to `value` on this context (and so on every span
    /// started from it from now on); an item already there keeps its place.
    pub fn set_baggage_item(&mut self, key: impl Into<String>, value: impl Into<String>) {
        let meta = Arc::make_mut(self.trace.get_or_insert_with(Default::default));
        put_baggage(&mut meta.baggage, key.into(), value.into());
    }

    /// Removes the baggage item `key` and returns its value, if it was there.
    pub fn remove_baggage_item(&mut self, key: &str) -> Option<String> {
        let index = self.baggage_slice().iter().position(|(k, _)| k == key)?;
        let meta = Arc::make_mut(self.trace.as_mut()?);
        Some(meta.baggage.remove(index).1)
    }

    /// Removes every baggage item.
    pub fn clear_baggage(&mut self) {
        if let Some(meta) = self.trace.as_mut().filter(|t| !t.baggage.is_empty()) {
            Arc::make_mut(meta).baggage.clear();
        }
    }
}

impl crate::links::SpanLink {
    /// A link to the span `context` describes, with its sampling decision as the W3C
    /// sampled flag.
    pub fn to(context: &SpanContext) -> Self {
        crate::links::SpanLink::new(context.trace_id(), context.span_id())
            .flags(u8::from(context.sampling_priority() > 0))
    }
}
