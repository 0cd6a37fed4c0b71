//! Logging, and dropping span guards, from thread-local destructors: before and after
//! spanlog's own thread-local stack is torn down. Nothing may panic and no record may
//! be lost. Its own binary: it installs the global logger.

mod common;

use std::cell::RefCell;

use common::Shared;
use log::info;

struct LogOnDrop(&'static str);

impl Drop for LogOnDrop {
    fn drop(&mut self) {
        info!("dtor {}", self.0);
    }
}

/// Starts the thread's first span, and logs inside it, from a destructor.
struct SpanOnDrop;

impl Drop for SpanOnDrop {
    fn drop(&mut self) {
        let span = spanlog::start_span("late").entered();
        info!("dtor span {}", span.span_id());
    }
}

thread_local! {
    static SPAN_DTOR: RefCell<Option<SpanOnDrop>> = const { RefCell::new(None) };
    static LOGGER_DTOR: RefCell<Option<LogOnDrop>> = const { RefCell::new(None) };
    static HELD_SPAN: RefCell<Option<spanlog::EnteredSpan>> = const { RefCell::new(None) };
}

fn main() {
    let shared = Shared::default();
    spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(shared.clone())
        .init();

    // Our thread-locals first, spanlog's stack after: on exit the stack goes first
    // (destructors run in reverse order of registration), then ours find it gone.
    let stack_first = std::thread::spawn(|| {
        LOGGER_DTOR.with(|slot| *slot.borrow_mut() = Some(LogOnDrop("after stack")));
        HELD_SPAN.with(|slot| *slot.borrow_mut() = Some(spanlog::start_span("held").entered()));
        info!("in thread one");
    });
    // spanlog's stack first, ours after: ours run while the stack is still there.
    let stack_last = std::thread::spawn(|| {
        let _outer = spanlog::start_span("warm").entered();
        drop(_outer);
        HELD_SPAN.with(|slot| *slot.borrow_mut() = Some(spanlog::start_span("held").entered()));
        LOGGER_DTOR.with(|slot| *slot.borrow_mut() = Some(LogOnDrop("before stack")));
        info!("in thread two");
    });
    // rand's thread-local generator torn down before the thread's first span id is
    // drawn: ids come from elsewhere, and nothing aborts.
    let rand_first = std::thread::spawn(|| {
        SPAN_DTOR.with(|slot| *slot.borrow_mut() = Some(SpanOnDrop));
        let _: u64 = rand::RngExt::random(&mut rand::rng());
    });
    stack_first.join().expect("no panic in thread one");
    stack_last.join().expect("no panic in thread two");
    rand_first.join().expect("no panic in thread three");

    let lines = shared.lines();
    let find = |prefix: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("lost {prefix:?}: {lines:?}"))
            .clone()
    };
    assert!(find("in thread one ").contains("dd.span_id="));
    assert!(find("in thread two ").contains("dd.span_id="));
    // With the stack gone the line still arrives, without ids.
    assert_eq!(find("dtor after stack"), "dtor after stack");
    let _ = find("dtor before stack");
    let late = find("dtor span ");
    let id = late.split(' ').nth(2).unwrap();
    assert_ne!(id, "0", "{late}");
    assert!(
        late.ends_with(&format!(r#"dd.span_id="{id}""#))
            || late.contains(&format!(r#"dd.span_id="{id}" "#)),
        "{late}"
    );
    #[cfg(not(feature = "opentelemetry"))]
    assert_eq!(lines.len(), 5, "{lines:?}");
    #[cfg(feature = "opentelemetry")]
    {
        // Ours first, OpenTelemetry's context after (with a span active): on exit the
        // context goes first, then our destructor logs, and spanlog must not touch
        // OpenTelemetry's context then (that access would panic).
        let otel_first = std::thread::spawn(|| {
            use opentelemetry::trace::{self as otel, TraceContextExt};
            spanlog::opentelemetry::look_up_active_spans();
            LOGGER_DTOR.with(|slot| *slot.borrow_mut() = Some(LogOnDrop("after otel")));
            let sc = otel::SpanContext::new(
                otel::TraceId::from_bytes(9_u128.to_be_bytes()),
                otel::SpanId::from_bytes(10_u64.to_be_bytes()),
                otel::TraceFlags::SAMPLED,
                true,
                otel::TraceState::default(),
            );
            let guard = opentelemetry::Context::new()
                .with_remote_span_context(sc)
                .attach();
            info!("in otel");
            // Leaked: the context stays attached until the thread's locals go.
            std::mem::forget(guard);
        });
        otel_first
            .join()
            .expect("no panic in the OpenTelemetry thread");
        let lines = shared.lines();
        let line = |prefix: &str| lines.iter().find(|l| l.starts_with(prefix)).cloned();
        assert_eq!(
            line("in otel").as_deref(),
            Some(r#"in otel dd.trace_id="9" dd.span_id="10" dd.parent_id="0""#)
        );
        assert_eq!(line("dtor after otel").as_deref(), Some("dtor after otel"));
        assert_eq!(lines.len(), 7, "{lines:?}");
    }
    println!("1 passed, 0 failed");
}
