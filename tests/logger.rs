//! The wrapper's output, checked byte for byte through a capturing inner logger. No
//! global logger is installed here: every record goes through a logger value.

mod common;

use common::{Capture, field};
use log::{Level, LevelFilter, Log, Metadata, info};
use spanlog::{Config, FieldStyle, LoggerBuilder, SpanId, TraceId, start_span};

fn blog() -> Config {
    Config::new()
        .with_service("blog")
        .with_env("prod")
        .with_version("1.2.3")
}

fn wrap(config: Config) -> spanlog::CorrelatingLogger<Capture> {
    LoggerBuilder::new().config(config).wrap(Capture::new())
}

fn expected_go(message: &str, span: &spanlog::Span, prefix: &str) -> String {
    let trace = span.trace_id();
    let trace = if trace.high() != 0 {
        format!("{trace:032x}")
    } else {
        trace.low().to_string()
    };
    format!(
        r#"INFO {message} {prefix}dd.trace_id="{trace}" dd.span_id="{}" dd.parent_id="{}""#,
        span.span_id(),
        span.parent_id()
    )
}

#[test]
fn go_style_line_inside_a_span() {
    let logger = wrap(blog());
    let span = start_span("web.request").resource("/posts").entered();
    info!(logger: &logger, "my log message");
    assert_eq!(
        logger.inner().lines(),
        [expected_go(
            "my log message",
            &span,
            "dd.service=blog dd.env=prod dd.version=1.2.3 "
        )]
    );
    assert!(span.trace_id().high() != 0, "128-bit ids by default");
}

#[test]
fn spec_vector_through_the_logger() {
    let logger = wrap(blog());
    let context = spanlog::SpanContext::new(
        TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e),
        SpanId::from_u64(10582933694091117294),
    );
    let _guard = context.enter();
    info!(logger: &logger, "my log message");
    assert_eq!(
        logger.inner().lines(),
        [
            r#"INFO my log message dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="10582933694091117294" dd.parent_id="0""#
        ]
    );
    let python = LoggerBuilder::new()
        .config(blog())
        .style(FieldStyle::Python)
        .wrap(Capture::new());
    info!(logger: &python, "my log message");
    assert_eq!(
        python.inner().lines(),
        [
            "INFO my log message [dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id=6b04d2e800000000e6a5cefc6c3cef4e dd.span_id=10582933694091117294]"
        ]
    );
}

#[test]
fn python_style_outside_a_span_prints_zeros() {
    let logger = LoggerBuilder::new()
        .config(Config::new())
        .style(FieldStyle::Python)
        .wrap(Capture::new());
    info!(logger: &logger, "hello {}", 42);
    assert_eq!(
        logger.inner().lines(),
        ["INFO hello 42 [dd.service= dd.env= dd.version= dd.trace_id=0 dd.span_id=0]"]
    );
}

#[test]
fn outside_a_span_go_style_adds_only_what_is_configured() {
    let logger = wrap(blog());
    info!(logger: &logger, "starting");
    let bare = wrap(Config::new());
    info!(logger: &bare, "starting");
    assert_eq!(
        logger.inner().lines(),
        ["INFO starting dd.service=blog dd.env=prod dd.version=1.2.3"]
    );
    assert_eq!(
        bare.inner().lines(),
        ["INFO starting"],
        "nothing at all to add"
    );
}

