//! spanlog's benchmarks live in this package's bench targets (`peers`, `instrument`,
//! `instructions`); see `BENCHMARKS.md` at the repository's root.
