//! Which HTTP headers become span tags, as Datadog's `DD_TRACE_HEADER_TAGS` says.

use http::{HeaderMap, HeaderName};

use crate::InvalidValue;
use crate::span::Span;

/// HTTP headers copied onto spans as tags: `header` or `header:tag`, comma-separated,
/// as in `DD_TRACE_HEADER_TAGS`. Without a tag name, a request header `X-Request-Id`
/// becomes `http.request.headers.x-request-id` (`http.response.headers.` for a response
/// header); header names are case-insensitive.
///
/// ```
/// use spanlog::tower::HeaderTags;
///
/// let tags = HeaderTags::parse("User-Agent:my-user-agent, X-Request-Id").unwrap();
/// assert_eq!(tags.len(), 2);
/// assert!(HeaderTags::parse("bad header").is_err());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderTags {
    entries: Vec<(HeaderName, Option<String>)>,
}

impl HeaderTags {
    /// No header is tagged.
    pub fn new() -> Self {
        HeaderTags::default()
    }

    /// Parses `header[:tag]` items, comma-separated; blanks around items are ignored.
    ///
    /// # Errors
    ///
    /// When a header name is not a valid HTTP header name, or a tag name is empty.
    pub fn parse(text: &str) -> Result<Self, InvalidValue> {
        let mut tags = HeaderTags::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (header, tag) = match item.split_once(':') {
                Some((header, tag)) => (header.trim(), Some(tag.trim())),
                None => (item, None),
            };
            tags = tags
                .with(header, tag)
                .map_err(|reason| InvalidValue::new("header tags", text, reason))?;
        }
        Ok(tags)
    }

    /// Adds one header, tagged as `tag` or under the default name.
    ///
    /// # Errors
    ///
    /// When `header` is not a valid HTTP header name, or `tag` is empty.
    pub fn with(mut self, header: &str, tag: Option<&str>) -> Result<Self, &'static str> {
        let name = HeaderName::from_bytes(header.trim().as_bytes())
            .map_err(|_| "not a valid HTTP header name")?;
        let tag = match tag.map(str::trim) {
            Some("") => return Err("empty tag name"),
            other => other.map(str::to_owned),
        };
        self.entries.push((name, tag));
        Ok(self)
    }

    /// How many headers are tagged.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no header is tagged.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Tags `span` with the listed headers present in `headers`; `side` is `request` or
    /// `response`. A header that appears more than once gives its values joined by `,`.
    pub(crate) fn apply(&self, headers: &HeaderMap, side: &str, span: &mut Span) {
        for (name, tag) in &self.entries {
            let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
            let Some(first) = values.next() else { continue };
            let mut value = first.trim().to_owned();
            for more in values {
                value.push(',');
                value.push_str(more.trim());
            }
            let key = match tag {
                Some(tag) => tag.clone(),
                None => format!("http.{side}.headers.{}", normalize(name.as_str())),
            };
            span.set_tag(key, value);
        }
    }
}

/// Datadog's normalization of a header name in a tag: lower case, and any character
/// other than a letter, digit, `-` or `.` as `_`.
fn normalize(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '.' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect()
}

/// Why a header-tags list could not be read.
#[deprecated(
    since = "0.2.0",
    note = "every invalid value is a `spanlog::InvalidValue`"
)]
pub type InvalidHeaderTags = crate::InvalidValue;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_custom_tag_names() {
        let tags = HeaderTags::parse("X-Request-Id, User-Agent:ua").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "abc".parse().unwrap());
        headers.append("x-request-id", "def".parse().unwrap());
        headers.insert("user-agent", "curl/8".parse().unwrap());
        let mut span = crate::start_span("t").start();
        tags.apply(&headers, "request", &mut span);
        assert_eq!(
            span.tag("http.request.headers.x-request-id"),
            Some("abc,def")
        );
        assert_eq!(span.tag("ua"), Some("curl/8"));
    }

    #[test]
    fn bad_lists_are_errors() {
        assert!(HeaderTags::parse("a b").is_err());
        assert!(HeaderTags::parse("x-id:").is_err());
        assert_eq!(HeaderTags::parse(" , ").unwrap().len(), 0);
    }
}
