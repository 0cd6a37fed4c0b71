//! A wrapper around any OpenTelemetry tracer provider that lets spanlog know each span's
//! parent, and lets OpenTelemetry spans be children of spanlog spans.

use std::borrow::Cow;
use std::time::SystemTime;

use ::opentelemetry::trace::{
    self as otel, SpanBuilder, SpanContext as OtelContext, Status, TraceContextExt,
};
use ::opentelemetry::{Context, InstrumentationScope, KeyValue};

use super::{parents, spanlog_parent, to_otel};

/// Wraps an OpenTelemetry [`TracerProvider`](otel::TracerProvider) (dd-trace-rs's, the
/// SDK's, any) so that log lines inside its spans carry the right `dd.parent_id`, and so
/// that its spans started inside a spanlog span are that span's children.
///
/// Install it as the global provider with [`set_tracer_provider`](super::set_tracer_provider),
/// or call [`tracer`](otel::TracerProvider::tracer) on it directly.
#[derive(Clone, Debug)]
pub struct CorrelatedTracerProvider<P> {
    inner: P,
}

impl<P> CorrelatedTracerProvider<P> {
    /// Wraps `inner`. From now on, log lines and spanlog spans look for the active
    /// OpenTelemetry span (see [`look_up_active_spans`](super::look_up_active_spans)).
    pub fn new(inner: P) -> Self {
        super::lookup::enable();
        CorrelatedTracerProvider { inner }
    }

    /// The wrapped provider (to shut it down, say).
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P: otel::TracerProvider> otel::TracerProvider for CorrelatedTracerProvider<P> {
    type Tracer = CorrelatedTracer<P::Tracer>;

    fn tracer_with_scope(&self, scope: InstrumentationScope) -> Self::Tracer {
        CorrelatedTracer {
            inner: self.inner.tracer_with_scope(scope),
        }
    }
}

/// The tracer of a [`CorrelatedTracerProvider`]: it starts spans with the wrapped
/// tracer, after choosing their parent as described in [`crate::opentelemetry`].
#[derive(Clone, Debug)]
pub struct CorrelatedTracer<T> {
    inner: T,
}

impl<T: otel::Tracer> otel::Tracer for CorrelatedTracer<T> {
    type Span = CorrelatedSpan<T::Span>;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        let (span, parent_id) = match spanlog_parent(parent_cx) {
            Some(parent) => {
                let cx = parent_cx.with_remote_span_context(to_otel(&parent));
                let span = self.inner.build_with_context(builder, &cx);
                (span, parent.span_id().to_u64())
            }
            None => {
                let span = self.inner.build_with_context(builder, parent_cx);
                let parent = parent_cx.span();
                let parent = parent.span_context();
                let same_trace = parent.is_valid()
                    && parent.trace_id() == otel::Span::span_context(&span).trace_id();
                let parent_id = match same_trace {
                    true => u64::from_be_bytes(parent.span_id().to_bytes()),
                    false => 0,
                };
                (span, parent_id)
            }
        };
        let span_id = u64::from_be_bytes(otel::Span::span_context(&span).span_id().to_bytes());
        parents::record(span_id, parent_id);
        CorrelatedSpan { inner: span }
    }
}

/// A span started by a [`CorrelatedTracer`]: the wrapped tracer's span, which spanlog
/// forgets when it is dropped.
#[derive(Debug)]
pub struct CorrelatedSpan<S: otel::Span> {
    inner: S,
}

impl<S: otel::Span> CorrelatedSpan<S> {
    /// The wrapped span.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: otel::Span> Drop for CorrelatedSpan<S> {
    fn drop(&mut self) {
        parents::forget(u64::from_be_bytes(
            self.inner.span_context().span_id().to_bytes(),
        ));
    }
}

impl<S: otel::Span> otel::Span for CorrelatedSpan<S> {
    fn add_event_with_timestamp<N>(
        &mut self,
        name: N,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) where
        N: Into<Cow<'static, str>>,
    {
        self.inner
            .add_event_with_timestamp(name, timestamp, attributes)
    }

    fn span_context(&self) -> &OtelContext {
        self.inner.span_context()
    }

    fn is_recording(&self) -> bool {
        self.inner.is_recording()
    }

    fn set_attribute(&mut self, attribute: KeyValue) {
        self.inner.set_attribute(attribute)
    }

    fn set_status(&mut self, status: Status) {
        self.inner.set_status(status)
    }

    fn update_name<N>(&mut self, new_name: N)
    where
        N: Into<Cow<'static, str>>,
    {
        self.inner.update_name(new_name)
    }

    fn add_link(&mut self, span_context: OtelContext, attributes: Vec<KeyValue>) {
        self.inner.add_link(span_context, attributes)
    }

    fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        self.inner.end_with_timestamp(timestamp)
    }
}
