//! The layout of a span in both payloads: its head (service, name, resource), its
//! numbers and the rest, in v0.5's order, through [`Format`].

use super::Tags;
use super::format::Format;
use super::tags::write_tags;
use super::writer::{Fixed, VecWriter, Writer};
use crate::agent::pending::PendingSpan;
use crate::clock::Anchor;
use crate::sampling::Decision;

/// Where a span's service, name and resource live (the same memory, the same strings:
/// they stay put while the payload is written), and where in the payload the last
/// span's head with them was written.
pub(super) type Head = ((usize, usize), (usize, usize), (usize, usize));

/// A span's header, service, name and resource: copied in one piece from the span
/// before it when it had the same three (the spans of a batch mostly follow a few
/// names), else written.
#[inline]
pub(super) fn write_head<F: Format>(
    out: &mut VecWriter<'_>,
    format: &mut F,
    span: &PendingSpan,
    tags: &Tags<'_>,
    last: &mut Option<(Head, std::ops::Range<usize>)>,
) {
    let service = span.service().unwrap_or(tags.service);
    let (name, resource) = (span.name(), span.resource());
    let place = |s: &str| (s.as_ptr() as usize, s.len());
    let head = (place(service), place(name), place(resource));
    // A span with links has one field more in v0.4: its head is written, not kept.
    let fields = if F::NATIVE_LINKS && !span.links().is_empty() {
        13
    } else {
        12
    };
    match last {
        Some((seen, range)) if *seen == head && fields == 12 => {
            out.0.extend_from_within(range.clone())
        }
        _ => {
            let start = out.0.len();
            format.span(out, fields);
            format.key(out, b"\xa7service");
            format.str(out, service);
            format.key(out, b"\xa4name");
            format.str(out, name);
            format.key(out, b"\xa8resource");
            format.str(out, resource);
            *last = (fields == 12).then_some((head, start..out.0.len()));
        }
    }
}

/// A span after its head (see [`write_head`]). `chunk_root` is `Some` for the first span
/// of a chunk, with the sampling decision made here for its trace (`None` inside:
/// upstream's stands). `plain`: what follows the numbers of a span that neither leads
/// its chunk nor has tags of its own, encoded, and where its empty type starts.
#[inline]
pub(super) fn write_rest<F: Format>(
    out: &mut VecWriter<'_>,
    format: &mut F,
    (plain, typed): (&[u8], usize),
    wide: &WideNumbers,
    span: &PendingSpan,
    (chunk_root, top_level): (Option<Option<Decision>>, bool),
    tags: &Tags<'_>,
) {
    write_numbers(out, format, wide, span, tags.anchor);
    let plain_span = chunk_root.is_none()
        && !top_level
        && span.meta().is_empty()
        && span.metrics().is_empty()
        && span.links().is_empty()
        && span.events().is_empty()
        && span.service().is_none_or(|s| s == tags.service);
    match (plain_span, span.span_type()) {
        // The common case: the shared meta, no metrics, no type.
        (true, None) => return out.bytes(plain),
        (true, Some(_)) => out.bytes(plain.get(..typed).unwrap_or_default()),
        (false, _) => write_tags(out, format, span, (chunk_root, top_level), tags),
    }
    format.key(out, b"\xa4type");
    format.str(out, span.span_type().unwrap_or(""));
    if F::NATIVE_LINKS && !span.links().is_empty() {
        write_links(out, span.links());
    }
}

