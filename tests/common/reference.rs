//! Datadog's Python tracer, the reference some checks compare with. Included with
//! `#[path]`.

/// The python that has Datadog's `ddtrace` (`SPANLOG_DDTRACE_PYTHON`), the reference
/// some checks compare with; `None` (skip) when unset, which is a failure under
/// `CI=true`.
pub(crate) fn ddtrace_python() -> Option<String> {
    match std::env::var("SPANLOG_DDTRACE_PYTHON") {
        Ok(python) if !python.is_empty() => Some(python),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "SPANLOG_DDTRACE_PYTHON is not set under CI: .ci/run installs ddtrace"
            );
            println!("(ddtrace check skipped: SPANLOG_DDTRACE_PYTHON is not set)");
            None
        }
    }
}

/// Runs `script` with `python` and `args`, `input` on its standard input; its standard
/// output. Panics (failing the test) when it fails.
pub(crate) fn run_python(python: &str, script: &str, args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .env("DD_TRACE_ENABLED", "false")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the reference python starts");
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(input.as_bytes())
        .expect("the script reads its input");
    drop(stdin);
    let output = child.wait_with_output().expect("the reference python ends");
    assert!(output.status.success(), "the reference script failed");
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// Runs `script` as [`run_python`] does and reads its output as one JSON array of
/// `expected` answers, one per case.
#[allow(dead_code)] // Not every test binary that includes this file asks for JSON.
pub(crate) fn json_answers(
    python: &str,
    script: &str,
    input: &str,
    expected: usize,
) -> Vec<serde_json::Value> {
    let output = run_python(python, script, &[], input);
    let answers: Vec<serde_json::Value> =
        serde_json::from_str(output.trim()).expect("the reference's answer is JSON");
    assert_eq!(answers.len(), expected, "one answer per case");
    answers
}
