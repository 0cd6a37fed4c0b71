//! `tracing` spans mirrored as spanlog spans, and `fmt` lines that carry their ids.
//! Every test scopes its own subscriber (`with_default`), so they run side by side.
#![cfg(feature = "tracing")]

mod common;

use std::io;
use std::sync::{Arc, Mutex};

use common::field;
use spanlog::tracing::{CorrelatedWriter, SpanlogLayer};
use tracing::Instrument as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Every byte the fmt layer writes, shared by clones.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// A registry with the layer and a text fmt layer (no time, no colours) into `out`.
fn text_subscriber(out: &Captured) -> impl tracing::Subscriber + Send + Sync + 'static {
    tracing_subscriber::registry()
        .with(SpanlogLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .without_time()
                .with_ansi(false)
                .with_writer(CorrelatedWriter::text(out.clone())),
        )
}

/// A registry with the layer and a JSON fmt layer into `out`.
fn json_subscriber(out: &Captured) -> impl tracing::Subscriber + Send + Sync + 'static {
    tracing_subscriber::registry()
        .with(SpanlogLayer::new())
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_writer(CorrelatedWriter::json(out.clone())),
        )
}

/// Runs `f` under [`text_subscriber`].
fn with_text<R>(out: &Captured, f: impl FnOnce() -> R) -> R {
    tracing::subscriber::with_default(text_subscriber(out), f)
}

fn ids() -> (String, String, String) {
    let c = spanlog::current().expect("a current span");
    let trace = c
        .trace_id()
        .for_logs(spanlog::Config::global().trace_id_128_logging());
    (
        trace.to_string(),
        c.span_id().to_string(),
        c.parent_id().to_string(),
    )
}

