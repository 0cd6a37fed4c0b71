//! What injection needs of a context, whatever the style.

use crate::context::{SpanContext, TraceMeta};

/// What injection needs of a context, with a local trace's defaults filled in.
pub(super) struct Trace<'a> {
    pub(super) context: &'a SpanContext,
    pub(super) sampling_priority: i32,
    pub(super) origin: Option<&'a str>,
    meta: Option<&'a TraceMeta>,
}

impl<'a> Trace<'a> {
    pub(super) fn new(context: &'a SpanContext) -> Self {
        let meta = context.trace.as_deref();
        Trace {
            context,
            sampling_priority: TraceMeta::priority(meta),
            origin: meta.and_then(|m| m.origin.as_deref()),
            meta,
        }
    }

    /// The propagated `_dd.p.*` tags, decision maker first. A trace whose sampling was
    /// decided here (no upstream decision) is kept by the default mechanism, `-0`.
    pub(super) fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        let tags = self.meta.map(|m| m.tags.as_slice()).unwrap_or_default();
        let decided_here = self.meta.is_none_or(|m| m.sampling_priority.is_none());
        let has_dm = tags.iter().any(|(k, _)| k == "_dd.p.dm");
        let local = (decided_here && !has_dm).then_some(("_dd.p.dm", "-0"));
        let dm = tags.iter().filter(|(k, _)| k == "_dd.p.dm");
        let rest = tags.iter().filter(|(k, _)| k != "_dd.p.dm");
        local
            .into_iter()
            .chain(dm.chain(rest).map(|(k, v)| (k.as_str(), v.as_str())))
    }

    pub(super) fn foreign_tracestate(&self) -> &'a [String] {
        self.meta
            .map(|m| m.foreign_tracestate.as_slice())
            .unwrap_or_default()
    }
}
