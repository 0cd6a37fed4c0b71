//! The endpoints of the parametric contract, on spanlog's public API.
//!
//! Spans are kept by id between requests, as the suite names them; so are the contexts
//! it may name as parents: those extracted from headers (a context without a span,
//! such as baggage alone, under no id) and those of finished spans.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use spanlog::propagation::Propagator;
use spanlog::{Span, SpanContext, SpanEvent, SpanLink, agent, start_span};

use crate::values::{attributes, id, ids_json, text};

/// The server's state: the spans the suite started, and the exporter to flush.
pub(crate) struct App {
    spans: Mutex<Spans>,
    agent: agent::Agent,
}

#[derive(Default)]
struct Spans {
    live: HashMap<u64, Span>,
    /// Contexts a new span may name as its parent besides live spans: finished spans'
    /// and extracted ones (key 0: the last extracted context without a span).
    contexts: HashMap<u64, SpanContext>,
    /// Each live span's parent, to make it current again when the child finishes.
    parents: HashMap<u64, u64>,
    current: Option<u64>,
    /// Spans a flush found unfinished: never finished, so never sent, as a tracer
    /// leaves a span nobody finished.
    abandoned: Vec<Span>,
}

impl App {
    pub(crate) fn new(agent: agent::Agent) -> Self {
        App {
            spans: Mutex::default(),
            agent,
        }
    }

    fn spans(&self) -> MutexGuard<'_, Spans> {
        self.spans.lock().unwrap_or_else(|e| e.into_inner())
    }
}

type Shared = State<Arc<App>>;

/// Every endpoint; anything else answers 404 (the suite pings a missing path until it
/// does). Every handler reads the request's body, even one it does not need: a body
/// left unread makes the server close the connection, which a client about to reuse
/// it sees as a dropped request.
pub(crate) fn routes(app: Arc<App>) -> Router {
    Router::new()
        .route("/trace/span/start", post(start))
        .route("/trace/span/finish", post(finish))
        .route("/trace/span/current", get(current))
        .route("/trace/span/set_resource", post(set_resource))
        .route("/trace/span/set_meta", post(set_meta))
        .route("/trace/span/set_metric", post(set_metric))
        .route("/trace/span/error", post(set_error))
        .route("/trace/span/manual_keep", post(manual_keep))
        .route("/trace/span/manual_drop", post(manual_drop))
        .route("/trace/span/add_link", post(add_link))
        .route("/trace/span/add_event", post(add_event))
        .route("/trace/span/set_baggage", post(set_baggage))
        .route("/trace/span/get_baggage", get(get_baggage))
        .route("/trace/span/get_all_baggage", get(get_all_baggage))
        .route("/trace/span/remove_baggage", post(remove_baggage))
        .route("/trace/span/remove_all_baggage", post(remove_all_baggage))
        .route("/trace/span/inject_headers", post(inject_headers))
        .route("/trace/span/extract_headers", post(extract_headers))
        .route("/trace/span/flush", post(flush))
        .route("/trace/stats/flush", post(flush_stats))
        .route("/trace/otel/flush", post(otel_flush))
        .route("/trace/agent/ensure_agent_info", get(ensure_agent_info))
        .route("/trace/config", get(config))
        .with_state(app)
}

/// What a request got wrong: a status and a message.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

type Answer = Result<Json<Value>, Failure>;

fn ok() -> Answer {
    Ok(Json(json!({})))
}

fn field<'a>(args: &'a Value, name: &str) -> Result<&'a str, Failure> {
    args.get(name).and_then(Value::as_str).ok_or_else(|| {
        Failure(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is missing or not a string"),
        )
    })
}

/// Runs `f` on the live span `args.span_id` names.
fn with_span<R>(app: &App, args: &Value, f: impl FnOnce(&mut Span) -> R) -> Result<R, Failure> {
    let span_id = id(args.get("span_id"));
    let mut spans = app.spans();
    match span_id.and_then(|id| spans.live.get_mut(&id)) {
        Some(span) => Ok(f(span)),
        None => Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no unfinished span {:?}", args.get("span_id")),
        )),
    }
}

impl Spans {
    /// The context `parent_id` names: a live span's, a finished or extracted one's;
    /// none (or 0) names the last extracted context without a span, if any.
    fn context(&self, parent_id: Option<u64>) -> Option<SpanContext> {
        let key = parent_id.unwrap_or(0);
        match self.live.get(&key) {
            Some(span) => Some(span.context().clone()),
            None => self.contexts.get(&key).cloned(),
        }
    }
}

