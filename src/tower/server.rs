//! Server middleware: one span per request, continued from the caller's headers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;

use super::request;
use super::{ResponseSettings, Settings, StatusCodes};
use crate::context::DropScope;
use crate::propagation;
use crate::span::Span;
use crate::span_builder::start_span;
use crate::span_parts::Text;

/// A [`tower_layer::Layer`] that traces every request a service handles.
///
/// For each request it continues the caller's trace from the headers (the global
/// propagator's styles, Datadog and W3C by default) or starts a new one, and starts a
/// span named `http.request` of type `web` with Datadog's HTTP tags: `http.method`,
/// `http.url` (no query string), `http.route`, `http.useragent`, `http.status_code`,
/// `span.kind=server`, `component=tower`, and the configured header tags. Its
/// resource is `"<METHOD> <route>"`: axum's matched route (with the `axum` feature,
/// when the layer is added with `Router::layer`), else the path with every segment
/// that holds a digit written `?` (`GET /posts/?`), never the raw path.
///
/// The span is current whenever the handler's future or the response body is polled,
/// on whichever thread polls it, so `log` lines there carry its ids. It is marked as an
/// error for the configured statuses (500–599 by default), for a handler error and for
/// a handler panic, and it finishes when the response body ends or is dropped.
///
/// Configuration comes from `DD_TRACE_HEADER_TAGS` and
/// `DD_TRACE_HTTP_SERVER_ERROR_STATUSES` (read by [`ServerLayer::new`]; an invalid value
/// warns on standard error and the default is used), or from the builder methods.
///
/// ```
/// use spanlog::tower::{StatusCodes, ServerLayer};
///
/// let layer = ServerLayer::new()
///     .span_name("web.request")
///     .error_statuses(StatusCodes::parse("500-599,429").unwrap());
/// // axum: Router::new().route("/posts/{id}", get(handler)).layer(layer)
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct ServerLayer {
    settings: Arc<Settings>,
}

impl Default for ServerLayer {
    fn default() -> Self {
        ServerLayer::new()
    }
}

impl ServerLayer {
    /// A layer with the defaults: `http.request` spans, no header tags, error statuses
    /// 500–599. Reads no environment variable (see [`ServerLayer::from_env`]).
    pub fn new() -> Self {
        ServerLayer {
            settings: Arc::new(Settings::new(StatusCodes::server_errors())),
        }
    }

    /// A layer configured from the environment as Datadog's tracers are:
    /// `DD_TRACE_HEADER_TAGS` and `DD_TRACE_HTTP_SERVER_ERROR_STATUSES` (default 500–599); an invalid value
    /// warns on standard error and leaves the default.
    pub fn from_env() -> Self {
        ServerLayer {
            settings: Arc::new(Settings::from_env(
                "DD_TRACE_HTTP_SERVER_ERROR_STATUSES",
                StatusCodes::server_errors(),
            )),
        }
    }

    super::settings_methods!();
}

impl<S> Layer<S> for ServerLayer {
    type Service = ServerService<S>;

