//! The axum_server example (built with `--features agent`) against the Datadog test
//! agent (`SPANLOG_TEST_AGENT_URL`; `.ci/run` starts one): the spans arrive with the
//! HTTP tags, continued from the caller's headers, and `/fail` as an error. Without an
//! agent it is skipped, except under `CI=true`, where that is a failure.

#[path = "../../tests/common/test_agent.rs"]
mod test_agent;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use test_agent::{agent_url, example_path, session, spans};

fn main() {
    let Some(agent) = agent_url() else { return };
    let token = session(&agent, "web");
    let path = example_path("axum_server");
    let port = free_port();
    let mut server = Command::new(&path)
        .env("PORT", port.to_string())
        .env("DD_TRACE_AGENT_URL", &agent)
        .env("DD_SERVICE", "spanlog-web-e2e")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut stderr = BufReader::new(server.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(first.contains("listening on"), "{first}");

    let w3c = get(
        port,
        "/posts/42?page=2",
        "traceparent: 00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01\r\n",
    );
    assert!(w3c.starts_with("HTTP/1.1 200"), "{w3c}");
    let dd = get(
        port,
        "/posts/7",
        "x-datadog-trace-id: 4242\r\nx-datadog-parent-id: 2121\r\n",
    );
    assert!(dd.starts_with("HTTP/1.1 200"), "{dd}");
    let fail = get(
        port,
        "/fail",
        "x-datadog-trace-id: 5050\r\nx-datadog-parent-id: 1\r\n",
    );
    assert!(fail.starts_with("HTTP/1.1 500"), "{fail}");

    // SIGTERM: the example shuts down gracefully and flushes its spans.
    let status = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(server.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("sent=5 dropped=0 failed=0"), "{rest}");

    let spans = spans(&agent, &token, 5);
    let request = |trace_low: u64| {
        spans
            .values()
            .find(|s| s["trace_id"].as_u64() == Some(trace_low) && s["name"] == "http.request")
            .unwrap_or_else(|| panic!("no http.request span of trace {trace_low}: {spans:?}"))
    };
    let w3c = request(0xe6a5cefc6c3cef4e);
    assert_eq!(w3c["parent_id"].as_u64(), Some(0x92de221fbdd042ee));
    assert_eq!(w3c["resource"], "GET /posts/{id}");
    assert_eq!(w3c["type"], "web");
    assert_eq!(w3c["service"], "spanlog-web-e2e");
    assert_eq!(w3c["error"].as_i64(), Some(0));
    let meta = &w3c["meta"];
    assert_eq!(meta["http.method"], "GET");
    assert_eq!(meta["http.route"], "/posts/{id}");
    assert_eq!(meta["http.status_code"], "200");
    assert_eq!(meta["span.kind"], "server");
    assert_eq!(meta["component"], "tower");
    assert_eq!(
        meta["http.url"],
        format!("http://127.0.0.1:{port}/posts/42")
    );
    assert_eq!(meta["_dd.p.tid"], "6b04d2e800000000");
    let dd = request(4242);
    assert_eq!(dd["parent_id"].as_u64(), Some(2121));
    let query = spans
        .values()
        .find(|s| s["trace_id"].as_u64() == Some(4242) && s["name"] == "db.query")
        .expect("the db.query child");
    assert_eq!(query["parent_id"], dd["span_id"]);
    let fail = request(5050);
    assert_eq!(fail["error"].as_i64(), Some(1));
    assert_eq!(fail["resource"], "GET /fail");
    assert_eq!(fail["meta"]["http.status_code"], "500");
    println!("axum_server_spans_reach_the_agent ... ok\n1 passed, 0 failed");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A plain HTTP/1.1 GET with extra header lines; the whole response as text.
fn get(port: u16, path: &str, headers: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}
