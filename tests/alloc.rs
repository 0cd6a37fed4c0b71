//! Zero heap allocations per log call inside a span, and per enter/exit: a counting
//! global allocator watches every call made on the measuring thread (the agent
//! exporter's own thread allocates as it likes). Its own binary, without the test
//! harness.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};

use common::LastLine;
use log::info;
use spanlog::{Config, FieldStyle, LoggerBuilder};

struct Counting;

thread_local! {
    /// Allocations made by this thread. A `const` cell with no destructor: reading it
    /// never allocates, so the allocator may use it.
    static ALLOCATIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: forwards every call to the system allocator unchanged; it only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let count = || ALLOCATIONS.with(std::cell::Cell::get);
    let before = count();
    f();
    count() - before
}

fn check(name: &str, count: usize) {
    assert_eq!(count, 0, "{name}: {count} allocations");
    println!("{name}: 0 allocations");
}

fn main() {
    log::set_max_level(log::LevelFilter::Trace);
    let config = Config::new()
        .with_service("blog")
        .with_env("prod")
        .with_version("1.2.3");
    let go = LoggerBuilder::new()
        .config(config.clone())
        .wrap(LastLine::with_capacity(1024));
    let python = LoggerBuilder::new()
        .config(config.clone())
        .style(FieldStyle::Python)
        .wrap(LastLine::with_capacity(1024));

    let outer = spanlog::start_span("web.request")
        .resource("/posts")
        .entered();
    let span = spanlog::start_span("db.query").entered();
    // Warm up: the first line in a span formats its ids once; thread-locals initialise.
    info!(logger: &go, "warm {}", 1);
    info!(logger: &python, "warm {}", 1);

    check(
        "log call inside a span (Go style)",
        allocations(|| {
            for i in 0..1000 {
                info!(logger: &go, "request {}", i);
            }
        }),
    );
    assert!(
        go.inner()
            .last()
            .contains(&format!("dd.span_id=\"{}\"", span.span_id()))
    );
    check(
        "log call inside a span (Python style)",
        allocations(|| {
            for i in 0..1000 {
                info!(logger: &python, "request {}", i);
            }
        }),
    );
    assert!(
        python
            .inner()
            .last()
            .ends_with(&format!("dd.span_id={}]", span.span_id()))
    );

    // Enter and exit an existing span, and log in it for the first time (formats ids).
    let other = spanlog::start_span("other").start();
    check(
        "enter, first log, exit",
        allocations(|| {
            for _ in 0..1000 {
                let _entered = other.enter();
                info!(logger: &go, "inside other");
            }
        }),
    );
    assert!(
        go.inner()
            .last()
            .contains(&format!("dd.span_id=\"{}\"", other.span_id()))
    );

    // Starting and finishing a span with static strings and no exporter: a static span
    // type is kept inline.
    check(
        "start, enter, log, finish",
        allocations(|| {
            for _ in 0..1000 {
                let _span = spanlog::start_span("short")
                    .resource("/r")
                    .span_type("web")
                    .entered();
                info!(logger: &go, "short");
            }
        }),
    );

    // Polling an instrumented future: enter and leave its span at every poll.
    {
        use spanlog::Instrument;
        let task = YieldTimes(1000).in_span(spanlog::start_span("task").start());
        let mut task = std::pin::pin!(task);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let _ = task.as_mut().poll(&mut cx); // warm-up
        check(
            "poll of an instrumented future",
            allocations(|| {
                for _ in 0..998 {
                    assert!(task.as_mut().poll(&mut cx).is_pending());
                }
            }),
        );
        let captured = spanlog::current();
        let task = YieldTimes(1000).in_context(captured.unwrap());
        let mut task = std::pin::pin!(task);
        check(
            "poll of a future in a captured context",
            allocations(|| {
                for _ in 0..1000 {
                    assert!(task.as_mut().poll(&mut cx).is_pending());
                }
            }),
        );
    }

    #[cfg(feature = "kv")]
    {
        let kv = LoggerBuilder::new()
            .config(config)
            .fields(spanlog::LogFields::KeyValues)
            .wrap(KvSink::default());
        info!(logger: &kv, user = "ana"; "warm");
        check(
            "log call inside a span (key-values)",
            allocations(|| {
                for i in 0..1000 {
                    info!(logger: &kv, user = "ana", n = i; "request");
                }
            }),
        );
        let seen = kv.inner().0.load(std::sync::atomic::Ordering::SeqCst);
        assert_eq!(
            seen,
            7 + 1000 * 8,
            "user, n and six dd.* pairs per line; the warm-up has no n"
        );
    }

    // JSON mode: spanlog's share of the allocations, measured against the same JSON
    // logger given the same key-values by hand. The JSON logger allocates for itself
    // (a map and a line per record); spanlog must add nothing to that.
    #[cfg(feature = "json")]
    {
        let json = || {
            structured_logger::Builder::with_level("trace")
                .with_default_writer(structured_logger::json::new_writer(std::io::sink()))
                .build()
        };
        let plain = json();
        let wrapped = LoggerBuilder::new()
            .config(Config::new().with_service("blog"))
            .fields(spanlog::LogFields::KeyValues)
            .wrap(json());
        let text = span.log().to_string();
        let field = |key: &str| {
            let start = text.find(&format!("{key}=\"")).unwrap() + key.len() + 2;
            text[start..start + text[start..].find('"').unwrap()].to_owned()
        };
        let (trace, span_id, parent) = (
            field("dd.trace_id"),
            field("dd.span_id"),
            field("dd.parent_id"),
        );
        let (trace, span_id, parent) = (trace.as_str(), span_id.as_str(), parent.as_str());
        info!(logger: &plain, "warm");
        info!(logger: &wrapped, "warm");
        let by_hand = allocations(|| {
            for i in 0..100 {
                info!(logger: &plain, n = i, "dd.service" = "blog", "dd.trace_id" = trace, "dd.span_id" = span_id, "dd.parent_id" = parent; "request");
            }
        });
        let through_spanlog = allocations(|| {
            for i in 0..100 {
                info!(logger: &wrapped, n = i; "request");
            }
        });
        assert!(by_hand > 0, "the JSON logger allocates for itself");
        check(
            "spanlog's share of a JSON log call",
            through_spanlog.saturating_sub(by_hand) + by_hand.saturating_sub(through_spanlog),
        );
    }

    drop(span);
    drop(outer);
    #[cfg(feature = "tracing")]
    tracing_events();
    #[cfg(feature = "tower")]
    a_request_through_the_server_layer();
    #[cfg(feature = "agent")]
    with_the_agent_exporter();
    #[cfg(feature = "opentelemetry")]
    inside_opentelemetry_spans(&go);
    println!("1 passed, 0 failed");
}

