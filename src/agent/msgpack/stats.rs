//! The `/v0.6/stats` payload: client-side trace metrics, as the Agent's
//! `ClientStatsPayload` reads them (MessagePack, field names as in its Go structs,
//! latency distributions as DDSketch protobuf bytes).

use super::writer::Writer;
use crate::agent::stats::{BUCKET_NANOS, Bucket};

/// Who sends the payload.
pub(crate) struct Sender<'a> {
    /// `DD_HOSTNAME`, or empty: the Agent fills in its own.
    pub(crate) hostname: &'a str,
    pub(crate) env: &'a str,
    pub(crate) version: &'a str,
    pub(crate) service: &'a str,
    pub(crate) runtime_id: &'a str,
    pub(crate) sequence: u64,
}

/// Encodes `buckets` into `out` (cleared first).
pub(crate) fn encode(out: &mut Vec<u8>, sender: &Sender<'_>, buckets: Vec<Bucket>) {
    out.clear();
    let w = &mut Writer(&mut *out);
    w.map_len(9);
    for (key, value) in [
        ("Hostname", sender.hostname),
        ("Env", sender.env),
        ("Version", sender.version),
        ("Lang", "rust"),
        ("TracerVersion", env!("CARGO_PKG_VERSION")),
        ("RuntimeID", sender.runtime_id),
        ("Service", sender.service),
    ] {
        w.str(key);
        w.str(value);
    }
    w.str("Sequence");
    w.uint(sender.sequence);
    w.str("Stats");
    w.array_len(buckets.len());
    for bucket in buckets {
        w.map_len(3);
        w.str("Start");
        w.uint(bucket.start);
        w.str("Duration");
        w.uint(BUCKET_NANOS);
        w.str("Stats");
        w.array_len(bucket.groups.len());
        for group in bucket.groups {
            let key = &group.key;
            w.map_len(17);
            for (name, value) in [
                ("Service", &key.service),
                ("Name", &key.name),
                ("Resource", &key.resource),
                ("Type", &key.span_type),
                ("SpanKind", &key.span_kind),
                ("HTTPMethod", &key.http_method),
                ("HTTPEndpoint", &key.http_endpoint),
            ] {
                w.str(name);
                w.str(value);
            }
            w.str("HTTPStatusCode");
            w.uint(u64::from(key.http_status_code));
            w.str("Synthetics");
            w.bool(key.synthetics);
            // A "trilean": 1 true, 2 false.
            w.str("IsTraceRoot");
            w.uint(if key.is_trace_root { 1 } else { 2 });
            w.str("PeerTags");
            w.array_len(key.peer_tags.len());
            for tag in &key.peer_tags {
                w.str(tag);
            }
            for (name, value) in [
                ("Hits", group.hits),
                ("Errors", group.errors),
                ("TopLevelHits", group.top_level_hits),
                ("Duration", group.duration),
            ] {
                w.str(name);
                w.uint(value);
            }
            w.str("OkSummary");
            w.bin(&group.ok.encode_to_vec());
            w.str("ErrorSummary");
            w.bin(&group.error.encode_to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::pending::testing::{finished, pending};
    use crate::agent::stats::Concentrator;
    use rmp::decode;

    fn key(buf: &mut &[u8]) -> String {
        let len = decode::read_str_len(buf).unwrap() as usize;
        let (s, rest) = buf.split_at(len);
        *buf = rest;
        String::from_utf8(s.to_vec()).unwrap()
    }

    #[test]
    fn the_payload_reads_as_the_agent_reads_it() {
        let mut c = Concentrator::default();
        let mut span = finished(1, 1, 0);
        span.resource = "GET /posts".into();
        span.error = true;
        let spans = pending(&[span]);
        c.add(&spans[0], || (12_000_000_000, 5_000), true, "blog");
        let sender = Sender {
            hostname: "host",
            env: "prod",
            version: "1.2",
            service: "blog",
            runtime_id: "id",
            sequence: 7,
        };
        let mut out = Vec::new();
        encode(&mut out, &sender, c.take(u64::MAX, true));
        let buf = &mut &out[..];
        assert_eq!(decode::read_map_len(buf).unwrap(), 9);
        let mut top = Vec::new();
        for _ in 0..7 {
            top.push((key(buf), key(buf)));
        }
        assert_eq!(top[0], ("Hostname".to_owned(), "host".to_owned()));
        assert_eq!(top[1], ("Env".to_owned(), "prod".to_owned()));
        assert_eq!(top[3], ("Lang".to_owned(), "rust".to_owned()));
        assert_eq!(top[6], ("Service".to_owned(), "blog".to_owned()));
        assert_eq!(key(buf), "Sequence");
        assert_eq!(decode::read_int::<u64, _>(buf).unwrap(), 7);
        assert_eq!(key(buf), "Stats");
        assert_eq!(decode::read_array_len(buf).unwrap(), 1);
        assert_eq!(decode::read_map_len(buf).unwrap(), 3);
        assert_eq!(key(buf), "Start");
        assert_eq!(decode::read_int::<u64, _>(buf).unwrap(), 10_000_000_000);
        assert_eq!(key(buf), "Duration");
        assert_eq!(decode::read_int::<u64, _>(buf).unwrap(), BUCKET_NANOS);
        assert_eq!(key(buf), "Stats");
        assert_eq!(decode::read_array_len(buf).unwrap(), 1);
        assert_eq!(decode::read_map_len(buf).unwrap(), 17);
        let mut names = Vec::new();
        for _ in 0..7 {
            names.push((key(buf), key(buf)));
        }
        assert_eq!(names[2], ("Resource".to_owned(), "GET /posts".to_owned()));
        assert_eq!(names[0], ("Service".to_owned(), "blog".to_owned()));
        assert_eq!(key(buf), "HTTPStatusCode");
        assert_eq!(decode::read_int::<u32, _>(buf).unwrap(), 0);
        assert_eq!(key(buf), "Synthetics");
        assert!(!decode::read_bool(buf).unwrap());
        assert_eq!(key(buf), "IsTraceRoot");
        assert_eq!(decode::read_int::<u8, _>(buf).unwrap(), 1);
        assert_eq!(key(buf), "PeerTags");
        assert_eq!(decode::read_array_len(buf).unwrap(), 0);
        for (name, value) in [
            ("Hits", 1),
            ("Errors", 1),
            ("TopLevelHits", 1),
            ("Duration", 5_000),
        ] {
            assert_eq!(key(buf), name);
            assert_eq!(decode::read_int::<u64, _>(buf).unwrap(), value);
        }
        for name in ["OkSummary", "ErrorSummary"] {
            assert_eq!(key(buf), name);
            let len = decode::read_bin_len(buf).unwrap() as usize;
            assert!(len > 0, "{name}: a sketch, empty or not");
            *buf = &buf[len..];
        }
        assert!(buf.is_empty());
    }
}
