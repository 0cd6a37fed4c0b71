//! Client-side stats: the trace metrics Datadog's Agent would otherwise compute from
//! every span (hits, errors, top-level hits, durations and their distributions),
//! computed on the exporter thread in 10-second buckets aligned to the clock, grouped
//! as the Agent groups them, and sent to `/v0.6/stats`. With them, unsampled traces
//! need not leave the process.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use libdd_ddsketch::DDSketch;

use super::pending::PendingSpan;
use crate::id::IdHasher;

/// A bucket's length: 10 s, in nanoseconds.
pub(crate) const BUCKET_NANOS: u64 = 10_000_000_000;

/// The most groups a bucket holds by default (`DD_TRACE_STATS_CARDINALITY_LIMIT`):
/// spans that would make more are counted in one overflow group of their service and
/// name, so that a resource with an id in it cannot grow the exporter without bound.
pub(crate) const MAX_GROUPS: usize = 4096;

/// The resource of the overflow group: Datadog's sentinel for values a tracer blocked.
pub(crate) const OVERFLOW: &str = "tracer_blocked_value";

/// What a span is grouped by, as the Agent groups client stats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) resource: String,
    pub(crate) span_type: String,
    pub(crate) http_status_code: u32,
    pub(crate) synthetics: bool,
    pub(crate) span_kind: String,
    pub(crate) is_trace_root: bool,
    /// `http.method`.
    pub(crate) http_method: String,
    /// `http.endpoint`, else `http.route`.
    pub(crate) http_endpoint: String,
    /// `key:value` for each of the Agent's peer tags the span has (client, producer
    /// and consumer spans only), in the Agent's order.
    pub(crate) peer_tags: Vec<String>,
}

/// One group's counts in one bucket.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    pub(crate) key: Key,
    pub(crate) hits: u64,
    pub(crate) top_level_hits: u64,
    pub(crate) errors: u64,
    /// Nanoseconds, all spans.
    pub(crate) duration: u64,
    pub(crate) ok: DDSketch,
    pub(crate) error: DDSketch,
    /// The next group whose key has the same hash.
    next: Option<usize>,
}

/// The groups of one 10-second bucket.
#[derive(Debug, Default)]
pub(crate) struct Bucket {
    /// Its start, in nanoseconds since the epoch, a multiple of [`BUCKET_NANOS`].
    pub(crate) start: u64,
    pub(crate) groups: Vec<Group>,
    index: HashMap<u64, usize, BuildHasherDefault<IdHasher>>,
    /// The group the last span went to: the next one often goes there too.
    last: usize,
}

/// The span's fields a group is found by, borrowed.
struct View<'a> {
    service: &'a str,
    name: &'a str,
    resource: &'a str,
    span_type: &'a str,
    http_status_code: u32,
    synthetics: bool,
    span_kind: &'a str,
    is_trace_root: bool,
    http_method: &'a str,
    http_endpoint: &'a str,
    peer_tags: &'a [String],
}

impl View<'_> {
    fn hash(&self) -> u64 {
        let mut h = Fnv::default();
        for text in [
            self.service,
            self.name,
            self.resource,
            self.span_type,
            self.span_kind,
            self.http_method,
            self.http_endpoint,
        ] {
            h.write(text.as_bytes());
            h.write_u8(0xff);
        }
        for tag in self.peer_tags {
            h.write(tag.as_bytes());
            h.write_u8(0xfe);
        }
        h.write_u32(self.http_status_code);
        h.write_u8(u8::from(self.synthetics) | u8::from(self.is_trace_root) << 1);
        h.finish()
    }

    fn matches(&self, key: &Key) -> bool {
        self.service == key.service
            && self.name == key.name
            && self.resource == key.resource
            && self.span_type == key.span_type
            && self.http_status_code == key.http_status_code
            && self.synthetics == key.synthetics
            && self.span_kind == key.span_kind
            && self.is_trace_root == key.is_trace_root
            && self.http_method == key.http_method
            && self.http_endpoint == key.http_endpoint
            && self.peer_tags == key.peer_tags
    }

    fn key(&self) -> Key {
        Key {
            service: self.service.to_owned(),
            name: self.name.to_owned(),
            resource: self.resource.to_owned(),
            span_type: self.span_type.to_owned(),
            http_status_code: self.http_status_code,
            synthetics: self.synthetics,
            span_kind: self.span_kind.to_owned(),
            is_trace_root: self.is_trace_root,
            http_method: self.http_method.to_owned(),
            http_endpoint: self.http_endpoint.to_owned(),
            peer_tags: self.peer_tags.to_vec(),
        }
    }
}