    fn layer(&self, inner: S) -> ServerService<S> {
        ServerService {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service a [`ServerLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct ServerService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl Settings {
    fn start<B>(&self, request: &Request<B>) -> Span {
        let method = request::method(request.method());
        let route = matched_route(request);
        let resource = match &route {
            Some(route) => request::concat(&[&method, " ", route]),
            None => request::method_and_path(&method, request.uri().path()),
        };
        let headers = propagation::HeaderIndex::new(request.headers());
        let url = request::url_with_host(request, headers.host());
        // Route, user agent, status and an error's message.
        let mut tags = request::http_tags("server", method, url, 4 + self.header_tags.len());
        if let Some(route) = route {
            tags.push((Text::Borrowed("http.route"), Text::Owned(route)));
        }
        if let Some(agent) = request::user_agent(headers.user_agent()) {
            tags.push((
                Text::Borrowed("http.useragent"),
                Text::Owned(agent.to_owned()),
            ));
        }
        let builder = start_span(self.span_name.clone())
            .span_type("web")
            .resource(resource)
            .new_tags(tags);
        let builder = match propagation::Propagator::global().extract_index(&headers) {
            Some(remote) => builder.child_of(remote),
            None => builder.root(),
        };
        let mut span = builder.start();
        self.header_tags
            .apply(request.headers(), "request", &mut span);
        span
    }
}

/// axum's matched route, when the request went through an axum router.
#[cfg(feature = "axum")]
fn matched_route<B>(request: &Request<B>) -> Option<String> {
    let path = request.extensions().get::<axum::extract::MatchedPath>()?;
    Some(path.as_str().to_owned())
}

#[cfg(not(feature = "axum"))]
fn matched_route<B>(_: &Request<B>) -> Option<String> {
    None
}

impl<S, B, ResBody> Service<Request<B>> for ServerService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
{
    type Response = Response<TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let mut span = Some(self.settings.start(&request));
        // Handlers may do work (and log) when called, before their future is polled;
        // one that panics right there (under a layer that catches panics) still
        // leaves its span marked as failed.
        let inner = {
            let mark = MarkPanic(&mut span);
            let _current = mark.0.as_ref().map(|span| span.context().enter());
            self.inner.call(request)
        };
        ResponseFuture {
            inner,
            scope: DropScope::default(),
            span,
            settings: self.settings.for_response(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of a [`ServerService`]: the handler's future, polled inside
    /// the request's span.
    pub struct ResponseFuture<F> {
        // Dropped inside the span (see `drop`), then the span is left and finishes.
        #[pin]
        inner: F,
        scope: DropScope,
        span: Option<Span>,
        settings: ResponseSettings,
    }

    impl<F> PinnedDrop for ResponseFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Dropped before it answered: after a panic (marked by `poll`), or because
            // the client went away (not an error).
            if let Some(span) = this.span.as_ref() {
                this.scope.enter(span.context());
            }
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: fmt::Display,
{
    type Output = Result<Response<TracedBody<ResBody>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.as_ref().map(|span| span.context().enter());
            // Runtimes catch a handler's panic around the task and drop the future
            // later: the span learns of the panic here, while it unwinds.
            let _on_panic = MarkPanic(&mut *this.span);
            ready!(this.inner.poll(cx))
        };
        let mut span = this.span.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(span) = span.as_mut() {
                    this.settings.record(span, &response);
                }
                let (parts, body) = response.into_parts();
                Ok(Response::from_parts(
                    parts,
                    TracedBody { inner: body, span },
                ))
            }
            Err(error) => {
                if let Some(span) = span.as_mut() {
                    span.set_error(true);
                    span.set_tag("error.message", error.to_string());
                }
                Err(error)
            }
        })
    }
}

/// Marks the span as failed when dropped during a panic.
struct MarkPanic<'a>(&'a mut Option<Span>);

impl Drop for MarkPanic<'_> {
    fn drop(&mut self) {
        if let (true, Some(span)) = (std::thread::panicking(), self.0.as_mut()) {
            span.set_error(true);
            span.set_tag("error.type", "panic");
            span.set_tag("error.message", "the request handler panicked");
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps the request's span open until the body ends (or is
    /// dropped), and current while it is polled (a streaming body's lines carry it).
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: Option<Span>,
    }
}

impl<B> TracedBody<B> {
    /// The request's span, until the body ends.
    pub fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }
}

impl<B: fmt::Debug> fmt::Debug for TracedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedBody")
            .field("inner", &self.inner)
            .field("span", &self.span)
            .finish()
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body,
    B::Error: fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let mut this = self.project();
        // A body that says it is done is not polled again: the span finishes now, with
        // no need to enter it.
        if this.inner.is_end_stream() {
            drop(this.span.take());
            return Poll::Ready(None);
        }
        let frame = {
            let _entered = this.span.as_ref().map(Span::enter);
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        match &frame {
            Some(Ok(_)) => {}
            // The end: the span finishes now.
            None => drop(this.span.take()),
            Some(Err(error)) => {
                if let Some(mut span) = this.span.take() {
                    span.set_error(true);
                    span.set_tag("error.message", error.to_string());
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
