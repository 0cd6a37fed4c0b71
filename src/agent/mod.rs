//! Export finished spans to a Datadog Agent, so the ids in the logs point at traces
//! that exist (feature `agent`).
//!
//! ```no_run
//! use std::time::Duration;
//!
//! // DD_TRACE_AGENT_URL, or DD_AGENT_HOST / DD_TRACE_AGENT_PORT, or localhost:8126.
//! let agent = spanlog::agent::init(spanlog::agent::AgentConfig::from_env());
//!
//! // ... the application runs; finished spans are queued and sent in batches ...
//!
//! // Dropping the handle at the end of `main` sends what is queued (two seconds at
//! // most). Or do it explicitly, to read the counters after:
//! agent.shutdown(Duration::from_secs(2));
//! println!("{}", agent.stats());
//! ```
//!
//! # Guarantees
//!
//! - The application never waits on the agent. Finished spans go into a bounded queue
//!   ([`AgentConfig::with_queue_capacity`]); when it is full, spans are dropped and
//!   counted ([`Stats::dropped`]), never blocking the caller.
//! - One background thread groups spans by trace, encodes them as MessagePack and sends
//!   them with `PUT /v0.4/traces` (or `/v0.5/traces`, [`ApiVersion`]), in batches
//!   ([`AgentConfig::with_batch_size`]) or every [`AgentConfig::with_flush_interval`].
//! - An agent that is down, slow or answering with an error: each batch is retried with
//!   exponential backoff, then counted as failed ([`Stats::failed`]); memory stays
//!   bounded by the queue and one batch; one warning at most every minute goes to
//!   standard error.
//! - [`Agent::flush`] and [`Agent::shutdown`] send what is queued, bounded by a timeout;
//!   so does dropping the last [`Agent`] handle (a guard: keep it in `main`).
//!   Every duration saturates: `Duration::MAX` waits as long as it takes, never panics.
//! - Should the background thread ever end unexpectedly, it says so once on standard
//!   error, [`Stats::running`] turns false, `flush` returns `false` at once, and later
//!   spans count as dropped.

mod answer;
mod buffer;
mod config;
mod deadline;
mod group;
mod msgpack;
mod pending;
mod process_tags;
mod shared;
mod stats;
mod transport;
mod worker;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, SyncSender};
use std::time::Duration;

pub use self::config::{AgentConfig, ApiVersion};
#[allow(deprecated)]
pub use self::config::{InvalidAddress, InvalidApiVersion};
use self::shared::{Message, Shared};
use self::worker::Worker;
use crate::export;
use crate::global::AlreadySet;
use crate::span_parts::EndedSpan;

/// What the exporter did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Spans the agent accepted.
    pub sent: u64,
    /// Spans dropped: the queue was full, the exporter was shut down, or its thread
    /// was gone.
    pub dropped: u64,
    /// Spans given up on after the agent failed or refused them.
    pub failed: u64,
    /// Trace chunks that sampling dropped and that were not sent because client-side
    /// stats count them (their spans are counted as `sent`: the Agent has them in
    /// the stats).
    pub unsampled_chunks: u64,
    /// Whether the background thread runs: `false` after [`Agent::shutdown`], and when
    /// the thread could not start or ended unexpectedly.
    pub running: bool,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "spanlog agent: sent={} dropped={} failed={}",
            self.sent, self.dropped, self.failed
        )?;
        if !self.running {
            f.write_str(" (stopped)")?;
        }
        Ok(())
    }
}

/// A handle on the installed agent exporter: its counters, flush and shutdown; and a
/// guard. Rust runs no code when `main` returns, and statics are never dropped: when
/// the last handle (it is `Clone`) is dropped, it sends what is queued and stops the
/// exporter, waiting at most [`AgentConfig::with_shutdown_timeout`] (two seconds by
/// default). Keep it in `main` for the life of the program, as tracing-appender's
/// `WorkerGuard`: `let _agent = ...`, not `let _ = ...`, which drops it, and stops the
/// exporter, at once. (`std::process::exit` skips every drop: call
/// [`Agent::shutdown`] before it.)
#[derive(Clone)]
#[must_use = "dropping the handle stops the exporter: keep it alive for the program's life (`let _agent = ...`)"]
pub struct Agent {
    /// `None` when export is turned off (`DD_TRACE_ENABLED=false`).
    running: Option<Arc<Running>>,
}

