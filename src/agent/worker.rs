//! The background thread: batches finished spans, groups them by trace, encodes them
//! and sends them, retrying with backoff.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::config::{AgentConfig, ApiVersion};
use super::deadline;
use super::group::Chunks;
use super::msgpack::{Encoder, Tags};
use super::pending::PendingSpan;
use super::shared::{Held, Message, Shared};
use super::transport::Transport;
use crate::clock;
use crate::config;
use crate::sampling::Sampler;

pub(crate) struct Worker {
    config: AgentConfig,
    shared: Arc<Shared>,
    transport: Transport,
    service: String,
    env: String,
    version: String,
    global_tags: Vec<(String, String)>,
    /// `_dd.tags.process`, read once.
    process_tags: Option<String>,
    /// Client-side stats, while the Agent takes them.
    stats: Option<ClientStats>,
    /// When the Agent's `/info` is to be read next (`None`: now).
    info_due: Option<Instant>,
    /// Spans waiting to be sent, as threads handed them over.
    held: Held,
    /// The held spans in order, while they are sent; kept empty between sends for its
    /// allocation.
    refs: Vec<usize>,
    /// The batch grouped by trace, and its encoding: reused from batch to batch.
    chunks: Chunks,
    encoder: Encoder,
    body: Vec<u8>,
    /// The payload format: the configured one, until an agent without v0.5 makes it
    /// v0.4.
    api_version: ApiVersion,
}

impl Worker {
    pub(crate) fn new(config: AgentConfig, shared: Arc<Shared>) -> Self {
        let transport = Transport::new(config.address_value());
        let global = config::global();
        let service = match global.service() {
            "" => "unnamed-rust-service".to_owned(),
            service => service.to_owned(),
        };
        Worker {
            held: Held::default(),
            refs: Vec::with_capacity(config.batch_size().min(4096)),
            chunks: Chunks::default(),
            encoder: Encoder::default(),
            body: Vec::new(),
            api_version: config.api_version(),
            config,
            shared,
            transport,
            env: global.env().to_owned(),
            version: global.version().to_owned(),
            global_tags: global.tags().to_vec(),
            process_tags: super::process_tags::read(&mut crate::env::process(), global, &service),
            stats: None,
            info_due: None,
            service,
        }
    }

