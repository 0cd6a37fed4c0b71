//! The configuration's share of the correlation text: `dd.service`, `dd.env` and
//! `dd.version`, escaped so that no value can split a line or forge a key.

use std::fmt::{self, Write as _};

use once_cell::sync::OnceCell;

use crate::config::{self, Config};

/// Where the service, env and version pairs come from when a line is written: text
/// laid out once ([`Prefix`]), or a [`Config`] rendered on the spot. Both write the
/// same bytes.
pub(crate) trait PrefixSource {
    /// Whether the Go-style prefix is empty: no service, env or version.
    fn go_is_empty(&self) -> bool;
    /// ` dd.service=.. dd.env=.. dd.version=..`, each pair after a space, empty pairs
    /// left out; without the first space unless `spaced`.
    fn write_go(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result;
    /// ` [dd.service=.. dd.env=.. dd.version=.. dd.trace_id=`; without the first space
    /// unless `spaced`.
    fn write_python_lead(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result;
}

/// The prefix laid out once, by whoever writes lines (a logger; the global
/// configuration's, for [`Span::log`](crate::Span::log)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Prefix {
    /// Starts with the space that separates it from what comes before.
    spaced_go: String,
    spaced_python_lead: String,
    service: String,
    env: String,
    version: String,
}

impl Prefix {
    pub(crate) fn new(config: &Config) -> Self {
        Prefix {
            spaced_go: Go(config, true).to_string(),
            spaced_python_lead: PythonLead(config, true).to_string(),
            service: config.service().to_owned(),
            env: config.env().to_owned(),
            version: config.version().to_owned(),
        }
    }

    /// The prefix of the process-wide configuration, laid out on first use.
    pub(crate) fn global() -> &'static Prefix {
        static GLOBAL: OnceCell<Prefix> = OnceCell::new();
        GLOBAL.get_or_init(|| Prefix::new(config::global()))
    }

    /// ` dd.service=.. dd.env=.. dd.version=..` (Go style, with its leading space;
    /// empty when none is set): for writers that copy bytes.
    #[cfg(feature = "tracing")]
    pub(crate) fn spaced_go(&self) -> &str {
        &self.spaced_go
    }

    /// Service, env and version, unescaped: the key-values' share.
    #[cfg(any(feature = "kv", feature = "tracing"))]
    pub(crate) fn values(&self) -> [(&'static str, &str); 3] {
        [
            ("dd.service", &self.service),
            ("dd.env", &self.env),
            ("dd.version", &self.version),
        ]
    }
}

/// A source's Go-style prefix, spaced or not.
pub(crate) struct Go<'a, P: ?Sized>(pub(crate) &'a P, pub(crate) bool);

impl<P: PrefixSource + ?Sized> fmt::Display for Go<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_go(f, self.1)
    }
}

/// A source's Python-style lead, spaced or not.
pub(crate) struct PythonLead<'a, P: ?Sized>(pub(crate) &'a P, pub(crate) bool);

impl<P: PrefixSource + ?Sized> fmt::Display for PythonLead<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.write_python_lead(f, self.1)
    }
}

/// Skips the leading space of `text` unless `spaced`.
fn lead(text: &str, spaced: bool) -> &str {
    match spaced {
        true => text,
        false => text.get(1..).unwrap_or_default(),
    }
}

impl PrefixSource for Prefix {
    #[inline]
    fn go_is_empty(&self) -> bool {
        self.spaced_go.is_empty()
    }

    #[inline]
    fn write_go(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result {
        f.write_str(lead(&self.spaced_go, spaced))
    }

    #[inline]
    fn write_python_lead(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result {
        f.write_str(lead(&self.spaced_python_lead, spaced))
    }
}

impl PrefixSource for Config {
    fn go_is_empty(&self) -> bool {
        self.service().is_empty() && self.env().is_empty() && self.version().is_empty()
    }

    fn write_go(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result {
        let mut first = true;
        for (key, value) in pairs(self) {
            if value.is_empty() {
                continue;
            }
            if spaced || !first {
                f.write_char(' ')?;
            }
            first = false;
            write_pair(f, key, value)?;
        }
        Ok(())
    }

    fn write_python_lead(&self, f: &mut fmt::Formatter<'_>, spaced: bool) -> fmt::Result {
        f.write_str(if spaced { " [" } else { "[" })?;
        for (key, value) in pairs(self) {
            write_pair(f, key, value)?;
            f.write_char(' ')?;
        }
        f.write_str("dd.trace_id=")
    }
}

fn pairs(config: &Config) -> [(&'static str, &str); 3] {
    [
        ("dd.service", config.service()),
        ("dd.env", config.env()),
        ("dd.version", config.version()),
    ]
}

pub(super) fn write_pair(f: &mut fmt::Formatter<'_>, key: &str, value: &str) -> fmt::Result {
    f.write_str(key)?;
    f.write_char('=')?;
    write_value(f, value)
}

/// Characters that make a value quoted: blanks, quotes, `\`, `=`, control characters
/// and Unicode line breaks.
fn odd(c: char) -> bool {
    c.is_whitespace() || c.is_control() || matches!(c, '"' | '\\' | '=')
}

/// Writes a configuration value bare when it is safe, quoted and escaped otherwise, so
/// a value can neither split a line nor forge a key. Control characters and the Unicode
/// line and paragraph separators (which Python's `splitlines` and JavaScript treat as
/// line breaks) are written as `\u{..}` escapes; `\n` and `\t` keep their short forms.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if !value.contains(odd) {
        return f.write_str(value);
    }
    f.write_char('"')?;
    for c in value.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                write!(f, "\\u{{{:x}}}", c as u32)?
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn configs() -> Vec<Config> {
        let mut out = vec![Config::new()];
        for (service, env, version) in [
            ("blog", "prod", "1.2.3"),
            ("", "staging", ""),
            ("", "", "v"),
            ("my service", "a=b", "two\nlines\u{2028}"),
        ] {
            out.push(
                Config::new()
                    .with_service(service)
                    .with_env(env)
                    .with_version(version),
            );
        }
        out
    }

    fn render(source: &dyn PrefixSource, spaced: bool) -> (String, String) {
        (
            Go(source, spaced).to_string(),
            PythonLead(source, spaced).to_string(),
        )
    }

    #[test]
    fn the_cached_prefix_writes_what_the_config_renders() {
        for config in configs() {
            let prefix = Prefix::new(&config);
            for spaced in [false, true] {
                assert_eq!(
                    render(&prefix, spaced),
                    render(&config, spaced),
                    "{config:?}"
                );
            }
            assert_eq!(prefix.go_is_empty(), config.go_is_empty());
            assert_eq!(prefix.go_is_empty(), render(&config, true).0.is_empty());
        }
    }

    #[test]
    fn unicode_line_breaks_are_escaped() {
        for (value, expected) in [
            ("a\u{2028}b", r#""a\u{2028}b""#),
            ("a\u{2029}b", r#""a\u{2029}b""#),
            ("a\u{85}b", r#""a\u{85}b""#),
            ("a\u{b}b\u{c}", r#""a\u{b}b\u{c}""#),
        ] {
            let config = Config::new().with_service(value);
            let out = Go(&config, false).to_string();
            let out = out.strip_prefix("dd.service=").unwrap();
            assert_eq!(out, expected, "{value:?}");
            assert_eq!(out.lines().count(), 1);
            assert!(!out.contains(['\u{2028}', '\u{2029}', '\u{85}']));
        }
    }
}
