//! SPEC §5: extraction and injection of Datadog and W3C trace context.

mod common;
#[path = "common/reference.rs"]
mod reference;

use std::collections::HashMap;

use spanlog::propagation::{self, PropagationStyle, Propagator};
use spanlog::{SpanContext, SpanId, TraceId, start_span};

fn headers(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn injected(context: &SpanContext) -> Vec<(String, String)> {
    let mut out = HashMap::new();
    Propagator::new().inject(context, &mut out);
    let mut out: Vec<_> = out.into_iter().collect();
    out.sort();
    out
}

fn sorted(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.sort();
    out
}

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

const TRACE: TraceId = TraceId::from_u128(0x6b04d2e800000000e6a5cefc6c3cef4e);
const SPAN: SpanId = SpanId::from_u64(10582933694091117294);

#[test]
fn spec_vector_inject() {
    // A trace started here: priority 1 by the default mechanism.
    assert_eq!(injected(&SpanContext::new(TRACE, SPAN)), sorted(&VECTOR));
}

#[test]
fn spec_vector_extract_then_inject_is_byte_for_byte() {
    for style in [PropagationStyle::Datadog, PropagationStyle::TraceContext] {
        let only = Propagator::new().with_extract(&[style]);
        let extracted = only.extract(&headers(&VECTOR)).expect("valid");
        assert_eq!(extracted.style(), style);
        let context = extracted.context();
        assert_eq!(context.trace_id(), TRACE);
        assert_eq!(context.span_id(), SPAN);
        assert_eq!(context.sampling_priority(), 1);
        assert_eq!(injected(context), sorted(&VECTOR), "{style}");
    }
}

#[test]
fn datadog_wins_when_both_are_valid() {
    let extracted = propagation::extract(&headers(&VECTOR)).unwrap();
    assert_eq!(extracted.style(), PropagationStyle::Datadog);
}

#[test]
fn header_names_are_case_insensitive() {
    let mixed = headers(&[
        ("X-Datadog-Trace-Id", "42"),
        ("X-DATADOG-PARENT-ID", "7"),
        ("X-Datadog-Origin", "synthetics"),
    ]);
    let context = propagation::extract(&mixed).unwrap().context().clone();
    assert_eq!(context.trace_id(), TraceId::from_parts(0, 42));
    assert_eq!(context.span_id(), SpanId::from_u64(7));
    assert_eq!(context.origin(), Some("synthetics"));
    assert_eq!(
        context.sampling_priority(),
        1,
        "no upstream decision: kept by default"
    );
    let mut out = headers(&[("X-Datadog-Trace-Id", "1")]);
    Propagator::new().inject(&context, &mut out);
    assert_eq!(
        out.keys()
            .filter(|k| k.eq_ignore_ascii_case("x-datadog-trace-id"))
            .count(),
        1
    );
    assert_eq!(out["x-datadog-trace-id"], "42");
}

#[test]
fn priority_origin_and_128_bit_ids_travel_through_a_child() {
    let incoming = headers(&[
        ("x-datadog-trace-id", "16619917583423696718"),
        ("x-datadog-parent-id", "5"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-origin", "rum"),
        (
            "x-datadog-tags",
            "_dd.p.tid=6b04d2e800000000,_dd.p.dm=-4,_dd.p.usr.id=baz64,other=dropped",
        ),
    ]);
    let remote = propagation::extract(&incoming).unwrap();
    let child = start_span("web.request").child_of(remote).start();
    assert_eq!(child.trace_id(), TRACE);
    assert_eq!(child.parent_id(), SpanId::from_u64(5));
    let out: HashMap<_, _> = injected(child.context()).into_iter().collect();
    assert_eq!(out["x-datadog-trace-id"], "16619917583423696718");
    assert_eq!(out["x-datadog-parent-id"], child.span_id().to_string());
    assert_eq!(out["x-datadog-sampling-priority"], "2");
    assert_eq!(out["x-datadog-origin"], "rum");
    assert_eq!(
        out["x-datadog-tags"],
        "_dd.p.dm=-4,_dd.p.usr.id=baz64,_dd.p.tid=6b04d2e800000000"
    );
    assert_eq!(
        out["traceparent"],
        format!(
            "00-6b04d2e800000000e6a5cefc6c3cef4e-{:016x}-01",
            child.span_id().to_u64()
        )
    );
    assert_eq!(
        out["tracestate"],
        format!(
            "dd=p:{:016x};s:2;o:rum;t.dm:-4;t.usr.id:baz64;t.tid:6b04d2e800000000",
            child.span_id().to_u64()
        )
    );
}

#[test]
fn other_vendors_tracestate_members_survive_a_hop() {
    let incoming = headers(&[
        (
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ),
        (
            "tracestate",
            "congo=t61rcWkgMzE, dd=s:2;o:rum;t.dm:-4 ,rojo=00f067aa0ba902b7",
        ),
    ]);
    let remote = propagation::extract(&incoming).unwrap();
    assert_eq!(remote.style(), PropagationStyle::TraceContext);
    assert_eq!(remote.context().sampling_priority(), 2);
    assert_eq!(remote.context().origin(), Some("rum"));
    let child = start_span("x").child_of(remote).start();
    let out: HashMap<_, _> = injected(child.context()).into_iter().collect();
    assert_eq!(
        out["tracestate"],
        format!(
            "dd=p:{:016x};s:2;o:rum;t.dm:-4;t.tid:0af7651916cd43dd,congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
            child.span_id().to_u64()
        )
    );
    assert_eq!(
        out["x-datadog-tags"],
        "_dd.p.dm=-4,_dd.p.tid=0af7651916cd43dd"
    );
}

#[test]
fn foreign_members_are_kept_when_datadog_headers_win() {
    let mut incoming = headers(&VECTOR);
    incoming.insert(
        "tracestate".into(),
        "dd=s:1;t.dm:-0,congo=t61rcWkgMzE".into(),
    );
    let remote = propagation::extract(&incoming).unwrap();
    assert_eq!(remote.style(), PropagationStyle::Datadog);
    let out: HashMap<_, _> = injected(remote.context()).into_iter().collect();
    assert!(
        out["tracestate"].ends_with(",congo=t61rcWkgMzE"),
        "{}",
        out["tracestate"]
    );
}

#[test]
fn sampled_flag_overrides_a_contradicting_dd_priority() {
    let extract = |flags: &str, state: &str| {
        let h = headers(&[
            (
                "traceparent",
                &*format!("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-{flags}"),
            ),
            ("tracestate", state),
        ]);
        propagation::extract(&h)
            .unwrap()
            .context()
            .sampling_priority()
    };
    assert_eq!(extract("01", "dd=s:2"), 2);
    assert_eq!(extract("01", "dd=s:-1"), 1);
    assert_eq!(extract("00", "dd=s:2"), 0);
    assert_eq!(extract("00", "dd=s:-1"), -1);
    assert_eq!(extract("00", "congo=x"), 0);
    assert_eq!(extract("01", "congo=x"), 1);
}

#[test]
fn a_child_of_an_extracted_context_logs_the_remote_trace_id() {
    let logger = spanlog::LoggerBuilder::new()
        .config(spanlog::Config::new())
        .wrap(common::Capture::new());
    let remote = propagation::extract(&headers(&VECTOR)).unwrap();
    let span = start_span("web.request").child_of(remote).entered();
    log::info!(logger: &logger, "handled request");
    assert_eq!(
        logger.inner().lines(),
        [format!(
            r#"INFO handled request dd.trace_id="6b04d2e800000000e6a5cefc6c3cef4e" dd.span_id="{}" dd.parent_id="10582933694091117294""#,
            span.span_id()
        )]
    );
}

#[test]
fn nothing_is_injected_for_zero_ids() {
    assert!(injected(&SpanContext::new(TraceId::ZERO, SPAN)).is_empty());
    assert!(injected(&SpanContext::new(TRACE, SpanId::ZERO)).is_empty());
}

#[test]
fn sixty_four_bit_traces_send_no_tid() {
    let out: HashMap<_, _> = injected(&SpanContext::new(
        TraceId::from_parts(0, 42),
        SpanId::from_u64(1),
    ))
    .into_iter()
    .collect();
    assert_eq!(out["x-datadog-tags"], "_dd.p.dm=-0");
    assert_eq!(
        out["traceparent"],
        "00-0000000000000000000000000000002a-0000000000000001-01"
    );
    assert_eq!(out["tracestate"], "dd=p:0000000000000001;s:1;t.dm:-0");
}

mod malformed {
    use super::*;

    fn none(pairs: &[(&str, &str)]) {
        assert_eq!(propagation::extract(&headers(pairs)), None, "{pairs:?}");
    }

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

    #[test]
    fn no_headers() {
        none(&[]);
        none(&[("content-type", "text/plain")]);
    }

    #[test]
    fn traceparent_version_00_must_be_55_characters() {
        none(&[("traceparent", &TP[..54])]);
        none(&[("traceparent", &format!("{TP}0"))]);
        none(&[("traceparent", &format!("{TP}-extra"))]);
    }

    #[test]
    fn traceparent_must_be_lower_case_hex() {
        none(&[("traceparent", &TP.to_uppercase())]);
        none(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319C-b7ad6b7169203331-01",
        )]);
        none(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01",
        )]);
        none(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333+-01",
        )]);
        none(&[(
            "traceparent",
            "00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )]);
    }

    /// A `HeaderMap` hands its bytes over unchecked: the W3C parser must then take what
    /// it takes from text, and nothing more. Every value below, and every one-byte change
    /// of a valid `traceparent`, reads the same from both carriers.
    #[cfg(feature = "http")]
    #[test]
    fn header_maps_read_traceparent_as_text_carriers_do() {
        let read_map = |value: &[u8]| {
            let mut map = http::HeaderMap::new();
            map.insert("traceparent", http::HeaderValue::from_bytes(value).ok()?);
            Some(propagation::extract(&map))
        };
        let mut values = vec![
            TP.as_bytes().to_vec(),
            format!(" {TP}").into_bytes(),
            format!("{TP}\t").into_bytes(),
            format!("  {}", &TP[..53]).into_bytes(),
            TP.as_bytes()[..54].to_vec(),
            format!("01{}-x", &TP[2..]).into_bytes(),
            format!("01{}-caf\u{e9}", &TP[2..]).into_bytes(),
        ];
        for at in 0..TP.len() {
            for byte in [b'-', b'0', b'f', b'g', b'A', b' ', b'\t', 0x80, 0xe9, 0xff] {
                let mut value = TP.as_bytes().to_vec();
                value[at] = byte;
                values.push(value);
            }
        }
        for value in values {
            let Some(from_map) = read_map(&value) else {
                continue; // not a valid header value
            };
            match std::str::from_utf8(&value) {
                Ok(text)
                    if value
                        .iter()
                        .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b)) =>
                {
                    let from_text = propagation::extract(&headers(&[("traceparent", text)]));
                    assert_eq!(from_map, from_text, "{text:?}");
                }
                _ => assert_eq!(from_map, None, "{value:?}"),
            }
        }
        assert!(read_map(TP.as_bytes()).unwrap().is_some());
        assert!(read_map(format!(" {TP}").as_bytes()).unwrap().is_some());
    }

    #[test]
    fn traceparent_zero_ids() {
        none(&[(
            "traceparent",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        )]);
        none(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        )]);
    }

    #[test]
    fn traceparent_version_ff() {
        none(&[(
            "traceparent",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )]);
    }

    #[test]
    fn later_versions_may_append_fields_after_a_dash() {
        let later = "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-future";
        assert!(propagation::extract(&headers(&[("traceparent", later)])).is_some());
        none(&[(
            "traceparent",
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01x",
        )]);
    }

    /// The W3C context with `state` as its tracestate: continued (an invalid
    /// tracestate never affects traceparent), and what is sent on.
    fn continued_with(state: &str) -> HashMap<String, String> {
        let remote = propagation::extract(&headers(&[("traceparent", TP), ("tracestate", state)]))
            .unwrap_or_else(|| panic!("tracestate {state:?} must not stop the trace"));
        assert_eq!(
            remote.context().trace_id(),
            TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c)
        );
        assert_eq!(
            remote.context().span_id(),
            SpanId::from_u64(0xb7ad6b7169203331)
        );
        injected(remote.context()).into_iter().collect()
    }

    /// The tracestate members sent on after ours.
    fn others(out: &HashMap<String, String>) -> Vec<&str> {
        let state = &out["tracestate"];
        assert!(state.starts_with("dd="), "{state}");
        state.split(',').skip(1).collect()
    }

    #[test]
    fn tracestate_over_32_members_is_discarded_not_the_trace() {
        let members: Vec<String> = (0..33).map(|i| format!("v{i}=x")).collect();
        let out = continued_with(&members.join(","));
        assert!(others(&out).is_empty(), "{out:?}");
        // 32 are kept; with ours in front, the last one makes way (at most 32 in all).
        let out = continued_with(&members[..32].join(","));
        assert_eq!(
            others(&out),
            members[..31].iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    #[test]
    fn tracestate_breaking_the_grammar_is_discarded_not_the_trace() {
        for state in [
            "noequals",
            "UPPER=x",
            "a=b=c",
            "a=,b=3",
            "@a=1,b=2",
            "a =1",
            "a.b=1",
            "a=tab\tinside",
            "a=\u{7f}",
            &format!("{}=1,b=2", "z".repeat(257)),
        ] {
            let out = continued_with(state);
            assert!(others(&out).is_empty(), "{state:?}: {out:?}");
            assert_eq!(out["x-datadog-sampling-priority"], "1", "{state:?}");
        }
    }

    #[test]
    fn repeated_tracestate_keys_keep_the_first() {
        assert_eq!(others(&continued_with("a=1,a=2,b=3")), ["a=1", "b=3"]);
    }

    #[test]
    fn unreadable_dd_items_are_left_out_not_the_member() {
        // `s` that is not a number: the sampled flag decides.
        let out = continued_with("dd=s:abc;t.usr.id:x,b=1");
        assert_eq!(out["x-datadog-sampling-priority"], "1");
        assert!(out["x-datadog-tags"].contains("_dd.p.usr.id=x"), "{out:?}");
        assert_eq!(others(&out), ["b=1"]);
        let out = continued_with("dd=nocolon;s:2");
        assert_eq!(out["x-datadog-sampling-priority"], "2");
    }

    #[test]
    fn oversize_headers() {
        let long = format!(
            "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-{}",
            "a".repeat(9000)
        );
        none(&[("traceparent", &long)]);
        let state = format!("a={}", "x".repeat(9000));
        assert!(others(&continued_with(&state)).is_empty());
    }

    /// Tags Datadog's tracers cannot read are dropped, not the trace: an oversize or
    /// malformed `x-datadog-tags` leaves trace and parent, and sends no tag on.
    #[test]
    fn unreadable_datadog_tags_keep_the_trace() {
        let big = format!("_dd.p.big={}", "x".repeat(600));
        for tags in [
            big.as_str(),
            "_dd.p.a b=c",
            "_dd.p.usr=",
            "a=1,,b=2",
            "_dd.p.a=é",
            "_dd.p.tid=",
        ] {
            let incoming = headers(&[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-tags", tags),
            ]);
            let remote = propagation::extract(&incoming).expect(tags);
            assert_eq!(
                remote.context().trace_id(),
                TraceId::from_parts(0, 1),
                "{tags}"
            );
            assert_eq!(remote.context().span_id(), SpanId::from_u64(2), "{tags}");
            let out: HashMap<_, _> = injected(remote.context()).into_iter().collect();
            // Only the decision made here goes on.
            assert_eq!(out["x-datadog-tags"], "_dd.p.dm=-0", "{tags}: {out:?}");
            assert!(
                out["tracestate"].starts_with("dd=p:0000000000000002;s:"),
                "{tags}"
            );
        }
    }

    #[test]
    fn invalid_tracestate_ignored_with_invalid_traceparent() {
        none(&[("traceparent", "garbage"), ("tracestate", "dd=s:2;o:rum")]);
    }

    #[test]
    fn datadog_ids() {
        none(&[("x-datadog-trace-id", "0"), ("x-datadog-parent-id", "2")]);
        none(&[("x-datadog-trace-id", "abc"), ("x-datadog-parent-id", "2")]);
        none(&[("x-datadog-trace-id", "-1"), ("x-datadog-parent-id", "2")]);
        none(&[
            ("x-datadog-trace-id", "18446744073709551616"),
            ("x-datadog-parent-id", "2"),
        ]);
        none(&[("x-datadog-trace-id", "1"), ("x-datadog-parent-id", "two")]);
        none(&[("x-datadog-parent-id", "1")]);
    }

    /// Synthetics sends `x-datadog-parent-id: 0`: Datadog's tracers continue the trace
    /// (keeping its origin and decision) with no parent, and so does spanlog; likewise
    /// when the parent id is missing.
    #[test]
    fn a_zero_or_missing_datadog_parent_continues_the_trace() {
        for parent in [Some("0"), None] {
            let mut pairs = vec![
                ("x-datadog-trace-id", "123456789"),
                ("x-datadog-sampling-priority", "2"),
                ("x-datadog-origin", "synthetics"),
            ];
            pairs.extend(parent.map(|p| ("x-datadog-parent-id", p)));
            let remote = propagation::extract(&headers(&pairs)).expect("continued");
            assert_eq!(
                remote.context().trace_id(),
                TraceId::from_parts(0, 123456789)
            );
            assert!(remote.context().span_id().is_zero());
            assert_eq!(remote.context().origin(), Some("synthetics"));
            let span = start_span("synthetic.request").child_of(remote).start();
            assert_eq!(span.trace_id(), TraceId::from_parts(0, 123456789));
            assert!(span.parent_id().is_zero());
            let out: HashMap<_, _> = injected(span.context()).into_iter().collect();
            assert_eq!(out["x-datadog-trace-id"], "123456789");
            assert_eq!(out["x-datadog-parent-id"], span.span_id().to_string());
            assert_eq!(out["x-datadog-sampling-priority"], "2");
            assert_eq!(out["x-datadog-origin"], "synthetics");
        }
    }

    /// A malformed `_dd.p.tid` drops only the upper half of the trace id (the lower
    /// half and the other tags stand), as Datadog's tracers do.
    #[test]
    fn a_malformed_datadog_tid_drops_only_the_tid() {
        for tid in [
            "6B04D2E800000000",
            "6b04d2e8",
            "6b04d2e8000000000",
            "6b04d2e80000000g",
        ] {
            let tags = format!("_dd.p.tid={tid},_dd.p.usr.id=baz64");
            let remote = propagation::extract(&headers(&[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-tags", &tags),
            ]))
            .expect(tid);
            assert_eq!(
                remote.context().trace_id(),
                TraceId::from_parts(0, 1),
                "{tid}"
            );
            let out: HashMap<_, _> = injected(remote.context()).into_iter().collect();
            assert_eq!(
                out["x-datadog-tags"], "_dd.p.dm=-0,_dd.p.usr.id=baz64",
                "{tid}"
            );
        }
    }

    /// Origins are taken as they come (Datadog's tracers do not check them), sent on
    /// unchanged in `x-datadog-origin`, and with `,`, `;` and `~` replaced in
    /// `tracestate`, whose syntax cannot carry them.
    #[test]
    fn datadog_origins_travel_as_they_came() {
        none(&[
            ("x-datadog-trace-id", "1"),
            ("x-datadog-parent-id", "2"),
            ("x-datadog-sampling-priority", "high"),
        ]);
        let long = "o".repeat(65);
        for (origin, in_tracestate) in [
            ("synthetics;=web,z", "synthetics_~web_z"),
            ("a~b", "a_b"),
            (long.as_str(), long.as_str()),
        ] {
            let remote = propagation::extract(&headers(&[
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "2"),
                ("x-datadog-origin", origin),
            ]))
            .expect(origin);
            assert_eq!(remote.context().origin(), Some(origin));
            let out: HashMap<_, _> = injected(remote.context()).into_iter().collect();
            assert_eq!(out["x-datadog-origin"], origin);
            assert!(
                out["tracestate"].contains(&format!(";o:{in_tracestate}")),
                "{out:?}"
            );
        }
        // Not printable ASCII: the origin is left out, not the trace.
        let remote = propagation::extract(&headers(&[
            ("x-datadog-trace-id", "1"),
            ("x-datadog-parent-id", "2"),
            ("x-datadog-origin", "é"),
        ]))
        .expect("continued");
        assert_eq!(remote.context().origin(), None);
    }

    #[test]
    fn an_invalid_datadog_set_falls_back_to_a_valid_w3c_one() {
        let extracted = propagation::extract(&headers(&[
            ("x-datadog-trace-id", "zzz"),
            ("x-datadog-parent-id", "2"),
            ("traceparent", TP),
        ]))
        .unwrap();
        assert_eq!(extracted.style(), PropagationStyle::TraceContext);
    }

    #[test]
    fn non_ascii_input_does_not_panic() {
        none(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333é-01",
        )]);
        none(&[(
            "traceparent",
            "ééééééééééééééééééééééééééééééééééééééééééééééééééééééé",
        )]);
        none(&[("x-datadog-trace-id", "１２"), ("x-datadog-parent-id", "2")]);
    }
}

