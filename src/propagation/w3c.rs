//! W3C Trace Context: `traceparent` and `tracestate`, with Datadog's `dd` member.

use super::carrier::{Extractor, Injector};
use super::outgoing::Trace;
use super::values::{
    MAX_HEADER_LEN, is_lower_hex, parse_hex16, parse_lower_hex, valid_origin, valid_tag,
};
use crate::id::{SpanId, TraceId};
use crate::span_context::{SpanContext, TraceMeta};

pub(super) const TRACEPARENT: &str = "traceparent";
pub(super) const TRACESTATE: &str = "tracestate";

/// The W3C limit on list members in `tracestate`.
pub(super) const MAX_MEMBERS: usize = 32;
/// Datadog's limit on its own `dd` member, in characters.
const MAX_DD_MEMBER: usize = 256;

/// The context the headers describe; `None` when `traceparent` is absent or invalid, or
/// when `tracestate` is present but invalid.
pub(super) fn extract(carrier: &dyn Extractor) -> Option<SpanContext> {
    let (trace_id, parent, sampled) = parse_traceparent(carrier.get(TRACEPARENT)?.trim())?;
    let state = match carrier.get(TRACESTATE) {
        None => State::default(),
        Some(header) => parse_tracestate(&header)?,
    };
    let sampling_priority = reconcile(sampled, state.priority, state.origin.as_deref());
    let mut context = SpanContext {
        remote: true,
        span_id: parent,
        trace: TraceMeta {
            origin: state.origin,
            tags: state.tags,
            foreign_tracestate: state.foreign,
            last_parent_id: state.last_parent_id,
            propagation_error: state.propagation_error,
        }
        .shared(),
        ..SpanContext::new(trace_id, parent)
    };
    context.set_upstream_priority(Some(sampling_priority));
    Some(context)
}

/// `version-traceid-parentid-flags`, all lower-case hex.
fn parse_traceparent(header: &str) -> Option<(TraceId, SpanId, bool)> {
    let bytes = header.as_bytes();
    if !header.is_ascii() || bytes.len() < 55 || bytes.len() > MAX_HEADER_LEN {
        return None;
    }
    let version = &header[0..2];
    if !is_lower_hex(version) || version == "ff" {
        return None;
    }
    // Version 00 is exactly 55 characters; a later version may append `-...` fields.
    if (version == "00" && bytes.len() != 55) || (bytes.len() > 55 && bytes[55] != b'-') {
        return None;
    }
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let trace = parse_lower_hex(&header[3..35])?;
    let parent = parse_lower_hex(&header[36..52])? as u64;
    let flags = parse_lower_hex(&header[53..55])? as u8;
    if trace == 0 || parent == 0 {
        return None;
    }
    Some((
        TraceId::from_u128(trace),
        SpanId::from_u64(parent),
        flags & 1 == 1,
    ))
}

#[derive(Default)]
struct State {
    priority: Option<i32>,
    origin: Option<String>,
    tags: Vec<(String, String)>,
    foreign: Vec<String>,
    last_parent_id: Option<u64>,
    propagation_error: Option<&'static str>,
}

/// The list members, Datadog's `dd` member decoded and the others kept as they came.
fn parse_tracestate(header: &str) -> Option<State> {
    if header.len() > MAX_HEADER_LEN {
        return None;
    }
    let mut state = State::default();
    let mut keys: Vec<&str> = Vec::new();
    for member in header.split(',').map(|m| m.trim_matches([' ', '\t'])) {
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) || keys.contains(&key) {
            return None;
        }
        keys.push(key);
        if keys.len() > MAX_MEMBERS {
            return None;
        }
        if key == "dd" {
            parse_dd(value, &mut state)?;
        } else {
            state.foreign.push(member.to_owned());
        }
    }
    Some(state)
}

