//! The header formats, and what extraction finds.

use std::fmt;

use crate::span_context::SpanContext;

/// A header format for trace context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PropagationStyle {
    /// `x-datadog-trace-id`, `x-datadog-parent-id`, `x-datadog-sampling-priority`,
    /// `x-datadog-origin`, `x-datadog-tags`.
    Datadog,
    /// W3C Trace Context: `traceparent` and `tracestate`.
    TraceContext,
    /// Zipkin's B3 in several headers: `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled`,
    /// `x-b3-flags` (`b3multi`).
    B3Multi,
    /// Zipkin's B3 in one header, `b3: {trace id}-{span id}-{sampling state}`
    /// (`b3`, also named `b3 single header`).
    B3Single,
    /// W3C baggage: application-defined key-value pairs in the `baggage` header. It
    /// carries no trace: extracted alone, it gives a new trace that keeps the items.
    Baggage,
}

impl PropagationStyle {
    fn name(self) -> &'static str {
        match self {
            PropagationStyle::Datadog => "datadog",
            PropagationStyle::TraceContext => "tracecontext",
            PropagationStyle::B3Multi => "b3multi",
            PropagationStyle::B3Single => "b3",
            PropagationStyle::Baggage => "baggage",
        }
    }
}

impl fmt::Display for PropagationStyle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What extraction does with a valid incoming context
/// (`DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExtractBehavior {
    /// Continue the incoming trace (the default).
    #[default]
    Continue,
    /// Start a new trace, its root span linked to the incoming context (attribute
    /// `reason=propagation_behavior_extract`): for services at a trust boundary that
    /// want their own traces yet keep the way back.
    Restart,
    /// Ignore incoming trace context altogether, baggage included.
    Ignore,
}

/// A trace context that arrived from another service. Continue it with
/// [`SpanBuilder::child_of`](crate::SpanBuilder::child_of).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtractedContext {
    pub(crate) context: SpanContext,
    pub(crate) style: PropagationStyle,
}

impl ExtractedContext {
    /// The remote context: trace id, the remote span's id, sampling priority, origin.
    pub fn context(&self) -> &SpanContext {
        &self.context
    }

    /// The style whose headers it came from.
    pub fn style(&self) -> PropagationStyle {
        self.style
    }
}

impl From<ExtractedContext> for SpanContext {
    fn from(extracted: ExtractedContext) -> Self {
        extracted.context
    }
}