    /// Runs the thread; whatever way it ends (stopped, disconnected, or a panic that
    /// should never happen), the exporter is marked as stopped, spans it still held
    /// count as dropped, and an unexpected end says so on standard error.
    pub(crate) fn run_to_end(mut self, receiver: Receiver<Message>) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(&receiver)));
        self.shared.take_ready(&mut self.held, usize::MAX);
        self.shared.drain_buffers(&mut self.held);
        drop(receiver);
        let left = self.shared.settle();
        self.shared.count_dropped(left);
        self.held.clear(&self.shared);
        self.shared.thread_ended();
        if run.is_err() {
            crate::env::print_warning(format!(
                "spanlog: the agent exporter's thread stopped unexpectedly; spans are no longer sent to {} (dropped so far: {})",
                self.shared.address,
                self.shared.dropped.load(Ordering::Relaxed)
            ));
        }
    }

    fn run(&mut self, receiver: &Receiver<Message>) {
        // Before the first batch, so that it goes out with stats when the Agent takes
        // them.
        self.read_info();
        let interval = self.config.flush_interval();
        let mut next_send = deadline::after(Instant::now(), interval);
        loop {
            let wait = next_send.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(wait) {
                Ok(Message::Wake) => self.take_ready(),
                #[cfg(test)]
                Ok(Message::Panic) => panic!("a test asked the exporter thread to panic"),
                Err(RecvTimeoutError::Timeout) => {
                    self.take_ready();
                    self.shared.drain_buffers(&mut self.held);
                    self.send();
                    self.send_stats(false);
                    next_send = deadline::after(Instant::now(), interval);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send();
                    self.send_stats(true);
                    return;
                }
            }
            self.serve_flushes();
            if self.shared.is_stopped() {
                self.send_stats(true);
                return;
            }
        }
    }

    /// Takes the batches threads handed over, sending each batch's worth, until less
    /// than a batch is left queued.
    fn take_ready(&mut self) {
        let size = self.config.batch_size();
        loop {
            self.shared.take_ready(&mut self.held, size);
            if self.held.len() < size {
                return;
            }
            self.send();
            if !self.shared.batch_waiting() || self.shared.is_stopped() {
                return;
            }
        }
    }

    /// Answers flush requests: send everything queued up to now, then report.
    fn serve_flushes(&mut self) {
        let Some(ticket) = self.shared.pending_flush() else {
            return;
        };
        self.take_ready();
        self.shared.take_ready(&mut self.held, usize::MAX);
        self.shared.drain_buffers(&mut self.held);
        self.send();
        self.send_stats(true);
        self.shared.flushed(ticket);
    }

    /// Reads the Agent's `/info` when it was never read or is ten minutes old: whether
    /// it takes client-side stats, lets unsampled chunks go, and which peer tags it
    /// groups by.
    fn read_info(&mut self) {
        if !self.config.stats_computation() {
            return;
        }
        let now = Instant::now();
        if self.info_due.is_some_and(|due| now < due) {
            return;
        }
        // An Agent that does not answer is asked again in 30 seconds; one that
        // answers, whatever it says, in ten minutes.
        let answer = self.transport.get_info(self.config.request_timeout());
        let again = match answer {
            Ok(_) => Duration::from_secs(600),
            Err(_) => Duration::from_secs(30),
        };
        self.info_due = Some(deadline::after(now, again));
        let Ok((status, body)) = answer else {
            return;
        };
        let info = match status {
            200 => AgentInfo::parse(&body),
            _ => AgentInfo::default(),
        };
        if !info.stats {
            self.stats = None;
            return;
        }
        let stats = self.stats.get_or_insert_with(ClientStats::new);
        stats.drop_unsampled = info.drop_unsampled;
        stats.concentrator.set_peer_tag_keys(info.peer_tags);
    }

    /// Sends the stats buckets that ended (`all`: every bucket, at a flush or at
    /// shutdown), once; a failure is reported, not retried.
    fn send_stats(&mut self, all: bool) {
        let Some(stats) = self.stats.as_mut() else {
            return;
        };
        if stats.concentrator.is_empty() {
            return;
        }
        let now = clock::system_now().max(0) as u64;
        let buckets = stats.concentrator.take(now, all);
        if buckets.is_empty() {
            return;
        }
        stats.sequence += 1;
        let sender = super::msgpack::stats::Sender {
            hostname: &stats.hostname,
            env: &self.env,
            version: &self.version,
            service: &self.service,
            runtime_id: &stats.runtime_id,
            sequence: stats.sequence,
        };
        super::msgpack::stats::encode(&mut stats.body, &sender, buckets);
        let outcome = self
            .transport
            .put_stats(&stats.body, self.config.request_timeout());
        if !matches!(outcome, Ok((200..=299, _))) {
            let address = &self.shared.address;
            self.shared.warn(|| {
                format!("spanlog: the Datadog Agent at {address} did not take the client-side stats ({outcome:?})")
            });
        }
    }

    /// Sends the batch, retrying with backoff; empties it either way.
    fn send(&mut self) {
        if self.held.is_empty() {
            return;
        }
        self.read_info();
        let mut batch: Vec<&PendingSpan> = reuse(std::mem::take(&mut self.refs));
        batch.extend(self.held.iter());
        self.chunks.group(&batch);
        self.chunks.decide(&batch, &self.service, &self.env);
        // The spans' times placed on the wall clock with one reading of both clocks.
        let anchor = clock::Anchor::now();
        let client_stats = self.stats.is_some();
        if let Some(stats) = self.stats.as_mut() {
            stats.count(&batch, &self.chunks, &anchor, &self.service);
            if stats.drop_unsampled {
                let dropped = drop_unsampled(&batch, &mut self.chunks);
                self.shared
                    .unsampled_chunks
                    .fetch_add(dropped, Ordering::Relaxed);
            }
        }
        let tags = Tags {
            service: &self.service,
            env: &self.env,
            version: &self.version,
            global: &self.global_tags,
            anchor: &anchor,
            git: crate::git::metadata(),
            process: self.process_tags.as_deref(),
        };
        let chunks = &self.chunks;
        let traces = chunks.chunks.len();
        let outcome = if traces == 0 {
            // Every chunk was unsampled and is in the stats: nothing to send.
            Ok((200, Vec::new()))
        } else {
            self.encoder
                .encode(self.api_version, &mut self.body, &batch, chunks, &tags);
            let mut backoff = Duration::from_millis(100);
            let mut attempt = 0;
            let timeout = self.config.request_timeout();
            loop {
                let outcome =
                    self.transport
                        .put(self.api_version, &self.body, traces, client_stats, timeout);
                if self.api_version == ApiVersion::V05 && matches!(outcome, Ok((404 | 415, _))) {
                    // An agent without the v0.5 endpoint: v0.4 from now on, this batch too.
                    self.api_version = ApiVersion::V04;
                    crate::env::print_warning(format!(
                        "spanlog: the Datadog Agent at {} has no v0.5 trace endpoint (HTTP {}); sending v0.4 from now on",
                        self.shared.address,
                        outcome.as_ref().map_or(0, |(status, _)| *status)
                    ));
                    self.encoder
                        .encode(self.api_version, &mut self.body, &batch, chunks, &tags);
                    continue;
                }
                let retry = match &outcome {
                    Ok((status, _)) => matches!(status, 408 | 429 | 500..=599),
                    Err(_) => true,
                };
                if !retry || attempt >= self.config.max_retries() || self.shared.is_stopped() {
                    break outcome;
                }
                attempt += 1;
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        };
        self.refs = reuse(batch);
        self.held.clear(&self.shared);
        // Counted once: here, or already by a shutdown that gave up waiting.
        let count = self.shared.settle();
        if count == 0 {
            return;
        }
        match outcome {
            Ok((200..=299, answer)) => {
                self.shared.sent.fetch_add(count, Ordering::Relaxed);
                if let Some(rates) = rate_by_service(&answer) {
                    Sampler::global().set_agent_rates(rates);
                }
            }
            other => {
                self.shared.failed.fetch_add(count, Ordering::Relaxed);
                let address = &self.shared.address;
                self.shared.warn(|| match other {
                    Ok((status, _)) => format!(
                        "spanlog: the Datadog Agent at {address} answered HTTP {status}; {count} spans were not recorded"
                    ),
                    Err(error) => format!(
                        "spanlog: could not reach the Datadog Agent at {address} ({error}); {count} spans were not recorded"
                    ),
                });
            }
        }
    }
}

