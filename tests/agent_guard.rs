//! The agent handle is a guard: a program whose `main` ends with the handle in scope
//! delivers every span, though Rust runs no code at exit. The test runs itself as that
//! program (a child process) against a fake agent that counts the traces it receives.

#[path = "common/fake_agent.rs"]
mod fake_agent;

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
    fake_agent::start(move |request| {
        let count = request.header("x-datadog-trace-count").unwrap_or("0");
        traces.fetch_add(count.parse().unwrap_or(0), Ordering::SeqCst);
    })
}
