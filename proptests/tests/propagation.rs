//! Property tests of propagation: whatever context goes out, the same comes back in, in
//! each style; whatever comes in, extraction neither panics nor accepts half a context.

use std::collections::HashMap;

use proptest::prelude::*;
use spanlog::propagation::{self, PropagationStyle, Propagator};
use spanlog::{SpanContext, TraceId};

/// The reference vector: Datadog and W3C headers of one trace.
const VECTOR: [(&str, &str); 6] = [
    ("x-datadog-trace-id", "16619917583423696718"),
    ("x-datadog-parent-id", "10582933694091117294"),
    ("x-datadog-sampling-priority", "1"),
    ("x-datadog-tags", "_dd.p.dm=-0,_dd.p.tid=6b04d2e800000000"),
    (
        "traceparent",
        "00-6b04d2e800000000e6a5cefc6c3cef4e-92de221fbdd042ee-01",
    ),
    (
        "tracestate",
        "dd=p:92de221fbdd042ee;s:1;t.dm:-0;t.tid:6b04d2e800000000",
    ),
];

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn round_trip(style: &[PropagationStyle], context: &SpanContext) -> Option<SpanContext> {
    let p = Propagator::new().with_extract(style).with_inject(style);
    let mut carrier = HashMap::new();
    p.inject(context, &mut carrier);
    p.extract(&carrier).map(|e| e.context().clone())
}

proptest! {
    #[test]
    fn inject_then_extract_keeps_ids_priority_and_origin(
        high in any::<u64>(),
        low in 1..=u64::MAX,
        span in 1..=u64::MAX,
        priority in -1i32..=2,
        origin in proptest::option::of("[a-zA-Z0-9_.=-][a-zA-Z0-9_.= -]{0,62}[a-zA-Z0-9_.=-]"),
        both in any::<bool>(),
    ) {
        let mut headers = HashMap::new();
        if let Some(origin) = &origin {
            headers.insert("x-datadog-origin".to_owned(), origin.clone());
        }
        headers.insert("x-datadog-trace-id".to_owned(), low.to_string());
        headers.insert("x-datadog-parent-id".to_owned(), span.to_string());
        headers.insert("x-datadog-sampling-priority".to_owned(), priority.to_string());
        if high != 0 {
            headers.insert("x-datadog-tags".to_owned(), format!("_dd.p.tid={high:016x}"));
        }
        let source = propagation::extract(&headers).unwrap().context().clone();
        prop_assert_eq!(source.trace_id(), TraceId::from_parts(high, low));
        let styles: &[&[PropagationStyle]] = if both {
            &[&[PropagationStyle::Datadog, PropagationStyle::TraceContext]]
        } else {
            &[&[PropagationStyle::Datadog], &[PropagationStyle::TraceContext]]
        };
        for style in styles {
            let back = round_trip(style, &source).expect("valid");
            prop_assert_eq!(back.trace_id(), source.trace_id());
            prop_assert_eq!(back.span_id(), source.span_id());
            prop_assert_eq!(back.sampling_priority(), priority);
            prop_assert_eq!(back.origin(), origin.as_deref());
        }
    }

    #[test]
    fn extraction_never_panics(
        name in prop::sample::select(vec![
            "traceparent", "tracestate", "x-datadog-trace-id", "x-datadog-parent-id",
            "x-datadog-sampling-priority", "x-datadog-origin", "x-datadog-tags",
        ]),
        value in ".{0,120}",
        tp in proptest::option::of("[0-9a-f-]{50,60}"),
    ) {
        let mut headers = headers(&VECTOR);
        headers.insert(name.to_owned(), value);
        if let Some(tp) = tp {
            headers.insert("traceparent".to_owned(), tp);
        }
        if let Some(extracted) = propagation::extract(&headers) {
            prop_assert!(!extracted.context().trace_id().is_zero());
            prop_assert!(!extracted.context().span_id().is_zero());
        }
    }

    /// Whatever tags arrive, in either style: what spanlog sends on extracts again, as
    /// the same trace, parent, priority and origin, and sends on the same tags (those
    /// that may travel) in each style.
    #[test]
    fn what_we_send_we_accept_and_send_again_unchanged(
        tags in proptest::collection::vec(("[ -~]{1,12}", "[ -~]{1,12}"), 0..5),
        in_tracestate in any::<bool>(),
        priority in -1i32..=2,
    ) {
        let mut headers = headers(&VECTOR);
        headers.insert("x-datadog-sampling-priority".to_owned(), priority.to_string());
        if in_tracestate {
            let mut dd = format!("dd=p:92de221fbdd042ee;s:{priority}");
            for (key, value) in &tags {
                dd.push_str(&format!(";t.{key}:{value}"));
            }
            headers.insert("tracestate".to_owned(), dd);
            headers.remove("x-datadog-tags");
            headers.remove("x-datadog-trace-id");
        } else {
            let list: Vec<String> = tags.iter().map(|(k, v)| format!("_dd.p.{k}={v}")).collect();
            headers.insert("x-datadog-tags".to_owned(), list.join(","));
        }
        let Some(first) = propagation::extract(&headers) else {
            // Only a tracestate that breaks W3C's own rules is refused.
            prop_assert!(in_tracestate);
            return Ok(());
        };
        let source = first.context().clone();
        for style in [PropagationStyle::Datadog, PropagationStyle::TraceContext] {
            let p = Propagator::new().with_extract(&[style]).with_inject(&[style]);
            let mut sent = HashMap::new();
            p.inject(&source, &mut sent);
            let back = p.extract(&sent).expect("what we send, we accept");
            let back = back.context();
            prop_assert_eq!(back.trace_id(), source.trace_id());
            prop_assert_eq!(back.span_id(), source.span_id());
            prop_assert_eq!(back.sampling_priority(), source.sampling_priority());
            prop_assert_eq!(back.origin(), source.origin());
            let mut again = HashMap::new();
            p.inject(back, &mut again);
            prop_assert_eq!(again, sent, "{}", style);
        }
    }
}
