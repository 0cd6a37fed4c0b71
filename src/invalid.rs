//! The one error for a value spanlog cannot read: an address, a list of status codes or
//! header tags, an API version.

use std::fmt;

/// A value that could not be read, whatever it configures: what it was meant to be,
/// the text given, and why it was refused. `Display` says all three on one line.
///
/// # Examples
///
/// ```
/// # #[cfg(feature = "agent")]
/// # {
/// let error = spanlog::agent::AgentConfig::new()
///     .with_address("ftp://agent")
///     .unwrap_err();
/// assert_eq!(error.input(), "ftp://agent");
/// assert!(error.to_string().starts_with("invalid Datadog Agent address \"ftp://agent\""));
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidValue {
    what: &'static str,
    input: String,
    reason: &'static str,
}

impl InvalidValue {
    // Made by the agent's and the tower layers' parsers only.
    #[cfg_attr(not(any(feature = "agent", feature = "tower")), allow(dead_code))]
    pub(crate) fn new(what: &'static str, input: &str, reason: &'static str) -> Self {
        InvalidValue {
            what,
            input: input.to_owned(),
            reason,
        }
    }

    /// What the value was meant to be (`Datadog Agent address`, `status codes`, ...).
    pub fn what(&self) -> &str {
        self.what
    }

    /// The text that could not be read.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.what, self.input, self.reason)
    }
}

impl std::error::Error for InvalidValue {}
