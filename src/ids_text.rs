//! A span's ids as log text, formatted once per span and copied inline into each line.

use arrayvec::ArrayString;

use crate::id::{SpanId, TraceId};

/// Room for the longest Go-style id text with its leading space: 32 hex digits and two
/// 20-digit decimals with their keys and quotes (117 bytes). It keeps `IdsText` at 128
/// bytes, which the log path copies inline.
const IDS_CAPACITY: usize = 117;

const TRACE_KEY: &str = " dd.trace_id=\"";
const SPAN_KEY: &str = "\" dd.span_id=\"";
const PARENT_KEY: &str = "\" dd.parent_id=\"";

/// A span's ids, formatted once in Go style with a leading space; the bare digits are
/// slices of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IdsText {
    text: ArrayString<IDS_CAPACITY>,
    trace_len: u8,
    span_len: u8,
    /// Formatted with 128-bit trace id logging on.
    wide_logging: bool,
}

impl IdsText {
    /// A placeholder to copy a span's text into.
    #[inline]
    pub(crate) const fn empty() -> Self {
        IdsText {
            text: ArrayString::new_const(),
            trace_len: 0,
            span_len: 0,
            wide_logging: false,
        }
    }

    pub(crate) fn new(trace_id: TraceId, span_id: SpanId, parent_id: SpanId, wide: bool) -> Self {
        let mut text = ArrayString::new();
        text.push_str(TRACE_KEY);
        if trace_id.logged_as_hex(wide) {
            push_hex128(&mut text, trace_id.to_u128());
        } else {
            text.push_str(itoa::Buffer::new().format(trace_id.low()));
        }
        let trace_len = (text.len() - TRACE_KEY.len()) as u8;
        text.push_str(SPAN_KEY);
        let mut digits = itoa::Buffer::new();
        let span = digits.format(span_id.to_u64());
        text.push_str(span);
        let span_len = span.len() as u8;
        text.push_str(PARENT_KEY);
        text.push_str(digits.format(parent_id.to_u64()));
        text.push_str("\"");
        IdsText {
            text,
            trace_len,
            span_len,
            wide_logging: wide,
        }
    }

    /// The text of a child of the span whose text is `parent`: the same trace, `span_id`
    /// for the span, and the parent's span id as its parent. Only the new span id is
    /// formatted; the rest is copied.
    pub(crate) fn child_of(parent: &IdsText, span_id: SpanId) -> Self {
        Self::respanned(parent, span_id, |text| {
            text.push_str(PARENT_KEY);
            text.push_str(parent.span());
            text.push_str("\"");
        })
    }

    /// The text of a sibling of the span whose text is `sibling`: the same trace and
    /// parent, `span_id` for the span. Only the new span id is formatted; the rest is
    /// copied.
    pub(crate) fn sibling_of(sibling: &IdsText, span_id: SpanId) -> Self {
        // The sibling's parent key, parent digits and closing quote.
        let after_span = sibling.span_start() + usize::from(sibling.span_len);
        let tail = sibling.text.get(after_span..).unwrap_or_default();
        Self::respanned(sibling, span_id, |text| text.push_str(tail))
    }

    /// `source`'s text up to its span id (the same trace: one copy), `span_id`, then what
    /// `tail` writes.
    #[inline(always)]
    fn respanned(
        source: &IdsText,
        span_id: SpanId,
        tail: impl FnOnce(&mut ArrayString<IDS_CAPACITY>),
    ) -> Self {
        // The whole text copied (a copy of a known size: a few vector moves, no call),
        // then cut where the span id starts (the text is ASCII: any place is a
        // character boundary, so the cut cannot panic).
        let mut text = source.text;
        text.truncate(source.span_start());
        let mut digits = itoa::Buffer::new();
        let span = digits.format(span_id.to_u64());
        text.push_str(span);
        tail(&mut text);
        IdsText {
            text,
            trace_len: source.trace_len,
            span_len: span.len() as u8,
            wide_logging: source.wide_logging,
        }
    }

    /// Where the span id's digits start.
    fn span_start(&self) -> usize {
        TRACE_KEY.len() + usize::from(self.trace_len) + SPAN_KEY.len()
    }

    pub(crate) fn wide_logging(&self) -> bool {
        self.wide_logging
    }

    /// ` dd.trace_id="..." dd.span_id="..." dd.parent_id="..."`, with the leading space.
    #[inline]
    pub(crate) fn go_spaced(&self) -> &str {
        &self.text
    }

