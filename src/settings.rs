//! Reading every process-wide setting when spanlog is set up, so that what is wrong with
//! the environment is said then, once, and not on first use in the middle of a request.

/// Reads the global configuration, propagator and sampler now (each from the
/// environment unless set in code before): their warnings about `DD_*` variables go to
/// standard error at once. Installing a logger, a `tracing` subscriber or the agent
/// exporter calls it.
pub(crate) fn read_all() {
    let _ = crate::config::global();
    let _ = crate::propagation::Propagator::global();
    let _ = crate::sampling::Sampler::global();
}
