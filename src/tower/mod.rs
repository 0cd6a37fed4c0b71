//! HTTP services in one line: server middleware and client injection for the
//! tower/hyper stack (axum, tonic, hyper-util), with the `tower` feature.
//!
//! - [`ServerLayer`]: every request a server handles gets a span, continued from the
//!   caller's Datadog or W3C headers, tagged as Datadog's HTTP integrations tag them,
//!   current while the handler and the response body run, marked as an error on 5xx,
//!   on a handler error and on a panic, finished when the body ends.
//! - [`ClientLayer`]: every request a client sends gets a child span, injected into
//!   the request's headers.
//! - [`crate::inject_current`]: the current context into any request's headers in one
//!   call, for clients that are not tower services (reqwest: inject into an
//!   `http::HeaderMap`, then `.headers(headers)`).
//!
//! ```no_run
//! # #[cfg(any())]
//! # {
//! use axum::{Router, routing::get};
//!
//! let app = Router::new()
//!     .route("/posts/{id}", get(show_post))
//!     .layer(spanlog::tower::ServerLayer::from_env()); // resource: "GET /posts/{id}"
//! # }
//! ```
//!
//! With the `axum` feature (which enables this one), the resource and `http.route` use
//! axum's matched route. Add the layer with `Router::layer` (not around the router as
//! a whole), so that the route is known when the request reaches it.
//!
//! # Configuration
//!
//! Read once, when a layer is made with `new()`, from the environment as Datadog's
//! tracers read it; the builder methods override it. An invalid value warns on
//! standard error and the default is used.
//!
//! - `DD_TRACE_HEADER_TAGS`: headers copied onto spans as tags ([`HeaderTags`]).
//! - `DD_TRACE_HTTP_SERVER_ERROR_STATUSES` (default `500-599`) and
//!   `DD_TRACE_HTTP_CLIENT_ERROR_STATUSES` (default `400-499`): the statuses that mark
//!   a server or client span as an error ([`StatusCodes`]).

use std::borrow::Cow;
use std::sync::Arc;

mod client;
mod header_tags;
mod request;
mod server;
mod statuses;

pub use self::client::{ClientFuture, ClientLayer, ClientService};
pub use self::header_tags::HeaderTags;
#[allow(deprecated)]
pub use self::header_tags::InvalidHeaderTags;
pub use self::server::{ResponseFuture, ServerLayer, ServerService, TracedBody};

/// The server layer's name in 0.1.
#[deprecated(since = "0.2.0", note = "renamed `ServerLayer`, beside `ClientLayer`")]
pub type TraceLayer = ServerLayer;

/// The server service's name in 0.1.
#[deprecated(
    since = "0.2.0",
    note = "renamed `ServerService`, beside `ClientService`"
)]
pub type TraceService<S> = ServerService<S>;
#[allow(deprecated)]
pub use self::statuses::InvalidStatusCodes;
pub use self::statuses::StatusCodes;

use crate::env::{self, Env};

/// What a server or client layer is configured with.
#[derive(Clone, Debug)]
struct Settings {
    span_name: Cow<'static, str>,
    error_statuses: StatusCodes,
    header_tags: HeaderTags,
}

impl Settings {
    /// `http.request` spans, no header tags, the `default` error statuses.
    fn new(default: StatusCodes) -> Self {
        Settings {
            span_name: Cow::Borrowed("http.request"),
            error_statuses: default,
            header_tags: HeaderTags::new(),
        }
    }

    /// `http.request` spans, `DD_TRACE_HEADER_TAGS` and the error statuses in
    /// `statuses_var` (else `default`), with warnings for invalid values.
    fn from_env(statuses_var: &str, default: StatusCodes) -> Self {
        Settings::read(&mut env::process(), statuses_var, default)
    }

