//! Header carriers: where extraction reads and injection writes.

use std::borrow::Cow;
use std::collections::HashMap;

/// Reads header values by name. Names are matched case-insensitively.
pub trait Extractor {
    /// The value of header `name` (lower-case), if present. A carrier holding the same
    /// header several times joins the values with `,`, as HTTP does.
    fn get(&self, name: &str) -> Option<Cow<'_, str>>;

    /// The value of header `name` as bytes, for a reader that checks every byte itself
    /// (a `traceparent` is hex digits and dashes at fixed places). A carrier holding
    /// raw bytes (an `http::HeaderMap`) returns a single value as it is, without
    /// checking that it is text; the default returns [`get`](Extractor::get)'s text.
    fn get_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        text_bytes(self.get(name))
    }
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

/// The header names propagation reads.
#[cfg(feature = "http")]
const KNOWN: [&str; 8] = [
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "x-datadog-origin",
    "x-datadog-tags",
    "traceparent",
    "tracestate",
    "baggage",
];

/// `name`'s place in [`KNOWN`], if it is there: the length decides which name to compare.
#[cfg(feature = "http")]
#[inline]
fn known_index(name: &str) -> Option<usize> {
    let index = match name.len() {
        18 => 0,
        19 => 1,
        27 => 2,
        16 => 3,
        14 => 4,
        11 => 5,
        10 => 6,
        7 => 7,
        _ => return None,
    };
    same_name(KNOWN[index].as_bytes(), name.as_bytes()).then_some(index)
}

/// Whether two names of the same length (7 to 27 bytes) are equal, compared eight bytes
/// at a time in place (a call to `memcmp` costs more than these few words).
#[cfg(feature = "http")]
#[inline]
fn same_name(known: &[u8], name: &[u8]) -> bool {
    let word = |bytes: &[u8], at: usize| {
        bytes[at..]
            .first_chunk::<8>()
            .map(|chunk| u64::from_le_bytes(*chunk))
    };
    let len = known.len();
    if len != name.len() || len < 8 {
        return known == name;
    }
    // Whole words from the start, then the last eight bytes (overlapping).
    let mut at = 0;
    while at + 8 < len {
        if word(known, at) != word(name, at) {
            return false;
        }
        at += 8;
    }
    word(known, len - 8) == word(name, len - 8)
}

/// The names in [`KNOWN`], parsed once: looking a `HeaderMap` up by a `HeaderName`
/// skips parsing the name on every request.
#[cfg(feature = "http")]
fn known_header(name: &str) -> Option<&'static http::HeaderName> {
    use http::HeaderName;
    // Statics: made once, at compile time.
    static NAMES: [HeaderName; 8] = [
        HeaderName::from_static(KNOWN[0]),
        HeaderName::from_static(KNOWN[1]),
        HeaderName::from_static(KNOWN[2]),
        HeaderName::from_static(KNOWN[3]),
        HeaderName::from_static(KNOWN[4]),
        HeaderName::from_static(KNOWN[5]),
        HeaderName::from_static(KNOWN[6]),
        HeaderName::from_static(KNOWN[7]),
    ];
    known_index(name).map(|i| &NAMES[i])
}

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        join(all_values(self, name).iter())
    }

    fn get_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        let values = all_values(self, name);
        let mut iter = values.iter();
        match (iter.next(), iter.next()) {
            (Some(one), None) => Some(Cow::Borrowed(one.as_bytes())),
            _ => text_bytes(join(values.iter())),
        }
    }
}

/// Every value of header `name`, looked up by its pre-built name when it is one of
/// [`KNOWN`].
#[cfg(feature = "http")]
fn all_values<'a>(
    headers: &'a http::HeaderMap,
    name: &str,
) -> http::header::GetAll<'a, http::HeaderValue> {
    match known_header(name) {
        Some(known) => headers.get_all(known),
        None => headers.get_all(name),
    }
}

/// Text as bytes, borrowed when it is.
fn text_bytes(text: Option<Cow<'_, str>>) -> Option<Cow<'_, [u8]>> {
    Some(match text? {
        Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
        Cow::Owned(text) => Cow::Owned(text.into_bytes()),
    })
}

/// The values' text joined with `,`, borrowed when there is one; values that are not
/// visible ASCII are skipped.
#[cfg(feature = "http")]
fn join<'a>(values: impl Iterator<Item = &'a http::HeaderValue>) -> Option<Cow<'a, str>> {
    let mut values = values.filter_map(|v| v.to_str().ok());
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

