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
