//! Export finished spans to a Datadog Agent, so the ids in the logs point at traces
//! that exist (feature `agent`).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! // DD_TRACE_AGENT_URL, or DD_AGENT_HOST / DD_TRACE_AGENT_PORT, or localhost:8126.
//! let agent = spanlog::agent::install(spanlog::agent::AgentConfig::from_env())
//!     .expect("no other exporter installed");
//!
//! // ... the application runs; finished spans are queued and sent in batches ...
//!
//! // Before exiting: send what is queued, waiting two seconds at most.
//! agent.shutdown(Duration::from_secs(2));
//! eprintln!("{}", agent.stats());
//! ```
//!
//! # Guarantees
//!
//! - The application never waits on the agent. Finished spans go into a bounded queue
//!   ([`AgentConfig::with_queue_capacity`]); when it is full, spans are dropped and
//!   counted ([`Stats::dropped`]), never blocking the caller.
//! - One background thread groups spans by trace, encodes them as v0.4 msgpack and sends
//!   them with `PUT /v0.4/traces`, in batches ([`AgentConfig::with_batch_size`]) or
//!   every [`AgentConfig::with_flush_interval`].
//! - An agent that is down, slow or answering with an error: each batch is retried with
//!   exponential backoff, then counted as failed ([`Stats::failed`]); memory stays
//!   bounded by the queue and one batch; one warning at most every minute goes to
//!   standard error.
//! - [`Agent::flush`] and [`Agent::shutdown`] send what is queued, bounded by a timeout.

use std::fmt;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::msgpack::{Tags, encode_traces};
use super::{Exporter, FinishedSpan};
use crate::config;

/// Where the agent listens, and how the exporter batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    address: Address,
    batch_size: usize,
    flush_interval: Duration,
    queue_capacity: usize,
    request_timeout: Duration,
    max_retries: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Address {
    /// `http://host:port`, without a trailing slash.
    Http(String),
    /// A unix domain socket path.
    Unix(std::path::PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Http(base) => f.write_str(base),
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// An agent address that is neither `http://host[:port]` nor `unix:///path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidAddress(String);

impl fmt::Display for InvalidAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid Datadog Agent address {:?}: expected http://host[:port] or unix:///path",
            self.0
        )
    }
}

impl std::error::Error for InvalidAddress {}

const DEFAULT_ADDRESS: &str = "http://localhost:8126";

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            address: Address::Http(DEFAULT_ADDRESS.to_owned()),
            batch_size: 1000,
            flush_interval: Duration::from_secs(1),
            queue_capacity: 10_000,
            request_timeout: Duration::from_secs(2),
            max_retries: 3,
        }
    }
}

impl AgentConfig {
    /// `http://localhost:8126`, batches of 1,000 spans or one second, a queue of 10,000
    /// spans, two-second requests, three retries.
    pub fn new() -> Self {
        AgentConfig::default()
    }

