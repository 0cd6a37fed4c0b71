//! The span a line or a new span belongs to: the top of this thread's stack, or, with
//! the `opentelemetry` feature, the active OpenTelemetry span when it is the innermost.

use crate::context;
use crate::ids_text::IdsText;
#[cfg(feature = "opentelemetry")]
use crate::opentelemetry as otel;
use crate::propagation::{self, Injector};
use crate::span_context::SpanContext;

/// The context of the span that is current on this thread, if any: the innermost
/// spanlog span entered here, or, with the `opentelemetry` feature, the active
/// OpenTelemetry span when no spanlog span is current or when it was started inside
/// the current one.
///
/// ```
/// assert!(spanlog::current().is_none());
/// let span = spanlog::start_span("work").entered();
/// assert_eq!(spanlog::current().map(|c| c.span_id()), Some(span.span_id()));
/// ```
#[inline]
pub fn current() -> Option<SpanContext> {
    let frame = context::current();
    #[cfg(feature = "opentelemetry")]
    if let Some(ids) = otel::active() {
        let innermost = match &frame {
            None => true,
            Some(frame) => otel::is_inside(ids, frame.span_id().to_u64()),
        };
        if innermost {
            return otel::current_context();
        }
    }
    frame
}

/// Whether no span is active on this thread (or its locals are gone).
#[inline]
pub(crate) fn is_idle() -> bool {
    #[cfg(feature = "opentelemetry")]
    if context::is_idle() {
        return !otel::has_active();
    }
    context::is_idle()
}

/// Copies the active span's ids, as log text, into `out` and returns `true`; returns
/// `false` and leaves `out` alone outside any span.
#[inline]
pub(crate) fn copy_ids_text(wide_logging: bool, out: &mut IdsText) -> bool {
    #[cfg(feature = "opentelemetry")]
    match otel::active() {
        Some(ids) => {
            let innermost = match context::current_span_id() {
                None => true,
                Some(span) => otel::is_inside(ids, span.to_u64()),
            };
            if innermost {
                otel::copy_ids_text(ids, wide_logging, out);
                return true;
            }
        }
        // The cheapest check there is, before borrowing the stack.
        None if context::is_idle() => return false,
        None => {}
    }
    context::copy_current_ids_text(wide_logging, out)
}

/// Injects the [`current`] context, if any, into outgoing headers with the global
/// propagator, and says whether there was one: the one call a client needs.
///
/// ```
/// use std::collections::HashMap;
///
/// let mut headers: HashMap<String, String> = HashMap::new();
/// assert!(!spanlog::inject_current(&mut headers)); // no span: nothing written
///
/// let request = spanlog::start_span("web.request").entered();
/// assert!(spanlog::inject_current(&mut headers));
/// assert_eq!(headers["x-datadog-parent-id"], request.span_id().to_string());
/// ```
///
/// With the `http` feature, an `http::Request` or `http::HeaderMap` is a carrier too;
/// with reqwest (not tower-based), inject into a `HeaderMap` and hand it over:
///
/// ```ignore
/// let mut headers = http::HeaderMap::new();
/// spanlog::inject_current(&mut headers);
/// let response = client.get(url).headers(headers).send().await?;
/// ```
pub fn inject_current<I: Injector + ?Sized>(carrier: &mut I) -> bool {
    match current() {
        Some(context) => {
            propagation::inject(&context, carrier);
            true
        }
        None => false,
    }
}
