//! [`CorrelatedWriter`]: the correlation fields in each line `tracing_subscriber::fmt`
//! writes, whatever its format options.

use std::cell::RefCell;
use std::io::{self, Write};

use tracing_core::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::active;
use crate::config;
use crate::correlation::{FieldStyle, LineText, Prefix};
use crate::ids_text::IdsText;

/// Wraps the writer of a `tracing_subscriber::fmt` layer so that every line it writes
/// carries the correlation fields of the span current when the event was recorded,
/// exactly as spanlog's `log` wrapper writes them.
///
/// - [`CorrelatedWriter::text`]: one space and the text after the line (Go style by
///   default, [`FieldStyle::Python`] with [`CorrelatedWriter::style`]), before its line
///   break, whatever the format's options (timestamps, targets, ANSI colours,
///   compact, full or pretty).
/// - [`CorrelatedWriter::json`]: for `fmt().json()`: `"dd.trace_id"`, `"dd.span_id"`,
///   `"dd.parent_id"` (and `"dd.service"`, `"dd.env"`, `"dd.version"` when set) as
///   strings at the root of each object, where Datadog looks for them.
///
/// The current span is the spanlog span current on the writing thread, which includes
/// every `tracing` span entered while [`SpanlogLayer`](super::SpanlogLayer) is
/// installed. (An event given an explicit `parent:` that is not entered gets the ids of
/// the span that is.) Each line is assembled in a buffer of the thread's, reused, and
/// written with one `write_all`, so lines from several threads never interleave.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry()
///     .with(spanlog::tracing::SpanlogLayer::new())
///     .with(
///         tracing_subscriber::fmt::layer()
///             .with_writer(spanlog::tracing::CorrelatedWriter::text(std::io::stdout)),
///     );
/// tracing::subscriber::with_default(subscriber, || {
///     let _span = tracing::info_span!("web.request").entered();
///     tracing::info!("my log message"); // ... my log message dd.trace_id="..." ...
/// });
/// ```
#[derive(Clone, Debug)]
pub struct CorrelatedWriter<M> {
    inner: M,
    json: bool,
    style: FieldStyle,
}

impl<M> CorrelatedWriter<M> {
    /// For text formats: the fields follow each line.
    pub fn text(inner: M) -> Self {
        CorrelatedWriter {
            inner,
            json: false,
            style: FieldStyle::Go,
        }
    }

    /// For `fmt().json()`: the fields join each object, at its root.
    pub fn json(inner: M) -> Self {
        CorrelatedWriter {
            inner,
            json: true,
            style: FieldStyle::Go,
        }
    }

