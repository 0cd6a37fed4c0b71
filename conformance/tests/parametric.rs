//! The parametric server driven over HTTP as Datadog's system-tests drive it, against
//! the real test agent (`SPANLOG_TEST_AGENT_URL`; `.ci/run` starts one): one
//! representative case of each test file the server is meant for, written from what
//! the suite checks. Without an agent it is skipped, except under `CI=true`.

#[path = "../../tests/common/test_agent.rs"]
mod test_agent;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use test_agent::{agent_url, get_json, request, session, spans};

/// A test file of the suite, and our case for it.
type Case = (&'static str, fn(&str));

fn main() {
    let Some(agent) = agent_url() else { return };
    let cases: [Case; 13] = [
        ("test_headers_datadog", datadog_headers),
        ("test_headers_tracecontext", tracecontext_headers),
        ("test_headers_precedence", precedence),
        ("test_headers_b3multi", b3multi),
        ("test_headers_baggage", baggage),
        ("test_headers_none", none),
        ("test_128_bit_traceids", trace_ids_128),
        ("test_extract_behavior", extract_restart),
        ("test_sampling_manual", sampling_manual),
        ("test_trace_sampling", trace_sampling_rules),
        ("test_sampling_span_tags", sampling_span_tags),
        ("test_tracer", tracer),
        ("test_library_tracestats", trace_stats),
    ];
    for (file, case) in cases {
        println!("{file} ...");
        case(&agent);
        println!("{file} ok");
    }
}

/// The server, started as the suite starts it: a port and an Agent from the
/// environment, plus the case's variables.
struct App {
    child: Child,
    base: String,
}

impl App {
    fn start(agent: &str, env: &[(&str, &str)]) -> App {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_spanlog-parametric"));
        command
            .env("APM_TEST_CLIENT_SERVER_PORT", port.to_string())
            .env("DD_TRACE_AGENT_URL", agent)
            .env("DD_SERVICE", "spanlog-parametric-test")
            .stdout(Stdio::null());
        for var in [
            "DD_TRACE_PROPAGATION_STYLE",
            "DD_TRACE_SAMPLE_RATE",
            "DD_TRACE_SAMPLING_RULES",
            "DD_ENV",
            "DD_VERSION",
        ] {
            command.env_remove(var);
        }
        command.envs(env.iter().copied());
        let app = App {
            child: command.spawn().expect("the parametric server starts"),
            base: format!("http://127.0.0.1:{port}"),
        };
        // Ready when an unknown path answers 404, as the suite waits for it.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                && request("GET", &app.url("/ping-until-it-starts"), &[], b"").0 == 404;
            if ready {
                return app;
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = body.to_string();
        let (status, answer) = request(
            method,
            &self.url(path),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{method} {path} {body}: {answer}");
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{path}: {e}: {answer}"))
    }

    fn post(&self, path: &str, body: Value) -> Value {
        self.call("POST", path, body)
    }

    /// `/trace/span/start`: the new span's id and (all 128 bits of) its trace id.
    fn start_span(&self, name: &str, parent_id: Option<u64>) -> (u64, u128) {
        let body = json!({ "name": name, "parent_id": parent_id, "span_tags": [] }).to_string();
        let (status, answer) = request(
            "POST",
            &self.url("/trace/span/start"),
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        );
        assert_eq!(status, 200, "{answer}");
        // Read by hand: a 128-bit trace id does not fit serde_json's numbers.
        let number = |key: &str| {
            let start = answer.find(&format!("\"{key}\":")).unwrap() + key.len() + 3;
            let digits: String = answer[start..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u128>().unwrap()
        };
        (number("span_id") as u64, number("trace_id"))
    }

    fn finish(&self, span_id: u64) {
        self.post("/trace/span/finish", json!({ "span_id": span_id }));
    }

    fn flush(&self) {
        self.post("/trace/span/flush", json!({}));
    }

    fn extract(&self, headers: &[(&str, &str)]) -> Option<u64> {
        self.post(
            "/trace/span/extract_headers",
            json!({ "http_headers": headers }),
        )["span_id"]
            .as_u64()
    }

    fn inject(&self, span_id: u64) -> Vec<(String, String)> {
        let answer = self.post("/trace/span/inject_headers", json!({ "span_id": span_id }));
        serde_json::from_value(answer["http_headers"].clone()).unwrap()
    }

    /// What the suite's `dd_make_child_span_and_get_headers` does: extract, start a
    /// child, inject it, finish it, flush. The headers and the span's ids.
    fn child_headers(&self, headers: &[(&str, &str)]) -> (Vec<(String, String)>, u64, u128) {
        let parent = self.extract(headers);
        let (span_id, trace_id) = self.start_span("name", parent);
        let out = self.inject(span_id);
        self.finish(span_id);
        self.flush();
        (out, span_id, trace_id)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The one span of the session's one trace.
fn only_span(agent: &str, token: &str) -> Value {
    let spans = spans(agent, token, 1);
    assert_eq!(spans.len(), 1, "{spans:?}");
    spans.into_values().next().unwrap()
}

fn datadog_headers(agent: &str) {
    let token = session(agent, "parametric-datadog");
    let app = App::start(agent, &[]);
    let (out, span_id, _) = app.child_headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "synthetics"),
        ("x-datadog-tags", "_dd.p.dm=-4"),
    ]);
    assert_eq!(header(&out, "x-datadog-trace-id"), Some("123456789"));
    assert_eq!(
        header(&out, "x-datadog-parent-id"),
        Some(&*span_id.to_string())
    );
    assert_eq!(header(&out, "x-datadog-sampling-priority"), Some("2"));
    assert_eq!(header(&out, "x-datadog-origin"), Some("synthetics"));
    assert!(
        header(&out, "x-datadog-tags")
            .unwrap()
            .contains("_dd.p.dm=-4")
    );
    let span = only_span(agent, &token);
    assert_eq!(span["trace_id"], 123456789);
    assert_eq!(span["parent_id"], 987654321);
    assert_eq!(span["meta"]["_dd.origin"], "synthetics");
    assert_eq!(span["metrics"]["_sampling_priority_v1"], 2.0);
}

fn tracecontext_headers(agent: &str) {
    let token = session(agent, "parametric-tracecontext");
    let app = App::start(agent, &[("DD_TRACE_PROPAGATION_STYLE", "tracecontext")]);
    let (out, span_id, _) = app.child_headers(&[
        (
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-01",
        ),
        ("tracestate", "foo=1,dd=s:2;o:rum;t.dm:-4,bar=2"),
    ]);
    let traceparent = header(&out, "traceparent").unwrap();
    assert_eq!(
        traceparent,
        format!("00-12345678901234567890123456789012-{span_id:016x}-01")
    );
    let tracestate = header(&out, "tracestate").unwrap();
    let dd = tracestate.split(',').next().unwrap();
    for item in [&*format!("p:{span_id:016x}"), "s:2", "o:rum", "t.dm:-4"] {
        assert!(
            dd.split(&['=', ';']).any(|i| i == item),
            "{item} in {tracestate}"
        );
    }
    assert!(tracestate.ends_with(",foo=1,bar=2"), "{tracestate}");
    let span = only_span(agent, &token);
    assert_eq!(span["parent_id"], 0x1234567890123456u64);
    assert_eq!(span["meta"]["_dd.p.tid"], "1234567890123456");
    assert_eq!(span["meta"]["_dd.origin"], "rum");
}

fn precedence(agent: &str) {
    let token = session(agent, "parametric-precedence");
    let app = App::start(agent, &[]);
    // Datadog first by default; a W3C context of another trace is linked.
    let (out, _, trace_id) = app.child_headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "1"),
        (
            "traceparent",
            "00-11111111111111110000000000000001-000000003ade68b1-01",
        ),
    ]);
    assert_eq!(trace_id, 123456789);
    assert_eq!(header(&out, "x-datadog-trace-id"), Some("123456789"));
    let span = only_span(agent, &token);
    let links = span["span_links"]
        .as_array()
        .expect("a link to the other context");
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["span_id"], 0x3ade68b1);
    assert_eq!(links[0]["attributes"]["reason"], "terminated_context");
    assert_eq!(links[0]["attributes"]["context_headers"], "tracecontext");
}

