//! Head sampling, decided the way Datadog's tracers decide, so that every service in a
//! trace agrees and Datadog's ingestion controls work.
//!
//! Each trace that starts here (or arrives without a decision) is decided once, by the
//! first of these that applies:
//!
//! 1. **Rules** (`DD_TRACE_SAMPLING_RULES`, then `DD_TRACE_SAMPLE_RATE` as a rule that
//!    matches everything; or [`Sampler::rule`]): the first rule whose `service`, `name`,
//!    `resource` and `tags` glob patterns match the trace's local root span keeps the
//!    trace with its `sample_rate`. A kept trace then passes a rate limiter
//!    (`DD_TRACE_RATE_LIMIT`, default 100 traces a second; a rule's own
//!    `max_per_second` instead, when given). Priority 2 (user keep) or -1 (user
//!    reject), decision maker `-3`, `_dd.rule_psr` and `_dd.limit_psr` on the root.
//! 2. **The Agent's rates**: the rate the Datadog Agent sends back for
//!    `service:<service>,env:<env>` (or its default, `service:,env:`). Priority 1 or 0,
//!    decision maker `-1`, `_dd.agent_psr`.
//! 3. Otherwise the trace is kept: priority 1, decision maker `-0`.
//!
//! The decision is a function of the trace id: `(low 64 bits × 1111111111111111111)
//! mod 2^64 ≤ rate × (2^64 − 1)` ([`sampled`]), so dd-trace-py, dd-trace-go and
//! spanlog agree for the same trace id and rate.
//!
//! # When
//!
//! - A decision that came with the trace (Datadog or W3C headers) is kept, never made
//!   again.
//! - Otherwise the decision is made once, by whichever comes first: the first inject
//!   of the trace's context into outgoing headers, the sending of a part of the trace
//!   ahead of its local root (a long request whose children finish first), or the
//!   sending of the local root. Each decides from the local root span as it is at that
//!   moment (its name, service, resource and tags), as Datadog's tracers decide on the
//!   root span object whether or not it has finished: a rule can match a resource set
//!   during the request, and the request that calls another service gets the decision
//!   it would get without the call. (When the sampler has rules that read the root,
//!   each local root is registered as it starts, at the cost of copying what the rules
//!   read as it changes; child spans never pay for it. A context entered by hand
//!   whose root is not a span of this process is decided at inject time from the
//!   service alone: rules that test the rest are skipped then.)
//! - The decision stands for the whole trace: a span that finishes after its local
//!   root was sent goes out with the root's priority and decision maker (the last
//!   4,096 traces of each of 16 shards are remembered for that).
//! - A trace kept or dropped by hand ([`keep`], [`reject`]: priority 2 or -1, decision
//!   maker `-4`) stays so, whatever came before, and the next services learn it.
//!
//! Dropped traces are still sent to the Agent, with their priority: its trace metrics
//! and its error sampler need every trace. The decision only tells Datadog which
//! traces to keep.
//!
//! ```
//! use spanlog::sampling::{Sampler, SamplingRule};
//!
//! // Keep 10% of the traces of /health, 100% of the rest, at most 50 a second.
//! Sampler::new()
//!     .rule(SamplingRule::new(0.1).resource("GET /health"))
//!     .rule(SamplingRule::new(1.0))
//!     .rate_limit(50.0)
//!     .set_global()
//!     .expect("set before the first span starts");
//! ```

mod decisions;
mod glob;
mod limiter;
pub(crate) mod roots;
mod rule;
mod sampler;

pub use self::rule::SamplingRule;
pub use self::sampler::Sampler;
use crate::annotations::Text;
use crate::config;
use crate::id::TraceId;
use crate::span_context::SpanContext;

