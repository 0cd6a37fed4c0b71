//! spanlog's property tests are in `tests/`.
