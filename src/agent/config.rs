//! Where the agent listens and how the exporter batches: [`AgentConfig`], from code or
//! from `DD_TRACE_AGENT_URL`, `DD_AGENT_HOST`, `DD_TRACE_AGENT_PORT` and
//! `DD_TRACE_API_VERSION`.

use std::fmt;

use crate::InvalidValue;
use std::time::Duration;

use crate::env::Env;

/// Where the agent listens, and how the exporter batches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    address: Address,
    batch_size: usize,
    flush_interval: Duration,
    queue_capacity: usize,
    request_timeout: Duration,
    max_retries: u32,
    enabled: bool,
    api_version: ApiVersion,
    shutdown_timeout: Duration,
    stats_computation: bool,
}

/// The agent's trace endpoint and payload format.
///
/// Both carry the same spans and tags; the agent turns both into the same traces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `PUT /v0.4/traces`: each span a map with its field names, each string written
    /// where it is used. Every Datadog Agent takes it; the default.
    #[default]
    V04,
    /// `PUT /v0.5/traces`: each string written once per payload in a table, each span an
    /// array of 12 values that name strings by their place in the table. About a
    /// quarter of v0.4's bytes for typical spans, so less to encode, copy and send; what
    /// Datadog's Python tracer sends by default. Spans are then sent without the
    /// features v0.5 lacks (span links, span events, `meta_struct`), none of which
    /// spanlog sends. An agent that answers 404 or 415 to it (older than 7.x) makes the
    /// exporter fall back to v0.4 for good, the batch resent, and says so once on
    /// standard error.
    V05,
}

impl ApiVersion {
    /// The endpoint's path: `/v0.4/traces` or `/v0.5/traces`.
    pub fn path(self) -> &'static str {
        match self {
            ApiVersion::V04 => "/v0.4/traces",
            ApiVersion::V05 => "/v0.5/traces",
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V04 => "v0.4",
            ApiVersion::V05 => "v0.5",
        })
    }
}

impl std::str::FromStr for ApiVersion {
    type Err = InvalidValue;

    /// `v0.4` or `v0.5` (`0.4`, `0.5` too, any case, spaces around ignored).
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let trimmed = value.trim().to_ascii_lowercase();
        match trimmed.strip_prefix('v').unwrap_or(&trimmed) {
            "0.4" => Ok(ApiVersion::V04),
            "0.5" => Ok(ApiVersion::V05),
            _ => Err(InvalidValue::new(
                "trace API version",
                value,
                "expected v0.4 or v0.5",
            )),
        }
    }
}

/// A trace API version other than `v0.4` and `v0.5`.
#[deprecated(
    since = "0.2.0",
    note = "every invalid value is a `spanlog::InvalidValue`"
)]
pub type InvalidApiVersion = crate::InvalidValue;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Address {
    /// `http://host:port`: the host as written in the address (an IPv6 address in
    /// brackets), and the port.
    Http { host: String, port: u16 },
    /// A unix domain socket path.
    Unix(std::path::PathBuf),
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Http { host, port } => write!(f, "http://{host}:{port}"),
            Address::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// An agent address that is neither `http://host[:port]` nor `unix:///path`.
#[deprecated(
    since = "0.2.0",
    note = "every invalid value is a `spanlog::InvalidValue`"
)]
pub type InvalidAddress = crate::InvalidValue;

/// The default address, for messages; a test checks it is what the default gives.
const DEFAULT_ADDRESS: &str = "http://localhost:8126";

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            address: Address::Http {
                host: "localhost".to_owned(),
                port: 8126,
            },
            batch_size: 5_000,
            flush_interval: Duration::from_secs(1),
            queue_capacity: 20_000,
            request_timeout: Duration::from_secs(2),
            max_retries: 3,
            enabled: true,
            api_version: ApiVersion::V04,
            shutdown_timeout: Duration::from_secs(2),
            stats_computation: true,
        }
    }
}

