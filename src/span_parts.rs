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
    pub(crate) fn of(ty: &str) -> Option<Self> {
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

/// A finishing span's own data, moved out of it as it is: the exporter's
/// [`FinishedSpan`](crate::export::FinishedSpan) is made from it and the span's times.
pub(crate) struct SpanParts {
    pub(crate) context: SpanContext,
    pub(crate) name: Text,
    /// `None`: the name.
    pub(crate) resource: Option<Text>,
    pub(crate) span_type: InlineSpanType,
    pub(crate) extra: Option<Box<Extra>>,
}

/// A finished span as the agent exporter's buffers hold it: its parts as the span had
/// them, its times as the fast clock read them, made a `FinishedSpan` on the exporter's
/// thread. Smaller than a `FinishedSpan`, and nothing converted on the application's
/// thread.
#[cfg(feature = "agent")]
pub(crate) struct PendingSpan {
    pub(crate) parts: SpanParts,
    pub(crate) times: Times,
}

/// When a pending span ran.
#[cfg(feature = "agent")]
pub(crate) enum Times {
    /// Fast-clock readings at its start and its end.
    Stamps { start: Stamp, end: Stamp },
    /// Already on the wall clock (a span handed over as a `FinishedSpan`).
    Unix { start: i64, duration: i64 },
}

#[cfg(feature = "agent")]
impl PendingSpan {
    /// The span's identity.
    #[inline]
    pub(crate) fn context(&self) -> &SpanContext {
        &self.parts.context
    }

    pub(crate) fn name(&self) -> &str {
        &self.parts.name
    }

    /// The resource: the name when none was set.
    pub(crate) fn resource(&self) -> &str {
        self.parts.resource.as_deref().unwrap_or(&self.parts.name)
    }

    fn extra(&self) -> Option<&Extra> {
        self.parts.extra.as_deref()
    }

    /// The span's own service, when it differs from the configured one.
    pub(crate) fn service(&self) -> Option<&str> {
        self.extra().and_then(|e| e.service.as_deref())
    }

    pub(crate) fn span_type(&self) -> Option<&str> {
        self.extra()
            .and_then(|e| e.span_type.as_deref())
            .or(self.parts.span_type.get())
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
        match self.times {
            Times::Stamps { start, end } => anchor.place(start, end),
            Times::Unix { start, duration } => (start, duration),
        }
    }
}
