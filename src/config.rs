//! Unified service tagging and the log-injection and trace id switches, read once from
//! `DD_*` variables.

use std::sync::atomic::{AtomicBool, Ordering};

use once_cell::sync::OnceCell;

use crate::env::Env;
use crate::global::AlreadySet;

/// What spanlog needs to know about the running service.
///
/// [`Config::from_env`] reads Datadog's standard variables:
///
/// | variable | meaning | default |
/// | --- | --- | --- |
/// | `DD_SERVICE` | service name | the executable's file name; `unnamed-rust-service` (dd-trace-rs's) once `opentelemetry::set_tracer_provider` ran |
/// | `DD_ENV` | environment | empty |
/// | `DD_VERSION` | version | empty |
/// | `DD_LOGS_INJECTION` | add correlation fields to log lines | `true` |
/// | `DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED` | generate 128-bit trace ids | `true` |
/// | `DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED` | log 128-bit trace ids as 32 hex digits (the rule: [`TraceId::for_logs`](crate::TraceId::for_logs)) | `true` |
/// | `DD_TAGS` | tags on every exported span: `key:value`, comma- or space-separated | none |
///
/// Switches accept `true`/`1` and `false`/`0` (any case, surrounding blanks ignored); an
/// empty variable counts as unset. Anything else prints one warning on standard error,
/// naming the variable and the value, and the default applies. Reading the configuration
/// never panics.
///
/// The process-wide configuration ([`Config::global`]) is read from the environment the first
/// time it is needed: by `spanlog::init()` or [`LoggerBuilder::wrap`](crate::LoggerBuilder::wrap)
/// (the logger keeps it), the first span's trace id, or [`Span::log`](crate::Span::log).
/// To choose it in code, call [`Config::set_global`] before any of those, first thing in
/// `main`.
///
/// # Examples
///
/// ```
/// use spanlog::Config;
///
/// let config = Config::new()
///     .with_service("blog")
///     .with_env("prod")
///     .with_version("1.2.3");
/// assert_eq!(config.service(), "blog");
/// assert!(config.logs_injection());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    service: String,
    env: String,
    version: String,
    logs_injection: bool,
    trace_id_128_generation: bool,
    trace_id_128_logging: bool,
    tags: Vec<(String, String)>,
    /// Whether the service was named (`DD_SERVICE`, [`Config::with_service`]) rather
    /// than taken from the executable.
    service_named: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config::new()
    }
}

impl Config {
    /// A configuration with empty service, env and version, and every switch on. It does
    /// not look at the environment.
    pub fn new() -> Self {
        Config {
            service: String::new(),
            env: String::new(),
            version: String::new(),
            logs_injection: true,
            trace_id_128_generation: true,
            trace_id_128_logging: true,
            tags: Vec::new(),
            service_named: false,
        }
    }

    /// The configuration the `DD_*` variables describe (see the table above). An unset
    /// `DD_SERVICE` falls back to the executable's file name, as Datadog's Go tracer
    /// does, or, once an OpenTelemetry tracer provider was registered through spanlog,
    /// to `unnamed-rust-service`, as Datadog's Rust SDK does.
    pub fn from_env() -> Self {
        Self::from_vars(&mut crate::env::process())
    }

    /// [`Config::from_env`] over any source of variables and warning sink.
    pub(crate) fn from_vars(env: &mut Env<'_>) -> Self {
        let named = env.get("DD_SERVICE");
        let service_named = named.is_some();
        let config = Config::new()
            .with_service(named.unwrap_or_else(default_service))
            .with_env(env.get("DD_ENV").unwrap_or_default())
            .with_version(env.get("DD_VERSION").unwrap_or_default())
            .with_logs_injection(env.get_bool("DD_LOGS_INJECTION", true))
            .with_trace_id_128_generation(
                env.get_bool("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", true),
            )
            .with_trace_id_128_logging(
                env.get_bool("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", true),
            )
            .with_tags(
                env.get("DD_TAGS")
                    .map(|t| parse_tags(&t, env))
                    .unwrap_or_default(),
            );
        Config {
            service_named,
            ..config
        }
    }

    /// Adds tags to every exported span (`DD_TAGS`); a span's own tag of the same key
    /// wins. Log lines do not carry them.
    #[must_use]
    pub fn with_tags<K: Into<String>, V: Into<String>>(
        mut self,
        tags: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (key, value) in tags {
            let key = key.into();
            self.tags.retain(|(k, _)| *k != key);
            self.tags.push((key, value.into()));
        }
        self
    }

