//! What the server and client spans read from a request: URL, resource, tags.

use std::borrow::Cow;

use http::{Method, Request, StatusCode};

use crate::span::Span;
use crate::span_parts::Text;

/// `scheme://host/path` without the query string (which may carry secrets), or just
/// the path when the request names no host.
pub(super) fn url<B>(request: &Request<B>) -> String {
    url_with_host(request, request.headers().get(http::header::HOST))
}

/// [`url`], given the request's `host` header.
pub(super) fn url_with_host<B>(
    request: &Request<B>,
    host_header: Option<&http::HeaderValue>,
) -> String {
    let uri = request.uri();
    let host = uri
        .authority()
        .map(|a| a.as_str())
        .or_else(|| host_header.and_then(|h| h.to_str().ok()));
    match host {
        Some(host) => concat(&[uri.scheme_str().unwrap_or("http"), "://", host, uri.path()]),
        None => uri.path().to_owned(),
    }
}

/// The tags both layers' spans start with (`span.kind`, `component`, `http.method`,
/// `http.url`), in a vector with room for `more` (the status, an error's message, the
/// layer's own and its header tags) so that it is allocated once.
#[inline]
pub(super) fn http_tags(
    kind: &'static str,
    method: Cow<'static, str>,
    url: String,
    more: usize,
) -> Vec<(Text, Text)> {
    let mut tags = Vec::with_capacity(4 + more);
    tags.push((Text::Borrowed("span.kind"), Text::Borrowed(kind)));
    tags.push((Text::Borrowed("component"), Text::Borrowed("tower")));
    tags.push((Text::Borrowed("http.method"), method));
    tags.push((Text::Borrowed("http.url"), Text::Owned(url)));
    tags
}

/// The pieces in one `String`, allocated once (no formatting machinery).
pub(super) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// The method as a tag value: the standard ones without allocating.
pub(super) fn method(method: &Method) -> Cow<'static, str> {
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => return Cow::Owned(method.as_str().to_owned()),
    };
    Cow::Borrowed(name)
}

/// The status code as a tag value: the common ones without allocating.
fn status_text(status: StatusCode) -> Cow<'static, str> {
    let text = match status.as_u16() {
        200 => "200",
        201 => "201",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        500 => "500",
        502 => "502",
        503 => "503",
        _ => return Cow::Owned(status.as_str().to_owned()),
    };
    Cow::Borrowed(text)
}

/// The host a client request goes to (`out.host`), without the port.
pub(super) fn host<B>(request: &Request<B>) -> Option<String> {
    request.uri().host().map(str::to_owned).or_else(|| {
        let header = request.headers().get(http::header::HOST)?.to_str().ok()?;
        Some(
            header
                .rsplit_once(':')
                .map_or(header, |(h, _)| h)
                .to_owned(),
        )
    })
}

/// The path with every segment that holds a digit written `?`: a resource never
/// carries the ids a raw path does (`/posts/42` → `/posts/?`).
#[cfg(test)]
pub(super) fn quantize(path: &str) -> String {
    let mut out = String::new();
    push_quantized(&mut out, path);
    out
}

/// `"<METHOD> <path>"` with the path quantized, in one allocation.
pub(super) fn method_and_path(method: &str, path: &str) -> String {
    let mut out = String::with_capacity(method.len() + 2 + path.len());
    out.push_str(method);
    out.push(' ');
    push_quantized(&mut out, path);
    out
}

fn push_quantized(out: &mut String, path: &str) {
    if path.is_empty() {
        return out.push('/');
    }
    // One pass: each segment is copied, or written `?`, when its `/` (or the end) comes.
    let (mut segment_start, mut has_digit) = (0, false);
    for (i, byte) in path.bytes().enumerate() {
        if byte == b'/' {
            match has_digit {
                true => out.push('?'),
                false => out.push_str(&path[segment_start..i]),
            }
            out.push('/');
            (segment_start, has_digit) = (i + 1, false);
        } else {
            has_digit |= byte.is_ascii_digit();
        }
    }
    match has_digit {
        true => out.push('?'),
        false => out.push_str(&path[segment_start..]),
    }
}

/// The user agent, if the request has a readable one.
pub(super) fn user_agent(header: Option<&http::HeaderValue>) -> Option<&str> {
    header.and_then(|v| v.to_str().ok())
}

/// Tags the status and, when `is_error`, marks the span failed with Go's message
/// (`500: Internal Server Error`).
pub(super) fn record_status(span: &mut Span, status: StatusCode, is_error: bool) {
    span.set_tag("http.status_code", status_text(status));
    if is_error {
        span.set_error(true);
        span.set_tag(
            "error.message",
            format!(
                "{}: {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("Unknown Status")
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_their_ids() {
        assert_eq!(quantize("/posts/42"), "/posts/?");
        assert_eq!(quantize("/users/ab12cd/posts"), "/users/?/posts");
        assert_eq!(quantize("/"), "/");
        assert_eq!(quantize(""), "/");
        assert_eq!(quantize("/health"), "/health");
        assert_eq!(quantize("/posts/42/"), "/posts/?/");
        assert_eq!(quantize("//v2//x"), "//?//x");
        assert_eq!(quantize("posts/7"), "posts/?");
        assert_eq!(quantize("/caf\u{e9}/1a"), "/caf\u{e9}/?");
    }

    #[test]
    fn urls_drop_the_query_string() {
        let request = Request::get("http://example.com:8080/login?token=secret")
            .body(())
            .unwrap();
        assert_eq!(url(&request), "http://example.com:8080/login");
        assert_eq!(host(&request).as_deref(), Some("example.com"));
        let request = Request::get("/posts/1?x=1")
            .header("host", "blog.local:3000")
            .body(())
            .unwrap();
        assert_eq!(url(&request), "http://blog.local:3000/posts/1");
        assert_eq!(host(&request).as_deref(), Some("blog.local"));
        let bare = Request::get("/a").body(()).unwrap();
        assert_eq!(url(&bare), "/a");
    }
}
