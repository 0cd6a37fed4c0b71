//! 1,000 tasks on a 2-worker tokio runtime, interleaving at every step: each log line
//! carries its own task's ids, whichever worker polled it. Its own binary: it installs
//! the global logger.

mod common;

use std::collections::HashMap;

use common::Shared;
use log::info;
use spanlog::Instrument;

/// The value of `key=...` (quoted or not) in a line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(&format!("{key}="))
        .unwrap_or_else(|| panic!("{key} in {line}"))
        + key.len()
        + 1;
    let rest = line[start..].trim_start_matches('"');
    let end = rest.find(['"', ' ']).unwrap_or(rest.len());
    &rest[..end]
}

const TASKS: usize = 1000;

fn main() {
    let shared = Shared::with_thread();
    spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(shared.clone())
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut handles = Vec::new();
        for n in 0..TASKS {
            let span = spanlog::start_span("task")
                .resource(format!("task {n}"))
                .start();
            let (trace, id) = (span.trace_id(), span.span_id());
            let task = async move {
                for step in 1..=3 {
                    info!("task={n} step={step} want_trace={trace:032x} want_span={id}");
                    if step == 2 {
                        // A span started inside the task is the task span's child.
                        let child = spanlog::start_span("child").entered();
                        info!(
                            "task={n} child={} want_trace={trace:032x} want_parent={id}",
                            child.span_id()
                        );
                    }
                    tokio::task::yield_now().await;
                }
            }
            .in_span(span);
            handles.push(tokio::spawn(task));
        }
        for handle in handles {
            handle.await.unwrap();
        }
    });

    let lines = shared.lines();
    assert_eq!(lines.len(), TASKS * 4);
    let mut per_task: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut threads = std::collections::HashSet::new();
    for line in &lines {
        let task = field(line, "task");
        per_task.entry(task).or_default().push(line);
        threads.insert(field(line, "thread"));
        assert_eq!(
            field(line, "dd.trace_id"),
            field(line, "want_trace"),
            "{line}"
        );
        if line.contains(" child=") {
            assert_eq!(field(line, "dd.span_id"), field(line, "child"), "{line}");
            assert_eq!(
                field(line, "dd.parent_id"),
                field(line, "want_parent"),
                "{line}"
            );
        } else {
            assert_eq!(
                field(line, "dd.span_id"),
                field(line, "want_span"),
                "{line}"
            );
            assert_eq!(field(line, "dd.parent_id"), "0", "{line}");
        }
    }
    assert_eq!(per_task.len(), TASKS);
    let traces: std::collections::HashSet<_> =
        lines.iter().map(|l| field(l, "dd.trace_id")).collect();
    assert_eq!(traces.len(), TASKS, "no two tasks share a trace");
    // The tasks really interleaved: consecutive lines mostly come from different tasks.
    let switches = lines
        .windows(2)
        .filter(|w| field(&w[0], "task") != field(&w[1], "task"))
        .count();
    assert!(switches > TASKS, "only {switches} task switches");
    println!(
        "{} lines from {} worker threads, {switches} task switches",
        lines.len(),
        threads.len()
    );
    println!("1 passed, 0 failed");
}
