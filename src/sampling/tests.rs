use super::*;
use crate::env::testing::read_with;
use crate::id::SpanId;

fn root<'a>(trace: u64, name: Option<&'a str>, resource: Option<&'a str>) -> RootInfo<'a> {
    RootInfo {
        trace_id: TraceId::from_parts(0, trace),
        service: "blog",
        env: "prod",
        name,
        resource,
        tags: None,
        metrics: &[],
    }
}

/// A trace id kept at every rate above 0, and one dropped at every rate below 1.
fn always_kept() -> u64 {
    (1..)
        .find(|&t| sampled(TraceId::from_parts(0, t), 1e-6))
        .unwrap()
}

fn always_dropped() -> u64 {
    (1..)
        .find(|&t| !sampled(TraceId::from_parts(0, t), 0.999_999))
        .unwrap()
}

#[test]
fn the_first_matching_rule_decides() {
    let sampler = Sampler::new()
        .rule(SamplingRule::new(0.0).name("db.*"))
        .rule(
            SamplingRule::new(1.0)
                .service("bl?g")
                .resource("GET /posts/*"),
        )
        .rule(SamplingRule::new(0.0));
    let id = always_kept();
    let db = sampler.decide(&root(id, Some("db.query"), Some("SELECT")));
    assert_eq!(
        (db.priority, db.mechanism, db.rule_rate),
        (-1, Mechanism::Rule, Some(0.0))
    );
    let posts = sampler.decide(&root(id, Some("web.request"), Some("GET /posts/{id}")));
    assert_eq!((posts.priority, posts.rule_rate), (2, Some(1.0)));
    assert_eq!(posts.limit_rate, None, "the default limit did not apply");
    let other = sampler.decide(&root(id, Some("web.request"), Some("GET /health")));
    assert_eq!(other.priority, -1);
}

#[test]
fn tags_must_all_match() {
    let sampler = Sampler::new().rule(
        SamplingRule::new(1.0)
            .tag("http.method", "G*")
            .tag("tier", "gold"),
    );
    let tags = |pairs: &[(&'static str, &'static str)]| -> Vec<(
        std::borrow::Cow<'static, str>,
        std::borrow::Cow<'static, str>,
    )> { pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect() };
    let both = tags(&[("http.method", "GET"), ("tier", "gold")]);
    let one = tags(&[("http.method", "GET")]);
    let decide = |t: &[(
        std::borrow::Cow<'static, str>,
        std::borrow::Cow<'static, str>,
    )]| {
        sampler
            .decide(&RootInfo {
                tags: Some(t),
                ..root(always_kept(), Some("n"), Some("r"))
            })
            .mechanism
    };
    assert_eq!(decide(&both), Mechanism::Rule);
    assert_eq!(decide(&one), Mechanism::Default);
}

#[test]
fn rules_on_unknown_fields_are_skipped_at_inject_time() {
    let sampler = Sampler::new()
        .rule(SamplingRule::new(0.0).resource("GET /health"))
        .rule(SamplingRule::new(1.0).name("*"));
    let decision = sampler.decide(&root(always_kept(), None, None));
    assert_eq!((decision.priority, decision.rule_rate), (2, Some(1.0)));
}

#[test]
fn the_rate_limiter_cuts_rule_kept_traces() {
    let sampler = Sampler::new().rule(SamplingRule::new(1.0)).rate_limit(10.0);
    let decisions: Vec<_> = (1..=100)
        .map(|t| sampler.decide(&root(t, None, None)))
        .collect();
    let kept = decisions.iter().filter(|d| d.priority == 2).count();
    assert_eq!(kept, 10);
    assert!(
        decisions
            .iter()
            .all(|d| d.priority == 2 || d.priority == -1)
    );
    let last = decisions.last().unwrap();
    assert!((last.limit_rate.unwrap() - 0.1).abs() < 1e-9, "{last:?}");
    // The default limit is recorded only where it dropped.
    let default = Sampler::new().rule(SamplingRule::new(1.0));
    let decisions: Vec<_> = (1..=150)
        .map(|t| default.decide(&root(t, None, None)))
        .collect();
    assert!(decisions[..100].iter().all(|d| d.limit_rate.is_none()));
    assert!(decisions[100..].iter().all(|d| d.priority == -1));
    assert!(decisions[100..].iter().all(|d| d.limit_rate.is_some()));
    // A rule's own limit wins over the sampler's.
    let own = Sampler::new().rule(SamplingRule::new(1.0).max_per_second(3.0));
    let kept = (1..=50)
        .filter(|&t| own.decide(&root(t, None, None)).priority == 2)
        .count();
    assert_eq!(kept, 3);
}