/// Datadog's sampling hash: whether the trace `trace_id` is kept at `rate` (0 to 1).
///
/// ```
/// use spanlog::TraceId;
/// use spanlog::sampling::sampled;
///
/// let id = TraceId::from_parts(0, 7);
/// assert!(sampled(id, 1.0));
/// assert!(!sampled(id, 0.0));
/// ```
pub fn sampled(trace_id: TraceId, rate: f64) -> bool {
    const KNUTH: u64 = 1_111_111_111_111_111_111;
    let hash = trace_id.low().wrapping_mul(KNUTH);
    // dd-trace-py compares the integer with the float `rate * (2^64 - 1)` exactly.
    let threshold = rate * u64::MAX as f64;
    if threshold >= 18_446_744_073_709_551_616.0 {
        return true;
    }
    if threshold.is_nan() || threshold < 0.0 {
        return false;
    }
    hash <= threshold as u64
}

/// Who decided: Datadog's decision maker, `_dd.p.dm`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// No rule and no Agent rate: kept (`-0`).
    Default,
    /// The Agent's rate for the service (`-1`).
    AgentRate,
    /// A sampling rule or `DD_TRACE_SAMPLE_RATE` (`-3`).
    Rule,
    /// By hand, [`keep`] or [`reject`] (`-4`).
    Manual,
}

impl Mechanism {
    /// The value of `_dd.p.dm`.
    pub fn decision_maker(self) -> &'static str {
        match self {
            Mechanism::Default => "-0",
            Mechanism::AgentRate => "-1",
            Mechanism::Rule => "-3",
            Mechanism::Manual => "-4",
        }
    }
}

/// A trace's sampling decision.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct Decision {
    /// -1 user reject, 0 auto reject, 1 auto keep, 2 user keep.
    pub priority: i32,
    /// Who decided.
    pub mechanism: Mechanism,
    /// The matching rule's rate (`_dd.rule_psr`).
    pub rule_rate: Option<f64>,
    /// The Agent's rate (`_dd.agent_psr`).
    pub agent_rate: Option<f64>,
    /// The share the rate limiter let through (`_dd.limit_psr`).
    pub limit_rate: Option<f64>,
}

impl Decision {
    fn new(priority: i32, mechanism: Mechanism) -> Self {
        Decision {
            priority,
            mechanism,
            rule_rate: None,
            agent_rate: None,
            limit_rate: None,
        }
    }

    /// The rate a sampling rule or the Agent kept or dropped the trace at, as Datadog's
    /// tracers record it in `_dd.p.ksr`: at most six decimals, trailing zeros dropped
    /// (`1`, `0.5`, `0.000001`, `0`). `None` for decisions not made by a rate.
    pub fn knuth_sample_rate(&self) -> Option<arrayvec::ArrayString<24>> {
        let rate = self.rule_rate.or(self.agent_rate)?;
        // In millionths, rounded half up; a rate outside 0..=1 is clamped.
        let micros = (rate.clamp(0.0, 1.0) * 1e6 + 0.5).floor() as u64;
        let mut text = arrayvec::ArrayString::new();
        let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
        // At most "1.000000": it fits.
        let _ = std::fmt::Write::write_fmt(&mut text, format_args!("{whole}.{fraction:06}"));
        let kept = text.trim_end_matches('0').trim_end_matches('.').len();
        text.truncate(kept);
        Some(text)
    }

    /// Whether the trace is kept.
    pub fn is_kept(&self) -> bool {
        self.priority > 0
    }
}

/// Keeps `context`'s trace, whatever was decided before: priority 2 (user keep),
/// decision maker `-4`, propagated to the next services.
pub fn keep(context: &SpanContext) {
    decisions::replace(context.trace_id, Decision::new(2, Mechanism::Manual));
}

/// Drops `context`'s trace, whatever was decided before: priority -1 (user reject),
/// decision maker `-4`, propagated to the next services.
pub fn reject(context: &SpanContext) {
    decisions::replace(context.trace_id, Decision::new(-1, Mechanism::Manual));
}

/// The tags Datadog's tracers read as a decision by hand: `manual.keep` keeps the
/// trace, `manual.drop` drops it (whatever the value). `None` for any other key.
pub(crate) fn manual_tag(key: &str) -> Option<bool> {
    match key {
        "manual.keep" => Some(true),
        "manual.drop" => Some(false),
        _ => None,
    }
}