    /// The tags every exported span gets.
    pub fn tags(&self) -> &[(String, String)] {
        &self.tags
    }

    /// Sets the service name (`dd.service`).
    #[must_use]
    pub fn with_service(mut self, service: impl Into<String>) -> Self {
        self.service = service.into();
        self.service_named = true;
        self
    }

    /// Whether the service was named, not defaulted to the executable's name.
    #[cfg(feature = "agent")]
    pub(crate) fn service_named(&self) -> bool {
        self.service_named
    }

    /// Sets the environment (`dd.env`).
    #[must_use]
    pub fn with_env(mut self, env: impl Into<String>) -> Self {
        self.env = env.into();
        self
    }

    /// Sets the version (`dd.version`).
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Turns log injection on or off (`DD_LOGS_INJECTION`). Off, the logger passes every
    /// record through untouched.
    #[must_use]
    pub fn with_logs_injection(mut self, on: bool) -> Self {
        self.logs_injection = on;
        self
    }

    /// Turns 128-bit trace id generation on or off.
    #[must_use]
    pub fn with_trace_id_128_generation(mut self, on: bool) -> Self {
        self.trace_id_128_generation = on;
        self
    }

    /// Turns 128-bit trace id logging on or off. Off, log lines carry the lower 64 bits of
    /// the trace id in decimal, as older Datadog tracers did.
    #[must_use]
    pub fn with_trace_id_128_logging(mut self, on: bool) -> Self {
        self.trace_id_128_logging = on;
        self
    }

    /// The service name; may be empty.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The environment; may be empty.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The version; may be empty.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Whether log lines get correlation fields.
    #[inline]
    pub fn logs_injection(&self) -> bool {
        self.logs_injection
    }

    /// Whether new trace ids are 128-bit.
    pub fn trace_id_128_generation(&self) -> bool {
        self.trace_id_128_generation
    }

    /// Whether 128-bit trace ids are logged as 32 hex digits.
    #[inline]
    pub fn trace_id_128_logging(&self) -> bool {
        self.trace_id_128_logging
    }

    /// Makes this the process-wide configuration, used by [`Span::log`](crate::Span::log),
    /// new trace ids, exporters and loggers built without their own configuration.
    ///
    /// # Errors
    ///
    /// Fails, handing the configuration back, when the global configuration was already
    /// set or already read (it is read once and never changes afterwards).
    ///
    /// # Examples
    ///
    /// ```
    /// use spanlog::Config;
    ///
    /// Config::from_env().with_service("blog").set_global().expect("set before first use");
    /// assert_eq!(Config::global().service(), "blog");
    /// ```
    pub fn set_global(self) -> Result<(), AlreadySet<Config>> {
        GLOBAL
            .set(self)
            .map_err(|config| AlreadySet::new("configuration", config))
    }

    /// The process-wide configuration: the one given to [`Config::set_global`], or else
    /// [`Config::from_env`], read on first use and fixed from then on.
    ///
    /// ```
    /// // The trace id as this process's log lines show it, for a response header.
    /// let span = spanlog::start_span("web.request").start();
    /// let logging_128_bit = spanlog::Config::global().trace_id_128_logging();
    /// let header = span.trace_id().for_logs(logging_128_bit).to_string();
    /// assert_eq!(Some(header.as_str()), span.log().trace_id());
    /// ```
    pub fn global() -> &'static Config {
        global()
    }
}

static GLOBAL: OnceCell<Config> = OnceCell::new();

/// The process-wide configuration (see [`Config::global`]).
pub(crate) fn global() -> &'static Config {
    GLOBAL.get_or_init(Config::from_env)
}

/// The service name Datadog's Rust SDK (dd-trace-rs) reports when `DD_SERVICE` is
/// unset.
pub(crate) const DD_TRACE_RS_DEFAULT_SERVICE: &str = "unnamed-rust-service";

/// Whether an OpenTelemetry tracer provider was registered through spanlog: then the
/// default service is dd-trace-rs's, so that a line and the span it names agree.
static PROVIDER_REGISTERED: AtomicBool = AtomicBool::new(false);

/// An OpenTelemetry tracer provider is being registered: the service name, when
/// `DD_SERVICE` is unset, becomes dd-trace-rs's default. When the process's
/// configuration was already read with the executable's name, that cannot change any
/// more: a warning says so.
#[cfg_attr(not(feature = "opentelemetry"), allow(dead_code))]
pub(crate) fn use_dd_trace_rs_default_service() {
    PROVIDER_REGISTERED.store(true, Ordering::Relaxed);
    let Some(config) = GLOBAL.get() else { return };
    let mut env = crate::env::process();
    if env.get("DD_SERVICE").is_none() && config.service() == executable_name() {
        env.warn(format!(
            "spanlog: DD_SERVICE is unset and spanlog's configuration was read before the \
             OpenTelemetry tracer provider was registered: log lines name the service {:?}, \
             dd-trace-rs's spans {DD_TRACE_RS_DEFAULT_SERVICE:?}; set DD_SERVICE, or \
             register the provider first",
            config.service()
        ));
    }
}