/// Found by the fuzzer: a context that arrives without a sampling decision is decided
/// here (kept, `-0`), and says so consistently before and after a hop.
#[test]
fn no_upstream_decision_round_trips() {
    let remote = propagation::extract(&headers(&[
        ("x-datadog-trace-id", "16619917583423696718"),
        ("x-datadog-parent-id", "10582933694091117294"),
        ("x-datadog-tags", "_dd.p.usr.id=baz64"),
    ]))
    .unwrap();
    assert_eq!(remote.context().sampling_priority(), 1);
    let out = injected(remote.context());
    let out: HashMap<_, _> = out.into_iter().collect();
    assert_eq!(out["x-datadog-sampling-priority"], "1");
    assert_eq!(out["x-datadog-tags"], "_dd.p.dm=-0,_dd.p.usr.id=baz64");
    let again = propagation::extract(&out).unwrap();
    assert_eq!(again.context().sampling_priority(), 1);
}

#[cfg(feature = "http")]
#[test]
fn http_header_maps_carry_context_both_ways() {
    let mut incoming = http::HeaderMap::new();
    incoming.insert(
        "Traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .unwrap(),
    );
    // Two tracestate headers make one list, as HTTP says.
    incoming.append("tracestate", "dd=s:2;o:rum".parse().unwrap());
    incoming.append("tracestate", "congo=t61rcWkgMzE".parse().unwrap());
    let remote = propagation::extract(&incoming).unwrap();
    assert_eq!(
        remote.context().trace_id(),
        TraceId::from_u128(0x0af7651916cd43dd8448eb211c80319c)
    );
    assert_eq!(remote.context().sampling_priority(), 2);
    let child = start_span("x").child_of(remote).start();
    let mut outgoing = http::HeaderMap::new();
    outgoing.insert("x-datadog-trace-id", "stale".parse().unwrap());
    propagation::inject(child.context(), &mut outgoing);
    assert_eq!(outgoing.get_all("x-datadog-trace-id").iter().count(), 1);
    assert_eq!(outgoing["x-datadog-trace-id"], "9532127138774266268");
    assert_eq!(outgoing["x-datadog-origin"], "rum");
    assert!(
        outgoing["tracestate"]
            .to_str()
            .unwrap()
            .ends_with(",congo=t61rcWkgMzE")
    );
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key} in {pairs:?}"))
}

