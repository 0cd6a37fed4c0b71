//! What a span hands to its exporter, apart from its times: the span, its builder and
//! the agent exporter's buffers share these.

#[cfg(feature = "agent")]
use crate::clock::Stamp;
use crate::context::SpanContext;

/// A name, resource, tag or other text of a span.
pub(crate) use crate::annotations::Text;

/// What most spans never set, out of line, allocated by the first span setter that
/// needs it. Every field a span carries inline is moved when it starts and checked when
/// it finishes, for every span; an entered span of at most 128 bytes is moved without a
/// call to `memcpy`.
#[derive(Debug, Default)]
pub(crate) struct Extra {
    pub(crate) service: Option<Text>,
    /// A span type that is not a `&'static str` (those are kept inline).
    pub(crate) span_type: Option<Text>,
    pub(crate) error: bool,
    pub(crate) tags: Vec<(Text, Text)>,
    pub(crate) metrics: Vec<(Text, f64)>,
}

/// The span types Datadog's integrations use, kept inline in one byte; any other goes
/// to the span's out-of-line part.
const INLINE_SPAN_TYPES: [&str; 16] = [
    "web",
    "http",
    "sql",
    "cache",
    "custom",
    "worker",
    "template",
    "queue",
    "grpc",
    "rpc",
    "db",
    "redis",
    "mongodb",
    "memcached",
    "graphql",
    "serverless",
];

/// A span type from [`INLINE_SPAN_TYPES`] (index + 1), or none (0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct InlineSpanType(u8);

impl InlineSpanType {
    fn of(ty: &str) -> Option<Self> {
        let index = INLINE_SPAN_TYPES.iter().position(|known| *known == ty)?;
        Some(InlineSpanType(index as u8 + 1))
    }

    pub(crate) fn get(self) -> Option<&'static str> {
        INLINE_SPAN_TYPES
            .get(usize::from(self.0).checked_sub(1)?)
            .copied()
    }
}

/// Stores a span type: inline when it is one of Datadog's usual ones, out of line
/// otherwise.
pub(crate) fn set_span_type(inline: &mut InlineSpanType, extra: &mut Option<Box<Extra>>, ty: Text) {
    match InlineSpanType::of(&ty) {
        Some(known) => {
            *inline = known;
            if let Some(extra) = extra {
                extra.span_type = None;
            }
        }
        None => {
            *inline = InlineSpanType::default();
            extra.get_or_insert_default().span_type = Some(ty);
        }
    }
}

/// A finishing span's own data, moved out of it as it is: with the span's times, an
/// exporter's [`FinishedSpan`](crate::export::FinishedSpan), or the agent exporter's
/// [`PendingSpan`].
pub(crate) struct SpanParts {
    pub(crate) context: SpanContext,
    pub(crate) name: Text,
    /// `None`: the name.
    pub(crate) resource: Option<Text>,
    pub(crate) span_type: InlineSpanType,
    pub(crate) extra: Option<Box<Extra>>,
}

/// A finished span as the agent exporter's buffers hold it: its parts as the span had
/// them, its times as the fast clock read them, encoded on the exporter's thread.
/// Nothing is converted on the application's thread, and at 128 bytes it is moved
/// into the buffer without a call to `memcpy` (a `FinishedSpan` is 216).
#[cfg(feature = "agent")]
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

#[cfg(feature = "agent")]
impl PendingSpan {
    /// A span that ran from `start` to `end` on the fast clock.
    #[inline]
    pub(crate) fn stamped(parts: SpanParts, start: Stamp, end: Stamp) -> Self {
        Self::new(parts, (start, end), false)
    }

    /// A span whose times are already on the wall clock.
    pub(crate) fn on_wall_clock(parts: SpanParts, start_unix_nanos: i64, duration: i64) -> Self {
        Self::new(parts, (start_unix_nanos as u64, duration as u64), true)
    }

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

    /// The wall-clock start and the duration, in nanoseconds.
    #[inline]
    pub(crate) fn times(&self, anchor: &crate::clock::Anchor) -> (i64, i64) {
        let (start, end) = self.times;
        match self.on_wall_clock {
            false => anchor.place(start, end),
            // Stored as the bits of the two `i64`s.
            true => (start as i64, end as i64),
        }
    }
}

#[cfg(all(test, feature = "agent"))]
mod tests {
    #[test]
    fn a_pending_span_is_moved_without_memcpy() {
        assert!(
            std::mem::size_of::<super::PendingSpan>() <= 128,
            "{}",
            std::mem::size_of::<super::PendingSpan>()
        );
    }
}
