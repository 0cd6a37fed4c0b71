//! What injection needs of a context, whatever the style.

use crate::sampling;
use crate::span_context::{SpanContext, TraceMeta};

/// What injection needs of a context, with the trace's sampling decision made.
pub(super) struct Trace<'a> {
    pub(super) context: &'a SpanContext,
    pub(super) sampling_priority: i32,
    pub(super) origin: Option<&'a str>,
    /// The decision maker of a decision made in this process (by the sampler or by
    /// hand); `None` when the upstream decision stands.
    local_decision_maker: Option<&'static str>,
    meta: Option<&'a TraceMeta>,
}

impl<'a> Trace<'a> {
    pub(super) fn new(context: &'a SpanContext) -> Self {
        let meta = context.trace.as_deref();
        let decision = sampling::decide_for_inject(context);
        Trace {
            context,
            sampling_priority: decision.map_or(context.sampling_priority(), |d| d.priority),
            origin: meta.and_then(|m| m.origin.as_deref()),
            local_decision_maker: decision.map(|d| d.mechanism.decision_maker()),
            meta,
        }
    }

    /// The propagated `_dd.p.*` tags, decision maker first. The decision maker travels
    /// only with a kept trace: this process's when it decided, else upstream's.
    pub(super) fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let tags = self.meta.map(|m| m.tags.as_slice()).unwrap_or_default();
        let kept = self.sampling_priority > 0;
        let local = self
            .local_decision_maker
            .filter(|_| kept)
            .map(|dm| ("_dd.p.dm", dm));
        let upstream = kept && self.local_decision_maker.is_none();
        let dm = tags
            .iter()
            .filter(move |(k, _)| upstream && k == "_dd.p.dm");
        let rest = tags.iter().filter(|(k, _)| k != "_dd.p.dm");
        local
            .into_iter()
            .chain(dm.chain(rest).map(|(k, v)| (k.as_str(), v.as_str())))
    }

    /// W3C's `random` flag, as it arrived with the trace.
    pub(super) fn random_flag(&self) -> bool {
        self.meta.is_some_and(|m| m.random_flag)
    }

    pub(super) fn foreign_tracestate(&self) -> &'a [String] {
        self.meta
            .map(|m| m.foreign_tracestate.as_slice())
            .unwrap_or_default()
    }
}
