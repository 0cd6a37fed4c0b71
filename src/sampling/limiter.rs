//! The rate limiter behind `DD_TRACE_RATE_LIMIT`: a token bucket refilled continuously,
//! which reports the rate it let through as Datadog's tracers do (`_dd.limit_psr`).

use std::time::Instant;

/// At most `rate` traces a second, in bursts of at most `rate`.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: f64,
    tokens: f64,
    last: Option<Instant>,
    /// This second: when it started, and what was seen and allowed.
    window: Option<Instant>,
    seen: u64,
    allowed: u64,
    previous_rate: Option<f64>,
}

impl Limiter {
    pub(crate) fn new(rate: f64) -> Self {
        Limiter {
            rate,
            tokens: rate,
            last: None,
            window: None,
            seen: 0,
            allowed: 0,
            previous_rate: None,
        }
    }

    /// Whether one more trace may be kept now.
    pub(crate) fn allow(&mut self, now: Instant) -> bool {
        if self.rate <= 0.0 {
            // No limit, as Datadog's conformance suite expects of
            // `DD_TRACE_RATE_LIMIT=0` (Datadog's Python tracer drops everything).
            return true;
        }
        let window = *self.window.get_or_insert(now);
        if now.duration_since(window).as_secs_f64() >= 1.0 {
            self.previous_rate = Some(self.current_rate());
            self.window = Some(now);
            self.seen = 0;
            self.allowed = 0;
        }
        if let Some(last) = self.last {
            let refill = now.duration_since(last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.rate.max(1.0));
        }
        self.last = Some(now);
        self.seen += 1;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            self.allowed += 1;
            true
        } else {
            false
        }
    }

    fn current_rate(&self) -> f64 {
        match self.seen {
            0 => 1.0,
            seen => self.allowed as f64 / seen as f64,
        }
    }

    /// The share of traces let through, this second and the last averaged.
    pub(crate) fn effective_rate(&self) -> f64 {
        match self.previous_rate {
            None => self.current_rate(),
            Some(previous) => (self.current_rate() + previous) / 2.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_is_cut_at_the_limit_per_second() {
        let start = Instant::now();
        let mut limiter = Limiter::new(100.0);
        let allowed = (0..1000).filter(|_| limiter.allow(start)).count();
        assert_eq!(allowed, 100);
        assert!((limiter.effective_rate() - 0.1).abs() < 1e-9);
        // A second later the bucket is full again.
        let later = start + Duration::from_secs(1);
        let allowed = (0..1000).filter(|_| limiter.allow(later)).count();
        assert_eq!(allowed, 100);
        // Half a second later, half the tokens.
        let half = later + Duration::from_millis(500);
        let allowed = (0..1000).filter(|_| limiter.allow(half)).count();
        assert_eq!(allowed, 50);
    }

    #[test]
    fn zero_and_negative_limit_nothing() {
        let now = Instant::now();
        for rate in [0.0, -1.0] {
            let mut unlimited = Limiter::new(rate);
            assert!((0..10_000).all(|_| unlimited.allow(now)), "{rate}");
            assert_eq!(unlimited.effective_rate(), 1.0);
        }
        assert!((0..10).filter(|_| Limiter::new(0.5).allow(now)).count() == 0);
    }
}
