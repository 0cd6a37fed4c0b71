//! `spanlog::tower` against a real axum server on a loopback port, with a real HTTP
//! client (hyper-util). Its own binary: it installs the global logger and exporter.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
#[path = "../../tests/common/reference.rs"]
mod reference;
#[path = "../../tests/common/test_agent.rs"]
mod test_agent;

use spanlog::export::{Exporter, FinishedSpan};
use spanlog::tower::{ClientLayer, HeaderTags, ServerLayer};
use test_agent::field;
use tower::{Layer, Service, ServiceExt};

#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl log::Log for Lines {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = record.args().to_string();
        self.0.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<FinishedSpan>>>);

impl Exporter for Spans {
    fn export(&self, span: FinishedSpan) {
        self.0.lock().unwrap().push(span);
    }
}

impl Spans {
    /// Waits for the first finished span that `pick` accepts.
    fn wait(&self, what: &str, pick: impl Fn(&FinishedSpan) -> bool) -> FinishedSpan {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(span) = self.0.lock().unwrap().iter().find(|s| pick(s)) {
                return span.clone();
            }
            assert!(Instant::now() < deadline, "no span {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn tag<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.meta
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_ref())
}

type HttpClient = Client<HttpConnector, Body>;

/// A scenario: an async function of the running server.
type Test = fn(&Server) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + '_>>;

struct Server {
    base: String,
    client: HttpClient,
    lines: &'static Lines,
    spans: Spans,
}

impl Server {
    async fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<(StatusCode, String), String> {
        let mut request = Request::get(format!("{}{path}", self.base));
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .client
            .request(request.body(Body::empty()).unwrap())
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        Ok((status, String::from_utf8(body.to_bytes().to_vec()).unwrap()))
    }

    fn lines_with(&self, text: &str) -> Vec<String> {
        self.lines
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(text))
            .cloned()
            .collect()
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/posts/{id}",
            get(|Path(id): Path<u64>| async move {
                log::info!("my log message {id}");
                {
                    let _query = spanlog::start_span("db.query").entered();
                    log::info!("querying posts {id}");
                }
                format!("post {id}")
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "failed") }),
        )
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("the handler panics");
                }
                "unreachable"
            }),
        )
        .route("/stream", get(stream))
        .layer(ServerLayer::new().header_tags(HeaderTags::parse("x-request-id").unwrap()))
}

/// Three chunks, 50 ms apart, each logged while the body is polled.
async fn stream() -> Body {
    let chunks = futures_util::stream::unfold(0, |n| async move {
        if n == 3 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        log::info!("chunk {n}");
        Some((Ok::<_, Infallible>(format!("chunk {n}\n")), n + 1))
    });
    Body::from_stream(chunks)
}

fn main() {
    // The /panic route's panic is expected: keep its message and backtrace out of the
    // output.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"the handler panics") {
            default_hook(info);
        }
    }));
    let lines: &'static Lines = Box::leak(Box::default());
    spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(lines)
        .init();
    log::set_max_level(log::LevelFilter::Info);
    let spans = Spans::default();
    spanlog::export::try_init(spans.clone()).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });
        let client = Client::builder(TokioExecutor::new()).build_http();
        let server = Server {
            base,
            client,
            lines,
            spans,
        };

        let tests: [(&str, Test); 10] = [
            ("continues_a_w3c_trace", |s| {
                Box::pin(continues_a_w3c_trace(s))
            }),
            ("continues_a_datadog_trace", |s| {
                Box::pin(continues_a_datadog_trace(s))
            }),
            ("starts_a_trace_without_headers", |s| {
                Box::pin(starts_a_trace_without_headers(s))
            }),
            ("server_errors_mark_the_span", |s| {
                Box::pin(server_errors_mark_the_span(s))
            }),
            ("a_panic_marks_the_span", |s| {
                Box::pin(a_panic_marks_the_span(s))
            }),
            ("a_streaming_body_keeps_the_span_open", |s| {
                Box::pin(a_streaming_body_keeps_the_span_open(s))
            }),
            ("concurrent_requests_log_under_their_own_traces", |s| {
                Box::pin(concurrent_requests_log_under_their_own_traces(s))
            }),
            ("the_client_layer_injects_its_span", |s| {
                Box::pin(the_client_layer_injects_its_span(s))
            }),
            ("a_handler_error_marks_the_span", |s| {
                Box::pin(a_handler_error_marks_the_span(s))
            }),
            ("a_panic_in_call_marks_the_span", |s| {
                Box::pin(a_panic_in_call_marks_the_span(s))
            }),
        ];
        for (name, test) in tests {
            test(&server).await;
            println!("{name} ... ok");
        }
        println!("{} passed, 0 failed", tests.len());
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}