async fn start(State(app): Shared, Json(args): Json<Value>) -> Result<Response, Failure> {
    let name = field(&args, "name")?.to_owned();
    let mut spans = app.spans();
    let parent_id = id(args.get("parent_id"));
    let parent = spans.context(parent_id);
    let mut builder = start_span(name);
    builder = match parent {
        Some(parent) => builder.child_of(parent),
        None => builder.root(),
    };
    let given = |key: &str| {
        args.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    if let Some(service) = given("service") {
        builder = builder.service(service);
    }
    if let Some(resource) = given("resource") {
        builder = builder.resource(resource);
    }
    if let Some(span_type) = given("type") {
        builder = builder.span_type(span_type);
    }
    if let Some(Value::Array(tags)) = args.get("span_tags") {
        for tag in tags {
            if let (Some(key), Some(value)) = (tag.get(0).and_then(Value::as_str), tag.get(1)) {
                if let Some(value) = text(value) {
                    builder = builder.tag(key.to_owned(), value);
                }
            }
        }
    }
    let span = builder.start();
    let (span_id, trace_id) = (span.span_id().to_u64(), span.trace_id().to_u128());
    if let Some(parent_id) = parent_id {
        spans.parents.insert(span_id, parent_id);
    }
    spans.current = Some(span_id);
    spans.live.insert(span_id, span);
    Ok((
        [(header::CONTENT_TYPE, "application/json")],
        ids_json(span_id, trace_id),
    )
        .into_response())
}

async fn finish(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let span_id = id(args.get("span_id")).unwrap_or(0);
    let mut spans = app.spans();
    let Some(span) = spans.live.remove(&span_id) else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no unfinished span {span_id}"),
        ));
    };
    spans.contexts.insert(span_id, span.context().clone());
    let parent = spans.parents.remove(&span_id);
    if spans.current == Some(span_id) {
        spans.current = parent.filter(|p| spans.live.contains_key(p));
    }
    drop(spans);
    span.finish();
    ok()
}

async fn current(State(app): Shared, _body: Bytes) -> Response {
    let spans = app.spans();
    let body = match spans.current.and_then(|id| spans.live.get(&id)) {
        Some(span) => ids_json(span.span_id().to_u64(), span.trace_id().to_u128()),
        None => "{}".to_owned(),
    };
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn set_resource(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let resource = field(&args, "resource")?.to_owned();
    with_span(&app, &args, |span| span.set_resource(resource))?;
    ok()
}

async fn set_meta(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let key = field(&args, "key")?.to_owned();
    // `manual.keep` and `manual.drop` come without a value: they are decisions.
    let value = match args.get("value").and_then(text) {
        None if key.starts_with("manual.") => Some(String::new()),
        value => value,
    };
    with_span(&app, &args, |span| {
        if let Some(value) = value {
            span.set_tag(key, value);
        }
    })?;
    ok()
}

async fn set_metric(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let key = field(&args, "key")?.to_owned();
    let value = args.get("value").and_then(Value::as_f64);
    with_span(&app, &args, |span| {
        if let Some(value) = value {
            span.set_metric(key, value);
        }
    })?;
    ok()
}

async fn set_error(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let tags: Vec<(&'static str, String)> = [
        ("error.type", "type"),
        ("error.message", "message"),
        ("error.stack", "stack"),
    ]
    .into_iter()
    .filter_map(|(tag, field)| {
        let value = args.get(field).and_then(Value::as_str)?;
        (!value.is_empty()).then(|| (tag, value.to_owned()))
    })
    .collect();
    with_span(&app, &args, |span| {
        span.set_error(true);
        for (key, value) in tags {
            span.set_tag(key, value);
        }
    })?;
    ok()
}

async fn manual_keep(State(app): Shared, Json(args): Json<Value>) -> Answer {
    with_span(&app, &args, |span| span.set_tag("manual.keep", ""))?;
    ok()
}

async fn manual_drop(State(app): Shared, Json(args): Json<Value>) -> Answer {
    with_span(&app, &args, |span| span.set_tag("manual.drop", ""))?;
    ok()
}

async fn add_link(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let parent_id = id(args.get("parent_id"));
    let Some(to) = app.spans().context(parent_id) else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no span or context {:?} to link to", args.get("parent_id")),
        ));
    };
    let mut link = SpanLink::to(&to);
    if let Some(state) = w3c_tracestate(&to) {
        link = link.tracestate(state);
    }
    for (key, value) in attributes(args.get("attributes")) {
        link = link.attribute(key, value);
    }
    with_span(&app, &args, |span| span.add_link(link))?;
    ok()
}

/// The `tracestate` the context would be sent with, as Datadog's tracers put it on a
/// link.
fn w3c_tracestate(context: &SpanContext) -> Option<String> {
    let mut headers: Vec<(String, String)> = Vec::new();
    Propagator::new()
        .with_inject(&[spanlog::propagation::PropagationStyle::TraceContext])
        .inject(context, &mut headers);
    headers
        .into_iter()
        .find(|(name, _)| name == "tracestate")
        .map(|(_, value)| value)
}