#[test]
fn manual_keep_and_reject_travel_in_both_styles() {
    let kept = start_span("web.request").root().start();
    spanlog::sampling::keep(kept.context());
    let out = injected(kept.context());
    assert_eq!(value(&out, "x-datadog-sampling-priority"), "2");
    assert!(
        value(&out, "x-datadog-tags").starts_with("_dd.p.dm=-4"),
        "{out:?}"
    );
    assert!(value(&out, "traceparent").ends_with("-01"), "{out:?}");
    assert!(
        value(&out, "tracestate").contains(";s:2;t.dm:-4"),
        "{out:?}"
    );

    let rejected = start_span("web.request").root().start();
    spanlog::sampling::reject(rejected.context());
    let out = injected(rejected.context());
    assert_eq!(value(&out, "x-datadog-sampling-priority"), "-1");
    assert!(
        !value(&out, "x-datadog-tags").contains("_dd.p.dm"),
        "{out:?}"
    );
    assert!(value(&out, "traceparent").ends_with("-00"), "{out:?}");
    assert!(value(&out, "tracestate").contains(";s:-1"), "{out:?}");
    assert!(!value(&out, "tracestate").contains("t.dm"), "{out:?}");

    // A child of the rejected span carries the trace's decision.
    let child = start_span("db.query")
        .child_of(rejected.context().clone())
        .start();
    assert_eq!(
        value(&injected(child.context()), "x-datadog-sampling-priority"),
        "-1"
    );
}

