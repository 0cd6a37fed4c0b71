//! Finished spans grouped into trace chunks, in O(n) with buffers reused from batch to
//! batch: no per-batch allocation once warm, no SipHash.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;

use super::pending::PendingSpan;
use crate::id::SpreadHasher;
use crate::sampling::{self, Decision, RootInfo};

type IdBuild = BuildHasherDefault<SpreadHasher>;

/// One trace chunk: `len` spans from `start` in [`Chunks::order`], its root first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Chunk {
    pub(crate) start: usize,
    pub(crate) len: usize,
}

/// The chunks of one batch: span indices in chunk order, and where each chunk is.
#[derive(Default)]
pub(crate) struct Chunks {
    /// Indices into the batch, chunk after chunk; each chunk's root first, then its
    /// other spans in the order they finished.
    pub(crate) order: Vec<usize>,
    pub(crate) chunks: Vec<Chunk>,
    /// The chunk of each trace (by its full 128-bit id), while grouping.
    index: HashMap<(u64, u64), usize, IdBuild>,
    /// The span ids of a large chunk without its local root, to find its root.
    ids: HashSet<u64, IdBuild>,
    /// The chunk of each span of the batch, while grouping.
    chunk_of: Vec<usize>,
    /// The next free slot of each chunk in `order`, while grouping.
    fill: Vec<usize>,
    /// The batch index of each chunk's local root, if it holds one, while grouping:
    /// noted as the span is read for its trace id, so that finding the root later
    /// reads indices, not the spans again.
    local_roots: Vec<Option<usize>>,
    /// The sampling decision of each chunk made here (`None`: upstream's stands), once
    /// [`Chunks::decide`] ran.
    pub(crate) decisions: Vec<Option<Decision>>,
    /// Whether each span of the batch (by batch index) is top-level, as Datadog
    /// defines it: its chunk's root, a local root, or a span of another service than
    /// its parent's. Set by [`Chunks::group`].
    pub(crate) top_level: Vec<bool>,
}

impl Chunks {
    /// Groups `batch`: spans of one trace together, in the order they finished, except
    /// that each chunk's root goes first (the trace's first span in this process when
    /// the chunk holds it, else the first span whose parent is not in the chunk): it
    /// carries the trace-level tags, and the agent reads the sampling priority from it.
    /// Chunks come in the order their first span finished.
    pub(crate) fn group(&mut self, batch: &[&PendingSpan]) {
        self.order.clear();
        self.chunks.clear();
        self.index.clear();
        self.chunk_of.clear();
        self.local_roots.clear();
        // Spans of a trace mostly come one after another (a thread's batch): the last
        // span's chunk is checked before the map.
        let mut last: Option<((u64, u64), usize)> = None;
        for (i, span) in batch.iter().enumerate() {
            let context = span.context();
            let trace = context.trace_id();
            let key = (trace.high(), trace.low());
            let chunk = match last {
                Some((last_key, chunk)) if last_key == key => chunk,
                _ => {
                    let next = self.chunks.len();
                    let chunk = *self.index.entry(key).or_insert(next);
                    if chunk == next {
                        self.chunks.push(Chunk { start: 0, len: 0 });
                        self.local_roots.push(None);
                    }
                    chunk
                }
            };
            last = Some((key, chunk));
            if context.is_local_root() {
                self.local_roots[chunk].get_or_insert(i);
            }
            self.chunks[chunk].len += 1;
            self.chunk_of.push(chunk);
        }
        // Counting sort by chunk, stable: each chunk's spans in the order they finished.
        let mut start = 0;
        for chunk in &mut self.chunks {
            chunk.start = start;
            start += chunk.len;
        }
        self.order.resize(batch.len(), 0);
        self.fill.clear();
        self.fill.extend(self.chunks.iter().map(|c| c.start));
        for (i, &chunk) in self.chunk_of.iter().enumerate() {
            self.order[self.fill[chunk]] = i;
            self.fill[chunk] += 1;
        }
        // Each chunk's root to the front, the others keeping their order: its local
        // root when it holds one (the usual case: no look-up), else the first span whose
        // parent is not in the chunk (a chunk sent ahead of its root, or a trace split
        // between batches).
        let Chunks {
            order,
            chunks,
            ids,
            local_roots,
            ..
        } = self;
        for (chunk, local_root) in chunks.iter().zip(local_roots.iter()) {
            let spans = &mut order[chunk.start..chunk.start + chunk.len];
            let root = match local_root {
                Some(root) => spans.iter().position(|i| i == root),
                None => first_orphan(batch, spans, ids),
            };
            if let Some(root) = root {
                spans[..=root].rotate_right(1);
            }
        }
        self.mark_top_level(batch);
    }

