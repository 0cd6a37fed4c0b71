//! Starting spans: [`start_span`] and its [`SpanBuilder`].

use crate::active;
use crate::clock;
use crate::config;
use crate::export;
use crate::id::{SpanId, TraceId};
use crate::span::{EnteredSpan, Extra, InlineSpanType, Span, Text, set, set_span_type};
use crate::span_context::SpanContext;
use crate::span_parts::SpanParts;

/// Starts building a span named `name` (Datadog's operation name, e.g. `web.request`).
///
/// Unless told otherwise with [`SpanBuilder::child_of`] or [`SpanBuilder::root`], the span
/// is a child of the span current on this thread when it starts, or the root of a new
/// trace.
///
/// # Examples
///
/// ```
/// let request = spanlog::start_span("web.request").resource("/posts").entered();
/// let query = spanlog::start_span("db.query").span_type("sql").entered();
/// assert_eq!(query.trace_id(), request.trace_id());
/// assert_eq!(query.parent_id(), request.span_id());
/// ```
#[inline]
pub fn start_span(name: impl Into<Text>) -> SpanBuilder {
    SpanBuilder {
        name: name.into(),
        resource: None,
        span_type: InlineSpanType::default(),
        extra: None,
        parent: Parent::Current,
    }
}

/// Options for a span that has not started yet; made by [`start_span`].
#[must_use = "a span builder does nothing until `start()` or `entered()`"]
#[derive(Debug)]
pub struct SpanBuilder {
    name: Text,
    resource: Option<Text>,
    span_type: InlineSpanType,
    extra: Option<Box<Extra>>,
    parent: Parent,
}

#[derive(Debug)]
enum Parent {
    Current,
    Of(SpanContext),
    Root,
}

impl SpanBuilder {
    /// The resource, e.g. the route `/posts` or a query; defaults to the name.
    #[inline]
    pub fn resource(mut self, resource: impl Into<Text>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// The service this span belongs to, when it is not the configured one (a database
    /// client span may name the database, say). Log lines keep the configured service.
    pub fn service(mut self, service: impl Into<Text>) -> Self {
        self.extra.get_or_insert_default().service = Some(service.into());
        self
    }

    /// The span type, e.g. `web`, `sql`, `http`, `cache`.
    #[inline]
    pub fn span_type(mut self, span_type: impl Into<Text>) -> Self {
        set_span_type(&mut self.span_type, &mut self.extra, span_type.into());
        self
    }

    /// Tags whose keys the caller knows are distinct and none of the sampling ones
    /// (middleware setting its own keys on a new span), in place of any set before:
    /// the vector becomes the span's tag list as it is, with no search.
    #[cfg(feature = "tower")]
    #[inline]
    pub(crate) fn new_tags(mut self, tags: Vec<(Text, Text)>) -> Self {
        debug_assert!(
            tags.iter()
                .all(|(k, _)| crate::sampling::manual_tag(k).is_none())
        );
        self.extra.get_or_insert_default().tags = tags;
        self
    }

    /// Adds a string tag (Datadog `meta`). A later tag with the same key replaces it.
    /// `manual.keep` and `manual.drop` keep or drop the trace instead (see
    /// [`Span::set_tag`]).
    pub fn tag(mut self, key: impl Into<Text>, value: impl Into<Text>) -> Self {
        let key = key.into();
        if let Some(keep_trace) = crate::sampling::manual_tag(&key) {
            // Out of line with the other options most spans never set: the builder
            // stays small enough to move without `memcpy`.
            self.extra.get_or_insert_default().manual = Some(keep_trace);
            return self;
        }
        set(
            &mut self.extra.get_or_insert_default().tags,
            key,
            value.into(),
        );
        self
    }

    /// Links the span to another span (see [`SpanLink`](crate::SpanLink)).
    pub fn link(mut self, link: crate::SpanLink) -> Self {
        self.extra.get_or_insert_default().links.push(link);
        self
    }

    /// Makes the span a child of `parent`, a span of this process or a context that came
    /// from another service. A parent with a zero trace id is ignored, and the span
    /// starts a new trace.
    #[inline]
    pub fn child_of(mut self, parent: impl Into<SpanContext>) -> Self {
        let parent = parent.into();
        if parent.remote {
            incoming_links(&parent, &mut self.extra);
        }
        self.parent = Parent::Of(parent);
        self
    }

    /// Makes the span the root of a new trace, whatever is current on this thread.
    #[inline]
    pub fn root(mut self) -> Self {
        self.parent = Parent::Root;
        self
    }

    /// Starts the span. It is not current until [entered](Span::enter).
    #[inline(always)]
    pub fn start(self) -> Span {
        let parent = match self.parent {
            Parent::Current => active::current(),
            Parent::Of(parent) => Some(parent),
            Parent::Root => None,
        }
        .filter(|parent| !parent.trace_id.is_zero());
        // Only an exporter reads the time: without one, a span reads no clock.
        let start = if export::is_installed() {
            clock::now()
        } else {
            0
        };
        let context = match parent {
            // Everything trace-wide (ids, trace data, upstream's decision) carries over.
            Some(parent) => SpanContext {
                span_id: SpanId::random(),
                parent_id: parent.span_id,
                remote: false,
                parent_remote: parent.remote,
                ..parent
            },
            None => {
                let (trace_id, span_id) =
                    TraceId::random_root(config::global().trace_id_128_generation(), start);
                SpanContext::new(trace_id, span_id)
            }
        };
        let span = Span {
            parts: SpanParts {
                context,
                name: self.name,
                resource: self.resource,
                span_type: self.span_type,
                extra: self.extra,
            },
            start,
        };
        #[cfg(feature = "opentelemetry")]
        let span = match crate::opentelemetry::bridge::on() {
            true => bridged(span),
            false => span,
        };
        // After the bridge, which may give the span its provider's ids.
        if let Some(keep_trace) = span.parts.extra.as_deref().and_then(|e| e.manual) {
            crate::sampling::decide_by_hand(&span.parts.context, keep_trace);
        }
        if crate::sampling::roots::may_register() && span.parts.context.is_local_root() {
            return registered(span);
        }
        span
    }

    /// Starts the span and makes it current on this thread; it finishes when the
    /// returned guard is dropped. The common case in one call.
    #[inline(always)]
    pub fn entered(self) -> EnteredSpan {
        let span = self.start();
        EnteredSpan {
            _guard: span.parts.context.enter(),
            span,
        }
    }
}

/// The links extraction left for the span that continues a remote context (to the
/// contexts it did not continue): out of line, for remote parents only.
#[cold]
#[inline(never)]
fn incoming_links(parent: &SpanContext, extra: &mut Option<Box<Extra>>) {
    if let Some(meta) = parent.trace.as_deref().filter(|m| !m.links.is_empty()) {
        extra
            .get_or_insert_default()
            .links
            .extend(meta.links.iter().cloned());
    }
}

/// A local root span, registered for sampling decisions made before it is sent (see
/// `sampling::roots`): out of line, so that a span start carries only a branch.
#[cold]
#[inline(never)]
fn registered(span: Span) -> Span {
    crate::sampling::roots::started(&span.parts);
    span
}

/// A span made an OpenTelemetry span of the registered provider (see
/// `opentelemetry::bridge`): out of line, so that a span start carries only a branch.
#[cfg(feature = "opentelemetry")]
#[cold]
#[inline(never)]
fn bridged(mut span: Span) -> Span {
    crate::opentelemetry::bridge::started(&mut span.parts);
    span
}
