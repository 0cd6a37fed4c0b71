//! The current span from anywhere: code that only has the thread (a nested function, a
//! library) can tag it, name its resource, or record an error on it.

use std::fmt::Write as _;

use crate::annotations::{self, Annotation, Text};
use crate::context;
use crate::id::{SpanId, TraceId};

/// Runs `f` with a handle on the span current on this thread and returns its result, or
/// returns `None` without running `f` when no span is current.
///
/// The changes are applied to the span when it finishes, whichever thread holds it
/// then: a span entered by its guard, by an [`in_span`](crate::Instrument::in_span)
/// future, or (with the `tracing` feature) a mirrored `tracing` span. A context
/// entered by hand with no local span behind it (one extracted from another service)
/// has nothing to finish: changes to it are dropped.
///
/// ```
/// fn load_post(id: u64) -> Result<String, std::io::Error> {
///     spanlog::with_current_span(|span| span.set_tag("post.id", id.to_string()));
///     Err(std::io::Error::other("no such post"))
/// }
///
/// assert!(spanlog::with_current_span(|_| ()).is_none()); // no span: nothing runs
///
/// let request = spanlog::start_span("web.request").entered();
/// let _ = spanlog::record_result(load_post(7)); // records the error, passes the Result on
/// let seen = spanlog::with_current_span(|span| span.span_id());
/// assert_eq!(seen, Some(request.span_id()));
/// ```
pub fn with_current_span<R>(f: impl FnOnce(&mut CurrentSpan) -> R) -> Option<R> {
    let (trace_id, span_id) = context::current_ids()?;
    Some(f(&mut CurrentSpan { trace_id, span_id }))
}

/// Records `result`'s error, if any, on the current span (as
/// [`CurrentSpan::record_error`]) and returns `result` unchanged.
pub fn record_result<T, E: std::error::Error>(result: Result<T, E>) -> Result<T, E> {
    if let Err(error) = &result {
        with_current_span(|span| span.record_error(error));
    }
    result
}

/// The span current on this thread, as [`with_current_span`] hands it over.
#[derive(Debug)]
pub struct CurrentSpan {
    trace_id: TraceId,
    span_id: SpanId,
}

impl CurrentSpan {
    /// The span's id.
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The span's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// Sets a string tag (Datadog `meta`), replacing one with the same key.
    pub fn set_tag(&mut self, key: impl Into<Text>, value: impl Into<Text>) {
        self.add(Annotation::Tag(key.into(), value.into()));
    }

    /// Sets a numeric tag (Datadog `metrics`), replacing one with the same key.
    pub fn set_metric(&mut self, key: impl Into<Text>, value: f64) {
        self.add(Annotation::Metric(key.into(), value));
    }

    /// Replaces the resource.
    pub fn set_resource(&mut self, resource: impl Into<Text>) {
        self.add(Annotation::Resource(resource.into()));
    }

    /// Marks the span as failed (or not).
    pub fn set_error(&mut self, error: bool) {
        self.add(Annotation::Error(error));
    }

    /// Marks the span as failed with the error's details, as Datadog's Error Tracking
    /// reads them: `error.message` (its `Display`), `error.type` (its type name) and
    /// `error.stack` (the chain of `source()`s, then a backtrace when `RUST_BACKTRACE`
    /// or `RUST_LIB_BACKTRACE` enables one).
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.set_error(true);
        for (key, value) in error_details(error) {
            self.set_tag(key, value);
        }
    }

    fn add(&mut self, annotation: Annotation) {
        crate::sampling::roots::annotated(self.trace_id, self.span_id.to_u64(), &annotation);
        annotations::add(self.span_id.to_u64(), annotation);
    }
}

/// `error.message`, `error.type` and `error.stack` for `error`.
pub(crate) fn error_details<E: std::error::Error + ?Sized>(
    error: &E,
) -> [(&'static str, String); 3] {
    let type_name = std::any::type_name::<E>();
    let message = error.to_string();
    let stack = error_stack(error, type_name, &message);
    [
        ("error.message", message),
        ("error.type", type_name.to_owned()),
        ("error.stack", stack),
    ]
}

/// `error.stack` for `error`, whose type is `type_name` and whose `Display` is
/// `message`: `type: message`, then each `source()` on a line of its own, then a
/// backtrace when `RUST_BACKTRACE` or `RUST_LIB_BACKTRACE` enables one.
pub(crate) fn error_stack<E: std::error::Error + ?Sized>(
    error: &E,
    type_name: &str,
    message: &str,
) -> String {
    let mut stack = format!("{type_name}: {message}");
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(stack, "\nCaused by: {cause}");
        source = cause.source();
    }
    let backtrace = std::backtrace::Backtrace::capture();
    if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
        let _ = write!(stack, "\n\nBacktrace:\n{backtrace}");
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Outer(std::io::Error);

    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("loading the post failed")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn details_carry_the_source_chain() {
        let error = Outer(std::io::Error::other("disk full"));
        let [message, kind, stack] = error_details(&error);
        assert_eq!(
            message,
            ("error.message", "loading the post failed".to_owned())
        );
        assert!(kind.1.ends_with("Outer"), "{kind:?}");
        assert!(
            stack.1.starts_with(&format!(
                "{}: loading the post failed\nCaused by: disk full",
                kind.1
            )),
            "{stack:?}"
        );
    }
}