#[test]
fn events_inside_spans_end_with_the_correlation_text() {
    let out = Captured::default();
    let (request, query) = with_text(&out, || {
        let request = tracing::info_span!("web.request", resource.name = "/posts");
        let _r = request.enter();
        tracing::info!("my log message");
        let request_ids = ids();
        let query = tracing::info_span!("db.query");
        let _q = query.enter();
        tracing::info!(rows = 3, "querying posts");
        (request_ids, ids())
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let tail = |(trace, span, parent): &(String, String, String)| {
        format!(r#" dd.trace_id="{trace}" dd.span_id="{span}" dd.parent_id="{parent}""#)
    };
    assert!(lines[0].contains("my log message"), "{}", lines[0]);
    assert!(lines[0].ends_with(&tail(&request)), "{}", lines[0]);
    assert!(lines[1].ends_with(&tail(&query)), "{}", lines[1]);
    assert_eq!(request.2, "0");
    assert_eq!(query.0, request.0, "one trace");
    assert_eq!(query.2, request.1, "db.query is a child of web.request");
    assert_eq!(spanlog::stack::depth(), 0, "nothing left entered");
}

/// Builds a subscriber that writes into the given capture.
type MakeSubscriber = Box<dyn Fn(Captured) -> Box<dyn tracing::Subscriber + Send + Sync>>;

/// A registry with the layer and a fmt layer configured by the given calls, writing
/// through the correlating writer.
macro_rules! fmt_with {
    ($($configure:tt)*) => {
        Box::new(|out: Captured| -> Box<dyn tracing::Subscriber + Send + Sync> {
            Box::new(tracing_subscriber::registry().with(SpanlogLayer::new()).with(
                tracing_subscriber::fmt::layer()
                    $($configure)*
                    .with_writer(CorrelatedWriter::text(out)),
            ))
        }) as MakeSubscriber
    };
}

#[test]
fn every_format_option_keeps_the_fields_on_the_line() {
    let formats: Vec<(&str, MakeSubscriber)> = vec![
        ("full, ansi, time", fmt_with!(.with_ansi(true))),
        ("compact", fmt_with!(.compact())),
        ("pretty", fmt_with!(.pretty())),
        (
            "no target, no level",
            fmt_with!(.with_target(false).with_level(false)),
        ),
    ];
    for (name, make) in formats {
        let out = Captured::default();
        let expected = tracing::subscriber::with_default(make(out.clone()), || {
            let _span = tracing::info_span!("web.request").entered();
            tracing::warn!("hello");
            ids()
        });
        let text = out.lines().join("\n");
        let wanted = format!(
            r#"dd.trace_id="{}" dd.span_id="{}" dd.parent_id="0""#,
            expected.0, expected.1
        );
        // The ids end the event: its line, or the last of pretty's lines.
        assert!(text.contains("hello"), "{name}: {text}");
        assert!(text.trim_end().ends_with(&wanted), "{name}: {text:?}");
        assert_eq!(text.matches("dd.trace_id").count(), 1, "{name}: once");
    }
}

#[test]
fn python_style() {
    let out = Captured::default();
    let subscriber =
        tracing_subscriber::registry()
            .with(SpanlogLayer::new())
            .with(tracing_subscriber::fmt::layer().without_time().with_writer(
                CorrelatedWriter::text(out.clone()).style(spanlog::FieldStyle::Python),
            ));
    let (trace, span, _) = tracing::subscriber::with_default(subscriber, || {
        let _span = tracing::info_span!("job").entered();
        tracing::info!("ran");
        ids()
    });
    let line = &out.lines()[0];
    assert!(
        line.ends_with(&format!(" dd.trace_id={trace} dd.span_id={span}]")),
        "{line}"
    );
    assert!(line.contains(" [dd.service="), "{line}");
}

#[test]
fn json_lines_have_the_fields_at_the_root_as_strings() {
    let out = Captured::default();
    let subscriber = json_subscriber(&out);
    let (trace, span, parent) = tracing::subscriber::with_default(subscriber, || {
        let _outer = tracing::info_span!("web.request").entered();
        let _inner = tracing::info_span!("db.query", table = "posts").entered();
        tracing::info!(rows = 3, "querying posts");
        tracing::info!("second");
        ids()
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 2);
    for line in lines {
        let object: serde_json::Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(object["dd.trace_id"], trace.as_str(), "{line}");
        assert_eq!(object["dd.span_id"], span.as_str());
        assert_eq!(object["dd.parent_id"], parent.as_str());
        assert!(object["dd.service"].is_string(), "{line}");
        assert!(
            object["fields"]["message"].is_string(),
            "fmt's own fields stay: {line}"
        );
    }
}

/// An ERROR event with an error value among its fields: its JSON line has
/// `error.kind`, `error.message` and `error.stack` at the root; its text line has the
/// kind and message after the message; the lines after it carry nothing of it.
#[test]
fn an_error_event_carries_its_error_in_its_line() {
    let out = Captured::default();
    let subscriber = json_subscriber(&out);
    let error = io::Error::other("disk full");
    tracing::subscriber::with_default(subscriber, || {
        let _request = tracing::info_span!("web.request").entered();
        tracing::error!(error = &error as &dyn std::error::Error, "could not save");
        tracing::info!("after");
        tracing::error!("plain");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 3);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["error.kind"], "std::io::Error", "{}", lines[0]);
    assert_eq!(first["error.message"], "disk full");
    assert!(
        first["error.stack"]
            .as_str()
            .is_some_and(|s| s.starts_with("std::io::Error: disk full")),
        "{}",
        lines[0]
    );
    assert!(first["dd.span_id"].is_string());
    for line in &lines[1..] {
        assert!(!line.contains("error.kind"), "{line}");
    }

    let out = Captured::default();
    with_text(&out, || {
        let _request = tracing::info_span!("web.request").entered();
        tracing::error!(error = &error as &dyn std::error::Error, "could not save");
    });
    let line = &out.lines()[0];
    assert!(
        line.contains(r#" error.kind=std::io::Error error.message="disk full" dd.service="#),
        "{line}"
    );
    assert!(!line.contains("error.stack"), "{line}");
}

#[test]
fn outside_any_span_lines_have_no_ids() {
    let out = Captured::default();
    with_text(&out, || tracing::info!("alone"));
    let line = &out.lines()[0];
    assert!(!line.contains("dd.trace_id"), "{line}");
}

#[test]
fn the_two_kinds_of_span_nest_in_each_other() {
    let out = Captured::default();
    with_text(&out, || {
        let outer = spanlog::start_span("spanlog.outer").entered();
        let tracing_span = tracing::info_span!("tracing.middle");
        let middle = tracing_span.enter();
        let (trace, middle_id, middle_parent) = ids();
        assert_eq!(
            middle_parent,
            outer.span_id().to_string(),
            "tracing inside spanlog"
        );
        assert_eq!(trace, outer.trace_id().for_logs(true).to_string());
        let inner = spanlog::start_span("spanlog.inner").entered();
        assert_eq!(
            inner.parent_id().to_string(),
            middle_id,
            "spanlog inside tracing"
        );
        tracing::info!("deep");
        // And a tracing span inside that spanlog span is its child: the innermost of
        // either kind is the parent.
        let innermost = tracing::info_span!("tracing.innermost");
        let entered = innermost.enter();
        let (_, _, parent) = ids();
        assert_eq!(
            parent,
            inner.span_id().to_string(),
            "tracing inside spanlog inside tracing"
        );
        drop(entered);
        // An explicit parent wins over the innermost.
        let explicit = tracing::info_span!(parent: &tracing_span, "tracing.explicit");
        let entered = explicit.enter();
        assert_eq!(ids().2, middle_id, "explicit parent");
        drop(entered);
        drop(inner);
        drop(middle);
        assert_eq!(spanlog::current().unwrap().span_id(), outer.span_id());
    });
    assert!(
        out.lines()[0].contains("dd.parent_id=\""),
        "{:?}",
        out.lines()
    );
    assert_eq!(spanlog::stack::depth(), 0);
}

#[test]
fn spans_entered_twice_closed_elsewhere_never_entered_or_disabled_leave_nothing() {
    let out = Captured::default();
    let subscriber = text_subscriber(&out).with(tracing_subscriber::filter::LevelFilter::INFO);
    tracing::subscriber::with_default(subscriber, || {
        // Re-entered while entered.
        let span = tracing::info_span!("twice");
        let a = span.enter();
        let b = span.enter();
        let id = spanlog::current().unwrap().span_id();
        assert_eq!(spanlog::stack::depth(), 2);
        drop(b);
        assert_eq!(spanlog::current().unwrap().span_id(), id);
        drop(a);
        assert_eq!(spanlog::stack::depth(), 0);
        // Never entered, closed on another thread.
        let never = tracing::info_span!("never");
        std::thread::spawn(move || drop(never)).join().unwrap();
        assert_eq!(spanlog::stack::depth(), 0);
        // None and disabled spans are not mirrored.
        let none = tracing::Span::none();
        let _n = none.enter();
        assert!(spanlog::current().is_none());
        let trace_level = tracing::trace_span!("too verbose");
        let _t = trace_level.enter();
        tracing::info!("no span here");
    });
    let lines = out.lines();
    assert!(!lines.last().unwrap().contains("dd.trace_id"), "{lines:?}");
    assert_eq!(spanlog::stack::depth(), 0);
}

/// A per-layer filter that hides spans from the mirror: they are not mirrored.
#[test]
fn a_per_layer_filter_hides_spans_from_the_mirror() {
    use tracing_subscriber::Layer as _;
    // A second layer that sees everything keeps `hidden` enabled (with an id) in the
    // subscriber: only spanlog's layer is filtered.
    let subscriber = tracing_subscriber::registry()
        .with(
            SpanlogLayer::new().with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                meta.name() != "hidden"
            })),
        )
        .with(tracing_subscriber::fmt::layer().with_writer(io::sink));
    tracing::subscriber::with_default(subscriber, || {
        let shown = tracing::info_span!("shown").entered();
        let id = spanlog::current().unwrap().span_id();
        let hidden = tracing::info_span!("hidden").entered();
        assert_eq!(
            spanlog::current().unwrap().span_id(),
            id,
            "hidden is not current"
        );
        // A span whose explicit parent is hidden hangs under the nearest one shown.
        assert!(hidden.id().is_some(), "enabled in the subscriber");
        let below = tracing::info_span!(parent: hidden.id(), "below").entered();
        assert_eq!(spanlog::current().unwrap().parent_id(), id);
        drop(below);
        drop(hidden);
        drop(shown);
    });
    assert_eq!(spanlog::stack::depth(), 0);
}

#[test]
fn instrumented_tasks_keep_their_own_trace_on_every_worker() {
    let out = Captured::default();
    let dispatch = tracing::Dispatch::new(text_subscriber(&out));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut tasks = Vec::new();
        for n in 0..1_000u32 {
            let dispatch = dispatch.clone();
            let task = async move {
                for step in 0..3 {
                    tracing::info!(task = n, step, "working");
                    tokio::task::yield_now().await;
                }
            };
            let task = tracing::dispatcher::with_default(&dispatch, || {
                let span = tracing::info_span!("task", n);
                tracing::instrument::WithSubscriber::with_subscriber(
                    task.instrument(span),
                    dispatch.clone(),
                )
            });
            tasks.push(tokio::spawn(task));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    // Every worker's stack is empty again.
    let depths: Vec<usize> = runtime.block_on(async {
        let mut depths = Vec::new();
        for _ in 0..8 {
            depths.push(
                tokio::spawn(async { spanlog::stack::depth() })
                    .await
                    .unwrap(),
            );
        }
        depths
    });
    assert!(depths.iter().all(|&d| d == 0), "{depths:?}");
    let lines = out.lines();
    assert_eq!(lines.len(), 3_000, "{:?}", &lines[..3.min(lines.len())]);
    let mut trace_of_task = std::collections::HashMap::new();
    for line in &lines {
        let task: u32 = line
            .split("task=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let trace = field(line, "dd.trace_id").to_owned();
        let known = trace_of_task.entry(task).or_insert_with(|| trace.clone());
        assert_eq!(*known, trace, "task {task} kept its trace: {line}");
    }
    let traces: std::collections::HashSet<_> = trace_of_task.values().collect();
    assert_eq!(traces.len(), 1_000, "one trace per task");
}

/// A value whose `Debug` makes a tracing span of its own, recorded on a span later:
/// the layer must not hold its lock while formatting (a deadlock with the old code).
#[test]
fn recording_a_value_that_makes_spans_does_not_deadlock() {
    struct Noisy;
    impl std::fmt::Debug for Noisy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            // Sixteen at once: one of them lands in the recorded span's shard.
            let _inner: Vec<_> = (0..16)
                .map(|_| tracing::info_span!("made.while.formatting"))
                .collect();
            f.write_str("noisy")
        }
    }
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let subscriber = tracing_subscriber::registry().with(SpanlogLayer::new());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..4 {
                let span = tracing::info_span!("recording", value = tracing::field::Empty);
                span.record("value", tracing::field::debug(Noisy));
            }
        });
        let _ = done.send(());
    });
    assert!(
        finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_ok(),
        "recording deadlocked"
    );
}