    /// The address from `DD_TRACE_AGENT_URL` (`http://...` or `unix://...`), else
    /// `http://$DD_AGENT_HOST:$DD_TRACE_AGENT_PORT` when either is set (defaults
    /// `localhost` and `8126`; set-but-empty counts as unset), else
    /// `http://localhost:8126`. An invalid value prints one warning on standard error
    /// and the default applies.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok(), |w| eprintln!("{w}"))
    }

    fn from_lookup(lookup: impl Fn(&str) -> Option<String>, mut warn: impl FnMut(String)) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let config = AgentConfig::new();
        if let Some(url) = var("DD_TRACE_AGENT_URL") {
            return match config.clone().with_address(&url) {
                Ok(config) => config,
                Err(error) => {
                    warn(format!(
                        "spanlog: ignoring DD_TRACE_AGENT_URL: {error}; using {DEFAULT_ADDRESS}"
                    ));
                    config
                }
            };
        }
        let (host, port) = (var("DD_AGENT_HOST"), var("DD_TRACE_AGENT_PORT"));
        if host.is_none() && port.is_none() {
            return config;
        }
        let host = host.unwrap_or_else(|| "localhost".to_owned());
        let port = match port.map(|p| (p.trim().parse::<u16>(), p)) {
            None => 8126,
            Some((Ok(port), _)) if port != 0 => port,
            Some((_, raw)) => {
                warn(format!(
                    "spanlog: ignoring DD_TRACE_AGENT_PORT={raw:?}: not a port number; using 8126"
                ));
                8126
            }
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{}]", host.trim())
        } else {
            host.trim().to_owned()
        };
        match config
            .clone()
            .with_address(&format!("http://{host}:{port}"))
        {
            Ok(config) => config,
            Err(error) => {
                warn(format!(
                    "spanlog: ignoring DD_AGENT_HOST: {error}; using {DEFAULT_ADDRESS}"
                ));
                config
            }
        }
    }

    /// Sets the address: `http://host[:port]` (port 8126 when left out) or
    /// `unix:///path/to/socket`.
    ///
    /// # Errors
    ///
    /// When the address has another scheme, no host, or a bad port.
    pub fn with_address(mut self, address: &str) -> Result<Self, InvalidAddress> {
        let invalid = || InvalidAddress(address.to_owned());
        let address = address.trim();
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid());
            }
            self.address = Address::Unix(path.into());
            return Ok(self);
        }
        let rest = address.strip_prefix("http://").ok_or_else(invalid)?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(invalid());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port: u16 = port.parse().map_err(|_| invalid())?;
                if port == 0 {
                    return Err(invalid());
                }
                (host, port)
            }
            _ => (authority, 8126),
        };
        if host.is_empty() || host == "[]" {
            return Err(invalid());
        }
        self.address = Address::Http(format!("http://{host}:{port}"));
        Ok(self)
    }

    /// Sends once this many spans are queued (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, spans: usize) -> Self {
        self.batch_size = spans.max(1);
        self
    }

    /// Sends whatever is queued at least this often.
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many finished spans may wait to be sent (at least 1); beyond that they are
    /// dropped and counted.
    #[must_use]
    pub fn with_queue_capacity(mut self, spans: usize) -> Self {
        self.queue_capacity = spans.max(1);
        self
    }

    /// How long one request to the agent may take.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How often a failed batch is retried (with backoff) before it counts as failed.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The agent's address, as `http://host:port` or `unix:///path`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }
}

/// What the exporter did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans the agent accepted.
    pub sent: u64,
    /// Spans dropped because the queue was full.
    pub dropped: u64,
    /// Spans given up on after the agent failed or refused them.
    pub failed: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spanlog agent: sent={} dropped={} failed={}",
            self.sent, self.dropped, self.failed
        )
    }
}

/// A handle on the installed agent exporter: its counters, flush and shutdown.
#[derive(Clone)]
pub struct Agent {
    shared: Arc<Shared>,
    wake: SyncSender<Message>,
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("address", &self.shared.address)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The error of [`install`]: an exporter was already installed.
#[derive(Debug)]
pub struct AlreadyInstalled(());

impl fmt::Display for AlreadyInstalled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a spanlog exporter was already installed")
    }
}

impl std::error::Error for AlreadyInstalled {}

/// Starts the background sender and installs it as the process-wide exporter.
///
/// # Errors
///
/// When an exporter is already installed (the new one is stopped again).
pub fn install(config: AgentConfig) -> Result<Agent, AlreadyInstalled> {
    let (exporter, agent) = start(config);
    match super::set_exporter(exporter) {
        Ok(()) => Ok(agent),
        Err(_) => {
            agent.stop();
            Err(AlreadyInstalled(()))
        }
    }
}

impl Agent {
    /// The counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Sends everything queued so far, waiting at most `timeout`; `true` when it all
    /// went out (accepted or given up on) in time.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush(&self.wake, timeout)
    }

    /// Flushes, waiting at most `timeout`, then stops the background thread; spans
    /// finished afterwards are dropped and counted. Call it before the process exits.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout);
        self.stop();
        flushed
    }

    fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        let _ = self.wake.try_send(Message::Wake);
    }
}

