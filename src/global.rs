//! The one shape of every process-wide setting: `set_global`, failing with
//! [`AlreadySet`], which hands the rejected value back.

use std::fmt;

/// The error of every `set_global` in spanlog ([`Config::set_global`],
/// [`Propagator::set_global`], [`export::set_global`], and `agent::set_global` with the
/// `agent` feature): that process-wide setting was already set, or already read with its
/// default. The value that was not installed comes back through
/// [`AlreadySet::into_inner`].
///
/// [`Config::set_global`]: crate::Config::set_global
/// [`Propagator::set_global`]: crate::propagation::Propagator::set_global
/// [`export::set_global`]: crate::export::set_global
///
/// # Examples
///
/// ```
/// use spanlog::Config;
///
/// let _ = spanlog::Config::global(); // read once: from now on it is fixed
/// let error = Config::new().with_service("late").set_global().unwrap_err();
/// assert_eq!(error.into_inner().service(), "late");
/// ```
pub struct AlreadySet<T> {
    what: &'static str,
    value: T,
}

impl<T> AlreadySet<T> {
    pub(crate) fn new(what: &'static str, value: T) -> Self {
        AlreadySet { what, value }
    }

    /// The value that was not installed.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for AlreadySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlreadySet")
            .field("what", &self.what)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for AlreadySet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the process-wide spanlog {} was already set or in use",
            self.what
        )
    }
}

impl<T> std::error::Error for AlreadySet<T> {}