/// Client-side stats on the exporter thread.
struct ClientStats {
    concentrator: super::stats::Concentrator,
    /// The Agent lets unsampled chunks go (`client_drop_p0s`).
    drop_unsampled: bool,
    body: Vec<u8>,
    sequence: u64,
    runtime_id: String,
    hostname: String,
}

impl ClientStats {
    /// With `DD_HOSTNAME` and `DD_TRACE_STATS_CARDINALITY_LIMIT` (the most groups a
    /// bucket holds, 4,096 by default).
    fn new() -> Self {
        let env = &mut crate::env::process();
        let limit = env.get_count("DD_TRACE_STATS_CARDINALITY_LIMIT", super::stats::MAX_GROUPS);
        ClientStats {
            concentrator: super::stats::Concentrator::with_max_groups(limit),
            drop_unsampled: false,
            body: Vec::new(),
            sequence: 0,
            runtime_id: runtime_id(),
            hostname: env.get("DD_HOSTNAME").unwrap_or_default(),
        }
    }

    /// Counts every span of the batch.
    fn count(
        &mut self,
        batch: &[&PendingSpan],
        chunks: &Chunks,
        anchor: &clock::Anchor,
        service: &str,
    ) {
        for (i, span) in batch.iter().enumerate() {
            let times = || {
                let (start, duration) = span.times(anchor);
                let duration = duration.max(0) as u64;
                ((start.max(0) as u64).saturating_add(duration), duration)
            };
            let top_level = chunks.top_level.get(i).copied().unwrap_or(false);
            self.concentrator.add(span, times, top_level, service);
        }
    }
}

/// Leaves out of the payload the chunks sampling dropped (priority 0 or below) that
/// hold no error, as Datadog's tracers do when they compute stats; how many.
fn drop_unsampled(batch: &[&PendingSpan], chunks: &mut Chunks) -> u64 {
    let keep: Vec<bool> = chunks
        .iter()
        .zip(&chunks.decisions)
        .map(|(members, decision)| {
            let root = batch[members[0]];
            let priority = decision.map_or(root.context().sampling_priority(), |d| d.priority);
            priority > 0 || members.iter().any(|&m| batch[m].error())
        })
        .collect();
    let dropped = keep.iter().filter(|k| !**k).count() as u64;
    if dropped > 0 {
        chunks.retain(|i| keep[i]);
    }
    dropped
}

