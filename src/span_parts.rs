//! What a span hands to its exporter: its parts (shared by the span and its builder)
//! and, once it has finished, the fast clock's readings at its start and end.

use crate::clock::Stamp;
use crate::span_context::SpanContext;

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
    pub(crate) links: Vec<crate::links::SpanLink>,
    pub(crate) events: Vec<crate::links::SpanEvent>,
    /// A decision by hand given to the builder (`manual.keep`, `manual.drop`), made
    /// as the span starts.
    pub(crate) manual: Option<bool>,
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

/// Sets `key` in a span's tags or metrics, replacing an earlier value.
pub(crate) fn set<V>(pairs: &mut Vec<(Text, V)>, key: Text, value: V) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

/// A finishing span's own data, moved out of it as it is: with the span's times, an
/// [`EndedSpan`].
pub(crate) struct SpanParts {
    pub(crate) context: SpanContext,
    pub(crate) name: Text,
    /// `None`: the name.
    pub(crate) resource: Option<Text>,
    pub(crate) span_type: InlineSpanType,
    pub(crate) extra: Option<Box<Extra>>,
}

impl SpanParts {
    /// Moves the parts out, leaving empty ones (the span is being dropped). The trace's
    /// shared data moves too: no reference count is touched.
    #[inline]
    fn take(&mut self) -> SpanParts {
        SpanParts {
            context: SpanContext {
                trace: self.context.trace.take(),
                ..self.context
            },
            name: std::mem::take(&mut self.name),
            resource: self.resource.take(),
            span_type: self.span_type,
            extra: self.extra.take(),
        }
    }
}

/// A span that has just finished, as the core hands it to the installed backend: its
/// parts, still in the span until the backend moves them out with [`EndedSpan::take`],
/// which also reads the fast clock for the span's end. Nothing is converted on the
/// application's thread: the backend makes its own record from the parts and the two
/// readings (an [`Exporter`](crate::export::Exporter)'s
/// [`FinishedSpan`](crate::export::FinishedSpan), the agent exporter's buffered span),
/// straight from the span's fields. What it does not take, the span drops.
pub(crate) struct EndedSpan<'a> {
    parts: &'a mut SpanParts,
    /// The fast clock at the span's start; 0 for a span that started before an
    /// exporter was installed.
    start: Stamp,
}

impl<'a> EndedSpan<'a> {
    #[inline]
    pub(crate) fn new(parts: &'a mut SpanParts, start: Stamp) -> Self {
        EndedSpan { parts, start }
    }

    /// Moves the span's parts out, with the fast clock's readings at its start and now,
    /// at its end. A span that started before an exporter was installed is reported as
    /// starting when it ends.
    #[inline]
    pub(crate) fn take(self) -> (SpanParts, Stamp, Stamp) {
        let end = crate::clock::now();
        let start = if self.start == 0 { end } else { self.start };
        (self.parts.take(), start, end)
    }
}
