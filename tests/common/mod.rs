//! What the integration tests share, in one place: this module (`mod common;`) holds
//! the test-only loggers and collectors; the other files here are standalone helpers
//! that a test binary, a bench or a workspace member includes with `#[path]`
//! (`test_agent.rs`, `reference.rs`, `sink.rs`, `cpu_harness.rs`).
#![allow(dead_code)]

use std::fmt::Write as _;
use std::process::Command;
use std::sync::{Arc, Mutex};

use log::{Log, Metadata, Record};

/// Keeps every line it is given, formatted as `LEVEL message` plus ` key=value` for each
/// key-value pair (with the `kv` feature).
#[derive(Default)]
pub(crate) struct Capture {
    lines: Mutex<Vec<String>>,
}

impl Capture {
    pub(crate) fn new() -> Self {
        log::set_max_level(log::LevelFilter::Trace);
        Capture::default()
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

pub(crate) fn format(record: &Record<'_>) -> String {
    // Format before taking the lock: the arguments may log themselves.
    let mut line = format!("{} {}", record.level(), record.args());
    #[cfg(feature = "kv")]
    {
        struct Pairs<'a>(&'a mut String);
        impl<'kvs> log::kv::VisitSource<'kvs> for Pairs<'_> {
            fn visit_pair(
                &mut self,
                key: log::kv::Key<'kvs>,
                value: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                let _ = write!(self.0, " {key}={value}");
                Ok(())
            }
        }
        let _ = record.key_values().visit(&mut Pairs(&mut line));
    }
    let _ = &mut line;
    line
}

impl Log for Capture {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = format(record);
            self.lines.lock().unwrap().push(line);
        }
    }

    fn flush(&self) {}
}

/// Formats `[LEVEL target] message` into one reused buffer, like a real logger's line
/// formatting, without I/O; remembers only the last line.
#[derive(Default)]
pub(crate) struct LastLine {
    buf: Mutex<String>,
}

impl LastLine {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        LastLine {
            buf: Mutex::new(String::with_capacity(capacity)),
        }
    }

    pub(crate) fn last(&self) -> String {
        self.buf.lock().unwrap().clone()
    }
}

impl Log for LastLine {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        let mut buf = self.buf.lock().unwrap();
        buf.clear();
        let _ = write!(
            buf,
            "[{} {}] {}",
            record.level(),
            record.target(),
            record.args()
        );
    }

    fn flush(&self) {}
}

/// The quoted value of `key="..."` in a Go-style line.
pub(crate) fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!(" {key}=\""))
        .unwrap_or_else(|| panic!("no {key} in {line:?}"))
        + key.len()
        + 3;
    let len = line[start..].find('"').expect("closing quote");
    &line[start..start + len]
}

/// An example binary that `cargo test` built, with the variables that change its
/// output removed.
pub(crate) fn example(name: &str) -> Command {
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(name);
    let mut command = Command::new(path);
    for var in [
        "RUST_LOG",
        "DD_SERVICE",
        "DD_ENV",
        "DD_VERSION",
        "DD_LOGS_INJECTION",
        "DD_TRACE_AGENT_URL",
        "DD_AGENT_HOST",
        "DD_TRACE_AGENT_PORT",
        "DD_TRACE_SAMPLE_RATE",
        "DD_TRACE_SAMPLING_RULES",
        "DD_TRACE_RATE_LIMIT",
        "DD_TAGS",
        "DD_TRACE_ENABLED",
        "DD_GIT_COMMIT_SHA",
        "DD_GIT_REPOSITORY_URL",
    ] {
        command.env_remove(var);
    }
    command
}

/// An in-memory `io::Write` shared by clones: give one to a logger, read the other.
#[derive(Clone, Default)]
pub(crate) struct Pipe(pub Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Pipe {
    pub(crate) fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// A logger to install globally that keeps each message, shared by clones; with
/// `with_thread`, each line ends with ` thread=<id>` of the thread that logged it.
#[derive(Clone, Default)]
pub(crate) struct Shared {
    pub lines: Arc<Mutex<Vec<String>>>,
    with_thread: bool,
}

impl Shared {
    pub(crate) fn with_thread() -> Self {
        Shared {
            with_thread: true,
            ..Shared::default()
        }
    }

    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Log for Shared {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &Record<'_>) {
        let mut line = record.args().to_string();
        if self.with_thread {
            let _ = write!(line, " thread={:?}", std::thread::current().id());
        }
        self.lines.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

/// An exporter that keeps every finished span, for tests to look at.
#[derive(Clone, Default)]
pub(crate) struct Collect(pub(crate) Arc<Mutex<Vec<spanlog::export::FinishedSpan>>>);

impl spanlog::export::Exporter for Collect {
    fn export(&self, span: spanlog::export::FinishedSpan) {
        self.0.lock().unwrap().push(span);
    }
}

impl Collect {
    /// The first finished span named `name`; panics, listing what there is, if none.
    pub(crate) fn named(&self, name: &str) -> spanlog::export::FinishedSpan {
        let spans = self.0.lock().unwrap();
        let found = spans.iter().find(|s| s.name == name).cloned();
        found.unwrap_or_else(|| {
            let names: Vec<_> = spans.iter().map(|s| &s.name).collect();
            panic!("{name} not exported: {names:?}")
        })
    }
}
