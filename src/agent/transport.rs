//! One `PUT /v0.4/traces` or `PUT /v0.5/traces`: over HTTP with `ureq`, or HTTP/1.1
//! over a unix socket. The request timeout is a deadline for the whole request on both.

use std::time::{Duration, Instant};

use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};

use super::config::{Address, ApiVersion};
use super::deadline;

/// How requests reach the agent.
pub(crate) enum Transport {
    Http { client: ureq::Agent, base: String },
    Unix(std::path::PathBuf),
}

impl Transport {
    pub(crate) fn new(address: &Address, timeout: Duration) -> Transport {
        match address {
            Address::Http(base) => {
                let config = ureq::Agent::config_builder()
                    .timeout_global(Some(deadline::capped(timeout)))
                    .http_status_as_error(false)
                    .build();
                Transport::Http {
                    client: ureq::Agent::with_parts(
                        config,
                        ureq::unversioned::transport::DefaultConnector::new(),
                        CachedResolver::default(),
                    ),
                    base: base.clone(),
                }
            }
            Address::Unix(path) => Transport::Unix(path.clone()),
        }
    }

    /// Sends `body`, `traces` traces in `version`'s format, to that version's endpoint;
    /// the HTTP status and the answer's body, or why there was none.
    pub(crate) fn put(
        &self,
        version: ApiVersion,
        body: &[u8],
        traces: usize,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let count = traces.to_string();
        let headers = [
            ("Content-Type", "application/msgpack"),
            ("Datadog-Meta-Lang", "rust"),
            ("Datadog-Meta-Lang-Version", env!("SPANLOG_RUSTC_VERSION")),
            ("Datadog-Meta-Tracer-Version", env!("CARGO_PKG_VERSION")),
            ("X-Datadog-Trace-Count", count.as_str()),
        ];
        match self {
            Transport::Http { client, base } => {
                let mut request = client.put(format!("{base}{}", version.path()));
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                let response = request.send(body).map_err(|error| error.to_string())?;
                let status = response.status().as_u16();
                // Reading the answer to its end lets the connection be reused for the
                // next batch: no new connection, no name resolution, per request. It
                // carries the agent's sampling rates.
                let answer = response
                    .into_body()
                    .with_config()
                    .limit(64 * 1024)
                    .read_to_vec()
                    .unwrap_or_default();
                Ok((status, answer))
            }
            Transport::Unix(path) => {
                let deadline = deadline::after(Instant::now(), timeout);
                put_unix(path, version, &headers, body, deadline)
            }
        }
    }
}

/// Resolves the agent's host once a minute instead of on every request. (ureq resolves
/// before it looks for a pooled connection, and with a timeout set each lookup runs on
/// a thread of its own: one thread per batch.)
#[derive(Debug, Default)]
struct CachedResolver {
    cache: std::sync::Mutex<Option<(Instant, ResolvedSocketAddrs)>>,
}

impl Resolver for CachedResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        const FRESH: Duration = Duration::from_secs(60);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, addrs)) = cache.as_ref().filter(|(at, _)| at.elapsed() < FRESH) {
            return Ok(addrs.clone());
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        *cache = Some((Instant::now(), addrs.clone()));
        Ok(addrs)
    }
}

/// HTTP/1.1 over a unix domain socket: one request per connection, bounded by
/// `deadline` as a whole, however slowly the agent reads or answers.
#[cfg(unix)]
fn put_unix(
    path: &std::path::Path,
    version: ApiVersion,
    headers: &[(&str, &str)],
    body: &[u8],
    deadline: Instant,
) -> Result<(u16, Vec<u8>), String> {
    use std::io::{ErrorKind, Read, Write};

    let timed_out = || format!("timed out talking to {}", path.display());
    // The time left, or an error once it is gone (a zero timeout is invalid).
    let left = || {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(timed_out())
        } else {
            Ok(left)
        }
    };
    let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| e.to_string())?;
    let mut head = format!(
        "PUT {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
        version.path(),
        body.len()
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    for mut part in [head.as_bytes(), body] {
        while !part.is_empty() {
            stream
                .set_write_timeout(Some(left()?))
                .map_err(|e| e.to_string())?;
            match stream.write(part) {
                Ok(0) => return Err(format!("{} closed the connection", path.display())),
                Ok(n) => part = &part[n..],
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Err(timed_out());
                }
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    // The status line is all we need, and the answer ends where the agent closes.
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        stream
            .set_read_timeout(Some(left()?))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&chunk[..n]);
                if response.len() >= 64 * 1024 {
                    break;
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(timed_out());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let status =
        status(&response).ok_or_else(|| format!("no HTTP response on {}", path.display()))?;
    let body = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|end| response[end + 4..].to_vec())
        .unwrap_or_default();
    Ok((status, body))
}

#[cfg(not(unix))]
fn put_unix(
    path: &std::path::Path,
    _: ApiVersion,
    _: &[(&str, &str)],
    _: &[u8],
    _: Instant,
) -> Result<(u16, Vec<u8>), String> {
    Err(format!(
        "unix sockets are not available here: {}",
        path.display()
    ))
}

/// The status code of an HTTP/1.x response's first line.
fn status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    let version = words.next()?;
    let status = words.next()?.parse().ok()?;
    version.starts_with("HTTP/").then_some(status)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixListener;

    #[test]
    fn status_lines() {
        assert_eq!(status(b"HTTP/1.1 200 OK\r\n\r\n{}"), Some(200));
        assert_eq!(status(b"HTTP/1.0 503\r\n"), Some(503));
        assert_eq!(status(b"SSH-2.0\r\n"), None);
        assert_eq!(status(b""), None);
    }

    /// An agent that answers one byte every 100 ms: the request gives up at its deadline,
    /// not at the first silent read.
    #[test]
    fn a_slow_unix_agent_cannot_stall_a_request_past_its_deadline() {
        let dir = std::env::temp_dir().join(format!("spanlog-slow-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("slow.socket");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = conn.read(&mut buf);
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" {
                if conn.write_all(&[*byte]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let transport = Transport::Unix(path.clone());
        let started = Instant::now();
        let outcome = transport.put(ApiVersion::V04, b"\x90", 0, Duration::from_millis(500));
        let took = started.elapsed();
        assert!(outcome.is_err(), "{outcome:?}");
        assert!(took < Duration::from_millis(1500), "took {took:?}");
        let _ = server.join();
        let _ = std::fs::remove_file(&path);
    }
}