struct Running {
    shared: Arc<Shared>,
    wake: SyncSender<Message>,
    /// What dropping the last handle may wait.
    shutdown_timeout: Duration,
}

impl Drop for Running {
    /// The last handle is gone: send what is queued and stop, within the timeout.
    fn drop(&mut self) {
        shutdown(&self.shared, &self.wake, self.shutdown_timeout);
    }
}

impl fmt::Debug for Agent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Agent")
            .field("address", &self.running.as_ref().map(|r| &r.shared.address))
            .field("stats", &self.stats())
            .finish()
    }
}

/// Starts the background sender and installs it as the process-wide exporter. Keep the
/// handle it returns for the life of the program: it is a guard (see [`Agent`]).
///
/// # Errors
///
/// When an exporter is already installed; the configuration comes back through
/// [`AlreadySet::into_inner`] and nothing is started.
pub fn try_init(config: AgentConfig) -> Result<Agent, AlreadySet<AgentConfig>> {
    crate::settings::read_all();
    if export::is_installed() {
        return Err(AlreadySet::new("exporter", config));
    }
    if !config.enabled() {
        return Ok(Agent { running: None });
    }
    let (exporter, agent) = start(config.clone());
    match export::set_collector(exporter) {
        Ok(()) => Ok(agent),
        // Another thread installed one in between.
        Err(_) => {
            agent.stop();
            Err(AlreadySet::new("exporter", config))
        }
    }
}

/// Like [`try_init`], but panics when an exporter is already installed.
///
/// # Panics
///
/// When an exporter is already installed.
pub fn init(config: AgentConfig) -> Agent {
    match try_init(config) {
        Ok(agent) => agent,
        Err(_) => panic!("spanlog::agent::init: an exporter was already installed"),
    }
}

/// Starts the background sender and installs it as the process-wide exporter.
///
/// # Errors
///
/// When an exporter is already installed.
#[deprecated(since = "0.2.0", note = "use `agent::try_init` (or `agent::init`)")]
pub fn set_global(config: AgentConfig) -> Result<Agent, AlreadySet<AgentConfig>> {
    try_init(config)
}

impl Agent {
    /// The counters.
    pub fn stats(&self) -> Stats {
        let Some(Running { shared: s, .. }) = self.running.as_deref() else {
            return Stats::default();
        };
        Stats {
            sent: s.sent.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            failed: s.failed.load(Ordering::Relaxed),
            unsampled_chunks: s.unsampled_chunks.load(Ordering::Relaxed),
            running: s.running.load(Ordering::SeqCst),
        }
    }

    /// Sends everything queued so far, waiting at most `timeout`; `true` when the agent
    /// accepted it all in time, `false` when time ran out or spans were given up on
    /// meanwhile ([`Stats::failed`]). `false` at once when the exporter is shut down or
    /// its thread is gone.
    pub fn flush(&self, timeout: Duration) -> bool {
        let Some(Running { shared, wake, .. }) = self.running.as_deref() else {
            return true; // export is off: nothing is ever queued
        };
        flush(shared, wake, timeout)
    }

    /// Flushes, waiting at most `timeout`, then stops the background thread and waits
    /// for it to end within what is left of `timeout`; spans finished afterwards are
    /// dropped and counted. Call it before the process exits. `true` when everything
    /// queued was accepted by the agent. When it returns, [`Stats::running`] is
    /// `false` and the counters are final: `sent + dropped + failed` is every span
    /// finished so far. When the time runs out first (an agent that never answers),
    /// what was not sent is counted as dropped, with a warning on standard error.
    pub fn shutdown(&self, timeout: Duration) -> bool {
        match self.running.as_deref() {
            Some(Running { shared, wake, .. }) => shutdown(shared, wake, timeout),
            None => true,
        }
    }