#[test]
fn an_upstream_decision_is_kept_and_a_reject_sends_no_decision_maker() {
    let incoming = headers(&[
        ("x-datadog-trace-id", "777"),
        ("x-datadog-parent-id", "888"),
        ("x-datadog-sampling-priority", "0"),
        ("x-datadog-tags", "_dd.p.dm=-1"),
    ]);
    let remote = Propagator::new().extract(&incoming).unwrap();
    let span = start_span("web.request").child_of(remote).start();
    let out = injected(span.context());
    assert_eq!(value(&out, "x-datadog-sampling-priority"), "0");
    assert!(
        out.iter()
            .all(|(k, v)| k != "x-datadog-tags" || !v.contains("_dd.p.dm")),
        "{out:?}"
    );
    assert_eq!(span.sampling_decision(), None, "upstream decided");
    // Without a decision upstream, this process decides: kept by default.
    let undecided = headers(&[
        ("x-datadog-trace-id", "779"),
        ("x-datadog-parent-id", "888"),
    ]);
    let remote = Propagator::new().extract(&undecided).unwrap();
    let span = start_span("web.request").child_of(remote).start();
    let out = injected(span.context());
    assert_eq!(value(&out, "x-datadog-sampling-priority"), "1");
    assert!(
        value(&out, "x-datadog-tags").contains("_dd.p.dm=-0"),
        "{out:?}"
    );
}

/// W3C Trace Context level 2, as its validation suite checks it (re-expressed here):
/// what a service sends on for the `traceparent` and `tracestate` it received.
mod w3c_level_2 {
    use super::*;

    const TRACE: &str = "12345678901234567890123456789012";

    /// The headers a child of the incoming context sends on (a new trace when there is
    /// no valid context).
    fn forwarded(flags: &str, tracestate: Option<&str>) -> HashMap<String, String> {
        let traceparent = format!("00-{TRACE}-1234567890123456-{flags}");
        let mut pairs = vec![("traceparent", traceparent.as_str())];
        pairs.extend(tracestate.map(|s| ("tracestate", s)));
        let mut span = start_span("w3c.request");
        if let Some(remote) = propagation::extract(&headers(&pairs)) {
            span = span.child_of(remote);
        }
        let span = span.start();
        injected(span.context()).into_iter().collect()
    }