impl AgentConfig {
    /// `http://localhost:8126`, batches of 5,000 spans or one second, a queue of 20,000
    /// spans, two-second requests, three retries, the v0.4 endpoint.
    pub fn new() -> Self {
        AgentConfig::default()
    }

    /// `DD_TRACE_ENABLED` (`false` turns export off), and the address from
    /// `DD_TRACE_AGENT_URL` (`http://...` or `unix://...`), else
    /// `http://$DD_AGENT_HOST:$DD_TRACE_AGENT_PORT` when either is set (defaults
    /// `localhost` and `8126`; set-but-empty counts as unset), else
    /// `http://localhost:8126`; and `DD_TRACE_API_VERSION` (`v0.4`, the default, or
    /// `v0.5`: see [`ApiVersion`]); `DD_TRACE_STATS_COMPUTATION_ENABLED` (see
    /// [`AgentConfig::with_stats_computation`]). An invalid value prints one warning on
    /// standard error and the default applies.
    pub fn from_env() -> Self {
        Self::from_vars(&mut crate::env::process())
    }

    pub(crate) fn from_vars(env: &mut Env<'_>) -> Self {
        let enabled = env.get_bool("DD_TRACE_ENABLED", true);
        let api_version = match env.get("DD_TRACE_API_VERSION").map(|v| v.parse()) {
            None => ApiVersion::V04,
            Some(Ok(version)) => version,
            Some(Err(error)) => {
                env.warn(format!(
                    "spanlog: ignoring DD_TRACE_API_VERSION: {error}; using v0.4"
                ));
                ApiVersion::V04
            }
        };
        let stats = env.get_bool("DD_TRACE_STATS_COMPUTATION_ENABLED", true);
        Self::address_from_vars(env)
            .with_enabled(enabled)
            .with_api_version(api_version)
            .with_stats_computation(stats)
    }

    /// Client-side stats (`DD_TRACE_STATS_COMPUTATION_ENABLED`, on by default): when
    /// the Agent accepts them (its `/info` lists `/v0.6/stats`), the exporter computes
    /// the trace metrics itself, in 10-second buckets sent to the Agent, and, when the
    /// Agent allows it (`client_drop_p0s`), sends no trace chunk that sampling dropped
    /// (priority 0 or below) unless a span in it is an error. Off: every chunk is sent
    /// and the Agent computes the metrics from them.
    #[must_use]
    pub fn with_stats_computation(mut self, on: bool) -> Self {
        self.stats_computation = on;
        self
    }

    /// Whether client-side stats are computed when the Agent accepts them.
    pub fn stats_computation(&self) -> bool {
        self.stats_computation
    }

    /// The endpoint and payload format to send with ([`ApiVersion::V04`] unless set).
    #[must_use]
    pub fn with_api_version(mut self, version: ApiVersion) -> Self {
        self.api_version = version;
        self
    }

    /// The endpoint and payload format spans are sent with.
    pub fn api_version(&self) -> ApiVersion {
        self.api_version
    }

    /// Turns export off (`DD_TRACE_ENABLED=false`): [`set_global`](super::set_global)
    /// then installs nothing and starts no thread; spans keep their ids, log lines
    /// their correlation fields, and nothing is sent.
    pub fn with_enabled(mut self, enabled: bool) -> Self {
        self.enabled = enabled;
        self
    }

