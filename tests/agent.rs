//! The agent exporter against the real Datadog test agent (`ddapm-test-agent`), which
//! `.ci/run` starts: `SPANLOG_TEST_AGENT_URL` (checks enabled), `SPANLOG_TEST_AGENT_UDS`
//! (the same agent on a unix socket) and `SPANLOG_SLOW_AGENT_URL` (one that answers
//! after a delay). Without them the scenarios that need an agent are skipped, except
//! under `CI=true`, where a missing agent fails the run.
//!
//! Its own binary without the harness: it installs the global exporter, and runs itself
//! again for the scenario that needs a fresh process.

mod common;
#[path = "common/test_agent.rs"]
mod test_agent;

use std::collections::HashMap;
use std::process::Command;

use common::{example, field};
use std::time::{Duration, Instant};

use serde_json::Value;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--stall") => return stalled_agent_child(),
        Some("--large") => return large_traces_child(),
        Some("--sampling") => return sampling_child(),
        Some("--stats") => return stats_child(),
        _ => {}
    }
    let mut passed = 0;
    let mut skipped = Vec::new();
    unreachable_agent_fails_fast_and_counts();
    passed += 1;
    match agent_url("SPANLOG_TEST_AGENT_URL") {
        Some(url) => {
            checks_are_enforced(&url);
            logs_and_traces_are_connected(&url, &format!("DD_TRACE_AGENT_URL={url}"));
            large_traces_are_accepted(&url, "v0.4");
            sampled_and_unsampled_traces_arrive(&url);
            v05_payloads_are_accepted(&url);
            client_stats_count_every_span(&url);
            passed += 6;
            #[cfg(feature = "tracing")]
            {
                tracing_spans_reach_the_agent(&url);
                passed += 1;
            }
            #[cfg(feature = "json")]
            {
                error_tracking_line_and_span_agree(&url);
                passed += 1;
            }
        }
        None => skipped.push("SPANLOG_TEST_AGENT_URL"),
    }
    match agent_url("SPANLOG_TEST_AGENT_UDS") {
        Some(socket) => {
            let http = agent_url("SPANLOG_TEST_AGENT_URL").expect("the same agent over HTTP");
            logs_and_traces_are_connected(&http, &format!("DD_TRACE_AGENT_URL=unix://{socket}"));
            passed += 1;
        }
        None => skipped.push("SPANLOG_TEST_AGENT_UDS"),
    }
    match agent_url("SPANLOG_SLOW_AGENT_URL") {
        Some(url) => {
            let status = Command::new(std::env::current_exe().unwrap())
                .arg("--stall")
                .env("SPANLOG_SLOW_AGENT_URL", url)
                .status()
                .unwrap();
            assert!(status.success(), "the stalled-agent scenario failed");
            passed += 1;
        }
        None => skipped.push("SPANLOG_SLOW_AGENT_URL"),
    }
    for var in &skipped {
        println!("skipped the scenarios that need {var} (no test agent)");
    }
    println!("{passed} passed, 0 failed");
}

fn agent_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{var} is not set under CI: .ci/run must start the test agent"
            );
            None
        }
    }
}

/// Every `dd.trace_id` printed in the example's log lines is a trace the agent received,
/// with the same span ids, parents, names, resources, service, env and version.
fn logs_and_traces_are_connected(agent: &str, address: &str) {
    connected(agent, address, "web_request");
}

/// The same for the `tracing` example: spans mirrored from `tracing` reach the agent
/// with the ids its lines show.
#[cfg(feature = "tracing")]
fn tracing_spans_reach_the_agent(agent: &str) {
    connected(agent, &format!("DD_TRACE_AGENT_URL={agent}"), "tracing_app");
}

/// The example and the large traces again with `DD_TRACE_API_VERSION=v0.5`: the same
/// checks pass, and every request went to the v0.5 endpoint.
fn v05_payloads_are_accepted(agent: &str) {
    let token = connected_with(
        agent,
        &format!("DD_TRACE_AGENT_URL={agent}"),
        "web_request",
        "v0.5",
    );
    assert_v05_only(agent, &token);
    let token = large_traces_are_accepted(agent, "v0.5");
    assert_v05_only(agent, &token);
}