fn b3multi(agent: &str) {
    let token = session(agent, "parametric-b3multi");
    let app = App::start(agent, &[("DD_TRACE_PROPAGATION_STYLE", "b3multi")]);
    let (out, span_id, _) = app.child_headers(&[
        ("x-b3-traceid", "000000000000000000000000075bcd15"),
        ("x-b3-spanid", "000000003ade68b1"),
        ("x-b3-sampled", "1"),
    ]);
    assert_eq!(header(&out, "x-b3-traceid"), Some("00000000075bcd15"));
    assert_eq!(
        header(&out, "x-b3-spanid"),
        Some(&*format!("{span_id:016x}"))
    );
    assert_eq!(header(&out, "x-b3-sampled"), Some("1"));
    assert_eq!(header(&out, "x-datadog-trace-id"), None);
    let span = only_span(agent, &token);
    assert_eq!(span["trace_id"], 123456789);
    assert_eq!(span["parent_id"], 987654321);
}

fn baggage(agent: &str) {
    let token = session(agent, "parametric-baggage");
    let app = App::start(agent, &[]);
    let (out, _, _) = app.child_headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
        ("baggage", "user.id=doggo,session.id=mysession,foo=bar"),
    ]);
    assert_eq!(
        header(&out, "baggage"),
        Some("user.id=doggo,session.id=mysession,foo=bar")
    );
    let span = only_span(agent, &token);
    assert_eq!(span["meta"]["baggage.user.id"], "doggo");
    assert_eq!(span["meta"]["baggage.session.id"], "mysession");
    assert_eq!(span["meta"].get("baggage.foo"), None);

    // The API, through the server: set, read, remove, and the header it makes.
    let (span_id, _) = app.start_span("api", None);
    for (key, value) in [
        ("foo", "bar"),
        ("userId", "Amélie"),
        ("serverNode", "DF 28"),
    ] {
        app.post(
            "/trace/span/set_baggage",
            json!({ "span_id": span_id, "key": key, "value": value }),
        );
    }
    let read = app.call(
        "GET",
        "/trace/span/get_baggage",
        json!({ "span_id": span_id, "key": "userId" }),
    );
    assert_eq!(read["baggage"], "Amélie");
    app.post(
        "/trace/span/remove_baggage",
        json!({ "span_id": span_id, "key": "foo" }),
    );
    let all = app.call(
        "GET",
        "/trace/span/get_all_baggage",
        json!({ "span_id": span_id }),
    );
    assert_eq!(
        all["baggage"],
        json!({ "userId": "Amélie", "serverNode": "DF 28" })
    );
    let out = app.inject(span_id);
    assert_eq!(
        header(&out, "baggage"),
        Some("userId=Am%C3%A9lie,serverNode=DF%2028")
    );
    app.finish(span_id);
    app.flush();
}

