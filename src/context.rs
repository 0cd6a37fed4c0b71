//! The thread-local stack of active spans: entering a [`SpanContext`], its guards, and
//! the current span as log lines and new spans read it.

use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::num::NonZeroU64;

use crate::id::{SpanId, TraceId};
use crate::ids_text::IdsText;
use crate::span_context::SpanContext;

/// Entering a context: the stack's side of [`SpanContext`].
impl SpanContext {
    /// Makes this context current on this thread until the guard is dropped: log lines
    /// carry its ids and spans started meanwhile become its children. The span it names
    /// is not finished by the guard; that remains its owner's job.
    #[inline]
    pub fn enter(&self) -> ContextGuard {
        ContextGuard {
            token: push(self),
            _not_send: PhantomData,
        }
    }

    /// Runs `f` with this context current, then restores the previous one.
    ///
    /// ```
    /// let span = spanlog::start_span("job").start();
    /// let context = span.context().clone();
    /// let seen = context.in_scope(|| spanlog::current().map(|c| c.span_id()));
    /// assert_eq!(seen, Some(span.span_id()));
    /// assert_eq!(spanlog::current(), None);
    /// ```
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.enter();
        f()
    }
}

/// Keeps a context current on this thread; dropping it takes exactly that entry off the
/// stack, whatever was entered after it and is still active.
///
/// Guards are not `Send`: a context is entered and left on one thread. (They are `Sync`,
/// which lets other threads borrow an [`EnteredSpan`](crate::EnteredSpan) to read its
/// ids.)
///
/// ```compile_fail
/// fn send<T: Send>(_: T) {}
/// send(spanlog::start_span("x").entered()); // a guard cannot leave its thread
/// ```
#[must_use = "the context is current only while the guard lives; `let _ = ...` drops it at once"]
#[derive(Debug)]
pub struct ContextGuard {
    token: Option<Token>,
    _not_send: NotSend,
}

/// `!Send + Sync`, like a mutex guard.
type NotSend = PhantomData<std::sync::MutexGuard<'static, ()>>;

impl Drop for ContextGuard {
    #[inline]
    fn drop(&mut self) {
        if let Some(token) = self.token {
            pop(token);
        }
    }
}

/// Leaves, when dropped, a context that [`DropScope::enter`] entered. Unlike
/// [`ContextGuard`] it is `Send`, so that a future can hold one: it is empty except
/// while that future is being dropped, on the dropping thread, and it is dropped right
/// after, on that thread.
#[derive(Debug, Default)]
pub(crate) struct DropScope(Option<Token>);

impl DropScope {
    /// Enters `context`; this value leaves it when dropped.
    pub(crate) fn enter(&mut self, context: &SpanContext) {
        if self.0.is_none() {
            self.0 = push(context);
        }
    }
}

impl Drop for DropScope {
    fn drop(&mut self) {
        if let Some(token) = self.0.take() {
            pop(token);
        }
    }
}

/// The context on top of this thread's stack, if any. (The public
/// [`current`](crate::current) also looks at OpenTelemetry.) Written out rather than
/// through [`with_current`]: every span start reads it, and the generic form costs six
/// instructions more there.
#[inline]
pub(crate) fn current() -> Option<SpanContext> {
    STACK
        .try_with(|stack| {
            let stack = stack.try_borrow().ok()?;
            stack.frames.last().map(|frame| frame.context.clone())
        })
        .ok()
        .flatten()
}

/// `f` of the context on top of this thread's stack, without cloning it; `None`
/// outside any span (or while the stack is busy or gone).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&SpanContext) -> R) -> Option<R> {
    STACK
        .try_with(|stack| Some(f(&stack.try_borrow().ok()?.frames.last()?.context)))
        .ok()
        .flatten()
}

/// Runs `f` on the context on top of this thread's stack, then gives the other
/// frames of the same span its trace data; `None` outside any span (or while the
/// stack is busy or gone). `f` must not touch the stack.
pub(crate) fn with_current_mut<R>(f: impl FnOnce(&mut SpanContext) -> R) -> Option<R> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            let top = stack.frames.last_mut()?;
            let result = f(&mut top.context);
            let context = top.context.clone();
            share_trace_data(&mut stack.frames, &context);
            Some(result)
        })
        .ok()
        .flatten()
}

