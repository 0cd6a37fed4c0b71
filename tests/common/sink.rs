//! A local HTTP server for benchmarks: the cheapest agent there can be. Included with
//! `#[path]` by the bench crates.

use std::io::{BufRead, BufReader, Read, Write};

/// Body bytes the sink received, all requests together.
pub(crate) static RECEIVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether the sink's `/info` says it takes client-side stats and lets unsampled
/// chunks go, as Datadog's Agent does (else it answers `{}` there too: no stats).
pub(crate) static TAKES_STATS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// A local HTTP server on a loopback TCP port that answers every request with `200 {}`
/// at once, after reading it whole: the cheapest agent there can be.
pub(crate) fn sink() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    address
}

/// The same server on a Unix domain socket (as Datadog's Agent listens in containers),
/// as a `unix://` address.
#[cfg(unix)]
#[allow(dead_code)] // not every bench that includes this file uses it
pub(crate) fn sink_uds() -> String {
    let path = std::env::temp_dir().join(format!("spanlog-sink-{}.socket", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("a socket path");
    let address = format!("unix://{}", path.display());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || answer(stream));
        }
    });
    address
}

/// Reads requests off one connection, answering each, until it closes.
fn answer<S: Read + Write>(stream: S) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut close = false;
        let mut info = false;
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            info |= line.starts_with("GET /info ");
            let lower = line.to_ascii_lowercase();
            if let Some(value) = lower.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap_or(0);
            }
            close |= lower.starts_with("connection:") && lower.contains("close");
            if line == "\r\n" {
                break;
            }
        }
        // Read and dropped: no buffer to allocate (and zero) per request.
        match std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()) {
            Ok(read) if read == length as u64 => {}
            _ => return,
        }
        RECEIVED.fetch_add(length as u64, std::sync::atomic::Ordering::Relaxed);
        let stats = info && TAKES_STATS.load(std::sync::atomic::Ordering::Relaxed);
        let answer: &[u8] = if stats {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 67\r\n\r\n{\"endpoints\":[\"/v0.4/traces\",\"/v0.6/stats\"],\"client_drop_p0s\":true}"
        } else {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        };
        if reader.get_mut().write_all(answer).is_err() || close {
            return;
        }
    }
}

/// The environment variable that makes a bench process a sink (see [`SinkProcess`]).
const SINK_PROCESS: &str = "SPANLOG_BENCH_SINK";

/// A [`sink`] in a process of its own (this executable, started again), as the Datadog
/// Agent is: what receiving costs is not charged to the process being measured.
#[allow(dead_code)] // not every bench that includes this file uses it
pub(crate) struct SinkProcess {
    child: std::process::Child,
    output: BufReader<std::process::ChildStdout>,
    /// Where to send: `http://127.0.0.1:PORT` or `unix://PATH`.
    pub(crate) address: String,
}

#[allow(dead_code)]
impl SinkProcess {
    /// Starts the sink process, on loopback TCP or (`unix`) a Unix domain socket.
    pub(crate) fn start(unix: bool) -> SinkProcess {
        Self::start_as(if unix { "unix" } else { "tcp" })
    }

    /// Starts the sink process on loopback TCP, taking client-side stats as Datadog's
    /// Agent does (see [`TAKES_STATS`]).
    pub(crate) fn start_taking_stats() -> SinkProcess {
        Self::start_as("tcp-stats")
    }

    fn start_as(kind: &str) -> SinkProcess {
        use std::process::{Command, Stdio};
        let mut child = Command::new(std::env::current_exe().expect("this executable"))
            .env(SINK_PROCESS, kind)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the sink process starts");
        let mut output = BufReader::new(child.stdout.take().expect("piped"));
        let mut address = String::new();
        output.read_line(&mut address).expect("the sink's address");
        SinkProcess {
            child,
            output,
            address: address.trim().to_owned(),
        }
    }

    /// Stops the sink; the request body bytes it received.
    pub(crate) fn finish(mut self) -> u64 {
        drop(self.child.stdin.take());
        let mut line = String::new();
        let _ = self.output.read_line(&mut line);
        let _ = self.child.wait();
        line.trim()
            .strip_prefix("received ")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for SinkProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// When this process was started as a [`SinkProcess`]: serves until its standard input
/// closes, writes the body bytes it received, and returns `true`. Call it first in the
/// bench's `main`.
#[allow(dead_code)]
pub(crate) fn serve_if_sink_process() -> bool {
    let Some(kind) = std::env::var_os(SINK_PROCESS) else {
        return false;
    };
    if kind == "tcp-stats" {
        TAKES_STATS.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let address = if kind == "unix" { sink_uds() } else { sink() };
    println!("{address}");
    let _ = std::io::stdout().flush();
    let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
    println!(
        "received {}",
        RECEIVED.load(std::sync::atomic::Ordering::Relaxed)
    );
    true
}
