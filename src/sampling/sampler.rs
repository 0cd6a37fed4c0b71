//! The sampler: the rules, the rate limiter and the Agent's rates, and the process's
//! own.

use std::fmt;
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use once_cell::sync::OnceCell;

use super::limiter::Limiter;
use super::rule::{SamplingRule, parse_rules};
use super::{Decision, Mechanism, RootInfo, sampled};
use crate::env::{self, Env};
use crate::global::AlreadySet;

/// The process's sampler: rules, rate limiter and the Agent's rates.
pub struct Sampler {
    rules: Vec<(SamplingRule, Option<Mutex<Limiter>>)>,
    limiter: Box<Mutex<Limiter>>,
    /// `(service, env, rate)` from the Agent's last answer; `None` before it answered.
    agent_rates: RwLock<Option<Vec<(String, String, f64)>>>,
    /// Whether a rule reads the local root span (its service, name, resource or tags).
    reads_roots: bool,
    /// Whether the rate limit was chosen (`DD_TRACE_RATE_LIMIT`, [`Sampler::rate_limit`])
    /// rather than left at its default: then it is in force for every trace, and
    /// recorded on each (`_dd.limit_psr`).
    limit_chosen: bool,
    /// A chosen limit that limits something (above zero): with no rule, it keeps.
    limit_keeps: bool,
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
            reads_roots: false,
            limit_chosen: false,
            limit_keeps: false,
        }
    }

    /// A sampler configured from `DD_TRACE_SAMPLING_RULES` (a JSON array of rules),
    /// `DD_TRACE_SAMPLE_RATE` (a rule matching everything,
    /// after them) and `DD_TRACE_RATE_LIMIT`. An invalid value warns on standard error
    /// and is ignored.
    pub fn from_env() -> Self {
        Sampler::read(&mut env::process())
    }

    pub(super) fn read(env: &mut Env<'_>) -> Self {
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
        self.reads_roots |= rule.reads_root();
        self.rules.push((rule, limiter));
        self
    }

    /// At most `per_second` traces kept by rules a second (default 100; zero or
    /// negative: no limit).
    ///
    /// A limit chosen here (or with `DD_TRACE_RATE_LIMIT`) is in force for every trace,
    /// as in Datadog's conformance suite: its rate is recorded on every trace a rule
    /// decides (`_dd.limit_psr`), and, when it is above zero, traces no rule matches
    /// are kept within it as by a rule (priority 2 or -1, decision maker `-3`) instead
    /// of by the Agent's rates. (The default limit is recorded only on traces it
    /// dropped.)
    pub fn rate_limit(self, per_second: f64) -> Self {
        Sampler {
            limiter: Box::new(Mutex::new(Limiter::new(per_second))),
            limit_chosen: true,
            limit_keeps: per_second > 0.0,
            ..self
        }
    }

    /// The rules, in order.
    pub fn rules(&self) -> impl Iterator<Item = &SamplingRule> {
        self.rules.iter().map(|(rule, _)| rule)
    }

    /// Replaces the Agent's rates (`rate_by_service` in its answers; keys like
    /// `service:blog,env:prod`, `service:,env:` for the default).
    ///
    /// Wiring, not configuration: the agent exporter calls it with each answer of the
    /// Agent, and an exporter of your own that talks to a Datadog Agent may do the
    /// same. Rates set by hand are replaced by the next answer; to configure sampling,
    /// use rules ([`Sampler::rule`]).
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
    /// Fails, handing the sampler back, when the global one was already set or used:
    /// set it before the first local root span starts (a root reads it to know whether
    /// the rules read it).
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

    /// Whether a rule reads the local root span: then local roots are registered as
    /// they start, so that a decision made before the root is sent reads it.
    #[inline]
    pub(crate) fn reads_roots(&self) -> bool {
        self.reads_roots
    }

    /// The decision for the trace whose local root `root` describes.
    pub(crate) fn decide(&self, root: &RootInfo<'_>) -> Decision {
        for (rule, own_limiter) in &self.rules {
            if rule.matches(root) != Some(true) {
                continue;
            }
            let kept = sampled(root.trace_id, rule.sample_rate);
            let chosen = self.limit_chosen || own_limiter.is_some();
            let limiter = own_limiter.as_ref().unwrap_or(&self.limiter);
            let (kept, limit_rate) = limited(limiter, kept, chosen);
            return Decision {
                rule_rate: Some(rule.sample_rate),
                limit_rate,
                ..Decision::new(if kept { 2 } else { -1 }, Mechanism::Rule)
            };
        }
        if self.limit_keeps {
            // A limit alone: kept as by a rule at rate 1, within the limit.
            let (kept, limit_rate) = limited(&self.limiter, true, true);
            return Decision {
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

/// A rule's decision through `limiter`: kept only if the limiter lets it through, and
/// the limiter's rate when it applied (`chosen`: it was configured, so it always
/// does; else when it dropped the trace).
fn limited(limiter: &Mutex<Limiter>, kept: bool, chosen: bool) -> (bool, Option<f64>) {
    if !kept && !chosen {
        return (false, None);
    }
    let mut limiter = limiter.lock().unwrap_or_else(|e| e.into_inner());
    let allowed = !kept || limiter.allow(Instant::now());
    let applied = chosen || !allowed;
    (kept && allowed, applied.then(|| limiter.effective_rate()))
}

static GLOBAL: OnceCell<Sampler> = OnceCell::new();
