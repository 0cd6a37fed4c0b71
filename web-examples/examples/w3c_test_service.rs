//! The test service the W3C Trace Context validation suite drives
//! (w3c/trace-context, folder `test/`), built on spanlog's tower layers: `POST /test`
//! takes a JSON array of `{"url": ..., "arguments": [...]}` and, for each element,
//! sends `POST url` with `arguments` as the body, from inside the request's span, so
//! that `ClientLayer` injects the context `ServerLayer` continued.
//!
//! ```text
//! cargo run -p spanlog-web-examples --example w3c_test_service   # serves on PORT (5000)
//! STRICT_LEVEL=2 SPEC_LEVEL=2 python test.py http://127.0.0.1:5000/test
//! ```
//!
//! Only the W3C style is read and written (`DD_TRACE_PROPAGATION_STYLE=tracecontext`
//! unless set otherwise), as the suite expects of a W3C participant.

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::routing::post;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use spanlog::propagation::{PropagationStyle, Propagator};
use tower::{Layer, ServiceExt};

type HttpClient = Client<HttpConnector, Body>;

#[tokio::main]
async fn main() {
    if std::env::var_os("DD_TRACE_PROPAGATION_STYLE").is_none() {
        let w3c = [PropagationStyle::TraceContext];
        let _ = Propagator::new()
            .with_extract(&w3c)
            .with_inject(&w3c)
            .set_global();
    }
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let app = Router::new()
        .route("/test", post(move |body: Bytes| test(client.clone(), body)))
        .layer(spanlog::tower::ServerLayer::new());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1:{port}: {e}"));
    axum::serve(listener, app).await.expect("the server runs");
}

/// Calls back each `url` with its `arguments`, in order, from the request's span.
async fn test(client: HttpClient, body: Bytes) -> StatusCode {
    let Ok(serde_json::Value::Array(calls)) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    for call in calls {
        let Some(url) = call["url"].as_str() else {
            return StatusCode::BAD_REQUEST;
        };
        let request = Request::post(url)
            .header("content-type", "application/json")
            .body(Body::from(call["arguments"].to_string()));
        let Ok(request) = request else {
            return StatusCode::BAD_REQUEST;
        };
        let client = spanlog::tower::ClientLayer::new().layer(client.clone());
        if client.oneshot(request).await.is_err() {
            return StatusCode::BAD_GATEWAY;
        }
    }
    StatusCode::OK
}
