//! `DD_LOGS_INJECTION=false` passes lines through untouched in every init path
//! (`spanlog::init`, `json::init`, `tracing::init`), while spans are still made; on
//! (the default), the same lines carry the ids. Each case runs this binary as a child
//! process: each installs a global logger.

use std::process::Command;

const PATHS: [&str; 3] = ["init", "json", "tracing"];

fn main() {
    if let Some(path) = std::env::args().nth(1) {
        return child(&path);
    }
    for path in PATHS {
        for injection in [true, false] {
            let mut command = Command::new(std::env::current_exe().unwrap());
            command.arg(path).env("RUST_LOG", "info");
            if !injection {
                command.env("DD_LOGS_INJECTION", "false");
            } else {
                command.env_remove("DD_LOGS_INJECTION");
            }
            let out = command.output().unwrap();
            assert!(out.status.success(), "{path}: {out:?}");
            // env_logger writes to standard error, the others to standard output.
            let text = String::from_utf8_lossy(match path {
                "init" => &out.stderr,
                _ => &out.stdout,
            })
            .into_owned();
            let line = text
                .lines()
                .find(|l| l.contains("inside the request"))
                .unwrap_or_else(|| panic!("{path}: no line in {text:?}"));
            let span_id = String::from_utf8_lossy(&out.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("span_id=").map(str::to_owned))
                .unwrap_or_else(|| panic!("{path}: the child printed no span id"));
            assert_eq!(
                line.contains(&span_id),
                injection,
                "{path}, injection {injection}: {line}"
            );
            assert_eq!(line.contains("dd."), injection, "{path}: {line}");
        }
    }
    println!("logs_injection: ok");
}

fn child(path: &str) {
    match path {
        "init" => spanlog::init(),
        "json" => spanlog::json::init(),
        "tracing" => spanlog::tracing::init(),
        other => panic!("unknown path {other}"),
    }
    let span = spanlog::start_span("web.request").entered();
    log::info!("inside the request");
    println!("span_id={}", span.span_id());
}
