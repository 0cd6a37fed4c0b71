//! The examples' output is a contract: run the built example binaries (cargo test builds
//! them) and check what they print.

mod common;

use std::process::{Command, Output};

use common::field;

/// An example with its agent (with the `agent` feature, web_request exports) pointed at
/// a closed port, so a local agent is never disturbed; tests/agent.rs covers a real one.
fn example(name: &str) -> Command {
    let mut command = common::example(name);
    command.env("DD_TRACE_AGENT_URL", "http://127.0.0.1:1");
    command
}

fn run(mut command: Command) -> (String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = command.output().expect("example runs");
    let (stdout, stderr) = (
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    );
    assert!(status.success(), "{status}\n{stdout}\n{stderr}");
    // With the `agent` feature, web_request also prints the exporter's counters and,
    // with no agent listening, a warning: those are not log lines.
    let logs: String = stderr
        .lines()
        .filter(|l| !l.starts_with("spanlog agent: ") && !l.contains("Datadog Agent at"))
        .map(|l| format!("{l}\n"))
        .collect();
    (stdout, logs)
}

#[test]
fn web_request_logs_three_requests_with_correlated_children() {
    let mut command = example("web_request");
    command.env("DD_ENV", "test").env("DD_VERSION", "0.1.0");
    let (_, stderr) = run(command);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    let mut traces = Vec::new();
    for pair in lines.chunks(2) {
        let (request, query) = (pair[0], pair[1]);
        let tail =
            r#"my log message dd.service=web_request dd.env=test dd.version=0.1.0 dd.trace_id=""#;
        assert!(request.contains(tail), "{request}");
        assert!(query.contains(r#"querying posts dd.service=web_request dd.env=test dd.version=0.1.0 dd.trace_id=""#), "{query}");
        assert!(request.ends_with(r#" dd.parent_id="0""#), "{request}");
        let trace = field(request, "dd.trace_id");
        assert_eq!(trace.len(), 32);
        assert!(
            trace
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(field(query, "dd.trace_id"), trace);
        assert_eq!(field(query, "dd.parent_id"), field(request, "dd.span_id"));
        field(request, "dd.span_id").parse::<u64>().unwrap();
        traces.push(trace.to_owned());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 3, "one trace per request");
}

#[test]
fn web_request_honours_rust_log_and_the_injection_switch() {
    let mut quiet = example("web_request");
    quiet.env("RUST_LOG", "warn");
    assert_eq!(run(quiet).1, "");

    let mut off = example("web_request");
    off.env("DD_LOGS_INJECTION", "false");
    let (_, stderr) = run(off);
    assert_eq!(stderr.lines().count(), 6);
    assert!(!stderr.contains("dd."), "{stderr}");

    let mut bad = example("web_request");
    bad.env("DD_LOGS_INJECTION", "perhaps");
    let (_, stderr) = run(bad);
    let warnings: Vec<_> = stderr
        .lines()
        .filter(|l| l.contains("DD_LOGS_INJECTION"))
        .collect();
    assert_eq!(warnings.len(), 1, "one warning: {stderr}");
    assert!(warnings[0].contains("\"perhaps\""));
    assert_eq!(
        stderr.matches("dd.trace_id=").count(),
        6,
        "then the default (on)"
    );
}

#[test]
fn manual_injection_prints_the_span_fields() {
    let (_, stderr) = run(example("manual_injection"));
    let line = stderr.trim_end();
    assert!(
        line.contains(r#"my log message dd.service=manual_injection dd.trace_id=""#),
        "{line}"
    );
    assert!(line.ends_with(r#" dd.parent_id="0""#), "{line}");
}

#[test]
fn custom_logger_uses_the_python_layout() {
    let (stdout, _) = run(example("custom_logger"));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(
        lines[0],
        "INFO custom_logger: starting [dd.service=custom_logger dd.env= dd.version= dd.trace_id=0 dd.span_id=0]"
    );
    for line in &lines[1..] {
        assert!(line.starts_with("INFO custom_logger: "), "{line}");
        assert!(
            line.contains(" [dd.service=custom_logger dd.env= dd.version= dd.trace_id="),
            "{line}"
        );
        assert!(!line.contains("dd.trace_id=0 "), "{line}");
    }
}

#[test]
fn async_tasks_keep_their_own_trace_on_every_line() {
    let (_, stderr) = run(example("async_tasks"));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 60, "{stderr}");
    let mut trace_of = std::collections::HashMap::new();
    let mut steps = std::collections::HashMap::<String, Vec<u32>>::new();
    for line in &lines {
        let words: Vec<&str> = line.split(' ').collect();
        let at = words
            .iter()
            .position(|w| w.starts_with("task="))
            .expect("task=");
        let task = words[at].to_owned();
        let step: u32 = words[at + 1]
            .strip_prefix("step=")
            .unwrap()
            .parse()
            .unwrap();
        steps.entry(task.clone()).or_default().push(step);
        let trace = field(line, "dd.trace_id").to_owned();
        assert_eq!(
            trace_of.entry(task).or_insert_with(|| trace.clone()),
            &trace,
            "{line}"
        );
        assert_eq!(field(line, "dd.parent_id"), "0");
    }
    assert_eq!(trace_of.len(), 20);
    let distinct: std::collections::HashSet<_> = trace_of.values().collect();
    assert_eq!(distinct.len(), 20, "no two tasks share a trace");
    assert!(steps.values().all(|s| s == &[1, 2, 3]));
}

#[test]
fn thread_pool_workers_are_children_of_the_request() {
    let (_, stderr) = run(example("thread_pool"));
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 6, "{stderr}");
    let (first, last) = (lines[0], lines[5]);
    assert!(first.contains("splitting the report"));
    assert!(last.contains("report total 80200"));
    let request_span = field(first, "dd.span_id");
    let trace = field(first, "dd.trace_id");
    assert_eq!(field(last, "dd.span_id"), request_span);
    let mut workers = std::collections::HashSet::new();
    for line in &lines[1..5] {
        assert!(line.contains(" summed 100 rows: "), "{line}");
        assert_eq!(field(line, "dd.trace_id"), trace, "{line}");
        assert_eq!(field(line, "dd.parent_id"), request_span, "{line}");
        assert_ne!(field(line, "dd.span_id"), request_span);
        workers.insert(field(line, "dd.span_id"));
    }
    assert_eq!(workers.len(), 4, "each worker has its own span");
}

/// The Error Tracking contract: one JSON object on standard output with root string
/// attributes `error.kind`, `error.message` and `error.stack` (all three messages of the
/// chain, outer first) beside the ids; with `DD_LOGS_INJECTION=false`, none of them.
#[cfg(feature = "json")]
#[test]
fn error_tracking_puts_the_error_at_the_root_of_the_line() {
    let (stdout, _) = run(example("error_tracking"));
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with('{')).collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    let object: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(lines[0]).unwrap();
    let s = |k: &str| {
        object
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{k} string in {object:?}"))
    };
    assert_eq!(s("level"), "ERROR");
    assert_eq!(s("error.kind"), "LoadPostsError");
    assert_eq!(s("error.message"), "could not load posts");
    let stack = s("error.stack");
    let at = |m: &str| stack.find(m).unwrap_or_else(|| panic!("{m} in {stack}"));
    assert!(
        at("could not load posts") < at("database unavailable"),
        "{stack}"
    );
    assert!(
        at("database unavailable") < at("connection refused"),
        "{stack}"
    );
    assert_eq!(s("dd.trace_id").len(), 32);
    s("dd.span_id").parse::<u64>().unwrap();

    let mut off = example("error_tracking");
    off.env("DD_LOGS_INJECTION", "false");
    let (stdout, _) = run(off);
    let line = stdout.lines().find(|l| l.starts_with('{')).expect("a line");
    assert!(!line.contains("\"dd."), "{line}");
    assert!(!line.contains("\"error.kind\""), "{line}");
    assert!(line.contains("request failed"), "{line}");
}

#[cfg(feature = "json")]
#[test]
fn json_logs_prints_one_object_per_line_with_root_dd_strings() {
    let (stdout, stderr) = run(example("json_logs"));
    assert_eq!(stderr, "", "logs go to standard output");
    let objects: Vec<serde_json::Map<String, serde_json::Value>> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}")))
        .collect();
    assert_eq!(objects.len(), 6, "{stdout}");
    let s = |o: &serde_json::Map<String, serde_json::Value>, k: &str| -> String {
        o.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or_else(|| panic!("{k} string in {o:?}"))
            .to_owned()
    };
    let mut traces = std::collections::HashSet::new();
    for pair in objects.chunks(2) {
        let (request, query) = (&pair[0], &pair[1]);
        assert_eq!(s(request, "message"), "my log message");
        assert_eq!(s(query, "message"), "querying posts");
        for o in pair {
            assert_eq!(s(o, "dd.service"), "json_logs");
            assert_eq!(s(o, "dd.trace_id").len(), 32);
            s(o, "dd.span_id").parse::<u64>().unwrap();
        }
        assert_eq!(s(request, "dd.parent_id"), "0");
        assert_eq!(s(query, "dd.trace_id"), s(request, "dd.trace_id"));
        assert_eq!(s(query, "dd.parent_id"), s(request, "dd.span_id"));
        assert!(
            request.contains_key("request"),
            "the record's own key-value is kept"
        );
        traces.insert(s(request, "dd.trace_id"));
    }
    assert_eq!(traces.len(), 3);
}

fn propagate(stdin: &str) -> (Vec<(String, String)>, String) {
    use std::io::Write;
    let mut command = example("propagate");
    command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let headers = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l
                .split_once(": ")
                .unwrap_or_else(|| panic!("not a header line: {l}"));
            (k.to_owned(), v.to_owned())
        })
        .collect();
    (headers, String::from_utf8(out.stderr).unwrap())
}

#[test]
fn propagate_continues_the_incoming_trace() {
    let (headers, stderr) = propagate(
        "traceparent: 00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01\ntracestate: dd=s:2;o:rum,congo=t61rcWkgMzE\n",
    );
    let names: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "x-datadog-trace-id",
            "x-datadog-parent-id",
            "x-datadog-sampling-priority",
            "x-datadog-origin",
            "x-datadog-tags",
            "traceparent",
            "tracestate"
        ]
    );
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).unwrap().1.clone();
    assert_eq!(get("x-datadog-trace-id"), "16619917583423696718");
    assert_eq!(get("x-datadog-sampling-priority"), "2");
    assert_eq!(get("x-datadog-origin"), "rum");
    let span_id: u64 = get("x-datadog-parent-id").parse().unwrap();
    assert_eq!(
        get("traceparent"),
        format!("00-6b04d2e800000000e6a5cefc6c3cef4e-{span_id:016x}-01")
    );
    assert_eq!(
        get("tracestate"),
        format!("dd=p:{span_id:016x};s:2;o:rum;t.tid:6b04d2e800000000,congo=t61rcWkgMzE")
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("handled request"))
        .expect("log line");
    assert_eq!(
        field(line, "dd.trace_id"),
        "6b04d2e800000000e6a5cefc6c3cef4e"
    );
    assert_eq!(field(line, "dd.span_id"), span_id.to_string());
    assert_eq!(field(line, "dd.parent_id"), "10582933694091117294");
}

