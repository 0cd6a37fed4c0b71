//! The one reader of environment variables (`DD_*`, `RUST_LOG`), with one rule for empty
//! and non-UTF-8 values and one sink for warnings.

use std::ffi::OsString;

/// A source of variables and a sink for warnings about them.
///
/// - A variable that is unset, empty or only blanks reads as unset.
/// - A value that is not valid UTF-8 reads as unset, with one warning naming it.
/// - Warnings are one line each, start with `spanlog: ` and name the variable and the
///   value; [`Env::process`] prints them on standard error.
pub(crate) struct Env<'a> {
    lookup: Box<Lookup<'a>>,
    warn: Box<dyn FnMut(String) + 'a>,
}

type Lookup<'a> = dyn Fn(&str) -> Option<OsString> + 'a;

/// The process's environment, warnings on standard error.
pub(crate) fn process() -> Env<'static> {
    Env::new(|name| std::env::var_os(name), print_warning)
}

/// Where spanlog's configuration warnings go when nobody else takes them.
#[allow(clippy::print_stderr)]
pub(crate) fn print_warning(warning: String) {
    eprintln!("{warning}");
}

impl<'a> Env<'a> {
    pub(crate) fn new(
        lookup: impl Fn(&str) -> Option<OsString> + 'a,
        warn: impl FnMut(String) + 'a,
    ) -> Self {
        Env {
            lookup: Box::new(lookup),
            warn: Box::new(warn),
        }
    }

    /// The value of `name`, or `None` when it is unset, blank or not UTF-8 (with a
    /// warning for the last).
    pub(crate) fn get(&mut self, name: &str) -> Option<String> {
        let value = (self.lookup)(name)?;
        match value.into_string() {
            Ok(value) if value.trim().is_empty() => None,
            Ok(value) => Some(value),
            Err(raw) => {
                self.warn(format!(
                    "spanlog: ignoring {name}={raw:?}: not valid UTF-8; using the default"
                ));
                None
            }
        }
    }

    /// The value of `name` even when it is empty or blank (which some variables give
    /// a meaning: "none"); `None` when it is unset or not UTF-8.
    pub(crate) fn get_even_empty(&mut self, name: &str) -> Option<String> {
        let value = (self.lookup)(name)?;
        if value.to_str().is_some_and(|v| v.trim().is_empty()) {
            return Some(String::new());
        }
        self.get(name)
    }

    /// A switch: `true`/`1` or `false`/`0`, any case, blanks ignored. Anything else warns
    /// and gives `default`.
    pub(crate) fn get_bool(&mut self, name: &str, default: bool) -> bool {
        let Some(value) = self.get(name) else {
            return default;
        };
        match parse_bool(&value) {
            Some(on) => on,
            None => {
                self.warn(format!(
                    "spanlog: ignoring {name}={value:?}: expected true, false, 1 or 0; using the default ({default})"
                ));
                default
            }
        }
    }

    /// A count (a whole number, blanks ignored); anything else warns and gives
    /// `default`.
    pub(crate) fn get_count(&mut self, name: &str, default: usize) -> usize {
        let Some(value) = self.get(name) else {
            return default;
        };
        value.trim().parse().unwrap_or_else(|_| {
            self.warn(format!(
                "spanlog: ignoring {name}={value:?}: expected a whole number; using the default ({default})"
            ));
            default
        })
    }

    /// Hands one warning to the sink.
    pub(crate) fn warn(&mut self, warning: String) {
        (self.warn)(warning)
    }
}

