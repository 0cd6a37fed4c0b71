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
//! - Otherwise the decision is made before the trace's context is first injected into
//!   outgoing headers, or else when the local root span is sent to the Agent, so that a
//!   rule can match a resource set during the request. At inject time the root span's
//!   name, resource and tags are not known yet: rules that test them are skipped then.
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
//!     .expect("set before the first trace is decided");
//! ```

mod decisions;
mod glob;
mod limiter;

use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use once_cell::sync::OnceCell;

use self::glob::Glob;
use self::limiter::Limiter;
use crate::config;
use crate::env::{self, Env};
use crate::global::AlreadySet;
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

/// What a decision looks at: the trace's local root span (or what is known of it).
pub(crate) struct RootInfo<'a> {
    pub(crate) trace_id: TraceId,
    pub(crate) service: &'a str,
    pub(crate) env: &'a str,
    /// `None` when not known yet (a decision at inject time).
    pub(crate) name: Option<&'a str>,
    pub(crate) resource: Option<&'a str>,
    pub(crate) tags: Option<
        &'a [(
            std::borrow::Cow<'static, str>,
            std::borrow::Cow<'static, str>,
        )],
    >,
}

/// The decision for `context`'s trace at inject time: one made by hand, else the
/// upstream one (`None`: keep what came), else one recorded at an earlier inject, else
/// one made now from what is known, recorded for the rest of the trace.
pub(crate) fn decide_for_inject(context: &SpanContext) -> Option<Decision> {
    if let Some(decision) = recorded(context, decisions::get(context.trace_id)) {
        return decision;
    }
    let config = config::global();
    let decision = Sampler::global().decide(&RootInfo {
        trace_id: context.trace_id,
        service: config.service(),
        env: config.env(),
        name: None,
        resource: None,
        tags: None,
    });
    Some(decisions::insert_first(context.trace_id, decision))
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

/// The decision for a trace being sent: one made by hand, else the upstream one
/// (`None`), else one recorded earlier, else one made from `root`. With `root_sent`, the trace's record is dropped;
/// without, a new decision is recorded for the rest of the trace.
pub(crate) fn decide_for_export(
    context: &SpanContext,
    root: &RootInfo<'_>,
    root_sent: bool,
) -> Option<Decision> {
    let recorded_here = match root_sent {
        true => decisions::remove(context.trace_id),
        false => decisions::get(context.trace_id),
    };
    if let Some(decision) = recorded(context, recorded_here) {
        return decision;
    }
    let decision = Sampler::global().decide(root);
    Some(match root_sent {
        true => decision,
        false => decisions::insert_first(context.trace_id, decision),
    })
}

/// A sampling rule: glob patterns on the local root span, and the rate of the traces
/// they match to keep.
///
/// ```
/// use spanlog::sampling::SamplingRule;
///
/// let rule = SamplingRule::new(0.5)
///     .service("blog")
///     .name("web.*")
///     .resource("GET /posts/*")
///     .tag("http.method", "GET")
///     .max_per_second(20.0);
/// # let _ = rule;
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingRule {
    sample_rate: f64,
    service: Option<Glob>,
    name: Option<Glob>,
    resource: Option<Glob>,
    tags: Vec<(String, Glob)>,
    max_per_second: Option<f64>,
}

impl SamplingRule {
    /// A rule that matches every trace and keeps `sample_rate` of them (clamped to
    /// 0..=1).
    pub fn new(sample_rate: f64) -> Self {
        SamplingRule {
            sample_rate: if sample_rate.is_nan() {
                0.0
            } else {
                sample_rate.clamp(0.0, 1.0)
            },
            service: None,
            name: None,
            resource: None,
            tags: Vec::new(),
            max_per_second: None,
        }
    }

    /// Only traces whose service matches `pattern` (`*` any run, `?` any character).
    pub fn service(mut self, pattern: &str) -> Self {
        self.service = Some(Glob::new(pattern));
        self
    }

    /// Only traces whose local root's operation name matches `pattern`.
    pub fn name(mut self, pattern: &str) -> Self {
        self.name = Some(Glob::new(pattern));
        self
    }

    /// Only traces whose local root's resource matches `pattern`.
    pub fn resource(mut self, pattern: &str) -> Self {
        self.resource = Some(Glob::new(pattern));
        self
    }

    /// Only traces whose local root has the tag `key` with a value matching `pattern`.
    pub fn tag(mut self, key: &str, pattern: &str) -> Self {
        self.tags.push((key.to_owned(), Glob::new(pattern)));
        self
    }

    /// Keeps at most this many of the traces this rule keeps a second (instead of the
    /// sampler's rate limit).
    pub fn max_per_second(mut self, limit: f64) -> Self {
        self.max_per_second = Some(limit);
        self
    }

    /// The rate of matching traces kept.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// `Some(matches)`, or `None` when it tests what is not known yet.
    fn matches(&self, root: &RootInfo<'_>) -> Option<bool> {
        let field = |glob: &Option<Glob>, value: Option<&str>| match (glob, value) {
            (None, _) => Some(true),
            (Some(glob), _) if glob.matches_any() => Some(true),
            (Some(glob), Some(value)) => Some(glob.matches(value)),
            (Some(_), None) => None,
        };
        let mut all = field(&self.service, Some(root.service))?;
        all &= field(&self.name, root.name)?;
        all &= field(&self.resource, root.resource)?;
        for (key, glob) in &self.tags {
            if glob.matches_any() {
                continue;
            }
            let tags = root.tags?;
            let value = tags.iter().find(|(k, _)| k == key).map(|(_, v)| &**v);
            all &= value.is_some_and(|v| glob.matches(v));
        }
        Some(all)
    }
}

/// The process's sampler: rules, rate limiter and the Agent's rates.
pub struct Sampler {
    rules: Vec<(SamplingRule, Option<Mutex<Limiter>>)>,
    limiter: Box<Mutex<Limiter>>,
    /// `(service, env, rate)` from the Agent's last answer; `None` before it answered.
    agent_rates: RwLock<Option<Vec<(String, String, f64)>>>,
}

impl fmt::Debug for Sampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sampler")
            .field(
                "rules",
                &self.rules.iter().map(|(r, _)| r).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new()
    }
}

