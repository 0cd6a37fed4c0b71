//! The Datadog test agent, as the workspace members' end-to-end tests use it: a
//! session, the spans it received, and fields of log lines. Included with `#[path]`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The agent's URL from `SPANLOG_TEST_AGENT_URL`; `None` (skip) when unset, which is a
/// failure under `CI=true`.
pub(crate) fn agent_url() -> Option<String> {
    match std::env::var("SPANLOG_TEST_AGENT_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SPANLOG_TEST_AGENT_URL is not set under CI: .ci/run must start the test agent"
            );
            println!("skipped: SPANLOG_TEST_AGENT_URL is not set (no test agent)");
            None
        }
    }
}

/// Starts a session named after `name` and the process; returns its token, unique to
/// each call.
pub(crate) fn session(agent: &str, name: &str) -> String {
    static SEQUENCE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token = format!("spanlog-{name}-{}-{n}", std::process::id());
    let (status, body) = request(
        "GET",
        &format!("{agent}/test/session/start?test_session_token={token}"),
        &[],
        b"",
    );
    assert_eq!(status, 200, "starting a session: {body}");
    token
}

/// `GET url`, its answer (HTTP 200) read as JSON.
pub(crate) fn get_json(url: &str) -> Value {
    let (status, body) = request("GET", url, &[], b"");
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{url}: {e}: {body}"))
}

/// Every span the agent received in the session, by (low 64 bits of the trace id, span
/// id), once at least `expected` arrived (or after 10 s).
pub(crate) fn spans(agent: &str, token: &str, expected: usize) -> HashMap<(u64, u64), Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = request(
            "GET",
            &format!("{agent}/test/session/traces?test_session_token={token}"),
            &[],
            b"",
        );
        let traces: Value = serde_json::from_str(&body).unwrap();
        let mut spans = HashMap::new();
        for trace in traces.as_array().unwrap() {
            for span in trace.as_array().unwrap() {
                let id = |k: &str| span[k].as_u64().unwrap();
                spans.insert((id("trace_id"), id("span_id")), span.clone());
            }
        }
        if spans.len() >= expected || Instant::now() > deadline {
            return spans;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The quoted value of `key` in a log line (`key="value"`).
pub(crate) fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!("{key}=\""))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + key.len()
        + 2;
    let len = line[start..].find('"').unwrap();
    &line[start..start + len]
}

/// The path of example `name` beside this test binary:
/// target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>.
pub(crate) fn example_path(name: &str) -> std::path::PathBuf {
    let mut path = std::env::current_exe().unwrap();
    path.pop();
    path.pop();
    path.push("examples");
    path.push(name);
    path
}

/// Runs `command` (this test binary in a child process, say), asserts it succeeded, and
/// returns what it printed on standard output.
pub(crate) fn child_stdout(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// One HTTP/1.1 request to the test agent (`http://host:port/path`), on a connection of
/// its own: the status and the body as text. Panics on anything unexpected.
pub(crate) fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let rest = url.strip_prefix("http://").expect("an http:// URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut conn =
        std::net::TcpStream::connect(authority).unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut answer = Vec::new();
    conn.read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {url}: no HTTP answer: {answer}"));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {url}: {head}"));
    let chunked = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
    (
        status,
        if chunked {
            unchunk(body)
        } else {
            body.to_owned()
        },
    )
}

/// A chunked body's content.
fn unchunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            break;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    out
}
