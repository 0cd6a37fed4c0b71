//! Log correlation for OpenTelemetry spans, Datadog's Rust SDK (dd-trace-rs) included.
//!
//! With the `opentelemetry` feature, a line logged where no spanlog span is current
//! takes its ids from the active OpenTelemetry span (`opentelemetry::Context::current()`),
//! when that span is valid, sampled or not, once spanlog knows such spans can exist: a
//! [`CorrelatedTracerProvider`] was made ([`set_tracer_provider`] makes one), or
//! [`look_up_active_spans`] was called (for tracing-opentelemetry's spans, a provider
//! used without the wrapper, or a context attached by hand); before that, spanlog does
//! not look, and the feature costs nothing. The `log` wrapper (text and key-values),
//! [`Correlation::current`](crate::Correlation::current) and [`crate::current`] all see
//! the span. The ids are written as for spanlog's own spans: the 128-bit trace id as 32 hex
//! digits when its upper half is non-zero and 128-bit logging is on, else its lower 64
//! bits in decimal; the span id in decimal. An OpenTelemetry trace id is the 128-bit
//! Datadog trace id and a span id the 64-bit one (both big-endian), so the fields match
//! what dd-trace-rs sends to the Agent.
//!
//! ```
//! use opentelemetry::trace::{Tracer, TracerProvider};
//! # use opentelemetry::trace::noop::NoopTracerProvider;
//! # let sdk_provider = NoopTracerProvider::new();
//! // `sdk_provider` is dd-trace-rs's (`datadog_opentelemetry::tracing().init()`) or any
//! // other OpenTelemetry tracer provider.
//! let provider = spanlog::opentelemetry::CorrelatedTracerProvider::new(sdk_provider);
//! let tracer = provider.tracer("blog");
//! tracer.in_span("web.request", |_cx| {
//!     log::info!("my log message"); // carries web.request's ids, once spanlog::init() ran
//! });
//! ```
//!
//! # Parents
//!
//! The OpenTelemetry API has no way to read a span's parent back. Spans started through
//! a [`CorrelatedTracerProvider`] (installed globally by [`set_tracer_provider`]) have
//! their parent recorded, and lines inside them carry it as `dd.parent_id`. For any
//! other span, and for a remote context (extracted from headers, not recorded here),
//! `dd.parent_id` is `"0"`: the trace and span ids, which are what Datadog joins on,
//! are right either way.
//!
//! # Nesting both ways
//!
//! - A spanlog span started while an OpenTelemetry span is active (and no spanlog span
//!   is) is its child: same trace id, its parent the OpenTelemetry span, the sampling
//!   decision and the trace state (`tracestate`) carried over. Inside it, the spanlog
//!   span is the current one.
//! - An OpenTelemetry span started through a [`CorrelatedTracer`] while a spanlog span
//!   is current is that span's child, unless the context it is started with names
//!   another span explicitly.
//! - When both kinds are active, lines carry the innermost: the OpenTelemetry span if it
//!   was started (through the wrapper) inside the current spanlog span, else the
//!   spanlog span.
//!
//! # Where spanlog's own spans go
//!
//! With Datadog's Rust SDK as the tracer, one setup delivers both kinds of span to
//! Datadog, in one trace:
//!
//! ```toml
//! [dependencies]
//! spanlog = { version = "0.1", features = ["opentelemetry", "env_logger"] }
//! datadog-opentelemetry = "0.6"
//! ```
//!
//! ```no_run
//! # fn datadog_provider() -> opentelemetry::trace::noop::NoopTracerProvider { todo!() }
//! // let provider = datadog_opentelemetry::tracing().init();
//! let provider = datadog_provider();
//! spanlog::opentelemetry::set_tracer_provider(provider.clone());
//! spanlog::init();
//! ```
//!
//! - **No spanlog exporter installed** (the setup above): each spanlog span started from
//!   then on is made an OpenTelemetry span of the registered provider as it starts, a
//!   child of its parent (an OpenTelemetry span or a spanlog one), and its ids are the
//!   ones the provider gives it, so its log lines name the span the provider sends. As
//!   it finishes it passes on its name (`operation.name`), resource (`resource.name`),
//!   type (`span.type`), service (`service.name`, when set on the span), tags and
//!   numeric tags as attributes, and a failed span ends with an error status carrying
//!   its `error.message`. dd-trace-rs maps those to Datadog's span fields.
//! - **A spanlog exporter installed** ([`crate::agent::init`] or
//!   [`crate::export::init`], before or after): spanlog's spans started from then on go
//!   to it instead, with the same parents, and the Datadog Agent joins both halves into
//!   one trace.
//!
//! [`CorrelatedTracerProvider::new`] alone (without [`set_tracer_provider`]) exports
//! nothing through the provider: it only correlates.
//!
//! # Service, environment and version
//!
//! spanlog's `dd.service`, `dd.env` and `dd.version` come from its own configuration,
//! which reads `DD_SERVICE`, `DD_ENV` and `DD_VERSION` as dd-trace-rs does: set them in
//! the environment (rather than in code on one side only) and both sides of the link
//! show the same service. Without `DD_SERVICE`, dd-trace-rs reports
//! `unnamed-rust-service`; so does spanlog once [`set_tracer_provider`] has run (rather
//! than the executable's name), as long as its configuration had not been read before
//! (register the provider before `spanlog::init()`; otherwise a warning says the two
//! names differ).
//!
//! # Versions
//!
//! This feature follows `opentelemetry` 0.33, the version dd-trace-rs 0.6 uses. The
//! active span is only visible to spanlog through the same major version of the
//! `opentelemetry` crate.

