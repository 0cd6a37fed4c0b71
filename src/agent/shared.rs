//! What the application's side and the background thread share: the threads' buffers
//! and the queue of handed-over batches, the wake-up messages, the counters, the flush
//! protocol, and the warnings.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::deadline;
use super::pending::PendingSpan;

/// How many spans a thread collects before it hands them over itself.
pub(crate) const THREAD_BATCH: usize = 64;

/// One thread's finished spans.
#[derive(Default)]
pub(crate) struct Buffer {
    spans: Mutex<Vec<PendingSpan>>,
}

impl Buffer {
    /// The spans, whatever a panic elsewhere left the lock in.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Vec<PendingSpan>> {
        lock(&self.spans)
    }
}

/// What wakes the background thread.
pub(crate) enum Message {
    /// Look at the queue and the flags: a batch is ready, a flush was requested, or the
    /// exporter stopped.
    Wake,
    /// Makes the background thread panic, to test what follows.
    #[cfg(test)]
    Panic,
}

pub(crate) struct Shared {
    pub(crate) address: String,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) failed: AtomicU64,
    /// Unsampled chunks left unsent because client-side stats count them.
    pub(crate) unsampled_chunks: AtomicU64,
    /// Set by `shutdown`, or when the background thread is gone: spans are dropped.
    pub(crate) stopped: AtomicBool,
    /// Whether the background thread runs.
    pub(crate) running: AtomicBool,
    /// Spans the background thread took (from the queue or a thread's buffer) and has
    /// not counted yet as sent, failed or dropped. Taken under the lock of where they
    /// were, and settled with one `swap`: by the thread when it knows their fate, or by
    /// a shutdown that gives up waiting for it, never both.
    holding: AtomicU64,
    flushes: Mutex<Flushes>,
    flushed: Condvar,
    last_warning: Mutex<Option<Instant>>,
    /// Batches threads handed over, for the background thread to take.
    ready: Mutex<VecDeque<Vec<PendingSpan>>>,
    /// Spans in `ready`; at most `capacity`.
    queued: AtomicUsize,
    capacity: usize,
    /// How many queued spans make a batch worth waking the background thread for.
    wake_at: usize,
    /// Every thread's buffer; the background thread drains them.
    buffers: Mutex<Vec<Arc<Buffer>>>,
    /// Emptied batches, for threads to fill again without allocating.
    pool: Mutex<Vec<Vec<PendingSpan>>>,
}

/// How many emptied batches are kept for reuse.
const POOL: usize = 64;

/// The spans the background thread holds, in the vectors threads handed over: encoded
/// where they are, not copied into one.
#[derive(Default)]
pub(crate) struct Held {
    batches: Vec<Vec<PendingSpan>>,
    len: usize,
}

impl Held {
    fn push(&mut self, spans: Vec<PendingSpan>) {
        self.len += spans.len();
        self.batches.push(spans);
    }

    /// How many spans are held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The spans, in the order they were handed over.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &PendingSpan> {
        self.batches.iter().flatten()
    }

    /// Drops the spans, keeping their vectors for threads to fill again.
    pub(crate) fn clear(&mut self, shared: &Shared) {
        for mut spans in self.batches.drain(..) {
            spans.clear();
            shared.recycle(spans);
        }
        self.len = 0;
    }
}

#[derive(Default)]
struct Flushes {
    requested: u64,
    done: u64,
}

impl Shared {
    pub(crate) fn new(address: String, capacity: usize, wake_at: usize) -> Shared {
        Shared {
            address,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            unsampled_chunks: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            running: AtomicBool::new(true),
            holding: AtomicU64::new(0),
            flushes: Mutex::new(Flushes::default()),
            flushed: Condvar::new(),
            last_warning: Mutex::new(None),
            ready: Mutex::new(VecDeque::new()),
            queued: AtomicUsize::new(0),
            capacity,
            wake_at,
            buffers: Mutex::new(Vec::new()),
            pool: Mutex::new(Vec::new()),
        }
    }

    /// Queues a batch for the background thread, waking it once a full batch is
    /// waiting; `Err` (the spans) when the queue is full. Never blocks on the background
    /// thread: the locks are held only to move a vector.
    pub(crate) fn enqueue(
        &self,
        spans: Vec<PendingSpan>,
        wake: &SyncSender<Message>,
    ) -> Result<(), Vec<PendingSpan>> {
        let count = spans.len();
        let before = self.queued.fetch_add(count, Ordering::AcqRel);
        if before.saturating_add(count) > self.capacity {
            self.queued.fetch_sub(count, Ordering::AcqRel);
            return Err(spans);
        }
        lock(&self.ready).push_back(spans);
        if before < self.wake_at && before + count >= self.wake_at {
            let _ = wake.try_send(Message::Wake);
        }
        Ok(())
    }

    /// Moves queued batches, oldest first, to `held` until it holds `limit` spans or the
    /// queue is empty. The queue's bound holds for what the background thread holds
    /// too: it takes at most a batch.
    pub(crate) fn take_ready(&self, held: &mut Held, limit: usize) {
        while held.len() < limit {
            let mut ready = lock(&self.ready);
            let Some(spans) = ready.pop_front() else {
                return;
            };
            self.holding.fetch_add(spans.len() as u64, Ordering::AcqRel);
            drop(ready);
            self.queued.fetch_sub(spans.len(), Ordering::AcqRel);
            held.push(spans);
        }
    }

    /// The spans the background thread holds and has not counted, now counted by the
    /// caller: the thread, when it knows their fate; 0 when a shutdown that gave up
    /// counted them already.
    pub(crate) fn settle(&self) -> u64 {
        self.holding.swap(0, Ordering::AcqRel)
    }