    /// Whether spans are sent at all.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn address_from_vars(env: &mut Env<'_>) -> Self {
        let config = AgentConfig::new();
        if let Some(url) = env.get("DD_TRACE_AGENT_URL") {
            return match config.clone().with_address(&url) {
                Ok(config) => config,
                Err(error) => {
                    env.warn(format!(
                        "spanlog: ignoring DD_TRACE_AGENT_URL: {error}; using {DEFAULT_ADDRESS}"
                    ));
                    config
                }
            };
        }
        let (host, port) = (env.get("DD_AGENT_HOST"), env.get("DD_TRACE_AGENT_PORT"));
        if host.is_none() && port.is_none() {
            return config;
        }
        let host = host.unwrap_or_else(|| "localhost".to_owned());
        let port = match port.map(|p| (p.trim().parse::<u16>(), p)) {
            None => 8126,
            Some((Ok(port), _)) if port != 0 => port,
            Some((_, raw)) => {
                env.warn(format!(
                    "spanlog: ignoring DD_TRACE_AGENT_PORT={raw:?}: not a port number; using 8126"
                ));
                8126
            }
        };
        let host = if host.contains(':') && !host.starts_with('[') {
            format!("[{}]", host.trim())
        } else {
            host.trim().to_owned()
        };
        match config
            .clone()
            .with_address(&format!("http://{host}:{port}"))
        {
            Ok(config) => config,
            Err(error) => {
                env.warn(format!(
                    "spanlog: ignoring DD_AGENT_HOST: {error}; using {DEFAULT_ADDRESS}"
                ));
                config
            }
        }
    }

    /// Sets the address: `http://host[:port]` (port 8126 when left out) or
    /// `unix:///path/to/socket`.
    ///
    /// # Errors
    ///
    /// When the address has another scheme, no host, or a bad port.
    pub fn with_address(mut self, address: &str) -> Result<Self, InvalidValue> {
        let invalid = || {
            InvalidValue::new(
                "Datadog Agent address",
                address,
                "expected http://host[:port] or unix:///path",
            )
        };
        let address = address.trim();
        if let Some(path) = address.strip_prefix("unix://") {
            if path.is_empty() {
                return Err(invalid());
            }
            self.address = Address::Unix(path.into());
            return Ok(self);
        }
        let rest = address.strip_prefix("http://").ok_or_else(invalid)?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return Err(invalid());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                let port: u16 = port.parse().map_err(|_| invalid())?;
                if port == 0 {
                    return Err(invalid());
                }
                (host, port)
            }
            _ => (authority, 8126),
        };
        if host.is_empty() || host == "[]" {
            return Err(invalid());
        }
        self.address = Address::Http {
            host: host.to_owned(),
            port,
        };
        Ok(self)
    }

    /// Sends once this many spans are queued (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, spans: usize) -> Self {
        self.batch_size = spans.max(1);
        self
    }

    /// Sends whatever is queued at least this often (at least every millisecond;
    /// `Duration::MAX` means only on batches, `flush` and `shutdown`).
    #[must_use]
    pub fn with_flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval.max(Duration::from_millis(1));
        self
    }

    /// How many finished spans may wait to be sent (at least 1); beyond that they are
    /// dropped and counted.
    #[must_use]
    pub fn with_queue_capacity(mut self, spans: usize) -> Self {
        self.queue_capacity = spans.max(1);
        self
    }

    /// How long one request to the agent may take, from connecting to the end of the
    /// answer, on every transport. Durations too long to add to the clock (such as
    /// `Duration::MAX`) mean no limit; zero means the shortest limit, one millisecond.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long dropping the last [`Agent`](super::Agent) handle may take to send what
    /// is queued and stop the exporter (two seconds by default; zero stops it without
    /// waiting, `Duration::MAX` waits as long as it takes).
    #[must_use]
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// How long dropping the last handle may take to send what is queued.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// How often a failed batch is retried (with backoff) before it counts as failed.
    #[must_use]
    pub fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The agent's address, as `http://host:port` or `unix:///path`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    pub(crate) fn address_value(&self) -> &Address {
        &self.address
    }

    /// How many spans make a batch that is sent at once.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// How often whatever is queued is sent.
    pub fn flush_interval(&self) -> Duration {
        self.flush_interval
    }

    /// How many finished spans may wait to be sent.
    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
    }

    /// How long one request to the agent may take.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// How often a failed batch is retried.
    pub fn max_retries(&self) -> u32 {
        self.max_retries
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::read_with;

    fn read(vars: &[(&str, &str)]) -> (AgentConfig, Vec<String>) {
        read_with(vars, AgentConfig::from_vars)
    }

    #[test]
    fn dd_trace_enabled_turns_export_off() {
        assert!(read(&[]).0.enabled());
        assert!(!read(&[("DD_TRACE_ENABLED", "false")]).0.enabled());
        assert!(!read(&[("DD_TRACE_ENABLED", "0")]).0.enabled());
        let (config, warnings) = read(&[("DD_TRACE_ENABLED", "nope")]);
        assert!(config.enabled());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
    }

    #[test]
    fn api_version_from_the_environment() {
        assert_eq!(read(&[]).0.api_version(), ApiVersion::V04);
        for value in ["v0.5", "0.5", " V0.5 "] {
            let (config, warnings) = read(&[("DD_TRACE_API_VERSION", value)]);
            assert_eq!(config.api_version(), ApiVersion::V05, "{value:?}");
            assert!(warnings.is_empty(), "{warnings:?}");
        }
        assert_eq!(
            read(&[("DD_TRACE_API_VERSION", "v0.4")]).0.api_version(),
            ApiVersion::V04
        );
        for value in ["v0.7", "v1", "latest"] {
            let (config, warnings) = read(&[("DD_TRACE_API_VERSION", value)]);
            assert_eq!(config.api_version(), ApiVersion::V04, "{value:?}");
            assert_eq!(warnings.len(), 1, "{warnings:?}");
            assert!(warnings[0].contains("DD_TRACE_API_VERSION"), "{warnings:?}");
        }
        assert_eq!(ApiVersion::V05.to_string(), "v0.5");
        assert_eq!(ApiVersion::V05.path(), "/v0.5/traces");
        assert_eq!("v0.4".parse(), Ok(ApiVersion::V04));
    }

    #[test]
    fn address_from_the_environment() {
        let address = |vars: &[(&str, &str)]| read(vars).0.address();
        assert_eq!(address(&[]), "http://localhost:8126");
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://agent:9000")]),
            "http://agent:9000"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://agent/")]),
            "http://agent:8126"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "unix:///var/run/datadog/apm.socket")]),
            "unix:///var/run/datadog/apm.socket"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_URL", "http://a:1"), ("DD_AGENT_HOST", "b")]),
            "http://a:1",
            "the URL wins"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", "dd-agent")]),
            "http://dd-agent:8126"
        );
        assert_eq!(
            address(&[("DD_TRACE_AGENT_PORT", "9126")]),
            "http://localhost:9126"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", "::1"), ("DD_TRACE_AGENT_PORT", "1")]),
            "http://[::1]:1"
        );
        assert_eq!(
            address(&[("DD_AGENT_HOST", ""), ("DD_TRACE_AGENT_URL", "")]),
            "http://localhost:8126"
        );
    }

    #[test]
    fn bad_addresses_warn_and_use_the_default() {
        for vars in [
            &[("DD_TRACE_AGENT_URL", "https://agent:8126")][..],
            &[("DD_TRACE_AGENT_URL", "agent:8126")][..],
            &[("DD_TRACE_AGENT_URL", "http://agent:99999")][..],
            &[("DD_TRACE_AGENT_URL", "unix://")][..],
            &[("DD_TRACE_AGENT_PORT", "eighty")][..],
        ] {
            let (config, warnings) = read(vars);
            assert_eq!(config.address().split(':').next(), Some("http"), "{vars:?}");
            assert_eq!(warnings.len(), 1, "{vars:?}: {warnings:?}");
            assert!(warnings[0].contains(vars[0].0), "{warnings:?}");
        }
        assert!(AgentConfig::new().with_address("ftp://x").is_err());
        assert!(AgentConfig::new().with_address("http://").is_err());
        assert!(AgentConfig::new().with_address("http://a:0").is_err());
    }
}