fn parse_bool(value: &str) -> Option<bool> {
    let value = value.trim();
    if value == "1" || value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value == "0" || value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// `RUST_LOG` as the `init`s read it: `info` when it is unset or blank. A directive
/// that names a target no logger has (with brackets, braces, quotes or blanks, such as
/// tracing-subscriber's span filters `target[span]=level`) is left out with a warning
/// on standard error, and `info` is used when no directive is left: a filter spanlog
/// cannot read never silently turns all output off.
#[cfg(any(feature = "env_logger", feature = "json", feature = "tracing"))]
pub(crate) fn rust_log() -> String {
    read_rust_log(&mut process())
}

#[cfg(any(feature = "env_logger", feature = "json", feature = "tracing", test))]
fn read_rust_log(env: &mut Env<'_>) -> String {
    let Some(value) = env.get("RUST_LOG") else {
        return "info".to_owned();
    };
    // env_logger's optional `/regex` suffix is its own business.
    let (directives, regex) = match value.split_once('/') {
        Some((directives, regex)) => (directives, Some(regex)),
        None => (value.as_str(), None),
    };
    let unreadable = |directive: &str| {
        let target = directive.split('=').next().unwrap_or_default().trim();
        target.contains(|c: char| "[]{}\"'".contains(c) || c.is_whitespace())
    };
    let (bad, good): (Vec<&str>, Vec<&str>) = directives
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .partition(|d| unreadable(d));
    if bad.is_empty() {
        return value;
    }
    let kept = match good.is_empty() {
        true => "info".to_owned(),
        false => good.join(","),
    };
    env.warn(format!(
        "spanlog: ignoring {} in RUST_LOG={value:?}: not a target a logger has (span filters, \
         `target[span]=level`, are tracing-subscriber's EnvFilter syntax); using {kept:?}",
        bad.iter()
            .map(|d| format!("{d:?}"))
            .collect::<Vec<_>>()
            .join(", "),
    ));
    match regex {
        Some(regex) => format!("{kept}/{regex}"),
        None => kept,
    }
}

#[cfg(test)]
mod rust_log_tests {
    use super::read_rust_log;
    use super::testing::read_with;

    #[test]
    fn a_filter_that_names_no_target_warns_and_is_left_out() {
        let read = |value: &str| read_with(&[("RUST_LOG", value)], read_rust_log);
        for fine in [
            "info",
            "my_app=debug,hyper=warn",
            "warn/foo.*",
            "my-app::db=trace",
        ] {
            assert_eq!(read(fine), (fine.to_owned(), vec![]), "{fine}");
        }
        let (filter, warnings) = read("garbage[");
        assert_eq!(filter, "info", "never all output off");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("\"garbage[\""), "{warnings:?}");
        let (filter, warnings) = read("my_app=debug,my_app[request]=trace/abc");
        assert_eq!(filter, "my_app=debug/abc");
        assert!(warnings[0].contains("EnvFilter"), "{warnings:?}");
        assert_eq!(read(" ").0, "info");
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Variables from a list, warnings into a `Vec`.

    use std::collections::HashMap;
    use std::ffi::OsString;

    use super::Env;

    /// Runs `read` over `vars` and returns what it made and the warnings it gave.
    pub(crate) fn read_with<T>(
        vars: &[(&str, &str)],
        read: impl FnOnce(&mut Env<'_>) -> T,
    ) -> (T, Vec<String>) {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        let mut warnings = Vec::new();
        let value = read(&mut Env::new(
            |name| vars.get(name).cloned(),
            |w| warnings.push(w),
        ));
        (value, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::read_with;
    use super::*;

    #[test]
    fn empty_and_blank_values_read_as_unset() {
        let (values, warnings) = read_with(&[("A", ""), ("B", "  "), ("C", " x ")], |env| {
            (env.get("A"), env.get("B"), env.get("C"), env.get("D"))
        });
        assert_eq!(values, (None, None, Some(" x ".to_owned()), None));
        assert!(warnings.is_empty());
    }

    #[test]
    fn switches_parse_each_spelling_and_warn_on_the_rest() {
        for (value, expected) in [
            ("true", true),
            ("TRUE", true),
            (" 1 ", true),
            ("False", false),
            ("0", false),
        ] {
            let (on, warnings) = read_with(&[("S", value)], |env| env.get_bool("S", !expected));
            assert_eq!(on, expected, "{value:?}");
            assert!(warnings.is_empty());
        }
        let (on, warnings) = read_with(&[("S", "maybe")], |env| env.get_bool("S", true));
        assert!(on);
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("S=\"maybe\"") && warnings[0].contains("(true)"),
            "{warnings:?}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn non_utf8_values_warn_and_read_as_unset() {
        use std::os::unix::ffi::OsStringExt;
        let mut warnings = Vec::new();
        let mut env = Env::new(
            |name: &str| (name == "DD_ENV").then(|| OsString::from_vec(vec![0xff, b'x'])),
            |w| warnings.push(w),
        );
        assert_eq!(env.get("DD_ENV"), None);
        drop(env);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("DD_ENV") && warnings[0].contains("UTF-8"));
    }
}