pub(crate) mod bridge;
mod lookup;
mod parents;
mod tracer;

use std::borrow::Cow;
use std::str::FromStr;

use ::opentelemetry::trace::{
    self as otel, SpanContext as OtelContext, TraceContextExt, TraceFlags, TraceState,
};
use ::opentelemetry::{Context, global};

pub use self::tracer::{CorrelatedSpan, CorrelatedTracer, CorrelatedTracerProvider};
pub(crate) use lookup::{active, copy_ids_text, has_active, is_inside};

use crate::context;
use crate::id::SpanId;
use crate::propagation::{self, Extractor, Injector};
use crate::span_context::SpanContext;

/// Makes log lines and spanlog spans look for the active OpenTelemetry span from now on,
/// for spans that spanlog's wrappers do not see being made: tracing-opentelemetry's,
/// a provider used without [`CorrelatedTracerProvider`], or a context attached by hand.
///
/// Until then (or until a [`CorrelatedTracerProvider`] is made, which includes
/// [`set_tracer_provider`]) spanlog does not look: Cargo features unify, so a crate
/// anywhere in a service's tree may turn the `opentelemetry` feature on in a service
/// that never makes an OpenTelemetry span, and there a line outside a spanlog span
/// costs one relaxed load more than without the feature. The switch cannot be turned
/// off again.
///
/// ```
/// use opentelemetry::Context;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId};
///
/// let remote = SpanContext::new(
///     TraceId::from_bytes(0x1234_u128.to_be_bytes()),
///     SpanId::from_bytes(42_u64.to_be_bytes()),
///     TraceFlags::SAMPLED,
///     true,
///     Default::default(),
/// );
/// let _attached = Context::new().with_remote_span_context(remote).attach();
/// assert!(spanlog::current().is_none()); // spanlog does not look yet
///
/// spanlog::opentelemetry::look_up_active_spans();
/// assert_eq!(spanlog::current().map(|c| c.span_id().to_u64()), Some(42));
/// ```
pub fn look_up_active_spans() {
    lookup::enable();
}

