//! Context that follows the work: futures that enter a span on every poll, closures and
//! threads that run inside the context they were made in.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::JoinHandle;

use crate::active;
use crate::context::DropScope;
use crate::span::Span;
use crate::span_context::SpanContext;

pin_project_lite::pin_project! {
    /// A future that runs inside a span: the span is current on whichever thread polls
    /// it, exactly while `poll` runs, and finishes when the future completes or is
    /// dropped. Dropped before it completes, it makes the span current while the inner
    /// future is dropped, so lines logged by the inner future's destructors belong to
    /// it (as with `tracing`'s `Instrumented`). Made by [`Instrument::in_span`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct Instrumented<F> {
        // Field order matters: the inner future is dropped inside the span (entered by
        // `drop` into `scope`), then the span is left, then it finishes.
        #[pin]
        inner: F,
        scope: DropScope,
        span: Option<Span>,
    }

    impl<F> PinnedDrop for Instrumented<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(span) = this.span.as_ref() {
                this.scope.enter(span.context());
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// A future that runs inside a captured [`SpanContext`] (or none): the context is
    /// current while `poll` runs, and while the inner future is dropped. Made by
    /// [`Instrument::in_context`] and [`Instrument::in_current_context`].
    #[must_use = "futures do nothing unless polled"]
    #[derive(Debug)]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        scope: DropScope,
        context: Option<SpanContext>,
    }

    impl<F> PinnedDrop for WithContext<F> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(context) = this.context.as_ref() {
                this.scope.enter(context);
            }
        }
    }
}

/// Runs futures inside spans. Implemented for every [`Future`].
///
/// A thread-local stack cannot follow a task that moves between worker threads at each
/// `.await`; these wrappers enter the span when the task is polled and leave it before
/// `poll` returns, so log lines inside carry the task's ids on any thread.
///
/// # Examples
///
/// ```
/// use spanlog::Instrument;
///
/// # let waker = std::task::Waker::noop();
/// # let mut cx = std::task::Context::from_waker(&waker);
/// let span = spanlog::start_span("fetch").resource("/posts").start();
/// let id = span.span_id();
/// let task = async move {
///     // `spanlog::current()` is the fetch span here, whichever thread polls the task.
///     spanlog::current().map(|c| c.span_id())
/// }
/// .in_span(span);
/// # let mut task = std::pin::pin!(task);
/// # assert_eq!(task.as_mut().poll(&mut cx), std::task::Poll::Ready(Some(id)));
/// ```
pub trait Instrument: Future + Sized {
    /// Runs this future inside `span`, which finishes when the future completes or is
    /// dropped.
    fn in_span(self, span: Span) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            scope: DropScope::default(),
            span: Some(span),
        }
    }

    /// Runs this future inside `context`, which it does not finish.
    fn in_context(self, context: SpanContext) -> WithContext<Self> {
        WithContext {
            inner: self,
            scope: DropScope::default(),
            context: Some(context),
        }
    }

    /// Runs this future inside the context that is current now, on this thread: call it
    /// where the task is created, before handing it to a runtime.
    fn in_current_context(self) -> WithContext<Self> {
        WithContext {
            inner: self,
            scope: DropScope::default(),
            context: active::current(),
        }
    }
}

impl<F: Future> Instrument for F {}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = {
            // Left on return and on unwind alike: a panicking poll leaves the stack as
            // it found it.
            let _entered = this.span.as_ref().map(Span::enter);
            this.inner.poll(cx)
        };
        if poll.is_ready() {
            // Finish now rather than when the wrapper is dropped.
            this.span.take();
        }
        poll
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _entered = this.context.as_ref().map(SpanContext::enter);
        this.inner.poll(cx)
    }
}

/// Wraps `f` so that it runs inside the context current now, wherever it is called:
/// hand the result to a thread pool, `std::thread::scope`, or a callback.
///
/// # Examples
///
/// ```
/// let request = spanlog::start_span("web.request").entered();
/// std::thread::scope(|scope| {
///     scope.spawn(spanlog::bind(|| {
///         let part = spanlog::start_span("worker").entered();
///         assert_eq!(part.trace_id(), request.trace_id());
///         assert_eq!(part.parent_id(), request.span_id());
///     }));
/// });
/// ```
pub fn bind<F: FnOnce() -> R, R>(f: F) -> impl FnOnce() -> R {
    let context = active::current();
    move || match context {
        Some(context) => context.in_scope(f),
        None => f(),
    }
}