    /// The text layout (Go by default); no effect on JSON.
    #[must_use]
    pub fn style(mut self, style: FieldStyle) -> Self {
        self.style = style;
        self
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for CorrelatedWriter<M> {
    type Writer = CorrelatedEventWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        self.wrap(self.inner.make_writer())
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> Self::Writer {
        self.wrap(self.inner.make_writer_for(meta))
    }
}

impl<M> CorrelatedWriter<M> {
    fn wrap<W>(&self, inner: W) -> CorrelatedEventWriter<W> {
        CorrelatedEventWriter {
            inner,
            json: self.json,
            style: self.style,
        }
    }
}

/// The writer [`CorrelatedWriter`] makes for each event.
#[derive(Debug)]
pub struct CorrelatedEventWriter<W> {
    inner: W,
    json: bool,
    style: FieldStyle,
}

thread_local! {
    /// Where a line is put together; grows to the longest line, then is reused.
    static LINE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<W: Write> Write for CorrelatedEventWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, line: &[u8]) -> io::Result<()> {
        let assembled = LINE.try_with(|scratch| {
            let Ok(mut scratch) = scratch.try_borrow_mut() else {
                return None;
            };
            scratch.clear();
            correlate(&mut scratch, line, self.json, self.style).ok()?;
            Some(self.inner.write_all(&scratch))
        });
        match assembled {
            Ok(Some(result)) => result,
            // No scratch buffer here (a thread-local destructor, or re-entered):
            // the line goes out as it came, rather than not at all.
            _ => self.inner.write_all(line),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// `line` with the current correlation fields: before its trailing line breaks (text),
/// or inside its closing brace (JSON). A line that is not what the format says it is
/// goes out unchanged.
fn correlate(out: &mut Vec<u8>, line: &[u8], json: bool, style: FieldStyle) -> io::Result<()> {
    let config = config::global();
    let mut ids = IdsText::empty();
    let in_span = active::copy_ids_text(config.trace_id_128_logging(), &mut ids);
    let ids = in_span.then_some(&ids);
    let body_len = line
        .iter()
        .rposition(|&b| b != b'\n' && b != b'\r')
        .map_or(0, |i| i + 1);
    let (body, breaks) = line.split_at(body_len);
    let prefix = Prefix::global();
    if !json {
        out.extend_from_slice(body);
        if !body.is_empty() {
            match style {
                // Two copies of text laid out beforehand, no formatting machinery.
                FieldStyle::Go => {
                    out.extend_from_slice(prefix.spaced_go().as_bytes());
                    if let Some(ids) = ids {
                        out.extend_from_slice(ids.go_spaced().as_bytes());
                    }
                }
                _ => write!(out, "{}", LineText::spaced(prefix, ids, style))?,
            }
        }
        out.extend_from_slice(breaks);
        return Ok(());
    }
    let Some(inside) = body.strip_suffix(b"}") else {
        out.extend_from_slice(line);
        return Ok(());
    };
    out.extend_from_slice(inside);
    let mut first = inside.trim_ascii_end().ends_with(b"{");
    let mut pair = |out: &mut Vec<u8>, key: &str, value: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        json_string(out, value);
    };
    for (key, value) in prefix.values() {
        if !value.is_empty() {
            pair(out, key, value);
        }
    }
    if let Some(ids) = ids {
        pair(out, "dd.trace_id", ids.trace());
        pair(out, "dd.span_id", ids.span());
        pair(out, "dd.parent_id", ids.parent());
    }
    out.push(b'}');
    out.extend_from_slice(breaks);
    Ok(())
}

/// A JSON string: quoted, with `"`, `\` and control characters escaped.
fn json_string(out: &mut Vec<u8>, value: &str) {
    out.push(b'"');
    for c in value.chars() {
        match c {
            '"' => out.extend_from_slice(b"\\\""),
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\t' => out.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(line: &str) -> String {
        let mut out = Vec::new();
        correlate(&mut out, line.as_bytes(), false, FieldStyle::Go).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn json(line: &str) -> String {
        let mut out = Vec::new();
        correlate(&mut out, line.as_bytes(), true, FieldStyle::Go).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fields_go_before_the_line_break_and_inside_the_object() {
        let trace = crate::TraceId::from_parts(0, 5);
        let context = crate::SpanContext::new(trace, crate::SpanId::from_u64(6));
        let _guard = context.enter();
        let service = config::global().service();
        let go = text("INFO hello\n");
        assert!(go.starts_with("INFO hello "), "{go}");
        assert!(
            go.ends_with(" dd.trace_id=\"5\" dd.span_id=\"6\" dd.parent_id=\"0\"\n"),
            "{go}"
        );
        // Never empty: DD_SERVICE, else the executable's name.
        assert!(!service.is_empty());
        assert!(go.contains(&format!(" dd.service={service} ")), "{go}");
        let object = json("{\"message\":\"hello\"}\n");
        let parsed: serde_json::Value = serde_json::from_str(object.trim_end()).unwrap();
        assert_eq!(parsed["message"], "hello");
        assert_eq!(parsed["dd.trace_id"], "5");
        assert_eq!(parsed["dd.span_id"], "6");
        assert_eq!(parsed["dd.parent_id"], "0");
        assert!(object.ends_with("}\n"));
        assert_eq!(json("not json\n"), "not json\n");
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = Vec::new();
        json_string(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é""#);
    }
}