    fn stop(&self) {
        if let Some(Running { shared, wake, .. }) = self.running.as_deref() {
            stop(shared, wake);
        }
    }
}

/// [`Agent::shutdown`].
fn shutdown(shared: &Arc<Shared>, wake: &SyncSender<Message>, timeout: Duration) -> bool {
    let deadline = deadline::after(std::time::Instant::now(), timeout);
    let flushed = flush(shared, wake, timeout);
    stop(shared, wake);
    if shared.wait_ended(deadline) {
        return flushed;
    }
    // The thread is stuck (an agent that accepts and never answers): every span not
    // yet counted is dropped now, so that the counters are final.
    let lost = shared.abandon();
    crate::env::print_warning(format!(
        "spanlog: the Datadog Agent at {} did not take the last spans within the shutdown timeout; {lost} spans were not sent (counted as dropped)",
        shared.address
    ));
    false
}

/// [`Agent::flush`]: this thread's buffered spans first, so that they are included.
fn flush(shared: &Arc<Shared>, wake: &SyncSender<Message>, timeout: Duration) -> bool {
    buffer::hand_over_local(shared);
    shared.flush(wake, timeout)
}

fn stop(shared: &Shared, wake: &SyncSender<Message>) {
    shared.stopped.store(true, Ordering::SeqCst);
    let _ = wake.try_send(Message::Wake);
}

/// The installed exporter: each thread's buffer, and the bounded queue in front of the
/// background thread.
pub(crate) struct AgentExporter {
    queue: SyncSender<Message>,
    shared: Arc<Shared>,
}

impl export::Collector for AgentExporter {
    /// The span goes into this thread's buffer as the core made it (its times are
    /// placed on the wall clock, and it is encoded, on the exporter's thread).
    #[inline]
    fn collect(&self, span: EndedSpan<'_>) {
        if self.shared.stopped.load(Ordering::Relaxed) {
            return self.shared.count_dropped(1);
        }
        buffer::export(&self.shared, &self.queue, span);
    }

    fn flush(&self, timeout: Duration) -> bool {
        flush(&self.shared, &self.queue, timeout)
    }

    /// Sampling is decided on the exporter's thread, as chunks are sent.
    fn takes_roots(&self) -> bool {
        !self.shared.stopped.load(Ordering::Relaxed)
    }
}

/// A span made elsewhere, its times already on the wall clock, as the tests hand them.
#[cfg(test)]
impl AgentExporter {
    fn export(&self, span: export::FinishedSpan) {
        if self.shared.stopped.load(Ordering::Relaxed) {
            return self.shared.count_dropped(1);
        }
        buffer::export_pending(&self.shared, &self.queue, span.into());
    }

    fn flush(&self, timeout: Duration) -> bool {
        export::Collector::flush(self, timeout)
    }
}