/// Every trace request of the session went to `/v0.5/traces`, and there was one.
fn assert_v05_only(agent: &str, token: &str) {
    let requests = test_agent::get_json(&format!(
        "{agent}/test/session/requests?test_session_token={token}"
    ));
    let urls: Vec<&str> = requests
        .as_array()
        .expect("an array of requests")
        .iter()
        .filter_map(|r| r["url"].as_str())
        .filter(|url| url.contains("/traces"))
        .collect();
    assert!(!urls.is_empty(), "{requests}");
    assert!(
        urls.iter().all(|url| url.ends_with("/v0.5/traces")),
        "{urls:?}"
    );
}

/// The Error Tracking example against the agent: its one JSON line names the span the
/// agent received, which carries the error's details (`error=1`, `error.message`,
/// `error.type`, `error.stack`) and, on the first span of its chunk, the git metadata,
/// the repository's credentials left out.
#[cfg(feature = "json")]
fn error_tracking_line_and_span_agree(agent: &str) {
    let token = test_agent::session(agent, "error-tracking");
    let out = example("error_tracking")
        .env("DD_TRACE_AGENT_URL", agent)
        .env(
            "DD_GIT_COMMIT_SHA",
            "0123456789abcdef0123456789abcdef01234567",
        )
        .env(
            "DD_GIT_REPOSITORY_URL",
            "https://user:secret@example.com/org/repo",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line: Value = serde_json::from_str(stdout.lines().next().expect("one line")).unwrap();
    let trace_hex = line["dd.trace_id"].as_str().unwrap();
    let low = u64::from_str_radix(&trace_hex[16..], 16).unwrap();
    let span_id: u64 = line["dd.span_id"].as_str().unwrap().parse().unwrap();
    let spans = test_agent::spans(agent, &token, 1);
    let span = spans
        .get(&(low, span_id))
        .unwrap_or_else(|| panic!("no span for {line}: {spans:?}"));
    assert_eq!(span["name"], "web.request", "{span}");
    assert_eq!(span["error"].as_u64(), Some(1), "{span}");
    let meta = &span["meta"];
    assert_eq!(meta["error.message"], "could not load posts", "{span}");
    assert_eq!(meta["error.type"], line["error.kind"], "{span}");
    assert_eq!(meta["error.stack"], line["error.stack"], "{span}");
    assert_eq!(
        meta["_dd.git.commit.sha"], "0123456789abcdef0123456789abcdef01234567",
        "{span}"
    );
    assert_eq!(
        meta["_dd.git.repository_url"],
        "https://example.com/org/repo"
    );
    println!("error tracking: the line and the span agree");
}

fn connected(agent: &str, address: &str, name: &str) {
    connected_with(agent, address, name, "v0.4");
}

/// Runs example `name` sending to `address` with `DD_TRACE_API_VERSION=api_version`,
/// checks what the agent received against its log lines; the test session's token.
fn connected_with(agent: &str, address: &str, name: &str, api_version: &str) -> String {
    let token = test_agent::session(agent, &format!("{name}-{api_version}"));
    let (var, value) = address.split_once('=').unwrap();
    let out = example(name)
        .env(var, value)
        .env("DD_TRACE_API_VERSION", api_version)
        .env("DD_SERVICE", "spanlog-e2e")
        .env("DD_ENV", "ci")
        .env("DD_VERSION", "0.1.0")
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("spanlog agent: sent=6 dropped=0 failed=0"),
        "{address}: {stderr}"
    );
    // env_logger writes to standard error, tracing's fmt to standard output.
    let stdout = String::from_utf8(out.stdout).unwrap();
    let logs = if name == "tracing_app" {
        &stdout
    } else {
        &stderr
    };

    let traces = test_agent::get_json(&format!(
        "{agent}/test/session/traces?test_session_token={token}"
    ));
    let mut spans: HashMap<(u64, u64), &Value> = HashMap::new();
    for trace in traces.as_array().expect("an array of traces") {
        for span in trace.as_array().expect("an array of spans") {
            let id = |k: &str| span[k].as_u64().unwrap_or_else(|| panic!("{k} in {span}"));
            spans.insert((id("trace_id"), id("span_id")), span);
        }
    }
    let lines: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains(" dd.trace_id="))
        .collect();
    assert_eq!(lines.len(), 6, "{logs}");
    for line in lines {
        let trace_hex = field(line, "dd.trace_id");
        let low = u64::from_str_radix(&trace_hex[16..], 16).unwrap();
        let span_id: u64 = field(line, "dd.span_id").parse().unwrap();
        let parent_id: u64 = field(line, "dd.parent_id").parse().unwrap();
        let span = spans.get(&(low, span_id)).unwrap_or_else(|| {
            panic!("{address}: the agent has no span {span_id} of trace {trace_hex}: {traces}")
        });
        let (name, resource) = if line.contains("my log message") {
            ("web.request", "/posts")
        } else {
            ("db.query", "SELECT * FROM posts")
        };
        assert_eq!(span["parent_id"].as_u64(), Some(parent_id), "{span}");
        assert_eq!(span["name"], name, "{span}");
        assert_eq!(span["resource"], resource, "{span}");
        assert_eq!(span["service"], "spanlog-e2e", "{span}");
        assert_eq!(span["meta"]["env"], "ci", "{span}");
        assert_eq!(span["meta"]["version"], "0.1.0", "{span}");
        assert_eq!(span["error"].as_i64(), Some(0));
        assert!(span["duration"].as_i64().unwrap() > 0, "{span}");
        if parent_id == 0 {
            // The chunk's root carries the trace's upper 64 bits.
            assert_eq!(span["meta"]["_dd.p.tid"], &trace_hex[..16], "{span}");
            assert_eq!(
                span["metrics"]["_sampling_priority_v1"].as_f64(),
                Some(1.0),
                "{span}"
            );
        }
    }
    println!("{name}: logs and traces are connected through {address} ({api_version})");
    token
}

