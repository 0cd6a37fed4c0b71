//! The correlation fields, as text (`Display`, no allocation) and as key-values.

use std::fmt;

use arrayvec::ArrayString;

use crate::config::Config;
use crate::id::{SpanId, TraceId};

/// How the correlation text is laid out.
///
/// # Examples
///
/// ```
/// use spanlog::{Config, Style, TraceId, SpanId, Correlation};
///
/// let config = Config::new().with_service("blog").with_env("prod").with_version("1.2.3");
/// let trace = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
/// let span = SpanId::from_u64(10582933694091117294);
/// let text = Correlation::for_ids(&config, trace, span, SpanId::ZERO);
/// assert_eq!(
///     text.to_string(),
///     r#"dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0""#
/// );
/// assert_eq!(
///     text.style(Style::Python).to_string(),
///     "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=6b04d2e800000000e6a5cefc6c3cef4e dd.span_id=10582933694091117294]"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Style {
    /// Datadog's Go tracer (v2), `Span` formatted with `%v`: pairs separated by single
    /// spaces, ids double-quoted, empty service/env/version left out, nothing at all
    /// outside a span when those are empty too.
    #[default]
    Go,
    /// Datadog's Python tracer's default log format: bracketed, unquoted, every key
    /// present (`dd.env=` when empty, ids `0` outside a span), no parent id.
    Python,
}

/// The correlation fields of one span (or of "no span"), ready to print.
///
/// Its `Display` writes the text of SPEC §1 with a handful of `write_str` calls and no
/// allocation: ids are formatted once, when the value is made. Obtain one from
/// [`Span::log`](crate::Span::log), [`Correlation::current`] or
/// [`Correlation::for_ids`].
#[derive(Clone, Copy)]
pub struct Correlation<'a> {
    prefix: &'a Prefix,
    ids: Option<IdsText>,
    style: Style,
}

impl<'a> Correlation<'a> {
    /// The fields of the span that is current on this thread, if any, with the global
    /// configuration. Outside any span it holds only service, env and version.
    ///
    /// ```
    /// let span = spanlog::start_span("work").entered();
    /// let text = spanlog::Correlation::current().to_string();
    /// assert!(text.contains(&format!("dd.span_id=\"{}\"", span.span_id())));
    /// ```
    pub fn current() -> Correlation<'static> {
        let config = crate::config::global();
        let mut ids = IdsText::empty();
        let found = crate::context::copy_current_ids_text(config.trace_id_128_logging(), &mut ids);
        Correlation::new(config, found.then_some(ids), Style::Go)
    }

    /// The fields for the given ids under `config`.
    pub fn for_ids(
        config: &'a Config,
        trace_id: TraceId,
        span_id: SpanId,
        parent_id: SpanId,
    ) -> Self {
        let ids = IdsText::new(trace_id, span_id, parent_id, config.trace_id_128_logging());
        Correlation::new(config, Some(ids), Style::Go)
    }

    /// The fields outside of any span: service, env and version only.
    pub fn without_span(config: &'a Config) -> Self {
        Correlation::new(config, None, Style::Go)
    }

    pub(crate) fn new(config: &'a Config, ids: Option<IdsText>, style: Style) -> Self {
        Correlation {
            prefix: config.prefix(),
            ids,
            style,
        }
    }

    /// The same fields in another [`Style`].
    #[must_use]
    pub fn style(mut self, style: Style) -> Self {
        self.style = style;
        self
    }

    /// Whether the text is empty (Go style, no span, no service/env/version).
    pub fn is_empty(&self) -> bool {
        Text::new(self.prefix, self.ids.as_ref(), self.style).is_empty()
    }

    /// The trace id as logged: 32 hex digits, or the lower 64 bits in decimal.
    pub fn trace_id(&self) -> Option<&str> {
        self.ids.as_ref().map(IdsText::trace)
    }

    /// The span id in decimal.
    pub fn span_id(&self) -> Option<&str> {
        self.ids.as_ref().map(IdsText::span)
    }

    /// The parent id in decimal (`0` for a root span).
    pub fn parent_id(&self) -> Option<&str> {
        self.ids.as_ref().map(IdsText::parent)
    }
}

impl fmt::Display for Correlation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Text::new(self.prefix, self.ids.as_ref(), self.style).fmt(f)
    }
}

/// The correlation text over borrowed ids: what the logger formats into each line
/// without copying the ids again.
#[derive(Clone, Copy)]
pub(crate) struct Text<'a> {
    prefix: &'a Prefix,
    ids: Option<&'a IdsText>,
    style: Style,
    /// Starts with the space that separates it from a message.
    spaced: bool,
}