#[test]
fn sixty_four_bit_trace_ids_and_logging_switch() {
    let narrow = Config::new().with_trace_id_128_generation(false);
    let span = start_span("x")
        .child_of(spanlog::SpanContext::new(
            TraceId::from_parts(0, 77),
            SpanId::from_u64(1),
        ))
        .entered();
    let logger = wrap(narrow);
    info!(logger: &logger, "m");
    assert_eq!(field(&logger.inner().lines()[0], "dd.trace_id"), "77");
    drop(span);

    let wide = start_span("y")
        .child_of(spanlog::SpanContext::new(
            TraceId::from_parts(0x6b04d2e8_00000000, 5),
            SpanId::from_u64(1),
        ))
        .entered();
    let off = wrap(Config::new().with_trace_id_128_logging(false));
    let on = wrap(Config::new());
    info!(logger: &off, "m");
    info!(logger: &on, "m");
    assert_eq!(field(&off.inner().lines()[0], "dd.trace_id"), "5");
    assert_eq!(
        field(&on.inner().lines()[0], "dd.trace_id"),
        "6b04d2e8000000000000000000000005"
    );
    drop(wide);
}

#[test]
fn odd_configuration_values_cannot_split_a_line() {
    let logger = wrap(
        Config::new()
            .with_service("my svc\nINFO forged")
            .with_env("a=b"),
    );
    let _span = start_span("x").entered();
    info!(logger: &logger, "m");
    let lines = logger.inner().lines();
    assert_eq!(lines.len(), 1);
    assert!(!lines[0].contains('\n'));
    assert!(
        lines[0]
            .starts_with(r#"INFO m dd.service="my svc\nINFO forged" dd.env="a=b" dd.trace_id=""#),
        "{}",
        lines[0]
    );
}

#[test]
fn nesting_siblings_and_depth() {
    let logger = wrap(Config::new());
    let root = start_span("root").entered();
    info!(logger: &logger, "root");
    {
        let _first = start_span("first").entered();
        info!(logger: &logger, "first");
    }
    {
        let _second = start_span("second").entered();
        info!(logger: &logger, "second");
    }
    let mut guards = Vec::new();
    for depth in 0..100 {
        guards.push(start_span(format!("level {depth}")).entered());
        info!(logger: &logger, "deep {depth}");
    }
    let lines = logger.inner().lines();
    let root_id = root.span_id().to_string();
    let trace = format!("{:032x}", root.trace_id());
    assert!(
        lines.iter().all(|l| field(l, "dd.trace_id") == trace),
        "one trace"
    );
    assert_eq!(field(&lines[0], "dd.span_id"), root_id);
    assert_eq!(field(&lines[0], "dd.parent_id"), "0");
    // Siblings: both children of the root, with different ids.
    assert_eq!(field(&lines[1], "dd.parent_id"), root_id);
    assert_eq!(field(&lines[2], "dd.parent_id"), root_id);
    assert_ne!(
        field(&lines[1], "dd.span_id"),
        field(&lines[2], "dd.span_id")
    );
    // A chain 100 deep: each line's parent is the line before it.
    assert_eq!(field(&lines[3], "dd.parent_id"), root_id);
    for pair in lines[3..].windows(2) {
        assert_eq!(
            field(&pair[1], "dd.parent_id"),
            field(&pair[0], "dd.span_id")
        );
    }
    assert_eq!(spanlog::stack::depth(), 101);
    drop(guards);
    info!(logger: &logger, "back at root");
    assert_eq!(
        field(logger.inner().lines().last().unwrap(), "dd.span_id"),
        root_id
    );
}

#[test]
fn guards_dropped_out_of_order() {
    let logger = wrap(Config::new());
    let a = start_span("a").entered();
    let b = start_span("b").entered();
    let c = start_span("c").entered();
    let (a_id, b_id, c_id) = (
        a.span_id().to_string(),
        b.span_id().to_string(),
        c.span_id().to_string(),
    );
    drop(b);
    info!(logger: &logger, "after b");
    drop(c);
    info!(logger: &logger, "after c");
    drop(a);
    info!(logger: &logger, "after a");
    let lines = logger.inner().lines();
    assert_eq!(field(&lines[0], "dd.span_id"), c_id, "c is still current");
    assert_eq!(field(&lines[0], "dd.parent_id"), b_id, "c's parent is b");
    assert_eq!(field(&lines[1], "dd.span_id"), a_id);
    assert_eq!(lines[2], "INFO after a");
}

#[test]
fn threads_see_only_their_own_spans() {
    let logger = wrap(Config::new());
    let outer = start_span("main thread").entered();
    let outer_trace = format!("{:032x}", outer.trace_id());
    std::thread::scope(|scope| {
        for t in 0..4 {
            let logger = &logger;
            scope.spawn(move || {
                info!(logger: logger, "thread {t} before any span");
                for i in 0..200 {
                    let span = start_span("work").entered();
                    info!(logger: logger, "thread {t} line {i} span {} trace {:032x}", span.span_id(), span.trace_id());
                }
            });
        }
    });
    let lines = logger.inner().lines();
    assert_eq!(lines.len(), 4 * 201);
    let mut traces = std::collections::HashSet::new();
    for line in &lines {
        if line.contains("before any span") {
            assert!(
                !line.contains("dd."),
                "the main thread's span leaked: {line}"
            );
            continue;
        }
        let words: Vec<&str> = line.split(' ').collect();
        // "INFO thread T line I span S trace X dd...."
        assert_eq!(field(line, "dd.span_id"), words[6], "{line}");
        assert_eq!(field(line, "dd.trace_id"), words[8], "{line}");
        assert_eq!(
            field(line, "dd.parent_id"),
            "0",
            "not a child of the main thread's span"
        );
        assert_ne!(words[8], outer_trace);
        assert!(traces.insert(words[8].to_owned()), "trace ids are unique");
    }
}

#[test]
fn injection_disabled_adds_nothing() {
    let logger = wrap(blog().with_logs_injection(false));
    let _span = start_span("x").entered();
    info!(logger: &logger, "plain {}", 1);
    assert_eq!(logger.inner().lines(), ["INFO plain 1"]);
}

#[test]
fn record_metadata_is_kept() {
    struct Check;
    impl Log for Check {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            assert_eq!(record.level(), Level::Warn);
            assert_eq!(record.target(), "my::target");
            assert_eq!(record.module_path(), Some(module_path!()));
            assert_eq!(record.file(), Some(file!()));
            assert!(record.line().is_some());
            assert!(
                record
                    .args()
                    .to_string()
                    .starts_with("careful dd.trace_id=")
            );
        }
        fn flush(&self) {}
    }
    log::set_max_level(LevelFilter::Trace);
    let logger = LoggerBuilder::new().config(Config::new()).wrap(Check);
    let _span = start_span("x").entered();
    log::warn!(logger: &logger, target: "my::target", "careful");
}

