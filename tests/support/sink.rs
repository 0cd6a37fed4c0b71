//! A local HTTP server for benchmarks: the cheapest agent there can be. Included with
//! `#[path]` by the bench crates.

use std::io::{BufRead, BufReader, Read, Write};

/// Body bytes the sink received, all requests together.
pub(crate) static RECEIVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

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
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
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
        let answer =
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
        if reader.get_mut().write_all(answer).is_err() || close {
            return;
        }
    }
}