/// A random version 4 UUID, this process's `RuntimeID`.
fn runtime_id() -> String {
    let (high, low) = crate::rng::two_random_nonzero_u64();
    let bits = u128::from(high) << 64 | u128::from(low);
    let bits = bits & !(0xf << 76) | (0x4 << 76);
    let bits = bits & !(0x3 << 62) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// What the Agent's `/info` says of client-side stats; by default, that it takes none.
#[derive(Default)]
struct AgentInfo {
    stats: bool,
    drop_unsampled: bool,
    peer_tags: Vec<String>,
}

impl AgentInfo {
    fn parse(body: &[u8]) -> AgentInfo {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let stats = value["endpoints"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e == "/v0.6/stats"));
        let peer_tags = value["peer_tags"]
            .as_array()
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| Some(t.as_str()?.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        AgentInfo {
            stats,
            drop_unsampled: value["client_drop_p0s"].as_bool() == Some(true),
            peer_tags,
        }
    }
}

/// An empty vector with `vec`'s allocation, for values of another type of the same size:
/// the held spans' references are kept this way between sends.
fn reuse<T, U>(mut vec: Vec<T>) -> Vec<U> {
    vec.clear();
    vec.into_iter().filter_map(|_| None).collect()
}

/// The agent's sampling rates in its answer: `{"rate_by_service": {"service:a,env:b":
/// 0.5, ...}}`. `None` when the answer has none (an older agent, or not JSON).
fn rate_by_service(answer: &[u8]) -> Option<Vec<(String, f64)>> {
    let value: serde_json::Value = serde_json::from_slice(answer).ok()?;
    let rates = value.get("rate_by_service")?.as_object()?;
    Some(
        rates
            .iter()
            .filter_map(|(key, rate)| Some((key.clone(), rate.as_f64()?)))
            .filter(|(_, rate)| (0.0..=1.0).contains(rate))
            .collect(),
    )
}

#[cfg(test)]
mod rate_tests {
    use super::{rate_by_service, reuse};

    #[test]
    fn the_references_vector_keeps_its_allocation() {
        let spans = [1u64, 2, 3];
        let mut refs: Vec<&u64> = Vec::with_capacity(1000);
        refs.extend(spans.iter());
        let kept: Vec<usize> = reuse(refs);
        assert!(kept.is_empty());
        assert_eq!(kept.capacity(), 1000);
        let again: Vec<&u64> = reuse(kept);
        assert_eq!(again.capacity(), 1000);
    }

    #[test]
    fn the_agents_rates_are_read_from_its_answer() {
        let answer =
            br#"{"rate_by_service": {"service:blog,env:prod": 0.5, "service:,env:": 1, "bad": 7}}"#;
        let mut rates = rate_by_service(answer).unwrap();
        rates.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            rates,
            [
                ("service:,env:".to_owned(), 1.0),
                ("service:blog,env:prod".to_owned(), 0.5)
            ]
        );
        assert_eq!(rate_by_service(b"OK"), None);
        assert_eq!(rate_by_service(b"{}"), None);
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;
    use crate::agent::pending::testing::{finished, pending};

    #[test]
    fn the_agents_info_says_what_it_takes() {
        let info = AgentInfo::parse(
            br#"{"endpoints": ["/v0.4/traces", "/v0.6/stats"], "client_drop_p0s": true,
                "peer_tags": ["db.name", 7, "peer.service"]}"#,
        );
        assert!(info.stats && info.drop_unsampled);
        assert_eq!(info.peer_tags, ["db.name", "peer.service"]);
        for body in [
            &br#"{"endpoints": ["/v0.4/traces"], "client_drop_p0s": true}"#[..],
            b"",
            b"<html>",
        ] {
            let info = AgentInfo::parse(body);
            assert!(!info.stats, "{}", String::from_utf8_lossy(body));
        }
        let id = runtime_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "{id}");
        assert_ne!(id, runtime_id());
    }

    /// Chunks that sampling dropped go, unless one of their spans is an error.
    #[test]
    fn unsampled_chunks_without_errors_are_left_out() {
        let upstream = |trace: u64, priority: i32, error: bool| {
            let mut span = finished(trace, trace * 10, 0);
            span.context.set_upstream_priority(Some(priority));
            span.error = error;
            span
        };
        let mut child_error = finished(4, 41, 40);
        child_error.error = true;
        let mut root4 = finished(4, 40, 0);
        root4.context.set_upstream_priority(Some(-1));
        child_error.context.set_upstream_priority(Some(-1));
        let batch = [
            upstream(1, 1, false),
            upstream(2, 0, false),
            upstream(3, -1, true),
            root4,
            child_error,
            upstream(5, 2, false),
        ];
        let pending = pending(&batch);
        let refs: Vec<&PendingSpan> = pending.iter().collect();
        let mut chunks = Chunks::default();
        chunks.group(&refs);
        chunks.decide(&refs, "svc", "");
        assert_eq!(drop_unsampled(&refs, &mut chunks), 1, "trace 2 only");
        let kept: Vec<u64> = chunks
            .iter()
            .map(|c| {
                refs[c.iter().next().copied().unwrap()]
                    .context()
                    .trace_id()
                    .low()
            })
            .collect();
        assert_eq!(kept, [1, 3, 4, 5]);
        assert_eq!(chunks.decisions.len(), 4);
    }
}
