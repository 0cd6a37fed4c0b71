//! An axum server traced by `spanlog::tower::ServerLayer`: every request gets a span
//! (continued from the caller's `traceparent` or `x-datadog-*` headers), every log line
//! in it carries the ids.
//!
//! ```text
//! cargo run -p spanlog-web-examples --example axum_server
//! curl -H 'traceparent: 00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01' localhost:8080/posts/42
//! curl localhost:8080/fail   # a 500: an error span
//! ```
//!
//! It serves on `PORT` (default 8080) until stopped (Ctrl-C or SIGTERM). With
//! `--features agent`, the spans go to the Datadog Agent at `DD_TRACE_AGENT_URL`.

use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;

#[tokio::main]
async fn main() {
    spanlog::init();
    // The exporter's handle is a guard: when it is dropped, at the end of `main`, the
    // spans still queued are sent (two seconds at most, `with_shutdown_timeout`). Keep
    // it named (`let _ = ...` would drop it, and stop the exporter, at once).
    #[cfg(feature = "agent")]
    let agent = spanlog::agent::init(spanlog::agent::AgentConfig::from_env());

    let app = Router::new()
        .route("/posts/{id}", get(show_post))
        .route("/fail", get(fail))
        // Added with `Router::layer`, so that axum's matched route is the resource.
        .layer(spanlog::tower::ServerLayer::from_env());

    let port: u16 = match std::env::var("PORT") {
        Ok(port) => port.parse().expect("PORT must be a port number"),
        Err(_) => 8080,
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:{port}: {e}"));
    // Listen for the signals before announcing the port: a SIGTERM sent right after
    // must stop the server gracefully, not kill it.
    let stop = stopped();
    log::info!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app)
        .with_graceful_shutdown(stop)
        .await
        .expect("the server failed");

    // What the guard does when it goes out of scope, done here to log the counters.
    #[cfg(feature = "agent")]
    {
        agent.shutdown(std::time::Duration::from_secs(2));
        log::info!("{}", agent.stats());
    }
}

async fn show_post(Path(id): Path<u64>) -> String {
    log::info!("my log message");
    query_posts(id);
    format!("post {id}\n")
}

fn query_posts(id: u64) {
    let _query = spanlog::start_span("db.query")
        .resource("SELECT * FROM posts WHERE id = ?")
        .span_type("sql")
        .entered();
    log::info!("querying posts");
    let _ = id;
}

async fn fail() -> (StatusCode, &'static str) {
    log::warn!("this route always fails");
    (StatusCode::INTERNAL_SERVER_ERROR, "failed\n")
}

/// Resolves on Ctrl-C, or SIGTERM on Unix. The handlers are installed when it is
/// called, not when it is first polled.
fn stopped() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("cannot listen for SIGTERM");
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async move {
            term.recv().await;
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = term => {},
        }
    }
}
