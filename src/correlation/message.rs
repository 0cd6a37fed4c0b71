//! A log message with the correlation text appended: on its last line, before any
//! trailing line breaks, so that line-oriented readers see the ids with the message.

use std::fmt::{self, Write};

use arrayvec::ArrayString;

use super::prefix::PrefixSource;
use super::text::LineText;

/// `message` followed by `fields`, the fields placed before the message's trailing
/// `\n` / `\r\n` (then the line breaks). Formats without allocating.
pub(crate) struct WithFields<'a, P: ?Sized> {
    pub(crate) message: &'a fmt::Arguments<'a>,
    pub(crate) fields: LineText<'a, P>,
}

/// Whether `c` ends a line: what is held back from the end of a message.
fn is_break(c: char) -> bool {
    c == '\n' || c == '\r'
}

impl<P: PrefixSource + ?Sized> fmt::Display for WithFields<'_, P> {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.message.as_str() {
            // A message without arguments: one `str`, split once.
            Some(message) => {
                let body = message.trim_end_matches(is_break);
                f.write_str(body)?;
                self.fields.fmt(f)?;
                f.write_str(&message[body.len()..])
            }
            None => {
                let mut out = HoldBreaks {
                    f,
                    held: ArrayString::new(),
                };
                out.write_fmt(*self.message)?;
                self.fields.fmt(out.f)?;
                match out.held.is_empty() {
                    true => Ok(()),
                    false => out.f.write_str(&out.held),
                }
            }
        }
    }
}

/// Passes text through, holding back line breaks until text follows them: what is held
/// when the message ends is its trailing line breaks.
struct HoldBreaks<'a, 'f> {
    f: &'a mut fmt::Formatter<'f>,
    held: ArrayString<32>,
}

impl Write for HoldBreaks<'_, '_> {
    #[inline]
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // The common case: text that does not end a line, with nothing held.
        if self.held.is_empty() && !s.ends_with(is_break) {
            return self.f.write_str(s);
        }
        self.write_holding(s)
    }
}

impl HoldBreaks<'_, '_> {
    #[cold]
    fn write_holding(&mut self, s: &str) -> fmt::Result {
        let body = s.trim_end_matches(is_break);
        if !body.is_empty() {
            if !self.held.is_empty() {
                self.f.write_str(&self.held)?;
                self.held.clear();
            }
            self.f.write_str(body)?;
        }
        let breaks = &s[body.len()..];
        if self.held.try_push_str(breaks).is_err() {
            // More line breaks than fit: the earlier ones are not the last.
            self.f.write_str(&self.held)?;
            self.held.clear();
            if self.held.try_push_str(breaks).is_err() {
                self.f.write_str(breaks)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::correlation::FieldStyle;
    use crate::id::{SpanId, TraceId};
    use crate::ids_text::IdsText;

    fn line(message: fmt::Arguments<'_>) -> String {
        let config = Config::new().with_service("blog");
        let ids = IdsText::new(
            TraceId::from_parts(0, 1),
            SpanId::from_u64(2),
            SpanId::ZERO,
            true,
        );
        let fields = LineText::spaced(&config, Some(&ids), FieldStyle::Go);
        WithFields {
            message: &message,
            fields,
        }
        .to_string()
    }

    const FIELDS: &str = r#" dd.service=blog dd.trace_id="1" dd.span_id="2" dd.parent_id="0""#;

    #[test]
    fn fields_go_before_trailing_line_breaks() {
        let n = 7;
        for (got, expected) in [
            (line(format_args!("done")), format!("done{FIELDS}")),
            (line(format_args!("done\n")), format!("done{FIELDS}\n")),
            (line(format_args!("done\r\n")), format!("done{FIELDS}\r\n")),
            (
                line(format_args!("two\nlines\n\n")),
                format!("two\nlines{FIELDS}\n\n"),
            ),
            (line(format_args!("n={n}\n")), format!("n=7{FIELDS}\n")),
            (line(format_args!("n={n}\r\n")), format!("n=7{FIELDS}\r\n")),
            (line(format_args!("a\n{n}\n")), format!("a\n7{FIELDS}\n")),
            (
                line(format_args!("{}", "arg ends\n")),
                format!("arg ends{FIELDS}\n"),
            ),
            (line(format_args!("{n}")), format!("7{FIELDS}")),
            (line(format_args!("\n")), format!("{FIELDS}\n")),
        ] {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn many_trailing_breaks_are_all_kept() {
        let n = 1;
        let breaks = "\n".repeat(100);
        let got = line(format_args!("x{n}{breaks}"));
        assert_eq!(got.matches('\n').count(), 100);
        assert!(got.starts_with("x1"));
        assert!(got.contains(FIELDS));
    }
}
