//! [`SpanlogLayer`]: `tracing` spans mirrored as spanlog spans.

use std::cell::RefCell;
use std::sync::{Arc, MutexGuard};

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Field, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::ContextGuard;
use crate::correlation::error::ErrorFields;
use crate::id::SpreadHasher;
use crate::sharded::{Shard, Sharded};
use crate::span::Span;
use crate::span_builder::start_span;

/// A `tracing_subscriber` layer that mirrors every `tracing` span as a spanlog span.
///
/// - **Ids and parents.** Each span gets Datadog ids when it is created. Its parent is
///   the explicit `parent:` span (or, when a per-layer filter hides that one from this
///   layer, its nearest ancestor this layer sees); otherwise the innermost span entered
///   on the thread, of either kind: a `tracing` span's mirror or a spanlog span, so
///   either kind nests in the other. A span created with `parent: None` starts a new
///   trace.
/// - **Fields**, mapped as Datadog maps OpenTelemetry attributes: `resource.name` sets
///   the resource, `span.type` the type, `service.name` the service, `otel.name` the
///   operation name; `error = true`, `otel.status_code = "ERROR"` or an
///   `error.message` / `exception.message` field mark the span as failed; `otel.kind`
///   becomes `span.kind`. Other fields become tags (text) or metrics (numbers).
///   Fields recorded later (`Span::record`) apply too.
/// - **Current span.** Entering a `tracing` span (on any thread, any number of times,
///   as `.instrument()`ed futures are at each poll) makes its mirror current on
///   spanlog's thread-local stack until it is exited: [`current`](crate::current),
///   propagation, [`Correlation::current`](crate::Correlation::current), the `log`
///   wrapper and [`CorrelatedWriter`](super::CorrelatedWriter) all see it.
/// - **Finishing.** Closing the `tracing` span (when its last handle is dropped, on
///   whatever thread) finishes the mirror, which goes to the installed exporter.
///
/// Spans a per-layer filter hides from this layer, disabled spans and `Span::none()`
/// are not mirrored and never become current.
///
/// # Examples
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(spanlog::tracing::SpanlogLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let span = tracing::info_span!("web.request", resource.name = "/posts");
///     let _entered = span.enter();
///     let context = spanlog::current().expect("the tracing span is current");
///     assert_eq!(context.parent_id(), spanlog::SpanId::ZERO);
/// });
/// ```
#[derive(Clone, Debug, Default)]
pub struct SpanlogLayer {
    mirrors: Arc<Mirrors>,
    /// `mark_error_events(false)` was called.
    errors_unmarked: bool,
}

impl SpanlogLayer {
    /// The layer.
    pub fn new() -> Self {
        SpanlogLayer::default()
    }

    /// Whether an ERROR event marks the span it happens in as failed (on by default):
    /// `tracing::error!` inside a span, `#[tracing::instrument(err)]` returning `Err`,
    /// and `log::error!` bridged into `tracing` (as `spanlog::tracing::init` bridges
    /// it), inside a mirrored `tracing` span or a spanlog span. The span gets
    /// `error.message` from the event's message, else from its `error` field (what
    /// `instrument(err)` records, or an error value, `error = &e as &dyn Error`):
    /// tracing-opentelemetry marks spans the same way. (`tracing` hands errors over as
    /// `dyn Error`, whose type is not known: for `error.type`, record the error on the
    /// span with `Span::record_error`.) Events below ERROR are never looked at; an
    /// ERROR event allocates once, for the message.
    pub fn mark_error_events(mut self, on: bool) -> Self {
        self.errors_unmarked = !on;
        self
    }
}

/// The spanlog span that mirrors each open `tracing` span, by the span's id. Kept by
/// the layer itself rather than in the registry's extensions: no box per span, and
/// entering a span looks up one small map instead of the registry and its extensions.
/// Each layer has its own (ids are only unique within one subscriber). Registry ids are
/// small consecutive numbers: [`SpreadHasher`] spreads them within a shard.
#[derive(Default)]
struct Mirrors(Sharded<u64, Span, SpreadHasher>);

impl std::fmt::Debug for Mirrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirrors").finish_non_exhaustive()
    }
}