/// One trace of 10,000 spans and three small ones, all in one batch: encoded, accepted
/// by the agent with its checks on, every span there, each chunk led by its root.
fn large_traces_are_accepted(agent: &str, api_version: &str) -> String {
    let token = test_agent::session(agent, &format!("large-{api_version}"));
    let status = Command::new(std::env::current_exe().unwrap())
        .arg("--large")
        .env("SPANLOG_TEST_AGENT_URL", agent)
        .env("DD_TRACE_API_VERSION", api_version)
        .status()
        .unwrap();
    assert!(status.success(), "the large-traces child failed");
    let traces = test_agent::get_json(&format!(
        "{agent}/test/session/traces?test_session_token={token}"
    ));
    let traces = traces.as_array().expect("an array of traces");
    let (linked, traces): (Vec<&Value>, Vec<&Value>) = traces
        .iter()
        .partition(|t| t[0]["name"] == "linked.request");
    let [linked] = linked[..] else {
        panic!("one linked trace: {linked:?}")
    };
    links_and_events_arrive(&linked[0], api_version);
    let mut sizes: Vec<usize> = traces.iter().map(|t| t.as_array().unwrap().len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [2, 2, 2, 10_000], "spans per trace");
    for trace in traces {
        let spans = trace.as_array().unwrap();
        let ids: std::collections::HashSet<u64> = spans
            .iter()
            .map(|s| s["span_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids.len(), spans.len(), "no span twice");
        let roots: Vec<&Value> = spans
            .iter()
            .filter(|s| !ids.contains(&s["parent_id"].as_u64().unwrap()))
            .collect();
        assert_eq!(roots.len(), 1, "one root per trace");
        assert_eq!(roots[0]["parent_id"].as_u64(), Some(0));
        assert_eq!(
            roots[0]["metrics"]["_sampling_priority_v1"].as_f64(),
            Some(1.0)
        );
        assert_eq!(roots[0]["metrics"]["_dd.top_level"].as_f64(), Some(1.0));
        assert!(
            roots[0]["meta"]["_dd.p.tid"]
                .as_str()
                .is_some_and(|t| t.len() == 16)
        );
        for span in spans.iter().filter(|s| s["parent_id"].as_u64() != Some(0)) {
            assert!(
                span["meta"].get("_dd.p.tid").is_none(),
                "only the root: {span}"
            );
        }
    }
    println!("a 10,000-span trace and three small ones are accepted in one batch ({api_version})");
    token
}

/// A span's links and events as the agent read them: v0.4's `span_links` field, or
/// v0.5's `_dd.span_links` meta (read as Datadog's system-tests read it); events in the
/// `events` meta.
fn links_and_events_arrive(span: &Value, api_version: &str) {
    let links: Vec<Value> = match span.get("span_links").filter(|l| !l.is_null()) {
        Some(links) => links.as_array().expect("an array").clone(),
        None => {
            assert_eq!(api_version, "v0.5", "v0.4 has a field for them: {span}");
            let json = span["meta"]["_dd.span_links"]
                .as_str()
                .expect("_dd.span_links");
            let links: Vec<Value> = serde_json::from_str(json).unwrap();
            links
                .into_iter()
                .map(|l| {
                    let trace = l["trace_id"].as_str().unwrap();
                    serde_json::json!({
                        "trace_id": u64::from_str_radix(&trace[16..], 16).unwrap(),
                        "trace_id_high": u64::from_str_radix(&trace[..16], 16).unwrap(),
                        "span_id": u64::from_str_radix(l["span_id"].as_str().unwrap(), 16).unwrap(),
                        "attributes": l["attributes"],
                        "tracestate": l["tracestate"],
                        "flags": l["flags"].as_u64().unwrap() | 1 << 31,
                    })
                })
                .collect()
        }
    };
    assert_eq!(
        links,
        [serde_json::json!({
            "trace_id": 0x1234567890123456u64,
            "trace_id_high": 0x1234567890123456u64,
            "span_id": 0x1234567890123456u64,
            "attributes": {"reason": "terminated_context", "context_headers": "tracecontext"},
            "tracestate": "dd=s:1,foo=1",
            "flags": 1u64 | 1 << 31,
        })],
        "{api_version}: {span}"
    );
    let events: Value =
        serde_json::from_str(span["meta"]["events"].as_str().expect("events")).unwrap();
    assert_eq!(
        events,
        serde_json::json!([{"name": "retry", "time_unix_nano": 1_764_000_000_000_000_000u64, "attributes": {"attempt": "2"}}])
    );
    println!("links and events reach the agent ({api_version})");
}

fn large_traces_child() {
    let url = std::env::var("SPANLOG_TEST_AGENT_URL").unwrap();
    let agent = spanlog::agent::try_init(
        spanlog::agent::AgentConfig::new()
            .with_address(&url)
            .unwrap()
            .with_batch_size(50_000)
            .with_queue_capacity(50_000)
            .with_flush_interval(Duration::from_secs(60))
            .with_api_version(
                std::env::var("DD_TRACE_API_VERSION")
                    .unwrap()
                    .parse()
                    .unwrap(),
            ),
    )
    .unwrap();
    {
        let _root = spanlog::start_span("big.request").entered();
        // Chains 101 deep, 99 of them: 9,999 spans under one root. Half the chains
        // finish innermost first, half outermost first (children after their parents).
        for n in 0..99 {
            let mut chain: Vec<_> = (0..101)
                .map(|_| spanlog::start_span("big.step").entered())
                .collect();
            if n % 2 == 0 {
                while chain.pop().is_some() {}
            }
        }
    }
    for _ in 0..3 {
        let _root = spanlog::start_span("small.request").entered();
        let _child = spanlog::start_span("small.step").entered();
    }
    let link = spanlog::SpanLink::new(
        spanlog::TraceId::from_u128(0x1234567890123456_1234567890123456),
        spanlog::SpanId::from_u64(0x1234567890123456),
    )
    .attribute("reason", "terminated_context")
    .attribute("context_headers", "tracecontext")
    .tracestate("dd=s:1,foo=1")
    .flags(1);
    let mut linked = spanlog::start_span("linked.request")
        .root()
        .link(link)
        .start();
    linked.add_event(
        spanlog::SpanEvent::new("retry", 1_764_000_000_000_000_000).attribute("attempt", "2"),
    );
    drop(linked);
    assert!(agent.flush(Duration::from_secs(30)), "flushed");
    let stats = agent.stats();
    assert_eq!(stats.sent, 10_000 + 6 + 1, "{stats}");
}

/// The test agent answers 400 to a payload that breaks its checks; ours pass (above).
fn checks_are_enforced(agent: &str) {
    let empty_payload = [0x90u8]; // an empty msgpack array
    let (status, _) = test_agent::request(
        "PUT",
        &format!("{agent}/v0.4/traces"),
        &[("Content-Type", "application/msgpack")],
        &empty_payload,
    );
    assert_eq!(status, 400, "the agent runs with its checks enabled");
    println!("the test agent enforces its checks");
}

/// A closed loopback port: the example still finishes, the counters say the spans were
/// not recorded, one warning names the address, and nothing panics.
fn unreachable_agent_fails_fast_and_counts() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let out = example("web_request")
        .env("DD_TRACE_AGENT_URL", format!("http://127.0.0.1:{port}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let stats = stderr
        .lines()
        .find(|l| l.starts_with("spanlog agent: "))
        .expect("counters");
    let count = |key: &str| -> u64 {
        stats
            .split(' ')
            .find_map(|w| w.strip_prefix(&format!("{key}=")))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(count("sent"), 0, "{stats}");
    assert_eq!(count("failed") + count("dropped"), 6, "{stats}");
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("could not reach the Datadog Agent"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {stderr}");
    assert!(warnings[0].contains(&format!("127.0.0.1:{port}")));
    println!("unreachable agent: {stats}");
}

/// Resident memory in bytes (Linux).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A million spans while the agent stalls every request: the producing thread never
/// waits on it (spans beyond the queue are dropped and counted), and memory stays
/// bounded by the queue.
fn stalled_agent_child() {
    let url = std::env::var("SPANLOG_SLOW_AGENT_URL").unwrap();
    let agent = spanlog::agent::try_init(
        spanlog::agent::AgentConfig::new()
            .with_address(&url)
            .unwrap()
            .with_queue_capacity(10_000)
            .with_batch_size(1_000)
            .with_flush_interval(Duration::from_millis(50))
            .with_request_timeout(Duration::from_secs(10))
            .with_max_retries(0),
    )
    .unwrap();
    const SPANS: u64 = 1_000_000;
    // Warm up: the first spans grow the queue's and the allocator's working set.
    for _ in 0..20_000 {
        drop(spanlog::start_span("warm").start());
    }
    let before = rss();
    let started = Instant::now();
    for i in 0..SPANS {
        let mut span = spanlog::start_span("work").resource("/stall").start();
        span.set_metric("i", i as f64);
    }
    let elapsed = started.elapsed();
    let after = rss();
    let stats = agent.stats();
    println!(
        "stalled agent: {SPANS} spans produced in {elapsed:?}; rss {} -> {} MiB; {stats}",
        before >> 20,
        after >> 20
    );
    assert!(
        stats.dropped > SPANS / 2,
        "the queue was full most of the time: {stats}"
    );
    assert!(
        after.saturating_sub(before) < 64 << 20,
        "memory grew by {} MiB",
        after.saturating_sub(before) >> 20
    );
    // Queued spans are bounded: whatever was not dropped or sent is at most the queue,
    // the batch being sent (which may pass its size by one thread's hand-off, 64
    // spans), and this thread's own buffer (under 64).
    let accounted = stats.sent + stats.failed + stats.dropped;
    assert!(
        accounted + 10_000 + 1_000 + 64 + 64 >= SPANS + 20_000,
        "{stats}"
    );
    // Shutdown is bounded by its timeout even though the agent is stalled.
    agent.shutdown(Duration::from_millis(200));
}

/// Traces decided by `DD_TRACE_SAMPLE_RATE=0.5`, one rejected by hand and one whose
/// ERROR line marked its span: all reach the agent, with their priorities, decision
/// makers and rates. Runs in a child process (global exporter and sampler).
fn sampled_and_unsampled_traces_arrive(agent: &str) {
    let token = test_agent::session(agent, "sampling");
    let stdout = test_agent::child_stdout(
        Command::new(std::env::current_exe().unwrap())
            .arg("--sampling")
            .env("SPANLOG_TEST_AGENT_URL", agent)
            .env("DD_TRACE_SAMPLE_RATE", "0.5")
            .env_remove("DD_TRACE_RATE_LIMIT")
            .env_remove("DD_TRACE_SAMPLING_RULES")
            .env("DD_GIT_COMMIT_SHA", "0123456789abcdef")
            .env(
                "DD_GIT_REPOSITORY_URL",
                "https://user:secret@example.com/org/repo",
            ),
    );
    let mut lines = stdout.lines();
    let mut ids = |label: &str| -> Vec<u64> {
        let line = lines.next().unwrap();
        let rest = line
            .strip_prefix(label)
            .unwrap_or_else(|| panic!("{label}: {line}"));
        rest.split_whitespace()
            .map(|s| s.parse().unwrap())
            .collect()
    };
    let (rated, rejected, failed) = (ids("rated:"), ids("rejected:"), ids("failed:"));

    let traces = test_agent::get_json(&format!(
        "{agent}/test/session/traces?test_session_token={token}"
    ));
    let roots: HashMap<u64, &Value> = traces
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|t| t.as_array().unwrap())
        .filter(|s| s["parent_id"].as_u64().unwrap_or(0) == 0)
        .map(|s| (s["trace_id"].as_u64().unwrap(), s))
        .collect();
    let root = |id: u64| {
        *roots
            .get(&id)
            .unwrap_or_else(|| panic!("trace {id} did not reach the agent: {traces}"))
    };
    let (mut kept, mut dropped) = (0, 0);
    for &id in &rated {
        let span = root(id);
        // Source code integration, credentials left out, on each chunk's first span.
        assert_eq!(
            span["meta"]["_dd.git.commit.sha"], "0123456789abcdef",
            "{span}"
        );
        assert_eq!(
            span["meta"]["_dd.git.repository_url"], "https://example.com/org/repo",
            "{span}"
        );
        let expected = if spanlog::sampling::sampled(spanlog::TraceId::from_parts(0, id), 0.5) {
            kept += 1;
            2.0
        } else {
            dropped += 1;
            -1.0
        };
        assert_eq!(
            span["metrics"]["_sampling_priority_v1"].as_f64(),
            Some(expected),
            "{span}"
        );
        assert_eq!(span["meta"]["_dd.p.dm"], "-3", "{span}");
        assert_eq!(span["meta"]["_dd.p.ksr"], "0.5", "{span}");
        assert_eq!(
            span["metrics"]["_dd.rule_psr"].as_f64(),
            Some(0.5),
            "{span}"
        );
        // The default limit did not apply: not recorded.
        assert_eq!(span["metrics"].get("_dd.limit_psr"), None, "{span}");
    }
    assert!(
        kept > 0 && dropped > 0,
        "kept {kept}, dropped {dropped}: both kinds arrive"
    );
    for &id in &rejected {
        let span = root(id);
        assert_eq!(
            span["metrics"]["_sampling_priority_v1"].as_f64(),
            Some(-1.0),
            "{span}"
        );
        assert_eq!(span["meta"]["_dd.p.dm"], "-4", "{span}");
    }
    for &id in &failed {
        let span = root(id);
        assert_eq!(span["error"].as_i64(), Some(1), "{span}");
        assert_eq!(span["meta"]["error.message"], "payment declined", "{span}");
    }
}

fn sampling_child() {
    let url = std::env::var("SPANLOG_TEST_AGENT_URL").unwrap();
    // Without client-side stats: every chunk is sent, unsampled ones too.
    let agent = spanlog::agent::try_init(
        spanlog::agent::AgentConfig::new()
            .with_address(&url)
            .unwrap()
            .with_stats_computation(false),
    )
    .unwrap();
    let logger = spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(common::Capture::new());
    let mut rated = Vec::new();
    for _ in 0..40 {
        let root = spanlog::start_span("sampled.request").entered();
        let _child = spanlog::start_span("sampled.step").entered();
        rated.push(root.trace_id().low());
    }
    let rejected = {
        let root = spanlog::start_span("rejected.request").entered();
        spanlog::sampling::reject(root.context());
        root.trace_id().low()
    };
    let failed = {
        let root = spanlog::start_span("failed.request").entered();
        log::error!(logger: &logger, "payment declined");
        root.trace_id().low()
    };
    assert!(agent.flush(Duration::from_secs(10)), "{}", agent.stats());
    let list = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    println!("rated: {}", list(&rated));
    println!("rejected: {rejected}");
    println!("failed: {failed}");
}

/// 1,000 `web.request` roots (`GET /posts/{id}`, and one in ten `GET /fail`, an
/// error) at `DD_TRACE_SAMPLE_RATE=0.1`, with client-side stats (on by default, and
/// the test agent takes them): the stats count every span, whatever sampling decided;
/// the unsampled chunks are not sent, except those holding an error.
fn client_stats_count_every_span(agent: &str) {
    let token = test_agent::session(agent, "stats");
    let stdout = test_agent::child_stdout(
        Command::new(std::env::current_exe().unwrap())
            .arg("--stats")
            .env("SPANLOG_TEST_AGENT_URL", agent)
            .env("DD_TRACE_SAMPLE_RATE", "0.1")
            .env("DD_SERVICE", "stats-check")
            .env_remove("DD_TRACE_RATE_LIMIT")
            .env_remove("DD_TRACE_SAMPLING_RULES")
            .env_remove("DD_TRACE_STATS_COMPUTATION_ENABLED"),
    );
    let field = |name: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in {stdout}"))
    };
    let (kept, unsampled_chunks) = (field("kept:"), field("unsampled_chunks:"));
    let payloads = test_agent::get_json(&format!(
        "{agent}/test/session/stats?test_session_token={token}"
    ));
    let mut hits: HashMap<String, (u64, u64, u64)> = HashMap::new();
    for payload in payloads.as_array().unwrap() {
        for bucket in payload["Stats"].as_array().unwrap() {
            assert_eq!(bucket["Duration"].as_u64(), Some(10_000_000_000));
            for group in bucket["Stats"].as_array().unwrap() {
                assert_eq!(group["Name"], "web.request", "{group}");
                let entry = hits
                    .entry(group["Resource"].as_str().unwrap().to_owned())
                    .or_default();
                entry.0 += group["Hits"].as_u64().unwrap();
                entry.1 += group["Errors"].as_u64().unwrap();
                entry.2 += group["TopLevelHits"].as_u64().unwrap();
            }
        }
    }
    assert_eq!(hits["GET /posts/{id}"], (900, 0, 900), "{payloads}");
    assert_eq!(hits["GET /fail"], (100, 100, 100), "{payloads}");
    let traces = test_agent::get_json(&format!(
        "{agent}/test/session/traces?test_session_token={token}"
    ));
    let traces = traces.as_array().unwrap();
    let errors = traces
        .iter()
        .filter(|t| t[0]["error"].as_i64() == Some(1))
        .count() as u64;
    assert_eq!(
        errors, 100,
        "chunks with an error are sent, whatever the decision"
    );
    let unsampled_sent = traces
        .iter()
        .filter(|t| t[0]["metrics"]["_sampling_priority_v1"].as_f64() == Some(-1.0))
        .count() as u64;
    assert_eq!(traces.len() as u64, kept + unsampled_sent);
    assert_eq!(unsampled_chunks + traces.len() as u64, 1_000);
    assert!(
        unsampled_chunks > 700,
        "{unsampled_chunks} of 1,000 left unsent"
    );
    println!("client stats: every span counted; {unsampled_chunks} unsampled chunks not sent");
}

fn stats_child() {
    let url = std::env::var("SPANLOG_TEST_AGENT_URL").unwrap();
    let agent = spanlog::agent::try_init(
        spanlog::agent::AgentConfig::new()
            .with_address(&url)
            .unwrap(),
    )
    .unwrap();
    let mut kept = 0;
    for i in 0..1_000 {
        let fail = i % 10 == 9;
        let resource = if fail { "GET /fail" } else { "GET /posts/{id}" };
        let mut root = spanlog::start_span("web.request")
            .resource(resource)
            .start();
        if fail {
            root.set_error(true);
        }
        if root.sampling_decision().is_some_and(|d| d.is_kept()) {
            kept += 1;
        }
        drop(root);
    }
    assert!(agent.flush(Duration::from_secs(10)), "{}", agent.stats());
    let stats = agent.stats();
    println!("kept: {kept}");
    println!("unsampled_chunks: {}", stats.unsampled_chunks);
    agent.shutdown(Duration::from_secs(5));
}