/// A line inside an active OpenTelemetry span, and inside a spanlog span nested in one:
/// no allocation per call once the span's text is made.
#[cfg(feature = "opentelemetry")]
fn inside_opentelemetry_spans(go: &spanlog::CorrelatingLogger<LastLine>) {
    use opentelemetry::Context;
    use opentelemetry::trace::{self as otel, TraceContextExt, TraceFlags, TraceState};

    let sc = otel::SpanContext::new(
        otel::TraceId::from_bytes(0x6b04d2e800000000e6a5cefc6c3cef4e_u128.to_be_bytes()),
        otel::SpanId::from_bytes(10582933694091117294_u64.to_be_bytes()),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    spanlog::opentelemetry::look_up_active_spans();
    let _otel = Context::new().with_remote_span_context(sc).attach();
    info!(logger: go, "warm");
    check(
        "log call inside an OpenTelemetry span",
        allocations(|| {
            for i in 0..1000 {
                info!(logger: go, "request {}", i);
            }
        }),
    );
    assert!(
        go.inner().last().contains(
            r#"dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294""#
        ),
        "{}",
        go.inner().last()
    );
    let inner = spanlog::start_span("db.query").entered();
    info!(logger: go, "warm");
    check(
        "log call inside a spanlog span inside an OpenTelemetry span",
        allocations(|| {
            for i in 0..1000 {
                info!(logger: go, "request {}", i);
            }
        }),
    );
    assert!(
        go.inner().last().contains(&format!(
            r#"dd.span_id="{}" dd.parent_id="10582933694091117294""#,
            inner.span_id()
        )),
        "{}",
        go.inner().last()
    );
}

/// A `tracing` event formatted by `fmt` inside a mirrored span: the correlation adds no
/// allocation to what the same subscriber does without it.
#[cfg(feature = "tracing")]
fn tracing_events() {
    use tracing_subscriber::layer::SubscriberExt;

    let per_event = |correlated: bool| {
        let fmt = tracing_subscriber::fmt::layer()
            .without_time()
            .with_ansi(false);
        let subscriber = tracing_subscriber::registry()
            .with(spanlog::tracing::SpanlogLayer::new())
            .with(match correlated {
                true => fmt
                    .with_writer(spanlog::tracing::CorrelatedWriter::text(std::io::sink))
                    .boxed(),
                false => fmt.with_writer(std::io::sink).boxed(),
            });
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("web.request");
            let _entered = span.enter();
            // Warm up: thread-local buffers grow, the span's ids are formatted once.
            for i in 0..10 {
                tracing::info!(i, "warm");
            }
            allocations(|| {
                for i in 0..1000 {
                    tracing::info!(i, "request");
                }
            })
        })
    };
    use tracing_subscriber::Layer as _;
    let (plain, correlated) = (per_event(false), per_event(true));
    check(
        "what the correlation adds to a tracing event",
        correlated.saturating_sub(plain),
    );
    println!("(the fmt layer itself: {plain} allocations for 1000 events)");
}

