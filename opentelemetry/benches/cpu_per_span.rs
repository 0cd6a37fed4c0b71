//! Whole-process CPU per exported span with Datadog's Rust SDK, dd-trace-rs, beside
//! spanlog's agent exporter: the same harness as `benches/cpu_per_span.rs` (10-span
//! traces at a paced rate, `getrusage` over the whole process, a local sink that
//! answers `200 {}` at once), each stack in a process of its own.
//!
//! `cargo bench -p spanlog-opentelemetry-examples --bench cpu_per_span [-- RATE SECONDS]`
//!
//! - `spanlog_agent`: spanlog spans (a root entered, nine children entered and
//!   finished), spanlog's agent exporter.
//! - `dd_trace_rs`: OpenTelemetry spans of dd-trace-rs's tracer provider (a root, nine
//!   children started and ended inside it), dd-trace-rs's span processor and exporter.

#[path = "../../tests/support/sink.rs"]
mod sink;

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

const STACKS: [&str; 2] = ["spanlog_agent", "dd_trace_rs"];
const SPANS_PER_TRACE: u64 = 10;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let Some(stack) = args.first().filter(|a| STACKS.contains(&a.as_str())) {
        let rate = args.get(1).and_then(|r| r.parse().ok()).unwrap_or(200_000);
        let seconds = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
        return run(stack, rate, seconds);
    }
    let rate: u64 = args.first().and_then(|r| r.parse().ok()).unwrap_or(200_000);
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    println!("| stack | spans | CPU per span (ns) | of which user (ns) | wall (s) |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for stack in STACKS {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([stack, &rate.to_string(), &seconds.to_string()])
            .output()
            .expect("runs");
        let text = String::from_utf8_lossy(&out.stdout);
        match text.lines().find(|l| l.starts_with('|')) {
            Some(row) if out.status.success() => println!("{row}"),
            _ => println!(
                "| `{stack}` | failed: {} |",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            ),
        }
        let notes = String::from_utf8_lossy(&out.stderr);
        for line in notes.lines().filter(|l| l.starts_with("note:")) {
            println!("{line}");
        }
    }
}

fn cpu() -> (u64, u64) {
    // SAFETY: getrusage writes into the struct we hand it.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let nanos = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    let user = nanos(usage.ru_utime);
    (user + nanos(usage.ru_stime), user)
}

fn run(stack: &str, rate: u64, seconds: u64) {
    let sink = sink::sink();
    let mut make: Box<dyn FnMut()>;
    let flush: Box<dyn Fn()>;
    match stack {
        "spanlog_agent" => {
            let config = spanlog::agent::AgentConfig::new()
                .with_address(&sink)
                .unwrap()
                .with_queue_capacity(1_000_000);
            let agent = spanlog::agent::set_global(config).expect("the first exporter");
            make = Box::new(|| {
                let _root = spanlog::start_span("web.request")
                    .resource("/posts")
                    .entered();
                for _ in 1..SPANS_PER_TRACE {
                    let span = spanlog::start_span("db.query").entered();
                    black_box(&span);
                }
            });
            flush = Box::new(move || {
                assert!(agent.flush(Duration::from_secs(60)), "{}", agent.stats());
            });
        }
        "dd_trace_rs" => {
            let config = datadog_opentelemetry::configuration::Config::builder()
                .set_trace_agent_url(sink.clone())
                .build();
            let provider = datadog_opentelemetry::tracing().with_config(config).init();
            let tracer = provider.tracer("bench");
            make = Box::new(move || {
                tracer.in_span("web.request", |_cx| {
                    for _ in 1..SPANS_PER_TRACE {
                        let mut span = tracer.start("db.query");
                        span.end();
                        black_box(&span);
                    }
                });
            });
            flush = Box::new(move || {
                let _ = provider.force_flush();
            });
        }
        other => panic!("unknown stack {other}"),
    }
    for _ in 0..1_000 {
        make();
    }
    flush();
    let traces_per_ms = (rate / SPANS_PER_TRACE / 1_000).max(1);
    let (cpu_before, user_before) = cpu();
    let started = Instant::now();
    let mut traces = 0u64;
    for tick in 1..=seconds * 1_000 {
        for _ in 0..traces_per_ms {
            make();
        }
        traces += traces_per_ms;
        let next = started + Duration::from_millis(tick);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let received_before = sink::RECEIVED.load(std::sync::atomic::Ordering::Relaxed);
    flush();
    let wall = started.elapsed();
    let (cpu_after, user_after) = cpu();
    let spans = traces * SPANS_PER_TRACE;
    // Give the last request time to land, then report what reached the sink.
    std::thread::sleep(Duration::from_millis(500));
    let received = sink::RECEIVED.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "note: `{stack}` sent {} bytes to the sink ({} per span; {received_before} before the last flush)",
        received,
        received / (spans + 1_000 * SPANS_PER_TRACE)
    );
    println!(
        "| `{stack}` | {spans} | {} | {} | {:.2} |",
        (cpu_after - cpu_before) / spans,
        (user_after - user_before) / spans,
        wall.as_secs_f64()
    );
}
