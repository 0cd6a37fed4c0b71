//! Instruction counts of the `log_call` and `span_lifecycle` stacks, for callgrind.
//!
//! Wall-clock medians on a shared 2-core VM move by tens of percent between runs; the
//! number of instructions does not. `benches/instructions.sh` runs each stack here
//! under `valgrind --tool=callgrind` for two iteration counts and prints the
//! difference per iteration, which leaves set-up and tear-down out.
//!
//! `cargo bench -p spanlog-benches --bench instructions -- <stack> <iterations>`

mod common;

use std::hint::black_box;

use log::info;

fn main() {
    let mut args = std::env::args().skip(1).filter(|a| a != "--bench");
    let (Some(stack), Some(n)) = (args.next(), args.next().and_then(|n| n.parse::<u64>().ok()))
    else {
        eprintln!("usage: instructions <stack> <iterations>");
        return;
    };
    log::set_max_level(log::LevelFilter::Trace);
    // fastrace's collector is a thread that callgrind would count too: start it only
    // for the stacks that use fastrace.
    if stack.contains("fastrace") {
        common::fastrace_setup();
    }
    let inner = common::BufferLogger;
    let text = common::spanlog_logger(spanlog::LogFields::Text);
    let kv = common::spanlog_logger(spanlog::LogFields::KeyValues);
    match stack.as_str() {
        "inner_only" => (0..n).for_each(|i| info!(logger: &inner, "request {}", i)),
        "spanlog_no_span" => (0..n).for_each(|i| info!(logger: &text, "request {}", i)),
        "spanlog_span" => {
            let _span = spanlog::start_span("web.request").entered();
            (0..n).for_each(|i| info!(logger: &text, "request {}", i));
        }
        "spanlog_span_depth8" => {
            let _spans: Vec<_> = (0..8)
                .map(|_| spanlog::start_span("level").entered())
                .collect();
            (0..n).for_each(|i| info!(logger: &text, "request {}", i));
        }
        "spanlog_first_line" => {
            // A new span each time, and one line in it: the line formats the span's ids.
            let _root = spanlog::start_span("root").entered();
            (0..n).for_each(|i| {
                let _span = spanlog::start_span("work").entered();
                info!(logger: &text, "request {}", i);
            });
        }
        "spanlog_first_line_new_trace" => {
            // A new trace each time, and one line in its root: nothing to copy from.
            (0..n).for_each(|i| {
                let _span = spanlog::start_span("work").root().entered();
                info!(logger: &text, "request {}", i);
            });
        }
        "spanlog_first_line_after_parent" => {
            // The same, where the parent has logged (a request span, then its queries):
            // the trace and parent digits are copied from the parent's text.
            let _root = spanlog::start_span("root").entered();
            info!(logger: &text, "request");
            (0..n).for_each(|i| {
                let _span = spanlog::start_span("work").entered();
                info!(logger: &text, "request {}", i);
            });
        }
        "spanlog_error_line" => {
            // An ERROR line: it marks its span (with the line's message).
            let _span = spanlog::start_span("web.request").entered();
            (0..n).for_each(|i| log::error!(logger: &text, "request {}", i));
        }
        "spanlog_error_line_with_error" => {
            // An ERROR line that carries an error with one cause: its kind, message and
            // stack are made, written after the message, and set on its span.
            let _span = spanlog::start_span("web.request").entered();
            let error = common::LoadError::new();
            (0..n).for_each(|i| log::error!(logger: &text, error:err = error; "request {}", i));
        }
        "spanlog_kv" => {
            let _span = spanlog::start_span("web.request").entered();
            (0..n).for_each(|i| info!(logger: &kv, "request {}", i));
        }
        "tracing_fmt_span" => {
            let (_default, bridge) = common::tracing_stack();
            let span = common::tracing_span();
            let _entered = span.enter();
            (0..n).for_each(|i| info!(logger: &bridge, "request {}", i));
        }
        "logforth_fastrace" => {
            let bridge = common::logforth_stack();
            let root = common::fastrace_root();
            let _parent = root.set_local_parent();
            let _local = fastrace::local::LocalSpan::enter_with_local_parent("web.request");
            (0..n).for_each(|i| info!(logger: &bridge, "request {}", i));
        }
        "lifecycle_spanlog" => {
            let _root = spanlog::start_span("root").entered();
            (0..n).for_each(|_| {
                let span = spanlog::start_span("work").entered();
                black_box(&span);
            });
        }
        "lifecycle_spanlog_noop_export" => {
            common::noop_exporter();
            export_loop(n);
        }
        "lifecycle_spanlog_agent_export" => {
            let _agent = common::agent_to_sink();
            export_loop(n);
        }
        // The exporter thread's work per span (counted in `Worker::send*`), for
        // 10-span traces: to a sink that answers `{}` to `/info` (no stats), or to one
        // that takes client-side stats (`_stats`), every trace kept.
        "exporter_thread" | "exporter_thread_stats" => {
            if stack.ends_with("_stats") {
                common::TAKES_STATS.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let agent = common::agent_to_sink();
            for _ in 0..n / 10 {
                common::spanlog_trace(10);
            }
            assert!(agent.flush(std::time::Duration::from_secs(60)));
        }
        // One request through HTTP server middleware (see `benches/http.rs`), the
        // service alone as the floor.
        "http_no_layer" => {
            let mut service = common::http::Ok200;
            (0..n).for_each(|_| common::http::serve(&mut service));
        }
        // No exporter; a no-op exporter (`_export`: the finished span converted and
        // handed over on this thread); the agent exporter to a local sink (`_agent`:
        // handed to its buffer, encoded, sent and freed on its own thread).
        "http_spanlog" | "http_spanlog_export" | "http_spanlog_agent" => {
            use tower::Layer;
            let _agent = match stack.as_str() {
                "http_spanlog_export" => {
                    common::noop_exporter();
                    None
                }
                "http_spanlog_agent" => Some(common::agent_to_sink()),
                _ => None,
            };
            let mut service = spanlog::tower::ServerLayer::new().layer(common::http::Ok200);
            (0..n).for_each(|_| common::http::serve(&mut service));
        }
        "http_tower_http" => {
            use tower::Layer;
            let _registry = tracing::subscriber::set_default(tracing_subscriber::registry());
            let layer = tower_http::trace::TraceLayer::new_for_http();
            let mut service = layer.layer(common::http::Ok200);
            (0..n).for_each(|_| common::http::serve(&mut service));
        }
        "lifecycle_spanlog_root" => (0..n).for_each(|_| {
            let span = spanlog::start_span("work").entered();
            black_box(&span);
        }),
        "lifecycle_fastrace" => {
            for batch in 0..n.div_ceil(1000) {
                let root = common::fastrace_root();
                let _parent = root.set_local_parent();
                for _ in 0..(n - batch * 1000).min(1000) {
                    let span = fastrace::local::LocalSpan::enter_with_local_parent("work");
                    black_box(&span);
                }
            }
        }
        "lifecycle_tracing_spanlog" => {
            use tracing_subscriber::layer::SubscriberExt;
            tracing_children(
                tracing_subscriber::registry().with(spanlog::tracing::SpanlogLayer::new()),
                n,
            );
        }
        "lifecycle_tracing_child" => tracing_children(tracing_subscriber::registry(), n),
        "lifecycle_tracing" => {
            let _default = tracing::subscriber::set_default(tracing_subscriber::registry());
            (0..n).for_each(|_| {
                let span = tracing::info_span!("work");
                let entered = span.enter();
                black_box(&entered);
            });
        }
        other => eprintln!("unknown stack {other}"),
    }
    if std::env::var_os("SHOW_LINE").is_some() {
        println!("{}", common::last_line());
    }
}

/// Child spans under an entered root, with an exporter installed. Counted on its own
/// (`--toggle-collect=instructions::export_loop`): installing an exporter calibrates
/// the fast clock, which takes a number of rounds that varies from run to run.
#[inline(never)]
fn export_loop(n: u64) {
    let _root = spanlog::start_span("root").entered();
    (0..n).for_each(|_| {
        let span = spanlog::start_span("work").entered();
        black_box(&span);
    });
}

/// `n` tracing child spans under an entered root, on `subscriber`.
fn tracing_children(subscriber: impl tracing::Subscriber + Send + Sync + 'static, n: u64) {
    let _default = tracing::subscriber::set_default(subscriber);
    let root = tracing::info_span!("request");
    let _root = root.enter();
    (0..n).for_each(|_| {
        let span = tracing::info_span!("work");
        let entered = span.enter();
        black_box(&entered);
    });
}
