//! Deadlines that saturate: any duration the API accepts, `Duration::MAX` included,
//! gives a point in time instead of a panic.

use std::time::{Duration, Instant};

/// `now + after`, or a point so far ahead that it is never reached when that sum does
/// not fit in an `Instant`.
pub(crate) fn after(now: Instant, after: Duration) -> Instant {
    now.checked_add(after).unwrap_or_else(|| far_future(now))
}

/// The time left before `deadline`, or `None` once it has passed (a zero timeout means
/// none to the socket and condition-variable calls this feeds).
pub(crate) fn left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|left| !left.is_zero())
}

/// The latest of a few far-away points that the clock can represent.
fn far_future(now: Instant) -> Instant {
    const YEAR: u64 = 365 * 24 * 3600;
    [100 * YEAR, YEAR, 24 * 3600]
        .into_iter()
        .find_map(|secs| now.checked_add(Duration::from_secs(secs)))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_durations_saturate() {
        let now = Instant::now();
        assert!(after(now, Duration::MAX) > now + Duration::from_secs(3600));
        assert_eq!(
            after(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }

    #[test]
    fn the_time_left_is_none_once_the_deadline_passed() {
        let now = Instant::now();
        assert_eq!(left(now), None);
        let ahead = left(now + Duration::from_secs(60)).unwrap();
        assert!(ahead > Duration::from_secs(59) && ahead <= Duration::from_secs(60));
    }
}