/// A `HeaderMap`'s propagation headers, and the `host` and `user-agent` a server span
/// tags, found in one pass over it. A server reads five of them or more for every
/// request; a hashed look-up per name costs more than walking the dozen headers a
/// request usually has (each compared by length first).
#[cfg(feature = "tower")]
pub(crate) struct HeaderIndex<'a> {
    headers: &'a http::HeaderMap,
    values: [Option<&'a http::HeaderValue>; 8],
    /// One bit per name that came more than once: those values are joined by the map.
    repeated: u8,
    host: Option<&'a http::HeaderValue>,
    user_agent: Option<&'a http::HeaderValue>,
}

#[cfg(feature = "tower")]
impl<'a> HeaderIndex<'a> {
    /// Past this many values, looking each name up is the cheaper way.
    const MAX_SCAN: usize = 32;

    pub(crate) fn new(headers: &'a http::HeaderMap) -> Self {
        use http::header::{HOST, USER_AGENT};
        let mut index = HeaderIndex {
            headers,
            values: [None; 8],
            repeated: 0,
            host: None,
            user_agent: None,
        };
        if headers.len() > Self::MAX_SCAN {
            index.repeated = u8::MAX;
            index.host = headers.get(HOST);
            index.user_agent = headers.get(USER_AGENT);
            return index;
        }
        for (name, value) in headers {
            // Standard names compare as one number.
            if *name == HOST {
                index.host = index.host.or(Some(value));
            } else if *name == USER_AGENT {
                index.user_agent = index.user_agent.or(Some(value));
            } else if let Some(i) = known_index(name.as_str()) {
                match index.values[i] {
                    None => index.values[i] = Some(value),
                    Some(_) => index.repeated |= 1 << i,
                }
            }
        }
        index
    }

    /// The first `host` header, as `HeaderMap::get` gives it.
    pub(crate) fn host(&self) -> Option<&'a http::HeaderValue> {
        self.host
    }

    /// The first `user-agent` header, as `HeaderMap::get` gives it.
    pub(crate) fn user_agent(&self) -> Option<&'a http::HeaderValue> {
        self.user_agent
    }
}

