//! Datadog's rules for a span's tags in the payloads: which tags go on which span
//! (the chunk's root carries the trace-level ones), and how they are written.

use arrayvec::ArrayVec;

use super::Tags;
use super::format::Format;
use super::writer::VecWriter;
use crate::agent::pending::PendingSpan;
use crate::digits::hex16;
use crate::sampling::Decision;

/// The tags of every span, unless it sets the key itself: unified service tagging, then
/// `DD_TAGS`. (`language` goes on the first span of each chunk only, with the other
/// trace-level tags, as Datadog's Python tracer does: 14 bytes less a span in v0.4
/// for the others.)
pub(super) fn default_tags<'a>(
    tags: &Tags<'a>,
) -> impl Iterator<Item = (&'a str, &'a str)> + Clone {
    let env = Some(("env", tags.env)).filter(|(_, v)| !v.is_empty());
    let version = Some(("version", tags.version)).filter(|(_, v)| !v.is_empty());
    env.into_iter()
        .chain(version)
        .chain(tags.global.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// A span's `meta` and `metrics`, whatever it carries.
pub(super) fn write_tags<F: Format>(
    out: &mut VecWriter<'_>,
    format: &mut F,
    span: &PendingSpan,
    (chunk_root, top_level): (Option<Option<Decision>>, bool),
    tags: &Tags<'_>,
) {
    let decision = chunk_root.flatten();
    // The rate a rule or the Agent decided at (`_dd.p.ksr`), on the chunk's root.
    let ksr = decision.and_then(|d| d.knuth_sample_rate());
    let chunk_root = chunk_root.is_some();
    let context = span.context();
    let trace = context.trace.as_deref();
    // The span's own tags come last and win over the defaults: a default whose key the
    // span sets is left out.
    let own = |key: &str| span.meta().iter().any(|(k, _)| k == key);
    // The trace-level tags a chunk's first span carries.
    let mut trace_level: ArrayVec<(&str, &str), 12> = ArrayVec::new();
    // Trace-level ids as hex text, made here: written as copies (see `Format`).
    let mut hex: ArrayVec<(&str, [u8; 16]), 1> = ArrayVec::new();
    let mut propagated: &[(String, String)] = &[];
    // Incoming baggage chosen by `DD_TRACE_BAGGAGE_TAG_KEYS`, as `baggage.<key>`.
    let mut baggage: &[(String, String)] = &[];
    // A span of another service names the configured one and says its own was set by
    // hand, as Datadog's tracers do.
    if span.service().is_some_and(|s| s != tags.service) {
        trace_level.push(("_dd.base_service", tags.service));
        trace_level.push(("_dd.svc_src", "m"));
    }
    if chunk_root {
        if !tags.global.iter().any(|(key, _)| key == "language") {
            trace_level.push(("language", "rust"));
        }
        let high = context.trace_id.high();
        if high != 0 {
            hex.push(("_dd.p.tid", hex16(high)));
        }
        let decided_here = context.upstream_priority().is_none();
        propagated = trace.map(|t| t.tags.as_slice()).unwrap_or_default();
        baggage = trace.map(|t| t.baggage_tags.as_slice()).unwrap_or_default();
        match decision {
            // A decision made here names its maker, replacing upstream's.
            Some(decision) => trace_level.push(("_dd.p.dm", decision.mechanism.decision_maker())),
            None if decided_here && !propagated.iter().any(|(k, _)| k == "_dd.p.dm") => {
                trace_level.push(("_dd.p.dm", "-0"));
            }
            None => {}
        }
        if let Some(ksr) = &ksr {
            trace_level.push(("_dd.p.ksr", ksr.as_str()));
        }
        if let Some(origin) = trace.and_then(|t| t.origin.as_deref()) {
            trace_level.push(("_dd.origin", origin));
        }
        if let Some(parent) = trace.and_then(|t| t.last_parent_id.as_deref()) {
            trace_level.push(("_dd.parent_id", parent));
        }
        if let Some(error) = trace.and_then(|t| t.propagation_error.as_deref()) {
            trace_level.push(("_dd.propagation_error", error));
        }
        trace_level.extend(tags.git.tags());
        if let Some(process) = tags.process {
            trace_level.push(("_dd.tags.process", process));
        }
    }
    let hex = hex.iter().filter(|(key, _)| !own(key));
    let defaults = default_tags(tags)
        .chain(trace_level.iter().copied())
        .filter(|(key, _)| !own(key));
    let propagated = propagated
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .filter(|(key, _)| !(own(key) || decision.is_some() && *key == "_dd.p.dm"))
        .chain(
            baggage
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .filter(|(key, _)| !own(key)),
        );
    let own_tags = span
        .meta()
        .iter()
        .map(|(k, v)| (&**k, &**v))
        .filter(|(key, _)| !key.is_empty());
    // Links (without a field of their own) and events, as JSON text.
    let mut json: ArrayVec<(&str, String), 2> = ArrayVec::new();
    if !F::NATIVE_LINKS && !span.links().is_empty() && !own("_dd.span_links") {
        json.push(("_dd.span_links", crate::links::json::links(span.links())));
    }
    if !span.events().is_empty() && !own("events") {
        json.push(("events", crate::links::json::events(span.events())));
    }
    let meta_len = defaults.clone().count()
        + hex.clone().count()
        + propagated.clone().count()
        + own_tags.clone().count()
        + json.len();

    // Metrics: the span's own, then the chunk root's sampling priority (which replaces
    // one the span set) and `_dd.top_level` on root spans (unless the span set it).
    let own_metric = |key: &str| span.metrics().iter().any(|(k, _)| k == key);
    let own_metrics = span
        .metrics()
        .iter()
        .map(|(k, v)| (&**k, *v))
        .filter(|(key, _)| !(chunk_root && *key == "_sampling_priority_v1"));
    // The rest in one small list, counted and written without cloning iterators.
    let mut added: ArrayVec<(&str, f64), 5> = ArrayVec::new();
    if chunk_root {
        let priority = decision.map_or(context.sampling_priority(), |d| d.priority);
        added.push(("_sampling_priority_v1", f64::from(priority)));
    }
    if let Some(d) = decision {
        let rates = [
            ("_dd.rule_psr", d.rule_rate),
            ("_dd.agent_psr", d.agent_rate),
            ("_dd.limit_psr", d.limit_rate),
        ];
        added.extend(rates.into_iter().filter_map(|(k, r)| Some((k, r?))));
    }
    if top_level && !own_metric("_dd.top_level") {
        added.push(("_dd.top_level", 1.0));
    }
    let metrics_len = own_metrics.clone().count() + added.len();

    format.key(out, b"\xa4meta");
    out.map_len(meta_len);
    for (key, value) in defaults.chain(propagated).chain(own_tags) {
        format.str(out, key);
        format.str(out, value);
    }
    for (key, value) in hex {
        format.str(out, key);
        format.str_copy(out, std::str::from_utf8(value).unwrap_or_default());
    }
    for (key, value) in &json {
        format.str(out, key);
        format.str_copy(out, value);
    }
    format.key(out, b"\xa7metrics");
    out.map_len(metrics_len);
    for (key, value) in own_metrics.chain(added) {
        format.str(out, key);
        out.f64(value);
    }
}
