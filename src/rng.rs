//! Random 64-bit ids: a fast per-thread stream, seeded from the operating system,
//! reseeded in a forked child, and usable while thread-locals are torn down.

use std::cell::Cell;

use rand::TryRng;
use rand::rngs::SysRng;

/// One thread's generator: a wyrand stream (a 64-bit counter mixed by one
/// multiplication) and the fork detector that tells when the process was forked since
/// it was seeded.
struct Stream {
    state: u64,
    /// `None` when the process could not register a fork handler: the stream is then
    /// never reseeded.
    forks: Option<forkguard::Guard>,
}

thread_local! {
    /// No destructor: the cheapest thread-local there is. `try_with` may still fail
    /// late in a thread's teardown, which [`random_nonzero_u64`] handles.
    static STREAM: Cell<Option<Stream>> = const { Cell::new(None) };
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
        let value = STREAM
            .try_with(|cell| {
                let mut stream = match cell.take() {
                    Some(mut stream) => match stream.forked() {
                        false => stream,
                        true => Stream::seeded(),
                    },
                    None => Stream::seeded(),
                };
                let value = stream.next();
                cell.set(Some(stream));
                value
            })
            .unwrap_or_else(|_| os_u64());
        if value != 0 {
            return value;
        }
    }
}

impl Stream {
    /// A stream seeded now. Out of line: it runs once per thread (and once after a
    /// fork), and keeps the system call off the path of every id.
    #[cold]
    #[inline(never)]
    fn seeded() -> Stream {
        // The fork detector first: a fork between the two leaves a seed that the next
        // draw replaces.
        let forks = forkguard::Guard::try_new().ok();
        Stream {
            state: os_u64(),
            forks,
        }
    }

    #[inline]
    fn forked(&mut self) -> bool {
        self.forks
            .as_mut()
            .is_some_and(forkguard::Guard::detected_fork)
    }

    #[inline]
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = u128::from(self.state) * u128::from(self.state ^ 0xe703_7ed1_a0b4_28db);
        (t >> 64) as u64 ^ t as u64
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