#[test]
fn enabled_and_flush_forward() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Counting(AtomicUsize);
    impl Log for Counting {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.level() <= Level::Info
        }
        fn log(&self, _: &log::Record<'_>) {}
        fn flush(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let logger = LoggerBuilder::new().wrap(Counting(AtomicUsize::new(0)));
    assert!(logger.enabled(&Metadata::builder().level(Level::Info).build()));
    assert!(!logger.enabled(&Metadata::builder().level(Level::Debug).build()));
    logger.flush();
    logger.flush();
    assert_eq!(logger.inner().0.load(Ordering::SeqCst), 2);
}

#[test]
fn a_boxed_dyn_logger_can_be_wrapped() {
    let capture = std::sync::Arc::new(Capture::new());
    let inner: Box<dyn Log> = Box::new(capture.clone());
    let logger = LoggerBuilder::new().config(Config::new()).wrap(inner);
    let span = start_span("x").entered();
    info!(logger: &logger, "boxed");
    assert_eq!(capture.lines(), [expected_go("boxed", &span, "")]);
    assert!(logger.enabled(&Metadata::builder().level(Level::Info).build()));
    assert!(!logger.enabled(&Metadata::builder().level(Level::Trace).build()));
}

#[test]
fn fields_go_on_the_last_line_of_the_message() {
    let n = 3;
    for style in [FieldStyle::Go, FieldStyle::Python] {
        let logger = LoggerBuilder::new()
            .config(blog())
            .style(style)
            .wrap(Capture::new());
        let span = start_span("x").entered();
        let fields = spanlog::Correlation::for_ids(
            &blog(),
            span.trace_id(),
            span.span_id(),
            span.parent_id(),
        )
        .style(style)
        .to_string();
        info!(logger: &logger, "request done\n");
        info!(logger: &logger, "request {n} done\r\n");
        info!(logger: &logger, "two\nlines\n\n");
        assert_eq!(
            logger.inner().lines(),
            [
                format!("INFO request done {fields}\n"),
                format!("INFO request 3 done {fields}\r\n"),
                format!("INFO two\nlines {fields}\n\n"),
            ],
            "{style:?}"
        );
    }
}

#[test]
fn a_log_call_inside_the_message_is_fine() {
    struct LogsWhenShown<'a>(&'a spanlog::CorrelatingLogger<Capture>);
    impl std::fmt::Display for LogsWhenShown<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let _inner = start_span("nested").entered();
            info!(logger: self.0, "from inside");
            f.write_str("outer")
        }
    }
    let logger = wrap(Config::new());
    let span = start_span("x").entered();
    info!(logger: &logger, "{}", LogsWhenShown(&logger));
    let lines = logger.inner().lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("INFO from inside dd.trace_id="));
    assert_eq!(field(&lines[0], "dd.parent_id"), span.span_id().to_string());
    assert!(lines[1].starts_with("INFO outer dd.trace_id="));
    assert_eq!(field(&lines[1], "dd.span_id"), span.span_id().to_string());
}

