//! With an OpenTelemetry tracer provider registered through spanlog and no spanlog
//! exporter, spanlog's spans are exported through the provider: with the ids their log
//! lines carry, under their OpenTelemetry parent, with their times, tags and errors.
//! The service name, with `DD_SERVICE` unset, is dd-trace-rs's. Once a spanlog
//! exporter is installed, new spans go to it. Its own binary (global provider and
//! exporter); it runs itself as a child without `DD_SERVICE`.

mod common;

use std::borrow::Cow;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use opentelemetry::trace::{
    self as otel, SpanContext as OtelContext, Status, TraceContextExt, TraceFlags, TraceState,
    Tracer as _,
};
use opentelemetry::{Context, InstrumentationScope, KeyValue, Value};

/// What the provider received of one span.
#[derive(Clone, Debug)]
struct Ended {
    trace: u128,
    span: u64,
    parent: u64,
    name: String,
    start: SystemTime,
    end: SystemTime,
    attributes: Vec<KeyValue>,
    status: Status,
    /// Linked span ids and their attributes.
    links: Vec<(u64, Vec<KeyValue>)>,
    /// Event names and times.
    events: Vec<(String, SystemTime)>,
}

impl Ended {
    fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }
}

static ENDED: Mutex<Vec<Ended>> = Mutex::new(Vec::new());
static NEXT: AtomicU64 = AtomicU64::new(0x5000);

struct Provider;
struct Tracer;
struct Span(OtelContext, Ended);

impl otel::TracerProvider for Provider {
    type Tracer = Tracer;
    fn tracer_with_scope(&self, _: InstrumentationScope) -> Tracer {
        Tracer
    }
}

impl otel::Tracer for Tracer {
    type Span = Span;
    fn build_with_context(&self, builder: otel::SpanBuilder, parent: &Context) -> Span {
        let p = parent.span().span_context().clone();
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        let (trace, parent) = match p.is_valid() {
            true => (
                u128::from_be_bytes(p.trace_id().to_bytes()),
                u64::from_be_bytes(p.span_id().to_bytes()),
            ),
            false => ((0x6b00_0000_u128 << 96) | u128::from(id), 0),
        };
        let context = OtelContext::new(
            otel::TraceId::from_bytes(trace.to_be_bytes()),
            otel::SpanId::from_bytes(id.to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let start = builder.start_time.unwrap_or_else(SystemTime::now);
        let ended = Ended {
            trace,
            span: id,
            parent,
            name: builder.name.into_owned(),
            start,
            end: start,
            attributes: builder.attributes.unwrap_or_default(),
            status: Status::Unset,
            links: Vec::new(),
            events: Vec::new(),
        };
        Span(context, ended)
    }
}

impl otel::Span for Span {
    fn add_event_with_timestamp<T: Into<Cow<'static, str>>>(
        &mut self,
        name: T,
        at: SystemTime,
        _: Vec<KeyValue>,
    ) {
        self.1.events.push((name.into().into_owned(), at));
    }
    fn span_context(&self) -> &OtelContext {
        &self.0
    }
    fn is_recording(&self) -> bool {
        true
    }
    fn set_attribute(&mut self, attribute: KeyValue) {
        self.1.attributes.push(attribute);
    }
    fn set_status(&mut self, status: Status) {
        self.1.status = status;
    }
    fn update_name<T: Into<Cow<'static, str>>>(&mut self, _: T) {}
    fn add_link(&mut self, to: OtelContext, attributes: Vec<KeyValue>) {
        let span = u64::from_be_bytes(to.span_id().to_bytes());
        self.1.links.push((span, attributes));
    }
    fn end_with_timestamp(&mut self, end: SystemTime) {
        self.1.end = end;
        ENDED.lock().unwrap().push(self.1.clone());
    }
}

fn ended(span: spanlog::SpanId) -> Ended {
    let id = span.to_u64();
    ENDED
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.span == id)
        .cloned()
        .unwrap_or_else(|| panic!("span {id} did not reach the provider: {ENDED:?}"))
}

