//! Holds spanlog's examples and tests with Datadog's Rust SDK, dd-trace-rs, which
//! should not be built with spanlog itself. Nothing to use here.
