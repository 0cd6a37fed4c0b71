//! Span links and span events: what a span records beside its tags, as OpenTelemetry
//! and Datadog's tracers define them.

use crate::annotations::Text;
use crate::id::{SpanId, TraceId};

/// A link from a span to another span, of the same trace or another one: the batch a
/// consumer handles, the request a retried job came from, the trace a service chose
/// not to continue. Datadog shows linked spans side by side.
///
/// ```
/// use spanlog::{SpanLink, start_span};
///
/// let producer = start_span("queue.publish").start();
/// let consumer = start_span("queue.process")
///     .root()
///     .link(SpanLink::to(producer.context()).attribute("messaging.operation", "process"))
///     .start();
/// assert_eq!(consumer.links()[0].span_id, producer.span_id());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SpanLink {
    /// The linked span's trace.
    pub trace_id: TraceId,
    /// The linked span.
    pub span_id: SpanId,
    /// What the link means (`reason`, `messaging.operation`, ...), in order.
    pub attributes: Vec<(Text, Text)>,
    /// The linked context's W3C `tracestate`, when it came with one.
    pub tracestate: Option<String>,
    /// The linked context's W3C trace flags (`0x01`: sampled), when known.
    pub flags: Option<u8>,
}

impl SpanLink {
    /// A link to the span `span_id` of trace `trace_id`, with no attributes, trace
    /// state or flags.
    pub fn new(trace_id: TraceId, span_id: SpanId) -> Self {
        SpanLink {
            trace_id,
            span_id,
            attributes: Vec::new(),
            tracestate: None,
            flags: None,
        }
    }

    /// Adds an attribute. A later one with the same key replaces it.
    #[must_use]
    pub fn attribute(mut self, key: impl Into<Text>, value: impl Into<Text>) -> Self {
        set(&mut self.attributes, key.into(), value.into());
        self
    }

    /// Sets the linked context's W3C `tracestate`.
    #[must_use]
    pub fn tracestate(mut self, tracestate: impl Into<String>) -> Self {
        self.tracestate = Some(tracestate.into());
        self
    }

    /// Sets the linked context's W3C trace flags.
    #[must_use]
    pub fn flags(mut self, flags: u8) -> Self {
        self.flags = Some(flags);
        self
    }
}

/// Something that happened during a span, at a point in time: an exception, a retry, a
/// cache miss. Datadog shows a span's events on its timeline.
///
/// ```
/// let mut span = spanlog::start_span("cache.get").start();
/// span.add_event(spanlog::SpanEvent::now("cache.miss").attribute("key", "user:42"));
/// assert_eq!(span.events()[0].name, "cache.miss");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SpanEvent {
    /// What happened.
    pub name: Text,
    /// When, in nanoseconds since the unix epoch.
    pub time_unix_nanos: i64,
    /// Details, in order.
    pub attributes: Vec<(Text, Text)>,
}

impl SpanEvent {
    /// An event named `name` at `time_unix_nanos`, with no attributes.
    pub fn new(name: impl Into<Text>, time_unix_nanos: i64) -> Self {
        SpanEvent {
            name: name.into(),
            time_unix_nanos,
            attributes: Vec::new(),
        }
    }

    /// An event named `name`, now.
    pub fn now(name: impl Into<Text>) -> Self {
        SpanEvent::new(name, crate::clock::system_now())
    }

    /// Adds an attribute. A later one with the same key replaces it.
    #[must_use]
    pub fn attribute(mut self, key: impl Into<Text>, value: impl Into<Text>) -> Self {
        set(&mut self.attributes, key.into(), value.into());
        self
    }
}

/// Sets `key`, replacing an earlier value.
fn set(pairs: &mut Vec<(Text, Text)>, key: Text, value: Text) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(pair) => pair.1 = value,
        None => pairs.push((key, value)),
    }
}

#[cfg(feature = "agent")]
/// Links and events as Datadog's tracers put them in a span's `meta` when the payload
/// has no field of its own for them: JSON text.
pub(crate) mod json {
    use super::{SpanEvent, SpanLink};
    use serde_json::{Map, Value};

    fn attributes(pairs: &[(super::Text, super::Text)]) -> Value {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.as_ref())))
            .collect::<Map<_, _>>()
            .into()
    }

    /// `_dd.span_links`: `[{"trace_id": "<32 hex>", "span_id": "<16 hex>",
    /// "attributes": {...}, "tracestate": "...", "flags": n}]`, the optional members only
    /// when set.
    pub(crate) fn links(links: &[SpanLink]) -> String {
        let links: Vec<Value> = links
            .iter()
            .map(|link| {
                let mut map = Map::new();
                map.insert(
                    "trace_id".into(),
                    format!("{:032x}", link.trace_id.to_u128()).into(),
                );
                map.insert(
                    "span_id".into(),
                    format!("{:016x}", link.span_id.to_u64()).into(),
                );
                if !link.attributes.is_empty() {
                    map.insert("attributes".into(), attributes(&link.attributes));
                }
                if let Some(state) = &link.tracestate {
                    map.insert("tracestate".into(), state.as_str().into());
                }
                if let Some(flags) = link.flags {
                    map.insert("flags".into(), flags.into());
                }
                map.into()
            })
            .collect();
        Value::from(links).to_string()
    }

    /// `events`: `[{"name": "...", "time_unix_nano": n, "attributes": {...}}]`.
    pub(crate) fn events(events: &[SpanEvent]) -> String {
        let events: Vec<Value> = events
            .iter()
            .map(|event| {
                let mut map = Map::new();
                map.insert("name".into(), event.name.as_ref().into());
                map.insert("time_unix_nano".into(), event.time_unix_nanos.into());
                if !event.attributes.is_empty() {
                    map.insert("attributes".into(), attributes(&event.attributes));
                }
                map.into()
            })
            .collect();
        Value::from(events).to_string()
    }
}