#[test]
fn manual_injection_matches_the_logger() {
    let logger = wrap(spanlog::Config::global().clone());
    let span = start_span("web.request").entered();
    info!(logger: &logger, "my log message");
    let manual = format!("INFO my log message {}", span.log());
    assert_eq!(logger.inner().lines(), [manual]);
}

#[cfg(feature = "kv")]
mod key_values {
    use super::*;
    use spanlog::LogFields;

    #[test]
    fn key_values_instead_of_text() {
        let logger = LoggerBuilder::new()
            .config(blog())
            .fields(LogFields::KeyValues)
            .wrap(Capture::new());
        let span = start_span("x").entered();
        info!(logger: &logger, user = "ana"; "signed in");
        assert_eq!(
            logger.inner().lines(),
            [format!(
                "INFO signed in user=ana dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id={:032x} dd.span_id={} dd.parent_id=0",
                span.trace_id(),
                span.span_id()
            )]
        );
    }

    #[test]
    fn text_and_key_values() {
        let logger = LoggerBuilder::new()
            .config(Config::new())
            .fields(LogFields::TextAndKeyValues)
            .wrap(Capture::new());
        let span = start_span("x").entered();
        info!(logger: &logger, "both");
        let id = span.span_id();
        let trace = format!("{:032x}", span.trace_id());
        assert_eq!(
            logger.inner().lines(),
            [format!(
                r#"INFO both dd.trace_id="{trace}" dd.span_id="{id}" dd.parent_id="0" dd.trace_id={trace} dd.span_id={id} dd.parent_id=0"#
            )]
        );
        drop(span);
        info!(logger: &logger, "outside");
        assert_eq!(logger.inner().lines()[1], "INFO outside");
    }

    /// Remembers where the last record it was given lives.
    #[derive(Default)]
    struct Address(std::sync::atomic::AtomicUsize);