impl Bucket {
    /// The group of `view`, made if need be; past [`MAX_GROUPS`], the overflow group
    /// of its service.
    fn group(&mut self, view: &View<'_>, max: usize, overflowed: &mut u64) -> &mut Group {
        if self
            .groups
            .get(self.last)
            .is_some_and(|g| view.matches(&g.key))
        {
            return &mut self.groups[self.last];
        }
        let hash = view.hash();
        if let Some(i) = self.find(hash, view) {
            self.last = i;
            return &mut self.groups[i];
        }
        if self.groups.len() < max {
            self.last = self.groups.len();
            return self.insert(hash, view.key());
        }
        *overflowed += 1;
        let overflow = View {
            resource: OVERFLOW,
            span_type: "",
            http_status_code: 0,
            synthetics: false,
            span_kind: "",
            is_trace_root: false,
            http_method: "",
            http_endpoint: "",
            peer_tags: &[],
            ..*view
        };
        let hash = overflow.hash();
        match self.find(hash, &overflow) {
            Some(i) => &mut self.groups[i],
            None => self.insert(hash, overflow.key()),
        }
    }

    /// The index of `view`'s group, following the groups of the same hash.
    fn find(&self, hash: u64, view: &View<'_>) -> Option<usize> {
        let mut at = self.index.get(&hash).copied();
        while let Some(i) = at {
            if view.matches(&self.groups[i].key) {
                return Some(i);
            }
            at = self.groups[i].next;
        }
        None
    }

    fn insert(&mut self, hash: u64, key: Key) -> &mut Group {
        let next = self.index.insert(hash, self.groups.len());
        self.groups.push(Group {
            key,
            hits: 0,
            top_level_hits: 0,
            errors: 0,
            duration: 0,
            ok: DDSketch::default(),
            error: DDSketch::default(),
            next,
        });
        let last = self.groups.len() - 1;
        &mut self.groups[last]
    }
}

/// The buckets being filled, and what the Agent said about peer tags.
#[derive(Debug)]
pub(crate) struct Concentrator {
    buckets: Vec<Bucket>,
    /// The most groups a bucket holds.
    max_groups: usize,
    /// The Agent's peer tags (`/info`'s `peer_tags`).
    peer_tag_keys: Vec<String>,
    /// Spans counted in an overflow group, so far.
    pub(crate) overflowed: u64,
    peer_tags: Vec<String>,
}

impl Default for Concentrator {
    fn default() -> Self {
        Concentrator {
            buckets: Vec::new(),
            max_groups: MAX_GROUPS,
            peer_tag_keys: Vec::new(),
            overflowed: 0,
            peer_tags: Vec::new(),
        }
    }
}

/// Whether a span counts in the stats, as Datadog's tracers decide: top-level,
/// measured (`_dd.measured`), or of a kind that talks to another service; never a
/// partial snapshot of a span (`_dd.partial_version`).
fn eligible(span: &PendingSpan, top_level: bool, span_kind: &str) -> bool {
    let metric = |key: &str| span.metrics().iter().find(|(k, _)| k == key).map(|m| m.1);
    if metric("_dd.partial_version").is_some_and(|v| v >= 0.0) {
        return false;
    }
    top_level
        || metric("_dd.measured") == Some(1.0)
        || matches!(span_kind, "server" | "client" | "producer" | "consumer")
}

