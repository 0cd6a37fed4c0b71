//! One `PUT /v0.4/traces` or `PUT /v0.5/traces` (or `PUT /v0.6/stats`, `GET /info`):
//! HTTP/1.1 over TCP or a unix socket,
//! on a connection kept open from one request to the next. The request timeout is a
//! deadline for the whole request, name lookup and connecting included.
//!
//! Written here rather than with an HTTP client crate: the exporter sends one kind of
//! request to one local server, and writing the payload from the encoder's buffer
//! straight to the socket saves the copy through a client's output buffer (about a
//! tenth of the exporter thread's time with 1 MB payloads). The answer's parsing is in
//! [`super::answer`].

use std::io::{ErrorKind, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::answer::{self, Answer, Failure, broken};
use super::config::{Address, ApiVersion};
use super::deadline;

/// How long a name lookup is trusted.
const FRESH: Duration = Duration::from_secs(60);

/// What is asked of the agent.
#[derive(Clone, Copy)]
enum Request {
    /// Trace chunks, in a version's format.
    Traces {
        version: ApiVersion,
        traces: usize,
        client_stats: bool,
    },
    /// Client-side trace metrics.
    Stats,
    /// What the agent supports.
    Info,
}

/// How requests reach the agent, and the connection kept open to it.
pub(crate) struct Transport {
    target: Target,
    /// The agent's address for messages: `host:port`, which is also the `Host` header
    /// over TCP, or the socket's path.
    name: String,
    /// The connection the last answer left open.
    kept: Option<Stream>,
    /// The request's head, written again for each request into the same buffer.
    head: Vec<u8>,
    /// The answer as read from the connection.
    read: Vec<u8>,
}

enum Target {
    Tcp {
        /// The host to look up or connect to (an IPv6 address without brackets).
        host: String,
        port: u16,
        /// The last lookup of `host` and when it was made.
        resolved: Option<(Instant, Vec<SocketAddr>)>,
    },
    Unix(std::path::PathBuf),
}

impl Transport {
    pub(crate) fn new(address: &Address) -> Transport {
        let (target, name) = match address {
            Address::Http { host, port } => {
                let target = Target::Tcp {
                    host: host
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .to_owned(),
                    port: *port,
                    resolved: None,
                };
                (target, format!("{host}:{port}"))
            }
            Address::Unix(path) => (Target::Unix(path.clone()), path.display().to_string()),
        };
        Transport {
            target,
            name,
            kept: None,
            head: Vec::new(),
            read: Vec::new(),
        }
    }

    /// Sends `body`, `traces` traces in `version`'s format, to that version's endpoint;
    /// the HTTP status and the answer's body, or why there was none. `client_stats`:
    /// the exporter computes the trace metrics itself, and says so.
    pub(crate) fn put(
        &mut self,
        version: ApiVersion,
        body: &[u8],
        traces: usize,
        client_stats: bool,
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let request = Request::Traces {
            version,
            traces,
            client_stats,
        };
        self.send(request, body, timeout)
    }

    /// `PUT /v0.6/stats` with `body`, client-side trace metrics.
    pub(crate) fn put_stats(
        &mut self,
        body: &[u8],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        self.send(Request::Stats, body, timeout)
    }

    /// `GET /info`: what the agent supports.
    pub(crate) fn get_info(&mut self, timeout: Duration) -> Result<(u16, Vec<u8>), String> {
        self.send(Request::Info, &[], timeout)
    }

    fn send(
        &mut self,
        request: Request,
        body: &[u8],
        timeout: Duration,
    ) -> Result<(u16, Vec<u8>), String> {
        let deadline = deadline::after(Instant::now(), timeout);
        self.write_head(request, body.len());
        if let Some(stream) = self.kept.take().filter(Stream::is_open) {
            match self.exchange(stream, body, deadline) {
                Err(failure) if failure.nothing_back => {}
                outcome => return outcome.map_err(|failure| failure.message),
            }
        }
        let stream = self.connect(deadline)?;
        self.exchange(stream, body, deadline)
            .map_err(|failure| failure.message)
    }

    fn write_head(&mut self, request: Request, length: usize) {
        let host = match &self.target {
            Target::Tcp { .. } => self.name.as_str(),
            Target::Unix(_) => "localhost",
        };
        let (method, path) = match request {
            Request::Traces { version, .. } => ("PUT ", version.path()),
            Request::Stats => ("PUT ", "/v0.6/stats"),
            Request::Info => ("GET ", "/info"),
        };
        let head = &mut self.head;
        head.clear();
        for part in [
            method,
            path,
            " HTTP/1.1\r\nHost: ",
            host,
            "\r\nContent-Type: application/msgpack\r\nDatadog-Meta-Lang: rust\r\nDatadog-Meta-Lang-Version: ",
            env!("SPANLOG_RUSTC_VERSION"),
            "\r\nDatadog-Meta-Tracer-Version: ",
            env!("CARGO_PKG_VERSION"),
        ] {
            head.extend_from_slice(part.as_bytes());
        }
        if let Request::Traces {
            traces,
            client_stats,
            ..
        } = request
        {
            head.extend_from_slice(b"\r\nX-Datadog-Trace-Count: ");
            head.extend_from_slice(itoa::Buffer::new().format(traces).as_bytes());
            if client_stats {
                head.extend_from_slice(
                    b"\r\nDatadog-Client-Computed-Stats: yes\r\nDatadog-Client-Computed-Top-Level: yes",
                );
            }
        }
        head.extend_from_slice(b"\r\nContent-Length: ");
        head.extend_from_slice(itoa::Buffer::new().format(length).as_bytes());
        head.extend_from_slice(b"\r\n\r\n");
    }

    /// Writes the request on `stream` and reads the answer; keeps `stream` for the next
    /// request when the answer allows it.
    fn exchange(
        &mut self,
        mut stream: Stream,
        body: &[u8],
        deadline: Instant,
    ) -> Result<(u16, Vec<u8>), Failure> {
        let name = &self.name;
        write_all(&mut stream, &self.head, body, deadline, name)?;
        let Answer { status, body, keep } =
            answer::read(&mut stream, &mut self.read, deadline, name)?;
        if keep {
            self.kept = Some(stream);
        }
        Ok((status, body))
    }

    /// A new connection, made before `deadline`.
    fn connect(&mut self, deadline: Instant) -> Result<Stream, String> {
        match &mut self.target {
            Target::Tcp {
                host,
                port,
                resolved,
            } => {
                let addrs = match resolved.as_ref().filter(|(at, _)| at.elapsed() < FRESH) {
                    Some((_, addrs)) => addrs.clone(),
                    None => {
                        let addrs = resolve(host, *port, left(deadline, host)?)?;
                        *resolved = Some((Instant::now(), addrs.clone()));
                        addrs
                    }
                };
                let mut last = format!("no address for {host}");
                for addr in addrs {
                    match TcpStream::connect_timeout(&addr, left(deadline, host)?) {
                        Ok(stream) => {
                            // The head and the body go out as written, not held back.
                            let _ = stream.set_nodelay(true);
                            return Ok(Stream::Tcp(stream));
                        }
                        Err(error) => last = format!("{addr}: {error}"),
                    }
                }
                Err(last)
            }
            #[cfg(unix)]
            Target::Unix(path) => std::os::unix::net::UnixStream::connect(&*path)
                .map(Stream::Unix)
                .map_err(|error| format!("{}: {error}", path.display())),
            #[cfg(not(unix))]
            Target::Unix(path) => Err(format!(
                "unix sockets are not available here: {}",
                path.display()
            )),
        }
    }
}

/// The time left before `deadline`, or an error naming `name` once it is gone.
fn left(deadline: Instant, name: &str) -> Result<Duration, String> {
    deadline::left(deadline).ok_or_else(|| format!("timed out talking to {name}"))
}

/// `host`'s addresses. An IP address is used as it is; a name is looked up on a thread
/// of its own, so that a resolver that does not answer cannot hold the request past
/// its deadline.
fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let (send, receive) = std::sync::mpsc::channel();
    let name = (host.to_owned(), port);
    std::thread::Builder::new()
        .name("spanlog-resolve".into())
        .spawn(move || {
            let _ = send.send(name.to_socket_addrs().map(Iterator::collect::<Vec<_>>));
        })
        .map_err(|error| format!("looking up {host}: {error}"))?;
    match receive.recv_timeout(timeout) {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        Ok(Ok(_)) => Err(format!("no address for {host}")),
        Ok(Err(error)) => Err(format!("looking up {host}: {error}")),
        Err(_) => Err(format!("timed out looking up {host}")),
    }
}

