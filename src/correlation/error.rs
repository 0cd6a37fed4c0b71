//! What Datadog's Error Tracking reads from a log line that carries an error:
//! `error.kind`, `error.message` and `error.stack`. (A `log` record's key-values, or a
//! `tracing` event's fields, carry the error.)
#![cfg_attr(not(any(feature = "kv", feature = "tracing")), allow(dead_code))]

use std::error::Error;
use std::fmt;

use super::prefix::write_pair;

/// The error fields of one record, made (and allocated) only for a record that carries
/// an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ErrorFields {
    /// The error's type, as readable as a `dyn Error` allows (see [`kind_of`]).
    pub(crate) kind: String,
    /// Its `Display`.
    pub(crate) message: String,
    /// The `source()` chain, one cause a line, then a backtrace when one is enabled.
    pub(crate) stack: String,
}

impl ErrorFields {
    pub(crate) fn of(error: &(dyn Error + 'static)) -> Self {
        let kind = kind_of(error);
        let message = error.to_string();
        let stack = crate::current_span::error_stack(error, &kind, &message);
        ErrorFields {
            kind,
            message,
            stack,
        }
    }

    /// The three fields under their names in log lines, for structured output.
    pub(crate) fn pairs(&self) -> [(&'static str, &str); 3] {
        [
            ("error.kind", &self.kind),
            ("error.message", &self.message),
            ("error.stack", &self.stack),
        ]
    }

    /// Marks the current span as failed with these details, under the names Datadog's
    /// tracers give them on spans (`error.type` for the kind).
    pub(crate) fn mark_current_span(self) {
        crate::current_span::with_current_span(|span| {
            span.set_error(true);
            span.set_tag("error.type", self.kind);
            span.set_tag("error.message", self.message);
            span.set_tag("error.stack", self.stack);
        });
    }

    /// ` error.kind=... error.message=...` for text lines: each value bare when it is
    /// safe, quoted and escaped otherwise, as the other fields. (The stack goes only in
    /// structured output.)
    pub(crate) fn text(&self) -> impl fmt::Display + '_ {
        struct Text<'a>(&'a ErrorFields);
        impl fmt::Display for Text<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(" ")?;
                write_pair(f, "error.kind", &self.0.kind)?;
                f.write_str(" ")?;
                write_pair(f, "error.message", &self.0.message)
            }
        }
        Text(self)
    }
}

/// The error's type name, as readable as Rust allows for a `dyn Error` (which keeps no
/// type name): `std::io::Error` for I/O errors, else the type or variant its `Debug`
/// starts with (`LoadError { .. }` is `LoadError`), else `Error`.
pub(crate) fn kind_of(error: &(dyn Error + 'static)) -> String {
    if error.is::<std::io::Error>() {
        return "std::io::Error".to_owned();
    }
    // The name `Debug` starts with, read without formatting the rest: the writer stops
    // the formatting at the first character that ends a name.
    struct Name(String);
    impl fmt::Write for Name {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            match s.find(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | ':'))) {
                Some(end) => {
                    self.0.push_str(&s[..end]);
                    Err(fmt::Error)
                }
                None => {
                    self.0.push_str(s);
                    Ok(())
                }
            }
        }
    }
    let mut name = Name(String::new());
    let _ = fmt::write(&mut name, format_args!("{error:?}"));
    match name.0.trim_end_matches(':') {
        "" => "Error".to_owned(),
        kind => kind.to_owned(),
    }
}

/// The first error among `record`'s key-values (`log::error!(error:err = e; "...")`).
#[cfg(feature = "kv")]
pub(crate) fn in_record(record: &log::Record<'_>) -> Option<ErrorFields> {
    use log::kv::{Key, Value, VisitSource};
    struct Find(Option<ErrorFields>);
    impl<'kvs> VisitSource<'kvs> for Find {
        fn visit_pair(&mut self, _: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
            if self.0.is_none() {
                self.0 = value.to_borrowed_error().map(ErrorFields::of);
            }
            Ok(())
        }
    }
    let source = record.key_values();
    if source.count() == 0 {
        return None;
    }
    let mut find = Find(None);
    let _ = source.visit(&mut find);
    find.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct LoadError(std::io::Error);

    impl fmt::Display for LoadError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("could not load posts")
        }
    }

    impl Error for LoadError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn kind_message_and_chain() {
        let error = LoadError(std::io::Error::other("connection refused"));
        let fields = ErrorFields::of(&error);
        assert_eq!(fields.kind, "LoadError");
        assert_eq!(fields.message, "could not load posts");
        assert!(
            fields
                .stack
                .starts_with("LoadError: could not load posts\nCaused by: connection refused"),
            "{}",
            fields.stack
        );
        assert_eq!(
            fields.text().to_string(),
            r#" error.kind=LoadError error.message="could not load posts""#
        );
        let io = std::io::Error::other("x");
        assert_eq!(kind_of(&io), "std::io::Error");
        let parse = "x".parse::<u8>().unwrap_err();
        assert_eq!(kind_of(&parse), "ParseIntError");
    }
}
