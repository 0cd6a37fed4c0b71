//! What the application's side and the background thread share: the queue's messages,
//! the counters, the flush protocol, and the warnings.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use super::deadline;
use crate::export::FinishedSpan;

/// What goes through the queue.
pub(crate) enum Message {
    Span(Box<FinishedSpan>),
    /// Look at the flags: a flush was requested, or the exporter stopped.
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
    /// Set by `shutdown`, or when the background thread is gone: spans are dropped.
    pub(crate) stopped: AtomicBool,
    /// Whether the background thread runs.
    pub(crate) running: AtomicBool,
    flushes: Mutex<Flushes>,
    flushed: Condvar,
    last_warning: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct Flushes {
    requested: u64,
    done: u64,
}

impl Shared {
    pub(crate) fn new(address: String) -> Shared {
        Shared {
            address,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            running: AtomicBool::new(true),
            flushes: Mutex::new(Flushes::default()),
            flushed: Condvar::new(),
            last_warning: Mutex::new(None),
        }
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    pub(crate) fn count_dropped(&self, spans: u64) {
        self.dropped.fetch_add(spans, Ordering::Relaxed);
    }

    /// Asks the background thread to send everything queued up to now and waits, at
    /// most `timeout`, for it to say it has; `false` when it did not in time, or when
    /// the exporter is stopped or its thread is gone.
    pub(crate) fn flush(&self, wake: &SyncSender<Message>, timeout: Duration) -> bool {
        if self.is_stopped() || !self.running.load(Ordering::SeqCst) {
            return false;
        }
        let deadline = deadline::after(Instant::now(), timeout);
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
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            flushes = match self.flushed.wait_timeout(flushes, left) {
                Ok((guard, _)) => guard,
                Err(_) => return false,
            };
        }
        true
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