/// Gives every frame of `context`'s span on this thread's stack `context`'s trace
/// data: what a span does after its baggage changed, so that spans started from the
/// stack see the change.
pub(crate) fn refresh(context: &SpanContext) {
    let _ = STACK.try_with(|stack| {
        if let Ok(mut stack) = stack.try_borrow_mut() {
            share_trace_data(&mut stack.frames, context);
        }
    });
}

fn share_trace_data(frames: &mut [Frame], context: &SpanContext) {
    let same_span = |frame: &&mut Frame| {
        frame.context.span_id == context.span_id && frame.context.trace_id == context.trace_id
    };
    for frame in frames.iter_mut().filter(same_span) {
        frame.context.trace.clone_from(&context.trace);
    }
}

/// The trace and span ids on top of this thread's stack, without cloning the context.
#[inline]
pub(crate) fn current_ids() -> Option<(TraceId, SpanId)> {
    with_current(|context| (context.trace_id, context.span_id))
}

/// The span id on top of this thread's stack, without cloning the context.
#[cfg(feature = "opentelemetry")]
#[inline]
pub(crate) fn current_span_id() -> Option<SpanId> {
    with_current(|context| context.span_id)
}

/// How many spans or contexts are entered on this thread.
pub fn depth() -> usize {
    STACK
        .try_with(|stack| stack.try_borrow().map_or(0, |stack| stack.frames.len()))
        .unwrap_or(0)
}

/// The deepest the stack goes: entering more is a no-op (the outer span stays current),
/// which bounds memory when guards leak in a loop.
pub const MAX_DEPTH: usize = 1024;

/// Names a frame, so that its guard takes off exactly that frame. Non-zero, so that an
/// optional token is no bigger than a token.
type Token = NonZeroU64;

struct Frame {
    context: SpanContext,
    token: Token,
}

/// A frame's ids formatted for log lines, made on the first line logged in it. Kept
/// apart from the frames (one slot per depth, tagged with the frame's token) so that
/// entering and leaving move only small frames.
#[derive(Clone, Copy)]
struct CachedText {
    token: Token,
    text: IdsText,
    /// The ids the text was made of, apart from the span's own: a later span at the
    /// same depth with the same trace and parent (a sibling: the next query of a
    /// request, say) copies all but its span id from here.
    trace_id: TraceId,
    parent_id: SpanId,
}

struct Stack {
    frames: Vec<Frame>,
    texts: Vec<Option<CachedText>>,
    next_token: Token,
}

thread_local! {
    static STACK: RefCell<Stack> = const {
        RefCell::new(Stack { frames: Vec::new(), texts: Vec::new(), next_token: NonZeroU64::MIN })
    };
    /// How many frames `STACK` holds: a plain `Cell` with no destructor, the cheapest
    /// thread-local there is, so a line logged outside any span checks only this.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Whether no span is entered on this thread (or the stack is gone).
#[inline]
pub(crate) fn is_idle() -> bool {
    DEPTH.try_with(Cell::get).map_or(true, |depth| depth == 0)
}

/// Pushes a frame and returns the token that takes it off again; `None` when the stack
/// is unavailable (thread-locals torn down), busy, or full.
#[inline]
fn push(context: &SpanContext) -> Option<Token> {
    STACK
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            if stack.frames.len() >= MAX_DEPTH {
                return None;
            }
            let token = stack.next_token;
            stack.next_token = token.saturating_add(1);
            stack.frames.push(Frame {
                context: context.clone(),
                token,
            });
            let _ = DEPTH.try_with(|depth| depth.set(stack.frames.len()));
            Some(token)
        })
        .ok()
        .flatten()
}