/// v0.4's `span_links`: an array of maps, each with the lower and upper halves of the
/// trace id (the upper only when set), the span id, and the attributes, trace state and
/// flags when there are any (flags with bit 31 set: "known").
#[cold]
fn write_links(out: &mut VecWriter<'_>, links: &[crate::links::SpanLink]) {
    out.str("span_links");
    out.array_len(links.len());
    for link in links {
        let high = link.trace_id.high();
        let fields = 2
            + usize::from(high != 0)
            + usize::from(!link.attributes.is_empty())
            + usize::from(link.tracestate.is_some())
            + usize::from(link.flags.is_some());
        out.map_len(fields);
        out.str("trace_id");
        out.uint(link.trace_id.low());
        if high != 0 {
            out.str("trace_id_high");
            out.uint(high);
        }
        out.str("span_id");
        out.uint(link.span_id.to_u64());
        if !link.attributes.is_empty() {
            out.str("attributes");
            out.map_len(link.attributes.len());
            for (key, value) in &link.attributes {
                out.str(key);
                out.str(value);
            }
        }
        if let Some(state) = &link.tracestate {
            out.str("tracestate");
            out.str(state);
        }
        if let Some(flags) = link.flags {
            out.str("flags");
            out.uint(u64::from(flags) | 1 << 31);
        }
    }
}

/// The keys of a span's first four numbers: trace id, span id, parent id, start.
pub(super) const WIDE_KEYS: [&[u8]; 4] = [
    b"\xa8trace_id",
    b"\xa7span_id",
    b"\xa9parent_id",
    b"\xa5start",
];

/// A span's first four numbers (with their keys in v0.4) as nearly every span has them:
/// random trace, span and parent ids and a start in unix nanoseconds, each at least
/// 2^32 and so written as a marker and eight bytes. Laid out once per payload; a
/// span's numbers then go into the eight-byte slots of a copy, where each would take a
/// width check and a copy of its own.
pub(super) struct WideNumbers {
    pub(super) layout: Fixed,
    /// Where each value's eight bytes start.
    pub(super) slots: [usize; 4],
}

impl WideNumbers {
    pub(super) fn new<F: Format>(format: &mut F) -> WideNumbers {
        let layout = &mut Writer(Fixed::new());
        let mut slots = [0; 4];
        for (slot, key) in slots.iter_mut().zip(WIDE_KEYS) {
            format.key(layout, key);
            layout.uint(u64::MAX);
            *slot = layout.0.len - 8;
        }
        WideNumbers {
            layout: layout.0.clone(),
            slots,
        }
    }

    /// Puts `values` into `fixed`, a copy of the layout, when each is at least 2^32
    /// (what the general path would write then); else returns `false`.
    #[inline(always)]
    pub(super) fn fill(&self, fixed: &mut Fixed, values: [u64; 4]) -> bool {
        if values.iter().any(|&value| value <= u64::from(u32::MAX)) {
            return false;
        }
        for (&slot, value) in self.slots.iter().zip(values) {
            match fixed.bytes.get_mut(slot..slot + 8) {
                Some(bytes) => bytes.copy_from_slice(&value.to_be_bytes()),
                None => return false,
            }
        }
        true
    }
}

/// A span's ids, times and error flag (with their keys in v0.4), in one copy.
#[inline(always)]
pub(super) fn write_numbers<F: Format>(
    out: &mut VecWriter<'_>,
    format: &mut F,
    wide: &WideNumbers,
    span: &PendingSpan,
    anchor: &Anchor,
) {
    let context = span.context();
    let (start, duration) = span.times(anchor);
    let values = [
        context.trace_id.low(),
        context.span_id.to_u64(),
        context.parent_id.to_u64(),
        // A start before 1970 stays negative here and is written by the general path.
        u64::try_from(start).unwrap_or(0),
    ];
    let fixed = &mut Writer(wide.layout.clone());
    if !wide.fill(&mut fixed.0, values) {
        fixed.0.len = 0;
        for (key, value) in WIDE_KEYS.into_iter().zip(values).take(3) {
            format.key(fixed, key);
            fixed.uint(value);
        }
        format.key(fixed, WIDE_KEYS[3]);
        fixed.int(start);
    }
    format.key(fixed, b"\xa8duration");
    fixed.int(duration);
    format.key(fixed, b"\xa5error");
    fixed.int(i64::from(span.error()));
    out.bytes(fixed.0.as_slice());
}