fn start(config: AgentConfig) -> (AgentExporter, Agent) {
    // The channel only wakes the background thread; batches wait in `Shared`.
    let (queue, receiver) = mpsc::sync_channel(4);
    let shared = Arc::new(Shared::new(
        config.address(),
        config.queue_capacity(),
        config.batch_size(),
    ));
    let shutdown_timeout = config.shutdown_timeout();
    let worker = Worker::new(config, Arc::clone(&shared));
    let spawned = std::thread::Builder::new()
        .name("spanlog-agent".to_owned())
        .spawn(move || worker.run_to_end(receiver));
    if let Err(error) = spawned {
        shared.thread_ended();
        crate::env::print_warning(format!(
            "spanlog: could not start the agent exporter thread: {error}; spans will be dropped"
        ));
    }
    let agent = Agent {
        running: Some(Arc::new(Running {
            shared: Arc::clone(&shared),
            wake: queue.clone(),
            shutdown_timeout,
        })),
    };
    (AgentExporter { queue, shared }, agent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::pending::testing::finished;
    use crate::clock;

    /// An address where nothing answers at once: a port that was just closed.
    fn closed_port() -> AgentConfig {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        AgentConfig::new()
            .with_address(&format!("http://127.0.0.1:{port}"))
            .unwrap()
            .with_max_retries(0)
    }

    #[test]
    fn huge_durations_neither_panic_nor_stop_the_thread() {
        let config = closed_port()
            .with_flush_interval(Duration::MAX)
            .with_request_timeout(Duration::MAX);
        let (exporter, agent) = start(config);
        exporter.export(finished(1, 1, 0));
        assert!(!agent.flush(Duration::MAX), "the span failed: no success");
        assert!(exporter.flush(Duration::MAX), "nothing failed since");
        let stats = agent.stats();
        assert!(stats.running, "{stats}");
        assert_eq!(stats.failed, 1, "{stats}");
        assert!(agent.shutdown(Duration::MAX));
        let stats = agent.stats();
        assert!(
            !stats.running,
            "the thread ended before shutdown returned: {stats}"
        );
        assert_eq!(stats.dropped, 0, "{stats}");
    }

    /// A shutdown that gives up (an agent that accepts connections and never answers):
    /// every span is accounted for when it returns, the exporter no longer runs, and
    /// the thread, when its request ends later, counts nothing twice.
    #[test]
    fn a_shutdown_that_gives_up_accounts_for_every_span() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            // Accepts, reads nothing, answers nothing, while the test runs.
            let mut connections = Vec::new();
            for connection in listener.incoming() {
                connections.push(connection);
            }
        });
        let config = AgentConfig::new()
            .with_address(&address)
            .unwrap()
            .with_request_timeout(Duration::from_millis(1500))
            .with_max_retries(0)
            .with_batch_size(10)
            .with_flush_interval(Duration::from_millis(10));
        let (exporter, agent) = start(config);
        const MADE: u64 = 250;
        for id in 1..=MADE {
            exporter.export(finished(id, id, 0));
        }
        std::thread::sleep(Duration::from_millis(100)); // the thread is stuck sending
        assert!(!agent.shutdown(Duration::from_millis(200)));
        let stats = agent.stats();
        assert!(!stats.running, "{stats}");
        assert_eq!(stats.sent + stats.dropped + stats.failed, MADE, "{stats}");
        // The stuck request ends (its deadline): nothing is counted again.
        std::thread::sleep(Duration::from_millis(2000));
        assert_eq!(agent.stats(), stats);
    }

    /// A thread that finished a few spans (fewer than it hands over at once) and then
    /// goes quiet: the background thread drains its buffer within the flush interval.
    #[test]
    fn an_idle_threads_spans_leave_within_the_flush_interval() {
        let (exporter, agent) = start(closed_port().with_flush_interval(Duration::from_millis(50)));
        let exporter = Arc::new(exporter);
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let idle = {
            let exporter = Arc::clone(&exporter);
            std::thread::spawn(move || {
                for id in 1..=3 {
                    exporter.export(finished(7, id, 0));
                }
                // Idle, alive, holding nothing but its buffer.
                let _ = wait.recv();
            })
        };
        let started = std::time::Instant::now();
        while agent.stats().failed < 3 && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(10));
        }
        let stats = agent.stats();
        assert_eq!(
            stats.failed, 3,
            "the idle thread's spans were sent: {stats}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        drop(done);
        idle.join().unwrap();
    }

    /// A span as the fake agent read it from a v0.4 payload: name, start, duration.
    type Seen = (String, i64, i64);

    /// An agent without the v0.5 endpoint (it answers 404 there, 200 on v0.4). Returns
    /// the address and each request's path and spans, as they arrive.
    fn agent_without_v05() -> (String, mpsc::Receiver<(String, Vec<Seen>)>) {
        use std::io::Write;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let (tell, requests) = mpsc::channel();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let tell = tell.clone();
                std::thread::spawn(move || {
                    while let Some((head, body)) = read_request(&mut stream) {
                        let path = head.split(' ').nth(1).unwrap().to_owned();
                        let mut spans = Vec::new();
                        if path == "/v0.4/traces" {
                            let buf = &mut &body[..];
                            let chunks = rmp::decode::read_array_len(buf).unwrap();
                            for _ in 0..chunks {
                                for _ in 0..rmp::decode::read_array_len(buf).unwrap() {
                                    spans.push(read_span(buf));
                                }
                            }
                        }
                        let answer: &[u8] = if path == "/v0.5/traces" {
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                        } else {
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
                        };
                        if path != "/info" {
                            let _ = tell.send((path, spans));
                        }
                        if stream.write_all(answer).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (address, requests)
    }

    /// Reads one request from `conn`, as the fake agents here do: its head (request line
    /// included) and its body; `None` at the connection's end. Reads nothing past the
    /// request, so the connection can carry the next one.
    pub(super) fn read_request(conn: &mut impl std::io::Read) -> Option<(String, Vec<u8>)> {
        let mut data = Vec::new();
        let mut byte = [0u8; 1];
        while !data.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => data.push(byte[0]),
                _ => return None,
            }
        }
        let head = String::from_utf8(data).ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length:")
                    .map(str::to_owned)
            })?
            .trim()
            .parse()
            .ok()?;
        let mut body = vec![0u8; length];
        conn.read_exact(&mut body).ok()?;
        Some((head, body))
    }

    /// Reads one v0.4 span map: its name, start and duration; the rest skipped.
    fn read_span(buf: &mut &[u8]) -> Seen {
        fn string(buf: &mut &[u8]) -> String {
            let len = rmp::decode::read_str_len(buf).unwrap() as usize;
            let (text, rest) = buf.split_at(len);
            *buf = rest;
            String::from_utf8(text.to_vec()).unwrap()
        }
        fn skip(buf: &mut &[u8]) {
            use rmp::Marker::*;
            match rmp::Marker::from_u8(buf[0]) {
                FixMap(_) | Map16 | Map32 => {
                    for _ in 0..2 * rmp::decode::read_map_len(buf).unwrap() {
                        skip(buf);
                    }
                }
                FixStr(_) | Str8 | Str16 | Str32 => drop(string(buf)),
                F64 => drop(rmp::decode::read_f64(buf).unwrap()),
                _ => drop(rmp::decode::read_int::<i128, _>(buf).unwrap()),
            }
        }
        let mut seen = (String::new(), 0, 0);
        for _ in 0..rmp::decode::read_map_len(buf).unwrap() {
            match string(buf).as_str() {
                "name" => seen.0 = string(buf),
                "start" => seen.1 = rmp::decode::read_int(buf).unwrap(),
                "duration" => seen.2 = rmp::decode::read_int(buf).unwrap(),
                _ => skip(buf),
            }
        }
        seen
    }

    fn unix_now() -> i64 {
        let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
        since.unwrap().as_nanos() as i64
    }

    /// Spans reach the agent with their start within 1 ms of the wall clock read around
    /// them, and their duration within 1 ms of the monotonic time read around them (the
    /// bound, and why scheduling does not matter: tests/export_hook.rs): on this thread, on another, and finished on another thread than the one
    /// they started on (their times are placed on the wall clock by the exporter's
    /// thread).
    #[test]
    fn exported_times_match_the_clocks_read_around_them() {
        const BOUND: i64 = 1_000_000;
        let (address, requests) = agent_without_v05();
        let config = AgentConfig::new().with_address(&address).unwrap();
        let (exporter, agent) = start(config);
        let exporter: &'static AgentExporter = Box::leak(Box::new(exporter));
        // Spans finish through the seam, as a `Span` dropping does.
        let finish = |name: &'static str, start: clock::Stamp| {
            let mut context = crate::SpanContext::new(
                crate::TraceId::from_parts(0, 1),
                crate::SpanId::from_u64(name.len() as u64),
            );
            context.parent_id = crate::SpanId::ZERO;
            let mut parts = crate::span_parts::SpanParts {
                context,
                name: name.into(),
                resource: None,
                span_type: Default::default(),
                extra: None,
            };
            export::Collector::collect(exporter, EndedSpan::new(&mut parts, start));
        };
        let mut expected = Vec::new();
        let mut measure = |name: &'static str, run: &dyn Fn(clock::Stamp)| {
            let (before, since) = (unix_now(), std::time::Instant::now());
            run(clock::now());
            expected.push((name, before, unix_now(), since.elapsed().as_nanos() as i64));
        };
        clock::warm_up();
        measure("here", &|start| finish("here", start));
        measure("here 2 ms", &|start| {
            std::thread::sleep(Duration::from_millis(2));
            finish("here 2 ms", start);
        });
        measure("there", &|_| {
            std::thread::spawn(move || finish("there", clock::now()))
                .join()
                .unwrap();
        });
        measure("moved", &|start| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(3));
                finish("moved", start);
            })
            .join()
            .unwrap();
        });
        assert!(exporter.flush(Duration::from_secs(10)));
        let seen: Vec<Seen> = requests.try_iter().flat_map(|(_, spans)| spans).collect();
        for (name, before, after, elapsed) in expected {
            let (_, start, duration) = seen
                .iter()
                .find(|(n, ..)| n == name)
                .unwrap_or_else(|| panic!("{name} not sent: {seen:?}"));
            assert!(
                *start >= before - BOUND && *start <= after + BOUND,
                "{name}: start {start} not in {before}..{after}"
            );
            assert!(
                *duration >= 0 && *duration <= elapsed + BOUND,
                "{name}: duration {duration} vs {elapsed}"
            );
            assert!(
                start + duration <= after + BOUND,
                "{name} ends in the future"
            );
        }
        let moved = seen.iter().find(|(n, ..)| n == "moved").unwrap();
        assert!(moved.2 >= 3_000_000, "{moved:?}");
        agent.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn an_agent_without_v05_gets_v04_and_loses_nothing() {
        let (address, requests) = agent_without_v05();
        let config = AgentConfig::new()
            .with_address(&address)
            .unwrap()
            .with_api_version(ApiVersion::V05);
        let (exporter, agent) = start(config);
        for id in 1..=3 {
            exporter.export(finished(1, id, 0));
        }
        assert!(exporter.flush(Duration::from_secs(10)));
        exporter.export(finished(2, 4, 0));
        assert!(exporter.flush(Duration::from_secs(10)));
        let stats = agent.stats();
        assert_eq!(
            (stats.sent, stats.failed, stats.dropped),
            (4, 0, 0),
            "{stats}"
        );
        let seen: Vec<(String, Vec<Seen>)> = requests.try_iter().collect();
        let seen: Vec<(&str, usize)> = seen.iter().map(|(p, s)| (p.as_str(), s.len())).collect();
        assert_eq!(
            seen,
            [
                ("/v0.5/traces", 0),
                ("/v0.4/traces", 3),
                ("/v0.4/traces", 1)
            ]
        );
        agent.shutdown(Duration::from_secs(1));
    }

    #[test]
    fn a_dead_thread_is_visible() {
        let (exporter, agent) = start(closed_port());
        agent
            .running
            .as_ref()
            .unwrap()
            .wake
            .send(Message::Panic)
            .unwrap();
        let started = std::time::Instant::now();
        while agent.stats().running && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let stats = agent.stats();
        assert!(!stats.running, "{stats}");
        assert!(stats.to_string().ends_with("(stopped)"), "{stats}");
        let started = std::time::Instant::now();
        assert!(!agent.flush(Duration::from_secs(30)));
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "flush waited for nothing"
        );
        exporter.export(finished(1, 1, 0));
        assert_eq!(agent.stats().dropped, 1);
    }
}