/// Applies a decision by hand to `context`'s trace.
pub(crate) fn decide_by_hand(context: &SpanContext, keep_trace: bool) {
    if keep_trace {
        keep(context)
    } else {
        reject(context)
    }
}

/// What a decision looks at: the trace's local root span (or what is known of it).
pub(crate) struct RootInfo<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) service: &'a str,
    pub(crate) env: &'a str,
    /// `None` when not known yet (a decision at inject time).
    pub(crate) name: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) tags: Option<&'a [(Text, Text)]>,
    /// Numeric tags; read only when `tags` is known.
    pub(crate) metrics: &'a [(Text, f64)],
}

impl<'a> RootInfo<'a> {
    /// All a rule reads of a local root span with these parts: its own service, else
    /// the configuration's; its resource, else its name.
    pub(crate) fn of_span(
        trace_id: TraceId,
        config: &'a config::Config,
        name: &'a str,
        service: Option<&'a str>,
        resource: Option<&'a str>,
        tags: &'a [(Text, Text)],
        metrics: &'a [(Text, f64)],
    ) -> Self {
        RootInfo {
            trace_id,
            service: service.unwrap_or(config.service()),
            env: config.env(),
            name: Some(name),
            resource: Some(resource.unwrap_or(name)),
            tags: Some(tags),
            metrics,
        }
    }
}

/// The decision for `context`'s trace at inject time: one made by hand, else the
/// upstream one (`None`: keep what came), else one recorded earlier, else one made now
/// from what is known of the local root (all of it while the root is registered, see
/// [`roots`]), recorded for the rest of the trace.
pub(crate) fn decide_for_inject(context: &SpanContext) -> Option<Decision> {
    let config = config::global();
    let known = RootInfo {
        trace_id: context.trace_id,
        service: config.service(),
        env: config.env(),
        name: None,
        resource: None,
        tags: None,
        metrics: &[],
    };
    decide_before_root_sent(context, &known)
}

/// What stands (see [`recorded`]), else a decision made now from the trace's local
/// root as it is when it is registered (see [`roots`]), else from `fallback`, recorded
/// for the rest of the trace.
fn decide_before_root_sent(context: &SpanContext, fallback: &RootInfo<'_>) -> Option<Decision> {
    let trace = context.trace_id;
    if let Some(decision) = recorded(context, decisions::get(trace)) {
        return decision;
    }
    let sampler = Sampler::global();
    let decision = roots::with_root(trace, config::global(), |root| sampler.decide(root))
        .unwrap_or_else(|| sampler.decide(fallback));
    Some(decisions::insert_first(trace, decision))
}

/// What stands before deciding anew, given the trace's recorded decision: a manual one,
/// else upstream's (`Some(None)`), else a recorded one; `None` when nothing stands.
fn recorded(context: &SpanContext, recorded: Option<Decision>) -> Option<Option<Decision>> {
    if let Some(manual) = recorded.filter(|d| d.mechanism == Mechanism::Manual) {
        return Some(Some(manual));
    }
    if context.has_upstream_priority {
        return Some(None);
    }
    recorded.map(Some)
}

/// The decision for a chunk of a trace being sent, whose first span is `first`: one
/// made by hand, else the upstream one (`None`), else one recorded earlier (before, or
/// when, its local root was sent), else one made now.
///
/// With `root_sent` (`first` is the trace's local root), the decision is made from it
/// and remembered for the parts of the trace that finish later. Without, it is made
/// from the local root as it is now when it is registered (see [`roots`]), else from
/// `first`, and recorded for the rest of the trace.
pub(crate) fn decide_for_export(
    context: &SpanContext,
    first: &RootInfo<'_>,
    root_sent: bool,
) -> Option<Decision> {
    let trace = context.trace_id;
    if root_sent {
        roots::remove(trace, context.span_id.to_u64());
        let decision = match recorded(context, decisions::take(trace)) {
            Some(decision) => decision,
            None => Some(Sampler::global().decide(first)),
        };
        if let Some(decision) = decision {
            decisions::root_sent(trace, decision);
        }
        return decision;
    }
    decide_before_root_sent(context, first)
}

#[cfg(test)]
mod tests;