#[cfg(feature = "tower")]
impl Extractor for HeaderIndex<'_> {
    #[inline]
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        match known_index(name) {
            Some(i) if self.repeated & (1 << i) == 0 => join(self.values[i].into_iter()),
            _ => Extractor::get(self.headers, name),
        }
    }

    #[inline]
    fn get_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        match known_index(name) {
            Some(i) if self.repeated & (1 << i) == 0 => {
                self.values[i].map(|value| Cow::Borrowed(value.as_bytes()))
            }
            _ => Extractor::get_bytes(self.headers, name),
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

    fn get_bytes(&self, name: &str) -> Option<Cow<'_, [u8]>> {
        Extractor::get_bytes(self.headers(), name)
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

    #[cfg(feature = "tower")]
    #[test]
    fn a_header_index_reads_what_the_map_reads() {
        let mut headers = http::HeaderMap::new();
        let mut add = |name: &'static str, value: &'static str| {
            headers.append(name, http::HeaderValue::from_static(value));
        };
        add(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        add("tracestate", "dd=s:1");
        add("user-agent", "curl");
        add("tracestate", "other=1");
        add("x-datadog-origin", "rum");
        add("baggage", "user.id=42");
        add("x-datadog-tag", "not one of ours");
        let names = KNOWN
            .iter()
            .copied()
            .chain(["x-datadog-tag", "user-agent", "nope"]);
        let index = HeaderIndex::new(&headers);
        for name in names.clone() {
            assert_eq!(index.get(name), Extractor::get(&headers, name), "{name}");
            let bytes = Extractor::get_bytes(&headers, name);
            assert_eq!(index.get_bytes(name), bytes, "{name}");
            // Text values read the same as bytes.
            let text = Extractor::get(&headers, name);
            assert_eq!(
                bytes.as_deref(),
                text.as_deref().map(str::as_bytes),
                "{name}"
            );
        }
        assert_eq!(index.get("tracestate").unwrap(), "dd=s:1,other=1");
        assert_eq!(index.repeated, 1 << 6);
        assert_eq!(index.get("baggage").unwrap(), "user.id=42");
        assert_eq!(index.user_agent(), headers.get("user-agent"));
        assert_eq!(index.host(), None);

        // A map too large to walk is looked up name by name, with the same answers.
        for i in 0..40 {
            headers.append(
                http::HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                http::HeaderValue::from_static("x"),
            );
        }
        headers.append("host", http::HeaderValue::from_static("a.example"));
        headers.append("host", http::HeaderValue::from_static("b.example"));
        let index = HeaderIndex::new(&headers);
        assert_eq!(index.values, [None; 8]);
        assert_eq!(index.user_agent(), headers.get("user-agent"));
        assert_eq!(index.host().unwrap(), "a.example");
        for name in names {
            assert_eq!(index.get(name), Extractor::get(&headers, name), "{name}");
        }
    }

    #[cfg(feature = "http")]
    #[test]
    fn raw_bytes_are_given_only_for_a_single_value() {
        let mut headers = http::HeaderMap::new();
        let raw = http::HeaderValue::from_bytes(b"caf\xe9").unwrap();
        headers.append("traceparent", raw);
        assert_eq!(Extractor::get(&headers, "traceparent"), None);
        assert_eq!(
            Extractor::get_bytes(&headers, "traceparent").as_deref(),
            Some(&b"caf\xe9"[..])
        );
        // Several values: joined as text, the one that is not text left out.
        headers.append("traceparent", http::HeaderValue::from_static("b"));
        assert_eq!(
            Extractor::get_bytes(&headers, "traceparent").as_deref(),
            Some(&b"b"[..])
        );
        let map = map(&[("traceparent", "x")]);
        assert_eq!(
            Extractor::get_bytes(&map, "traceparent").as_deref(),
            Some(&b"x"[..])
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn names_compare_as_strings_do() {
        let names = KNOWN
            .iter()
            .copied()
            .chain(["x-b3-flags", "b3", "x-b3-sampled", ""]);
        for known in KNOWN {
            for name in names.clone() {
                assert_eq!(same_name(known.as_bytes(), name.as_bytes()), known == name);
            }
            // Each byte changed in turn: the comparison must see every one.
            for at in 0..known.len() {
                let mut other = known.as_bytes().to_vec();
                other[at] ^= 0x20;
                assert!(!same_name(known.as_bytes(), &other), "{known} at {at}");
            }
            assert_eq!(known_index(known).map(|i| KNOWN[i]), Some(known));
        }
    }

    /// The server's extraction, compiled for its header index, gives what the public
    /// one gives for the same headers, in every style and behaviour.
    #[cfg(feature = "tower")]
    #[test]
    fn extraction_from_the_index_is_extraction_from_the_map() {
        use super::super::{ExtractBehavior, PropagationStyle, Propagator};
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let requests: [&[(&str, &str)]; 7] = [
            &[("traceparent", tp)],
            &[
                ("traceparent", tp),
                ("tracestate", "dd=s:2;o:rum;t.dm:-4,other=x"),
            ],
            &[
                ("x-datadog-trace-id", "123"),
                ("x-datadog-parent-id", "456"),
            ],
            &[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("traceparent", tp),
            ],
            &[("baggage", "user.id=42,team=a%20b")],
            &[
                ("x-b3-traceid", "0af7651916cd43dd8448eb211c80319c"),
                ("x-b3-spanid", "b7ad6b7169203331"),
            ],
            &[
                ("b3", "0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1"),
                ("traceparent", tp),
                ("traceparent", tp),
            ],
        ];
        let all = [
            PropagationStyle::Datadog,
            PropagationStyle::TraceContext,
            PropagationStyle::B3Multi,
            PropagationStyle::B3Single,
            PropagationStyle::Baggage,
        ];
        for behavior in [
            ExtractBehavior::Continue,
            ExtractBehavior::Restart,
            ExtractBehavior::Ignore,
        ] {
            for first in [false, true] {
                let propagator = Propagator::new()
                    .with_extract(&all)
                    .with_extract_first(first)
                    .with_extract_behavior(behavior);
                for pairs in requests {
                    let mut headers = http::HeaderMap::new();
                    for (name, value) in pairs {
                        headers.append(*name, http::HeaderValue::from_str(value).unwrap());
                    }
                    // A new trace (a restart, baggage alone) has a new random id each time.
                    let fixed = |extracted: Option<super::super::ExtractedContext>| {
                        extracted.map(|mut e| {
                            if e.context.span_id.is_zero() {
                                e.context.trace_id = crate::id::TraceId::from_u128(1);
                            }
                            e
                        })
                    };
                    let from_index = fixed(propagator.extract_index(&HeaderIndex::new(&headers)));
                    let from_map = fixed(propagator.extract(&headers));
                    assert_eq!(from_index, from_map, "{behavior:?} {first} {pairs:?}");
                    assert_eq!(
                        from_map.is_some(),
                        behavior != ExtractBehavior::Ignore,
                        "{behavior:?} {pairs:?}"
                    );
                }
            }
        }
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
