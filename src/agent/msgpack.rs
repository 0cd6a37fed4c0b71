//! The Datadog Agent's v0.4 trace payload, in MessagePack.
//!
//! Written by hand into a reused `Vec`: the payload uses a handful of forms (strings,
//! unsigned and signed integers, doubles, map and array headers), each here a length
//! check and a copy, and the keys are written pre-encoded. `rmp`'s writers go through
//! `io::Write` for every marker and value, a function call each: 1,333 instructions
//! per span with them, 883 here. The tests decode the payload with `rmp`.

use arrayvec::ArrayVec;

use super::group::Chunks;
use crate::export::FinishedSpan;
use crate::sampling::Decision;

/// What every span of the payload shares: unified service tagging.
pub(crate) struct Tags<'a> {
    pub(crate) service: &'a str,
    pub(crate) env: &'a str,
    pub(crate) version: &'a str,
    /// `DD_TAGS`: on every span, unless the span sets the key itself.
    pub(crate) global: &'a [(String, String)],
}

/// Writes an array of trace chunks, each an array of span maps (the agent's v0.4
/// format), into `out`, which is cleared first and reused from batch to batch. The
/// first span of a chunk carries the trace-level data: `_dd.p.tid`, propagated tags,
/// origin, and the sampling priority. Everything is written from borrowed data: no
/// allocation per span.
pub(crate) fn encode_traces(
    out: &mut Vec<u8>,
    batch: &[FinishedSpan],
    chunks: &Chunks,
    tags: &Tags<'_>,
) {
    out.clear();
    let out = &mut Writer(out);
    out.array_len(chunks.chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        out.array_len(chunk.len());
        let decision = chunks.decisions.get(i).copied().flatten();
        for (position, &index) in chunk.iter().enumerate() {
            let root = (position == 0).then_some(decision);
            write_span(out, &batch[index], root, tags);
        }
    }
}

/// MessagePack into a `Vec`, each value in its most compact form. Writing into a `Vec`
/// cannot fail.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    #[inline(always)]
    fn bytes(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }

    /// A marker byte, then `len` big-endian in the width the marker says.
    #[inline(always)]
    fn head(&mut self, marker: u8, len: u64, width: usize) {
        self.0.push(marker);
        self.bytes(&len.to_be_bytes()[8 - width..]);
    }

    /// A key whose encoding is known at compile time: one copy.
    #[inline(always)]
    fn key(&mut self, encoded: &'static [u8]) {
        self.bytes(encoded);
    }

    #[inline(always)]
    fn str(&mut self, s: &str) {
        // No string here comes near 4 GiB; one that did would be cut short.
        let bytes = &s.as_bytes()[..s.len().min(u32::MAX as usize)];
        let len = bytes.len() as u64;
        match len {
            0..32 => self.0.push(0xa0 | len as u8),
            32..256 => self.head(0xd9, len, 1),
            256..65_536 => self.head(0xda, len, 2),
            _ => self.head(0xdb, len, 4),
        }
        self.bytes(bytes);
    }

    #[inline(always)]
    fn uint(&mut self, value: u64) {
        match value {
            0..128 => self.0.push(value as u8),
            128..256 => self.head(0xcc, value, 1),
            256..65_536 => self.head(0xcd, value, 2),
            65_536..0x1_0000_0000 => self.head(0xce, value, 4),
            _ => self.head(0xcf, value, 8),
        }
    }

    #[inline(always)]
    fn int(&mut self, value: i64) {
        match value {
            0.. => self.uint(value as u64),
            -32..0 => self.0.push(value as u8),
            -128..-32 => self.head(0xd0, value as u64, 1),
            -32_768..-128 => self.head(0xd1, value as u64, 2),
            -0x8000_0000..-32_768 => self.head(0xd2, value as u64, 4),
            _ => self.head(0xd3, value as u64, 8),
        }
    }

    #[inline(always)]
    fn f64(&mut self, value: f64) {
        self.head(0xcb, value.to_bits(), 8);
    }

    #[inline(always)]
    fn map_len(&mut self, len: usize) {
        self.container_len(0x80, 0xde, len);
    }

    #[inline(always)]
    fn array_len(&mut self, len: usize) {
        self.container_len(0x90, 0xdc, len);
    }

    /// A map or array header: the fix form below 16 entries, else 16 or 32 bits.
    #[inline(always)]
    fn container_len(&mut self, fix: u8, wide: u8, len: usize) {
        let len = len.min(u32::MAX as usize) as u64;
        match len {
            0..16 => self.0.push(fix | len as u8),
            16..65_536 => self.head(wide, len, 2),
            _ => self.head(wide + 1, len, 4),
        }
    }
}

