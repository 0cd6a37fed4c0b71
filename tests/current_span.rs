//! The current span from anywhere: tags, resource and errors set by code that does not
//! hold the span, applied when it finishes; ERROR lines marking their span. Its own
//! binary: it installs the global exporter.

mod common;

use common::{Capture, Collect};
use spanlog::Instrument;

fn meta<'a>(span: &'a spanlog::export::FinishedSpan, key: &str) -> Option<&'a str> {
    span.meta
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_ref())
}

#[derive(Debug)]
struct QueryFailed(std::io::Error);

impl std::fmt::Display for QueryFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the query failed")
    }
}

impl std::error::Error for QueryFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A nested function with no guard at hand.
fn query() -> Result<u32, QueryFailed> {
    spanlog::with_current_span(|span| {
        span.set_tag("db.table", "posts");
        span.set_metric("db.rows", 3.0);
        span.set_resource("SELECT * FROM posts");
    });
    spanlog::record_result(Err(QueryFailed(std::io::Error::other("connection reset"))))
}

fn main() {
    let collect = Collect::default();
    spanlog::export::try_init(collect.clone()).unwrap();

    // Outside any span: nothing runs, nothing is recorded.
    assert!(spanlog::with_current_span(|_| unreachable!()).is_none());
    assert!(spanlog::record_result(Err::<(), _>(std::fmt::Error)).is_err());

    // Tags, a metric, the resource and an error from a nested function.
    {
        let _request = spanlog::start_span("from.nested").entered();
        assert!(query().is_err());
    }
    let span = collect.named("from.nested");
    assert!(span.error);
    assert_eq!(span.resource, "SELECT * FROM posts");
    assert_eq!(meta(&span, "db.table"), Some("posts"));
    assert!(
        span.metrics
            .iter()
            .any(|(k, v)| k == "db.rows" && *v == 3.0)
    );
    assert_eq!(meta(&span, "error.message"), Some("the query failed"));
    assert!(meta(&span, "error.type").unwrap().ends_with("QueryFailed"));
    let stack = meta(&span, "error.stack").unwrap();
    assert!(
        stack.contains("the query failed\nCaused by: connection reset"),
        "{stack}"
    );

    // Inside an instrumented future, polled on another thread, finished there.
    let future = async {
        spanlog::with_current_span(|span| span.set_tag("from", "future"));
    }
    .in_span(spanlog::start_span("in.future").start());
    std::thread::spawn(move || {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        assert!(future.as_mut().poll(&mut cx).is_ready());
    })
    .join()
    .unwrap();
    assert_eq!(meta(&collect.named("in.future"), "from"), Some("future"));

    // A span entered on one thread, changed on another through its context, finished
    // on the first.
    let held = spanlog::start_span("held.elsewhere").start();
    let context = held.context().clone();
    std::thread::spawn(move || {
        let _entered = context.enter();
        spanlog::with_current_span(|span| span.set_tag("worker", "b"));
    })
    .join()
    .unwrap();
    drop(held);
    assert_eq!(meta(&collect.named("held.elsewhere"), "worker"), Some("b"));

    // ERROR lines mark their span with the message; WARN lines do not; the switch
    // turns it off.
    let logger = spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(Capture::new());
    let quiet = spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .mark_error_spans(false)
        .wrap(Capture::new());
    {
        let _warned = spanlog::start_span("warned").entered();
        log::warn!(logger: &logger, "slow query");
        log::error!(logger: &quiet, "not the request's own failure");
    }
    {
        let _failed = spanlog::start_span("failed").entered();
        log::error!(logger: &logger, "payment declined for order {}", 42);
    }
    assert!(!collect.named("warned").error);
    let failed = collect.named("failed");
    assert!(failed.error);
    assert_eq!(
        meta(&failed, "error.message"),
        Some("payment declined for order 42")
    );
    assert_eq!(
        logger.inner().lines().len(),
        2,
        "every line still goes through"
    );
    println!("1 passed, 0 failed");
}