enum Message {
    Span(Box<FinishedSpan>),
    Wake,
}

struct Shared {
    address: String,
    sent: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    stopped: AtomicBool,
    flushes: Mutex<Flushes>,
    flushed: Condvar,
    last_warning: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Flushes {
    requested: u64,
    done: u64,
}

impl Shared {
    fn stats(&self) -> Stats {
        Stats {
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }

    fn flush(&self, wake: &SyncSender<Message>, timeout: Duration) -> bool {
        if self.stopped.load(Ordering::SeqCst) {
            return false;
        }
        let deadline = Instant::now() + timeout;
        let Ok(mut flushes) = self.flushes.lock() else {
            return false;
        };
        flushes.requested += 1;
        let ticket = flushes.requested;
        // The worker notices the request at its next message or tick; nudge it.
        let _ = wake.try_send(Message::Wake);
        while flushes.done < ticket {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            flushes = match self.flushed.wait_timeout(flushes, left) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        true
    }

    /// One warning a minute at most.
    fn warn(&self, message: impl FnOnce() -> String) {
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            eprintln!("{}", message());
        }
    }
}

/// The installed exporter: a bounded queue in front of the background thread.
struct AgentExporter {
    queue: SyncSender<Message>,
    shared: Arc<Shared>,
}

impl Exporter for AgentExporter {
    fn export(&self, span: FinishedSpan) {
        if self.shared.stopped.load(Ordering::Relaxed) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.queue.try_send(Message::Span(Box::new(span))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush(&self.queue, timeout)
    }
}

fn start(config: AgentConfig) -> (AgentExporter, Agent) {
    let (queue, receiver) = mpsc::sync_channel(config.queue_capacity);
    let shared = Arc::new(Shared {
        address: config.address.to_string(),
        sent: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        stopped: AtomicBool::new(false),
        flushes: Mutex::new(Flushes::default()),
        flushed: Condvar::new(),
        last_warning: Mutex::new(None),
    });
    let worker = Worker::new(config, Arc::clone(&shared));
    let spawned = std::thread::Builder::new()
        .name("spanlog-agent".to_owned())
        .spawn(move || worker.run(receiver));
    if let Err(error) = spawned {
        shared.stopped.store(true, Ordering::SeqCst);
        eprintln!(
            "spanlog: could not start the agent exporter thread: {error}; spans will be dropped"
        );
    }
    let agent = Agent {
        shared: Arc::clone(&shared),
        wake: queue.clone(),
    };
    (AgentExporter { queue, shared }, agent)
}

struct Worker {
    config: AgentConfig,
    shared: Arc<Shared>,
    http: ureq::Agent,
    service: String,
    env: String,
    version: String,
}

impl Worker {
    fn new(config: AgentConfig, shared: Arc<Shared>) -> Self {
        let http = ureq::Agent::config_builder()
            .timeout_global(Some(config.request_timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let global = config::global();
        let service = match global.service() {
            "" => "unnamed-rust-service".to_owned(),
            service => service.to_owned(),
        };
        Worker {
            config,
            shared,
            http,
            service,
            env: global.env().to_owned(),
            version: global.version().to_owned(),
        }
    }

    fn run(self, receiver: Receiver<Message>) {
        let mut batch: Vec<FinishedSpan> = Vec::with_capacity(self.config.batch_size.min(4096));
        let mut next_send = Instant::now() + self.config.flush_interval;
        loop {
            let wait = next_send.saturating_duration_since(Instant::now());
            match receiver.recv_timeout(wait) {
                Ok(Message::Span(span)) => {
                    batch.push(*span);
                    if batch.len() >= self.config.batch_size {
                        self.send(&mut batch);
                    }
                }
                Ok(Message::Wake) => {}
                Err(RecvTimeoutError::Timeout) => {
                    self.send(&mut batch);
                    next_send = Instant::now() + self.config.flush_interval;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.send(&mut batch);
                    return;
                }
            }
            self.serve_flushes(&receiver, &mut batch);
            if self.shared.stopped.load(Ordering::SeqCst) {
                // Whatever is still queued or batched is not sent: count it.
                let left = receiver
                    .try_iter()
                    .filter(|m| matches!(m, Message::Span(_)))
                    .count();
                self.shared
                    .dropped
                    .fetch_add((left + batch.len()) as u64, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Answers flush requests: send everything queued up to now, then report.
    fn serve_flushes(&self, receiver: &Receiver<Message>, batch: &mut Vec<FinishedSpan>) {
        let requested = match self.shared.flushes.lock() {
            Ok(flushes) if flushes.requested > flushes.done => flushes.requested,
            _ => return,
        };
        for message in receiver.try_iter() {
            if let Message::Span(span) = message {
                batch.push(*span);
                if batch.len() >= self.config.batch_size {
                    self.send(batch);
                }
            }
        }
        self.send(batch);
        if let Ok(mut flushes) = self.shared.flushes.lock() {
            flushes.done = flushes.done.max(requested);
        }
        self.shared.flushed.notify_all();
    }

    /// Sends one batch, retrying with backoff; empties it either way.
    fn send(&self, batch: &mut Vec<FinishedSpan>) {
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as u64;
        let chunks = group_by_trace(batch);
        let tags = Tags {
            service: &self.service,
            env: &self.env,
            version: &self.version,
        };
        let body = encode_traces(&chunks, &tags);
        let traces = chunks.len();
        drop(chunks);
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        let outcome = loop {
            let outcome = self.put(&body, traces);
            let retry = match &outcome {
                Ok(status) => matches!(status, 408 | 429 | 500..=599),
                Err(_) => true,
            };
            if !retry
                || attempt >= self.config.max_retries
                || self.shared.stopped.load(Ordering::SeqCst)
            {
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
        batch.clear();
    }

    /// One `PUT /v0.4/traces`; the HTTP status, or why there was none.
    fn put(&self, body: &[u8], traces: usize) -> Result<u16, String> {
        let headers = [
            ("Content-Type", "application/msgpack".to_owned()),
            ("Datadog-Meta-Lang", "rust".to_owned()),
            (
                "Datadog-Meta-Lang-Version",
                env!("SPANLOG_RUSTC_VERSION").to_owned(),
            ),
            (
                "Datadog-Meta-Tracer-Version",
                env!("CARGO_PKG_VERSION").to_owned(),
            ),
            ("X-Datadog-Trace-Count", traces.to_string()),
        ];
        match &self.config.address {
            Address::Http(base) => {
                let mut request = self.http.put(format!("{base}/v0.4/traces"));
                for (name, value) in &headers {
                    request = request.header(*name, value);
                }
                request
                    .send(body)
                    .map(|response| response.status().as_u16())
                    .map_err(|error| error.to_string())
            }
            Address::Unix(path) => put_unix(path, &headers, body, self.config.request_timeout),
        }
    }
}

/// HTTP/1.1 over a unix domain socket: one request per connection, status line read.
#[cfg(unix)]
fn put_unix(
    path: &std::path::Path,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<u16, String> {
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    let mut head = format!(
        "PUT /v0.4/traces HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    stream.write_all(body).map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut response);
    let status_line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let status_line = String::from_utf8_lossy(status_line);
    let mut words = status_line.split_whitespace();
    match (
        words.next(),
        words.next().and_then(|s| s.parse::<u16>().ok()),
    ) {
        (Some(version), Some(status)) if version.starts_with("HTTP/") => Ok(status),
        _ => Err(format!("no HTTP response on {}", path.display())),
    }
}

#[cfg(not(unix))]
fn put_unix(
    path: &std::path::Path,
    _: &[(&str, String)],
    _: &[u8],
    _: Duration,
) -> Result<u16, String> {
    Err(format!(
        "unix sockets are not available here: {}",
        path.display()
    ))
}

/// Spans of one trace together, in the order they finished, except that the chunk's
/// root (the first span whose parent is not in the chunk) goes first: it carries the
/// trace-level tags, and the agent reads the sampling priority from it.
fn group_by_trace(batch: &[FinishedSpan]) -> Vec<Vec<&FinishedSpan>> {
    let mut chunks: Vec<Vec<&FinishedSpan>> = Vec::new();
    let mut index: std::collections::HashMap<crate::TraceId, usize> =
        std::collections::HashMap::new();
    for span in batch {
        let slot = *index.entry(span.trace_id).or_insert_with(|| {
            chunks.push(Vec::new());
            chunks.len() - 1
        });
        chunks[slot].push(span);
    }
    for chunk in &mut chunks {
        let root = chunk
            .iter()
            .position(|s| !chunk.iter().any(|p| p.span_id == s.parent_id));
        if let Some(root) = root {
            chunk[..=root].rotate_right(1);
        }
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> (AgentConfig, Vec<String>) {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut warnings = Vec::new();
        let config = AgentConfig::from_lookup(|n| vars.get(n).cloned(), |w| warnings.push(w));
        (config, warnings)
    }

    #[test]
    fn address_from_the_environment() {
        let address = |vars: &[(&str, &str)]| read(vars).0.address();
        assert_eq!(address(&[]), "http://localhost:8126");
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://agent:9000")]),
            "http://agent:9000"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://agent/")]),
            "http://agent:8126"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "unix:///var/run/datadog/apm.socket")]),
            "unix:///var/run/datadog/apm.socket"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://a:1"), ("DD_AGENT_HOST", "b")]),
            "http://a:1",
            "the URL wins"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", "dd-agent")]),
            "http://dd-agent:8126"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_PORT", "9126")]),
            "http://localhost:9126"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", "::1"), ("DD_TRACE_AGENT_PORT", "1")]),
            "http://[::1]:1"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", ""), ("DD_TRACE_AGENT_URL", "")]),
            "http://localhost:8126"
        );
    }

    #[test]
    fn bad_addresses_warn_and_use_the_default() {
        for vars in [
            &[("DD_TRACE_AGENT_URL", "https://agent:8126")][..],
            &[("DD_TRACE_AGENT_URL", "agent:8126")][..],
            &[("DD_TRACE_AGENT_URL", "http://agent:99999")][..],
            &[("DD_TRACE_AGENT_URL", "unix://")][..],
            &[("DD_TRACE_AGENT_PORT", "eighty")][..],
        ] {
            let (config, warnings) = read(vars);
            assert_eq!(config.address().split(':').next(), Some("http"), "{vars:?}");
            assert_eq!(warnings.len(), 1, "{vars:?}: {warnings:?}");
            assert!(warnings[0].contains(vars[0].0), "{warnings:?}");
        }
        assert!(AgentConfig::new().with_address("ftp://x").is_err());
        assert!(AgentConfig::new().with_address("http://").is_err());
        assert!(AgentConfig::new().with_address("http://a:0").is_err());
    }

    #[test]
    fn spans_are_grouped_by_trace_in_order() {
        let span = |trace: u64, id: u64| FinishedSpan {
            trace_id: crate::TraceId::from_parts(0, trace),
            span_id: crate::SpanId::from_u64(id),
            parent_id: crate::SpanId::ZERO,
            name: "n".into(),
            resource: "r".into(),
            service: None,
            span_type: None,
            start_unix_nanos: 0,
            duration_nanos: 0,
            error: false,
            meta: vec![],
            metrics: vec![],
            trace: None,
        };
        let child = |trace: u64, id: u64, parent: u64| FinishedSpan {
            parent_id: crate::SpanId::from_u64(parent),
            ..span(trace, id)
        };
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
            .map(|c| c.iter().map(|s| s.span_id.to_u64()).collect())
            .collect();
        assert_eq!(ids, [vec![1, 3, 4], vec![2], vec![5]]);
        // A child finished before its parent: the parent leads the chunk.
        let batch = [child(1, 3, 1), child(1, 4, 3), span(1, 1)];
        let chunks = group_by_trace(&batch);
        let ids: Vec<u64> = chunks[0].iter().map(|s| s.span_id.to_u64()).collect();
        assert_eq!(ids, [1, 3, 4]);
    }
}
