//! Test-only loggers shared by the integration tests.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::Mutex;

use log::{Log, Metadata, Record};

/// Keeps every line it is given, formatted as `LEVEL message` plus ` key=value` for each
/// key-value pair (with the `kv` feature).
#[derive(Default)]
pub struct Capture {
    lines: Mutex<Vec<String>>,
}

impl Capture {
    pub fn new() -> Self {
        log::set_max_level(log::LevelFilter::Trace);
        Capture::default()
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

pub fn format(record: &Record<'_>) -> String {
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
pub struct LastLine {
    buf: Mutex<String>,
}

impl LastLine {
    pub fn with_capacity(capacity: usize) -> Self {
        LastLine {
            buf: Mutex::new(String::with_capacity(capacity)),
        }
    }

    pub fn last(&self) -> String {
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