    /// Keeps the chunks `keep` says yes to (by chunk index, in order), with their
    /// decisions; the spans of the others stay in [`Chunks::order`], unreferenced.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(usize) -> bool) {
        let mut index = 0;
        let mut decisions = self.decisions.iter();
        let mut kept = Vec::with_capacity(self.decisions.len());
        self.chunks.retain(|_| {
            let decision = decisions.next().copied().flatten();
            let yes = keep(index);
            index += 1;
            if yes {
                kept.push(decision);
            }
            yes
        });
        self.decisions = kept;
    }

    /// Fills [`Chunks::top_level`]. A span's service is its own or the configured one,
    /// so only chunks where a span has its own service need the parents' services.
    fn mark_top_level(&mut self, batch: &[&PendingSpan]) {
        self.top_level.clear();
        self.top_level.resize(batch.len(), false);
        let mut services: HashMap<u64, Option<&str>, IdBuild> = HashMap::default();
        for chunk in &self.chunks {
            let spans = &self.order[chunk.start..chunk.start + chunk.len];
            if let Some(&root) = spans.first() {
                self.top_level[root] = true;
            }
            let own_services = spans.iter().any(|&i| batch[i].service().is_some());
            if own_services {
                services.clear();
                services.extend(
                    spans
                        .iter()
                        .map(|&i| (batch[i].context().span_id().to_u64(), batch[i].service())),
                );
            }
            for &i in spans {
                let context = batch[i].context();
                self.top_level[i] |= context.is_local_root()
                    || own_services
                        && services
                            .get(&context.parent_id().to_u64())
                            .is_some_and(|parent| *parent != batch[i].service());
            }
        }
    }

    /// The batch indices of each chunk, root first.
    /// Decides each chunk's sampling from its trace's local root span when the chunk
    /// holds it (else from its first span, recording the decision for the rest of the
    /// trace): see [`crate::sampling`]. After [`Chunks::group`], which puts a chunk's
    /// local root first when it holds one.
    pub(crate) fn decide(&mut self, batch: &[&PendingSpan], service: &str, env: &str) {
        self.decisions.clear();
        for c in &self.chunks {
            let root = batch[self.order[c.start]];
            let holds_local_root = root.context().is_local_root();
            let info = RootInfo {
                trace_id: root.context().trace_id(),
                service: root.service().unwrap_or(service),
                env,
                name: Some(root.name()),
                resource: Some(root.resource()),
                tags: Some(root.meta()),
                metrics: root.metrics(),
            };
            let decision = sampling::decide_for_export(root.context(), &info, holds_local_root);
            self.decisions.push(decision);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[usize]> {
        self.chunks
            .iter()
            .map(|c| &self.order[c.start..c.start + c.len])
    }
}

/// The first of `spans` (indices into `batch`, one trace's) whose parent is not among
/// them: by comparing ids for a small chunk, through `ids` for a large one (O(n)).
fn first_orphan(
    batch: &[&PendingSpan],
    spans: &[usize],
    ids: &mut HashSet<u64, IdBuild>,
) -> Option<usize> {
    let id = |i: usize| batch[i].context().span_id().to_u64();
    let parent = |i: usize| batch[i].context().parent_id().to_u64();
    if spans.len() <= 32 {
        return spans
            .iter()
            .position(|&i| !spans.iter().any(|&j| id(j) == parent(i)));
    }
    ids.clear();
    ids.extend(spans.iter().map(|&i| id(i)));
    spans.iter().position(|&i| !ids.contains(&parent(i)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::pending::testing::finished;
    use crate::export::FinishedSpan;

    fn ids(batch: &[FinishedSpan]) -> Vec<Vec<u64>> {
        let pending = crate::agent::pending::testing::pending(batch);
        let batch: Vec<&PendingSpan> = pending.iter().collect();
        let mut chunks = Chunks::default();
        chunks.group(&batch);
        chunks
            .iter()
            .map(|c| {
                c.iter()
                    .map(|&i| batch[i].context().span_id().to_u64())
                    .collect()
            })
            .collect()
    }

    /// Top-level as Datadog defines it: the chunk's root, a local root (a remote
    /// parent), and a span of another service than its parent's.
    #[test]
    fn top_level_spans_are_marked() {
        let mut remote_child = finished(2, 20, 99);
        remote_child.context.parent_remote = true;
        let mut db = finished(1, 3, 2);
        db.service = Some("db".into());
        let under_db = finished(1, 4, 3);
        let batch = [
            finished(1, 1, 0),
            finished(1, 2, 1),
            db,
            under_db,
            remote_child,
            finished(2, 21, 20),
            // A chunk sent ahead of its root: its first orphan leads it.
            finished(3, 31, 30),
        ];
        let pending = crate::agent::pending::testing::pending(&batch);
        let refs: Vec<&PendingSpan> = pending.iter().collect();
        let mut chunks = Chunks::default();
        chunks.group(&refs);
        let top: Vec<(u64, bool)> = refs
            .iter()
            .zip(&chunks.top_level)
            .map(|(s, &t)| (s.context().span_id().to_u64(), t))
            .collect();
        assert_eq!(
            top,
            [
                (1, true),
                (2, false),
                (3, true),
                (4, true),
                (20, true),
                (21, false),
                (31, true)
            ]
        );
    }

    #[test]
    fn spans_are_grouped_by_trace_in_order_with_roots_first() {
        let span = |trace, id| finished(trace, id, 0);
        let batch = [
            finished(1, 1, 9),
            span(2, 2),
            finished(1, 3, 1),
            finished(1, 4, 3),
            finished(3, 5, 6),
        ];
        assert_eq!(ids(&batch), [vec![1, 3, 4], vec![2], vec![5]]);
        // A child finished before its parent: the parent leads the chunk.
        let batch = [finished(1, 3, 1), finished(1, 4, 3), span(1, 1)];
        assert_eq!(ids(&batch), [vec![1, 3, 4]]);
        // A span whose parent left in an earlier batch, then the trace's local root: the
        // local root leads.
        let batch = [finished(1, 5, 4), span(1, 1)];
        assert_eq!(ids(&batch), [vec![1, 5]]);
        // The same span id in two traces does not make a parent.
        let batch = [finished(7, 5, 0), finished(8, 6, 5), finished(8, 7, 6)];
        assert_eq!(ids(&batch), [vec![5], vec![6, 7]]);
    }

    #[test]
    fn a_large_trace_keeps_every_span_once() {
        let mut batch = vec![finished(1, 1, 0)];
        for id in 2..10_000u64 {
            batch.push(finished(1, id, id / 2));
        }
        batch.reverse();
        let chunks = ids(&batch);
        assert_eq!(chunks.len(), 1);
        assert_eq!(chunks[0][0], 1, "the root leads");
        let mut all = chunks[0].clone();
        all.sort_unstable();
        assert_eq!(all, (1..10_000).collect::<Vec<_>>());

        // Without its root (sent earlier): the first span whose parent is not in the
        // chunk leads, small chunk or large.
        for len in [10u64, 1_000] {
            let mut batch: Vec<FinishedSpan> = (2..len).map(|id| finished(1, id, id / 2)).collect();
            batch.reverse();
            let first_orphan = batch
                .iter()
                .map(|s| s.context.span_id().to_u64())
                .find(|&id| id / 2 == 1)
                .unwrap();
            let chunks = ids(&batch);
            assert_eq!(chunks[0][0], first_orphan, "{len} spans");
            assert_eq!(chunks[0].len() as u64, len - 2);
        }
    }
}