async fn add_event(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let name = field(&args, "name")?.to_owned();
    let mut event = match args.get("timestamp").and_then(Value::as_i64) {
        Some(time) => SpanEvent::new(name, time),
        None => SpanEvent::now(name),
    };
    for (key, value) in attributes(args.get("attributes")) {
        event = event.attribute(key, value);
    }
    with_span(&app, &args, |span| span.add_event(event))?;
    ok()
}

async fn set_baggage(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let key = field(&args, "key")?.to_owned();
    let value = field(&args, "value")?.to_owned();
    with_span(&app, &args, |span| span.set_baggage(key, value))?;
    ok()
}

async fn get_baggage(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let key = field(&args, "key")?;
    let value = with_span(&app, &args, |span| {
        span.baggage_item(key).map(str::to_owned)
    })?;
    Ok(Json(json!({ "baggage": value })))
}

async fn get_all_baggage(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let items = with_span(&app, &args, |span| {
        span.context()
            .baggage()
            .map(|(k, v)| (k.to_owned(), Value::from(v)))
            .collect::<serde_json::Map<_, _>>()
    })?;
    Ok(Json(json!({ "baggage": items })))
}

async fn remove_baggage(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let key = field(&args, "key")?;
    with_span(&app, &args, |span| span.remove_baggage(key))?;
    ok()
}

async fn remove_all_baggage(State(app): Shared, Json(args): Json<Value>) -> Answer {
    with_span(&app, &args, Span::clear_baggage)?;
    ok()
}

async fn inject_headers(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let span_id = id(args.get("span_id"));
    let Some(context) = app.spans().context(span_id) else {
        return Err(Failure(
            StatusCode::NOT_FOUND,
            format!("no span {:?}", args.get("span_id")),
        ));
    };
    let mut headers: Vec<(String, String)> = Vec::new();
    spanlog::propagation::inject(&context, &mut headers);
    Ok(Json(json!({ "http_headers": headers })))
}

async fn extract_headers(State(app): Shared, Json(args): Json<Value>) -> Answer {
    let headers: Vec<(String, String)> = match args.get("http_headers") {
        Some(Value::Array(pairs)) => pairs
            .iter()
            .filter_map(|pair| {
                let name = pair.get(0)?.as_str()?;
                Some((name.to_owned(), pair.get(1)?.as_str()?.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut spans = app.spans();
    match spanlog::propagation::extract(&headers) {
        Some(extracted) => {
            let context = SpanContext::from(extracted);
            let span_id = context.span_id().to_u64();
            spans.contexts.insert(span_id, context);
            let span_id = (span_id != 0).then_some(span_id);
            Ok(Json(json!({ "span_id": span_id })))
        }
        None => {
            // Nothing to continue: a span started with no parent is a new root.
            spans.contexts.remove(&0);
            Ok(Json(json!({ "span_id": null })))
        }
    }
}

async fn flush(State(app): Shared, _body: Bytes) -> Answer {
    {
        let mut spans = app.spans();
        let spans = &mut *spans;
        spans
            .abandoned
            .extend(spans.live.drain().map(|(_, span)| span));
        spans.contexts.clear();
        spans.parents.clear();
        spans.current = None;
    }
    let agent = app.agent.clone();
    let sent = tokio::task::spawn_blocking(move || agent.flush(Duration::from_secs(5)))
        .await
        .unwrap_or(false);
    if sent {
        ok()
    } else {
        Err(Failure(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the Agent did not take every span in time".to_owned(),
        ))
    }
}

async fn flush_stats(_body: Bytes) -> Answer {
    ok()
}

async fn otel_flush(_body: Bytes) -> Answer {
    Ok(Json(json!({ "success": true })))
}

async fn ensure_agent_info(_body: Bytes) -> Answer {
    Ok(Json(json!({ "ready": true })))
}

/// The configuration as the suite reads it back; `null` where spanlog has no such
/// setting.
async fn config(_body: Bytes) -> Answer {
    let config = spanlog::Config::global();
    let styles: Vec<String> = Propagator::global()
        .extract_styles()
        .iter()
        .map(ToString::to_string)
        .collect();
    let tags: Vec<String> = config
        .tags()
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Ok(Json(json!({ "config": {
        "dd_service": config.service(),
        "dd_env": non_empty(config.env()),
        "dd_version": non_empty(config.version()),
        "dd_tags": tags.join(","),
        "dd_trace_propagation_style": styles.join(","),
        "dd_logs_injection": config.logs_injection().to_string(),
        "dd_trace_enabled": spanlog::agent::AgentConfig::from_env().enabled().to_string(),
    }})))
}
