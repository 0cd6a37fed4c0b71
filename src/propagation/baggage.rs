//! W3C baggage (`baggage: k1=v1,k2=v2`): read and written as Datadog's tracers do,
//! within their limits on items and bytes.

use std::fmt::Write as _;

use super::carrier::{Extractor, Injector};
use crate::span_context::put_baggage;

pub(super) const BAGGAGE: &str = "baggage";

/// Datadog's limits on what is read and written: `DD_TRACE_BAGGAGE_MAX_ITEMS` and
/// `DD_TRACE_BAGGAGE_MAX_BYTES`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Limits {
    pub(super) items: usize,
    pub(super) bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            items: 64,
            bytes: 8192,
        }
    }
}

/// The items in the `baggage` header, decoded, in order; empty when there is none or
/// when it is malformed (an item without `=`, an empty key or value: Datadog's tracers
/// then drop it all). Items past the limits are left out, whole.
pub(super) fn extract<E: Extractor + ?Sized>(carrier: &E, limits: Limits) -> Vec<(String, String)> {
    let Some(header) = carrier.get(BAGGAGE) else {
        return Vec::new();
    };
    let mut items: Vec<(String, String)> = Vec::new();
    let mut size = 0;
    for (index, item) in header.split(',').enumerate() {
        if index >= limits.items {
            break;
        }
        let Some((key, value)) = item.split_once('=') else {
            return Vec::new();
        };
        // Counted as they came, blanks and percent signs included.
        let bytes = item.len() + usize::from(index > 0);
        if size + bytes > limits.bytes {
            break;
        }
        let (key, value) = (decode(key.trim()), decode(value.trim()));
        if key.is_empty() || value.is_empty() {
            return Vec::new();
        }
        size += bytes;
        put_baggage(&mut items, key, value);
    }
    items
}

/// Writes `items` as the `baggage` header: the first `limits.items`, then as many as
/// fit in `limits.bytes`, never half an item. Items whose key or value is empty once
/// trimmed are not sent (the next hop would drop the whole header for them).
pub(super) fn inject(items: &[(String, String)], carrier: &mut dyn Injector, limits: Limits) {
    let mut header = String::new();
    let mut item = String::new();
    for (key, value) in items.iter().take(limits.items) {
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() || value.is_empty() {
            continue;
        }
        item.clear();
        encode(key, is_key_safe, &mut item);
        item.push('=');
        encode(value, is_value_safe, &mut item);
        let comma = usize::from(!header.is_empty());
        if header.len() + comma + item.len() > limits.bytes {
            break;
        }
        if comma == 1 {
            header.push(',');
        }
        header.push_str(&item);
    }
    if !header.is_empty() {
        carrier.set(BAGGAGE, header);
    }
}

/// Characters a key is sent with as they are (the W3C's `token` characters); every
/// other byte is percent-encoded.
fn is_key_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// Characters a value is sent with as they are: those the W3C allows in a value,
/// except `%` (so that decoding gives back what was set) and the ones Datadog's
/// tracers encode (`"`, `,`, `;`, `\` and space).
fn is_value_safe(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$&'()*+-./:<>?@[]^_`{|}~".contains(&byte)
}