    fn read(env: &mut Env<'_>, statuses_var: &str, default: StatusCodes) -> Self {
        let header_tags = match env.get("DD_TRACE_HEADER_TAGS") {
            None => HeaderTags::new(),
            Some(value) => HeaderTags::parse(&value).unwrap_or_else(|error| {
                env.warn(format!("spanlog: ignoring DD_TRACE_HEADER_TAGS: {error}"));
                HeaderTags::new()
            }),
        };
        let error_statuses = match env.get(statuses_var) {
            None => default,
            Some(value) => StatusCodes::parse(&value).unwrap_or_else(|error| {
                env.warn(format!(
                    "spanlog: ignoring {statuses_var}: {error}; using the default"
                ));
                default
            }),
        };
        Settings {
            span_name: Cow::Borrowed("http.request"),
            error_statuses,
            header_tags,
        }
    }

    /// What a request's future needs once its response is in.
    fn for_response(self: &Arc<Self>) -> ResponseSettings {
        ResponseSettings {
            error_statuses: self.error_statuses,
            tagged: (!self.header_tags.is_empty()).then(|| self.clone()),
        }
    }
}

/// What a request's future needs of its layer's settings: the error statuses, copied,
/// and the settings themselves only when they tag response headers. A request touches
/// no reference count shared with every other request otherwise.
#[derive(Clone, Debug)]
struct ResponseSettings {
    error_statuses: StatusCodes,
    tagged: Option<Arc<Settings>>,
}

impl ResponseSettings {
    /// Tags the status (an error for the configured codes) and the response headers.
    fn record<B>(&self, span: &mut crate::span::Span, response: &http::Response<B>) {
        let status = response.status();
        let is_error = self.error_statuses.contains(status.as_u16());
        request::record_status(span, status, is_error);
        if let Some(settings) = &self.tagged {
            settings
                .header_tags
                .apply(response.headers(), "response", span);
        }
    }
}

/// The builder methods both layers share, over their `settings: Arc<Settings>`.
macro_rules! settings_methods {
    () => {
        /// The spans' operation name (default `http.request`).
        pub fn span_name(mut self, name: impl Into<std::borrow::Cow<'static, str>>) -> Self {
            Arc::make_mut(&mut self.settings).span_name = name.into();
            self
        }

        /// The response statuses that mark a span as an error.
        pub fn error_statuses(mut self, codes: StatusCodes) -> Self {
            Arc::make_mut(&mut self.settings).error_statuses = codes;
            self
        }

        /// The request and response headers copied onto spans as tags.
        pub fn header_tags(mut self, tags: super::HeaderTags) -> Self {
            Arc::make_mut(&mut self.settings).header_tags = tags;
            self
        }
    };
}
pub(crate) use settings_methods;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::read_with;

    fn read(vars: &[(&str, &str)]) -> (Settings, Vec<String>) {
        let var = "DD_TRACE_HTTP_SERVER_ERROR_STATUSES";
        read_with(vars, |env| {
            Settings::read(env, var, StatusCodes::server_errors())
        })
    }

    #[test]
    fn settings_come_from_the_environment_with_warnings_for_bad_values() {
        let (settings, warnings) = read(&[
            ("DD_TRACE_HEADER_TAGS", "X-Request-Id"),
            ("DD_TRACE_HTTP_SERVER_ERROR_STATUSES", "500-599,429"),
        ]);
        assert_eq!(settings.header_tags.len(), 1);
        assert!(settings.error_statuses.contains(429));
        assert_eq!(settings.span_name, "http.request");
        assert!(warnings.is_empty());

        let (settings, warnings) = read(&[
            ("DD_TRACE_HEADER_TAGS", "bad header"),
            ("DD_TRACE_HTTP_SERVER_ERROR_STATUSES", "5xx"),
        ]);
        assert!(settings.header_tags.is_empty());
        assert_eq!(settings.error_statuses, StatusCodes::server_errors());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[1].contains("DD_TRACE_HTTP_SERVER_ERROR_STATUSES"),
            "{warnings:?}"
        );
    }
}
