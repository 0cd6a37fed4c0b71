//! Span timestamps: a fast monotonic counter read at start and finish (the CPU's time
//! stamp counter where it is reliable, through `quanta`; the monotonic clock elsewhere),
//! placed on the wall clock with an anchor (both clocks read together): for a span
//! handed to an exporter, by its finishing thread, whose anchor is refreshed every
//! second; for the agent exporter, by the exporter's thread, one anchor per batch.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

use once_cell::sync::OnceCell;

/// How long a thread's anchor serves before it is read again: it bounds how far the
/// fast clock and the wall clock may drift apart in a span's start time.
const ANCHOR_LIFETIME_NANOS: u64 = 1_000_000_000;

/// A reading of the fast clock; 0 stands for "none".
pub(crate) type Stamp = u64;

fn clock() -> &'static quanta::Clock {
    static CLOCK: OnceCell<quanta::Clock> = OnceCell::new();
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Calibrates the fast clock now, so that the first span does not pay for it (up to a
/// few hundred milliseconds where the time stamp counter is used).
pub(crate) fn warm_up() {
    let _ = clock();
}

/// The fast clock, now: one counter read, nothing converted. Never 0.
#[inline]
pub(crate) fn now() -> Stamp {
    clock().raw().max(1)
}

thread_local! {
    /// This thread's anchor; at 0 until first used.
    static ANCHOR: Cell<Anchor> = const { Cell::new(Anchor { at: 0, unix: 0 }) };
}

/// The wall-clock start and the duration, both in nanoseconds, of a span that ran from
/// `start` to `end` (a reading taken just now), placed with this thread's anchor (read
/// again once it is a second old).
#[inline]
pub(crate) fn place_here(start: Stamp, end: Stamp) -> (i64, i64) {
    // This thread's locals are gone: read the wall clock itself.
    let anchor = thread_anchor(end).unwrap_or_else(Anchor::now);
    anchor.place(start, end)
}

/// The unix seconds at `now`, a reading of the fast clock taken just now, placed with
/// this thread's anchor (read again once it is a second old): what a new 128-bit
/// trace id carries, without reading the wall clock for every trace. `None` for no
/// reading (0), or where this thread's locals are gone.
#[inline]
pub(crate) fn unix_seconds(now: Stamp) -> Option<u64> {
    if now == 0 {
        return None;
    }
    let (start, _) = thread_anchor(now)?.place(now, now);
    u64::try_from(start).ok().map(|nanos| nanos / 1_000_000_000)
}

/// This thread's anchor, read again first when it is unset or a second older than
/// `now`; `None` where this thread's locals are gone.
#[inline]
fn thread_anchor(now: Stamp) -> Option<Anchor> {
    ANCHOR
        .try_with(|cell| {
            let anchor = cell.get();
            if anchor.at == 0 || clock().delta_as_nanos(anchor.at, now) > ANCHOR_LIFETIME_NANOS {
                cell.set(Anchor::now());
            }
            cell.get()
        })
        .ok()
}

/// The fast clock and the wall clock read together, to place readings of the fast
/// clock taken on any thread on the wall clock: each thread keeps one for the spans it
/// finishes ([`finish`]); the agent exporter's thread takes one per batch, for spans
/// that finished since the last (within the flush interval).
#[derive(Clone, Copy)]
pub(crate) struct Anchor {
    at: Stamp,
    unix: i64,
}

/// How close the fast clock's readings around a wall-clock reading must be for an
/// anchor to be taken at once: the anchor is off by at most half of it.
const ANCHOR_GAP_NANOS: u64 = 4_000;

/// How many tries an anchor gets to read the wall clock between two close readings of
/// the fast clock, before it takes the closest pair seen.
const ANCHOR_TRIES: usize = 32;

impl Anchor {
    /// Both clocks, read together: the wall clock between two readings of the fast
    /// clock, placed at their midpoint. A thread interrupted between the readings (a
    /// loaded machine) would otherwise pair the wall clock with a fast-clock reading
    /// taken long before and place every span it anchors late by that much; such a
    /// pair is read again, and of all tries the closest is kept.
    pub(crate) fn now() -> Anchor {
        let clock = clock();
        Anchor::read(
            || clock.raw(),
            system_now,
            |start, end| clock.delta_as_nanos(start, end),
        )
    }

    /// [`Anchor::now`] from the given clocks: `fast` read before and after each `wall`
    /// reading, `nanos` the time between two fast readings.
    fn read(
        mut fast: impl FnMut() -> Stamp,
        mut wall: impl FnMut() -> i64,
        nanos: impl Fn(Stamp, Stamp) -> u64,
    ) -> Anchor {
        let mut closest: Option<(u64, Anchor)> = None;
        for _ in 0..ANCHOR_TRIES {
            let before = fast();
            let unix = wall();
            let after = fast();
            let (gap, at) = match after.checked_sub(before) {
                Some(diff) => (nanos(before, after), before + diff / 2),
                // Readings out of order: as far apart as can be.
                None => (u64::MAX, before),
            };
            let anchor = Anchor { at, unix };
            if gap <= ANCHOR_GAP_NANOS {
                return anchor;
            }
            if closest.is_none_or(|(seen, _)| gap < seen) {
                closest = Some((gap, anchor));
            }
        }
        closest.map_or(
            Anchor {
                at: fast(),
                unix: wall(),
            },
            |(_, anchor)| anchor,
        )
    }

    /// The wall-clock start and the duration, in nanoseconds, of a span that ran from
    /// `start` to `end`; the duration from the monotonic fast clock alone, only the
    /// start's place on the wall clock through the anchor.
    #[inline]
    pub(crate) fn place(&self, start: Stamp, end: Stamp) -> (i64, i64) {
        let clock = clock();
        let duration = nanos(clock.delta_as_nanos(start, end));
        let end_unix = if end <= self.at {
            self.unix
                .saturating_sub(nanos(clock.delta_as_nanos(end, self.at)))
        } else {
            self.unix
                .saturating_add(nanos(clock.delta_as_nanos(self.at, end)))
        };
        (end_unix.saturating_sub(duration), duration)
    }
}

fn nanos(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The wall clock in unix nanoseconds; 0 before 1970.
#[cold]
pub(crate) fn system_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| {
        nanos(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_are_monotonic_and_starts_match_the_wall_clock() {
        for pause in [0, 1, 20] {
            let before = system_now();
            let start = now();
            std::thread::sleep(Duration::from_millis(pause));
            let (start_unix, duration) = place_here(start, now());
            let after = system_now();
            assert!(duration >= 0);
            assert!(
                duration >= pause as i64 * 1_000_000,
                "{duration} < {pause} ms"
            );
            assert!(
                duration <= after - before + 1_000_000,
                "{duration} vs {}",
                after - before
            );
            // Within 1 ms of the wall clock read around it (see tests/export_hook.rs).
            assert!(start_unix >= before - 1_000_000, "{start_unix} < {before}");
            assert!(start_unix <= after + 1_000_000, "{start_unix} > {after}");
        }
    }

    /// A thread interrupted between reading the fast clock and the wall clock: the pair
    /// is read again, and of pairs that are all far apart the closest is kept.
    #[test]
    fn an_anchor_is_read_again_when_the_thread_was_interrupted() {
        // Fast readings in nanoseconds, one wall reading between each two.
        let script = |fast: Vec<u64>| {
            let mut fast = fast.into_iter();
            let mut last = 0;
            Anchor::read(
                || {
                    // Past the script, tries that are further apart than any in it.
                    last = fast.next().unwrap_or(last + 1_000_000_000);
                    last
                },
                || 1_000_000_000,
                |start, end| end - start,
            )
        };
        // First try interrupted for 5 ms after the wall reading, second try clean.
        let anchor = script(vec![0, 5_000_000, 10_000_000, 10_000_200]);
        assert_eq!(anchor.at, 10_000_100, "the second, close pair");
        // Every try interrupted: the closest pair, at its midpoint.
        let mut readings = Vec::new();
        for try_ in 0..ANCHOR_TRIES as u64 {
            let start = try_ * 100_000_000;
            let gap = if try_ == 7 { 10_000 } else { 1_000_000 + try_ };
            readings.extend([start, start + gap]);
        }
        let anchor = script(readings);
        assert_eq!(anchor.at, 700_000_000 + 5_000);
        // Readings out of order are never taken over an ordered pair.
        let anchor = script(vec![500, 100, 1_000, 1_000_000]);
        assert_eq!(anchor.at, 1_000 + (1_000_000 - 1_000) / 2);
    }

    #[test]
    fn an_anchor_places_earlier_and_later_readings() {
        let before = system_now();
        let start = now();
        std::thread::sleep(Duration::from_millis(5));
        let end = now();
        let after = system_now();
        std::thread::sleep(Duration::from_millis(20));
        // An anchor taken after the span (as the exporter's thread takes it) and one
        // taken before its end.
        for anchor in [
            Anchor::now(),
            Anchor {
                at: start,
                unix: before,
            },
        ] {
            let (start_unix, duration) = anchor.place(start, end);
            assert!(duration >= 5_000_000 && duration <= after - before + 1_000_000);
            assert!(start_unix >= before - 1_000_000, "{start_unix} < {before}");
            assert!(start_unix <= after + 1_000_000, "{start_unix} > {after}");
        }
    }

    #[test]
    fn trace_id_seconds_from_the_fast_clock_are_the_wall_clocks() {
        let seconds = || system_now() as u64 / 1_000_000_000;
        // Across several anchors: the first read, then one a second old.
        for pause in [0, 300, 800] {
            std::thread::sleep(Duration::from_millis(pause));
            let before = seconds();
            let reading = now();
            let (from_clock, from_id) = (
                unix_seconds(reading),
                crate::id::TraceId::random_root(true, reading).0.high() >> 32,
            );
            let after = seconds();
            assert!(from_clock.is_some_and(|s| (before..=after).contains(&s)));
            assert!(
                (before..=after).contains(&from_id),
                "{before} {from_id} {after}"
            );
        }
        assert_eq!(unix_seconds(0), None);
        let from_wall_clock = crate::id::TraceId::random_root(true, 0).0.high() >> 32;
        assert!(from_wall_clock >= 1_700_000_000, "{from_wall_clock}");
        assert_eq!(crate::id::TraceId::random_root(false, now()).0.high(), 0);
    }

    #[test]
    fn a_span_finished_on_another_thread() {
        let before = system_now();
        let start = now();
        let (start_unix, duration) = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            place_here(start, now())
        })
        .join()
        .unwrap();
        let after = system_now();
        assert!(duration >= 5_000_000 && duration <= after - before + 1_000_000);
        assert!(start_unix >= before - 1_000_000 && start_unix <= after + 1_000_000);
    }
}
