//! Finished spans reach the installed exporter: with the right duration when a span
//! ends on another thread than it started on, and when an instrumented future is
//! dropped before completing. Its own binary: it installs the global exporter.

mod common;

use std::time::Duration;

use common::Collect;
use spanlog::Instrument;

fn main() {
    let collect = Collect::default();
    spanlog::export::try_init(collect.clone()).unwrap();
    assert!(
        spanlog::export::try_init(Collect::default()).is_err(),
        "installed once"
    );

    // Started on this thread, finished on another after 30 ms.
    let span = spanlog::start_span("moved").resource("/move").start();
    let trace = span.trace_id();
    let before = spanlog::stack::depth();
    std::thread::spawn(move || {
        let _local = spanlog::start_span("local to b").entered();
        let depth = spanlog::stack::depth();
        std::thread::sleep(Duration::from_millis(30));
        drop(span);
        assert_eq!(
            spanlog::stack::depth(),
            depth,
            "finishing never touches this thread's stack"
        );
        assert!(spanlog::current().is_some());
    })
    .join()
    .unwrap();
    assert_eq!(spanlog::stack::depth(), before);
    let moved = collect.named("moved");
    assert_eq!(moved.context.trace_id(), trace);
    assert_eq!(moved.resource, "/move");
    assert!(
        moved.duration_nanos >= 30_000_000,
        "{} ns",
        moved.duration_nanos
    );
    assert!(
        moved.duration_nanos < 5_000_000_000,
        "{} ns",
        moved.duration_nanos
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64;
    assert!((now - moved.start_unix_nanos) < 10_000_000_000 && now > moved.start_unix_nanos);

    // A future dropped before it completes finishes its span.
    let never = std::future::pending::<()>().in_span(spanlog::start_span("abandoned").start());
    let mut never = Box::pin(never);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(never.as_mut().poll(&mut cx).is_pending());
    assert!(
        collect
            .0
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.name != "abandoned")
    );
    drop(never);
    collect.named("abandoned");

    // A completed future finishes its span as soon as it completes.
    let mut done =
        Box::pin(std::future::ready(7).in_span(spanlog::start_span("completed").start()));
    assert_eq!(done.as_mut().poll(&mut cx), std::task::Poll::Ready(7));
    collect.named("completed");

    // Error flag and tags travel with the span.
    let mut failed = spanlog::start_span("failed").tag("k", "v").entered();
    failed
        .span_mut()
        .record_error(&std::io::Error::other("disk full"));
    drop(failed);
    let failed = collect.named("failed");
    assert!(failed.error);
    assert!(
        failed
            .meta
            .iter()
            .any(|(k, v)| k == "error.message" && v == "disk full")
    );
    assert!(failed.meta.iter().any(|(k, v)| k == "k" && v == "v"));

    // What a span keeps out of line arrives as set: a span type given as a `String`
    // (a `&'static str` is kept inline), a service, metrics, an error set then cleared.
    let mut typed = spanlog::start_span("typed")
        .span_type(String::from("queue"))
        .service("billing")
        .start();
    typed.set_metric("retries", 2.0);
    typed.set_error(true);
    typed.set_error(false);
    drop(typed);
    let typed = collect.named("typed");
    assert_eq!(typed.span_type.as_deref(), Some("queue"));
    assert_eq!(typed.service.as_deref(), Some("billing"));
    assert_eq!(typed.metrics, vec![("retries".into(), 2.0)]);
    assert!(!typed.error);
    // The last span type set wins, inline or not.
    drop(
        spanlog::start_span("retyped")
            .span_type(String::from("queue"))
            .span_type("web")
            .start(),
    );
    assert_eq!(collect.named("retyped").span_type.as_deref(), Some("web"));
    drop(
        spanlog::start_span("retyped again")
            .span_type("web")
            .span_type(String::from("sql"))
            .start(),
    );
    let retyped = collect.named("retyped again");
    assert_eq!(retyped.span_type.as_deref(), Some("sql"));
    assert_eq!(retyped.service, None);
    assert!(!retyped.error);

    timestamps_match_the_clocks_read_around_them(&collect);
    println!("1 passed, 0 failed");
}

/// Wall-clock time in unix nanoseconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i64
}

/// A span's start is within 1 ms of the wall clock read just before it started (or
/// after it finished), and its duration within 1 ms of the monotonic time read around
/// it. Nothing here depends on how the threads are scheduled: a reading taken late only
/// widens the window read around the span, and the anchor that places the fast clock
/// on the wall clock is read again when its thread is interrupted. The bound covers
/// what remains: the fast clock's rate against the wall clock over the anchor's
/// one-second life (NTP may slew the wall clock by up to 500 ppm); in practice the
/// error is a few microseconds. Checked on this thread, on another thread, and for
/// spans that finish on another thread than they started on.
fn timestamps_match_the_clocks_read_around_them(collect: &Collect) {
    const BOUND: i64 = 1_000_000;
    let check = |name: &str, before: i64, after: i64, elapsed: Duration| {
        let span = collect.named(name);
        assert!(
            span.start_unix_nanos >= before - BOUND && span.start_unix_nanos <= after + BOUND,
            "{name}: start {} not in {before}..{after}",
            span.start_unix_nanos
        );
        let elapsed = elapsed.as_nanos() as i64;
        assert!(
            span.duration_nanos >= 0 && span.duration_nanos <= elapsed + BOUND,
            "{name}: duration {} vs {elapsed} measured around it",
            span.duration_nanos
        );
        assert!(
            span.start_unix_nanos + span.duration_nanos <= after + BOUND,
            "{name} ends in the future"
        );
    };
    for (name, pause) in [("clock here", 0), ("clock here 2 ms", 2)] {
        let (before, started) = (unix_now(), std::time::Instant::now());
        let span = spanlog::start_span(name).entered();
        std::thread::sleep(Duration::from_millis(pause));
        drop(span);
        let (after, elapsed) = (unix_now(), started.elapsed());
        check(name, before, after, elapsed);
        assert!(collect.named(name).duration_nanos >= pause as i64 * 1_000_000);
    }
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for name in ["clock there", "clock there again"] {
                let (before, started) = (unix_now(), std::time::Instant::now());
                drop(spanlog::start_span(name).entered());
                let (after, elapsed) = (unix_now(), started.elapsed());
                check(name, before, after, elapsed);
            }
        });
    });
    let (before, started) = (unix_now(), std::time::Instant::now());
    let span = spanlog::start_span("clock moved").start();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(3));
        drop(span);
    })
    .join()
    .unwrap();
    let (after, elapsed) = (unix_now(), started.elapsed());
    check("clock moved", before, after, elapsed);
}