/// 16 lower-case hex digits.
fn hex16(value: u64) -> [u8; 16] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 16];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = DIGITS[((value >> (60 - 4 * i)) & 0xf) as usize];
    }
    out
}

/// `chunk_root` is `Some` for the first span of a chunk, with the sampling decision made
/// here for its trace (`None` inside: upstream's stands).
fn write_span(
    out: &mut Writer<'_>,
    span: &FinishedSpan,
    chunk_root: Option<Option<Decision>>,
    tags: &Tags<'_>,
) {
    let decision = chunk_root.flatten();
    let chunk_root = chunk_root.is_some();
    let context = &span.context;
    let trace = context.trace.as_deref();
    // The span's own tags come last and win over the defaults: a default whose key the
    // span sets is left out.
    let own = |key: &str| span.meta.iter().any(|(k, _)| k == key);
    let (tid, parent);
    let mut defaults: ArrayVec<(&str, &str), 8> = ArrayVec::new();
    let mut propagated: &[(String, String)] = &[];
    if !tags.env.is_empty() {
        defaults.push(("env", tags.env));
    }
    if !tags.version.is_empty() {
        defaults.push(("version", tags.version));
    }
    defaults.push(("language", "rust"));
    if chunk_root {
        let high = context.trace_id.high();
        tid = hex16(high);
        if high != 0 {
            defaults.push(("_dd.p.tid", std::str::from_utf8(&tid).unwrap_or_default()));
        }
        let decided_here = context.upstream_priority().is_none();
        propagated = trace.map(|t| t.tags.as_slice()).unwrap_or_default();
        match decision {
            // A decision made here names its maker, replacing upstream's.
            Some(decision) => defaults.push(("_dd.p.dm", decision.mechanism.decision_maker())),
            None if decided_here && !propagated.iter().any(|(k, _)| k == "_dd.p.dm") => {
                defaults.push(("_dd.p.dm", "-0"));
            }
            None => {}
        }
        if let Some(origin) = trace.and_then(|t| t.origin.as_deref()) {
            defaults.push(("_dd.origin", origin));
        }
        parent = trace.and_then(|t| t.last_parent_id).map(hex16);
        if let Some(parent) = &parent {
            defaults.push((
                "_dd.parent_id",
                std::str::from_utf8(parent).unwrap_or_default(),
            ));
        }
        if let Some(error) = trace.and_then(|t| t.propagation_error) {
            defaults.push(("_dd.propagation_error", error));
        }
    }
    let defaults = defaults
        .iter()
        .copied()
        .chain(tags.global.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let defaults = defaults.filter(|(key, _)| !own(key));
    let propagated = propagated
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(key, _)| !(own(key) || decision.is_some() && *key == "_dd.p.dm"));
    let own_tags = span
        .meta
        .iter()
        .map(|(k, v)| (&**k, &**v))
        .filter(|(key, _)| !key.is_empty());
    let meta_len = defaults.clone().count() + propagated.clone().count() + own_tags.clone().count();

    // Metrics: the span's own, then the chunk root's sampling priority (which replaces
    // one the span set) and `_dd.top_level` on root spans (unless the span set it).
    let own_metric = |key: &str| span.metrics.iter().any(|(k, _)| k == key);
    let own_metrics = span
        .metrics
        .iter()
        .map(|(k, v)| (&**k, *v))
        .filter(|(key, _)| !(chunk_root && *key == "_sampling_priority_v1"));
    // The rest in one small list, counted and written without cloning iterators.
    let mut added: ArrayVec<(&str, f64), 5> = ArrayVec::new();
    if chunk_root {
        let priority = decision.map_or(context.sampling_priority(), |d| d.priority);
        added.push(("_sampling_priority_v1", f64::from(priority)));
    }
    if let Some(d) = decision {
        let rates = [
            ("_dd.rule_psr", d.rule_rate),
            ("_dd.agent_psr", d.agent_rate),
            ("_dd.limit_psr", d.limit_rate),
        ];
        added.extend(rates.into_iter().filter_map(|(k, r)| Some((k, r?))));
    }
    if context.parent_id.is_zero() && !own_metric("_dd.top_level") {
        added.push(("_dd.top_level", 1.0));
    }
    let metrics_len = own_metrics.clone().count() + added.len();

    out.map_len(12);
    out.key(b"\xa8trace_id");
    out.uint(context.trace_id.low());
    out.key(b"\xa7span_id");
    out.uint(context.span_id.to_u64());
    out.key(b"\xa9parent_id");
    out.uint(context.parent_id.to_u64());
    out.key(b"\xa4name");
    out.str(&span.name);
    out.key(b"\xa8resource");
    out.str(&span.resource);
    out.key(b"\xa7service");
    out.str(span.service.as_deref().unwrap_or(tags.service));
    out.key(b"\xa4type");
    out.str(span.span_type.as_deref().unwrap_or(""));
    out.key(b"\xa5start");
    out.int(span.start_unix_nanos);
    out.key(b"\xa8duration");
    out.int(span.duration_nanos);
    out.key(b"\xa5error");
    out.int(i64::from(span.error));
    out.key(b"\xa4meta");
    out.map_len(meta_len);
    for (key, value) in defaults.chain(propagated).chain(own_tags) {
        out.str(key);
        out.str(value);
    }
    out.key(b"\xa7metrics");
    out.map_len(metrics_len);
    for (key, value) in own_metrics.chain(added) {
        out.str(key);
        out.f64(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::TraceMeta;
    use crate::id::TraceId;
    use rmp::decode;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[derive(Debug, PartialEq)]
    enum V {
        U(u64),
        I(i64),
        S(String),
        F(f64),
        Map(BTreeMap<String, V>),
    }

    /// Decodes one value, remembering its msgpack family, so types are checked too.
    fn value(buf: &mut &[u8]) -> V {
        let marker = rmp::Marker::from_u8(buf[0]);
        use rmp::Marker::*;
        match marker {
            FixPos(_) | U8 | U16 | U32 | U64 => V::U(decode::read_int(buf).unwrap()),
            FixNeg(_) | I8 | I16 | I32 | I64 => V::I(decode::read_int(buf).unwrap()),
            F64 => V::F(decode::read_f64(buf).unwrap()),
            FixStr(_) | Str8 | Str16 | Str32 => V::S(string(buf)),
            FixMap(_) | Map16 | Map32 => {
                let n = decode::read_map_len(buf).unwrap();
                V::Map((0..n).map(|_| (string(buf), value(buf))).collect())
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn every_form_at_every_width_boundary_decodes_with_rmp() {
        let mut buf = Vec::new();
        let mut out = Writer(&mut buf);
        let uints = [
            0,
            127,
            128,
            255,
            256,
            65_535,
            65_536,
            u64::from(u32::MAX),
            1 << 32,
            u64::MAX,
        ];
        let ints = [
            0,
            127,
            128,
            1 << 40,
            i64::MAX,
            -1,
            -32,
            -33,
            -128,
            -129,
            -32_768,
            -32_769,
            i64::from(i32::MIN),
            i64::from(i32::MIN) - 1,
            i64::MIN,
        ];
        let lens = [0, 15, 16, 31, 32, 255, 256, 65_535, 65_536];
        uints.iter().for_each(|&v| out.uint(v));
        ints.iter().for_each(|&v| out.int(v));
        lens.iter().for_each(|&n| out.str(&"x".repeat(n)));
        lens.iter().for_each(|&n| out.map_len(n));
        lens.iter().for_each(|&n| out.array_len(n));
        out.f64(-0.25);

        let mut rest = &buf[..];
        for v in uints {
            assert_eq!(decode::read_int::<u64, _>(&mut rest).unwrap(), v);
        }
        for v in ints {
            assert_eq!(decode::read_int::<i64, _>(&mut rest).unwrap(), v);
        }
        for n in lens {
            assert_eq!(string(&mut rest), "x".repeat(n));
        }
        for n in lens {
            assert_eq!(decode::read_map_len(&mut rest).unwrap(), n as u32);
        }
        for n in lens {
            assert_eq!(decode::read_array_len(&mut rest).unwrap(), n as u32);
        }
        assert_eq!(decode::read_f64(&mut rest).unwrap(), -0.25);
        assert!(rest.is_empty(), "{} bytes left", rest.len());

        // Each value in its most compact form, as rmp writes it.
        for v in uints {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            Writer(&mut ours).uint(v);
            rmp::encode::write_uint(&mut theirs, v).unwrap();
            assert_eq!(ours, theirs, "{v}");
        }
        for v in ints {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            Writer(&mut ours).int(v);
            rmp::encode::write_sint(&mut theirs, v).unwrap();
            assert_eq!(ours, theirs, "{v}");
        }
    }

    fn string(buf: &mut &[u8]) -> String {
        let len = decode::read_str_len(buf).unwrap() as usize;
        let (s, rest) = buf.split_at(len);
        *buf = rest;
        String::from_utf8(s.to_vec()).unwrap()
    }

    fn span(trace: TraceId, id: u64, parent: u64) -> FinishedSpan {
        let mut span = crate::export::testing::finished(trace.low(), id, parent);
        span.context.trace_id = trace;
        span.name = "web.request".into();
        span.resource = "/posts".into();
        span.span_type = Some("web".into());
        span.start_unix_nanos = 1_764_000_000_123_456_789;
        span.duration_nanos = 2_500_000;
        span.error = parent != 0;
        span.meta = vec![("http.method".into(), "GET".into())];
        span.metrics = vec![("rows".into(), 3.0)];
        span
    }

    #[test]
    fn every_field_and_type() {
        let trace = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
        let root = span(trace, 10582933694091117294, 0);
        let child = span(trace, 7, 10582933694091117294);
        let mut remote = span(TraceId::from_parts(0, 99), 8, 5);
        remote.service = Some("db".into());
        remote.span_type = None;
        remote.context.set_upstream_priority(Some(2));
        remote.context.trace = Some(Arc::new(TraceMeta {
            origin: Some("rum".into()),
            tags: vec![("_dd.p.dm".into(), "-4".into())],
            foreign_tracestate: vec![],
            last_parent_id: Some(0x92de221fbdd042ee),
            propagation_error: Some("extract_max_size"),
        }));
        let tags = Tags {
            service: "blog",
            env: "prod",
            version: "1.2.3",
            global: &[("team".to_owned(), "blog".to_owned())],
        };
        let batch = [root, child, remote];
        let mut chunks = Chunks::default();
        chunks.group(&batch);
        let mut body = Vec::new();
        encode_traces(&mut body, &batch, &chunks, &tags);

        let buf = &mut &body[..];
        assert_eq!(decode::read_array_len(buf).unwrap(), 2);
        assert_eq!(decode::read_array_len(buf).unwrap(), 2);
        let V::Map(first) = value(buf) else { panic!() };
        let V::Map(second) = value(buf) else { panic!() };
        assert_eq!(decode::read_array_len(buf).unwrap(), 1);
        let V::Map(third) = value(buf) else { panic!() };
        assert!(buf.is_empty(), "nothing trailing");

        let keys: Vec<&str> = first.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "duration",
                "error",
                "meta",
                "metrics",
                "name",
                "parent_id",
                "resource",
                "service",
                "span_id",
                "start",
                "trace_id",
                "type"
            ]
        );
        assert_eq!(first["trace_id"], V::U(16619917583423696718));
        assert_eq!(first["span_id"], V::U(10582933694091117294));
        assert_eq!(first["parent_id"], V::U(0));
        assert_eq!(first["name"], V::S("web.request".into()));
        assert_eq!(first["resource"], V::S("/posts".into()));
        assert_eq!(first["service"], V::S("blog".into()));
        assert_eq!(first["type"], V::S("web".into()));
        assert_eq!(
            first["start"],
            V::U(1_764_000_000_123_456_789),
            "positive ints encode unsigned"
        );
        assert_eq!(first["duration"], V::U(2_500_000));
        assert_eq!(first["error"], V::U(0));
        let meta = |m: &BTreeMap<String, V>| match &m["meta"] {
            V::Map(meta) => meta
                .iter()
                .map(|(k, v)| match v {
                    V::S(s) => (k.clone(), s.clone()),
                    other => panic!("meta {k} is not a string: {other:?}"),
                })
                .collect::<BTreeMap<_, _>>(),
            other => panic!("{other:?}"),
        };
        let metrics = |m: &BTreeMap<String, V>| match &m["metrics"] {
            V::Map(metrics) => metrics
                .iter()
                .map(|(k, v)| match v {
                    V::F(f) => (k.clone(), *f),
                    other => panic!("metric {k} is not a float: {other:?}"),
                })
                .collect::<BTreeMap<_, _>>(),
            other => panic!("{other:?}"),
        };
        let m = meta(&first);
        assert_eq!(m["env"], "prod");
        assert_eq!(m["version"], "1.2.3");
        assert_eq!(m["team"], "blog", "DD_TAGS on every span");
        assert_eq!(m["_dd.p.tid"], "6b04d2e800000000");
        assert_eq!(m["_dd.p.dm"], "-0");
        assert_eq!(m["http.method"], "GET");
        assert_eq!(metrics(&first)["_sampling_priority_v1"], 1.0);
        assert_eq!(metrics(&first)["_dd.top_level"], 1.0);
        assert_eq!(metrics(&first)["rows"], 3.0);

        // Not the first of its chunk: no trace-level tags; marked failed.
        assert_eq!(second["error"], V::U(1));
        assert_eq!(second["parent_id"], V::U(10582933694091117294));
        assert!(!meta(&second).contains_key("_dd.p.tid"));
        assert_eq!(meta(&second)["env"], "prod");
        assert_eq!(meta(&second)["team"], "blog");
        assert!(!metrics(&second).contains_key("_sampling_priority_v1"));

        // A continued trace: its own service, upstream's decision and origin.
        assert_eq!(third["service"], V::S("db".into()));
        assert_eq!(third["type"], V::S(String::new()));
        assert_eq!(third["trace_id"], V::U(99));
        let m = meta(&third);
        assert!(!m.contains_key("_dd.p.tid"), "64-bit trace");
        assert_eq!(m["_dd.p.dm"], "-4");
        assert_eq!(m["_dd.origin"], "rum");
        assert_eq!(m["_dd.parent_id"], "92de221fbdd042ee");
        assert_eq!(m["_dd.propagation_error"], "extract_max_size");
        assert_eq!(metrics(&third)["_sampling_priority_v1"], 2.0);
    }
}