#[test]
fn agent_rates_apply_once_the_agent_answered() {
    let sampler = Sampler::new();
    let id = always_dropped();
    assert_eq!(
        sampler.decide(&root(id, None, None)),
        Decision::new(1, Mechanism::Default)
    );
    sampler.set_agent_rates([
        ("service:blog,env:prod".to_owned(), 0.5),
        ("service:,env:".to_owned(), 0.0),
    ]);
    let ours = sampler.decide(&root(id, None, None));
    assert_eq!(
        (ours.mechanism, ours.agent_rate),
        (Mechanism::AgentRate, Some(0.5))
    );
    let other = sampler.decide(&RootInfo {
        service: "shop",
        ..root(always_kept(), None, None)
    });
    assert_eq!((other.priority, other.agent_rate), (0, Some(0.0)));
}

#[test]
fn manual_and_upstream_decisions() {
    let local = SpanContext::new(TraceId::from_parts(0, 0xfeed_0001), SpanId::from_u64(1));
    reject(&local);
    let decision = decide_for_inject(&local).unwrap();
    assert_eq!(
        (decision.priority, decision.mechanism),
        (-1, Mechanism::Manual)
    );
    keep(&local);
    assert_eq!(decide_for_inject(&local).unwrap().priority, 2);
    assert_eq!(
        decide_for_export(&local, &root(0xfeed_0001, None, None), true)
            .unwrap()
            .priority,
        2
    );
    // Once the root was sent, its decision stands for the parts that finish later.
    let late = SpanContext {
        parent_id: SpanId::from_u64(1),
        ..SpanContext::new(local.trace_id, SpanId::from_u64(3))
    };
    let sent = decide_for_export(&late, &root(0xfeed_0001, Some("late"), None), false);
    assert_eq!(
        sent.map(|d| (d.priority, d.mechanism)),
        Some((2, Mechanism::Manual))
    );

    let mut upstream = SpanContext::new(TraceId::from_parts(0, 0xfeed_0002), SpanId::from_u64(2));
    upstream.set_upstream_priority(Some(0));
    assert_eq!(decide_for_inject(&upstream), None, "kept as it came");
    // A decision recorded for the same trace id does not override upstream's; a
    // manual one does.
    decisions::insert_first(upstream.trace_id, Decision::new(1, Mechanism::Default));
    assert_eq!(decide_for_inject(&upstream), None);
    keep(&upstream);
    assert_eq!(decide_for_inject(&upstream).unwrap().priority, 2);
}

#[test]
fn knuth_hash_edges() {
    let id = TraceId::from_parts(0, 1);
    assert!(sampled(id, 1.0));
    assert!(!sampled(id, 0.0));
    assert!(!sampled(id, f64::NAN));
    assert!(sampled(TraceId::from_parts(0, 0), 0.0), "hash 0 <= 0");
}

#[test]
fn rules_from_the_environment() {
    let (sampler, warnings) = read_with(
        &[
            (
                "DD_TRACE_SAMPLING_RULES",
                r#"[{"service": "blog", "name": "web.*", "sample_rate": 0.5, "tags": {"tier": "gold"}, "max_per_second": 5}]"#,
            ),
            ("DD_TRACE_SAMPLE_RATE", "0.25"),
            ("DD_TRACE_RATE_LIMIT", "7"),
        ],
        Sampler::read,
    );
    // Rules are read whatever the features: JSON, not export.
    assert!(warnings.is_empty(), "{warnings:?}");
    let rules: Vec<_> = sampler.rules().collect();
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].sample_rate(), 0.5);
    assert_eq!(rules[0].max_per_second, Some(5.0));
    assert_eq!(rules[1], &SamplingRule::new(0.25));

    for (var, bad) in [
        ("DD_TRACE_SAMPLING_RULES", "[{\"name\": \"x\"}]"),
        ("DD_TRACE_SAMPLING_RULES", "{}"),
        ("DD_TRACE_SAMPLING_RULES", "[{\"sample_rate\": 2}]"),
        ("DD_TRACE_SAMPLE_RATE", "1.5"),
        ("DD_TRACE_RATE_LIMIT", "lots"),
    ] {
        let (sampler, warnings) = read_with(&[(var, bad)], Sampler::read);
        assert_eq!(warnings.len(), 1, "{var}={bad}: {warnings:?}");
        assert!(warnings[0].contains(var), "{warnings:?}");
        assert_eq!(sampler.rules().count(), 0);
    }
}