#[test]
fn propagate_starts_a_new_trace_without_valid_context() {
    let (headers, stderr) = propagate("traceparent: ff-garbage\nx-datadog-trace-id: nope\n");
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).unwrap().1.clone();
    let line = stderr
        .lines()
        .find(|l| l.contains("handled request"))
        .expect("log line");
    assert_eq!(field(line, "dd.parent_id"), "0");
    assert_eq!(get("x-datadog-parent-id"), field(line, "dd.span_id"));
    assert!(get("traceparent").starts_with(&format!("00-{}-", field(line, "dd.trace_id"))));
}

/// The tracing example's contract: six lines, each with Go-style ids; each query a
/// child of its request, in the request's trace; three traces.
#[cfg(feature = "tracing")]
#[test]
fn tracing_app_lines_carry_their_spans_ids() {
    let (stdout, _) = run(example("tracing_app"));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 6, "{stdout}");
    assert!(
        !stdout.contains('\u{1b}'),
        "no colours into a pipe: {stdout}"
    );
    let mut traces = Vec::new();
    for pair in lines.chunks(2) {
        let (request, query) = (pair[0], pair[1]);
        assert!(request.contains(" web.request{"), "{request}");
        assert!(
            request.contains(": my log message dd.service=tracing_app dd.trace_id=\""),
            "{request}"
        );
        assert!(request.ends_with(r#" dd.parent_id="0""#), "{request}");
        assert!(
            query.contains("web.request{") && query.contains("}:db.query{"),
            "{query}"
        );
        assert!(
            query.contains(": querying posts dd.service=tracing_app dd.trace_id=\""),
            "{query}"
        );
        assert_eq!(field(query, "dd.trace_id"), field(request, "dd.trace_id"));
        assert_eq!(field(query, "dd.parent_id"), field(request, "dd.span_id"));
        assert_ne!(field(query, "dd.span_id"), field(request, "dd.span_id"));
        traces.push(field(request, "dd.trace_id").to_owned());
    }
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 3, "three requests, three traces");
}