impl Concentrator {
    /// At most `max` groups a bucket (at least one).
    pub(crate) fn with_max_groups(max: usize) -> Self {
        Concentrator {
            max_groups: max.max(1),
            ..Concentrator::default()
        }
    }

    pub(crate) fn set_peer_tag_keys(&mut self, keys: Vec<String>) {
        self.peer_tag_keys = keys;
    }

    /// Counts `span`, which finished at `end` (wall clock, nanoseconds) after
    /// `duration`, as `times` says (asked only of spans that count); `service` is the
    /// configured one, for spans without their own.
    pub(crate) fn add(
        &mut self,
        span: &PendingSpan,
        times: impl FnOnce() -> (u64, u64),
        top_level: bool,
        service: &str,
    ) {
        let meta = |key: &str| {
            span.meta()
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| &**v)
        };
        let span_kind = meta("span.kind").unwrap_or("");
        if !eligible(span, top_level, span_kind) {
            return;
        }
        let (end, duration) = times();
        self.peer_tags.clear();
        if matches!(span_kind, "client" | "producer" | "consumer") {
            for key in &self.peer_tag_keys {
                if let Some(value) = meta(key).filter(|v| !v.is_empty()) {
                    self.peer_tags.push(format!("{key}:{value}"));
                }
            }
        }
        let context = span.context();
        let view = View {
            service: span.service().unwrap_or(service),
            name: span.name(),
            resource: span.resource(),
            span_type: span.span_type().unwrap_or(""),
            http_status_code: meta("http.status_code")
                .and_then(|c| c.trim().parse().ok())
                .unwrap_or(0),
            synthetics: meta("_dd.origin")
                .or(context.origin())
                .is_some_and(|o| o.starts_with("synthetics")),
            span_kind,
            is_trace_root: context.parent_id().is_zero(),
            http_method: meta("http.method").unwrap_or(""),
            http_endpoint: meta("http.endpoint")
                .or_else(|| meta("http.route"))
                .unwrap_or(""),
            peer_tags: &self.peer_tags,
        };
        let start = end - end % BUCKET_NANOS;
        let bucket = match self.buckets.iter().position(|b| b.start == start) {
            Some(i) => &mut self.buckets[i],
            None => {
                self.buckets.push(Bucket {
                    start,
                    ..Bucket::default()
                });
                let last = self.buckets.len() - 1;
                &mut self.buckets[last]
            }
        };
        let group = bucket.group(&view, self.max_groups, &mut self.overflowed);
        group.hits += 1;
        group.top_level_hits += u64::from(top_level);
        group.duration = group.duration.saturating_add(duration);
        let error = span.error();
        group.errors += u64::from(error);
        let sketch = if error {
            &mut group.error
        } else {
            &mut group.ok
        };
        // A duration is never negative or infinite: the sketch cannot refuse it.
        let _ = sketch.add(duration as f64);
    }

    /// Takes the buckets that ended by `now` (nanoseconds since the epoch), or all of
    /// them (`all`: at shutdown).
    pub(crate) fn take(&mut self, now: u64, all: bool) -> Vec<Bucket> {
        let (done, open): (Vec<Bucket>, Vec<Bucket>) = std::mem::take(&mut self.buckets)
            .into_iter()
            .partition(|b| all || b.start + BUCKET_NANOS <= now);
        self.buckets = open;
        done
    }

    /// Whether nothing is waiting to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}