/// Writes `head` then `body`, in as few system calls as the socket takes them, before
/// `deadline`.
fn write_all(
    stream: &mut Stream,
    head: &[u8],
    body: &[u8],
    deadline: Instant,
    name: &str,
) -> Result<(), Failure> {
    let mut parts = [IoSlice::new(head), IoSlice::new(body)];
    let mut parts = &mut parts[..];
    // Whether nothing was written: a kept connection the agent closed fails at once.
    let mut first = true;
    while !parts.is_empty() {
        stream
            .set_write_timeout(left(deadline, name).map_err(Failure::new)?)
            .map_err(|error| Failure::new(error.to_string()))?;
        match stream.write_vectored(parts) {
            Ok(0) => {
                return Err(Failure {
                    message: format!("{name} closed the connection"),
                    nothing_back: true,
                });
            }
            Ok(n) => IoSlice::advance_slices(&mut parts, n),
            Err(error) if error.kind() == ErrorKind::Interrupted => continue,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(Failure::new(format!("timed out talking to {name}")));
            }
            Err(error) => {
                return Err(Failure {
                    message: format!("{name}: {error}"),
                    // A broken pipe or reset: the agent is gone, or closed a kept
                    // connection; nothing reached it or came back either way.
                    nothing_back: first || broken(&error),
                });
            }
        }
        first = false;
    }
    Ok(())
}