/// The default of `DD_TRACE_RATE_LIMIT`.
const DEFAULT_RATE_LIMIT: f64 = 100.0;

impl Sampler {
    /// No rules, a limit of 100 rule-kept traces a second, no Agent rates yet.
    pub fn new() -> Self {
        Sampler {
            rules: Vec::new(),
            limiter: Box::new(Mutex::new(Limiter::new(DEFAULT_RATE_LIMIT))),
            agent_rates: RwLock::new(None),
        }
    }

    /// A sampler configured from `DD_TRACE_SAMPLING_RULES` (a JSON array of rules; read
    /// with the `agent` feature), `DD_TRACE_SAMPLE_RATE` (a rule matching everything,
    /// after them) and `DD_TRACE_RATE_LIMIT`. An invalid value warns on standard error
    /// and is ignored.
    pub fn from_env() -> Self {
        Sampler::read(&mut env::process())
    }

    fn read(env: &mut Env<'_>) -> Self {
        let mut sampler = Sampler::new();
        if let Some(rules) = env.get("DD_TRACE_SAMPLING_RULES") {
            match parse_rules(&rules) {
                Ok(rules) => {
                    for rule in rules {
                        sampler = sampler.rule(rule);
                    }
                }
                Err(error) => env.warn(format!(
                    "spanlog: ignoring DD_TRACE_SAMPLING_RULES={rules:?}: {error}"
                )),
            }
        }
        if let Some(rate) = env.get("DD_TRACE_SAMPLE_RATE") {
            match rate.trim().parse::<f64>() {
                Ok(rate) if (0.0..=1.0).contains(&rate) => {
                    sampler = sampler.rule(SamplingRule::new(rate));
                }
                _ => env.warn(format!(
                    "spanlog: ignoring DD_TRACE_SAMPLE_RATE={rate:?}: expected a number from 0 to 1"
                )),
            }
        }
        if let Some(limit) = env.get("DD_TRACE_RATE_LIMIT") {
            match limit.trim().parse::<f64>() {
                Ok(limit) if !limit.is_nan() => sampler = sampler.rate_limit(limit),
                _ => env.warn(format!(
                    "spanlog: ignoring DD_TRACE_RATE_LIMIT={limit:?}: expected a number of traces a second; using 100"
                )),
            }
        }
        sampler
    }

    /// Adds a rule, after those already given (the first that matches decides).
    pub fn rule(mut self, rule: SamplingRule) -> Self {
        let limiter = rule.max_per_second.map(|l| Mutex::new(Limiter::new(l)));
        self.rules.push((rule, limiter));
        self
    }