fn none(agent: &str) {
    let token = session(agent, "parametric-none");
    let app = App::start(agent, &[("DD_TRACE_PROPAGATION_STYLE", "none")]);
    let (out, _, trace_id) = app.child_headers(&[
        ("x-datadog-trace-id", "123456789"),
        ("x-datadog-parent-id", "987654321"),
    ]);
    assert!(out.is_empty(), "{out:?}");
    assert_ne!(trace_id as u64, 123456789);
    let span = only_span(agent, &token);
    assert_eq!(span["parent_id"], 0);
}

fn trace_ids_128(agent: &str) {
    let token = session(agent, "parametric-128");
    let app = App::start(
        agent,
        &[("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", "true")],
    );
    let (span_id, trace_id) = app.start_span("root", None);
    let out = app.inject(span_id);
    app.finish(span_id);
    app.flush();
    let high = format!("{:016x}", (trace_id >> 64) as u64);
    assert!(trace_id >> 64 != 0);
    assert!(
        header(&out, "x-datadog-tags")
            .unwrap()
            .contains(&format!("_dd.p.tid={high}"))
    );
    let span = only_span(agent, &token);
    assert_eq!(span["trace_id"], trace_id as u64);
    assert_eq!(span["meta"]["_dd.p.tid"], high);
}

fn extract_restart(agent: &str) {
    let token = session(agent, "parametric-restart");
    let app = App::start(
        agent,
        &[("DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT", "restart")],
    );
    let (_, _, trace_id) = app.child_headers(&[
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "987654321"),
        ("x-datadog-sampling-priority", "2"),
        ("baggage", "key1=value1"),
    ]);
    assert_ne!(trace_id, 1, "a new trace");
    let span = only_span(agent, &token);
    assert_eq!(span["parent_id"], 0);
    let links = span["span_links"]
        .as_array()
        .expect("linked to the incoming context");
    assert_eq!(links[0]["trace_id"], 1);
    assert_eq!(links[0]["span_id"], 987654321);
    assert_eq!(
        links[0]["attributes"]["reason"],
        "propagation_behavior_extract"
    );
    assert_eq!(links[0]["attributes"]["context_headers"], "datadog");
}

