//! The agent's answer to a request, read from its connection: the status, the body
//! (with a length, chunked, or up to the connection's end), and whether the connection
//! can carry the next request.

use std::io::ErrorKind;
use std::time::Instant;

/// The most of an answer's head read.
const HEAD_LIMIT: usize = 16 * 1024;
/// The most of an answer's body kept (the agent's answer is a small JSON object).
const BODY_LIMIT: usize = 64 * 1024;

/// Why a request failed, and whether it failed on a kept connection before anything
/// came back (then it is worth one more try on a new connection: the agent may have
/// closed the kept one in the meantime).
pub(crate) struct Failure {
    pub(crate) message: String,
    pub(crate) nothing_back: bool,
}

impl Failure {
    pub(crate) fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            nothing_back: false,
        }
    }
}

/// An error of a connection the other end closed.
pub(crate) fn broken(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::BrokenPipe
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::UnexpectedEof
    )
}

/// What the agent answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    /// The connection is left ready for another request.
    pub(crate) keep: bool,
}

/// Where an answer is read from: a connection whose reads give up at `deadline`.
pub(crate) trait Source {
    fn read_before(&mut self, buf: &mut [u8], deadline: Instant) -> std::io::Result<usize>;
}

/// Reads one answer from `source` into `buf` (cleared first), before `deadline`.
pub(crate) fn read<S: Source>(
    source: &mut S,
    buf: &mut Vec<u8>,
    deadline: Instant,
    name: &str,
) -> Result<Answer, Failure> {
    buf.clear();
    let mut reader = Reader {
        source,
        buf,
        scratch: [0; 4096],
        deadline,
        name,
    };
    let mut start = 0;
    loop {
        let end = reader.find(start, b"\r\n\r\n", HEAD_LIMIT)? + 4;
        let head = Head::parse(&reader.buf[start..end])
            .ok_or_else(|| Failure::new(format!("no HTTP answer from {name}")))?;
        // "100 Continue" and the like come before the answer.
        if (100..200).contains(&head.status) {
            start = end;
            continue;
        }
        let (body, complete) = match head {
            Head {
                status: 204 | 304, ..
            } => (Vec::new(), end),
            Head { chunked: true, .. } => reader.chunked(end)?,
            Head {
                length: Some(length),
                ..
            } => {
                let kept = length.min(BODY_LIMIT);
                reader.fill(end + kept)?;
                let body = reader.buf[end..end + kept].to_vec();
                // A longer body is not read: the connection is not reused.
                (
                    body,
                    if kept == length {
                        end + kept
                    } else {
                        usize::MAX
                    },
                )
            }
            // No length: the body runs to the connection's end.
            Head { .. } => (reader.rest(end)?, usize::MAX),
        };
        // Anything after the answer was not asked for: the connection is not reused.
        let keep = !head.close && complete == reader.buf.len();
        return Ok(Answer {
            status: head.status,
            body,
            keep,
        });
    }
}

/// The parts of an answer's head that say how to read it.
#[derive(Debug, PartialEq)]
struct Head {
    status: u16,
    length: Option<usize>,
    chunked: bool,
    /// The connection closes after this answer.
    close: bool,
}

impl Head {
    /// The head's lines, up to and including the empty one.
    fn parse(head: &[u8]) -> Option<Head> {
        let mut lines = head.split(|&b| b == b'\n').map(|line| line.trim_ascii());
        let first = lines.next()?;
        let mut words = first
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let version = words.next()?;
        let status = std::str::from_utf8(words.next()?).ok()?.parse().ok()?;
        let http11 = match version {
            b"HTTP/1.1" => true,
            b"HTTP/1.0" => false,
            _ => return None,
        };
        let mut parsed = Head {
            status,
            length: None,
            chunked: false,
            close: !http11,
        };
        for line in lines {
            let Some(colon) = line.iter().position(|&b| b == b':') else {
                continue;
            };
            let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
            let has = |token: &str| {
                value
                    .split(|&b| b == b',')
                    .any(|v| v.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
            };
            if name.eq_ignore_ascii_case(b"content-length") {
                parsed.length = Some(std::str::from_utf8(value).ok()?.parse().ok()?);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                parsed.chunked = has("chunked");
            } else if name.eq_ignore_ascii_case(b"connection") {
                if has("close") {
                    parsed.close = true;
                } else if has("keep-alive") {
                    parsed.close = false;
                }
            }
        }
        Some(parsed)
    }
}

/// Reads from the source into the buffer as the parsing needs.
struct Reader<'a, S> {
    source: &'a mut S,
    buf: &'a mut Vec<u8>,
    /// What one read fills, then appended to `buf`.
    scratch: [u8; 4096],
    deadline: Instant,
    name: &'a str,
}