/// Removes the frame `token` names, wherever it is in the stack.
#[inline]
fn pop(token: Token) {
    let _ = STACK.try_with(|stack| {
        let Ok(mut stack) = stack.try_borrow_mut() else {
            return;
        };
        // Almost always the top.
        let top = stack.frames.len().wrapping_sub(1);
        if stack
            .frames
            .get(top)
            .is_some_and(|frame| frame.token == token)
        {
            stack.frames.truncate(top);
        } else {
            remove(&mut stack.frames, token);
        }
        let _ = DEPTH.try_with(|depth| depth.set(stack.frames.len()));
    });
}

/// Removes a frame below the top: its guard was dropped out of order.
#[cold]
#[inline(never)]
fn remove(frames: &mut Vec<Frame>, token: Token) {
    match frames.iter().rposition(|frame| frame.token == token) {
        Some(index) => {
            frames.remove(index);
        }
        None => debug_assert!(false, "spanlog: popped a frame that is not on the stack"),
    }
}

/// Copies the current span's ids, as log text, into `out` and returns `true`; returns
/// `false` and leaves `out` alone outside any span. The text is formatted on the first
/// line logged in that span and cached. The borrow ends before this returns, so callers
/// may run user code with the copy.
#[inline]
pub(crate) fn copy_current_ids_text(wide_logging: bool, out: &mut IdsText) -> bool {
    STACK
        .try_with(|stack| {
            let Ok(mut stack) = stack.try_borrow_mut() else {
                return false;
            };
            let stack = &mut *stack;
            let Some(frame) = stack.frames.last() else {
                return false;
            };
            let depth = stack.frames.len() - 1;
            if let Some(Some(cached)) = stack.texts.get(depth) {
                if cached.token == frame.token && cached.text.wide_logging() == wide_logging {
                    *out = cached.text;
                    return true;
                }
            }
            *out = format_ids(stack, depth, wide_logging);
            let token = frame.token;
            if stack.texts.len() <= depth {
                // Grows once per new depth a thread logs at; then reused.
                stack.texts.resize(depth.max(15) + 1, None);
            }
            let (trace_id, parent_id) = (frame.context.trace_id, frame.context.parent_id);
            stack.texts[depth] = Some(CachedText {
                token,
                text: *out,
                trace_id,
                parent_id,
            });
            true
        })
        .unwrap_or(false)
}

