//! Distributed traces: extract trace context from incoming headers and inject it into
//! outgoing ones, in Datadog's and the W3C's formats.
//!
//! ```
//! use std::collections::HashMap;
//! use spanlog::propagation;
//!
//! // On the way in: continue the caller's trace, or start a new one.
//! let incoming: HashMap<String, String> = HashMap::from([(
//!     "traceparent".to_owned(),
//!     "00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01".to_owned(),
//! )]);
//! let mut request = spanlog::start_span("web.request");
//! if let Some(remote) = propagation::extract(&incoming) {
//!     request = request.child_of(remote);
//! }
//! let request = request.entered();
//! assert_eq!(request.trace_id().to_string(), "6b04d2e800000000e6a5cefc6c3cef4e");
//!
//! // On the way out: the next service continues the same trace.
//! let mut outgoing = HashMap::new();
//! propagation::inject(request.context(), &mut outgoing);
//! assert_eq!(outgoing["x-datadog-trace-id"], "16619917583423696718");
//! ```
//!
//! # Styles
//!
//! [`PropagationStyle::Datadog`] (`x-datadog-*`),
//! [`PropagationStyle::TraceContext`] (`traceparent`, `tracestate`) and
//! [`PropagationStyle::Baggage`] (`baggage`, see [`crate::baggage`]) are on by
//! default, in that order; [`PropagationStyle::B3Multi`] (`x-b3-*`) and
//! [`PropagationStyle::B3Single`] (`b3`) are there for services behind Zipkin-era
//! proxies. On extraction the first style whose headers are valid wins; when the W3C
//! headers describe the same trace, other vendors' `tracestate` members are kept for
//! the next hop. Choose in code with [`Propagator`], or with
//! `DD_TRACE_PROPAGATION_STYLE` (both directions), `DD_TRACE_PROPAGATION_STYLE_EXTRACT`
//! and `DD_TRACE_PROPAGATION_STYLE_INJECT`: comma-separated `datadog`, `tracecontext`,
//! `b3multi`, `b3` (or `b3 single header`), `baggage`, or `none`, in any case.
//!
//! # Invalid input
//!
//! Extraction never panics. As in Datadog's tracers, what is wrong is dropped, not
//! more: a style whose ids cannot be read is ignored (with no valid style the result
//! is `None`: start a new trace), but a bad field beside valid ids costs only that
//! field.
//!
//! - Ids are decimal (Datadog) or lower-case hex of the exact length (W3C), and the
//!   trace id is never zero. `traceparent` version `ff` is invalid and version `00`
//!   is exactly 55 characters. No header longer than 8 KiB is read.
//! - A missing or zero `x-datadog-parent-id` (synthetics sends `0`) continues the
//!   trace with no parent span.
//! - `x-datadog-tags` over 512 bytes or breaking its syntax is dropped and noted
//!   (`_dd.propagation_error` on the local root span); a `_dd.p.tid` that is not
//!   exactly 16 lower-case hex digits is dropped alone (noted as `malformed_tid`).
//! - An origin is taken as it came when it is printable ASCII, else left out.
//! - `tracestate` follows W3C Trace Context level 2: at most 32 members with keys of
//!   up to 256 characters (`a-z`, `0-9`, `_-*/@`, starting with a letter or digit)
//!   and values of printable ASCII without `,` and `=`. A list that breaks these
//!   rules is discarded as a whole and never affects `traceparent`: the trace goes
//!   on. A repeated key is kept once, where it first appears. In Datadog's `dd`
//!   member, an item that cannot be read is left out; `p` is kept as it came.
//! - A `baggage` header with an item that has no `=`, or an empty key or value, is
//!   dropped whole; items past 64, or past 8192 bytes, are left out whole
//!   ([`Propagator::with_baggage_limits`]).
//! - `traceparent`'s flags: `sampled` wins over a `dd` priority that contradicts it
//!   (and the decision maker is reset with it), and the level 2 `random` flag is
//!   sent on with the trace.

mod b3;
mod baggage;
mod carrier;
mod datadog;
mod incoming;
mod outgoing;
mod propagator;
mod style;
mod values;
mod w3c;

#[cfg(feature = "tower")]
pub(crate) use self::carrier::HeaderIndex;
pub use self::carrier::{Extractor, Injector};
pub use self::propagator::Propagator;
#[allow(deprecated)]
pub use self::propagator::global;
pub use self::style::{ExtractBehavior, ExtractedContext, PropagationStyle};
use crate::span_context::SpanContext;

/// Extracts a trace context from incoming headers with the global [`Propagator`].
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Option<ExtractedContext> {
    Propagator::global().extract(carrier)
}

/// Injects `context` into outgoing headers with the global [`Propagator`].
pub fn inject<I: Injector + ?Sized>(context: &SpanContext, carrier: &mut I) {
    Propagator::global().inject(context, carrier)
}

/// The context W3C headers describe (`traceparent`, `tracestate`), whatever the global
/// propagator's styles: how an OpenTelemetry span context becomes a spanlog one.
#[cfg(feature = "opentelemetry")]
pub(crate) fn from_w3c(carrier: &dyn Extractor) -> Option<SpanContext> {
    w3c::extract(carrier)
}

/// Writes `context` as W3C headers, whatever the global propagator's styles: how a
/// spanlog context becomes an OpenTelemetry parent.
#[cfg(feature = "opentelemetry")]
pub(crate) fn to_w3c(context: &SpanContext, carrier: &mut dyn Injector) {
    if !context.trace_id.is_zero() && !context.span_id.is_zero() {
        w3c::inject(&outgoing::Trace::new(context), carrier);
    }
}
