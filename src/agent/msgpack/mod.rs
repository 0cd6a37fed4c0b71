//! The Datadog Agent's v0.4 and v0.5 trace payloads, in MessagePack.
//!
//! Written by hand into a reused `Vec`: the payloads use a handful of forms (strings,
//! unsigned and signed integers, doubles, map and array headers), each here a length
//! check and a copy, and v0.4's keys are written pre-encoded. `rmp`'s writers go
//! through `io::Write` for every marker and value, a function call each: 1,333
//! instructions per span with them, 883 here. The tests decode the payloads with `rmp`.
//!
//! v0.4 is an array of trace chunks, each an array of span maps. v0.5 is a pair: a
//! table of every string of the payload, each once, then the chunks, each span an array
//! of 12 values in a fixed order, its strings given by their place in the table. Both
//! are written by the same functions ([`write_head`], [`write_rest`]) through
//! [`Format`], with v0.4's fields in v0.5's order.

mod format;
mod layout;
pub(crate) mod stats;
mod strings;
mod tags;
mod writer;

use self::format::{Format, V04, V05};
use self::layout::{WideNumbers, write_head, write_rest};
use self::strings::StringTable;
use self::tags::default_tags;
use self::writer::{VecWriter, Writer};
use super::config::ApiVersion;
use super::group::Chunks;
use super::pending::PendingSpan;
use crate::clock::Anchor;

/// What every span of the payload shares: unified service tagging.
pub(crate) struct Tags<'a> {
    pub(crate) service: &'a str,
    pub(crate) env: &'a str,
    pub(crate) version: &'a str,
    /// `DD_TAGS`: on every span, unless the span sets the key itself.
    pub(crate) global: &'a [(String, String)],
    /// Places the spans' times on the wall clock.
    pub(crate) anchor: &'a Anchor,
    /// The commit and repository, on the first span of each chunk.
    pub(crate) git: &'a crate::git::GitMetadata,
    /// `_dd.tags.process`, on the first span of each chunk.
    pub(crate) process: Option<&'a str>,
}

/// Encodes batches in one of the agent's formats, its buffers reused from batch to
/// batch.
#[derive(Default)]
pub(crate) struct Encoder {
    /// v0.5's string table.
    strings: StringTable,
    /// v0.5's chunks, written before the table is complete.
    chunks: Vec<u8>,
    /// The meta most spans share, encoded once per payload.
    plain_meta: Vec<u8>,
}

impl Encoder {
    /// Writes the chunks of `batch` in `version`'s format into `out`, which is cleared
    /// first. The first span of a chunk carries the trace-level data: `_dd.p.tid`,
    /// propagated tags, origin, and the sampling priority. Everything is written from
    /// borrowed data: no allocation per span once the buffers have grown.
    pub(crate) fn encode(
        &mut self,
        version: ApiVersion,
        out: &mut Vec<u8>,
        batch: &[&PendingSpan],
        chunks: &Chunks,
        tags: &Tags<'_>,
    ) {
        out.clear();
        match version {
            ApiVersion::V04 => {
                let plain = &mut self.plain_meta;
                write_chunks(&mut Writer(out), &mut V04, plain, batch, chunks, tags);
            }
            ApiVersion::V05 => {
                self.strings.clear();
                self.chunks.clear();
                let format = &mut V05(&mut self.strings);
                let (out_chunks, plain) = (&mut Writer(&mut self.chunks), &mut self.plain_meta);
                write_chunks(out_chunks, format, plain, batch, chunks, tags);
                let mut out = Writer(out);
                out.array_len(2);
                out.array_len(self.strings.len());
                out.bytes(&self.strings.encoded);
                out.bytes(&self.chunks);
            }
        }
    }
}

/// Encodes `batch` as a v0.4 payload into `out`: see [`Encoder::encode`].
#[cfg(test)]
pub(crate) fn encode_traces(
    out: &mut Vec<u8>,
    batch: &[crate::export::FinishedSpan],
    chunks: &Chunks,
    tags: &Tags<'_>,
) {
    let pending = crate::agent::pending::testing::pending(batch);
    let batch: Vec<&PendingSpan> = pending.iter().collect();
    Encoder::default().encode(ApiVersion::V04, out, &batch, chunks, tags);
}