/// A request through `tower::ServerLayer`, with a W3C parent, allocates five times more
/// than through the bare service: the resource, `http.url`, `http.useragent`, the
/// span's out-of-line part and its tag list. The propagation headers are read in place,
/// and a `traceparent` alone builds no trace data.
#[cfg(feature = "tower")]
fn a_request_through_the_server_layer() {
    use std::future::{Future, Ready, ready};
    use std::task::{Context, Poll, Waker};
    use tower_layer::Layer;
    use tower_service::Service;

    #[derive(Clone, Copy)]
    struct Ok200;

    impl Service<http::Request<String>> for Ok200 {
        type Response = http::Response<String>;
        type Error = std::convert::Infallible;
        type Future = Ready<Result<http::Response<String>, std::convert::Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _: http::Request<String>) -> Self::Future {
            ready(Ok(http::Response::new(String::new())))
        }
    }

    fn request() -> http::Request<String> {
        http::Request::get("/posts/42")
            .header("host", "blog.example.com")
            .header("user-agent", "curl/8.5.0")
            .header(
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            )
            .body(String::new())
            .unwrap()
    }

    /// Allocations one request makes through `service`, its body drained.
    fn serve<S, B>(service: &mut S) -> usize
    where
        S: Service<http::Request<String>, Response = http::Response<B>>,
        S::Error: std::fmt::Debug,
        B: http_body::Body,
        B::Error: std::fmt::Debug,
    {
        let request = request();
        allocations(|| {
            let mut cx = Context::from_waker(Waker::noop());
            let mut call = std::pin::pin!(service.call(request));
            let Poll::Ready(response) = call.as_mut().poll(&mut cx) else {
                unreachable!("the service is ready at once")
            };
            let mut body = std::pin::pin!(response.unwrap().into_body());
            while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
                frame.unwrap();
            }
        })
    }

    let mut bare = Ok200;
    let mut traced = spanlog::tower::ServerLayer::new().layer(Ok200);
    // Warm up: the global propagator is read, thread-locals initialise.
    serve(&mut traced);
    let (bare, traced) = (serve(&mut bare), serve(&mut traced));
    assert_eq!(
        traced - bare,
        5,
        "a request through ServerLayer: {traced} allocations, bare: {bare}"
    );
    println!("a request through ServerLayer: 5 allocations more than the bare service");
}

/// With the agent exporter installed, a span with static strings and no tags costs no
/// allocation: it goes into this thread's buffer, which is handed over in a reused
/// vector. (The exporter sends to a port where nothing listens; that is its own
/// thread's business.)
#[cfg(feature = "agent")]
fn with_the_agent_exporter() {
    use std::time::Duration;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = spanlog::agent::AgentConfig::new()
        .with_address(&format!("http://127.0.0.1:{port}"))
        .unwrap()
        .with_max_retries(0);
    let agent = spanlog::agent::try_init(config).unwrap();
    let lifecycle = || {
        let _root = spanlog::start_span("request").resource("/posts").entered();
        let _child = spanlog::start_span("query").span_type("sql").entered();
    };
    // Warm up: this thread's buffer is made and registered, and a full batch goes to the
    // background thread, which empties it and keeps the vector for reuse.
    for _ in 0..200 {
        lifecycle();
    }
    agent.flush(Duration::from_secs(10));
    check(
        "span lifecycle with the agent exporter (128 spans, two hand-offs)",
        allocations(|| {
            for _ in 0..64 {
                lifecycle();
            }
        }),
    );
    agent.flush(Duration::from_secs(10));
    let stats = agent.stats();
    assert_eq!(
        stats.failed,
        200 * 2 + 128,
        "every span reached the exporter: {stats}"
    );
}

/// Pending `.0` times, then ready; logs nothing, allocates nothing.
struct YieldTimes(u32);

impl std::future::Future for YieldTimes {
    type Output = ();
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        std::hint::black_box(spanlog::stack::depth());
        if self.0 == 0 {
            return std::task::Poll::Ready(());
        }
        self.0 -= 1;
        std::task::Poll::Pending
    }
}

/// Counts the pairs it is shown; allocates nothing.
#[cfg(feature = "kv")]
#[derive(Default)]
struct KvSink(std::sync::atomic::AtomicUsize);

#[cfg(feature = "kv")]
impl log::Log for KvSink {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        struct Count<'a>(&'a std::sync::atomic::AtomicUsize);
        impl<'kvs> log::kv::VisitSource<'kvs> for Count<'_> {
            fn visit_pair(
                &mut self,
                _: log::kv::Key<'kvs>,
                v: log::kv::Value<'kvs>,
            ) -> Result<(), log::kv::Error> {
                // Touch the value, as a real logger would.
                std::hint::black_box(v.to_borrowed_str());
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(())
            }
        }
        let _ = record.key_values().visit(&mut Count(&self.0));
    }
    fn flush(&self) {}
}
