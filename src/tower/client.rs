//! Client middleware: a child span per outgoing request, injected into its headers.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use super::request;
use super::{ResponseSettings, Settings, StatusCodes};
use crate::context::DropScope;
use crate::propagation;
use crate::span::Span;
use crate::span_builder::start_span;
use crate::span_parts::Text;

/// A [`tower_layer::Layer`] for HTTP clients (hyper-util's, tonic's, any tower service
/// taking an `http::Request`): each call gets a child span of the current one, named
/// `http.request`, of type `http`, with `span.kind=client`, `component=tower`,
/// `http.method`, `http.url` (no query string), `out.host`, `http.status_code` and the
/// configured header tags, resource `"<METHOD> <path>"` (segments holding digits
/// written `?`), and its context is injected into the request's headers (the global
/// propagator's styles). The span finishes when the response arrives; it is an error
/// for the configured statuses (400–499 by default, `DD_TRACE_HTTP_CLIENT_ERROR_STATUSES`)
/// and for a failed call.
///
/// ```
/// let layer = spanlog::tower::ClientLayer::new();
/// // tower::ServiceBuilder::new().layer(layer).service(hyper_util_client)
/// # let _ = layer;
/// ```
#[derive(Clone, Debug)]
pub struct ClientLayer {
    settings: Arc<Settings>,
}

impl Default for ClientLayer {
    fn default() -> Self {
        ClientLayer::new()
    }
}

impl ClientLayer {
    /// A layer with the defaults: `http.request` spans, no header tags, error statuses
    /// 400–499. Reads no environment variable (see [`ClientLayer::from_env`]).
    pub fn new() -> Self {
        ClientLayer {
            settings: Arc::new(Settings::new(StatusCodes::client_errors())),
        }
    }

    /// A layer configured from the environment as Datadog's tracers are:
    /// `DD_TRACE_HEADER_TAGS` and `DD_TRACE_HTTP_CLIENT_ERROR_STATUSES` (default 400–499); an invalid value
    /// warns on standard error and leaves the default.
    pub fn from_env() -> Self {
        ClientLayer {
            settings: Arc::new(Settings::from_env(
                "DD_TRACE_HTTP_CLIENT_ERROR_STATUSES",
                StatusCodes::client_errors(),
            )),
        }
    }

    super::settings_methods!();
}

impl<S> Layer<S> for ClientLayer {
    type Service = ClientService<S>;

    fn layer(&self, inner: S) -> ClientService<S> {
        ClientService {
            inner,
            settings: self.settings.clone(),
        }
    }
}

/// The service a [`ClientLayer`] wraps around a client.
#[derive(Clone, Debug)]
pub struct ClientService<S> {
    inner: S,
    settings: Arc<Settings>,
}

impl<S, B, ResBody> Service<Request<B>> for ClientService<S>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let method = request::method(request.method());
        let resource = request::method_and_path(&method, request.uri().path());
        let url = request::url(&request);
        // Host, status and an error's message.
        let more = 3 + self.settings.header_tags.len();
        let mut tags = request::http_tags("client", method, url, more);
        if let Some(host) = request::host(&request) {
            tags.push((Text::Borrowed("out.host"), Text::Owned(host)));
        }
        let mut span = start_span(self.settings.span_name.clone())
            .span_type("http")
            .resource(resource)
            .new_tags(tags)
            .start();
        self.settings
            .header_tags
            .apply(request.headers(), "request", &mut span);
        propagation::inject(span.context(), request.headers_mut());
        let inner = span.in_scope(|| self.inner.call(request));
        ClientFuture {
            inner,
            scope: DropScope::default(),
            span: Some(span),
            settings: self.settings.for_response(),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of a [`ClientService`].
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        scope: DropScope,
        span: Option<Span>,
        settings: ResponseSettings,
    }

    impl<F> PinnedDrop for ClientFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.as_ref() {
                this.scope.enter(span.context());
            }
        }
    }
}

impl<F> fmt::Debug for ClientFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientFuture")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<F, ResBody, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.span.as_ref().map(Span::enter);
            ready!(this.inner.poll(cx))
        };
        if let Some(mut span) = this.span.take() {
            match &result {
                Ok(response) => this.settings.record(&mut span, response),
                Err(error) => {
                    span.set_error(true);
                    span.set_tag("error.message", error.to_string());
                }
            }
        }
        Poll::Ready(result)
    }
}