    /// A shutdown gave up waiting for the background thread (an agent that never
    /// answers): every span not yet counted (queued, in a thread's buffer, or held by
    /// the thread) is counted as dropped now, so that the counters are final, and the
    /// exporter no longer counts as running. Returns how many.
    pub(crate) fn abandon(&self) -> u64 {
        let mut lost = 0;
        for spans in lock(&self.ready).drain(..) {
            self.queued.fetch_sub(spans.len(), Ordering::AcqRel);
            lost += spans.len() as u64;
        }
        for buffer in lock(&self.buffers).iter() {
            let mut spans = buffer.lock();
            lost += spans.len() as u64;
            spans.clear();
        }
        lost += self.settle();
        self.count_dropped(lost);
        self.running.store(false, Ordering::SeqCst);
        lost
    }

    /// Whether a batch's worth of spans is queued.
    pub(crate) fn batch_waiting(&self) -> bool {
        self.queued.load(Ordering::Acquire) >= self.wake_at
    }

    /// Adds a thread's buffer to those the background thread drains.
    pub(crate) fn register(&self, buffer: Arc<Buffer>) {
        lock(&self.buffers).push(buffer);
    }

    /// Moves every thread's buffered spans to `held` (each buffer's vector, replaced by
    /// an empty one), and forgets the buffers of threads that are gone once they are
    /// empty.
    pub(crate) fn drain_buffers(&self, held: &mut Held) {
        lock(&self.buffers).retain(|buffer| {
            let mut spans = buffer.lock();
            if !spans.is_empty() {
                self.holding.fetch_add(spans.len() as u64, Ordering::AcqRel);
                held.push(std::mem::replace(&mut *spans, self.empty_batch()));
            }
            Arc::strong_count(buffer) > 1
        });
    }

    /// An empty batch with room for a thread's spans: a reused one when there is one.
    pub(crate) fn empty_batch(&self) -> Vec<PendingSpan> {
        lock(&self.pool)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(THREAD_BATCH))
    }

    /// Keeps an emptied batch for reuse.
    pub(crate) fn recycle(&self, batch: Vec<PendingSpan>) {
        debug_assert!(batch.is_empty());
        let mut pool = lock(&self.pool);
        if pool.len() < POOL && batch.capacity() >= THREAD_BATCH {
            pool.push(batch);
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(crate) fn count_dropped(&self, spans: u64) {
        self.dropped.fetch_add(spans, Ordering::Relaxed);
    }

    /// Asks the background thread to send everything queued up to now and waits, at
    /// most `timeout`, for it to say it has; `false` when it did not in time, when spans
    /// failed meanwhile, or when the exporter is stopped or its thread is gone.
    pub(crate) fn flush(&self, wake: &SyncSender<Message>, timeout: Duration) -> bool {
        if self.is_stopped() || !self.running.load(Ordering::SeqCst) {
            return false;
        }
        let deadline = deadline::after(Instant::now(), timeout);
        let failed_before = self.failed.load(Ordering::SeqCst);
        let Ok(mut flushes) = self.flushes.lock() else {
            return false;
        };
        flushes.requested += 1;
        let ticket = flushes.requested;
        // The thread notices the request at its next message or tick; nudge it.
        let _ = wake.try_send(Message::Wake);
        while flushes.done < ticket {
            if !self.running.load(Ordering::SeqCst) {
                return false;
            }
            let Some(left) = deadline::left(deadline) else {
                return false;
            };
            flushes = match self.flushed.wait_timeout(flushes, left) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        // Sent means accepted: spans given up on meanwhile make it a failure.
        self.failed.load(Ordering::SeqCst) == failed_before
    }

    /// The flush requests made so far, when some are not answered yet.
    pub(crate) fn pending_flush(&self) -> Option<u64> {
        match self.flushes.lock() {
            Ok(flushes) if flushes.requested > flushes.done => Some(flushes.requested),
            _ => None,
        }
    }

    /// Tells the waiting `flush` calls that the requests up to `ticket` are done.
    pub(crate) fn flushed(&self, ticket: u64) {
        if let Ok(mut flushes) = self.flushes.lock() {
            flushes.done = flushes.done.max(ticket);
        }
        self.flushed.notify_all();
    }

    /// Waits until the background thread has ended, at most until `deadline`; `true`
    /// when it has.
    pub(crate) fn wait_ended(&self, deadline: Instant) -> bool {
        let mut flushes = lock(&self.flushes);
        while self.running.load(Ordering::SeqCst) {
            let Some(left) = deadline::left(deadline) else {
                return false;
            };
            flushes = match self.flushed.wait_timeout(flushes, left) {
                Ok((guard, _)) => guard,
                Err(_) => return !self.running.load(Ordering::SeqCst),
            };
        }
        true
    }

    /// The background thread is gone: nothing will be sent any more. Wakes every
    /// waiting `flush`, which then returns `false`.
    pub(crate) fn thread_ended(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.running.store(false, Ordering::SeqCst);
        // Taking the lock orders this with a `flush` about to wait.
        drop(self.flushes.lock());
        self.flushed.notify_all();
    }

    /// One warning a minute at most.
    pub(crate) fn warn(&self, message: impl FnOnce() -> String) {
        let Ok(mut last) = self.last_warning.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
            *last = Some(Instant::now());
            crate::env::print_warning(message());
        }
    }
}

/// A lock, whatever a panic elsewhere left it in: the data are spans and counters.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
