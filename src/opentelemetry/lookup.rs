//! Reading the active OpenTelemetry span on the log path: ids only, no allocation, and
//! never a panic, not even from a thread-local destructor.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

use ::opentelemetry::Context;
use ::opentelemetry::trace::TraceContextExt;

use super::parents;
use crate::id::{SpanId, TraceId};
use crate::ids_text::IdsText;

/// The active OpenTelemetry span's ids: trace id, span id, and whether the span came
/// from another process (an extracted context, not a recorded span).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct OtelIds {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) remote: bool,
}

impl OtelIds {
    /// The parent recorded when the span started through the tracer wrapper; zero for a
    /// remote context or a span started elsewhere.
    pub(crate) fn parent_id(&self) -> u64 {
        if self.remote {
            0
        } else {
            parents::parent_of(self.span_id)
        }
    }
}

/// A thread's last formatted OpenTelemetry ids: most lines in a row come from one span.
#[derive(Clone, Copy)]
struct CachedText {
    trace_id: u128,
    span_id: u64,
    text: IdsText,
}

thread_local! {
    static CACHE: Cell<Option<CachedText>> = const { Cell::new(None) };
    /// Exists while OpenTelemetry's thread-local context does: its initializer touches
    /// that context first, so its destructor is registered after the context's and runs
    /// before it (thread-local destructors run in the reverse order of registration).
    /// Once it is gone, `try_with` fails and the log path no longer looks at
    /// OpenTelemetry, whose context access would panic from then on.
    static SENTINEL: Sentinel = {
        Context::map_current(|_| ());
        Sentinel
    };
}

struct Sentinel;

impl Drop for Sentinel {
    fn drop(&mut self) {}
}

/// Whether OpenTelemetry spans can exist in this process, as far as spanlog knows: until
/// then, the log path and span starts do not look for one (one relaxed load). Cargo
/// features unify, so the `opentelemetry` feature may be on in a service that never
/// makes an OpenTelemetry span; it costs that service nothing.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// From now on, look for the active OpenTelemetry span.
pub(crate) fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether the look-up is on.
#[inline]
pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The ids of the active OpenTelemetry span on this thread, if it is valid.
#[inline]
pub(crate) fn active() -> Option<OtelIds> {
    if !enabled() {
        return None;
    }
    read_active()
}

/// [`active`] once the look-up is on; out of line, so that callers stay small while it
/// is off.
#[inline(never)]
fn read_active() -> Option<OtelIds> {
    SENTINEL.try_with(|_| ()).ok()?;
    Context::map_current(|cx| {
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| OtelIds {
            trace_id: u128::from_be_bytes(sc.trace_id().to_bytes()),
            span_id: u64::from_be_bytes(sc.span_id().to_bytes()),
            remote: sc.is_remote(),
        })
    })
}

/// Whether a valid OpenTelemetry span is active on this thread (the check of
/// [`active`] without reading its ids).
#[inline]
pub(crate) fn has_active() -> bool {
    enabled() && read_has_active()
}

#[inline(never)]
fn read_has_active() -> bool {
    SENTINEL.try_with(|_| ()).is_ok()
        && Context::map_current(|cx| cx.has_active_span() && cx.span().span_context().is_valid())
}

/// Copies the log text of `ids` into `out`, formatting it on the first line logged in
/// that span on this thread.
#[inline]
pub(crate) fn copy_ids_text(ids: OtelIds, wide_logging: bool, out: &mut IdsText) {
    let cached = CACHE.try_with(Cell::get).ok().flatten();
    if let Some(c) = cached {
        if c.trace_id == ids.trace_id
            && c.span_id == ids.span_id
            && c.text.wide_logging() == wide_logging
        {
            *out = c.text;
            return;
        }
    }
    *out = format(ids, wide_logging);
    let _ = CACHE.try_with(|cache| {
        cache.set(Some(CachedText {
            trace_id: ids.trace_id,
            span_id: ids.span_id,
            text: *out,
        }))
    });
}

#[cold]
#[inline(never)]
fn format(ids: OtelIds, wide_logging: bool) -> IdsText {
    IdsText::new(
        TraceId::from_u128(ids.trace_id),
        SpanId::from_u64(ids.span_id),
        SpanId::from_u64(ids.parent_id()),
        wide_logging,
    )
}

/// How far up the recorded parents [`is_inside`] looks.
const MAX_HOPS: usize = 64;

thread_local! {
    /// The last answer of [`is_inside`] on this thread: lines in a row ask the same.
    static INSIDE: Cell<Option<(u64, u64, bool)>> = const { Cell::new(None) };
}

/// Whether the recorded parents of `otel` lead to the span `spanlog_span`.
pub(crate) fn is_inside(otel: OtelIds, spanlog_span: u64) -> bool {
    if otel.remote || otel.span_id == spanlog_span {
        return false;
    }
    if let Ok(Some((o, s, inside))) = INSIDE.try_with(Cell::get) {
        if o == otel.span_id && s == spanlog_span {
            return inside;
        }
    }
    let mut span = otel.span_id;
    let mut inside = false;
    for _ in 0..MAX_HOPS {
        match parents::parent_of(span) {
            0 => break,
            parent if parent == spanlog_span => {
                inside = true;
                break;
            }
            parent => span = parent,
        }
    }
    let _ = INSIDE.try_with(|cell| cell.set(Some((otel.span_id, spanlog_span, inside))));
    inside
}