/// A `RUST_LOG` no init can read (here tracing-subscriber's span filter syntax) warns on
/// standard error and leaves the default filter (`info`), in each init path: it never
/// silently turns all output off.
#[test]
fn an_unreadable_rust_log_warns_and_keeps_info_lines() {
    let mut paths = vec![("web_request", false)];
    if cfg!(feature = "json") {
        paths.push(("json_logs", true));
    }
    if cfg!(feature = "tracing") {
        paths.push(("tracing_app", true));
    }
    for (name, to_stdout) in paths {
        let mut command = example(name);
        command.env("RUST_LOG", "garbage[");
        let output = command.output().expect("example runs");
        let (stdout, stderr) = (
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        );
        assert!(output.status.success(), "{name}: {stderr}");
        let warning = stderr
            .lines()
            .find(|l| l.starts_with("spanlog: ignoring \"garbage[\" in RUST_LOG"));
        assert!(warning.is_some(), "{name} warned: {stderr}");
        let logs = if to_stdout { &stdout } else { &stderr };
        assert!(
            logs.lines().any(|l| l.contains("my log message")),
            "{name} printed its info lines: {logs}"
        );
    }
}

/// An invalid propagation style warns once, when the logger is installed: not at the
/// first request that propagates (which may never come), and not once per direction.
#[test]
fn an_invalid_propagation_style_warns_once_at_set_up() {
    let mut command = example("web_request");
    command.env("DD_TRACE_PROPAGATION_STYLE", "bogus");
    let output = command.output().expect("example runs");
    let stderr = String::from_utf8(output.stderr).unwrap();
    let warnings: Vec<(usize, &str)> = stderr
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("DD_TRACE_PROPAGATION_STYLE"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    let first_log = stderr.lines().position(|l| l.contains("my log message"));
    assert!(
        first_log.is_some_and(|line| warnings[0].0 < line),
        "the warning comes first: {stderr}"
    );
}