    impl Log for Address {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            let address = record as *const log::Record<'_> as usize;
            self.0.store(address, std::sync::atomic::Ordering::Relaxed);
        }
        fn flush(&self) {}
    }

    /// Whether `logger` hands a record to its inner logger as it is, or a copy.
    fn passes_through(logger: &spanlog::CorrelatingLogger<Address>) -> bool {
        let record = log::Record::builder()
            .args(format_args!("m"))
            .level(Level::Info)
            .build();
        logger.log(&record);
        let seen = logger.inner().0.load(std::sync::atomic::Ordering::Relaxed);
        seen == &record as *const log::Record<'_> as usize
    }

    #[test]
    fn with_nothing_to_add_the_record_passes_through() {
        let fields = [
            LogFields::Text,
            LogFields::KeyValues,
            LogFields::TextAndKeyValues,
        ];
        for fields in fields {
            let wrap = |config: Config, style| {
                LoggerBuilder::new()
                    .config(config)
                    .style(style)
                    .fields(fields)
                    .wrap(Address::default())
            };
            let bare = wrap(Config::new(), FieldStyle::Go);
            assert!(passes_through(&bare), "{fields:?} outside a span");
            {
                let _span = start_span("x").entered();
                assert!(!passes_through(&bare), "{fields:?} inside a span");
            }
            // Something to add outside a span: a service, or Python's zero ids.
            let with_service = wrap(Config::new().with_service("blog"), FieldStyle::Go);
            assert!(!passes_through(&with_service), "{fields:?} with a service");
            let python = wrap(Config::new(), FieldStyle::Python);
            let text = fields != LogFields::KeyValues;
            assert_eq!(passes_through(&python), !text, "{fields:?}, Python style");
        }
    }

    #[test]
    fn a_record_key_that_collides_wins_and_is_not_duplicated() {
        let logger = LoggerBuilder::new()
            .config(blog())
            .fields(LogFields::KeyValues)
            .wrap(Capture::new());
        let _span = start_span("x").entered();
        info!(logger: &logger, "dd.service" = "override"; "m");
        let line = &logger.inner().lines()[0];
        assert_eq!(line.matches("dd.service=").count(), 1, "{line}");
        assert!(
            line.starts_with("INFO m dd.service=override dd.env=prod"),
            "{line}"
        );
    }
}

/// Guards must stay on their thread; entered spans may be shared for reading.
#[allow(dead_code)]
fn guard_auto_traits() {
    fn sync<T: Sync>() {}
    fn send<T: Send>() {}
    sync::<spanlog::EnteredSpan>();
    sync::<spanlog::ContextGuard>();
    send::<spanlog::Span>();
    sync::<spanlog::Span>();
    send::<spanlog::SpanContext>();
    sync::<spanlog::SpanContext>();
}

/// The error a record carries, for Error Tracking.
#[cfg(feature = "kv")]
#[derive(Debug)]
struct LoadError(std::io::Error);

#[cfg(feature = "kv")]
impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("could not load posts")
    }
}

#[cfg(feature = "kv")]
impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A record that carries an error: `error.kind` and `error.message` follow the message
/// in text (quoted by the fields' rules, the stack left to structured output); a
/// record without an error is as before. (The span's tags: `tests/agent.rs`.)
#[cfg(feature = "kv")]
#[test]
fn a_record_with_an_error_carries_its_kind_and_message() {
    let logger = LoggerBuilder::new().config(blog()).wrap(Capture::new());
    let error = LoadError(std::io::Error::other("connection refused"));
    let span = start_span("web.request").entered();
    log::error!(logger: &logger, error:err = error; "request failed");
    log::error!(logger: &logger, "plain");
    let lines = logger.inner().take();
    let ids = format!(
        r#"dd.service=blog dd.env=prod dd.version=1.2.3 dd.trace_id="{:032x}" dd.span_id="{}" dd.parent_id="0""#,
        span.trace_id(),
        span.span_id()
    );
    assert_eq!(
        lines[0],
        format!(
            r#"ERROR request failed error.kind=LoadError error.message="could not load posts" {ids} error=could not load posts"#
        )
    );
    assert!(!lines[0].contains("error.stack"), "{}", lines[0]);
    assert_eq!(lines[1], format!("ERROR plain {ids}"));
}