fn sampling_manual(agent: &str) {
    let token = session(agent, "parametric-manual");
    let app = App::start(agent, &[("DD_TRACE_SAMPLE_RATE", "0")]);
    let (span_id, _) = app.start_span("kept by hand", None);
    app.post("/trace/span/manual_keep", json!({ "span_id": span_id }));
    app.finish(span_id);
    app.flush();
    let span = only_span(agent, &token);
    assert_eq!(span["metrics"]["_sampling_priority_v1"], 2.0);
    assert_eq!(span["meta"]["_dd.p.dm"], "-4");
    assert_eq!(
        span["meta"].get("manual.keep"),
        None,
        "a decision, not a tag"
    );
}

fn trace_sampling_rules(agent: &str) {
    let token = session(agent, "parametric-rules");
    let app = App::start(
        agent,
        &[(
            "DD_TRACE_SAMPLING_RULES",
            r#"[{"name": "matching-name", "sample_rate": 0}]"#,
        )],
    );
    let (span_id, _) = app.start_span("matching-name", None);
    app.finish(span_id);
    app.flush();
    let span = only_span(agent, &token);
    assert_eq!(span["metrics"]["_sampling_priority_v1"], -1.0);
    assert_eq!(span["metrics"]["_dd.rule_psr"], 0.0);
}

fn sampling_span_tags(agent: &str) {
    let token = session(agent, "parametric-span-tags");
    let app = App::start(agent, &[("DD_TRACE_SAMPLE_RATE", "1")]);
    let (span_id, _) = app.start_span("rated", None);
    let (child_id, _) = app.start_span("child", Some(span_id));
    app.finish(child_id);
    app.finish(span_id);
    app.flush();
    let received = spans(agent, &token, 2);
    let root = received
        .values()
        .find(|s| s["span_id"] == span_id)
        .expect("the root");
    assert_eq!(root["meta"]["_dd.p.dm"], "-3");
    assert_eq!(root["metrics"]["_sampling_priority_v1"], 2.0);
    assert_eq!(root["metrics"]["_dd.rule_psr"], 1.0);
    let child = received
        .values()
        .find(|s| s["span_id"] == child_id)
        .unwrap();
    assert_eq!(child["parent_id"], span_id);
    assert_eq!(
        root["metrics"].get("_dd.limit_psr"),
        None,
        "the default limit"
    );
    assert_eq!(
        child["metrics"].get("_dd.rule_psr"),
        None,
        "on the root only"
    );
    drop(app);

    // A limit set alone: kept as by a rule, within the limit, which is recorded.
    let token = session(agent, "parametric-span-tags-limit");
    let app = App::start(agent, &[("DD_TRACE_RATE_LIMIT", "3")]);
    let (span_id, _) = app.start_span("limited", None);
    app.finish(span_id);
    app.flush();
    let span = only_span(agent, &token);
    assert_eq!(span["meta"]["_dd.p.dm"], "-3");
    assert_eq!(span["metrics"]["_sampling_priority_v1"], 2.0);
    let limit = span["metrics"]["_dd.limit_psr"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&limit));
    assert_eq!(span["metrics"].get("_dd.rule_psr"), None);
    drop(app);

    // `manual.drop` on a child, without a value, as the suite sets it: a decision.
    let token = session(agent, "parametric-span-tags-drop");
    let app = App::start(agent, &[("DD_TRACE_SAMPLE_RATE", "1")]);
    let (span_id, _) = app.start_span("parent", None);
    let (child_id, _) = app.start_span("child", Some(span_id));
    app.post(
        "/trace/span/set_meta",
        json!({ "span_id": child_id, "key": "manual.drop", "value": null }),
    );
    app.finish(child_id);
    app.finish(span_id);
    app.flush();
    let spans = spans(agent, &token, 2);
    let root = spans.values().find(|s| s["span_id"] == span_id).unwrap();
    assert_eq!(root["meta"]["_dd.p.dm"], "-4");
    assert_eq!(root["metrics"]["_sampling_priority_v1"], -1.0);
    assert_eq!(root["metrics"].get("_dd.rule_psr"), None);
}

