//! The background thread: batches finished spans, groups them by trace, encodes them
//! and sends them, retrying with backoff.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::config::AgentConfig;
use super::deadline;
use super::msgpack::{Tags, encode_traces};
use super::shared::{Message, Shared};
use super::transport::Transport;
use crate::config;
use crate::export::FinishedSpan;
use crate::id::TraceId;

pub(crate) struct Worker {
    config: AgentConfig,
    shared: Arc<Shared>,
    transport: Transport,
    service: String,
    env: String,
    version: String,
    /// Spans waiting to be sent.
    batch: Vec<FinishedSpan>,
}

impl Worker {
    pub(crate) fn new(config: AgentConfig, shared: Arc<Shared>) -> Self {
        let transport = Transport::new(config.address_value(), config.request_timeout());
        let global = config::global();
        let service = match global.service() {
            "" => "unnamed-rust-service".to_owned(),
            service => service.to_owned(),
        };
        Worker {
            batch: Vec::with_capacity(config.batch_size().min(4096)),
            config,
            shared,
            transport,
            service,
            env: global.env().to_owned(),
            version: global.version().to_owned(),
        }
    }

    /// Runs the thread; whatever way it ends (stopped, disconnected, or a panic that
    /// should never happen), the exporter is marked as stopped, spans it still held
    /// count as dropped, and an unexpected end says so on standard error.
    pub(crate) fn run_to_end(mut self, receiver: Receiver<Message>) {
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run(&receiver)));
        let left = receiver
            .try_iter()
            .filter(|m| matches!(m, Message::Span(_)))
            .count()
            + self.batch.len();
        self.shared.count_dropped(left as u64);
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
                Ok(Message::Span(span)) => self.push(*span),
                Ok(Message::Wake) => {}
                #[cfg(test)]
                Ok(Message::Panic) => panic!("a test asked the exporter thread to panic"),
                Err(RecvTimeoutError::Timeout) => {
                    self.send();
                    next_send = deadline::after(Instant::now(), interval);
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send();
                    return;
                }
            }
            self.serve_flushes(receiver);
            if self.shared.is_stopped() {
                return;
            }
        }
    }

    fn push(&mut self, span: FinishedSpan) {
        self.batch.push(span);
        if self.batch.len() >= self.config.batch_size() {
            self.send();
        }
    }

    /// Answers flush requests: send everything queued up to now, then report.
    fn serve_flushes(&mut self, receiver: &Receiver<Message>) {
        let Some(ticket) = self.shared.pending_flush() else {
            return;
        };
        for message in receiver.try_iter() {
            if let Message::Span(span) = message {
                self.push(*span);
            }
        }
        self.send();
        self.shared.flushed(ticket);
    }

    /// Sends the batch, retrying with backoff; empties it either way.
    fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let count = self.batch.len() as u64;
        let chunks = group_by_trace(&self.batch);
        let tags = Tags {
            service: &self.service,
            env: &self.env,
            version: &self.version,
        };
        let body = encode_traces(&chunks, &tags);
        let traces = chunks.len();
        drop(chunks);
        self.batch.clear();
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        let timeout = self.config.request_timeout();
        let outcome = loop {
            let outcome = self.transport.put(&body, traces, timeout);
            let retry = match &outcome {
                Ok(status) => matches!(status, 408 | 429 | 500..=599),
                Err(_) => true,
            };
            if !retry || attempt >= self.config.max_retries() || self.shared.is_stopped() {
                break outcome;
            }
            attempt += 1;
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        };
        match outcome {
            Ok(200..=299) => {
                self.shared.sent.fetch_add(count, Ordering::Relaxed);
            }
            other => {
                self.shared.failed.fetch_add(count, Ordering::Relaxed);
                let address = &self.shared.address;
                self.shared.warn(|| match other {
                    Ok(status) => format!(
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

/// Spans of one trace together, in the order they finished, except that the chunk's
/// root (the first span whose parent is not in the chunk) goes first: it carries the
/// trace-level tags, and the agent reads the sampling priority from it.
pub(crate) fn group_by_trace(batch: &[FinishedSpan]) -> Vec<Vec<&FinishedSpan>> {
    let mut chunks: Vec<Vec<&FinishedSpan>> = Vec::new();
    let mut index: HashMap<TraceId, usize> = HashMap::new();
    for span in batch {
        let slot = *index.entry(span.context.trace_id()).or_insert_with(|| {
            chunks.push(Vec::new());
            chunks.len() - 1
        });
        chunks[slot].push(span);
    }
    for chunk in &mut chunks {
        let root = chunk.iter().position(|s| {
            !chunk
                .iter()
                .any(|p| p.context.span_id() == s.context.parent_id())
        });
        if let Some(root) = root {
            chunk[..=root].rotate_right(1);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::testing::finished;

    #[test]
    fn spans_are_grouped_by_trace_in_order() {
        let span = |trace: u64, id: u64| finished(trace, id, 0);
        let child = finished;
        let batch = [
            child(1, 1, 9),
            span(2, 2),
            child(1, 3, 1),
            child(1, 4, 3),
            child(3, 5, 6),
        ];
        let chunks = group_by_trace(&batch);
        let ids: Vec<Vec<u64>> = chunks
            .iter()
            .map(|c| c.iter().map(|s| s.context.span_id().to_u64()).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3, 4], vec![2], vec![5]]);
        // A child finished before its parent: the parent leads the chunk.
        let batch = [child(1, 3, 1), child(1, 4, 3), span(1, 1)];
        let chunks = group_by_trace(&batch);
        let ids: Vec<u64> = chunks[0]
            .iter()
            .map(|s| s.context.span_id().to_u64())
            .collect();
        assert_eq!(ids, [1, 3, 4]);
    }
}