/// The service name when `DD_SERVICE` is unset: dd-trace-rs's once an OpenTelemetry
/// provider was registered through spanlog, else the executable's name.
fn default_service() -> String {
    match PROVIDER_REGISTERED.load(Ordering::Relaxed) {
        true => DD_TRACE_RS_DEFAULT_SERVICE.to_owned(),
        false => executable_name(),
    }
}

fn executable_name() -> String {
    std::env::args_os()
        .next()
        .and_then(|arg0| {
            let path = std::path::PathBuf::from(arg0);
            Some(path.file_stem()?.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// `DD_TAGS`: `key:value` pairs separated by commas or blanks; a pair with no `:` or
/// an empty key is left out, with a warning.
fn parse_tags(text: &str, env: &mut Env<'_>) -> Vec<(String, String)> {
    let mut tags = Vec::new();
    let mut bad = Vec::new();
    for item in text.split([',', ' ', '\t']).filter(|i| !i.is_empty()) {
        match item.split_once(':') {
            Some((key, value)) if !key.is_empty() => tags.push((key.to_owned(), value.to_owned())),
            _ => bad.push(item),
        }
    }
    if !bad.is_empty() {
        env.warn(format!(
            "spanlog: ignoring {bad:?} in DD_TAGS: expected key:value pairs"
        ));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::read_with;

    fn read(vars: &[(&str, &str)]) -> (Config, Vec<String>) {
        read_with(vars, Config::from_vars)
    }

    #[test]
    fn global_tags_from_dd_tags() {
        let (config, warnings) =
            read(&[("DD_TAGS", "team:blog, region:eu-west-1 tier:gold,,oops")]);
        assert_eq!(
            config.tags(),
            [
                ("team".to_owned(), "blog".to_owned()),
                ("region".to_owned(), "eu-west-1".to_owned()),
                ("tier".to_owned(), "gold".to_owned()),
            ]
        );
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("oops"), "{warnings:?}");
        let config = Config::new()
            .with_tags([("a", "1")])
            .with_tags([("a", "2")]);
        assert_eq!(config.tags(), [("a".to_owned(), "2".to_owned())]);
    }

    #[test]
    fn reads_unified_service_tags() {
        let (config, warnings) = read(&[
            ("DD_SERVICE", "blog"),
            ("DD_ENV", "prod"),
            ("DD_VERSION", "1.2.3"),
        ]);
        assert_eq!(
            (config.service(), config.env(), config.version()),
            ("blog", "prod", "1.2.3")
        );
        assert!(warnings.is_empty());
    }

    #[test]
    fn unset_service_falls_back_to_the_executable_name() {
        let (config, _) = read(&[]);
        assert!(!config.service().is_empty());
        assert_eq!(config.service(), executable_name());
        let (config, _) = read(&[("DD_SERVICE", "")]);
        assert_eq!(
            config.service(),
            executable_name(),
            "set-but-empty counts as unset"
        );
    }

    #[test]
    fn switches_are_read() {
        for (value, expected) in [("true", true), ("FALSE", false), (" 0 ", false)] {
            let (config, warnings) = read(&[
                ("DD_LOGS_INJECTION", value),
                ("DD_TRACE_128_BIT_TRACEID_GENERATION_ENABLED", value),
                ("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", value),
            ]);
            assert_eq!(config.logs_injection(), expected, "{value:?}");
            assert_eq!(config.trace_id_128_generation(), expected, "{value:?}");
            assert_eq!(config.trace_id_128_logging(), expected, "{value:?}");
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }

    #[test]
    fn bad_values_warn_once_each_and_fall_back_to_the_default() {
        let (config, warnings) = read(&[
            ("DD_LOGS_INJECTION", "maybe"),
            ("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED", "yes please"),
        ]);
        assert!(config.logs_injection());
        assert!(config.trace_id_128_logging());
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("DD_LOGS_INJECTION") && warnings[0].contains("\"maybe\""));
        assert!(
            warnings[1].contains("DD_TRACE_128_BIT_TRACEID_LOGGING_ENABLED")
                && warnings[1].contains("\"yes please\"")
        );
    }
}