impl<'a> Text<'a> {
    #[inline]
    pub(crate) fn new(prefix: &'a Prefix, ids: Option<&'a IdsText>, style: Style) -> Self {
        Text {
            prefix,
            ids,
            style,
            spaced: false,
        }
    }

    /// The text with a leading space, to follow a message: one piece fewer to format.
    #[inline]
    pub(crate) fn spaced(prefix: &'a Prefix, ids: Option<&'a IdsText>, style: Style) -> Self {
        Text {
            prefix,
            ids,
            style,
            spaced: true,
        }
    }

    /// Whether there is nothing to print (Go style, no span, no service/env/version).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.style == Style::Go && self.ids.is_none() && self.prefix.spaced_go.is_empty()
    }

    #[cfg(feature = "kv")]
    pub(crate) fn pairs(&self) -> kv::Pairs<'a> {
        kv::Pairs {
            prefix: self.prefix,
            ids: self.ids,
        }
    }
}

impl<'p> fmt::Display for Text<'p> {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.prefix;
        // `p.spaced_*` hold the leading space; without it, skip that first byte.
        let spaced = self.spaced;
        let lead = |text: &'p str| -> &'p str {
            if spaced {
                text
            } else {
                text.get(1..).unwrap_or_default()
            }
        };
        match (self.style, self.ids) {
            (Style::Go, None) => f.write_str(lead(&p.spaced_go)),
            (Style::Go, Some(ids)) if p.spaced_go.is_empty() => f.write_str(match self.spaced {
                true => ids.go_spaced(),
                false => ids.go(),
            }),
            (Style::Go, Some(ids)) => {
                f.write_str(lead(&p.spaced_go))?;
                f.write_str(ids.go_spaced())
            }
            (Style::Python, ids) => {
                let (trace, span) = ids.map_or(("0", "0"), |ids| (ids.trace(), ids.span()));
                f.write_str(lead(&p.spaced_python_lead))?;
                f.write_str(trace)?;
                f.write_str(" dd.span_id=")?;
                f.write_str(span)?;
                f.write_str("]")
            }
        }
    }
}

impl fmt::Debug for Correlation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Correlation")
            .field(&self.to_string())
            .finish()
    }
}

/// The configuration's share of the text, escaped and laid out once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// ` dd.service=.. dd.env=.. dd.version=..`, each pair after a space, empty pairs
    /// left out: empty when all three are.
    spaced_go: String,
    /// ` [dd.service=.. dd.env=.. dd.version=.. dd.trace_id=`.
    spaced_python_lead: String,
    service: String,
    env: String,
    version: String,
}

impl Prefix {
    pub(crate) fn new(service: &str, env: &str, version: &str) -> Self {
        let pairs = [
            ("dd.service", service),
            ("dd.env", env),
            ("dd.version", version),
        ];
        let mut spaced_go = String::new();
        let mut python_lead = String::from(" [");
        for (key, value) in pairs {
            if !value.is_empty() {
                spaced_go.push(' ');
                push_pair(&mut spaced_go, key, value);
            }
            push_pair(&mut python_lead, key, value);
            python_lead.push(' ');
        }
        python_lead.push_str("dd.trace_id=");
        Prefix {
            spaced_go,
            spaced_python_lead: python_lead,
            service: service.to_owned(),
            env: env.to_owned(),
            version: version.to_owned(),
        }
    }
}

fn push_pair(out: &mut String, key: &str, value: &str) {
    out.push_str(key);
    out.push('=');
    push_value(out, value);
}

