//! W3C baggage on the current span, from anywhere: key-value pairs that travel with a
//! request to every service it reaches.
//!
//! Items arrive in the `baggage` header ([`propagation::extract`](crate::propagation::extract)),
//! are inherited by every span started inside the one that holds them, and leave in
//! the `baggage` header of outgoing requests
//! ([`propagation::inject`](crate::propagation::inject)). Code that holds the span can
//! use [`Span::set_baggage`](crate::Span::set_baggage); code that does not (a handler
//! inside a middleware's span, say) uses these functions, which act on the innermost
//! spanlog span or context entered on this thread.
//!
//! ```
//! let request = spanlog::start_span("web.request").entered();
//! assert!(spanlog::baggage::set("user.id", "42"));
//! let call = spanlog::start_span("http.request").start();
//! assert_eq!(call.baggage_item("user.id"), Some("42"));
//! assert_eq!(spanlog::baggage::get("user.id").as_deref(), Some("42"));
//! # drop(request);
//! assert!(!spanlog::baggage::set("user.id", "43"), "no span: nowhere to put it");
//! ```
//!
//! The change is made on this thread's stack: spans started from here on, and headers
//! injected from the [current](crate::current) context, carry it. A [`Span`](crate::Span)
//! value held elsewhere, and contexts already handed to other threads, keep what they
//! had.

use crate::context;
use crate::span_context::SpanContext;

/// The value of the item `key` in the current context's baggage, if any.
pub fn get(key: &str) -> Option<String> {
    context::with_current(|c| c.baggage_item(key).map(str::to_owned)).flatten()
}

/// Every item of the current context's baggage, in order.
pub fn all() -> Vec<(String, String)> {
    context::with_current(|c| c.baggage_slice().to_vec()).unwrap_or_default()
}

/// Sets the item `key` to `value` in the current context's baggage; `false` (and
/// nothing set) when no span is current on this thread.
pub fn set(key: impl Into<String>, value: impl Into<String>) -> bool {
    context::with_current_mut(|c| c.set_baggage_item(key, value)).is_some()
}

/// Removes the item `key` from the current context's baggage and returns its value,
/// if it was there.
pub fn remove(key: &str) -> Option<String> {
    context::with_current_mut(|c| c.remove_baggage_item(key)).flatten()
}

/// Removes every item from the current context's baggage.
pub fn clear() {
    let _ = context::with_current_mut(SpanContext::clear_baggage);
}