/// `s:<priority>;o:<origin>;p:<parent>;t.<tag>:<value>`, with `~` standing for `=`.
fn parse_dd(member: &str, state: &mut State) -> Option<()> {
    for item in member.split(';') {
        let (key, value) = item.split_once(':')?;
        match key {
            "s" => state.priority = Some(value.parse().ok()?),
            "o" => state.origin = Some(valid_origin(&value.replace('~', "="))?.to_owned()),
            // The last Datadog span upstream: `_dd.parent_id` on our root span.
            "p" => state.last_parent_id = Some(parse_hex16(value)?),
            // Checked, not kept: the trace id's upper half is in `traceparent` itself.
            "t.tid" => {
                parse_hex16(value)?;
            }
            _ => {
                if let Some(tag) = key.strip_prefix("t.") {
                    let (key, value) = (format!("_dd.p.{tag}"), value.replace('~', "="));
                    // What could not travel on in both styles is dropped, and noted.
                    if valid_tag(&key, &value) {
                        state.tags.retain(|(k, _)| *k != key);
                        state.tags.push((key, value));
                    } else {
                        state.propagation_error = Some("decoding_error");
                    }
                }
            }
        }
    }
    Some(())
}

/// W3C keys: `[a-z0-9][a-z0-9_-*/]{0,255}`, or `tenant@system`.
fn valid_key(key: &str) -> bool {
    let part = |s: &str, max: usize, first: fn(u8) -> bool| {
        let b = s.as_bytes();
        !b.is_empty()
            && b.len() <= max
            && first(b[0])
            && b.iter()
                .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-*/".contains(&c))
    };
    let lower_or_digit = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match key.split_once('@') {
        None => part(key, 256, lower_or_digit),
        Some((tenant, system)) => {
            part(tenant, 241, lower_or_digit) && part(system, 14, |c| c.is_ascii_lowercase())
        }
    }
}

/// W3C values: 1 to 256 printable ASCII characters except `,` and `=`, not ending in a
/// space.
fn valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b',' && b != b'=')
}

/// Datadog's rule: the sampled flag wins over a `dd` priority that contradicts it.
fn reconcile(sampled: bool, priority: Option<i32>, origin: Option<&str>) -> i32 {
    match priority {
        None if origin == Some("rum") => i32::from(sampled),
        Some(p) if sampled && p > 0 => p,
        Some(p) if !sampled && p <= 0 => p,
        _ => i32::from(sampled),
    }
}

pub(super) fn inject(trace: &Trace<'_>, carrier: &mut dyn Injector) {
    let ctx = trace.context;
    let sampled = u8::from(trace.sampling_priority > 0);
    carrier.set(
        TRACEPARENT,
        format!(
            "00-{:032x}-{:016x}-{sampled:02x}",
            ctx.trace_id.to_u128(),
            ctx.span_id.to_u64()
        ),
    );
    let mut dd = format!(
        "dd=p:{:016x};s:{}",
        ctx.span_id.to_u64(),
        trace.sampling_priority
    );
    if let Some(origin) = trace.origin {
        dd.push_str(";o:");
        dd.push_str(&encode(origin, b",;~"));
    }
    let high = ctx.trace_id.high();
    let tid = (high != 0).then(|| ("_dd.p.tid", format!("{high:016x}")));
    let tags = trace
        .tags()
        .filter(|(k, v)| valid_tag(k, v))
        .map(|(k, v)| (k, v.to_owned()))
        .chain(tid);
    for (key, value) in tags {
        let item = format!(
            ";t.{}:{}",
            encode(key.trim_start_matches("_dd.p."), b",;~ ="),
            encode(&value, b",;~")
        );
        // Tags that would push the member past Datadog's limit are left out.
        if dd.len() + item.len() <= MAX_DD_MEMBER {
            dd.push_str(&item);
        }
    }
    let mut state = dd;
    for member in trace.foreign_tracestate().iter().take(MAX_MEMBERS - 1) {
        state.push(',');
        state.push_str(member);
    }
    carrier.set(TRACESTATE, state);
}

/// Datadog's tracestate encoding: the given bytes, and each run of characters outside
/// printable ASCII, become `_`; then `=` becomes `~`.
fn encode(value: &str, replaced: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    let mut in_run = false;
    for c in value.chars() {
        let printable = (' '..='~').contains(&c);
        if !printable {
            if !in_run {
                out.push('_');
            }
            in_run = true;
            continue;
        }
        in_run = false;
        out.push(match c {
            c if replaced.contains(&(c as u8)) => '_',
            '=' => '~',
            c => c,
        });
    }
    out
}
