//! spanlog as a "parametric" app: the HTTP server through which Datadog's system-tests
//! drive every Datadog tracer (start and finish spans with explicit parents, set tags,
//! metrics, errors, baggage, links and events, inject and extract headers, flush), so
//! that the suite, or anyone, can check spanlog against what Datadog's tracers do.
//!
//! Everything is configured from the environment, as the suite starts its apps: the
//! port from `APM_TEST_CLIENT_SERVER_PORT` (default 8080), the Agent from
//! `DD_TRACE_AGENT_URL` (or `DD_AGENT_HOST` / `DD_TRACE_AGENT_PORT`), sampling and
//! propagation from their `DD_*` variables. Only spanlog's public API is used.
//!
//! ```sh
//! APM_TEST_CLIENT_SERVER_PORT=8080 cargo run -p spanlog-conformance
//! ```

mod api;
mod values;

use std::sync::Arc;

fn main() {
    let port: u16 = match std::env::var("APM_TEST_CLIENT_SERVER_PORT") {
        Ok(port) => match port.trim().parse() {
            Ok(port) => port,
            Err(_) => {
                eprintln!("spanlog-parametric: APM_TEST_CLIENT_SERVER_PORT={port:?} is not a port");
                std::process::exit(2);
            }
        },
        Err(_) => 8080,
    };
    let mut config = spanlog::agent::AgentConfig::from_env();
    // The suite expects every trace at its test agent, unsampled ones too, unless a
    // case turns client-side stats on itself (as its stats cases do).
    if std::env::var_os("DD_TRACE_STATS_COMPUTATION_ENABLED").is_none() {
        config = config.with_stats_computation(false);
    }
    let agent = spanlog::agent::init(config);
    let app = Arc::new(api::App::new(agent.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
            Ok(listener) => listener,
            Err(error) => {
                eprintln!("spanlog-parametric: cannot listen on port {port}: {error}");
                std::process::exit(1);
            }
        };
        eprintln!("spanlog-parametric listening on port {port}");
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        if let Err(error) = axum::serve(listener, api::routes(app))
            .with_graceful_shutdown(shutdown)
            .await
        {
            eprintln!("spanlog-parametric: {error}");
        }
    });
    agent.shutdown(std::time::Duration::from_secs(5));
}