impl Mirrors {
    fn shard(&self, id: &Id) -> MutexGuard<'_, Shard<u64, Span, SpreadHasher>> {
        self.0.lock(id.into_u64())
    }

    /// The context of the mirror of `id`, if there is one.
    fn context(&self, id: &Id) -> Option<crate::span_context::SpanContext> {
        self.shard(id)
            .get(&id.into_u64())
            .map(|m| m.context().clone())
    }
}

thread_local! {
    /// The mirrors entered on this thread, innermost last, each with the guard that
    /// keeps it on spanlog's stack.
    static ENTERED: RefCell<Vec<(Id, ContextGuard)>> = const { RefCell::new(Vec::new()) };
}

impl<S> tracing_subscriber::Layer<S> for SpanlogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut builder = start_span(attrs.metadata().name());
        if let Some(parent) = attrs.parent() {
            // An explicit parent: its mirror; for a parent this layer does not see (a
            // per-layer filter), the nearest ancestor it sees; else a new trace.
            let mirrored = self.mirrors.context(parent).or_else(|| {
                let ancestor = ctx.span(id)?.parent()?;
                self.mirrors.context(&ancestor.id())
            });
            builder = match mirrored {
                Some(parent) => builder.child_of(parent),
                None => builder.root(),
            };
        } else if attrs.is_root() {
            builder = builder.root();
        }
        // A contextual parent: the innermost span entered on this thread, of either
        // kind: the top of spanlog's stack, where entering a tracing span puts its
        // mirror (the builder's default; no registry lookup).
        let mut mirror = builder.start();
        attrs.record(&mut Fields(&mut mirror));
        // A mirror left under a reused id (a close this layer never saw) finishes outside
        // the lock.
        let stale = self.mirrors.shard(id).insert(id.into_u64(), mirror);
        drop(stale);
    }

    fn on_event(&self, event: &tracing_core::Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() == tracing_core::Level::ERROR {
            self.error_event(event);
        } else {
            // A line written for this event carries no error of an earlier one.
            super::writer::set_event_error(None);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        // The values are formatted before the map is locked: a `Debug` impl may itself
        // make tracing spans, which would need the lock.
        let mut recorded = Recorded(Vec::new());
        values.record(&mut recorded);
        if let Some(mirror) = self.mirrors.shard(id).get_mut(&id.into_u64()) {
            recorded.replay(&mut Fields(mirror));
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, _ctx: Context<'_, S>) {
        // A link from the span to the one it follows (its cause, not its parent).
        let Some(cause) = self.mirrors.context(follows) else {
            return;
        };
        if let Some(mirror) = self.mirrors.shard(id).get_mut(&id.into_u64()) {
            mirror.add_link(crate::SpanLink::to(&cause));
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        let Some(context) = self.mirrors.context(id) else {
            return;
        };
        let guard = context.enter();
        let _ = ENTERED.try_with(|entered| {
            if let Ok(mut entered) = entered.try_borrow_mut() {
                entered.push((id.clone(), guard));
            }
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|entered| {
            let left = entered.try_borrow_mut().ok().and_then(|mut entered| {
                let at = entered.iter().rposition(|(entered, _)| entered == id)?;
                Some(entered.remove(at))
            });
            // Dropped outside the borrow: leaving the stack touches no user code, but
            // keep the order plain.
            drop(left);
        });
    }

    fn on_close(&self, id: Id, _ctx: Context<'_, S>) {
        // Out of the map first, then finished (handed to the exporter) outside the lock.
        let mirror = self.mirrors.shard(&id).remove(&id.into_u64());
        drop(mirror);
    }
}

/// Records `tracing` fields on a mirror, the way Datadog maps OpenTelemetry attributes.
struct Fields<'a>(&'a mut Span);

impl Fields<'_> {
    fn error(&mut self, field: &Field, message: String) {
        self.0.set_error(true);
        if field.name() != "error" {
            self.0.set_tag(field.name(), message.clone());
        }
        self.0.set_tag("error.message", message);
    }

    fn text(&mut self, field: &Field, value: String) {
        let span = &mut *self.0;
        match field.name() {
            "resource.name" => span.set_resource(value),
            "span.type" => span.set_span_type(value),
            "service.name" => span.set_service(value),
            "otel.name" => span.parts.name = value.into(),
            "otel.kind" => span.set_tag("span.kind", value.to_ascii_lowercase()),
            "otel.status_code" => {
                if value.eq_ignore_ascii_case("error") {
                    span.set_error(true);
                }
            }
            "error.message" | "exception.message" => {
                span.set_error(true);
                span.set_tag("error.message", value);
            }
            "otel.status_description" => span.set_tag("error.message", value),
            name => span.set_tag(name, value),
        }
    }
}

impl tracing_core::field::Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.text(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.text(field, format!("{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.error(field, value.to_string());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        match field.name() {
            "error" => self.0.set_error(value),
            name => self.0.set_tag(name, if value { "true" } else { "false" }),
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.set_metric(field.name(), value as f64);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.set_metric(field.name(), value as f64);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.set_metric(field.name(), value);
    }
}

/// Field values captured to be applied later.
struct Recorded(Vec<(Field, Value)>);

enum Value {
    Text(String),
    Error(String),
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
}

impl Recorded {
    fn replay(self, fields: &mut Fields<'_>) {
        use tracing_core::field::Visit;
        for (field, value) in self.0 {
            match value {
                Value::Text(text) => fields.text(&field, text),
                Value::Error(message) => fields.error(&field, message),
                Value::Bool(b) => fields.record_bool(&field, b),
                Value::I64(n) => fields.record_i64(&field, n),
                Value::U64(n) => fields.record_u64(&field, n),
                Value::F64(n) => fields.record_f64(&field, n),
            }
        }
    }
}

impl tracing_core::field::Visit for Recorded {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.clone(), Value::Text(value.to_owned())));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .push((field.clone(), Value::Text(format!("{value:?}"))));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .push((field.clone(), Value::Error(value.to_string())));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.push((field.clone(), Value::Bool(value)));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.push((field.clone(), Value::I64(value)));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.push((field.clone(), Value::U64(value)));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.push((field.clone(), Value::F64(value)));
    }
}