    fn members(out: &HashMap<String, String>) -> Vec<(String, String)> {
        out["tracestate"]
            .split(',')
            .map(|m| {
                let (k, v) = m.split_once('=').expect("key=value");
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    fn value(out: &HashMap<String, String>, key: &str) -> Option<String> {
        members(out)
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    #[test]
    fn the_random_flag_is_propagated_with_the_trace() {
        for (incoming, outgoing) in [("02", "02"), ("03", "03"), ("01", "01"), ("00", "00")] {
            let out = forwarded(incoming, None);
            let traceparent = &out["traceparent"];
            assert!(
                traceparent.starts_with(&format!("00-{TRACE}-")),
                "{traceparent}"
            );
            assert!(!traceparent.contains("-1234567890123456-"), "a new parent");
            assert!(
                traceparent.ends_with(&format!("-{outgoing}")),
                "{incoming}: {traceparent}"
            );
        }
        // Traces started here do not claim it, as Datadog's tracers do not.
        let span = start_span("new").start();
        let out: HashMap<_, _> = injected(span.context()).into_iter().collect();
        assert!(out["traceparent"].ends_with("-01"), "{out:?}");
    }

    #[test]
    fn the_random_flag_survives_a_datadog_first_extraction() {
        let remote = propagation::extract(&headers(&[
            ("x-datadog-trace-id", "8687463697196027922"),
            ("x-datadog-parent-id", "1311768467284833366"),
            ("x-datadog-tags", "_dd.p.tid=1234567890123456"),
            ("traceparent", &format!("00-{TRACE}-1234567890123456-03")),
        ]))
        .unwrap();
        assert_eq!(remote.style(), PropagationStyle::Datadog);
        let out: HashMap<_, _> = injected(remote.context()).into_iter().collect();
        assert!(out["traceparent"].ends_with("-03"), "{out:?}");
    }

    #[test]
    fn keys_follow_the_level_2_grammar() {
        let all = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let vendor = format!("{all}@a-z0-9_-*/");
        let values: String = (0x20u8..=0x7e)
            .filter(|&b| b != b',' && b != b'=')
            .map(char::from)
            .collect();
        for key in [
            all.to_owned(),
            vendor,
            "foo@".to_owned(),
            "foo@@bar".to_owned(),
            "foo@bar@baz".to_owned(),
            "z".repeat(256),
            format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            format!("{}@v", "t".repeat(242)),
            format!("t@{}", "v".repeat(15)),
        ] {
            let out = forwarded("00", Some(&format!("foo=1,{key}={values}")));
            assert_eq!(value(&out, "foo").as_deref(), Some("1"), "{key}");
            assert_eq!(value(&out, &key).as_deref(), Some(values.as_str()), "{key}");
        }
        for bad in [
            "@foo".to_owned(),
            "z".repeat(257),
            "FOO".to_owned(),
            "foo.bar".to_owned(),
        ] {
            let out = forwarded("00", Some(&format!("foo=1,{bad}=1")));
            assert_eq!(
                value(&out, "foo"),
                None,
                "{bad}: the whole tracestate is discarded"
            );
            assert!(
                out["traceparent"].contains(TRACE),
                "{bad}: the trace is not"
            );
        }
    }

    #[test]
    fn optional_white_space_around_members_is_dropped() {
        for state in [
            "foo=1 \t , \t bar=2, \t baz=3",
            "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
        ] {
            let out = forwarded("00", Some(state));
            let others: Vec<_> = members(&out).into_iter().skip(1).collect();
            assert_eq!(
                others,
                [("foo", "1"), ("bar", "2"), ("baz", "3")]
                    .map(|(k, v)| (k.to_owned(), v.to_owned())),
                "{state:?}"
            );
        }
        for state in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
            assert_eq!(
                value(&forwarded("00", Some(state)), "foo").as_deref(),
                Some("1"),
                "{state:?}"
            );
        }
    }

    #[test]
    fn an_empty_tracestate_is_discarded() {
        let out = forwarded("00", Some(""));
        assert_eq!(members(&out).len(), 1, "only ours: {out:?}");
        assert_eq!(
            value(&forwarded("00", Some("foo=1,")), "foo").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn at_most_32_members_go_on_ours_first() {
        let incoming: Vec<String> = (1..=32).map(|i| format!("bar{i:02}={i:02}")).collect();
        let out = forwarded("00", Some(&incoming.join(",")));
        let sent = members(&out);
        assert_eq!(sent.len(), 32);
        assert_eq!(sent[0].0, "dd");
        assert_eq!(value(&out, "bar01").as_deref(), Some("01"));
        // 33 is over the limit: the list is discarded.
        let incoming: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        let out = forwarded("00", Some(&incoming.join(",")));
        assert_eq!(value(&out, "bar01"), None);
    }

    /// A `dd` member that contradicts the sampled flag loses, as in Datadog's tracers;
    /// and the decision maker that went with the overridden decision goes with it:
    /// reset to the default (`-0`) when the flag keeps the trace, dropped when it
    /// drops it.
    #[test]
    fn the_sampled_flag_overrides_dd_and_its_decision_maker() {
        let out = forwarded("01", Some("foo=1,dd=s:-1;t.dm:-4;t.usr.id:baz64~~"));
        assert_eq!(out["x-datadog-sampling-priority"], "1");
        assert_eq!(
            out["x-datadog-tags"],
            "_dd.p.dm=-0,_dd.p.usr.id=baz64==,_dd.p.tid=1234567890123456"
        );
        let dd = value(&out, "dd").unwrap();
        assert!(dd.contains(";t.dm:-0;"), "{dd}");
        let out = forwarded("00", Some("foo=1,dd=s:2;t.dm:-4;t.usr.id:baz64~~"));
        assert_eq!(out["x-datadog-sampling-priority"], "0");
        assert!(!out["x-datadog-tags"].contains("_dd.p.dm"), "{out:?}");
        assert!(!value(&out, "dd").unwrap().contains("t.dm:"), "{out:?}");
        // Agreeing: the decision maker stands.
        let out = forwarded("01", Some("dd=s:2;t.dm:-4"));
        assert_eq!(out["x-datadog-sampling-priority"], "2");
        assert!(out["x-datadog-tags"].starts_with("_dd.p.dm=-4"), "{out:?}");
    }

    /// `t.tid` in `dd` is not read: the trace id's upper half is `traceparent`'s,
    /// whatever `t.tid` says, malformed or not.
    #[test]
    fn the_trace_id_is_traceparents_whatever_t_tid_says() {
        for tid in ["XXXX", "640cfd8d0000ffff", "1234567890123456"] {
            let out = forwarded("01", Some(&format!("dd=s:1;t.tid:{tid}")));
            assert!(out["traceparent"].contains(TRACE), "{tid}");
            assert!(
                out["x-datadog-tags"].contains("_dd.p.tid=1234567890123456"),
                "{tid}: {out:?}"
            );
        }
    }
}

/// Zipkin's B3, both forms, as Datadog's tracers read and write it.
mod b3 {
    use super::*;

    fn with(style: PropagationStyle) -> Propagator {
        Propagator::new()
            .with_extract(&[style])
            .with_inject(&[style])
    }

    fn extract(style: PropagationStyle, pairs: &[(&str, &str)]) -> Option<SpanContext> {
        with(style).extract(&headers(pairs)).map(SpanContext::from)
    }

    /// A context of the given trace, span and decision, as another service sent it.
    fn remote(trace: u128, span: u64, priority: i32) -> SpanContext {
        let high = format!("_dd.p.tid={:016x}", (trace >> 64) as u64);
        let mut pairs = vec![
            ("x-datadog-trace-id".to_owned(), (trace as u64).to_string()),
            ("x-datadog-parent-id".to_owned(), span.to_string()),
            (
                "x-datadog-sampling-priority".to_owned(),
                priority.to_string(),
            ),
        ];
        if trace >> 64 != 0 {
            pairs.push(("x-datadog-tags".to_owned(), high));
        }
        let pairs: HashMap<String, String> = pairs.into_iter().collect();
        propagation::Propagator::new()
            .with_extract(&[PropagationStyle::Datadog])
            .extract(&pairs)
            .unwrap()
            .into()
    }

    fn inject(style: PropagationStyle, context: &SpanContext) -> HashMap<String, String> {
        let mut out = HashMap::new();
        with(style).inject(context, &mut out);
        out
    }

    #[test]
    fn multi_headers_both_ways() {
        let context = extract(
            PropagationStyle::B3Multi,
            &[
                ("X-B3-TraceId", "000000000000000000000000075bcd15"),
                ("x-b3-spanid", "000000003ade68b1"),
                ("x-b3-sampled", "1"),
            ],
        )
        .unwrap();
        assert_eq!(context.trace_id(), TraceId::from_u128(123456789));
        assert_eq!(context.span_id(), SpanId::from_u64(987654321));
        assert_eq!(context.sampling_priority(), 1);
        let span = start_span("b3").child_of(context).start();
        let out = inject(PropagationStyle::B3Multi, span.context());
        assert_eq!(
            out["x-b3-traceid"], "00000000075bcd15",
            "16 digits: a 64-bit trace id"
        );
        assert_eq!(
            out["x-b3-spanid"],
            format!("{:016x}", span.span_id().to_u64())
        );
        assert_eq!(out["x-b3-sampled"], "1");
        assert_eq!(out.len(), 3, "{out:?}");
    }

    #[test]
    fn single_header_both_ways() {
        let context = extract(
            PropagationStyle::B3Single,
            &[(
                "b3",
                "640cfd8d00000000abcdefab12345678-000000003ade68b1-d-05e3ac9a4f6e3b90",
            )],
        )
        .unwrap();
        assert_eq!(
            context.trace_id(),
            TraceId::from_u128(0x640cfd8d00000000abcdefab12345678)
        );
        assert_eq!(context.span_id(), SpanId::from_u64(0x3ade68b1));
        assert_eq!(context.sampling_priority(), 2);
        let out = inject(
            PropagationStyle::B3Single,
            &remote(0x640cfd8d00000000abcdefab12345678, 0x3ade68b1, 2),
        );
        assert_eq!(
            out["b3"],
            "640cfd8d00000000abcdefab12345678-000000003ade68b1-d"
        );
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn invalid_b3_starts_a_new_trace() {
        for pairs in [
            &[
                ("x-b3-traceid", "0"),
                ("x-b3-spanid", "0"),
                ("x-b3-sampled", "1"),
            ][..],
            &[("x-b3-traceid", "xyz"), ("x-b3-spanid", "1")],
            &[("x-b3-traceid", &"1".repeat(33)), ("x-b3-spanid", "1")],
            &[("x-b3-traceid", "1"), ("x-b3-spanid", &"1".repeat(17))],
            &[("x-b3-spanid", "1")],
        ] {
            assert_eq!(extract(PropagationStyle::B3Multi, pairs), None, "{pairs:?}");
        }
        for single in ["0", "1", "d", "", "garbage", "0-1-1", "1-x-1"] {
            assert_eq!(
                extract(PropagationStyle::B3Single, &[("b3", single)]),
                None,
                "{single:?}"
            );
        }
    }

    /// The reference: Datadog's Python tracer reads and writes the same headers the
    /// same way, both forms, both id widths, every decision.
    #[test]
    fn b3_agrees_with_ddtrace_both_ways() {
        let Some(python) = reference::ddtrace_python() else {
            return;
        };
        let t32 = "640cfd8d00000000abcdefab12345678";
        let t16 = "00000000075bcd15";
        let s = "000000003ade68b1";
        let upper = "ABCDEF0000000000000000000000000F";
        let multi = |pairs: &[(&str, &str)]| {
            (
                "b3multi",
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        let single = |value: &str| ("b3", vec![("b3".to_owned(), value.to_owned())]);
        let extractions = vec![
            multi(&[
                ("x-b3-traceid", t32),
                ("x-b3-spanid", s),
                ("x-b3-sampled", "1"),
            ]),
            multi(&[
                ("x-b3-traceid", t16),
                ("x-b3-spanid", s),
                ("x-b3-sampled", "0"),
            ]),
            multi(&[
                ("x-b3-traceid", t16),
                ("x-b3-spanid", s),
                ("x-b3-flags", "1"),
            ]),
            multi(&[
                ("x-b3-traceid", t16),
                ("x-b3-spanid", s),
                ("x-b3-sampled", "0"),
                ("x-b3-flags", "1"),
            ]),
            multi(&[("x-b3-traceid", t16), ("x-b3-spanid", s)]),
            multi(&[
                ("x-b3-traceid", upper),
                ("x-b3-spanid", s),
                ("x-b3-sampled", "1"),
            ]),
            multi(&[("x-b3-traceid", t16)]),
            multi(&[
                ("x-b3-traceid", "0"),
                ("x-b3-spanid", "0"),
                ("x-b3-sampled", "1"),
            ]),
            multi(&[("x-b3-traceid", "nothex"), ("x-b3-spanid", s)]),
            single(&format!("{t32}-{s}-1")),
            single(&format!("{t16}-{s}")),
            single(&format!("{t16}-{s}-0")),
            single(&format!("{t16}-{s}-d-05e3ac9a4f6e3b90")),
            single(&format!("{t16}-{s}-x")),
            single(&format!("{upper}-{s}-1")),
            single(&format!("0-{s}-1")),
            single("garbage"),
        ];
        let injections: Vec<(&str, u128, u64, i32)> = [("b3multi", 0), ("b3", 0)]
            .into_iter()
            .flat_map(|(style, _)| {
                [-1, 0, 1, 2].into_iter().flat_map(move |p| {
                    [
                        (
                            style,
                            0x640cfd8d00000000abcdefab12345678u128,
                            0x3ade68b1u64,
                            p,
                        ),
                        (style, 123456789, 987654321, p),
                    ]
                })
            })
            .collect();
        let mut input = String::new();
        for (style, pairs) in &extractions {
            let headers: serde_json::Map<String, serde_json::Value> = pairs
                .iter()
                .map(|(k, v)| (k.clone(), v.clone().into()))
                .collect();
            input += &serde_json::json!({"style": style, "headers": headers}).to_string();
            input.push('\n');
        }
        for (style, trace, span, priority) in &injections {
            input += &serde_json::json!({"style": style, "trace_id": trace.to_string(), "span_id": span.to_string(), "priority": priority}).to_string();
            input.push('\n');
        }
        let script = r#"
import sys, json
from ddtrace import config
from ddtrace.propagation.http import HTTPPropagator as P
from ddtrace._trace.context import Context
out = []
for line in sys.stdin:
    case = json.loads(line)
    config._propagation_style_extract = [case["style"]]
    config._propagation_style_inject = [case["style"]]
    if "headers" in case:
        c = P.extract(case["headers"])
        out.append([str(c.trace_id) if c.trace_id else None,
                    str(c.span_id) if c.span_id else None, c.sampling_priority])
    else:
        c = Context(trace_id=int(case["trace_id"]), span_id=int(case["span_id"]),
                    sampling_priority=case["priority"])
        h = {}
        P.inject(c, h)
        out.append(h)
print(json.dumps(out))
"#;
        let expected = extractions.len() + injections.len();
        let answers = reference::json_answers(&python, script, &input, expected);
        for ((style, pairs), answer) in extractions.iter().zip(&answers) {
            let style = if *style == "b3" {
                PropagationStyle::B3Single
            } else {
                PropagationStyle::B3Multi
            };
            let pairs: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let ours = extract(style, &pairs);
            let case = format!("{style} {pairs:?}: ddtrace {answer}, spanlog {ours:?}");
            match answer[0].as_str() {
                None => assert_eq!(ours, None, "{case}"),
                Some(trace) => {
                    let ours = ours.expect(&case);
                    assert_eq!(ours.trace_id().to_u128().to_string(), trace, "{case}");
                    let span = answer[1].as_str().unwrap_or("0");
                    assert_eq!(ours.span_id().to_u64().to_string(), span, "{case}");
                    if let Some(priority) = answer[2].as_i64() {
                        assert_eq!(i64::from(ours.sampling_priority()), priority, "{case}");
                    }
                }
            }
        }
        for ((style, trace, span, priority), answer) in
            injections.iter().zip(&answers[extractions.len()..])
        {
            let style = if *style == "b3" {
                PropagationStyle::B3Single
            } else {
                PropagationStyle::B3Multi
            };
            let ours: serde_json::Value = inject(style, &remote(*trace, *span, *priority))
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::from(v)))
                .collect::<serde_json::Map<_, _>>()
                .into();
            assert_eq!(&ours, answer, "{style} {trace:x} {span:x} {priority}");
        }
    }
}

/// `DD_TRACE_PROPAGATION_EXTRACT_FIRST` and `DD_TRACE_PROPAGATION_BEHAVIOR_EXTRACT`, as
/// Datadog's tracers define them, and the links extraction leaves on the local root.
mod extract_behavior {
    use super::*;
    use propagation::ExtractBehavior;
    use spanlog::SpanLink;

    const DATADOG_AND_W3C: [(&str, &str); 6] = [
        ("x-datadog-trace-id", "1"),
        ("x-datadog-parent-id", "1"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-tags", "_dd.p.tid=1111111111111111,_dd.p.dm=-4"),
        (
            "traceparent",
            "00-11111111111111110000000000000001-0000000000000001-01",
        ),
        ("tracestate", "dd=s:2;t.dm:-4,foo=1"),
    ];

    const CONFLICTING: [(&str, &str); 5] = [
        ("x-datadog-trace-id", "2"),
        ("x-datadog-parent-id", "2"),
        ("x-datadog-sampling-priority", "2"),
        ("x-datadog-tags", "_dd.p.tid=1111111111111111,_dd.p.dm=-4"),
        (
            "traceparent",
            "00-12345678901234567890123456789012-1234567890123456-01",
        ),
    ];

    /// The local root a service starts for a request with `pairs`.
    fn root(propagator: &Propagator, pairs: &[(&str, &str)]) -> spanlog::Span {
        let mut span = start_span("root");
        if let Some(remote) = propagator.extract(&headers(pairs)) {
            span = span.child_of(remote);
        }
        span.start()
    }

    fn attributes(link: &SpanLink) -> Vec<(&str, &str)> {
        link.attributes
            .iter()
            .map(|(k, v)| (k.as_ref(), v.as_ref()))
            .collect()
    }

    #[test]
    fn continue_links_the_contexts_of_other_traces() {
        let span = root(&Propagator::new(), &DATADOG_AND_W3C);
        assert_eq!(span.trace_id(), TraceId::from_parts(0x1111111111111111, 1));
        assert!(span.links().is_empty(), "one trace: nothing to link");

        let span = root(&Propagator::new(), &CONFLICTING);
        assert_eq!(span.trace_id(), TraceId::from_parts(0x1111111111111111, 2));
        assert_eq!(span.parent_id(), SpanId::from_u64(2));
        let [link] = span.links() else {
            panic!("one link: {:?}", span.links())
        };
        assert_eq!(
            link.trace_id,
            TraceId::from_u128(0x12345678901234567890123456789012)
        );
        assert_eq!(link.span_id, SpanId::from_u64(0x1234567890123456));
        assert_eq!(link.flags, Some(1));
        assert_eq!(
            attributes(link),
            [
                ("reason", "terminated_context"),
                ("context_headers", "tracecontext")
            ]
        );
        // Only the local root carries them.
        let _root = span.enter();
        let child = start_span("child").start();
        assert!(child.links().is_empty());
        // And what goes on is the trace that was continued.
        let out: HashMap<_, _> = injected(span.context()).into_iter().collect();
        assert_eq!(out["x-datadog-trace-id"], "2");
    }

    #[test]
    fn extract_first_looks_no_further() {
        let first = Propagator::new().with_extract_first(true);
        let span = root(&first, &CONFLICTING);
        assert_eq!(span.trace_id(), TraceId::from_parts(0x1111111111111111, 2));
        assert!(span.links().is_empty());
        // Nor is the Datadog parent replaced by the W3C one.
        let span = root(
            &first,
            &[
                (
                    "traceparent",
                    "00-11111111111111110000000000000001-000000000000000f-01",
                ),
                ("tracestate", "dd=s:2;p:0123456789abcdef,foo=1"),
                ("x-datadog-trace-id", "1"),
                ("x-datadog-parent-id", "987654320"),
                ("x-datadog-tags", "_dd.p.tid=1111111111111111"),
            ],
        );
        assert_eq!(span.parent_id(), SpanId::from_u64(987654320));
        let out: HashMap<_, _> = injected(span.context()).into_iter().collect();
        assert_eq!(out["tracestate"].split(',').count(), 1, "no foo: {out:?}");
    }

    #[test]
    fn restart_starts_a_new_trace_linked_to_the_incoming_one() {
        let restart = Propagator::new().with_extract_behavior(ExtractBehavior::Restart);
        let span = root(&restart, &DATADOG_AND_W3C);
        assert_ne!(span.trace_id().low(), 1);
        assert!(span.parent_id().is_zero());
        let [link] = span.links() else {
            panic!("one link: {:?}", span.links())
        };
        assert_eq!(link.trace_id, TraceId::from_parts(0x1111111111111111, 1));
        assert_eq!(link.span_id, SpanId::from_u64(1));
        assert_eq!(link.flags, Some(1));
        assert_eq!(
            attributes(link),
            [
                ("reason", "propagation_behavior_extract"),
                ("context_headers", "datadog")
            ]
        );
        // The new trace decides for itself: upstream's decision maker is not sent on.
        let out: HashMap<_, _> = injected(span.context()).into_iter().collect();
        assert_eq!(out["x-datadog-trace-id"], span.trace_id().low().to_string());
        assert_eq!(out["x-datadog-sampling-priority"], "1");
        assert!(!out["x-datadog-tags"].contains("-4"), "{out:?}");
        // A W3C-first restart links with the incoming tracestate.
        let w3c_first = restart.with_extract(&[PropagationStyle::TraceContext]);
        let span = root(&w3c_first, &DATADOG_AND_W3C);
        assert_eq!(
            span.links()[0].tracestate.as_deref(),
            Some("dd=s:2;t.dm:-4,foo=1")
        );
        assert_eq!(
            attributes(&span.links()[0])[1],
            ("context_headers", "tracecontext")
        );
    }

    #[test]
    fn ignore_continues_nothing() {
        let ignore = Propagator::new().with_extract_behavior(ExtractBehavior::Ignore);
        assert_eq!(ignore.extract(&headers(&DATADOG_AND_W3C)), None);
    }
}

/// `manual.keep` and `manual.drop` are decisions by hand, as in Datadog's tracers:
/// the next service sees them, and they are not tags.
#[test]
fn manual_keep_and_drop_tags_decide() {
    let mut kept = start_span("kept").root().start();
    kept.set_tag("manual.keep", "true");
    assert_eq!(kept.tag("manual.keep"), None);
    let out: HashMap<_, _> = injected(kept.context()).into_iter().collect();
    assert_eq!(out["x-datadog-sampling-priority"], "2");
    assert!(out["x-datadog-tags"].starts_with("_dd.p.dm=-4"), "{out:?}");

    let dropped = start_span("dropped").root().tag("manual.drop", "").start();
    assert_eq!(dropped.tag("manual.drop"), None);
    let out: HashMap<_, _> = injected(dropped.context()).into_iter().collect();
    assert_eq!(out["x-datadog-sampling-priority"], "-1");
}

/// W3C baggage, as Datadog's parametric suite checks it (re-expressed): on by
/// default beside the trace headers, its API, malformed headers, limits, and the
/// reference's encoding.
mod baggage {
    use super::*;

    fn only(styles: &[PropagationStyle]) -> Propagator {
        Propagator::new().with_extract(styles).with_inject(styles)
    }

    /// What a service gets when it continues `incoming` and calls on with `propagator`.
    fn child_headers(
        propagator: &Propagator,
        incoming: &[(&str, &str)],
    ) -> HashMap<String, String> {
        let mut span = start_span("child");
        if let Some(remote) = propagator.extract(&headers(incoming)) {
            span = span.child_of(remote);
        }
        let span = span.start();
        let mut out = HashMap::new();
        propagator.inject(span.context(), &mut out);
        out
    }

    #[test]
    fn on_by_default_beside_the_trace_headers() {
        let incoming = [
            ("x-datadog-trace-id", "123456789"),
            ("x-datadog-parent-id", "987654321"),
            ("baggage", "foo=bar"),
        ];
        let extracted = Propagator::new().extract(&headers(&incoming)).unwrap();
        assert_eq!(extracted.style(), PropagationStyle::Datadog);
        let span = start_span("child").child_of(extracted).start();
        assert_eq!(span.trace_id(), TraceId::from_u128(123456789));
        assert_eq!(span.parent_id(), SpanId::from_u64(987654321));
        let out = child_headers(&Propagator::new(), &incoming);
        assert_eq!(out["baggage"], "foo=bar");
        assert_eq!(out["x-datadog-trace-id"], "123456789");

        // Off when the styles leave it out, in either direction.
        let trace_only = only(&[PropagationStyle::Datadog, PropagationStyle::TraceContext]);
        let out = child_headers(&trace_only, &incoming);
        assert!(!out.contains_key("baggage"), "{out:?}");
        assert_eq!(out["x-datadog-trace-id"], "123456789");
        let mut span = start_span("local").start();
        span.set_baggage("foo", "bar");
        let mut out = HashMap::new();
        trace_only.inject(span.context(), &mut out);
        assert!(!out.contains_key("baggage"), "{out:?}");
    }

    #[test]
    fn baggage_alone_starts_a_trace_that_keeps_it() {
        let baggage_only = only(&[PropagationStyle::Baggage]);
        let incoming = [("x-datadog-trace-id", "123456789"), ("baggage", "foo=bar")];
        let extracted = baggage_only.extract(&headers(&incoming)).unwrap();
        assert_eq!(extracted.style(), PropagationStyle::Baggage);
        let span = start_span("root").child_of(extracted).start();
        assert_ne!(span.trace_id(), TraceId::from_u128(123456789));
        assert!(span.parent_id().is_zero() && span.context().is_local_root());
        assert_eq!(span.baggage_item("foo"), Some("bar"));
        let out = child_headers(&baggage_only, &incoming);
        assert_eq!(out, headers(&[("baggage", "foo=bar")]));
        // With the default styles too, when no trace header is there.
        let out = child_headers(&Propagator::new(), &[("baggage", "foo=bar")]);
        assert_eq!(out["baggage"], "foo=bar");
        assert!(out.contains_key("traceparent"), "a new trace: {out:?}");
        assert_eq!(
            Propagator::new().extract(&headers(&[("baggage", "=x")])),
            None
        );
    }

    #[test]
    fn decoded_on_the_way_in_encoded_on_the_way_out() {
        let header = "foo=bar,userId=Am%C3%A9lie,serverNode=DF%2028,\
            %22%2C%3B%5C%28%29%2F%3A%3C%3D%3E%3F%40%5B%5D%7B%7D=%22%2C%3B%5C";
        let extracted = Propagator::new()
            .extract(&headers(&[("baggage", header)]))
            .unwrap();
        let context = extracted.context();
        assert_eq!(context.baggage_item("userId"), Some("Amélie"));
        assert_eq!(context.baggage_item("serverNode"), Some("DF 28"));
        assert_eq!(
            context.baggage_item(r#"",;\()/:<=>?@[]{}"#),
            Some(r#"",;\"#)
        );
        let all: Vec<_> = context.baggage().collect();
        assert_eq!(
            all,
            [
                ("foo", "bar"),
                ("userId", "Amélie"),
                ("serverNode", "DF 28"),
                (r#"",;\()/:<=>?@[]{}"#, r#"",;\"#)
            ]
        );
        let mut span = start_span("encoder").start();
        for (key, value) in all {
            span.set_baggage(key, value);
        }
        let mut out = HashMap::new();
        Propagator::new().inject(span.context(), &mut out);
        assert_eq!(out["baggage"], header, "the same bytes back");
    }

    #[test]
    fn the_span_api_reads_sets_and_removes() {
        let extracted = Propagator::new()
            .extract(&headers(&[(
                "baggage",
                "userId=Am%C3%A9lie,serverNode=DF%2028",
            )]))
            .unwrap();
        let mut span = start_span("api").child_of(extracted).start();
        span.set_baggage("foo", "bar");
        span.set_baggage("baz", "qux");
        span.set_baggage("userId", "Bob");
        let all: Vec<_> = span.context().baggage().collect();
        assert_eq!(
            all,
            [
                ("userId", "Bob"),
                ("serverNode", "DF 28"),
                ("foo", "bar"),
                ("baz", "qux")
            ],
            "a key set again keeps its place"
        );
        assert_eq!(span.remove_baggage("baz").as_deref(), Some("qux"));
        assert_eq!(span.remove_baggage("baz"), None);
        assert_eq!(span.context().baggage().len(), 3);
        span.clear_baggage();
        assert_eq!(span.context().baggage().len(), 0);
        assert_eq!(span.baggage_item("foo"), None);
    }

    #[test]
    fn set_on_an_entered_span_its_children_inherit_it() {
        let mut request = start_span("web.request").entered();
        let before = start_span("before").start();
        request.span_mut().set_baggage("user.id", "42");
        let after = start_span("after").start();
        assert_eq!(
            before.baggage_item("user.id"),
            None,
            "started before the item"
        );
        assert_eq!(after.baggage_item("user.id"), Some("42"));
        assert_eq!(spanlog::baggage::get("user.id").as_deref(), Some("42"));
        // From anywhere: the innermost entered span's context.
        {
            let _handler = start_span("handler").entered();
            assert!(spanlog::baggage::set("tenant", "acme"));
            let call = start_span("http.request").start();
            assert_eq!(call.baggage_item("tenant"), Some("acme"));
            assert_eq!(call.baggage_item("user.id"), Some("42"));
            let mut out = HashMap::new();
            assert!(spanlog::inject_current(&mut out));
            assert_eq!(out["baggage"], "user.id=42,tenant=acme");
            assert_eq!(spanlog::baggage::remove("user.id").as_deref(), Some("42"));
            assert_eq!(
                spanlog::baggage::all(),
                [("tenant".to_owned(), "acme".to_owned())]
            );
            spanlog::baggage::clear();
            assert_eq!(spanlog::baggage::all(), []);
        }
        // The handler's frame is gone; the request's items are as they were.
        assert_eq!(spanlog::baggage::get("tenant"), None);
        assert_eq!(spanlog::baggage::get("user.id").as_deref(), Some("42"));
        drop(request);
        assert!(!spanlog::baggage::set("k", "v"));
        assert_eq!(spanlog::baggage::get("user.id"), None);
    }

    #[test]
    fn baggage_follows_the_context_to_other_threads() {
        let mut span = start_span("work").start();
        span.set_baggage("job", "7");
        let context = span.context().clone();
        let seen = std::thread::spawn(move || {
            let _entered = context.enter();
            let child = start_span("worker").start();
            child.baggage_item("job").map(str::to_owned)
        })
        .join()
        .unwrap();
        assert_eq!(seen.as_deref(), Some("7"));
    }

    #[test]
    fn a_malformed_header_is_dropped_whole() {
        for header in [
            "no-equal-sign,foo=gets-dropped-because-previous-pair-is-malformed",
            "=no-key",
            "no-value=",
            "foo=gets-dropped-because-subsequent-pair-is-malformed,=",
        ] {
            let out = child_headers(&Propagator::new(), &[("baggage", header)]);
            assert!(!out.contains_key("baggage"), "{header:?}: {out:?}");
        }
        let out = child_headers(&Propagator::new(), &[("baggage", "foo=valid")]);
        assert_eq!(out["baggage"], "foo=valid");
    }

    #[test]
    fn limits_on_the_way_out() {
        let mut span = start_span("limits").start();
        for i in 0..66 {
            span.set_baggage(format!("key{i}"), format!("value{i}"));
        }
        let mut out = HashMap::new();
        Propagator::new().inject(span.context(), &mut out);
        assert_eq!(out["baggage"].split(',').count(), 64);
        let mut out = HashMap::new();
        Propagator::new()
            .with_baggage_limits(3, 8192)
            .inject(span.context(), &mut out);
        assert_eq!(out["baggage"], "key0=value0,key1=value1,key2=value2");

        let mut span = start_span("bytes").start();
        let third = 8192 / 3;
        for (key, fill) in [("key1", "a"), ("key2", "b"), ("key3", "c"), ("key4", "d")] {
            let n = if key == "key4" { 1 } else { third };
            span.set_baggage(key, fill.repeat(n));
        }
        let mut out = HashMap::new();
        Propagator::new().inject(span.context(), &mut out);
        assert_eq!(out["baggage"].split(',').count(), 2);
        assert!(out["baggage"].len() <= 8192);
    }

    /// Which incoming items become `baggage.<key>` tags, per `DD_TRACE_BAGGAGE_TAG_KEYS`.
    #[test]
    fn tag_keys_from_the_environment() {
        let tagged = |keys: Option<&str>, header: &str| -> Vec<(String, String)> {
            let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
            cmd.args([
                "--exact",
                "baggage::tag_keys_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("SPANLOG_BAGGAGE_HEADER", header)
            .env("SPANLOG_BAGGAGE_CHILD", "1");
            match keys {
                Some(keys) => cmd.env("DD_TRACE_BAGGAGE_TAG_KEYS", keys),
                None => cmd.env_remove("DD_TRACE_BAGGAGE_TAG_KEYS"),
            };
            let out = cmd.output().unwrap();
            let stdout = String::from_utf8(out.stdout).unwrap();
            let line = stdout
                .lines()
                .find_map(|l| Some(&l[l.find("TAG_KEYS ")? + 9..]))
                .unwrap_or_else(|| panic!("the child's answer: {stdout}"));
            serde_json::from_str(line).unwrap()
        };
        let keys = |keys: Option<&str>| -> Vec<String> {
            let pairs: Vec<(String, String)> = tagged(keys, "x=1");
            pairs.into_iter().map(|(k, _)| k).collect()
        };
        assert_eq!(keys(None), ["user.id", "account.id", "session.id"]);
        assert_eq!(keys(Some("session.id,foo")), ["session.id", "foo"]);
        assert_eq!(keys(Some("account.id,,")), ["account.id"]);
        assert_eq!(keys(Some("")), Vec::<String>::new(), "set but empty: none");
        assert_eq!(keys(Some("*")), ["*"]);
    }

    /// Run by `tag_keys_from_the_environment` in a process of its own.
    #[test]
    fn tag_keys_child() {
        if std::env::var_os("SPANLOG_BAGGAGE_CHILD").is_none() {
            return;
        }
        let keys: Vec<(String, String)> = Propagator::from_env()
            .baggage_tag_keys()
            .iter()
            .map(|k| (k.clone(), String::new()))
            .collect();
        println!("TAG_KEYS {}", serde_json::to_string(&keys).unwrap());
    }

    /// The reference: Datadog's Python tracer reads the same headers into the same
    /// items, and writes the same items into the same header.
    #[test]
    fn baggage_agrees_with_ddtrace_both_ways() {
        let Some(python) = reference::ddtrace_python() else {
            return;
        };
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v{i}")).collect();
        let big = format!("a={},b={},c=3", "x".repeat(4000), "y".repeat(4000));
        let extractions: Vec<String> = [
            "foo=bar",
            " foo = bar ,baz=qux",
            "userId=Am%C3%A9lie,serverNode=DF%2028",
            "%22%2C%3B%5C%28%29%2F%3A%3C%3D%3E%3F%40%5B%5D%7B%7D=%22%2C%3B%5C",
            "k=v;prop=1;other",
            "a=1,a=2",
            "p=50%,q=%zz,r=%e2%82%ac,s=%FF",
            "a=x=y",
            "no-equal-sign,foo=bar",
            "=no-key",
            "no-value=",
            "foo=bar,=",
            &many.join(","),
            &big,
        ]
        .map(str::to_owned)
        .to_vec();
        let injections: Vec<Vec<(String, String)>> = vec![
            vec![
                ("foo".into(), "bar".into()),
                ("userId".into(), "Amélie".into()),
            ],
            // (Not `%`: ddtrace sends it as it is, where the W3C and spanlog encode it.)
            vec![(r#"",;\()/:<=>?@[]{}"#.into(), r#"",;\"#.into())],
            vec![
                (" padded ".into(), " value ".into()),
                ("tab\t".into(), "€ 1".into()),
            ],
            (0..70)
                .map(|i| (format!("key{i}"), format!("value{i}")))
                .collect(),
            vec![
                ("key1".into(), "a".repeat(2730)),
                ("key2".into(), "b".repeat(2730)),
                ("key3".into(), "c".repeat(2730)),
                ("key4".into(), "d".into()),
            ],
        ];
        let mut input = String::new();
        for header in &extractions {
            input += &serde_json::json!({ "header": header }).to_string();
            input.push('\n');
        }
        for items in &injections {
            input += &serde_json::json!({ "items": items }).to_string();
            input.push('\n');
        }
        let script = r#"
import sys, json, logging
logging.disable(logging.CRITICAL)
from ddtrace.propagation.http import _BaggageHeader as B
from ddtrace._trace.context import Context
out = []
for line in sys.stdin:
    case = json.loads(line)
    if "header" in case:
        c = B._extract({"baggage": case["header"]})
        out.append(list(c.get_all_baggage_items().items()))
    else:
        c = Context(trace_id=1, span_id=1)
        for k, v in case["items"]:
            c.set_baggage_item(k, v)
        h = {}
        B._inject(c, h)
        out.append(h.get("baggage"))
print(json.dumps(out))
"#;
        let expected = extractions.len() + injections.len();
        let answers = reference::json_answers(&python, script, &input, expected);
        for (header, answer) in extractions.iter().zip(&answers) {
            let ours: Vec<(String, String)> = Propagator::new()
                .extract(&headers(&[("baggage", header)]))
                .map(|e| {
                    e.context()
                        .baggage()
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let theirs: Vec<(String, String)> = serde_json::from_value(answer.clone()).unwrap();
            assert_eq!(ours, theirs, "{header:?}");
        }
        for (items, answer) in injections.iter().zip(&answers[extractions.len()..]) {
            let mut span = start_span("inject").start();
            for (key, value) in items {
                span.set_baggage(key.clone(), value.clone());
            }
            let mut out = HashMap::new();
            Propagator::new().inject(span.context(), &mut out);
            assert_eq!(
                out.get("baggage").map(String::as_str),
                answer.as_str(),
                "{items:?}"
            );
        }
    }
}

/// An origin keeps no blanks at its ends, whichever header it came in: an HTTP header
/// would lose them on the next hop, so what spanlog sends, it reads back the same.
#[test]
fn origins_lose_their_blanks_in_every_style() {
    let origin = |pairs: &[(&str, &str)]| {
        let extracted = Propagator::new().extract(&headers(pairs)).unwrap();
        extracted.context().origin().map(str::to_owned)
    };
    let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    let w3c = origin(&[
        ("traceparent", traceparent),
        ("tracestate", "dd=s:1;o: rum"),
    ]);
    assert_eq!(w3c.as_deref(), Some("rum"));
    let datadog = |value| {
        origin(&[
            ("x-datadog-trace-id", "1"),
            ("x-datadog-parent-id", "2"),
            ("x-datadog-origin", value),
        ])
    };
    assert_eq!(datadog(" rum ").as_deref(), Some("rum"));
    assert_eq!(datadog("   "), None);
}