impl<S: Source> Reader<'_, S> {
    /// Reads once more; `Ok(false)` at the connection's end.
    fn more(&mut self) -> Result<bool, Failure> {
        loop {
            match self.source.read_before(&mut self.scratch, self.deadline) {
                Ok(n) => {
                    self.buf
                        .extend_from_slice(&self.scratch[..n.min(self.scratch.len())]);
                    return Ok(n > 0);
                }
                Err(error) if error.kind() == ErrorKind::Interrupted => {}
                Err(error) => {
                    let message = match error.kind() {
                        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
                            format!("timed out talking to {}", self.name)
                        }
                        _ => format!("{}: {error}", self.name),
                    };
                    return Err(Failure {
                        message,
                        nothing_back: self.buf.is_empty() && broken(&error),
                    });
                }
            }
        }
    }

    /// Like [`more`](Self::more), but the connection's end is an error.
    fn more_or_fail(&mut self) -> Result<(), Failure> {
        if self.more()? {
            return Ok(());
        }
        Err(Failure {
            message: format!("{} closed the connection before answering", self.name),
            nothing_back: self.buf.is_empty(),
        })
    }

    /// Where `needle` first appears at or after `from`, reading until it does (at most
    /// `limit` bytes in all).
    fn find(&mut self, from: usize, needle: &[u8], limit: usize) -> Result<usize, Failure> {
        // Where a match could still start: what was searched is not searched again.
        let mut start = from;
        loop {
            if let Some(at) = self.buf.get(start..).and_then(|rest| {
                rest.windows(needle.len())
                    .position(|window| window == needle)
            }) {
                return Ok(start + at);
            }
            start = start.max((self.buf.len() + 1).saturating_sub(needle.len()));
            if self.buf.len() >= limit {
                return Err(Failure::new(format!(
                    "{} answered with more than {limit} bytes of headers",
                    self.name
                )));
            }
            self.more_or_fail()?;
        }
    }

    /// Reads until the buffer holds `len` bytes.
    fn fill(&mut self, len: usize) -> Result<(), Failure> {
        while self.buf.len() < len {
            self.more_or_fail()?;
        }
        Ok(())
    }

    /// The body from `start` to the connection's end (at most [`BODY_LIMIT`]).
    fn rest(&mut self, start: usize) -> Result<Vec<u8>, Failure> {
        while self.buf.len() - start < BODY_LIMIT && self.more()? {}
        let end = self.buf.len().min(start + BODY_LIMIT);
        Ok(self.buf[start..end].to_vec())
    }

    /// A chunked body from `start`: the body, and where the answer ends (`usize::MAX`
    /// when the body was longer than kept and the rest was not read).
    fn chunked(&mut self, mut at: usize) -> Result<(Vec<u8>, usize), Failure> {
        let name = self.name;
        let bad = || Failure::new(format!("{name} sent a malformed chunked body"));
        let mut body = Vec::new();
        loop {
            let line = self.find(at, b"\r\n", at + 1024)?;
            let size = self.buf[at..line]
                .split(|&b| b == b';')
                .next()
                .and_then(|size| std::str::from_utf8(size.trim_ascii()).ok())
                .and_then(|size| usize::from_str_radix(size, 16).ok())
                .ok_or_else(bad)?;
            at = line + 2;
            if size == 0 {
                // Trailer lines, up to an empty one.
                loop {
                    let line = self.find(at, b"\r\n", at + HEAD_LIMIT)?;
                    let empty = line == at;
                    at = line + 2;
                    if empty {
                        return Ok((body, at));
                    }
                }
            }
            if size > BODY_LIMIT - body.len() {
                return Ok((body, usize::MAX));
            }
            self.fill(at + size + 2)?;
            if &self.buf[at + size..at + size + 2] != b"\r\n" {
                return Err(bad());
            }
            body.extend_from_slice(&self.buf[at..at + size]);
            at += size + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer handed over a few bytes at a time, then the connection's end.
    struct Pieces<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Source for Pieces<'_> {
        fn read_before(&mut self, buf: &mut [u8], _: Instant) -> std::io::Result<usize> {
            let n = self.step.min(self.data.len()).min(buf.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn answer(data: &[u8]) -> Result<Answer, Failure> {
        let mut first: Option<Result<Answer, Failure>> = None;
        // Read whole, and one byte at a time: the same answer.
        for step in [usize::MAX, 1, 7] {
            let mut source = Pieces { data, step };
            let got = read(&mut source, &mut Vec::new(), Instant::now(), "agent");
            match (&first, &got) {
                (None, _) => {}
                (Some(Ok(a)), Ok(b)) => {
                    assert_eq!((a.status, &a.body, a.keep), (b.status, &b.body, b.keep))
                }
                (Some(Err(a)), Err(b)) => assert_eq!(a.message, b.message),
                _ => panic!("step {step} read {data:?} differently"),
            }
            first.get_or_insert(got);
        }
        first.unwrap()
    }

    fn ok(data: &str) -> (u16, String, bool) {
        let answer = answer(data.as_bytes()).unwrap_or_else(|f| panic!("{}", f.message));
        (
            answer.status,
            String::from_utf8(answer.body).unwrap(),
            answer.keep,
        )
    }

    #[test]
    fn a_length_delimited_answer_keeps_the_connection() {
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}"),
            (200, "{}".into(), true)
        );
        assert_eq!(
            ok("HTTP/1.1 200 OK\r\ncontent-length:0\r\n\r\n"),
            (200, "".into(), true)
        );
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_connection() {
        let closing = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(ok(closing), (200, "{}".into(), false));
        assert_eq!(
            ok("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\n{}"),
            (200, "{}".into(), false)
        );
        assert_eq!(
            ok("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\n{}"),
            (200, "{}".into(), true)
        );
    }

    #[test]
    fn a_body_without_length_runs_to_the_end() {
        assert_eq!(
            ok("HTTP/1.1 503 Unavailable\r\n\r\nbusy, try later"),
            (503, "busy, try later".into(), false)
        );
    }

    #[test]
    fn chunked_bodies_are_joined() {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                       4\r\n{\"ra\r\n7;ext=1\r\nte\": 1}\r\n0\r\nTrailer: x\r\n\r\n";
        assert_eq!(ok(chunked), (200, "{\"rate\": 1}".into(), true));
        let bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
        assert!(answer(bad.as_bytes()).is_err());
        // A chunk too large to keep (its size near the largest number) is not read.
        let huge = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                    1\r\nx\r\nffffffffffffffff\r\n";
        assert_eq!(ok(huge), (200, "x".into(), false));
    }

    #[test]
    fn informational_answers_are_skipped() {
        assert_eq!(
            ok("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
            (200, "x".into(), true)
        );
    }

    #[test]
    fn bytes_read_after_the_answer_end_the_connection() {
        // (Bytes not read yet are found by the check before the connection is reused.)
        let data = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1";
        let mut source = Pieces {
            data,
            step: usize::MAX,
        };
        let answer = read(&mut source, &mut Vec::new(), Instant::now(), "agent")
            .unwrap_or_else(|f| panic!("{}", f.message));
        assert_eq!(
            (answer.status, &answer.body[..], answer.keep),
            (200, &b"x"[..], false)
        );
    }

    #[test]
    fn no_answer_and_cut_answers_are_errors() {
        let nothing = answer(b"").err().unwrap();
        assert!(nothing.nothing_back, "{}", nothing.message);
        for cut in [
            &b"HTTP/1.1 200 OK\r\nContent-Le"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab",
            b"SSH-2.0-OpenSSH\r\n\r\n",
            b"HTTP/1.1 2xx OK\r\n\r\n",
        ] {
            let failure = answer(cut).err().unwrap();
            assert!(!failure.nothing_back, "{cut:?}: {}", failure.message);
        }
    }

    #[test]
    fn long_bodies_are_cut_and_end_the_connection() {
        let body = "x".repeat(BODY_LIMIT + 10);
        let long = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (status, kept, keep) = ok(&long);
        assert_eq!((status, kept.len(), keep), (200, BODY_LIMIT, false));
        let headers = format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", body);
        assert!(answer(headers.as_bytes()).is_err());
    }
}
