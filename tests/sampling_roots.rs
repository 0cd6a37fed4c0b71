//! One sampling decision per trace, whichever part of it is decided first: at the first
//! inject, for a part sent ahead of its local root, or for a part that finishes after
//! the root was sent, the trace gets the decision its local root gets. Rules that read
//! the root decide from it. Its own binary: it installs the sampler and the exporter.

#[path = "common/fake_agent.rs"]
mod fake_agent;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use spanlog::agent::{Agent, AgentConfig, ApiVersion};
use spanlog::sampling::{Sampler, SamplingRule};

fn main() {
    // `web.request` roots, and roots whose resource is `GET /kept`, kept; every other
    // trace dropped (as `DD_TRACE_SAMPLE_RATE=0` after a rule).
    Sampler::new()
        .rule(SamplingRule::new(1.0).name("web.request"))
        .rule(SamplingRule::new(1.0).resource("GET /kept"))
        .rule(SamplingRule::new(0.0))
        .rate_limit(-1.0)
        .set_global()
        .unwrap();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let address = fake_agent(Arc::clone(&bodies));
    let config = AgentConfig::new()
        .with_address(&address)
        .unwrap()
        .with_api_version(ApiVersion::V04)
        .with_flush_interval(Duration::from_secs(3600));
    let agent = spanlog::agent::try_init(config).expect("the first exporter");

    the_decision_at_inject_is_the_roots(&agent, &bodies);
    a_part_sent_ahead_of_its_root_is_decided_by_the_root(&agent, &bodies);
    a_late_part_goes_out_with_the_roots_decision(&agent, &bodies);
    println!("sampling_roots: ok");
}

/// A request that calls another service is kept as it would be without the call.
fn the_decision_at_inject_is_the_roots(agent: &Agent, bodies: &Bodies) {
    let root = spanlog::start_span("web.request").entered();
    let mut headers = HashMap::new();
    spanlog::propagation::inject(root.context(), &mut headers);
    assert_eq!(
        headers
            .get("x-datadog-sampling-priority")
            .map(String::as_str),
        Some("2"),
        "{headers:?}"
    );
    let trace = root.trace_id().low();
    drop(root);
    assert!(agent.flush(Duration::from_secs(10)));
    let spans = spans_of(bodies, trace);
    assert_eq!(decisions(&spans), [(2, "-3".to_owned())], "{spans:?}");
}

/// A child's chunk sent while its root runs is decided from the root as it is then:
/// its resource, set by hand or through `with_current_span`.
fn a_part_sent_ahead_of_its_root_is_decided_by_the_root(agent: &Agent, bodies: &Bodies) {
    for by_hand in [true, false] {
        let mut root = spanlog::start_span("job").entered();
        if by_hand {
            root.span_mut().set_resource("GET /kept");
        } else {
            spanlog::with_current_span(|span| span.set_resource("GET /kept"));
        }
        drop(spanlog::start_span("db.query").start());
        assert!(agent.flush(Duration::from_secs(10)));
        let trace = root.trace_id().low();
        drop(root);
        assert!(agent.flush(Duration::from_secs(10)));
        assert_both_chunks_kept_by_rule(bodies, trace, &format!("by hand: {by_hand}"));
    }
}

/// A span that finishes after its local root was sent goes out with the root's
/// decision, not one made again from itself.
fn a_late_part_goes_out_with_the_roots_decision(agent: &Agent, bodies: &Bodies) {
    let root = spanlog::start_span("web.request").entered();
    let late = spanlog::start_span("late.work").start();
    let trace = root.trace_id().low();
    drop(root);
    assert!(agent.flush(Duration::from_secs(10)));
    drop(late);
    assert!(agent.flush(Duration::from_secs(10)));
    assert_both_chunks_kept_by_rule(bodies, trace, "late part");
}

/// The trace came in two chunks, both kept by a rule (priority 2, decision maker -3).
fn assert_both_chunks_kept_by_rule(bodies: &Bodies, trace: u64, what: &str) {
    let spans = spans_of(bodies, trace);
    assert_eq!(spans.len(), 2, "{what}: {spans:?}");
    let kept = (2, "-3".to_owned());
    assert_eq!(decisions(&spans), [kept.clone(), kept], "{what}: {spans:?}");
}

type Bodies = Arc<Mutex<Vec<Vec<u8>>>>;