/// A connection to the agent.
pub(crate) enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
}

impl Stream {
    fn set_read_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    fn set_write_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_write_timeout(Some(timeout)),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_write_timeout(Some(timeout)),
        }
    }

    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_nonblocking(on),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_nonblocking(on),
        }
    }

    /// Whether a kept connection can carry the next request: the agent has not closed
    /// it (a read would say so at once) and has sent nothing unasked.
    fn is_open(&self) -> bool {
        if self.set_nonblocking(true).is_err() {
            return false;
        }
        let (mut reader, mut byte) = (self, [0u8; 1]);
        let open = matches!(reader.read(&mut byte), Err(e) if e.kind() == ErrorKind::WouldBlock);
        open && self.set_nonblocking(false).is_ok()
    }
}

impl answer::Source for Stream {
    fn read_before(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize> {
        let left = deadline::left(deadline).ok_or(ErrorKind::TimedOut)?;
        self.set_read_timeout(left)?;
        self.read(buf)
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => (&*s).read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => (&*s).read(buf),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> std::io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::super::tests::read_request as request;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

    /// `address` as the configuration reads it.
    fn http(address: &str) -> Address {
        let config = super::super::config::AgentConfig::new().with_address(address);
        config.unwrap().address_value().clone()
    }

    /// A local agent: `serve(connection number, stream)` for each connection, on a
    /// thread; the requests it read come back on the receiver.
    fn agent(
        serve: impl Fn(usize, TcpStream, &mpsc::Sender<(usize, String, Vec<u8>)>) + Send + 'static,
    ) -> (Address, mpsc::Receiver<(usize, String, Vec<u8>)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = http(&format!("http://{}", listener.local_addr().unwrap()));
        let (send, receive) = mpsc::channel();
        std::thread::spawn(move || {
            for (n, conn) in listener.incoming().enumerate() {
                let Ok(conn) = conn else { return };
                serve(n, conn, &send);
            }
        });
        (address, receive)
    }

    fn put(transport: &mut Transport, body: &[u8]) -> Result<(u16, Vec<u8>), String> {
        transport.put(ApiVersion::V04, body, 7, false, Duration::from_secs(5))
    }

    #[test]
    fn heads_say_what_is_sent() {
        let mut transport = Transport::new(&http("http://127.0.0.1:1"));
        let head = |t: &mut Transport, request| {
            t.write_head(request, 12);
            String::from_utf8(t.head.clone()).unwrap()
        };
        let traces = |client_stats| Request::Traces {
            version: ApiVersion::V04,
            traces: 3,
            client_stats,
        };
        let plain = head(&mut transport, traces(false));
        assert!(
            plain.starts_with("PUT /v0.4/traces HTTP/1.1\r\n"),
            "{plain}"
        );
        assert!(
            plain.contains("\r\nX-Datadog-Trace-Count: 3\r\n"),
            "{plain}"
        );
        assert!(!plain.contains("Client-Computed"), "{plain}");
        assert!(plain.ends_with("\r\nContent-Length: 12\r\n\r\n"), "{plain}");
        let with_stats = head(&mut transport, traces(true));
        assert!(with_stats.contains("\r\nDatadog-Client-Computed-Stats: yes\r\n"));
        assert!(with_stats.contains("\r\nDatadog-Client-Computed-Top-Level: yes\r\n"));
        let stats = head(&mut transport, Request::Stats);
        assert!(stats.starts_with("PUT /v0.6/stats HTTP/1.1\r\n"), "{stats}");
        assert!(!stats.contains("Trace-Count"), "{stats}");
        let info = head(&mut transport, Request::Info);
        assert!(info.starts_with("GET /info HTTP/1.1\r\n"), "{info}");
    }

    #[test]
    fn requests_share_one_connection() {
        let (address, requests) = agent(|n, mut conn, seen| {
            while let Some((head, body)) = request(&mut conn) {
                let _ = seen.send((n, head, body));
                conn.write_all(OK).unwrap();
            }
        });
        let mut transport = Transport::new(&address);
        for body in [&b"\x91\x90"[..], &[0x90; 100_000], b"\x90"] {
            assert_eq!(put(&mut transport, body), Ok((200, b"{}".to_vec())));
            let (connection, head, received) = requests.recv().unwrap();
            assert_eq!(connection, 0, "one connection");
            assert_eq!(received, body);
            assert!(head.starts_with("PUT /v0.4/traces HTTP/1.1\r\n"), "{head}");
            for line in [
                "Content-Type: application/msgpack",
                "X-Datadog-Trace-Count: 7",
                "Datadog-Meta-Lang: rust",
            ] {
                assert!(head.contains(&format!("\r\n{line}\r\n")), "{line}: {head}");
            }
        }
    }

    #[test]
    fn ipv6_addresses_are_reached() {
        // Where the machine has no IPv6 loopback there is nothing to reach.
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            return;
        };
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let (head, _) = request(&mut conn).unwrap();
            conn.write_all(OK).unwrap();
            head
        });
        let mut transport = Transport::new(&http(&format!("http://[::1]:{port}")));
        assert_eq!(put(&mut transport, b"\x90"), Ok((200, b"{}".to_vec())));
        let head = server.join().unwrap();
        assert!(
            head.contains(&format!("\r\nHost: [::1]:{port}\r\n")),
            "{head}"
        );
    }

    #[test]
    fn a_connection_the_agent_closes_is_replaced() {
        // Closed after each answer, without saying so.
        let (address, requests) = agent(|n, mut conn, seen| {
            if let Some((head, body)) = request(&mut conn) {
                let _ = seen.send((n, head, body));
                conn.write_all(OK).unwrap();
            }
        });
        let mut transport = Transport::new(&address);
        for expected in 0..3 {
            assert_eq!(put(&mut transport, b"\x90"), Ok((200, b"{}".to_vec())));
            assert_eq!(requests.recv().unwrap().0, expected);
        }
    }

    #[test]
    fn a_request_a_kept_connection_drops_unanswered_is_sent_again() {
        // The first connection answers one request and drops the second.
        let (address, requests) = agent(|n, mut conn, seen| {
            while let Some((head, body)) = request(&mut conn) {
                let answered = n > 0 || body == b"\x91\x90";
                let _ = seen.send((n, head, body));
                if !answered {
                    return;
                }
                conn.write_all(OK).unwrap();
            }
        });
        let mut transport = Transport::new(&address);
        assert_eq!(put(&mut transport, b"\x91\x90"), Ok((200, b"{}".to_vec())));
        assert_eq!(put(&mut transport, b"\x90"), Ok((200, b"{}".to_vec())));
        let seen: Vec<(usize, Vec<u8>)> = requests.try_iter().map(|(n, _, b)| (n, b)).collect();
        assert_eq!(
            seen,
            [
                (0, b"\x91\x90".to_vec()),
                (0, b"\x90".to_vec()),
                (1, b"\x90".to_vec())
            ]
        );
    }

    #[test]
    fn a_new_connection_that_fails_is_an_error() {
        let (address, _requests) = agent(|_, conn, _| drop(conn));
        let mut transport = Transport::new(&address);
        let error = put(&mut transport, b"\x90").unwrap_err();
        assert!(error.contains("127.0.0.1"), "{error}");
        let closed = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = closed.local_addr().unwrap().port();
        drop(closed);
        let mut transport = Transport::new(&http(&format!("http://localhost:{port}")));
        assert!(put(&mut transport, b"\x90").is_err());
    }

    /// An agent that reads the request, then answers one byte every 100 ms: the
    /// request gives up at its deadline, not at the first silent read.
    fn trickle(mut conn: impl Read + Write) {
        let _ = request(&mut conn);
        for byte in OK {
            if conn.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn gives_up_at_its_deadline(mut transport: Transport) {
        let started = Instant::now();
        let outcome = transport.put(
            ApiVersion::V04,
            b"\x90",
            0,
            false,
            Duration::from_millis(500),
        );
        let took = started.elapsed();
        assert!(
            outcome.as_ref().is_err_and(|e| e.contains("timed out")),
            "{outcome:?}"
        );
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    }

    #[test]
    fn a_slow_agent_cannot_stall_a_request_past_its_deadline() {
        let (address, _requests) = agent(|_, conn, _| trickle(conn));
        gives_up_at_its_deadline(Transport::new(&address));
    }

    #[cfg(unix)]
    fn unix_agent(name: &str) -> (std::path::PathBuf, std::os::unix::net::UnixListener) {
        let dir = std::env::temp_dir().join(format!("spanlog-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("apm.socket");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        (path, listener)
    }

    #[cfg(unix)]
    #[test]
    fn a_slow_unix_agent_cannot_stall_a_request_past_its_deadline() {
        let (path, listener) = unix_agent("slow");
        std::thread::spawn(move || trickle(listener.accept().unwrap().0));
        gives_up_at_its_deadline(Transport::new(&Address::Unix(path.clone())));
        let _ = std::fs::remove_file(&path);
    }

    #[cfg(unix)]
    #[test]
    fn unix_sockets_keep_the_connection_too() {
        let (path, listener) = unix_agent("keep");
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut bodies = Vec::new();
            while let Some((_, body)) = request(&mut conn) {
                bodies.push(body);
                conn.write_all(OK).unwrap();
            }
            bodies
        });
        let mut transport = Transport::new(&Address::Unix(path.clone()));
        for body in [&b"\x90"[..], b"\x91\x90"] {
            assert_eq!(put(&mut transport, body), Ok((200, b"{}".to_vec())));
        }
        drop(transport);
        assert_eq!(
            server.join().unwrap(),
            [b"\x90".to_vec(), b"\x91\x90".to_vec()]
        );
        let _ = std::fs::remove_file(&path);
    }
}
