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

impl Extractor for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        if let Some(value) = HashMap::get(self, name) {
            return Some(Cow::Borrowed(value));
        }
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| Cow::Borrowed(value.as_str()))
    }
}

impl Injector for HashMap<String, String> {
    fn set(&mut self, name: &'static str, value: String) {
        if !self.contains_key(name) {
            self.retain(|key, _| !key.eq_ignore_ascii_case(name));
        }
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

#[cfg(feature = "http")]
impl Extractor for http::HeaderMap {
    fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.get_all(name).iter().filter_map(|v| v.to_str().ok());
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