impl SpanlogLayer {
    /// An ERROR event: an error value among its fields gives its line (written next,
    /// by the formatting layer, through [`CorrelatedWriter`](super::CorrelatedWriter))
    /// `error.kind`, `error.message` and `error.stack`, and its span the same details;
    /// else the span is marked with the event's message. The span is the current one (a
    /// mirrored `tracing` span or a spanlog span, the innermost entered on this
    /// thread). Out of line: most events are not errors.
    #[cold]
    #[inline(never)]
    fn error_event(&self, event: &tracing_core::Event<'_>) {
        let mut details = ErrorDetails::default();
        event.record(&mut details);
        super::writer::set_event_error(details.value.clone());
        if self.errors_unmarked {
            return;
        }
        if let Some(error) = details.value {
            return error.mark_current_span();
        }
        let message = details.message.or(details.error);
        crate::current_span::with_current_span(|span| {
            span.set_error(true);
            if let Some(message) = message {
                span.set_tag("error.message", message);
            }
        });
    }
}

/// What an ERROR event says about its error.
#[derive(Default)]
struct ErrorDetails {
    message: Option<String>,
    /// The `error` field, as `instrument(err)` records it, or an error value.
    error: Option<String>,
    /// The first error value among the fields (recorded as `&dyn Error`).
    value: Option<ErrorFields>,
}

impl tracing_core::field::Visit for ErrorDetails {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            "error" => self.error = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == "error" || self.error.is_none() {
            self.error = Some(value.to_string());
        }
        if self.value.is_none() {
            self.value = Some(ErrorFields::of(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }
}
