//! Random 64-bit ids: a fast per-thread stream, seeded from the operating system,
//! reseeded in a forked child, and usable while thread-locals are torn down.

use std::cell::Cell;

use rand::TryRng;
use rand::rngs::SysRng;

/// One thread's generator: a wyrand stream (a 64-bit counter mixed by one
/// multiplication) and what tells it that the process was forked since it was seeded.
struct Stream {
    /// 0 until seeded.
    state: Cell<u64>,
    /// `None` until seeded, and when the process could not register a fork handler
    /// (the stream is then never reseeded).
    forks: Cell<Option<forkguard::Guard>>,
}

thread_local! {
    /// No destructor: the cheapest thread-local there is. `try_with` may still fail
    /// late in a thread's teardown, which [`random_nonzero_u64`] handles.
    static STREAM: Stream = const {
        Stream { state: Cell::new(0), forks: Cell::new(None) }
    };
}

/// A random `u64` that is never zero.
///
/// Ids must be unique and unpredictable enough not to collide across hosts and
/// processes, not secret; wyrand passes BigCrush and costs a handful of instructions.
/// The stream is seeded from the operating system's generator the first time a thread
/// draws, and again in a child process after `fork()` (detected through a
/// `pthread_atfork` handler: one relaxed atomic load per id), so parent and child never
/// draw the same ids. Where this thread's locals are already gone (a thread-local
/// destructor), each id comes from the operating system directly. No other
/// thread-local is touched, so this never panics during teardown.
#[inline]
pub(crate) fn random_nonzero_u64() -> u64 {
    loop {
        let value = STREAM.try_with(Stream::next).unwrap_or_else(|_| os_u64());
        if value != 0 {
            return value;
        }
    }
}

/// Two random `u64`s that are never zero, for less than the price of two: a root
/// span's trace id and span id.
#[inline]
pub(crate) fn two_random_nonzero_u64() -> (u64, u64) {
    let (a, b) = STREAM
        .try_with(|stream| {
            let mut state = stream.state();
            let a = step(&mut state);
            let b = step(&mut state);
            stream.state.set(state);
            (a, b)
        })
        .unwrap_or_else(|_| (os_u64(), os_u64()));
    match (a, b) {
        (0, _) | (_, 0) => (random_nonzero_u64(), random_nonzero_u64()),
        pair => pair,
    }
}

/// One wyrand step.
#[inline]
fn step(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0xa076_1d64_78bd_642f);
    let t = u128::from(*state) * u128::from(*state ^ 0xe703_7ed1_a0b4_28db);
    (t >> 64) as u64 ^ t as u64
}

impl Stream {
    #[inline]
    fn next(&self) -> u64 {
        let mut state = self.state();
        let value = step(&mut state);
        self.state.set(state);
        value
    }

    /// The state to draw from: seeded on first use and after a fork.
    #[inline]
    fn state(&self) -> u64 {
        let state = self.state.get();
        if state == 0 || self.forked() {
            return self.seed();
        }
        state
    }

    /// Whether the process was forked since the stream was seeded.
    #[inline]
    fn forked(&self) -> bool {
        let mut forks = self.forks.take();
        let forked = forks.as_mut().is_some_and(forkguard::Guard::detected_fork);
        self.forks.set(forks);
        forked
    }

    /// Seeds the stream now. Out of line: it runs once per thread (and once after a
    /// fork), and keeps the system call off the path of every id.
    #[cold]
    #[inline(never)]
    fn seed(&self) -> u64 {
        // The fork detector first: a fork between the two leaves a seed that the next
        // draw replaces.
        self.forks.set(forkguard::Guard::try_new().ok());
        // Never 0, which stands for "not seeded".
        os_u64() | 1
    }
}

/// 64 bits from the operating system's generator. Should it fail (no entropy source at
/// all), the clock, a stack address and a process-wide counter are mixed instead: ids
/// must still come out, and still differ.
#[cold]
fn os_u64() -> u64 {
    if let Ok(value) = SysRng.try_next_u64() {
        return value;
    }
    use std::hash::{BuildHasher, Hash, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    std::time::SystemTime::now().hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    COUNTER.fetch_add(1, Ordering::Relaxed).hash(&mut hasher);
    (&hasher as *const _ as usize).hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_random_and_non_zero() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = random_nonzero_u64();
            assert_ne!(id, 0);
            assert!(seen.insert(id), "duplicate id {id}");
        }
        // Each bit is set in some id and clear in another: the generator covers 64 bits.
        let or = seen.iter().fold(0u64, |acc, id| acc | id);
        let and = seen.iter().fold(u64::MAX, |acc, id| acc & id);
        assert_eq!((or, and), (u64::MAX, 0));
    }

    #[test]
    fn pairs_are_random_non_zero_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5_000 {
            let (a, b) = two_random_nonzero_u64();
            assert!(a != 0 && b != 0);
            assert!(seen.insert(a) && seen.insert(b));
        }
    }

    #[test]
    fn threads_get_different_sequences() {
        let draw = || (0..4).map(|_| random_nonzero_u64()).collect::<Vec<_>>();
        let a = std::thread::spawn(draw);
        let b = std::thread::spawn(draw);
        assert_ne!(a.join().unwrap(), b.join().unwrap());
    }

    #[test]
    fn the_operating_system_source_differs_each_time() {
        assert_ne!(os_u64(), os_u64());
    }
}
