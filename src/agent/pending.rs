//! A finished span as the agent exporter's buffers hold it: the core's record of it,
//! kept as it is until the exporter's thread encodes it.

use crate::clock::Anchor;
use crate::span_context::SpanContext;
use crate::span_parts::{EndedSpan, Extra, InlineSpanType, SpanParts, Text};

/// A finished span in the agent exporter's buffers: its parts as the span had them,
/// its times as the fast clock read them, placed on the wall clock and encoded on the
/// exporter's thread. Nothing is converted on the application's thread, and at 128
/// bytes it is moved into the buffer without a call to `memcpy` (a `FinishedSpan` is
/// 216).
pub(crate) struct PendingSpan {
    context: SpanContext,
    name: Text,
    resource: Option<Text>,
    extra: Option<Box<Extra>>,
    /// Fast-clock readings at the span's start and end; or, when `on_wall_clock`, its
    /// start in unix nanoseconds and its duration (as `i64`s).
    times: (u64, u64),
    span_type: InlineSpanType,
    on_wall_clock: bool,
}

impl From<EndedSpan<'_>> for PendingSpan {
    #[inline]
    fn from(span: EndedSpan<'_>) -> Self {
        let (parts, start, end) = span.take();
        Self::new(parts, (start, end), false)
    }
}

impl PendingSpan {
    #[inline]
    fn new(parts: SpanParts, times: (u64, u64), on_wall_clock: bool) -> Self {
        let SpanParts {
            context,
            name,
            resource,
            span_type,
            extra,
        } = parts;
        PendingSpan {
            context,
            name,
            resource,
            extra,
            times,
            span_type,
            on_wall_clock,
        }
    }

    /// The span's identity.
    #[inline]
    pub(crate) fn context(&self) -> &SpanContext {
        &self.context
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// The resource: the name when none was set.
    pub(crate) fn resource(&self) -> &str {
        self.resource.as_deref().unwrap_or(&self.name)
    }

    fn extra(&self) -> Option<&Extra> {
        self.extra.as_deref()
    }

    /// The span's own service, when it differs from the configured one.
    pub(crate) fn service(&self) -> Option<&str> {
        self.extra().and_then(|e| e.service.as_deref())
    }

    pub(crate) fn span_type(&self) -> Option<&str> {
        self.extra()
            .and_then(|e| e.span_type.as_deref())
            .or(self.span_type.get())
    }

    pub(crate) fn error(&self) -> bool {
        self.extra().is_some_and(|e| e.error)
    }

    /// String tags.
    pub(crate) fn meta(&self) -> &[(Text, Text)] {
        self.extra().map_or(&[], |e| &e.tags)
    }

    /// Numeric tags.
    pub(crate) fn metrics(&self) -> &[(Text, f64)] {
        self.extra().map_or(&[], |e| &e.metrics)
    }

    /// Links to other spans.
    pub(crate) fn links(&self) -> &[crate::links::SpanLink] {
        self.extra().map_or(&[], |e| &e.links)
    }

    /// Events during the span.
    pub(crate) fn events(&self) -> &[crate::links::SpanEvent] {
        self.extra().map_or(&[], |e| &e.events)
    }

    /// The wall-clock start and the duration, in nanoseconds.
    #[inline]
    pub(crate) fn times(&self, anchor: &Anchor) -> (i64, i64) {
        let (start, end) = self.times;
        match self.on_wall_clock {
            false => anchor.place(start, end),
            // Stored as the bits of the two `i64`s.
            true => (start as i64, end as i64),
        }
    }
}

/// Spans for the agent's tests, made from [`FinishedSpan`](crate::export::FinishedSpan)s
/// whose times are already on the wall clock.
#[cfg(test)]
pub(crate) mod testing {
    use super::PendingSpan;
    use crate::export::FinishedSpan;
    use crate::id::{SpanId, TraceId};
    use crate::span_context::SpanContext;
    use crate::span_parts::{Extra, InlineSpanType, SpanParts};

    /// A finished span named `n` of the 64-bit trace `trace`, with id `id` and parent
    /// `parent` (0: a root).
    pub(crate) fn finished(trace: u64, id: u64, parent: u64) -> FinishedSpan {
        let mut context = SpanContext::new(TraceId::from_parts(0, trace), SpanId::from_u64(id));
        context.parent_id = SpanId::from_u64(parent);
        FinishedSpan::new(context, "n")
    }

    /// `batch` as the agent exporter's buffers hold spans, its times as they are.
    pub(crate) fn pending(batch: &[FinishedSpan]) -> Vec<PendingSpan> {
        batch.iter().cloned().map(PendingSpan::from).collect()
    }

    impl From<FinishedSpan> for PendingSpan {
        fn from(span: FinishedSpan) -> PendingSpan {
            let FinishedSpan {
                context,
                name,
                resource,
                service,
                span_type,
                start_unix_nanos,
                duration_nanos,
                error,
                meta,
                metrics,
                links,
                events,
            } = span;
            let plain = service.is_none()
                && span_type.is_none()
                && !error
                && meta.is_empty()
                && metrics.is_empty()
                && links.is_empty()
                && events.is_empty();
            let extra = Extra {
                service,
                span_type,
                error,
                tags: meta,
                metrics,
                links,
                events,
                manual: None,
            };
            let parts = SpanParts {
                context,
                name,
                resource: Some(resource),
                span_type: InlineSpanType::default(),
                extra: (!plain).then(|| Box::new(extra)),
            };
            let times = (start_unix_nanos as u64, duration_nanos as u64);
            PendingSpan::new(parts, times, true)
        }
    }

    #[test]
    fn a_pending_span_is_moved_without_memcpy() {
        let size = std::mem::size_of::<PendingSpan>();
        assert!(size <= 128, "{size}");
    }
}
