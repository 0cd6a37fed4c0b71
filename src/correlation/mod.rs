//! The correlation fields, as text (`Display`, no allocation) and as key-values.

pub(crate) mod error;
#[cfg(feature = "kv")]
pub(crate) mod kv;
mod message;
mod prefix;
mod text;

use std::fmt;

pub(crate) use self::message::WithFields;
pub(crate) use self::prefix::Prefix;
pub(crate) use self::text::LineText;
use crate::active;
use crate::config::Config;
use crate::id::{SpanId, TraceId};
use crate::ids_text::IdsText;

/// How the correlation text is laid out.
///
/// # Examples
///
/// ```
/// use spanlog::{Config, FieldStyle, TraceId, SpanId, Correlation};
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
///     text.style(FieldStyle::Python).to_string(),
///     "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=6b04d2e800000000e6a5cefc6c3cef4e dd.span_id=10582933694091117294]"
/// );
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldStyle {
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
/// Its `Display` writes the text Datadog's tracers write (see the crate docs) with a
/// handful of `write_str` calls and no allocation: ids are formatted once, when the value
/// is made. Obtain one from
/// [`Span::log`](crate::Span::log), [`Correlation::current`] or
/// [`Correlation::for_ids`].
#[derive(Clone, Copy)]
pub struct Correlation<'a> {
    prefix: Source<'a>,
    ids: Option<IdsText>,
    style: FieldStyle,
}

/// Where service, env and version come from: the global configuration's prefix, laid
/// out once, or a configuration given by the caller, rendered as it is displayed.
#[derive(Clone, Copy)]
enum Source<'a> {
    Prefix(&'a Prefix),
    Config(&'a Config),
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
        let wide = crate::config::global().trace_id_128_logging();
        let mut ids = IdsText::empty();
        let found = active::copy_ids_text(wide, &mut ids);
        Correlation::global(found.then_some(ids))
    }

    /// The fields for `ids` with the global configuration.
    pub(crate) fn global(ids: Option<IdsText>) -> Correlation<'static> {
        Correlation {
            prefix: Source::Prefix(Prefix::global()),
            ids,
            style: FieldStyle::Go,
        }
    }

    /// The fields for the given ids under `config`.
    pub fn for_ids(
        config: &'a Config,
        trace_id: TraceId,
        span_id: SpanId,
        parent_id: SpanId,
    ) -> Self {
        let ids = IdsText::new(trace_id, span_id, parent_id, config.trace_id_128_logging());
        Correlation {
            prefix: Source::Config(config),
            ids: Some(ids),
            style: FieldStyle::Go,
        }
    }

    /// The fields outside of any span: service, env and version only.
    pub fn without_span(config: &'a Config) -> Self {
        Correlation {
            prefix: Source::Config(config),
            ids: None,
            style: FieldStyle::Go,
        }
    }

    /// The same fields in another [`FieldStyle`].
    #[must_use]
    pub fn style(mut self, style: FieldStyle) -> Self {
        self.style = style;
        self
    }

    /// Whether the text is empty (Go style, no span, no service/env/version).
    pub fn is_empty(&self) -> bool {
        match self.prefix {
            Source::Prefix(p) => LineText::new(p, self.ids.as_ref(), self.style).is_empty(),
            Source::Config(c) => LineText::new(c, self.ids.as_ref(), self.style).is_empty(),
        }
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
        let ids = self.ids.as_ref();
        match self.prefix {
            Source::Prefix(p) => LineText::new(p, ids, self.style).fmt(f),
            Source::Config(c) => LineText::new(c, ids, self.style).fmt(f),
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
                .style(FieldStyle::Python)
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
        let text =
            Correlation::for_ids(&config, TRACE, SPAN, SpanId::ZERO).style(FieldStyle::Python);
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
            text.style(FieldStyle::Python).to_string(),
            "[dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=16619917583423696718 dd.span_id=10582933694091117294]"
        );
    }

    #[test]
    fn the_global_prefix_and_a_given_config_write_the_same() {
        let config = crate::config::global();
        let ids = IdsText::new(
            TRACE,
            SPAN,
            SpanId::from_u64(3),
            config.trace_id_128_logging(),
        );
        for style in [FieldStyle::Go, FieldStyle::Python] {
            assert_eq!(
                Correlation::global(Some(ids)).style(style).to_string(),
                Correlation::for_ids(config, TRACE, SPAN, SpanId::from_u64(3))
                    .style(style)
                    .to_string()
            );
        }
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
                .style(FieldStyle::Python)
                .to_string(),
            "[dd.service= dd.env= dd.version= dd.trace_id=0 dd.span_id=0]"
        );
        assert_eq!(
            Correlation::without_span(&blog())
                .style(FieldStyle::Python)
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
            ("line\u{2028}sep", r#""line\u{2028}sep""#),
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
                    .style(FieldStyle::Python)
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
