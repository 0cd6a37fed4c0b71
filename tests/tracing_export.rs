//! Mirrored `tracing` spans reach the installed exporter with Datadog's mapping of their
//! fields, whichever thread closes them. Its own binary: it installs the exporter.

mod common;

use common::Collect;
use spanlog::export::FinishedSpan;
use tracing_subscriber::layer::SubscriberExt;

fn tag<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a str> {
    span.meta.iter().find(|(k, _)| k == key).map(|(_, v)| &**v)
}

#[tracing::instrument(err)]
fn load_posts() -> Result<(), std::io::Error> {
    Err(std::io::Error::other("no posts table"))
}

fn main() {
    let collect = Collect::default();
    spanlog::export::try_init(collect.clone()).unwrap();
    let subscriber = tracing_subscriber::registry().with(spanlog::tracing::SpanlogLayer::new());
    tracing::subscriber::with_default(subscriber, || {
        let request = tracing::info_span!(
            "web.request",
            resource.name = "/posts",
            span.type = "web",
            http.method = "GET",
            otel.kind = "Server",
        );
        let _r = request.enter();
        let query = tracing::info_span!(
            "query",
            otel.name = "db.query",
            service.name = "postgres",
            rows = tracing::field::Empty,
        );
        query.record("rows", 3u64);
        drop(query.enter());
        drop(query);
        let failed = tracing::info_span!(
            "payment",
            otel.status_code = "ERROR",
            error.message = "card declined"
        );
        // Closed on another thread: finishes there.
        std::thread::spawn(move || drop(failed)).join().unwrap();
        let flagged = tracing::info_span!("flagged", error = true);
        drop(flagged);
        // `follows_from`: a link to the cause, not a parent.
        let cause = tracing::info_span!(parent: None, "enqueue");
        let job = tracing::info_span!(parent: None, "job");
        job.follows_from(&cause);
        drop(job);
        drop(cause);
        // The current span from anywhere: a nested function marks the tracing span.
        let nested = tracing::info_span!("nested.error");
        nested.in_scope(|| {
            let _ = spanlog::record_result(Err::<(), _>(std::io::Error::other("timeout")));
            spanlog::with_current_span(|span| span.set_resource("GET /nested"));
        });
        drop(nested);
        // ERROR events mark the span they happen in.
        tracing::info_span!("event.error").in_scope(|| {
            tracing::warn!("not an error");
            tracing::error!("payment failed");
        });
        tracing::info_span!("outer").in_scope(|| {
            let _ = load_posts();
        });
        tracing::info_span!("warned").in_scope(|| tracing::warn!("slow"));
        let error = std::io::Error::other("disk full");
        tracing::info_span!("typed").in_scope(|| {
            tracing::error!(error = &error as &dyn std::error::Error, "could not save");
        });
        tracing::info_span!("error.field").in_scope(|| {
            tracing::error!(error = &error as &dyn std::error::Error);
        });
    });
    // The switch turns it off.
    let quiet = tracing_subscriber::registry()
        .with(spanlog::tracing::SpanlogLayer::new().mark_error_events(false));
    tracing::subscriber::with_default(quiet, || {
        tracing::info_span!("unmarked").in_scope(|| tracing::error!("ignored"));
    });
    let event = collect.named("event.error");
    assert!(event.error);
    assert_eq!(tag(&event, "error.message"), Some("payment failed"));
    let load = collect.named("load_posts");
    assert!(load.error, "#[instrument(err)] returning Err");
    assert_eq!(tag(&load, "error.message"), Some("no posts table"));
    assert!(
        !collect.named("outer").error,
        "the event's span, not its parent"
    );
    assert!(!collect.named("warned").error);
    // An error value among the event's fields: the span gets its details, as the
    // event's line does (Error Tracking joins the two).
    let typed = collect.named("typed");
    assert_eq!(tag(&typed, "error.message"), Some("disk full"));
    assert_eq!(tag(&typed, "error.type"), Some("std::io::Error"));
    assert!(
        tag(&typed, "error.stack").is_some_and(|s| s.starts_with("std::io::Error: disk full")),
        "{:?}",
        tag(&typed, "error.stack")
    );
    assert!(typed.error);
    assert!(!collect.named("unmarked").error);
    let field = collect.named("error.field");
    assert_eq!(tag(&field, "error.message"), Some("disk full"));
    let nested = collect.named("nested.error");
    assert!(nested.error);
    assert_eq!(nested.resource, "GET /nested");
    assert_eq!(tag(&nested, "error.message"), Some("timeout"));

    let request = collect.named("web.request");
    assert_eq!(request.resource, "/posts");
    assert_eq!(request.span_type.as_deref(), Some("web"));
    assert_eq!(tag(&request, "http.method"), Some("GET"));
    assert_eq!(tag(&request, "span.kind"), Some("server"));
    assert!(request.context.parent_id().is_zero());
    assert!(request.duration_nanos > 0);

    let query = collect.named("db.query");
    assert_eq!(query.service.as_deref(), Some("postgres"));
    assert_eq!(query.metrics, vec![("rows".into(), 3.0)]);
    assert_eq!(query.context.trace_id(), request.context.trace_id());
    assert_eq!(query.context.parent_id(), request.context.span_id());

    let failed = collect.named("payment");
    assert!(failed.error);
    assert_eq!(tag(&failed, "error.message"), Some("card declined"));
    assert_eq!(failed.context.parent_id(), request.context.span_id());
    assert!(collect.named("flagged").error);
    let (cause, job) = (collect.named("enqueue"), collect.named("job"));
    assert!(job.context.parent_id().is_zero());
    assert_eq!(job.links.len(), 1, "{:?}", job.links);
    assert_eq!(job.links[0].span_id, cause.context.span_id());
    assert_eq!(job.links[0].trace_id, cause.context.trace_id());
    assert_eq!(spanlog::stack::depth(), 0);
    println!("1 passed, 0 failed");
}
