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
                    next_send = deadline::after(Instant::now(), interval);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send();
                    return;
                }
            }
            self.serve_flushes();
            if self.shared.is_stopped() {
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
        self.shared.flushed(ticket);
    }

    /// Sends the batch, retrying with backoff; empties it either way.
    fn send(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let mut batch: Vec<&PendingSpan> = reuse(std::mem::take(&mut self.refs));
        batch.extend(self.held.iter());
        self.chunks.group(&batch);
        self.chunks.decide(&batch, &self.service, &self.env);
        // The spans' times placed on the wall clock with one reading of both clocks.
        let anchor = clock::Anchor::now();
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
        self.encoder
            .encode(self.api_version, &mut self.body, &batch, chunks, &tags);
        let traces = self.chunks.chunks.len();
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        let timeout = self.config.request_timeout();
        let outcome = loop {
            let outcome = self
                .transport
                .put(self.api_version, &self.body, traces, timeout);
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