/// The array of chunks, each an array of spans.
fn write_chunks<F: Format>(
    out: &mut VecWriter<'_>,
    format: &mut F,
    plain_meta: &mut Vec<u8>,
    batch: &[&PendingSpan],
    chunks: &Chunks,
    tags: &Tags<'_>,
) {
    // What follows the numbers of a span with no tags of its own that does not lead
    // its chunk and has no type, the same for most spans: its meta (the defaults), no
    // metrics, an empty type. Written once.
    plain_meta.clear();
    let plain = &mut Writer(&mut *plain_meta);
    format.key(plain, b"\xa4meta");
    let defaults = default_tags(tags);
    plain.map_len(defaults.clone().count());
    for (key, value) in defaults {
        format.str(plain, key);
        format.str(plain, value);
    }
    format.key(plain, b"\xa7metrics");
    plain.map_len(0);
    // Up to here for a span with a type; the rest is an empty one.
    let typed = plain.0.len();
    format.key(plain, b"\xa4type");
    format.str(plain, "");
    let wide = WideNumbers::new(format);
    let mut last_head = None;
    out.array_len(chunks.chunks.len());
    for (i, chunk) in chunks.iter().enumerate() {
        out.array_len(chunk.len());
        let decision = chunks.decisions.get(i).copied().flatten();
        for (position, &index) in chunk.iter().enumerate() {
            let root = (position == 0).then_some(decision);
            let top_level = chunks.top_level.get(index).copied().unwrap_or(false);
            let span = batch[index];
            write_head(out, format, span, tags, &mut last_head);
            let place = (root, top_level);
            write_rest(out, format, (plain_meta, typed), &wide, span, place, tags);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::layout::{WIDE_KEYS, write_numbers};
    use super::strings::hash;
    use super::*;
    use crate::export::FinishedSpan;
    use crate::id::TraceId;
    use crate::span_context::TraceMeta;
    use rmp::decode;
    use std::borrow::Cow;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[derive(Clone, Debug, PartialEq)]
    enum V {
        U(u64),
        I(i64),
        S(String),
        F(f64),
        Map(BTreeMap<String, V>),
        Array(Vec<V>),
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
                let map: BTreeMap<String, V> = (0..n).map(|_| (string(buf), value(buf))).collect();
                assert_eq!(map.len(), n as usize, "a key twice in {map:?}");
                V::Map(map)
            }
            FixArray(_) | Array16 | Array32 => {
                let n = decode::read_array_len(buf).unwrap();
                V::Array((0..n).map(|_| value(buf)).collect())
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
        let mut span = crate::agent::pending::testing::finished(trace.low(), id, parent);
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

    type Spans = Vec<Vec<BTreeMap<String, V>>>;

    /// A v0.4 payload: chunks of span maps.
    fn decode_v04(body: &[u8]) -> Spans {
        let buf = &mut &body[..];
        let chunks = (0..decode::read_array_len(buf).unwrap())
            .map(|_| {
                (0..decode::read_array_len(buf).unwrap())
                    .map(|_| match value(buf) {
                        V::Map(span) => span,
                        other => panic!("a span is a map: {other:?}"),
                    })
                    .collect()
            })
            .collect();
        assert!(buf.is_empty(), "nothing trailing");
        chunks
    }

    /// A v0.5 payload, decoded as the agent does (by position, strings from the table),
    /// into v0.4's maps.
    fn decode_v05(body: &[u8]) -> Spans {
        let buf = &mut &body[..];
        assert_eq!(decode::read_array_len(buf).unwrap(), 2);
        let table: Vec<String> = (0..decode::read_array_len(buf).unwrap())
            .map(|_| string(buf))
            .collect();
        assert_eq!(table[0], "", "the empty string first");
        let unique: std::collections::HashSet<&String> = table.iter().collect();
        assert_eq!(unique.len(), table.len(), "each string once");
        let string = |buf: &mut &[u8]| -> String {
            let index: u32 = decode::read_int(buf).unwrap();
            table[index as usize].clone()
        };
        let fields = [
            "service",
            "name",
            "resource",
            "trace_id",
            "span_id",
            "parent_id",
            "start",
            "duration",
            "error",
            "meta",
            "metrics",
            "type",
        ];
        let chunks = (0..decode::read_array_len(buf).unwrap())
            .map(|_| {
                (0..decode::read_array_len(buf).unwrap())
                    .map(|_| {
                        assert_eq!(decode::read_array_len(buf).unwrap(), 12);
                        let mut span = BTreeMap::new();
                        for field in fields {
                            let value = match field {
                                "service" | "name" | "resource" | "type" => V::S(string(buf)),
                                "meta" => V::Map(
                                    (0..decode::read_map_len(buf).unwrap())
                                        .map(|_| (string(buf), V::S(string(buf))))
                                        .collect(),
                                ),
                                "metrics" => V::Map(
                                    (0..decode::read_map_len(buf).unwrap())
                                        .map(|_| (string(buf), value(buf)))
                                        .collect(),
                                ),
                                _ => value(buf),
                            };
                            span.insert(field.to_owned(), value);
                        }
                        span
                    })
                    .collect()
            })
            .collect();
        assert!(buf.is_empty(), "nothing trailing");
        chunks
    }

    /// Both payloads of `batch`, decoded; they must say the same.
    fn both(batch: &[FinishedSpan], tags: &Tags<'_>) -> (Spans, usize, usize) {
        let pending = crate::agent::pending::testing::pending(batch);
        let batch: &[&PendingSpan] = &pending.iter().collect::<Vec<_>>();
        let mut chunks = Chunks::default();
        chunks.group(batch);
        let mut encoder = Encoder::default();
        let (mut v04, mut v05) = (Vec::new(), Vec::new());
        encoder.encode(ApiVersion::V04, &mut v04, batch, &chunks, tags);
        encoder.encode(ApiVersion::V05, &mut v05, batch, &chunks, tags);
        let spans = decode_v04(&v04);
        assert_eq!(decode_v05(&v05), spans, "v0.5 says what v0.4 says");
        // The encoder's buffers are reused: a second payload is the same.
        let mut again = Vec::new();
        encoder.encode(ApiVersion::V05, &mut again, batch, &chunks, tags);
        assert_eq!(again, v05);
        (spans, v04.len(), v05.len())
    }

    #[test]
    fn v05_carries_what_v04_does_in_fewer_bytes() {
        let tags = Tags {
            service: "unnamed-rust-service",
            env: "prod",
            version: "",
            global: &[],
            anchor: &Anchor::now(),
            git: &Default::default(),
            process: None,
        };
        // Ten-span traces of static names: the common case.
        let mut batch = Vec::new();
        for trace in 1..=100u64 {
            let mut root = span(TraceId::from_parts(trace << 32, trace), 1, 0);
            root.meta.clear();
            root.metrics.clear();
            batch.push(root);
            for id in 2..=10 {
                let mut child = FinishedSpan::new(
                    crate::SpanContext::new(
                        TraceId::from_parts(trace << 32, trace),
                        crate::SpanId::from_u64(id),
                    ),
                    "db.query",
                );
                child.context.parent_id = crate::SpanId::from_u64(1);
                child.start_unix_nanos = 1_764_000_000_000_000_000 + id as i64;
                child.duration_nanos = 1_234;
                batch.push(child);
            }
        }
        let (spans, v04, v05) = both(&batch, &tags);
        assert_eq!(spans.len(), 100);
        assert!(v05 * 3 < v04, "v0.5 {v05} bytes, v0.4 {v04}");

        // Every string distinct (the table grows well past its first size), long ones
        // (every header width), and strings that differ only past their first word.
        let mut batch = Vec::new();
        for i in 0..5_000u64 {
            let mut s = span(TraceId::from_parts(0, i / 7 + 1), i + 1, 0);
            s.name = format!("operation.{i}").into();
            s.resource = "r".repeat((i as usize * 37) % 70_000).into();
            s.meta
                .push((format!("key.{}", i % 100).into(), format!("{i:>40}").into()));
            s.metrics.push((format!("m{}", i % 3).into(), i as f64));
            batch.push(s);
        }
        let (spans, ..) = both(&batch, &tags);
        assert_eq!(spans.iter().map(Vec::len).sum::<usize>(), 5_000);
    }

    /// Random batches (names, resources, services, types, tags and metrics that collide
    /// with each other and with the defaults, static and owned strings, continued
    /// traces with propagated tags, chunks without their root) say the same in both
    /// formats, and the v0.5 table holds each string once.
    #[test]
    fn random_batches_say_the_same_in_both_formats() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let words = [
            "",
            "env",
            "version",
            "language",
            "_dd.p.dm",
            "_dd.p.tid",
            "db.query",
            "web",
            "a",
            "bb",
            "ccccccccc",
            "dddddddddddddddd1",
            "dddddddddddddddd2",
            "x y\n\"z\"",
            "ünïcödé",
            "_sampling_priority_v1",
            "_dd.top_level",
        ];
        for round in 0..200 {
            let pick = |owned: bool, rng: &mut rand::rngs::StdRng| -> Cow<'static, str> {
                let word = words[rng.random_range(0..words.len())];
                match owned {
                    true => Cow::Owned(format!("{word}{}", rng.random_range(0..3))),
                    false => Cow::Borrowed(word),
                }
            };
            let len = rng.random_range(1..300);
            let mut batch = Vec::new();
            for i in 0..len {
                let trace = rng.random_range(1..6u64);
                let mut span = FinishedSpan::new(
                    crate::SpanContext::new(
                        TraceId::from_parts(rng.random_range(0..2u64) << 40, trace),
                        crate::SpanId::from_u64(i + 1),
                    ),
                    "n",
                );
                span.context.parent_id = crate::SpanId::from_u64(match rng.random_range(0..4) {
                    0 => 0,
                    1 => 1_000_000 + i,
                    _ => rng.random_range(0..len + 1),
                });
                let owned = rng.random_bool(0.3);
                span.name = pick(owned, &mut rng);
                if rng.random_bool(0.5) {
                    span.resource = pick(!owned, &mut rng);
                }
                if rng.random_bool(0.2) {
                    span.service = Some(pick(owned, &mut rng));
                }
                if rng.random_bool(0.3) {
                    span.span_type = Some(pick(owned, &mut rng));
                }
                span.error = rng.random_bool(0.1);
                span.start_unix_nanos = rng.random_range(-5..i64::MAX);
                span.duration_nanos = rng.random_range(0..1i64 << 40);
                // Each key once, as a span's setters keep them.
                for _ in 0..rng.random_range(0..4) {
                    let (key, value) = (pick(owned, &mut rng), pick(!owned, &mut rng));
                    if !span.meta.iter().any(|(k, _)| *k == key) {
                        span.meta.push((key, value));
                    }
                }
                for _ in 0..rng.random_range(0..3) {
                    let key = pick(owned, &mut rng);
                    if !span.metrics.iter().any(|(k, _)| *k == key) {
                        span.metrics.push((key, rng.random_range(-1.0..1.0)));
                    }
                }
                if rng.random_bool(0.2) {
                    span.context
                        .set_upstream_priority(Some(rng.random_range(-1..3)));
                    span.context.trace = Some(Arc::new(TraceMeta {
                        origin: rng.random_bool(0.5).then(|| "rum".to_owned()),
                        tags: vec![
                            ("_dd.p.dm".into(), "-4".into()),
                            ("_dd.p.x".into(), "y".into()),
                        ],
                        foreign_tracestate: vec![],
                        last_parent_id: rng.random_bool(0.5).then(|| "0000000000000abc".into()),
                        ..TraceMeta::default()
                    }));
                }
                batch.push(span);
            }
            let global = [
                ("team".to_owned(), "blog".to_owned()),
                ("language".to_owned(), "rust-2024".to_owned()),
            ];
            let tags = Tags {
                service: "svc",
                env: if round % 2 == 0 { "prod" } else { "" },
                version: if round % 3 == 0 { "1.0" } else { "" },
                global: match round % 5 {
                    0 => &global[..1],
                    1 => &global,
                    _ => &[],
                },
                anchor: &Anchor::now(),
                git: &Default::default(),
                process: None,
            };
            let (spans, ..) = both(&batch, &tags);
            assert_eq!(spans.iter().map(Vec::len).sum::<usize>(), batch.len());
        }
    }

    #[test]
    fn the_largest_numbers_fit_on_the_stack() {
        let mut span = span(TraceId::from_parts(u64::MAX, u64::MAX), u64::MAX, u64::MAX);
        span.start_unix_nanos = i64::MIN;
        span.duration_nanos = i64::MIN;
        span.error = true;
        let mut v04 = Vec::new();
        let pending = crate::agent::pending::testing::pending(&[span]);
        let wide = WideNumbers::new(&mut V04);
        write_numbers(
            &mut Writer(&mut v04),
            &mut V04,
            &wide,
            &pending[0],
            &Anchor::now(),
        );
        assert_eq!(v04.len(), 94);
        let buf = &mut &v04[..];
        let mut numbers = Vec::new();
        for _ in 0..6 {
            let key = string(buf);
            numbers.push((key, value(buf)));
        }
        assert!(buf.is_empty());
        assert_eq!(numbers[0], ("trace_id".into(), V::U(u64::MAX)));
        assert_eq!(numbers[4], ("duration".into(), V::I(i64::MIN)));
        assert_eq!(numbers[5], ("error".into(), V::U(1)));
    }

    /// A span's numbers, each written where it goes with its own width check.
    fn numbers_one_by_one<F: Format>(format: &mut F, ids: [u64; 3], times: [i64; 3]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let out = &mut Writer(&mut bytes);
        for (key, id) in WIDE_KEYS.into_iter().zip(ids) {
            format.key(out, key);
            out.uint(id);
        }
        let keys = [WIDE_KEYS[3], b"\xa8duration", b"\xa5error"];
        for (key, value) in keys.into_iter().zip(times) {
            format.key(out, key);
            out.int(value);
        }
        bytes
    }

    #[test]
    fn numbers_in_the_wide_layout_are_written_as_one_by_one() {
        // Every id and the start just below, at and above the widest form's threshold.
        let edges = [0, 1, u64::from(u32::MAX), 1 << 32, u64::MAX >> 1, u64::MAX];
        let starts = [
            -1,
            0,
            i64::from(u32::MAX),
            1 << 32,
            1_790_000_000_000_000_000,
        ];
        let anchor = Anchor::now();
        let mut wide_taken = 0;
        for (i, trace) in edges.into_iter().enumerate() {
            let parent = edges[(i + 2) % edges.len()];
            for (id, start) in edges.into_iter().flat_map(|id| starts.map(|s| (id, s))) {
                let mut span = span(TraceId::from_parts(7, trace), id, parent);
                (span.start_unix_nanos, span.duration_nanos) = (start, 1_500);
                let times = [start, 1_500, i64::from(span.error)];
                let pending = &crate::agent::pending::testing::pending(&[span])[0];
                let ids = [trace, id, parent];

                let mut v04 = Vec::new();
                let wide = WideNumbers::new(&mut V04);
                write_numbers(&mut Writer(&mut v04), &mut V04, &wide, pending, &anchor);
                assert_eq!(
                    v04,
                    numbers_one_by_one(&mut V04, ids, times),
                    "{ids:?} {start}"
                );

                let (mut v05, table) = (Vec::new(), &mut StringTable::default());
                let wide = WideNumbers::new(&mut V05(table));
                write_numbers(
                    &mut Writer(&mut v05),
                    &mut V05(table),
                    &wide,
                    pending,
                    &anchor,
                );
                let one_by_one = numbers_one_by_one(&mut V05(table), ids, times);
                assert_eq!(v05, one_by_one, "{ids:?} {start}");

                let large = |v: u64| v > u64::from(u32::MAX);
                wide_taken += usize::from(ids.into_iter().all(large) && large(start as u64));
            }
        }
        // Both paths were taken: the layout for 9 of the 180 cases.
        assert_eq!(wide_taken, 9);
    }

    #[test]
    fn the_string_hash_spreads_short_strings() {
        // Slot collisions only cost a probe, but a hash that ignored bytes would make
        // every look-up a scan.
        let mut slots = std::collections::HashSet::new();
        for i in 0..1_000 {
            slots.insert(hash(format!("k{i}").as_bytes()) & 2047);
        }
        assert!(slots.len() > 600, "{} distinct slots of 1,000", slots.len());
        assert_ne!(hash(b"abcdefgh1"), hash(b"abcdefgh2"));
        assert_ne!(hash(b""), hash(b"\0"));
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
            last_parent_id: Some("92de221fbdd042ee".into()),
            propagation_error: Some("extract_max_size".into()),
            baggage: vec![("user.id".into(), "42".into())],
            baggage_tags: vec![("baggage.user.id".into(), "42".into())],
            ..TraceMeta::default()
        }));
        let tags = Tags {
            service: "blog",
            env: "prod",
            version: "1.2.3",
            global: &[("team".to_owned(), "blog".to_owned())],
            anchor: &Anchor::now(),
            git: &crate::git::GitMetadata {
                commit_sha: Some("abc123".into()),
                repository_url: Some("https://example.com/org/repo".into()),
            },
            process: Some("entrypoint.name:blog,svc.user:true"),
        };
        // A child with nothing of its own: the meta every such span shares.
        let mut plain = span(trace, 8, 7);
        plain.meta.clear();
        plain.metrics.clear();
        plain.error = false;
        let batch = [root, child, remote, plain];
        let mut chunks = Chunks::default();
        let pending = crate::agent::pending::testing::pending(&batch);
        chunks.group(&pending.iter().collect::<Vec<_>>());
        let mut body = Vec::new();
        encode_traces(&mut body, &batch, &chunks, &tags);
        both(&batch, &tags);

        let buf = &mut &body[..];
        assert_eq!(decode::read_array_len(buf).unwrap(), 2);
        assert_eq!(decode::read_array_len(buf).unwrap(), 3);
        let V::Map(first) = value(buf) else { panic!() };
        let V::Map(second) = value(buf) else { panic!() };
        let V::Map(fourth) = value(buf) else { panic!() };
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
        assert_eq!(m["language"], "rust", "on the first span of a chunk");
        assert_eq!(m["_dd.git.commit.sha"], "abc123", "source code integration");
        assert_eq!(m["_dd.git.repository_url"], "https://example.com/org/repo");
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
        assert!(!meta(&second).contains_key("language"));
        assert!(!meta(&second).contains_key("_dd.git.commit.sha"));
        assert_eq!(meta(&second)["env"], "prod");
        assert_eq!(meta(&second)["team"], "blog");
        assert!(!metrics(&second).contains_key("_sampling_priority_v1"));

        let plain_meta: Vec<(String, String)> = meta(&fourth).into_iter().collect();
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            plain_meta,
            pairs(&[("env", "prod"), ("team", "blog"), ("version", "1.2.3")])
        );
        assert!(metrics(&fourth).is_empty());
        assert_eq!(fourth["parent_id"], V::U(7));

        // A continued trace: its own service, upstream's decision and origin.
        assert_eq!(third["service"], V::S("db".into()));
        assert_eq!(third["type"], V::S(String::new()));
        assert_eq!(third["trace_id"], V::U(99));
        let m = meta(&third);
        assert_eq!(m["_dd.base_service"], "blog", "a service of its own");
        assert!(!meta(&first).contains_key("_dd.base_service"));
        assert_eq!(
            m["_dd.git.commit.sha"], "abc123",
            "on every chunk's first span"
        );
        assert!(!m.contains_key("_dd.p.tid"), "64-bit trace");
        assert_eq!(m["_dd.p.dm"], "-4");
        assert_eq!(m["_dd.origin"], "rum");
        assert_eq!(m["_dd.parent_id"], "92de221fbdd042ee");
        assert_eq!(m["_dd.propagation_error"], "extract_max_size");
        assert_eq!(
            m["baggage.user.id"], "42",
            "the tag keys' items, not all baggage"
        );
        assert!(!m.contains_key("user.id"));
        assert_eq!(metrics(&third)["_sampling_priority_v1"], 2.0);
    }

    /// Links and events, in both payloads as Datadog's tracers send them: v0.4's links
    /// in a field of their own (`span_links`), v0.5's in meta (`_dd.span_links`, JSON);
    /// events in meta (`events`, JSON) in both. Read back as the system-tests read
    /// them, both payloads say the same.
    #[test]
    fn links_and_events_in_both_formats() {
        use crate::{SpanEvent, SpanLink};
        let tags = Tags {
            service: "svc",
            env: "",
            version: "",
            global: &[],
            anchor: &Anchor::now(),
            git: &Default::default(),
            process: None,
        };
        let trace = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
        let mut linked = span(trace, 1, 0);
        linked.links = vec![
            SpanLink::new(
                TraceId::from_u128(0x1234567890123456_1234567890123456),
                crate::SpanId::from_u64(0x1234567890123456),
            )
            .attribute("reason", "terminated_context")
            .attribute("context_headers", "tracecontext")
            .tracestate("dd=s:1,foo=1")
            .flags(1),
            SpanLink::new(TraceId::from_parts(0, 2), crate::SpanId::from_u64(3)),
        ];
        linked.events =
            vec![SpanEvent::new("retry", 1_764_000_000_000_000_001).attribute("attempt", "2")];
        // The same head right after: it must not reuse the linked span's 13 fields.
        let after = span(trace, 2, 1);
        let batch = [linked, after];
        let pending = crate::agent::pending::testing::pending(&batch);
        let refs: Vec<&PendingSpan> = pending.iter().collect();
        let mut chunks = Chunks::default();
        chunks.group(&refs);
        let mut encoder = Encoder::default();
        let (mut v04, mut v05) = (Vec::new(), Vec::new());
        encoder.encode(ApiVersion::V04, &mut v04, &refs, &chunks, &tags);
        encoder.encode(ApiVersion::V05, &mut v05, &refs, &chunks, &tags);
        let (v04, v05) = (decode_v04(&v04), decode_v05(&v05));
        let (first04, first05) = (&v04[0][0], &v05[0][0]);
        assert!(!v04[0][1].contains_key("span_links"));
        let V::Array(links) = &first04["span_links"] else {
            panic!("span_links: {:?}", first04.get("span_links"))
        };
        let expected =
            |m: &[(&str, V)]| V::Map(m.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
        assert_eq!(
            links[0],
            expected(&[
                ("trace_id", V::U(0x1234567890123456)),
                ("trace_id_high", V::U(0x1234567890123456)),
                ("span_id", V::U(0x1234567890123456)),
                (
                    "attributes",
                    V::Map(BTreeMap::from([
                        ("reason".to_owned(), V::S("terminated_context".into())),
                        ("context_headers".to_owned(), V::S("tracecontext".into())),
                    ]))
                ),
                ("tracestate", V::S("dd=s:1,foo=1".into())),
                ("flags", V::U(1 | 1 << 31)),
            ])
        );
        assert_eq!(
            links[1],
            expected(&[("trace_id", V::U(2)), ("span_id", V::U(3))])
        );
        let V::Map(meta05) = &first05["meta"] else {
            panic!()
        };
        let V::S(json) = &meta05["_dd.span_links"] else {
            panic!()
        };
        let json: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"trace_id": "12345678901234561234567890123456", "span_id": "1234567890123456",
                 "attributes": {"reason": "terminated_context", "context_headers": "tracecontext"},
                 "tracestate": "dd=s:1,foo=1", "flags": 1},
                {"trace_id": "00000000000000000000000000000002", "span_id": "0000000000000003"}
            ])
        );
        let events = serde_json::json!([
            {"name": "retry", "time_unix_nano": 1_764_000_000_000_000_001i64, "attributes": {"attempt": "2"}}
        ]);
        for span in [first04, first05] {
            let V::Map(meta) = &span["meta"] else {
                panic!()
            };
            let V::S(json) = &meta["events"] else {
                panic!("{meta:?}")
            };
            assert_eq!(
                serde_json::from_str::<serde_json::Value>(json).unwrap(),
                events
            );
        }
        // Apart from the links' place, the payloads agree.
        let mut first04 = first04.clone();
        let mut first05 = first05.clone();
        first04.remove("span_links");
        if let V::Map(meta) = first05.get_mut("meta").unwrap() {
            meta.remove("_dd.span_links");
        }
        assert_eq!(first04, first05);
        assert_eq!(v04[0][1], v05[0][1]);
    }

    /// `_dd.base_service` names the configured service on spans of another one, also
    /// on a child that sets nothing else (which would otherwise share the plain meta).
    #[test]
    fn spans_of_another_service_name_the_configured_one() {
        let tags = Tags {
            service: "global-service",
            env: "",
            version: "",
            global: &[],
            anchor: &Anchor::now(),
            git: &Default::default(),
            process: None,
        };
        let trace = TraceId::from_parts(0, 42);
        let mut root = span(trace, 1, 0);
        root.service = Some("global-service".into());
        let mut other = FinishedSpan::new(
            crate::SpanContext::new(trace, crate::SpanId::from_u64(2)),
            "child",
        );
        other.context.parent_id = crate::SpanId::from_u64(1);
        other.service = Some("other-service".into());
        let mut same = other.clone();
        same.context.span_id = crate::SpanId::from_u64(3);
        same.service = None;
        let (spans, ..) = both(&[root, other, same], &tags);
        let meta = |i: usize| match &spans[0][i]["meta"] {
            V::Map(m) => m.clone(),
            other => panic!("{other:?}"),
        };
        assert!(
            !meta(0).contains_key("_dd.base_service"),
            "the configured service"
        );
        assert_eq!(meta(1)["_dd.base_service"], V::S("global-service".into()));
        assert!(!meta(2).contains_key("_dd.base_service"));
    }
}