/// A group's hash, over its fields.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    /// Eight bytes at a time (FNV's multiply, on words): a group's fields are short
    /// strings, hashed for every span that counts.
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
            self.0 = (self.0 ^ word)
                .wrapping_mul(0x0100_0000_01b3)
                .rotate_left(29);
        }
        let mut tail = [0u8; 8];
        let rest = words.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        let word = u64::from_le_bytes(tail) ^ (rest.len() as u64) << 59;
        self.0 = (self.0 ^ word)
            .wrapping_mul(0x0100_0000_01b3)
            .rotate_left(29);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::pending::testing::{finished, pending};
    use crate::export::FinishedSpan;

    fn span(id: u64, parent: u64, resource: &'static str) -> FinishedSpan {
        let mut span = finished(1, id, parent);
        span.name = "web.request".into();
        span.resource = resource.into();
        span
    }

    fn add(c: &mut Concentrator, spans: &[FinishedSpan], top: &[bool], end: u64) {
        for (span, &top_level) in pending(spans).iter().zip(top) {
            c.add(span, || (end, 1_000), top_level, "blog");
        }
    }

    #[test]
    fn groups_by_what_the_agent_groups_by() {
        let mut c = Concentrator::default();
        let mut failed = span(3, 0, "GET /fail");
        failed.error = true;
        let mut status = span(4, 0, "GET /posts");
        status.meta.push(("http.status_code".into(), "404".into()));
        let mut other = span(5, 0, "GET /posts");
        other.service = Some("db".into());
        let spans = [
            span(1, 0, "GET /posts"),
            span(2, 0, "GET /posts"),
            failed,
            status,
            other,
        ];
        add(&mut c, &spans, &[true; 5], 25_000_000_000);
        let buckets = c.take(u64::MAX, false);
        assert_eq!(buckets.len(), 1);
        assert_eq!(buckets[0].start, 20_000_000_000, "aligned to 10 s");
        let groups = &buckets[0].groups;
        let find = |resource: &str, status: u32, service: &str| {
            groups
                .iter()
                .find(|g| {
                    g.key.resource == resource
                        && g.key.http_status_code == status
                        && g.key.service == service
                })
                .unwrap_or_else(|| panic!("{resource} {status} {service}: {groups:?}"))
        };
        let posts = find("GET /posts", 0, "blog");
        assert_eq!((posts.hits, posts.top_level_hits, posts.errors), (2, 2, 0));
        assert_eq!(posts.duration, 2_000);
        assert!(posts.key.is_trace_root);
        let fail = find("GET /fail", 0, "blog");
        assert_eq!((fail.hits, fail.errors), (1, 1));
        assert_eq!((fail.ok.count(), fail.error.count()), (0.0, 1.0));
        assert_eq!(find("GET /posts", 404, "blog").hits, 1);
        assert_eq!(find("GET /posts", 0, "db").hits, 1);
        assert_eq!(groups.len(), 4);
        assert!(c.is_empty());
    }

    /// What Datadog's conformance suite checks of the grouping (its trace stats
    /// file): an origin set as a tag counts as synthetics, HTTP method and endpoint
    /// are dimensions, partial snapshots never count, and a small cardinality limit
    /// folds the rest into the sentinel resource without losing a hit.
    #[test]
    fn as_the_conformance_suite_specifies() {
        let mut c = Concentrator::with_max_groups(3);
        let mut synthetics = span(1, 0, "r");
        synthetics
            .meta
            .push(("_dd.origin".into(), "synthetics-browser".into()));
        let mut http = span(2, 0, "GET /users/:id");
        http.meta.push(("http.method".into(), "GET".into()));
        http.meta.push(("http.route".into(), "/users/:id".into()));
        let mut partial = span(3, 0, "partial");
        partial.metrics.push(("_dd.partial_version".into(), 0.0));
        let spans = [synthetics, http, partial];
        add(&mut c, &spans, &[true; 3], 1);
        let many: Vec<FinishedSpan> = (0..10)
            .map(|i| {
                let mut s = span(10 + i, 0, "x");
                s.resource = format!("/resource/{i}").into();
                s
            })
            .collect();
        add(&mut c, &many, &[true; 10], 1);
        let groups = &c.take(u64::MAX, true)[0].groups;
        assert!(groups[0].key.synthetics);
        assert_eq!(groups[1].key.http_method, "GET");
        assert_eq!(groups[1].key.http_endpoint, "/users/:id");
        assert!(groups.iter().all(|g| g.key.resource != "partial"));
        assert_eq!(groups.len(), 4, "{groups:?}");
        assert_eq!(groups[3].key.resource, OVERFLOW);
        assert_eq!(groups[3].key.name, "web.request");
        assert_eq!(groups.iter().map(|g| g.hits).sum::<u64>(), 12);
    }

    #[test]
    fn which_spans_count() {
        let mut c = Concentrator::default();
        c.set_peer_tag_keys(vec!["db.name".into(), "peer.service".into()]);
        let inner = span(2, 1, "inner");
        let mut measured = span(3, 1, "measured");
        measured.metrics.push(("_dd.measured".into(), 1.0));
        let mut client = span(4, 1, "client");
        client.meta.push(("span.kind".into(), "client".into()));
        client.meta.push(("db.name".into(), "users".into()));
        add(&mut c, &[inner, measured, client], &[false; 3], 5);
        let buckets = c.take(u64::MAX, true);
        let resources: Vec<_> = buckets[0].groups.iter().map(|g| &*g.key.resource).collect();
        assert_eq!(resources, ["measured", "client"], "not an inner span");
        let client = &buckets[0].groups[1];
        assert_eq!(client.key.span_kind, "client");
        assert_eq!(client.key.peer_tags, ["db.name:users"]);
        assert!(!client.key.is_trace_root);
        assert_eq!(client.top_level_hits, 0);
    }

    #[test]
    fn buckets_go_when_they_end_and_groups_are_bounded() {
        let mut c = Concentrator::default();
        add(&mut c, &[span(1, 0, "a")], &[true], 5_000_000_000);
        add(&mut c, &[span(2, 0, "a")], &[true], 15_000_000_000);
        assert_eq!(
            c.take(12_000_000_000, false).len(),
            1,
            "the first bucket ended"
        );
        assert!(!c.is_empty());
        assert_eq!(c.take(12_000_000_000, false).len(), 0);
        assert_eq!(c.take(12_000_000_000, true).len(), 1, "all, at shutdown");

        let resources: Vec<String> = (0..MAX_GROUPS + 10).map(|i| format!("GET /{i}")).collect();
        for (i, resource) in resources.iter().enumerate() {
            let mut s = span(i as u64 + 1, 0, "x");
            s.resource = resource.clone().into();
            add(&mut c, &[s], &[true], 1);
        }
        let buckets = c.take(u64::MAX, true);
        let groups = &buckets[0].groups;
        assert_eq!(groups.len(), MAX_GROUPS + 1);
        let overflow = groups.iter().find(|g| g.key.resource == OVERFLOW).unwrap();
        assert_eq!(overflow.hits, 10);
        assert_eq!(c.overflowed, 10);
        assert_eq!(
            groups.iter().map(|g| g.hits).sum::<u64>(),
            MAX_GROUPS as u64 + 10
        );
    }

    /// The distributions keep the median and the 99th percentile within 2%.
    #[test]
    fn sketches_keep_the_quantiles() {
        let mut c = Concentrator::default();
        let pending = pending(&[span(1, 0, "r")]);
        let mut durations: Vec<u64> = (1..=10_000u64)
            .map(|i| 1_000 + i * i * 37 % 5_000_000)
            .collect();
        for &d in &durations {
            c.add(&pending[0], || (1, d), true, "blog");
        }
        durations.sort_unstable();
        let group = &c.take(u64::MAX, true)[0].groups[0];
        let bins = group.ok.ordered_bins();
        let quantile = |q: f64| {
            let rank = q * (group.ok.count() - 1.0);
            let mut seen = 0.0;
            for &(value, weight) in &bins {
                seen += weight;
                if seen > rank {
                    return value;
                }
            }
            f64::NAN
        };
        for q in [0.5, 0.99] {
            let truth = durations[(q * (durations.len() - 1) as f64) as usize] as f64;
            let estimate = quantile(q);
            assert!(
                (estimate - truth).abs() / truth < 0.02,
                "p{q}: {estimate} vs {truth}"
            );
        }
    }
}