/// [`std::thread::spawn`], with the new thread starting inside the context current on
/// the calling thread.
///
/// ```
/// let request = spanlog::start_span("web.request").entered();
/// let trace = spanlog::spawn(|| spanlog::current().map(|c| c.trace_id()))
///     .join()
///     .unwrap();
/// assert_eq!(trace, Some(request.trace_id()));
/// ```
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(bind(f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context;
    use crate::id::{SpanId, TraceId};
    use crate::start_span;
    use std::task::Waker;

    /// Ready after `n` pendings; records the current span id at each poll.
    struct Steps {
        left: u32,
        seen: Vec<Option<u64>>,
    }

    impl Future for Steps {
        type Output = Vec<Option<u64>>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let id = context::current().map(|c| c.span_id().to_u64());
            self.seen.push(id);
            if self.left == 0 {
                return Poll::Ready(std::mem::take(&mut self.seen));
            }
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            assert_eq!(context::depth(), 0, "nothing stays entered between polls");
        }
    }

    #[test]
    fn the_span_is_current_during_each_poll_only() {
        let span = start_span("task").start();
        let id = span.span_id().to_u64();
        let seen = block_on(
            Steps {
                left: 3,
                seen: vec![],
            }
            .in_span(span),
        );
        assert_eq!(seen, vec![Some(id); 4]);
    }

    #[test]
    fn in_current_context_captures_at_creation() {
        let outer = start_span("outer").entered();
        let id = outer.span_id().to_u64();
        let future = Steps {
            left: 1,
            seen: vec![],
        }
        .in_current_context();
        drop(outer);
        assert_eq!(block_on(future), vec![Some(id); 2]);
        let none = Steps {
            left: 0,
            seen: vec![],
        }
        .in_current_context();
        assert_eq!(block_on(none), vec![None]);
    }

    #[test]
    fn nested_instrumented_futures() {
        let outer = start_span("outer").start();
        let outer_id = outer.span_id();
        let result = block_on(
            async move {
                let inner = start_span("inner").start();
                assert_eq!(inner.parent_id(), outer_id);
                let inner_id = inner.span_id().to_u64();
                let seen = Steps {
                    left: 2,
                    seen: vec![],
                }
                .in_span(inner)
                .await;
                (inner_id, seen, context::current().map(|c| c.span_id()))
            }
            .in_span(outer),
        );
        assert_eq!(result.1, vec![Some(result.0); 3]);
        assert_eq!(
            result.2,
            Some(outer_id),
            "back in the outer span after the inner"
        );
    }

    #[test]
    fn a_panicking_poll_leaves_the_stack_as_it_was() {
        struct Boom;
        impl Future for Boom {
            type Output = ();
            fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
                let _deeper = start_span("deeper").entered();
                panic!("boom");
            }
        }
        let before = start_span("before").entered();
        let mut future = std::pin::pin!(Boom.in_span(start_span("task").start()));
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut cx = Context::from_waker(Waker::noop());
            let _ = future.as_mut().poll(&mut cx);
        }));
        assert!(caught.is_err());
        assert_eq!(context::depth(), 1);
        assert_eq!(
            context::current().map(|c| c.span_id()),
            Some(before.span_id())
        );
    }

    /// Records the span current when it is dropped.
    struct SeesDrop(std::sync::Arc<std::sync::Mutex<Option<Option<u64>>>>);

    impl Drop for SeesDrop {
        fn drop(&mut self) {
            let id = context::current().map(|c| c.span_id().to_u64());
            *self.0.lock().unwrap() = Some(id);
        }
    }

    #[test]
    fn a_future_dropped_before_it_completes_is_dropped_inside_its_span() {
        let outer = start_span("outer").entered();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let task = start_span("task").start();
        let task_id = task.span_id().to_u64();
        let probe = SeesDrop(seen.clone());
        let mut future = Box::pin(
            async move {
                let _probe = probe;
                std::future::pending::<()>().await;
            }
            .in_span(task),
        );
        let mut cx = Context::from_waker(Waker::noop());
        assert!(future.as_mut().poll(&mut cx).is_pending());
        drop(future);
        assert_eq!(*seen.lock().unwrap(), Some(Some(task_id)));
        assert_eq!(context::depth(), 1, "left again");
        assert_eq!(
            context::current().map(|c| c.span_id()),
            Some(outer.span_id())
        );

        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let probe = SeesDrop(seen.clone());
        let ctx = SpanContext::new(TraceId::from_parts(0, 5), SpanId::from_u64(6));
        drop(async move { drop(probe) }.in_context(ctx));
        assert_eq!(*seen.lock().unwrap(), Some(Some(6)));
        assert_eq!(context::depth(), 1);
    }

    #[test]
    fn bind_without_a_context_runs_plainly() {
        assert_eq!(bind(context::depth)(), 0);
    }
}
