//! dd-trace-rs as the tracer, spanlog as the logger, both against the Datadog test agent
//! (`SPANLOG_TEST_AGENT_URL`; `.ci/run` starts one). Without it the scenarios are
//! skipped, except under `CI=true`, where that is a failure.

#[path = "../../tests/common/test_agent.rs"]
mod test_agent;

use std::process::Command;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use test_agent::{agent_url, child_stdout, example_path, field, session, spans};

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("--mixed") => return mixed_child(),
        Some("--through") => return through_child(),
        _ => {}
    }
    let Some(agent) = agent_url() else { return };
    example_lines_name_the_spans_dd_trace_rs_sent(&agent);
    mixed_spans_land_in_one_trace(&agent);
    spanlog_spans_go_through_dd_trace_rs(&agent);
    println!("3 passed, 0 failed");
}

fn trace_low(hex_or_decimal: &str) -> u64 {
    match hex_or_decimal.len() {
        32 => u64::from_str_radix(&hex_or_decimal[16..], 16).unwrap(),
        _ => hex_or_decimal.parse().unwrap(),
    }
}

fn example_lines_name_the_spans_dd_trace_rs_sent(agent: &str) {
    let token = session(agent, "otel-example");
    let path = example_path("opentelemetry_datadog");
    let out = Command::new(&path)
        .env("DD_TRACE_AGENT_URL", agent)
        .env("DD_SERVICE", "spanlog-otel-e2e")
        .env("DD_ENV", "ci")
        .env("DD_VERSION", "0.1.0")
        .env("RUST_LOG", "info")
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" dd.trace_id="))
        .collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    let spans = spans(agent, &token, 6);
    for line in &lines {
        assert!(
            line.contains("dd.service=spanlog-otel-e2e dd.env=ci dd.version=0.1.0 "),
            "{line}"
        );
        let trace = field(line, "dd.trace_id");
        let span_id: u64 = field(line, "dd.span_id").parse().unwrap();
        let parent_id: u64 = field(line, "dd.parent_id").parse().unwrap();
        let span = spans
            .get(&(trace_low(trace), span_id))
            .unwrap_or_else(|| panic!("the agent has no span for {line}: {spans:?}"));
        assert_eq!(span["parent_id"].as_u64().unwrap_or(0), parent_id, "{span}");
        let name = if line.contains("my log message") {
            "web.request"
        } else {
            assert!(line.contains("querying posts"), "{line}");
            "db.query"
        };
        assert_eq!(span["name"], name, "{span}");
        assert_eq!(span["service"], "spanlog-otel-e2e", "{span}");
        if trace.len() == 32 {
            assert_eq!(span["meta"]["otel.trace_id"], trace, "{span}");
        }
    }
    println!("example_lines_name_the_spans_dd_trace_rs_sent ... ok");
}

/// An OTel root, a spanlog child inside it, an OTel grandchild inside that: dd-trace-rs
/// sends the OTel spans, spanlog's exporter the spanlog one, and the agent sees one
/// trace with the right parents. Runs in a child process (global tracer and exporter).
fn mixed_spans_land_in_one_trace(agent: &str) {
    let token = session(agent, "otel-mixed");
    let stdout = child_stdout(
        Command::new(std::env::current_exe().unwrap())
            .arg("--mixed")
            .env("DD_TRACE_AGENT_URL", agent)
            .env("DD_SERVICE", "spanlog-otel-mixed"),
    );
    // `trace root middle leaf`: the ids the child saw.
    let ids: Vec<u64> = stdout
        .split_whitespace()
        .map(|s| s.parse().unwrap())
        .collect();
    let [trace, root, middle, leaf] = ids[..] else {
        panic!("{stdout}")
    };
    let spans = spans(agent, &token, 3);
    let parent = |span: u64| {
        let s = spans
            .get(&(trace, span))
            .unwrap_or_else(|| panic!("no span {span} of trace {trace}: {spans:?}"));
        s["parent_id"].as_u64().unwrap_or(0)
    };
    assert_eq!(parent(root), 0);
    assert_eq!(parent(middle), root, "spanlog's span under the OTel root");
    assert_eq!(parent(leaf), middle, "the OTel leaf under spanlog's span");
    assert_eq!(spans[&(trace, middle)]["name"], "spanlog.middle");
    println!("mixed_spans_land_in_one_trace ... ok");
}