/// The text of the frame at `depth`, the first time a line is logged in it. Only the
/// new span id is formatted, the rest copied, when a span of the same trace logged
/// before: the frame below, when it is this span's parent (then the trace and parent
/// digits are copied from its text); else the last span that logged at this depth,
/// when it had the same parent (a sibling: everything but the span id is the same).
#[cold]
#[inline(never)]
fn format_ids(stack: &Stack, depth: usize, wide_logging: bool) -> IdsText {
    let c = &stack.frames[depth].context;
    let below = depth.checked_sub(1).and_then(|d| {
        let frame = stack.frames.get(d)?;
        let cached = stack.texts.get(d)?.as_ref()?;
        let is_parent =
            frame.context.span_id == c.parent_id && frame.context.trace_id == c.trace_id;
        (cached.token == frame.token && cached.text.wide_logging() == wide_logging && is_parent)
            .then_some(&cached.text)
    });
    if let Some(parent) = below {
        return IdsText::child_of(parent, c.span_id);
    }
    let sibling = stack
        .texts
        .get(depth)
        .and_then(Option::as_ref)
        .filter(|cached| {
            cached.trace_id == c.trace_id
                && cached.parent_id == c.parent_id
                && cached.text.wide_logging() == wide_logging
        });
    match sibling {
        Some(sibling) => IdsText::sibling_of(&sibling.text, c.span_id),
        None => IdsText::new(c.trace_id, c.span_id, c.parent_id, wide_logging),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(n: u64) -> SpanContext {
        SpanContext::new(TraceId::from_parts(0, n), SpanId::from_u64(n))
    }

    fn current_span() -> Option<u64> {
        current().map(|c| c.span_id().to_u64())
    }

    #[test]
    fn guards_dropped_out_of_order_leave_the_right_context_current() {
        let a = context(1).enter();
        let b = context(2).enter();
        let c = context(3).enter();
        drop(b);
        assert_eq!(current_span(), Some(3));
        drop(c);
        assert_eq!(current_span(), Some(1));
        drop(a);
        assert_eq!(current_span(), None);
        assert_eq!(depth(), 0);
    }

    #[test]
    fn the_same_context_entered_twice_is_left_twice() {
        let ctx = context(7);
        let outer = ctx.enter();
        let inner = ctx.enter();
        assert_eq!(depth(), 2);
        drop(outer);
        assert_eq!(current_span(), Some(7));
        drop(inner);
        assert_eq!(depth(), 0);
    }

    #[test]
    fn the_stack_is_bounded() {
        let ctx = context(9);
        let guards: Vec<_> = (0..MAX_DEPTH + 10).map(|_| ctx.enter()).collect();
        assert_eq!(depth(), MAX_DEPTH);
        drop(guards);
        assert_eq!(depth(), 0);
    }

    #[test]
    fn cached_text_follows_the_logging_switch() {
        let text = |wide| {
            let mut out = IdsText::empty();
            copy_current_ids_text(wide, &mut out).then_some(out)
        };
        assert_eq!(text(true), None);
        let ctx = SpanContext::new(TraceId::from_parts(5, 6), SpanId::from_u64(7));
        let _g = ctx.enter();
        let wide = text(true).unwrap();
        let narrow = text(false).unwrap();
        assert_ne!(wide, narrow);
        assert_eq!(text(true), Some(wide));
        assert_eq!(
            wide,
            IdsText::new(
                TraceId::from_parts(5, 6),
                SpanId::from_u64(7),
                SpanId::ZERO,
                true
            )
        );
    }

    /// The text each span's first line gets, whatever was cached before it: its parent's
    /// text, a sibling's, one of another parent or trace at the same depth, or none.
    #[test]
    fn first_lines_copy_from_parents_and_siblings_only_when_they_match() {
        let text = |wide| {
            let mut out = IdsText::empty();
            assert!(copy_current_ids_text(wide, &mut out));
            out
        };
        let expect = |c: &SpanContext, wide| IdsText::new(c.trace_id, c.span_id, c.parent_id, wide);
        let trace = TraceId::from_parts(0x6b04_d2e8, 0xe6a5_cefc_6c3c_ef4e);
        let root = SpanContext::new(trace, SpanId::from_u64(1));
        let child = |parent: &SpanContext, id: u64| SpanContext {
            span_id: SpanId::from_u64(id),
            parent_id: parent.span_id,
            ..parent.clone()
        };
        for wide in [true, false] {
            let _root = root.enter();
            // Siblings under a root that never logs, then under one that does.
            for id in [10, 11, u64::MAX, 12] {
                let c = child(&root, id);
                let _g = c.enter();
                assert_eq!(text(wide), expect(&c, wide), "{id}");
            }
            assert_eq!(text(wide), expect(&root, wide));
            let c = child(&root, 13);
            let g = c.enter();
            assert_eq!(text(wide), expect(&c, wide));
            // A grandchild, then a span at its depth with another parent, of another
            // trace, and after a change of the trace id's width.
            let grandchild = child(&c, 20);
            let g2 = grandchild.enter();
            assert_eq!(text(wide), expect(&grandchild, wide));
            drop(g2);
            drop(g);
            let other_parent = child(&root, 14);
            let _g = other_parent.enter();
            let cousin = child(&other_parent, 21);
            let g3 = cousin.enter();
            assert_eq!(text(wide), expect(&cousin, wide));
            drop(g3);
            let stranger = SpanContext {
                trace_id: TraceId::from_parts(1, 2),
                ..cousin.clone()
            };
            let g4 = stranger.enter();
            assert_eq!(text(wide), expect(&stranger, wide));
            drop(g4);
            let again = child(&other_parent, 22);
            let _g5 = again.enter();
            assert_eq!(text(!wide), expect(&again, !wide));
            assert_eq!(text(wide), expect(&again, wide));
        }
    }
}