async fn continues_a_w3c_trace(s: &Server) {
    let (status, body) = s
        .get(
            "/posts/42?token=secret",
            &[
                (
                    "traceparent",
                    "00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01",
                ),
                ("user-agent", "spanlog-test/1"),
                ("x-request-id", "req-1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "post 42"));
    let span = s.spans.wait("for /posts/42", |f| {
        f.context.trace_id().to_u128() == 0x6b04d2e800000000e6a5cefc6c3cef4e
            && f.name == "http.request"
    });
    assert_eq!(span.context.parent_id().to_u64(), 0x92de221fbdd042ee);
    assert_eq!(span.resource, "GET /posts/{id}");
    assert_eq!(span.span_type.as_deref(), Some("web"));
    assert!(!span.error);
    assert_eq!(tag(&span, "http.route"), Some("/posts/{id}"));
    assert_eq!(tag(&span, "http.method"), Some("GET"));
    assert_eq!(tag(&span, "http.status_code"), Some("200"));
    assert_eq!(tag(&span, "span.kind"), Some("server"));
    assert_eq!(tag(&span, "component"), Some("tower"));
    assert_eq!(tag(&span, "http.useragent"), Some("spanlog-test/1"));
    assert_eq!(
        tag(&span, "http.request.headers.x-request-id"),
        Some("req-1")
    );
    let url = tag(&span, "http.url").unwrap();
    assert!(
        url.ends_with("/posts/42") && url.starts_with("http://127.0.0.1:"),
        "{url}"
    );
    let line = &s.lines_with("my log message 42")[0];
    assert_eq!(
        field(line, "dd.trace_id"),
        "6b04d2e800000000e6a5cefc6c3cef4e"
    );
    assert_eq!(
        field(line, "dd.parent_id"),
        0x92de221fbdd042ee_u64.to_string()
    );
    assert_eq!(
        field(line, "dd.span_id"),
        span.context.span_id().to_string()
    );
    let query = &s.lines_with("querying posts 42")[0];
    assert_eq!(
        field(query, "dd.parent_id"),
        span.context.span_id().to_string()
    );
}

async fn continues_a_datadog_trace(s: &Server) {
    let headers = [
        ("x-datadog-trace-id", "1234567"),
        ("x-datadog-parent-id", "7654321"),
        ("x-datadog-sampling-priority", "2"),
    ];
    s.get("/posts/7", &headers).await.unwrap();
    let span = s.spans.wait("of trace 1234567", |f| {
        f.context.trace_id().low() == 1234567 && f.name == "http.request"
    });
    assert_eq!(span.context.parent_id().to_u64(), 7654321);
    assert_eq!(span.context.sampling_priority(), 2);
    let line = &s.lines_with("my log message 7")[0];
    assert_eq!(field(line, "dd.trace_id"), "1234567");
    assert_eq!(field(line, "dd.parent_id"), "7654321");
}

async fn starts_a_trace_without_headers(s: &Server) {
    s.get("/posts/3", &[]).await.unwrap();
    let line = &s.lines_with("my log message 3")[0];
    assert_eq!(field(line, "dd.parent_id"), "0");
    let span_id: u64 = field(line, "dd.span_id").parse().unwrap();
    let span = s
        .spans
        .wait("for /posts/3", |f| f.context.span_id().to_u64() == span_id);
    assert_eq!(span.context.parent_id().to_u64(), 0);
    assert_eq!(span.resource, "GET /posts/{id}");
}

async fn server_errors_mark_the_span(s: &Server) {
    let (status, _) = s
        .get(
            "/fail",
            &[
                ("x-datadog-trace-id", "500500"),
                ("x-datadog-parent-id", "1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let span = s
        .spans
        .wait("for /fail", |f| f.context.trace_id().low() == 500500);
    assert!(span.error);
    assert_eq!(span.resource, "GET /fail");
    assert_eq!(tag(&span, "http.status_code"), Some("500"));
    assert_eq!(
        tag(&span, "error.message"),
        Some("500: Internal Server Error")
    );
}

async fn a_panic_marks_the_span(s: &Server) {
    let result = s
        .get(
            "/panic",
            &[
                ("x-datadog-trace-id", "600600"),
                ("x-datadog-parent-id", "1"),
            ],
        )
        .await;
    assert!(
        result.is_err(),
        "the connection dies with the handler: {result:?}"
    );
    let span = s
        .spans
        .wait("for /panic", |f| f.context.trace_id().low() == 600600);
    assert!(span.error);
    assert_eq!(tag(&span, "error.type"), Some("panic"));
    assert_eq!(tag(&span, "http.status_code"), None);
}

async fn a_streaming_body_keeps_the_span_open(s: &Server) {
    let (status, body) = s
        .get(
            "/stream",
            &[
                ("x-datadog-trace-id", "700700"),
                ("x-datadog-parent-id", "1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\n");
    let span = s
        .spans
        .wait("for /stream", |f| f.context.trace_id().low() == 700700);
    assert!(
        span.duration_nanos >= 140_000_000,
        "the span ends with the body, not with the headers: {} ns",
        span.duration_nanos
    );
    for n in 0..3 {
        let line = &s.lines_with(&format!("chunk {n}"))[0];
        assert_eq!(
            field(line, "dd.span_id"),
            span.context.span_id().to_string()
        );
    }
}

async fn concurrent_requests_log_under_their_own_traces(s: &Server) {
    let base = 10_000u64;
    let mut tasks = Vec::new();
    for i in 0..1000u64 {
        let client = s.client.clone();
        let url = format!("{}/posts/{}", s.base, base + i);
        tasks.push(tokio::spawn(async move {
            let trace = (base + i).to_string();
            let request = Request::get(url)
                .header("x-datadog-trace-id", &trace)
                .header("x-datadog-parent-id", "99")
                .body(Body::empty())
                .unwrap();
            let response = client.request(request).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.into_body().collect().await.unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let lines = s.lines.0.lock().unwrap().clone();
    let mut seen = HashMap::new();
    for line in lines.iter().filter(|l| l.starts_with("my log message 1")) {
        let id: u64 = line["my log message ".len()..]
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        if id >= base {
            assert_eq!(field(line, "dd.trace_id"), id.to_string(), "{line}");
            assert_eq!(field(line, "dd.parent_id"), "99", "{line}");
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(seen.values().all(|&n| n == 1));
}

async fn the_client_layer_injects_its_span(s: &Server) {
    let request_span = spanlog::start_span("caller").entered();
    let caller_trace = request_span.trace_id();
    let mut client = ClientLayer::new().layer(s.client.clone());
    let request = Request::get(format!("{}/posts/77", s.base))
        .body(Body::empty())
        .unwrap();
    let response = client.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    drop(request_span);
    let client_span = s.spans.wait("client", |f| {
        f.context.trace_id() == caller_trace && tag(f, "span.kind") == Some("client")
    });
    let server_span = s.spans.wait("server of the client call", |f| {
        f.context.trace_id() == caller_trace && tag(f, "span.kind") == Some("server")
    });
    assert_eq!(
        server_span.context.parent_id(),
        client_span.context.span_id()
    );
    assert_eq!(tag(&client_span, "out.host"), Some("127.0.0.1"));
    assert_eq!(tag(&client_span, "http.status_code"), Some("200"));
    assert_eq!(client_span.resource, "GET /posts/?");
    assert_eq!(client_span.span_type.as_deref(), Some("http"));

    // The headers the layer injects, seen by a service that keeps them: Datadog's
    // Python tracer reads them as the client span (when SPANLOG_DDTRACE_PYTHON names a
    // python with ddtrace installed).
    let seen = Arc::new(Mutex::new(axum::http::HeaderMap::new()));
    let keep = seen.clone();
    let capture = tower::service_fn(move |request: Request<Body>| {
        *keep.lock().unwrap() = request.headers().clone();
        async { Ok::<_, Infallible>(Response::new(Body::empty())) }
    });
    let caller = spanlog::start_span("caller").entered();
    let caller_trace = caller.trace_id();
    let request = Request::get("http://example.com/a")
        .body(Body::empty())
        .unwrap();
    ClientLayer::new()
        .layer(capture)
        .oneshot(request)
        .await
        .unwrap();
    drop(caller);
    let client_span = s.spans.wait("client of example.com", |f| {
        f.context.trace_id() == caller_trace && tag(f, "out.host") == Some("example.com")
    });
    let headers = seen.lock().unwrap().clone();
    assert_eq!(
        headers["x-datadog-parent-id"].to_str().unwrap(),
        client_span.context.span_id().to_string()
    );
    check_with_ddtrace(&headers, &client_span);
}

fn check_with_ddtrace(headers: &axum::http::HeaderMap, client: &FinishedSpan) {
    let Some(python) = reference::ddtrace_python() else {
        return;
    };
    let pairs: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().into()))
        .collect();
    let script = "import json, sys\n\
        from ddtrace.propagation.http import HTTPPropagator\n\
        c = HTTPPropagator.extract(json.loads(sys.stdin.read()))\n\
        print(c.trace_id, c.span_id, c.sampling_priority)";
    let headers = serde_json::Value::Object(pairs).to_string();
    let printed = reference::run_python(&python, script, &[], &headers);
    let mut parts = printed.split_whitespace();
    let trace: u128 = parts.next().unwrap().parse().unwrap();
    let span: u64 = parts.next().unwrap().parse().unwrap();
    assert_eq!(trace, client.context.trace_id().to_u128(), "{printed}");
    assert_eq!(span, client.context.span_id().to_u64(), "{printed}");
    assert_eq!(parts.next().unwrap(), "1", "{printed}");
}

async fn a_handler_error_marks_the_span(s: &Server) {
    let failing = tower::service_fn(|_: Request<Body>| async {
        Err::<Response<Body>, _>(std::io::Error::other("database is down"))
    });
    let mut service = ServerLayer::new().layer(failing);
    let request = Request::get("/x")
        .header("x-datadog-trace-id", "800800")
        .header("x-datadog-parent-id", "1")
        .body(Body::empty())
        .unwrap();
    let result = service.ready().await.unwrap().call(request).await;
    assert!(result.is_err());
    let span = s.spans.wait("for the failing service", |f| {
        f.context.trace_id().low() == 800800
    });
    assert!(span.error);
    assert_eq!(tag(&span, "error.message"), Some("database is down"));
}

/// A service whose `call` itself panics (not the future it returns), under a layer that
/// catches panics (tower-http's `CatchPanic` catches both): its request span is
/// exported marked as failed, as a panic inside the future is.
async fn a_panic_in_call_marks_the_span(s: &Server) {
    #[derive(Clone)]
    struct PanicsOnCall;

    impl Service<Request<Body>> for PanicsOnCall {
        type Response = Response<Body>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            std::task::Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: Request<Body>) -> Self::Future {
            panic!("the handler panics");
        }
    }

    let mut service = ServerLayer::new().layer(PanicsOnCall);
    let request = Request::get("/x")
        .header("x-datadog-trace-id", "900900")
        .header("x-datadog-parent-id", "1")
        .body(Body::empty())
        .unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.call(request)));
    assert!(caught.is_err(), "call panicked");
    let span = s.spans.wait("for the service that panics in call", |f| {
        f.context.trace_id().low() == 900900
    });
    assert!(span.error);
    assert_eq!(tag(&span, "error.type"), Some("panic"));
}
