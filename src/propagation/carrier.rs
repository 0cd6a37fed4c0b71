//! Header carriers: where extraction reads and injection writes.

use std::borrow::Cow;
use std::collections::HashMap;

/// Reads header values by name. Names are matched case-insensitively.
pub trait Extractor {
    /// The value of header `name` (lower-case), if present. A carrier holding the same
    /// header several times joins the values with `,`, as HTTP does.
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;
}

/// Writes headers.
pub trait Injector {
    /// Sets header `name` (lower-case) to `value`, replacing any value it had under any
    /// capitalisation.
    fn set(&mut self, name: &'static str, value: String);
}

/// A map may hold one header under several capitalisations (`tracestate` and
/// `Tracestate`): their values are joined with `,`, the lower-case name's first, then
/// the others in the order of their names, so the result does not depend on the map's
/// iteration order.
impl Extractor for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut others: Vec<(&str, &str)> = self
            .iter()
            .filter(|(key, _)| key.as_str() != name && key.eq_ignore_ascii_case(name))
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        let exact = HashMap::get(self, name).map(String::as_str);
        if others.is_empty() {
            return exact.map(Cow::Borrowed);
        }
        others.sort_unstable();
        let values = exact.into_iter().chain(others.into_iter().map(|(_, v)| v));
        Some(Cow::Owned(values.collect::<Vec<_>>().join(",")))
    }
}

/// Replaces the header under every capitalisation.
impl Injector for HashMap<String, String> {
    fn set(&mut self, name: &'static str, value: String) {
        self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        self.insert(name.to_owned(), value);
    }
}

/// Header lists in order, as a client builds them or a test reads them.
impl Extractor for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self
            .iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name));
        let (_, first) = values.next()?;
        let rest: Vec<&str> = values.map(|(_, value)| value.as_str()).collect();
        if rest.is_empty() {
            Some(Cow::Borrowed(first))
        } else {
            Some(Cow::Owned(
                std::iter::once(first.as_str())
                    .chain(rest)
                    .collect::<Vec<_>>()
                    .join(","),
            ))
        }
    }
}

/// Appends in injection order, replacing an earlier header of the same name in place.
impl Injector for Vec<(String, String)> {
    fn set(&mut self, name: &'static str, value: String) {
        match self
            .iter_mut()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
        {
            Some(slot) => *slot = (name.to_owned(), value),
            None => self.push((name.to_owned(), value)),
        }
        let mut seen = false;
        self.retain(|(key, _)| {
            !key.eq_ignore_ascii_case(name) || !std::mem::replace(&mut seen, true)
        });
    }
}

/// The header names propagation reads, parsed once: looking a `HeaderMap` up by a
/// `HeaderName` skips parsing the name on every request.
#[cfg(feature = "http")]
fn known_header(name: &str) -> Option<&'static http::HeaderName> {
    use http::HeaderName;
    // Statics: made once, at compile time.
    static TRACE_ID: HeaderName = HeaderName::from_static("x-datadog-trace-id");
    static PARENT_ID: HeaderName = HeaderName::from_static("x-datadog-parent-id");
    static PRIORITY: HeaderName = HeaderName::from_static("x-datadog-sampling-priority");
    static ORIGIN: HeaderName = HeaderName::from_static("x-datadog-origin");
    static TAGS: HeaderName = HeaderName::from_static("x-datadog-tags");
    static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
    static TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
    Some(match name {
        "x-datadog-trace-id" => &TRACE_ID,
        "x-datadog-parent-id" => &PARENT_ID,
        "x-datadog-sampling-priority" => &PRIORITY,
        "x-datadog-origin" => &ORIGIN,
        "x-datadog-tags" => &TAGS,
        "traceparent" => &TRACEPARENT,
        "tracestate" => &TRACESTATE,
        _ => return None,
    })
}

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let values = match known_header(name) {
            Some(known) => self.get_all(known),
            None => self.get_all(name),
        };
        let mut values = values.iter().filter_map(|v| v.to_str().ok());
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first},{second}");
                for value in values {
                    joined.push(',');
                    joined.push_str(value);
                }
                Some(Cow::Owned(joined))
            }
        }
    }
}

#[cfg(feature = "http")]
impl Injector for http::HeaderMap {
    fn set(&mut self, name: &'static str, value: String) {
        // Values spanlog writes are visible ASCII, always valid header values.
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            self.insert(http::HeaderName::from_static(name), value);
        }
    }
}

/// A request's headers: inject into an outgoing `http::Request` directly.
#[cfg(feature = "http")]
impl<B> Injector for http::Request<B> {
    fn set(&mut self, name: &'static str, value: String) {
        Injector::set(self.headers_mut(), name, value);
    }
}

/// A request's headers: extract from an incoming `http::Request` directly.
#[cfg(feature = "http")]
impl<B> Extractor for http::Request<B> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        Extractor::get(self.headers(), name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_map_replaces_every_capitalisation_on_inject() {
        let mut headers = map(&[
            ("x-datadog-trace-id", "1"),
            ("X-Datadog-Trace-Id", "2"),
            ("X-DATADOG-TRACE-ID", "3"),
            ("other", "kept"),
        ]);
        Injector::set(&mut headers, "x-datadog-trace-id", "4".to_owned());
        assert_eq!(
            headers,
            map(&[("x-datadog-trace-id", "4"), ("other", "kept")])
        );
    }

    #[test]
    fn a_map_joins_every_capitalisation_on_extract() {
        let headers = map(&[
            ("Tracestate", "b=2"),
            ("tracestate", "a=1"),
            ("TRACESTATE", "c=3"),
        ]);
        assert_eq!(
            Extractor::get(&headers, "tracestate").unwrap(),
            "a=1,c=3,b=2"
        );
        let one = map(&[("Traceparent", "x")]);
        assert_eq!(Extractor::get(&one, "traceparent").unwrap(), "x");
        assert!(Extractor::get(&one, "tracestate").is_none());
    }
}
