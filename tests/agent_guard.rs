//! The agent handle is a guard: a program whose `main` ends with the handle in scope
//! delivers every span, though Rust runs no code at exit. The test runs itself as that
//! program (a child process) against a fake agent that counts the traces it receives.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

const SPANS: u64 = 100;

fn main() {
    if let Ok(address) = std::env::var("SPANLOG_GUARD_AGENT") {
        return child(&address);
    }
    let traces = Arc::new(AtomicU64::new(0));
    let address = fake_agent(Arc::clone(&traces));
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .env("SPANLOG_GUARD_AGENT", &address)
        .status()
        .expect("the child runs");
    assert!(status.success(), "{status}");
    // The child has exited: whatever reached the agent is counted.
    assert_eq!(traces.load(Ordering::SeqCst), SPANS, "every span delivered");
    println!("agent_guard: ok");
}

/// The program under test: spans made just before `main` returns, the handle in scope.
fn child(address: &str) {
    let config = spanlog::agent::AgentConfig::new()
        .with_address(address)
        .unwrap()
        // Long enough that only the guard can send them in time.
        .with_flush_interval(std::time::Duration::from_secs(3600));
    let _agent = spanlog::agent::try_init(config).expect("the first exporter");
    for _ in 0..SPANS {
        drop(spanlog::start_span("work").root().start());
    }
}

/// Answers every request with `200 {}`, adding up the `X-Datadog-Trace-Count` headers.
fn fake_agent(traces: Arc<AtomicU64>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let traces = Arc::clone(&traces);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let (mut length, mut count) = (0usize, 0u64);
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
                        if let Some(value) = lower.strip_prefix("x-datadog-trace-count:") {
                            count = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    traces.fetch_add(count, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
                    if reader.get_mut().write_all(answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}
