//! Error Tracking for logs: an ERROR line that carries an error gets `error.kind`,
//! `error.message` and `error.stack` at the root of its JSON object, beside
//! `dd.trace_id` and `dd.span_id`, and its span gets the same details, so that
//! Datadog groups the log and the trace into one issue.
//!
//! ```text
//! cargo run --example error_tracking --features json
//! DD_TRACE_AGENT_URL=http://localhost:8126 cargo run --example error_tracking --features json,agent
//! ```
//!
//! With the `agent` feature the span goes to the Agent at `DD_TRACE_AGENT_URL`, with
//! `_dd.git.commit.sha` and `_dd.git.repository_url` when `DD_GIT_COMMIT_SHA` and
//! `DD_GIT_REPOSITORY_URL` are set (at run time, or when it was built).

use std::error::Error;
use std::fmt;
use std::io;

/// The error the handler reports, two causes deep.
#[derive(Debug)]
struct LoadPostsError {
    source: DatabaseError,
}

impl fmt::Display for LoadPostsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load posts")
    }
}

impl Error for LoadPostsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[derive(Debug)]
struct DatabaseError {
    source: io::Error,
}

impl fmt::Display for DatabaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("database unavailable")
    }
}

impl Error for DatabaseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

fn load_posts() -> Result<Vec<String>, LoadPostsError> {
    let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "connection refused");
    Err(LoadPostsError {
        source: DatabaseError { source: refused },
    })
}

fn main() {
    // The commit and repository `cargo build` saw, if CI set them.
    spanlog::embed_git_metadata!();
    #[cfg(feature = "agent")]
    let agent = spanlog::agent::init(spanlog::agent::AgentConfig::from_env());
    // One JSON object per line on standard output.
    spanlog::json::init();

    {
        let _request = spanlog::start_span("web.request")
            .resource("GET /posts")
            .entered();
        if let Err(error) = load_posts() {
            log::error!(error:err = error; "request failed");
        }
    }

    #[cfg(feature = "agent")]
    if !agent.shutdown(std::time::Duration::from_secs(5)) {
        eprintln!(
            "error_tracking: the span did not reach the agent: {}",
            agent.stats()
        );
    }
}