fn tracer(agent: &str) {
    let token = session(agent, "parametric-tracer");
    let app = App::start(agent, &[("DD_ENV", "prod"), ("DD_VERSION", "1.2.3")]);
    let (parent, trace_id) = app.start_span("operation", None);
    let body = json!({
        "name": "operation1", "parent_id": parent, "service": "hello",
        "resource": "/posts", "type": "web", "span_tags": [["k", "v"]],
    });
    let child = app.post("/trace/span/start", body)["span_id"]
        .as_u64()
        .unwrap();
    app.post(
        "/trace/span/set_meta",
        json!({ "span_id": child, "key": "color", "value": "blue" }),
    );
    app.post(
        "/trace/span/set_metric",
        json!({ "span_id": child, "key": "count", "value": 3 }),
    );
    app.post(
        "/trace/span/error",
        json!({ "span_id": child, "type": "Boom", "message": "it broke", "stack": "" }),
    );
    let current = app.call("GET", "/trace/span/current", json!({}));
    assert_eq!(current["span_id"], child);
    app.finish(child);
    let current = app.call("GET", "/trace/span/current", json!({}));
    assert_eq!(current["span_id"], parent, "the parent is current again");
    app.finish(parent);
    app.flush();
    let spans = spans(agent, &token, 2);
    let root = &spans[&(trace_id as u64, parent)];
    assert_eq!(root["name"], "operation");
    assert_eq!(root["meta"]["language"], "rust");
    assert_eq!(root["meta"]["env"], "prod");
    let process = root["meta"]["_dd.tags.process"].as_str().unwrap();
    assert!(process.contains("svc.user:true"), "{process}");
    assert!(
        process.contains("entrypoint.name:spanlog-parametric"),
        "{process}"
    );
    let child = &spans[&(trace_id as u64, child)];
    assert_eq!(child["service"], "hello");
    assert_eq!(child["resource"], "/posts");
    assert_eq!(child["type"], "web");
    assert_eq!(child["error"], 1);
    let meta = &child["meta"];
    assert_eq!(meta["k"], "v");
    assert_eq!(meta["color"], "blue");
    assert_eq!(meta["error.type"], "Boom");
    assert_eq!(meta["error.message"], "it broke");
    assert_eq!(meta["version"], "1.2.3");
    assert_eq!(meta["_dd.base_service"], "spanlog-parametric-test");
    assert_eq!(meta["_dd.svc_src"], "m");
    assert_eq!(child["metrics"]["count"], 3.0);
}

fn trace_stats(agent: &str) {
    let token = session(agent, "parametric-stats");
    let app = App::start(
        agent,
        &[
            ("DD_TRACE_STATS_COMPUTATION_ENABLED", "1"),
            ("DD_HOSTNAME", "test-host"),
            ("DD_TRACE_STATS_CARDINALITY_LIMIT", "3"),
        ],
    );
    for i in 0..6 {
        let (span_id, _) = app.start_span("web.request", None);
        let resource = format!("/resource/{i}");
        app.post(
            "/trace/span/set_resource",
            json!({ "span_id": span_id, "resource": resource }),
        );
        for (key, value) in [("http.method", "GET"), ("http.route", "/resource/:id")] {
            app.post(
                "/trace/span/set_meta",
                json!({ "span_id": span_id, "key": key, "value": value }),
            );
        }
        app.finish(span_id);
    }
    app.flush();
    let payloads = get_json(&format!(
        "{agent}/test/session/stats?test_session_token={token}"
    ));
    let payloads = payloads.as_array().unwrap();
    assert!(!payloads.is_empty(), "stats arrived");
    let mut hits = 0;
    let mut resources = Vec::new();
    for payload in payloads {
        assert_eq!(payload["Hostname"], "test-host");
        for bucket in payload["Stats"].as_array().unwrap() {
            for group in bucket["Stats"].as_array().unwrap() {
                hits += group["Hits"].as_u64().unwrap();
                resources.push(group["Resource"].as_str().unwrap().to_owned());
            }
        }
    }
    assert_eq!(hits, 6, "every span counted, through the cardinality limit");
    assert!(
        resources.iter().any(|r| r == "tracer_blocked_value"),
        "{resources:?}"
    );
    // (The test agent's view of a payload leaves out the HTTP method and endpoint;
    // `agent::msgpack::stats` checks they are sent.)
}