/// Rules on tags match numeric tags as Datadog's tracers do (dd-trace-py's
/// `SamplingRule.tags_match`): an integer-valued number as its integer text, any other
/// number only by a pattern of wildcards; and a pattern, even `*`, only a span that
/// has the tag.
#[test]
fn tag_patterns_match_numbers_and_need_the_tag() {
    let kept = always_kept();
    let decide =
        |pattern: &str, tags: &[(&'static str, &'static str)], metrics: &[(&'static str, f64)]| {
            let tags: Vec<(
                std::borrow::Cow<'static, str>,
                std::borrow::Cow<'static, str>,
            )> = tags.iter().map(|&(k, v)| (k.into(), v.into())).collect();
            let metrics: Vec<(std::borrow::Cow<'static, str>, f64)> =
                metrics.iter().map(|&(k, v)| (k.into(), v)).collect();
            Sampler::new()
                .rule(SamplingRule::new(1.0).tag("tenant", pattern))
                .decide(&RootInfo {
                    tags: Some(&tags),
                    metrics: &metrics,
                    ..root(kept, Some("n"), Some("r"))
                })
                .mechanism
                == Mechanism::Rule
        };
    assert!(
        decide("42", &[], &[("tenant", 42.0)]),
        "an integer as its text"
    );
    assert!(decide("4?", &[], &[("tenant", 42.0)]));
    assert!(!decide("43", &[], &[("tenant", 42.0)]));
    assert!(decide("0", &[], &[("tenant", -0.0)]));
    assert!(
        !decide("42.5", &[], &[("tenant", 42.5)]),
        "a fraction: wildcards only"
    );
    assert!(decide("*", &[], &[("tenant", 42.5)]));
    assert!(decide("**", &[], &[("tenant", f64::NAN)]));
    assert!(!decide("*", &[], &[]), "`*` needs the tag");
    assert!(!decide("*", &[("other", "x")], &[("other.n", 1.0)]));
    assert!(decide("*", &[("tenant", "acme")], &[]));
    assert!(
        decide("ac*", &[("tenant", "acme")], &[("tenant", 1.0)]),
        "text first"
    );
}

/// `_dd.p.ksr` as Datadog's tracers write it: six decimals at most, rounded half up,
/// trailing zeros dropped; only for decisions made at a rate.
#[test]
fn knuth_sample_rate_text() {
    let rated = |rule: Option<f64>, agent: Option<f64>| Decision {
        rule_rate: rule,
        agent_rate: agent,
        ..Decision::new(1, Mechanism::Default)
    };
    for (rate, text) in [
        (1.0, "1"),
        (0.5, "0.5"),
        (0.1, "0.1"),
        (0.000001, "0.000001"),
        (0.0000005, "0.000001"),
        (0.0000004, "0"),
        (0.0, "0"),
        (0.123456789, "0.123457"),
        (0.3333333, "0.333333"),
    ] {
        let ksr = rated(Some(rate), None).knuth_sample_rate().unwrap();
        assert_eq!(ksr.as_str(), text, "{rate}");
        let ksr = rated(None, Some(rate)).knuth_sample_rate().unwrap();
        assert_eq!(ksr.as_str(), text, "agent {rate}");
    }
    assert_eq!(rated(None, None).knuth_sample_rate(), None);
}

/// The rate limit as Datadog's conformance suite specifies it (sampling span tags):
/// chosen, it is in force for every trace; zero limits nothing.
#[test]
fn a_chosen_rate_limit_applies_to_every_trace() {
    let id = always_kept();
    // A rule that drops still records the limit.
    let dropping = Sampler::new().rule(SamplingRule::new(0.0)).rate_limit(3.0);
    let d = dropping.decide(&root(id, None, None));
    assert_eq!((d.priority, d.rule_rate), (-1, Some(0.0)));
    assert!(
        d.limit_rate.is_some_and(|r| (0.0..=1.0).contains(&r)),
        "{d:?}"
    );
    // A limit alone keeps by hand, within the limit: no rule rate, no Agent rate.
    let alone = Sampler::new().rate_limit(3.0);
    alone.set_agent_rates([("service:,env:".to_owned(), 0.0)]);
    let d = alone.decide(&root(id, None, None));
    assert_eq!((d.priority, d.mechanism), (2, Mechanism::Rule));
    assert_eq!((d.rule_rate, d.agent_rate), (None, None));
    assert!(d.limit_rate.is_some());
    assert_eq!(d.knuth_sample_rate(), None);
    let kept = (1..=20)
        .filter(|&t| alone.decide(&root(t, None, None)).priority == 2)
        .count();
    assert!(kept <= 3, "{kept}");
    // Zero: no limit at all.
    let zero = Sampler::new().rule(SamplingRule::new(1.0)).rate_limit(0.0);
    let decisions: Vec<_> = (1..=500)
        .map(|t| zero.decide(&root(t, None, None)))
        .collect();
    assert!(
        decisions
            .iter()
            .all(|d| d.priority == 2 && d.limit_rate == Some(1.0))
    );
    // A limit lifted (zero or negative) keeps nothing by itself.
    let lifted = Sampler::new().rate_limit(-1.0);
    assert_eq!(
        lifted.decide(&root(id, None, None)).mechanism,
        Mechanism::Default
    );
}