/// Installs `provider`, wrapped in a [`CorrelatedTracerProvider`], as OpenTelemetry's
/// global tracer provider (`opentelemetry::global::tracer` then starts spans through
/// it). Keep the provider itself to flush and shut it down.
///
/// It also makes `provider` where spanlog's own spans go while no spanlog exporter is
/// installed, and its default service name (without `DD_SERVICE`) dd-trace-rs's: see
/// [the module's page](self#where-spanlogs-own-spans-go).
///
/// ```no_run
/// # fn datadog_provider() -> opentelemetry::trace::noop::NoopTracerProvider { todo!() }
/// // let provider = datadog_opentelemetry::tracing().init();
/// let provider = datadog_provider();
/// spanlog::opentelemetry::set_tracer_provider(provider.clone());
/// ```
pub fn set_tracer_provider<P, T, S>(provider: P)
where
    P: otel::TracerProvider<Tracer = T> + Send + Sync + 'static,
    T: otel::Tracer<Span = S> + Send + Sync + 'static,
    S: otel::Span + Send + Sync + 'static,
{
    bridge::install(provider.tracer("spanlog"));
    crate::config::use_dd_trace_rs_default_service();
    global::set_tracer_provider(CorrelatedTracerProvider::new(provider));
}

/// The active OpenTelemetry span as a spanlog context (allocates: the trace state is
/// decoded as a W3C `tracestate`), for [`crate::current`] and for spanlog spans started
/// inside it.
pub(crate) fn current_context() -> Option<SpanContext> {
    let ids = active()?;
    let (flags, state) = Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        (sc.trace_flags(), sc.trace_state().header())
    });
    let headers = W3cHeaders {
        traceparent: Some(format!(
            "00-{:032x}-{:016x}-{:02x}",
            ids.trace_id,
            ids.span_id,
            flags.to_u8()
        )),
        tracestate: (!state.is_empty()).then_some(state),
    };
    // A trace state that breaks the W3C grammar is dropped, not the span.
    let mut context = propagation::from_w3c(&headers)?;
    context.parent_id = SpanId::from_u64(ids.parent_id());
    if !ids.remote {
        // A span of this process: what came from upstream belongs to its local root.
        if let Some(meta) = context.trace.as_mut() {
            let meta = std::sync::Arc::make_mut(meta);
            meta.last_parent_id = None;
            meta.propagation_error = None;
        }
    }
    Some(context)
}

/// The spanlog span an OpenTelemetry span started with `parent_cx` should be a child of:
/// the current spanlog span, when `parent_cx` is the current context (not an explicit
/// one) and its span is not itself inside the spanlog span.
fn spanlog_parent(parent_cx: &Context) -> Option<SpanContext> {
    let frame = context::current()?;
    if !parent_cx.has_active_span() {
        return Some(frame);
    }
    let explicit = parent_cx.span().span_context().span_id()
        != Context::map_current(|cx| cx.span().span_context().span_id());
    if explicit {
        return None;
    }
    match active() {
        Some(otel) if is_inside(otel, frame.span_id.to_u64()) => None,
        _ => Some(frame),
    }
}

/// `context` as a remote OpenTelemetry parent, through its W3C headers.
fn to_otel(context: &SpanContext) -> OtelContext {
    let mut headers = W3cHeaders::default();
    propagation::to_w3c(context, &mut headers);
    let state = headers
        .tracestate
        .as_deref()
        .and_then(|s| TraceState::from_str(s).ok())
        .unwrap_or_default();
    OtelContext::new(
        otel::TraceId::from_bytes(context.trace_id.to_u128().to_be_bytes()),
        otel::SpanId::from_bytes(context.span_id.to_u64().to_be_bytes()),
        match context.sampling_priority() > 0 {
            true => TraceFlags::SAMPLED,
            false => TraceFlags::NOT_SAMPLED,
        },
        true,
        state,
    )
}

/// The two W3C headers, as a carrier.
#[derive(Default)]
struct W3cHeaders {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Extractor for W3cHeaders {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        match name {
            "traceparent" => self.traceparent.as_deref().map(Cow::Borrowed),
            "tracestate" => self.tracestate.as_deref().map(Cow::Borrowed),
            _ => None,
        }
    }
}

impl Injector for W3cHeaders {
    fn set(&mut self, name: &'static str, value: String) {
        match name {
            "traceparent" => self.traceparent = Some(value),
            "tracestate" => self.tracestate = Some(value),
            _ => {}
        }
    }
}
