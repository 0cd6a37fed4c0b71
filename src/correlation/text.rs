//! The correlation text as the logger writes it into each line.

use std::fmt;

use super::FieldStyle;
use super::prefix::PrefixSource;
use crate::ids_text::IdsText;

/// The correlation text over borrowed parts: what the logger formats into each line
/// without copying the ids again.
pub(crate) struct LineText<'a, P: ?Sized> {
    prefix: &'a P,
    ids: Option<&'a IdsText>,
    style: FieldStyle,
    /// Starts with the space that separates it from a message.
    spaced: bool,
}

impl<P: ?Sized> Clone for LineText<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: ?Sized> Copy for LineText<'_, P> {}

impl<'a, P: PrefixSource + ?Sized> LineText<'a, P> {
    #[inline]
    pub(crate) fn new(prefix: &'a P, ids: Option<&'a IdsText>, style: FieldStyle) -> Self {
        LineText {
            prefix,
            ids,
            style,
            spaced: false,
        }
    }

    /// The text with a leading space, to follow a message: one piece fewer to format.
    #[inline]
    pub(crate) fn spaced(prefix: &'a P, ids: Option<&'a IdsText>, style: FieldStyle) -> Self {
        LineText {
            spaced: true,
            ..LineText::new(prefix, ids, style)
        }
    }

    /// Whether there is nothing to print (Go style, no span, no service/env/version).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.style == FieldStyle::Go && self.ids.is_none() && self.prefix.go_is_empty()
    }

    #[cfg(feature = "kv")]
    pub(crate) fn prefix(&self) -> &'a P {
        self.prefix
    }

    #[cfg(feature = "kv")]
    pub(crate) fn ids(&self) -> Option<&'a IdsText> {
        self.ids
    }
}

impl<P: PrefixSource + ?Sized> fmt::Display for LineText<'_, P> {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, spaced) = (self.prefix, self.spaced);
        match (self.style, self.ids) {
            (FieldStyle::Go, None) => p.write_go(f, spaced),
            (FieldStyle::Go, Some(ids)) if p.go_is_empty() => f.write_str(match spaced {
                true => ids.go_spaced(),
                false => ids.go(),
            }),
            (FieldStyle::Go, Some(ids)) => {
                p.write_go(f, spaced)?;
                f.write_str(ids.go_spaced())
            }
            (FieldStyle::Python, ids) => {
                let (trace, span) = ids.map_or(("0", "0"), |ids| (ids.trace(), ids.span()));
                p.write_python_lead(f, spaced)?;
                f.write_str(trace)?;
                f.write_str(" dd.span_id=")?;
                f.write_str(span)?;
                f.write_str("]")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::correlation::prefix::Prefix;
    use crate::id::{SpanId, TraceId};

    #[test]
    fn spaced_and_plain_texts_differ_by_the_leading_space() {
        let ids = IdsText::new(
            TraceId::from_parts(1, 2),
            SpanId::from_u64(3),
            SpanId::from_u64(4),
            true,
        );
        for style in [FieldStyle::Go, FieldStyle::Python] {
            for ids in [Some(&ids), None] {
                for config in [Config::new().with_service("blog"), Config::new()] {
                    let prefix = Prefix::new(&config);
                    let plain = LineText::new(&prefix, ids, style).to_string();
                    let spaced = LineText::spaced(&prefix, ids, style).to_string();
                    if plain.is_empty() {
                        assert_eq!(spaced, "");
                    } else {
                        assert_eq!(spaced, format!(" {plain}"));
                    }
                    assert_eq!(plain, LineText::new(&config, ids, style).to_string());
                }
            }
        }
    }
}