    /// At most `per_second` traces kept by rules a second (default 100; negative: no
    /// limit).
    pub fn rate_limit(self, per_second: f64) -> Self {
        Sampler {
            limiter: Box::new(Mutex::new(Limiter::new(per_second))),
            ..self
        }
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &SamplingRule> {
        self.rules.iter().map(|(rule, _)| rule)
    }

    /// Replaces the Agent's rates (`rate_by_service` in its answers; keys like
    /// `service:blog,env:prod`, `service:,env:` for the default). The agent exporter
    /// calls it with each answer.
    pub fn set_agent_rates(&self, rates: impl IntoIterator<Item = (String, f64)>) {
        // Split once here, so that deciding looks keys up without building one.
        let rates: Vec<(String, String, f64)> = rates
            .into_iter()
            .filter_map(|(key, rate)| {
                let (service, env) = key.strip_prefix("service:")?.split_once(",env:")?;
                Some((service.to_owned(), env.to_owned(), rate))
            })
            .collect();
        let mut slot = self.agent_rates.write().unwrap_or_else(|e| e.into_inner());
        *slot = Some(rates);
    }

    /// Makes this the sampler every trace is decided by.
    ///
    /// # Errors
    ///
    /// Fails, handing the sampler back, when the global one was already set or used.
    pub fn set_global(self) -> Result<(), AlreadySet<Sampler>> {
        GLOBAL
            .set(self)
            .map_err(|sampler| AlreadySet::new("sampler", sampler))
    }

    /// The process's sampler: the one given to [`Sampler::set_global`], or else
    /// [`Sampler::from_env`], read on first use.
    pub fn global() -> &'static Sampler {
        GLOBAL.get_or_init(Sampler::from_env)
    }

    /// The decision for the trace whose local root `root` describes.
    pub(crate) fn decide(&self, root: &RootInfo<'_>) -> Decision {
        for (rule, own_limiter) in &self.rules {
            if rule.matches(root) != Some(true) {
                continue;
            }
            let mut kept = sampled(root.trace_id, rule.sample_rate);
            let mut limit_rate = None;
            if kept {
                let limiter = own_limiter.as_ref().unwrap_or(&self.limiter);
                let mut limiter = limiter.lock().unwrap_or_else(|e| e.into_inner());
                kept = limiter.allow(Instant::now());
                limit_rate = Some(limiter.effective_rate());
            }
            return Decision {
                rule_rate: Some(rule.sample_rate),
                limit_rate,
                ..Decision::new(if kept { 2 } else { -1 }, Mechanism::Rule)
            };
        }
        let rates = self.agent_rates.read().unwrap_or_else(|e| e.into_inner());
        if let Some(rates) = rates.as_deref() {
            let rate_of = |service: &str, env: &str| {
                rates
                    .iter()
                    .find(|(s, e, _)| s == service && e == env)
                    .map(|&(_, _, rate)| rate)
            };
            if let Some(rate) = rate_of(root.service, root.env).or_else(|| rate_of("", "")) {
                let kept = sampled(root.trace_id, rate);
                return Decision {
                    agent_rate: Some(rate),
                    ..Decision::new(i32::from(kept), Mechanism::AgentRate)
                };
            }
        }
        Decision::new(1, Mechanism::Default)
    }
}

static GLOBAL: OnceCell<Sampler> = OnceCell::new();

/// `DD_TRACE_SAMPLING_RULES`: `[{"sample_rate": 0.5, "service": "...", "name": "...",
/// "resource": "...", "tags": {"key": "..."}, "max_per_second": 10}, ...]`.
#[cfg(feature = "agent")]
fn parse_rules(text: &str) -> Result<Vec<SamplingRule>, String> {
    use serde_json::Value;
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Array(items) = value else {
        return Err("expected a JSON array of rules".to_owned());
    };
    let mut rules = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(fields) = item else {
            return Err(format!("rule {i} is not an object"));
        };
        let rate = fields
            .get("sample_rate")
            .and_then(Value::as_f64)
            .filter(|r| (0.0..=1.0).contains(r))
            .ok_or_else(|| format!("rule {i} needs a sample_rate from 0 to 1"))?;
        let mut rule = SamplingRule::new(rate);
        for (key, value) in fields {
            let text = || {
                value
                    .as_str()
                    .ok_or_else(|| format!("rule {i}: {key} must be a string"))
            };
            rule = match key.as_str() {
                "sample_rate" | "provenance" => rule,
                "service" => rule.service(text()?),
                "name" => rule.name(text()?),
                "resource" => rule.resource(text()?),
                "max_per_second" => rule.max_per_second(
                    value
                        .as_f64()
                        .ok_or_else(|| format!("rule {i}: max_per_second must be a number"))?,
                ),
                "tags" => {
                    let Value::Object(tags) = value else {
                        return Err(format!("rule {i}: tags must be an object"));
                    };
                    let mut rule = rule;
                    for (tag, pattern) in tags {
                        let pattern = pattern
                            .as_str()
                            .ok_or_else(|| format!("rule {i}: tag {tag} must be a string"))?;
                        rule = rule.tag(tag, pattern);
                    }
                    rule
                }
                other => return Err(format!("rule {i}: unknown field {other:?}")),
            };
        }
        rules.push(rule);
    }
    Ok(rules)
}

#[cfg(not(feature = "agent"))]
fn parse_rules(_: &str) -> Result<Vec<SamplingRule>, String> {
    Err("sampling rules from the environment need spanlog's `agent` feature".to_owned())
}

#[cfg(test)]
mod tests;