    pub(crate) fn go(&self) -> &str {
        self.text.get(1..).unwrap_or_default()
    }

    fn slice(&self, start: usize, len: u8) -> &str {
        self.text
            .get(start..start + usize::from(len))
            .unwrap_or_default()
    }

    pub(crate) fn trace(&self) -> &str {
        self.slice(TRACE_KEY.len(), self.trace_len)
    }

    pub(crate) fn span(&self) -> &str {
        self.slice(self.span_start(), self.span_len)
    }

    pub(crate) fn parent(&self) -> &str {
        let start = self.span_start() + usize::from(self.span_len) + PARENT_KEY.len();
        // The parent runs to the closing quote.
        self.text
            .get(start..self.text.len().saturating_sub(1))
            .unwrap_or_default()
    }
}

fn push_hex128(out: &mut ArrayString<IDS_CAPACITY>, value: u128) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in value.to_be_bytes() {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0xf)] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cached_text_is_copied_inline() {
        // 128 bytes or less: LLVM copies it with vector moves instead of calling memcpy.
        assert!(
            std::mem::size_of::<IdsText>() <= 128,
            "{}",
            std::mem::size_of::<IdsText>()
        );
    }

    #[test]
    fn a_child_copied_from_its_parent_is_what_formatting_gives() {
        for (trace, wide) in [
            (TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e), true),
            (
                TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e),
                false,
            ),
            (TraceId::from_parts(0, 7), true),
        ] {
            let parent = IdsText::new(
                trace,
                SpanId::from_u64(10582933694091117294),
                SpanId::from_u64(3),
                wide,
            );
            for span in [1, 42, u64::MAX] {
                let span = SpanId::from_u64(span);
                assert_eq!(
                    IdsText::child_of(&parent, span),
                    IdsText::new(trace, span, SpanId::from_u64(10582933694091117294), wide)
                );
            }
        }
    }

    #[test]
    fn the_text_is_what_format_gives() {
        // A fixed sequence spread over every width (xorshift).
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x >> (x % 64)
        };
        for i in 0..20_000 {
            let high = if i % 3 == 0 { 0 } else { next() };
            let trace = TraceId::from_parts(high, next());
            let (span, parent) = (SpanId::from_u64(next()), SpanId::from_u64(next()));
            for wide in [true, false] {
                let trace_text = match trace.logged_as_hex(wide) {
                    true => format!("{:032x}", trace.to_u128()),
                    false => trace.low().to_string(),
                };
                let expected = format!(
                    r#"dd.trace_id="{trace_text}" dd.span_id="{}" dd.parent_id="{}""#,
                    span.to_u64(),
                    parent.to_u64()
                );
                let ids = IdsText::new(trace, span, parent, wide);
                assert_eq!(ids.go(), expected);
                assert_eq!(ids.trace(), trace_text);
                assert_eq!(ids.span(), span.to_u64().to_string());
                assert_eq!(ids.parent(), parent.to_u64().to_string());
                let other = SpanId::from_u64(next());
                assert_eq!(
                    IdsText::child_of(&ids, other),
                    IdsText::new(trace, other, span, wide)
                );
                assert_eq!(
                    IdsText::sibling_of(&ids, other),
                    IdsText::new(trace, other, parent, wide)
                );
            }
        }
    }

    #[test]
    fn the_longest_ids_fit_and_slice_back_out() {
        let ids = IdsText::new(
            TraceId::from_u128(u128::MAX),
            SpanId::from_u64(u64::MAX),
            SpanId::from_u64(u64::MAX - 1),
            true,
        );
        let expected = r#"dd.trace_id="ffffffffffffffffffffffffffffffff" dd.span_id="18446744073709551615" dd.parent_id="18446744073709551614""#;
        assert_eq!(ids.go(), expected);
        assert_eq!(ids.go_spaced(), format!(" {expected}"));
        assert_eq!(ids.trace(), "ffffffffffffffffffffffffffffffff");
        assert_eq!(ids.span(), "18446744073709551615");
        assert_eq!(ids.parent(), "18446744073709551614");
        let narrow = IdsText::new(
            TraceId::from_u128(u128::MAX),
            SpanId::from_u64(1),
            SpanId::ZERO,
            false,
        );
        assert_eq!(
            (narrow.trace(), narrow.span(), narrow.parent()),
            ("18446744073709551615", "1", "0")
        );
    }
}
