//! [`CorrelatedWriter`]: the correlation fields in each line `tracing_subscriber::fmt`
//! writes, whatever its format options.

use std::cell::RefCell;
use std::io::{self, Write};

use tracing_core::Metadata;
use tracing_subscriber::fmt::MakeWriter;

use crate::active;
use crate::config;
use crate::correlation::error::ErrorFields;
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
    /// The error the ERROR event being written carries, as [`SpanlogLayer`] read it
    /// (it sees the event, before the formatting layer writes it).
    ///
    /// [`SpanlogLayer`]: super::SpanlogLayer
    static EVENT_ERROR: RefCell<Option<ErrorFields>> = const { RefCell::new(None) };
}

/// Hands the error of the event about to be written to this thread's next line (the
/// layer sets it for every ERROR event, and clears it on any other).
pub(crate) fn set_event_error(error: Option<ErrorFields>) {
    let _ = EVENT_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = error;
        }
    });
}

/// The error of the event being written, taken.
fn take_event_error() -> Option<ErrorFields> {
    EVENT_ERROR
        .try_with(|slot| slot.try_borrow_mut().ok()?.take())
        .ok()
        .flatten()
}

impl<W: Write> Write for CorrelatedEventWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    fn write_all(&mut self, line: &[u8]) -> io::Result<()> {
        if !config::global().logs_injection() {
            // `DD_LOGS_INJECTION=false`: lines go out as they came.
            return self.inner.write_all(line);
        }
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
    let error = take_event_error();
    if !json {
        out.extend_from_slice(body);
        if !body.is_empty() {
            if let Some(error) = &error {
                write!(out, "{}", error.text())?;
            }
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
    // An event's own field of the same name wins: no key twice in one object.
    let theirs = root_keys(inside);
    let mut pair = |out: &mut Vec<u8>, key: &str, value: &str| {
        if theirs.contains(key) {
            return;
        }
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
    for (key, value) in error.iter().flat_map(ErrorFields::pairs) {
        pair(out, key, value);
    }
    out.push(b'}');
    out.extend_from_slice(breaks);
    Ok(())
}

/// The keys spanlog adds to a JSON line.
const OUR_KEYS: [&str; 9] = [
    "dd.service",
    "dd.env",
    "dd.version",
    "dd.trace_id",
    "dd.span_id",
    "dd.parent_id",
    "error.kind",
    "error.message",
    "error.stack",
];

/// Which of [`OUR_KEYS`] the JSON object `object` (its text without the closing brace)
/// has at its root: a bit each. Keys inside nested objects (tracing-subscriber's
/// `"fields":{...}`, `"span":{...}`) do not count.
#[derive(Clone, Copy)]
struct RootKeys(u16);

impl RootKeys {
    fn contains(self, key: &str) -> bool {
        OUR_KEYS
            .iter()
            .position(|k| *k == key)
            .is_some_and(|n| self.0 & (1 << n) != 0)
    }
}

fn root_keys(object: &[u8]) -> RootKeys {
    let mut present = 0u16;
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&byte) = object.get(i) {
        match byte {
            b'"' => {
                let start = i + 1;
                i = start;
                while let Some(&b) = object.get(i) {
                    match b {
                        b'"' => break,
                        b'\\' => i += 2,
                        _ => i += 1,
                    }
                }
                let key = object.get(start..i).unwrap_or_default();
                let next = object
                    .get(i + 1..)
                    .unwrap_or_default()
                    .iter()
                    .find(|b| !b.is_ascii_whitespace());
                if depth == 1 && next == Some(&b':') {
                    if let Some(n) = OUR_KEYS.iter().position(|k| k.as_bytes() == key) {
                        present |= 1 << n;
                    }
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    RootKeys(present)
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

    /// An event that carries `dd.*` fields of its own at the root (`fmt().json()` with
    /// `flatten_event`): its values win and spanlog leaves its own out; keys nested in
    /// another object (`"fields":{...}`) do not count.
    #[test]
    fn an_events_own_dd_fields_are_not_written_twice() {
        let trace = crate::TraceId::from_parts(0, 5);
        let context = crate::SpanContext::new(trace, crate::SpanId::from_u64(6));
        let _guard = context.enter();
        let keys = |object: &str| -> Vec<(String, String)> {
            // A decoder that keeps duplicates: a map would hide them.
            let value: serde_json::Value = serde_json::from_str(object.trim_end()).unwrap();
            let mut keys: Vec<(String, String)> = value
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            keys.sort();
            keys
        };
        let count = |object: &str, key: &str| object.matches(&format!("\"{key}\":")).count();
        let flat = json("{\"message\":\"hi\",\"dd.trace_id\":\"77\",\"dd.service\":\"mine\"}\n");
        assert_eq!(count(&flat, "dd.trace_id"), 1, "{flat}");
        assert_eq!(count(&flat, "dd.service"), 1, "{flat}");
        assert_eq!(count(&flat, "dd.span_id"), 1, "{flat}");
        let parsed = keys(&flat);
        assert!(
            parsed.contains(&("dd.trace_id".into(), "\"77\"".into())),
            "{flat}"
        );
        assert!(
            parsed.contains(&("dd.service".into(), "\"mine\"".into())),
            "{flat}"
        );
        assert!(
            parsed.contains(&("dd.span_id".into(), "\"6\"".into())),
            "{flat}"
        );
        // Nested, with an escaped quote before it: still ours at the root.
        let nested = json("{\"message\":\"a \\\"q\\\" b\",\"fields\":{\"dd.trace_id\":\"77\"}}\n");
        assert_eq!(count(&nested, "dd.trace_id"), 2, "{nested}");
        assert!(
            keys(&nested).contains(&("dd.trace_id".into(), "\"5\"".into())),
            "{nested}"
        );
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
