//! Sampling rules: glob patterns on a trace's local root span and the rate of the
//! traces they match to keep, given in code or as `DD_TRACE_SAMPLING_RULES`' JSON.

use super::RootInfo;
use super::glob::Glob;

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
    pub(super) sample_rate: f64,
    service: Option<Glob>,
    name: Option<Glob>,
    resource: Option<Glob>,
    tags: Vec<(String, Glob)>,
    pub(super) max_per_second: Option<f64>,
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

    /// Whether the rule tests the local root span (its service, name, resource or
    /// tags), not only the trace id.
    pub(super) fn reads_root(&self) -> bool {
        let reads = |glob: &Option<Glob>| glob.as_ref().is_some_and(|g| !g.matches_any());
        reads(&self.service) || reads(&self.name) || reads(&self.resource) || !self.tags.is_empty()
    }

    /// `Some(matches)`, or `None` when it tests what is not known yet.
    pub(super) fn matches(&self, root: &RootInfo<'_>) -> Option<bool> {
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
            let tags = root.tags?;
            all &= match tags.iter().find(|(k, _)| k == key) {
                Some((_, text)) => glob.matches(text),
                None => match root.metrics.iter().find(|(k, _)| k == key) {
                    Some(&(_, number)) => number_matches(glob, number),
                    // A pattern, even `*`, matches only a span that has the tag.
                    None => false,
                },
            };
        }
        Some(all)
    }
}

/// Whether a numeric tag matches a tag pattern, as Datadog's tracers decide it: an
/// integer-valued number as its integer text (`42.0` is `"42"`), any other number
/// only by a pattern made of wildcards (`*`).
fn number_matches(glob: &Glob, number: f64) -> bool {
    if number.is_finite() && number.fract() == 0.0 {
        // `+ 0.0` writes -0 as 0.
        glob.matches(&format!("{:.0}", number + 0.0))
    } else {
        glob.matches_any()
    }
}

/// `DD_TRACE_SAMPLING_RULES`: `[{"sample_rate": 0.5, "service": "...", "name": "...",
/// "resource": "...", "tags": {"key": "..."}, "max_per_second": 10}, ...]`.
pub(super) fn parse_rules(text: &str) -> Result<Vec<SamplingRule>, String> {
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