fn main() {
    if std::env::var_os("SPANLOG_OTEL_EXPORT_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .env("SPANLOG_OTEL_EXPORT_CHILD", "1")
            .env_remove("DD_SERVICE")
            .status()
            .unwrap();
        assert!(status.success(), "{status}");
        return;
    }
    spanlog::opentelemetry::set_tracer_provider(Provider);
    assert_eq!(
        spanlog::Config::global().service(),
        "unnamed-rust-service",
        "dd-trace-rs's default service"
    );

    // A spanlog span inside an OpenTelemetry span.
    let before = SystemTime::now();
    let tracer = opentelemetry::global::tracer("test");
    let (otel_root, child_id, child_trace) = tracer.in_span("otel.root", |cx| {
        let root = u64::from_be_bytes(cx.span().span_context().span_id().to_bytes());
        let mut child = spanlog::start_span("db.query")
            .resource("SELECT posts")
            .span_type("sql")
            .tag("db.system", "postgresql")
            .start();
        child.set_metric("db.rows", 3.0);
        child.record_error(&std::io::Error::other("connection reset"));
        let line = child.log().to_string();
        assert!(
            line.contains(&format!("dd.span_id=\"{}\"", child.span_id())),
            "{line}"
        );
        (root, child.span_id(), child.trace_id())
    });
    let child = ended(child_id);
    assert_eq!(child.parent, otel_root, "under the OpenTelemetry span");
    assert_eq!(child.trace, child_trace.to_u128());
    assert_eq!(child.name, "db.query");
    assert!(
        before <= child.start && child.start <= child.end,
        "{child:?}"
    );
    assert!(child.end <= SystemTime::now());
    let text = |key: &str| child.attribute(key).map(|v| v.as_str().into_owned());
    assert_eq!(text("operation.name").as_deref(), Some("db.query"));
    assert_eq!(text("resource.name").as_deref(), Some("SELECT posts"));
    assert_eq!(text("span.type").as_deref(), Some("sql"));
    assert_eq!(text("db.system").as_deref(), Some("postgresql"));
    assert_eq!(text("error.message").as_deref(), Some("connection reset"));
    assert_eq!(child.attribute("db.rows"), Some(&Value::F64(3.0)));
    assert_eq!(
        child.status,
        Status::error("connection reset"),
        "marked as failed"
    );

    // spanlog spans alone: a root and its child, one trace, parents kept.
    let root = spanlog::start_span("job").entered();
    let inner = spanlog::start_span("step").start();
    let (root_id, inner_id) = (root.span_id(), inner.span_id());
    assert_eq!(inner.parent_id(), root_id);
    drop(inner);
    let mut linked = spanlog::start_span("linked")
        .root()
        .link(spanlog::SpanLink::to(root.context()).attribute("reason", "batch"))
        .start();
    linked.add_event(spanlog::SpanEvent::new("retry", 1_764_000_000_000_000_000));
    let linked_id = linked.span_id();
    drop(linked);
    let linked = ended(linked_id);
    assert_eq!(
        linked.links,
        [(root_id.to_u64(), vec![KeyValue::new("reason", "batch")])],
        "links reach the provider"
    );
    assert_eq!(
        linked.events,
        [(
            "retry".to_owned(),
            std::time::UNIX_EPOCH + std::time::Duration::from_nanos(1_764_000_000_000_000_000)
        )]
    );
    drop(root);
    let (root, inner) = (ended(root_id), ended(inner_id));
    assert_eq!((root.parent, inner.parent), (0, root_id.to_u64()));
    assert_eq!(root.trace, inner.trace);

    // With a spanlog exporter installed, new spans go to it, not to the provider.
    let collect = common::Collect::default();
    spanlog::export::try_init(collect.clone()).unwrap();
    let sent = ENDED.lock().unwrap().len();
    drop(spanlog::start_span("after").start());
    assert_eq!(collect.named("after").name, "after");
    assert_eq!(
        ENDED.lock().unwrap().len(),
        sent,
        "not through the provider"
    );
    println!("opentelemetry_export: ok");
}
