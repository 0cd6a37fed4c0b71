//! [`SpanlogLayer`]: `tracing` spans mirrored as spanlog spans.

use std::cell::RefCell;

use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Field, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::ContextGuard;
use crate::span::Span;
use crate::span_builder::start_span;

/// A `tracing_subscriber` layer that mirrors every `tracing` span as a spanlog span.
///
/// - **Ids and parents.** Each span gets Datadog ids when it is created; its parent is
///   the enclosing `tracing` span (explicit or contextual), or else the spanlog span
///   current on the thread, so either kind nests in the other. A span created with
///   `parent: None` starts a new trace.
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
#[derive(Clone, Copy, Debug, Default)]
pub struct SpanlogLayer {
    _private: (),
}

impl SpanlogLayer {
    /// The layer.
    pub fn new() -> Self {
        SpanlogLayer::default()
    }
}

/// The spanlog span that mirrors a `tracing` span, in the span's extensions.
struct Mirror(Span);

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
        let Some(span) = ctx.span(id) else { return };
        let mut builder = start_span(attrs.metadata().name());
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Mirror>()
                .map(|m| m.0.context().clone())
        });
        match parent {
            Some(parent) => builder = builder.child_of(parent),
            None if attrs.is_root() => builder = builder.root(),
            // A contextual root: the spanlog span current on this thread, if any.
            None => {}
        }
        let mut mirror = builder.start();
        attrs.record(&mut Fields(&mut mirror));
        span.extensions_mut().insert(Mirror(mirror));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(Mirror(mirror)) = span.extensions_mut().get_mut::<Mirror>() {
            values.record(&mut Fields(mirror));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let extensions = span.extensions();
        let Some(Mirror(mirror)) = extensions.get::<Mirror>() else {
            return;
        };
        let guard = mirror.context().enter();
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

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let mirror = span.extensions_mut().remove::<Mirror>();
        // Finishing hands the span to the exporter.
        drop(mirror);
    }
}

/// Records `tracing` fields on a mirror, the way Datadog maps OpenTelemetry attributes.
struct Fields<'a>(&'a mut Span);

impl Fields<'_> {
    fn text(&mut self, field: &Field, value: String) {
        let span = &mut *self.0;
        match field.name() {
            "resource.name" => span.set_resource(value),
            "span.type" => span.set_span_type(value),
            "service.name" => span.set_service(value),
            "otel.name" => span.name = value.into(),
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
        self.0.set_error(true);
        self.0.set_tag("error.message", value.to_string());
        if field.name() != "error" {
            self.0.set_tag(field.name(), value.to_string());
        }
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