fn mixed_child() {
    let agent = spanlog::agent::try_init(spanlog::agent::AgentConfig::from_env()).unwrap();
    let provider = datadog_opentelemetry::tracing().init();
    let tracer =
        spanlog::opentelemetry::CorrelatedTracerProvider::new(provider.clone()).tracer("mixed");
    let (trace, root, middle, leaf) = tracer.in_span("otel.root", |cx| {
        cx.span()
            .set_attribute(KeyValue::new("operation.name", "otel.root"));
        let root = u64::from_be_bytes(cx.span().span_context().span_id().to_bytes());
        let middle = spanlog::start_span("spanlog.middle").entered();
        let mut leaf = tracer.start("otel.leaf");
        let leaf_id = u64::from_be_bytes(leaf.span_context().span_id().to_bytes());
        leaf.end();
        (
            middle.trace_id().low(),
            root,
            middle.span_id().to_u64(),
            leaf_id,
        )
    });
    assert!(agent.shutdown(Duration::from_secs(5)), "{}", agent.stats());
    provider
        .shutdown_with_timeout(Duration::from_secs(5))
        .unwrap();
    println!("{trace} {root} {middle} {leaf}");
}

/// No spanlog exporter: spanlog's span inside a dd-trace-rs span reaches the agent
/// through dd-trace-rs, with the ids its log line carries, its tags and its error; and
/// without `DD_SERVICE` the service in the line is the one dd-trace-rs reports.
fn spanlog_spans_go_through_dd_trace_rs(agent: &str) {
    let token = session(agent, "otel-through");
    let stdout = child_stdout(
        Command::new(std::env::current_exe().unwrap())
            .arg("--through")
            .env("DD_TRACE_AGENT_URL", agent)
            .env_remove("DD_SERVICE"),
    );
    // `<root id> <line>`: the OTel root's id and the spanlog span's log line.
    let (root, line) = stdout.trim().split_once(' ').unwrap();
    let root: u64 = root.parse().unwrap();
    let trace = trace_low(field(line, "dd.trace_id"));
    let id: u64 = field(line, "dd.span_id").parse().unwrap();
    let spans = spans(agent, &token, 2);
    let span = spans
        .get(&(trace, id))
        .unwrap_or_else(|| panic!("no span for {line}: {spans:?}"));
    assert_eq!(span["parent_id"].as_u64(), Some(root), "{span}");
    assert_eq!(span["name"], "spanlog.query", "{span}");
    assert_eq!(span["resource"], "SELECT posts", "{span}");
    assert_eq!(span["meta"]["db.system"], "postgresql", "{span}");
    assert_eq!(span["error"].as_u64(), Some(1), "{span}");
    let service = line
        .split_whitespace()
        .find_map(|pair| pair.strip_prefix("dd.service="))
        .unwrap_or_else(|| panic!("no dd.service in {line}"));
    assert_eq!(span["service"], service, "{span}");
    assert_eq!(span["service"], "unnamed-rust-service", "{span}");
    println!("spanlog_spans_go_through_dd_trace_rs ... ok");
}

fn through_child() {
    let provider = datadog_opentelemetry::tracing().init();
    spanlog::opentelemetry::set_tracer_provider(provider.clone());
    let tracer = opentelemetry::global::tracer("through");
    let (root, line) = tracer.in_span("otel.root", |cx| {
        cx.span()
            .set_attribute(KeyValue::new("operation.name", "otel.root"));
        let root = u64::from_be_bytes(cx.span().span_context().span_id().to_bytes());
        let mut query = spanlog::start_span("spanlog.query")
            .resource("SELECT posts")
            .tag("db.system", "postgresql")
            .start();
        query.record_error(&std::io::Error::other("connection reset"));
        (root, query.log().to_string())
    });
    provider
        .shutdown_with_timeout(Duration::from_secs(5))
        .unwrap();
    println!("{root} {line}");
}