/// The spans of trace `low` received so far, chunk by chunk, each chunk's spans in
/// order.
fn spans_of(bodies: &Bodies, low: u64) -> Vec<Vec<Value>> {
    let bodies = bodies.lock().unwrap();
    let mut chunks = Vec::new();
    for body in bodies.iter() {
        let Value::Array(traces) = decode(&mut &body[..]) else {
            panic!("not an array of traces")
        };
        for trace in traces {
            let spans = trace.as_array().unwrap().clone();
            if spans[0]["trace_id"].as_u64() == Some(low) {
                chunks.push(spans);
            }
        }
    }
    chunks
}

/// Each chunk's priority and decision maker, read where the Agent reads them: the
/// chunk's first span.
fn decisions(chunks: &[Vec<Value>]) -> Vec<(i64, String)> {
    chunks
        .iter()
        .map(|chunk| {
            let first = &chunk[0];
            let priority = first["metrics"]["_sampling_priority_v1"]
                .as_f64()
                .unwrap_or_else(|| panic!("no priority on {first}"));
            let dm = first["meta"]["_dd.p.dm"].as_str().unwrap_or("none");
            (priority as i64, dm.to_owned())
        })
        .collect()
}

/// A MessagePack value as JSON (the parts the Agent's v0.4 payload uses).
fn decode(input: &mut &[u8]) -> Value {
    use rmp::Marker;
    use rmp::decode::*;
    let marker = read_marker(input).unwrap_or_else(|_| panic!("truncated"));
    let mut bytes = |n: usize| {
        let (head, rest) = input.split_at(n);
        *input = rest;
        head.to_vec()
    };
    let text = |raw: Vec<u8>| Value::String(String::from_utf8(raw).unwrap());
    match marker {
        Marker::FixPos(n) => Value::from(n),
        Marker::FixNeg(n) => Value::from(n),
        Marker::Null => Value::Null,
        Marker::True => Value::Bool(true),
        Marker::False => Value::Bool(false),
        Marker::U8 => Value::from(bytes(1)[0]),
        Marker::U16 => Value::from(u16::from_be_bytes(bytes(2).try_into().unwrap())),
        Marker::U32 => Value::from(u32::from_be_bytes(bytes(4).try_into().unwrap())),
        Marker::U64 => Value::from(u64::from_be_bytes(bytes(8).try_into().unwrap())),
        Marker::I8 => Value::from(bytes(1)[0] as i8),
        Marker::I16 => Value::from(i16::from_be_bytes(bytes(2).try_into().unwrap())),
        Marker::I32 => Value::from(i32::from_be_bytes(bytes(4).try_into().unwrap())),
        Marker::I64 => Value::from(i64::from_be_bytes(bytes(8).try_into().unwrap())),
        Marker::F32 => Value::from(f32::from_be_bytes(bytes(4).try_into().unwrap())),
        Marker::F64 => Value::from(f64::from_be_bytes(bytes(8).try_into().unwrap())),
        Marker::FixStr(n) => text(bytes(n.into())),
        Marker::Str8 => {
            let n = bytes(1)[0];
            text(bytes(n.into()))
        }
        Marker::Str16 => {
            let n = u16::from_be_bytes(bytes(2).try_into().unwrap());
            text(bytes(n.into()))
        }
        Marker::Str32 => {
            let n = u32::from_be_bytes(bytes(4).try_into().unwrap());
            text(bytes(n as usize))
        }
        Marker::FixArray(n) => array(input, n.into()),
        Marker::Array16 => {
            let n = u16::from_be_bytes(bytes(2).try_into().unwrap());
            array(input, n.into())
        }
        Marker::Array32 => {
            let n = u32::from_be_bytes(bytes(4).try_into().unwrap());
            array(input, n as usize)
        }
        Marker::FixMap(n) => map(input, n.into()),
        Marker::Map16 => {
            let n = u16::from_be_bytes(bytes(2).try_into().unwrap());
            map(input, n.into())
        }
        Marker::Map32 => {
            let n = u32::from_be_bytes(bytes(4).try_into().unwrap());
            map(input, n as usize)
        }
        other => panic!("unexpected marker {other:?}"),
    }
}

fn array(input: &mut &[u8], n: usize) -> Value {
    Value::Array((0..n).map(|_| decode(input)).collect())
}

fn map(input: &mut &[u8], n: usize) -> Value {
    let mut object = serde_json::Map::new();
    for _ in 0..n {
        let Value::String(key) = decode(input) else {
            panic!("a key that is not a string")
        };
        object.insert(key, decode(input));
    }
    Value::Object(object)
}

/// An agent that keeps the bodies of trace payloads.
fn fake_agent(bodies: Bodies) -> String {
    fake_agent::start(move |request| {
        if request.line.contains("/traces ") {
            bodies.lock().unwrap().push(request.body);
        }
    })
}
