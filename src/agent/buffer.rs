//! The hand-off from the application's threads: each thread collects its finished spans
//! in a buffer of its own (an uncontended lock, no allocation) and hands them to the
//! background thread a batch at a time; the background thread also drains every
//! buffer each flush interval, so a thread that goes quiet never holds spans back.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::mpsc::SyncSender;

use super::pending::PendingSpan;
use super::shared::{Buffer, Message, Shared, THREAD_BATCH};
use crate::span_parts::EndedSpan;

/// This thread's buffer for the exporter it last exported to.
struct Local {
    shared: Arc<Shared>,
    queue: SyncSender<Message>,
    buffer: Arc<Buffer>,
}

thread_local! {
    static LOCAL: RefCell<Option<Local>> = const { RefCell::new(None) };
}

impl Local {
    fn new(shared: &Arc<Shared>, queue: &SyncSender<Message>) -> Local {
        let buffer = Arc::new(Buffer::default());
        shared.register(Arc::clone(&buffer));
        Local {
            shared: Arc::clone(shared),
            queue: queue.clone(),
            buffer,
        }
    }

    #[inline]
    fn push(&self, span: PendingSpan) {
        let mut spans = self.buffer.lock();
        spans.push(span);
        if spans.len() >= THREAD_BATCH {
            let full = std::mem::replace(&mut *spans, self.shared.empty_batch());
            drop(spans);
            send(&self.shared, &self.queue, full);
        }
    }

    /// Hands over whatever the buffer holds, leaving it a vector with room.
    fn hand_over(&self) {
        let mut spans = self.buffer.lock();
        if !spans.is_empty() {
            let full = std::mem::replace(&mut *spans, self.shared.empty_batch());
            drop(spans);
            send(&self.shared, &self.queue, full);
        }
    }
}

impl Drop for Local {
    /// The thread ends (or moves to another exporter): nothing stays behind.
    fn drop(&mut self) {
        self.hand_over();
    }
}

/// Puts `span` in this thread's buffer for the exporter that `shared` and `queue`
/// belong to, its parts moved from the span into the buffer.
#[inline]
pub(crate) fn export(shared: &Arc<Shared>, queue: &SyncSender<Message>, span: EndedSpan<'_>) {
    with_local(shared, queue, span, |local, span| local.push(span.into()));
}

/// Puts `span`, made elsewhere, in this thread's buffer.
#[cfg(test)]
pub(crate) fn export_pending(shared: &Arc<Shared>, queue: &SyncSender<Message>, span: PendingSpan) {
    with_local(shared, queue, span, |local, span| local.push(span));
}

/// Runs `push` with this thread's buffer for the exporter that `shared` and `queue`
/// belong to, or, where this thread's locals are gone (or busy, in a re-entrant call),
/// sends the span alone.
#[inline]
fn with_local<S: Into<PendingSpan>>(
    shared: &Arc<Shared>,
    queue: &SyncSender<Message>,
    span: S,
    push: impl FnOnce(&Local, S),
) {
    let mut span = Some(span);
    let _ = LOCAL.try_with(|cell| {
        let Ok(mut local) = cell.try_borrow_mut() else {
            return;
        };
        if !local
            .as_ref()
            .is_some_and(|l| Arc::ptr_eq(&l.shared, shared))
        {
            // Replacing an earlier exporter's buffer hands its spans over first.
            *local = Some(Local::new(shared, queue));
        }
        if let (Some(local), Some(span)) = (local.as_ref(), span.take()) {
            push(local, span);
        }
    });
    if let Some(span) = span {
        send(shared, queue, vec![span.into()]);
    }
}

/// Hands this thread's buffered spans for `shared`'s exporter over now, so that a flush
/// called from this thread includes them.
pub(crate) fn hand_over_local(shared: &Arc<Shared>) {
    let _ = LOCAL.try_with(|cell| {
        if let Ok(local) = cell.try_borrow() {
            if let Some(local) = local.as_ref().filter(|l| Arc::ptr_eq(&l.shared, shared)) {
                local.hand_over();
            }
        }
    });
}

/// Queues a batch for the background thread, or counts it as dropped when the queue is
/// full or the exporter stopped. Never blocks.
fn send(shared: &Shared, queue: &SyncSender<Message>, spans: Vec<PendingSpan>) {
    let count = spans.len() as u64;
    if shared.is_stopped() {
        return shared.count_dropped(count);
    }
    if let Err(mut spans) = shared.enqueue(spans, queue) {
        shared.count_dropped(count);
        // Kept for this thread's next batch: dropping under load allocates nothing.
        spans.clear();
        shared.recycle(spans);
    }
}