fn encode(text: &str, safe: fn(u8) -> bool, out: &mut String) {
    for &byte in text.as_bytes() {
        if safe(byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
}

/// Percent-decoding: `%` and two hex digits (either case) make a byte; anything else
/// is kept as it is; bytes that do not make UTF-8 become U+FFFD.
fn decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| char::from(*b).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(header: &str) -> Vec<(String, String)> {
        read_with(header, Limits::default())
    }

    fn read_with(header: &str, limits: Limits) -> Vec<(String, String)> {
        let carrier = HashMap::from([(BAGGAGE.to_owned(), header.to_owned())]);
        extract(&carrier, limits)
    }

    fn write(items: &[(&str, &str)], limits: Limits) -> Option<String> {
        let items: Vec<_> = items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut carrier = HashMap::new();
        inject(&items, &mut carrier, limits);
        carrier.remove(BAGGAGE)
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn encodes_as_datadogs_tracers_do() {
        let header = write(
            &[
                ("foo", "bar"),
                ("userId", "Amélie"),
                ("serverNode", "DF 28"),
                (r#"",;\()/:<=>?@[]{}"#, r#"",;\"#),
                ("pct", "100%"),
            ],
            Limits::default(),
        );
        assert_eq!(
            header.as_deref(),
            Some(
                "foo=bar,userId=Am%C3%A9lie,serverNode=DF%2028,\
                 %22%2C%3B%5C%28%29%2F%3A%3C%3D%3E%3F%40%5B%5D%7B%7D=%22%2C%3B%5C,pct=100%25"
            )
        );
    }

    #[test]
    fn decodes_what_it_encodes() {
        let items = [
            ("userId", "Amélie"),
            ("serverNode", "DF 28"),
            (r#"",;\()/:<=>?@[]{}"#, r#"",;\"#),
            ("pct", "100%"),
        ];
        let header = write(&items, Limits::default()).unwrap();
        assert_eq!(read(&header), pairs(&items));
    }

    #[test]
    fn reads_leniently_where_it_can() {
        assert_eq!(read(" a = 1 , b=2"), pairs(&[("a", "1"), ("b", "2")]));
        // A value with `=` in it, a `%` that starts no escape, a repeated key.
        assert_eq!(
            read("a=x=y,b=50%,a=z,c=%e2%82%ac,d=%ff"),
            pairs(&[("a", "z"), ("b", "50%"), ("c", "€"), ("d", "\u{fffd}")])
        );
        // Properties stay in the value, as Datadog's tracers keep them.
        assert_eq!(read("k=v;p=1"), pairs(&[("k", "v;p=1")]));
    }

    #[test]
    fn a_malformed_item_drops_the_header() {
        for header in [
            "no-equal-sign,foo=bar",
            "=no-key",
            "no-value=",
            "foo=bar,=",
            "foo=bar, = ",
            "",
        ] {
            assert_eq!(read(header), [], "{header:?}");
        }
    }

    #[test]
    fn limits_keep_whole_items() {
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v{i}")).collect();
        let items = read(&many.join(","));
        assert_eq!(items.len(), 64);
        assert_eq!(items[63], ("k63".to_owned(), "v63".to_owned()));
        // Past the item limit, a malformed item is not even looked at.
        let limits = Limits { items: 1, bytes: 8 };
        assert_eq!(read_with("a=1,broken", limits), pairs(&[("a", "1")]));
        // Bytes count the commas: `a=1,b=2` is 7, `,c=3` makes 11.
        let limits = Limits {
            items: 64,
            bytes: 10,
        };
        assert_eq!(
            read_with("a=1,b=2,c=3", limits),
            pairs(&[("a", "1"), ("b", "2")])
        );
        let limits = Limits {
            items: 64,
            bytes: 11,
        };
        assert_eq!(read_with("a=1,b=2,c=3", limits).len(), 3);

        let third = "x".repeat(8192 / 3);
        let items = [
            ("key1", &*third),
            ("key2", &*third),
            ("key3", &*third),
            ("key4", "d"),
        ];
        let header = write(&items, Limits::default()).unwrap();
        assert_eq!(
            header.split(',').count(),
            2,
            "the third does not fit, nor after it"
        );
        assert!(header.len() <= 8192);
        let limits = Limits {
            items: 2,
            bytes: 8192,
        };
        assert_eq!(
            write(&[("a", "1"), ("b", "2"), ("c", "3")], limits).as_deref(),
            Some("a=1,b=2")
        );
        assert_eq!(write(&[(" ", "1"), ("b", " ")], Limits::default()), None);
        assert_eq!(write(&[], Limits::default()), None);
    }
}