/// Writes a configuration value bare when it is safe, quoted and escaped otherwise, so a
/// value can neither split a line nor forge a key.
fn push_value(out: &mut String, value: &str) {
    let odd = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '=');
    if !value.contains(odd) {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                use std::fmt::Write;
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

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
        if wide && trace_id.high() != 0 {
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
        text.push('"');
        IdsText {
            text,
            trace_len,
            span_len,
            wide_logging: wide,
        }
    }

    pub(crate) fn wide_logging(&self) -> bool {
        self.wide_logging
    }

    /// ` dd.trace_id="..." dd.span_id="..." dd.parent_id="..."`, with the leading space.
    #[inline]
    fn go_spaced(&self) -> &str {
        &self.text
    }

    fn go(&self) -> &str {
        self.text.get(1..).unwrap_or_default()
    }

    fn slice(&self, start: usize, len: u8) -> &str {
        self.text
            .get(start..start + usize::from(len))
            .unwrap_or_default()
    }

    fn trace(&self) -> &str {
        self.slice(TRACE_KEY.len(), self.trace_len)
    }

    fn span(&self) -> &str {
        self.slice(
            TRACE_KEY.len() + usize::from(self.trace_len) + SPAN_KEY.len(),
            self.span_len,
        )
    }

    fn parent(&self) -> &str {
        let start = TRACE_KEY.len()
            + usize::from(self.trace_len)
            + SPAN_KEY.len()
            + usize::from(self.span_len)
            + PARENT_KEY.len();
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

#[cfg(feature = "kv")]
pub(crate) mod kv {
    //! The fields as `log::kv` pairs (SPEC §4): strings, unquoted, unescaped.

    use log::kv::{Error, Key, Source, Value, VisitSource};

    use super::{IdsText, Prefix};

    /// spanlog's pairs: service, env and version when set, then the ids inside a span.
    pub(crate) struct Pairs<'a> {
        pub(super) prefix: &'a Prefix,
        pub(super) ids: Option<&'a IdsText>,
    }

    impl Pairs<'_> {
        fn each<'s>(
            &'s self,
            mut f: impl FnMut(&'static str, &'s str) -> Result<(), Error>,
        ) -> Result<(), Error> {
            let p = self.prefix;
            for (key, value) in [
                ("dd.service", &p.service),
                ("dd.env", &p.env),
                ("dd.version", &p.version),
            ] {
                if !value.is_empty() {
                    f(key, value)?;
                }
            }
            if let Some(ids) = self.ids {
                f("dd.trace_id", ids.trace())?;
                f("dd.span_id", ids.span())?;
                f("dd.parent_id", ids.parent())?;
            }
            Ok(())
        }
    }

    /// A record's own pairs followed by spanlog's. When the record already carries a key
    /// spanlog would add, the record's pair wins and spanlog's is left out, so no key
    /// appears twice.
    pub(crate) struct WithPairs<'a> {
        pub(crate) record: &'a dyn Source,
        pub(crate) ours: Pairs<'a>,
    }

    impl Source for WithPairs<'_> {
        fn visit<'kvs>(&'kvs self, visitor: &mut dyn VisitSource<'kvs>) -> Result<(), Error> {
            self.record.visit(visitor)?;
            self.ours.each(|key, value| {
                let key = Key::from_str(key);
                if self.record.get(key.clone()).is_some() {
                    return Ok(());
                }
                visitor.visit_pair(key, Value::from(value))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: TraceId = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
    const SPAN: SpanId = SpanId::from_u64(10582933694091117294);

    fn blog() -> Config {
        Config::new()
            .with_service("blog")
            .with_env("prod")
            .with_version("1.2.3")
    }

    #[test]
    fn spec_vector_go() {
        assert_eq!(
            Correlation::for_ids(&blog(), TRACE, SPAN, SpanId::ZERO).to_string(),
            r#"dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0""#
        );
    }

    #[test]
    fn spec_vector_python() {
        assert_eq!(
            Correlation::for_ids(&blog(), TRACE, SPAN, SpanId::from_u64(7))
                .style(Style::Python)
                .to_string(),
            "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=6b04d2e800000000e6a5cefc6c3cef4e dd.span_id=10582933694091117294]"
        );
    }

    #[test]
    fn empty_service_env_version_are_left_out_in_go_style() {
        let empty = Config::new();
        let text = Correlation::for_ids(&empty, TRACE, SPAN, SpanId::from_u64(42));
        assert_eq!(
            text.to_string(),
            r#"dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="42""#
        );
        let only_env = Config::new().with_env("staging");
        assert_eq!(
            Correlation::for_ids(&only_env, TRACE, SPAN, SpanId::ZERO).to_string(),
            r#"dd.env=staging dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0""#
        );
    }

    #[test]
    fn empty_values_are_printed_bare_in_python_style() {
        let config = Config::new();
        let text = Correlation::for_ids(&config, TRACE, SPAN, SpanId::ZERO).style(Style::Python);
        assert_eq!(
            text.to_string(),
            "[dd.service= dd.env= dd.version= dd.trace_id=6b04d2e800000000e6a5cefc6c3cef4e dd.span_id=10582933694091117294]"
        );
    }

    #[test]
    fn sixty_four_bit_trace_ids_are_logged_in_decimal() {
        let narrow = TraceId::from_parts(0, 16619917583423696718);
        assert_eq!(
            Correlation::for_ids(&Config::new(), narrow, SPAN, SpanId::ZERO).to_string(),
            r#"dd.trace_id="16619917583423696718" dd.span_id="10582933694091117294" dd.parent_id="0""#
        );
    }

    #[test]
    fn with_128_bit_logging_off_the_lower_half_is_logged_in_decimal() {
        let config = blog().with_trace_id_128_logging(false);
        let text = Correlation::for_ids(&config, TRACE, SPAN, SpanId::ZERO);
        assert_eq!(
            text.to_string(),
            r#"dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="16619917583423696718" dd.span_id="10582933694091117294" dd.parent_id="0""#
        );
        assert_eq!(
            text.style(Style::Python).to_string(),
            "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=16619917583423696718 dd.span_id=10582933694091117294]"
        );
    }

    #[test]
    fn the_longest_ids_fit() {
        let config = Config::new();
        let text = Correlation::for_ids(
            &config,
            TraceId::from_u128(u128::MAX),
            SpanId::from_u64(u64::MAX),
            SpanId::from_u64(u64::MAX),
        );
        let expected = r#"dd.trace_id="ffffffffffffffffffffffffffffffff" dd.span_id="18446744073709551615" dd.parent_id="18446744073709551615""#;
        assert_eq!(text.to_string(), expected);
        assert_eq!(expected.len(), 116);
        let small = TraceId::from_parts(1, 0);
        assert_eq!(
            Correlation::for_ids(&Config::new(), small, SpanId::from_u64(1), SpanId::ZERO)
                .trace_id(),
            Some("00000000000000010000000000000000"),
            "hex is zero-padded to 32 digits"
        );
    }

    #[test]
    fn without_a_span() {
        assert_eq!(
            Correlation::without_span(&blog()).to_string(),
            "dd.service=blog dd.env=prod dd.version=1.2.3"
        );
        assert_eq!(Correlation::without_span(&Config::new()).to_string(), "");
        assert!(Correlation::without_span(&Config::new()).is_empty());
        assert_eq!(
            Correlation::without_span(&Config::new())
                .style(Style::Python)
                .to_string(),
            "[dd.service= dd.env= dd.version= dd.trace_id=0 dd.span_id=0]"
        );
        assert_eq!(
            Correlation::without_span(&blog())
                .style(Style::Python)
                .to_string(),
            "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=0 dd.span_id=0]"
        );
    }

    #[test]
    fn odd_values_are_quoted_and_escaped() {
        let cases = [
            ("my service", r#""my service""#),
            ("a=b", r#""a=b""#),
            ("say \"hi\"", r#""say \"hi\"""#),
            ("back\\slash", r#""back\\slash""#),
            ("two\nlines", r#""two\nlines""#),
            ("tab\there", r#""tab\there""#),
            ("bell\u{7}cr\r", r#""bell\u{7}cr\u{d}""#),
            ("nbsp\u{a0}x", "\"nbsp\u{a0}x\""),
            ("plain-value_1.2:3/ok", "plain-value_1.2:3/ok"),
            ("ünïcode", "ünïcode"),
        ];
        for (value, expected) in cases {
            let config = Config::new().with_service(value);
            assert_eq!(
                Correlation::without_span(&config).to_string(),
                format!("dd.service={expected}"),
                "{value:?}"
            );
            assert_eq!(
                Correlation::without_span(&config)
                    .style(Style::Python)
                    .to_string(),
                format!("[dd.service={expected} dd.env= dd.version= dd.trace_id=0 dd.span_id=0]"),
                "{value:?}"
            );
        }
        // A forged key cannot survive: the whole value stays inside one quoted token.
        let forged = Config::new().with_env("prod dd.trace_id=\"1\"");
        assert_eq!(
            Correlation::without_span(&forged).to_string(),
            r#"dd.env="prod dd.trace_id=\"1\"""#
        );
    }

    #[test]
    fn digits_are_exposed_without_quotes() {
        let config = blog();
        let text = Correlation::for_ids(&config, TRACE, SPAN, SpanId::from_u64(5));
        assert_eq!(text.trace_id(), Some("6b04d2e800000000e6a5cefc6c3cef4e"));
        assert_eq!(text.span_id(), Some("10582933694091117294"));
        assert_eq!(text.parent_id(), Some("5"));
        assert_eq!(Correlation::without_span(&blog()).span_id(), None);
    }
}

#[cfg(test)]
mod layout {
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
    fn spaced_and_plain_texts_differ_by_the_leading_space() {
        let config = Config::new().with_service("blog");
        let ids = IdsText::new(
            TraceId::from_parts(1, 2),
            SpanId::from_u64(3),
            SpanId::from_u64(4),
            true,
        );
        for style in [Style::Go, Style::Python] {
            for ids in [Some(&ids), None] {
                for config in [&config, &Config::new()] {
                    let plain = Text::new(config.prefix(), ids, style).to_string();
                    let spaced = Text::spaced(config.prefix(), ids, style).to_string();
                    if plain.is_empty() {
                        assert_eq!(spaced, "");
                    } else {
                        assert_eq!(spaced, format!(" {plain}"));
                    }
                }
            }
        }
    }
}
