//! W3C Trace Context: `traceparent` and `tracestate`, with Datadog's `dd` member.

use std::borrow::Cow;

use super::carrier::{Extractor, Injector};
use super::outgoing::Trace;
use super::values::{MAX_HEADER_LEN, hex2, hex16, readable_origin, trim, valid_tag};
use crate::id::{SpanId, TraceId};
use crate::span_context::{SpanContext, TraceMeta};

pub(super) const TRACEPARENT: &str = "traceparent";
pub(super) const TRACESTATE: &str = "tracestate";

/// The W3C limit on list members in `tracestate`.
pub(super) const MAX_MEMBERS: usize = 32;
/// Datadog's limit on its own `dd` member, in characters.
const MAX_DD_MEMBER: usize = 256;

/// The context the headers describe; `None` when `traceparent` is absent or invalid.
/// A `tracestate` that breaks the W3C grammar is discarded as a whole and never affects
/// `traceparent`: the trace is continued without it.
pub(super) fn extract<E: Extractor + ?Sized>(carrier: &E) -> Option<SpanContext> {
    let parent = match carrier.get_bytes(TRACEPARENT)? {
        // Every byte is checked (hex digits and dashes): whether it is text, and
        // blanks at its ends, need no other look. Any blank would leave it too short.
        raw if raw.len() == 55 => parse_traceparent(&raw)?,
        _ => parse_traceparent(trim(&carrier.get(TRACEPARENT)?).as_bytes())?,
    };
    let sampled = parent.flags & SAMPLED != 0;
    let state = carrier
        .get(TRACESTATE)
        .and_then(|header| parse_tracestate(&header));
    let Some(mut state) = state else {
        // `traceparent` alone (the usual case from OpenTelemetry services): ids and a
        // decision, trace data only for the `random` flag.
        let mut context = SpanContext {
            remote: true,
            trace: (parent.flags & RANDOM != 0).then(|| {
                std::sync::Arc::new(TraceMeta {
                    random_flag: true,
                    ..TraceMeta::default()
                })
            }),
            ..SpanContext::new(parent.trace_id, parent.span_id)
        };
        context.set_upstream_priority(Some(reconcile(sampled, None, None)));
        return Some(context);
    };
    let sampling_priority = reconcile(sampled, state.priority, state.origin.as_deref());
    if state.priority.is_some_and(|p| p != sampling_priority) {
        // The sampled flag overrode `dd`'s decision: the decision maker that went with
        // that decision no longer holds (Datadog's tracers reset it to the default).
        state.tags.retain(|(k, _)| k != "_dd.p.dm");
        if sampling_priority > 0 {
            state
                .tags
                .insert(0, ("_dd.p.dm".to_owned(), "-0".to_owned()));
        }
    }
    let mut context = SpanContext {
        remote: true,
        trace: TraceMeta {
            origin: state.origin,
            tags: state.tags,
            foreign_tracestate: state.foreign,
            last_parent_id: state.last_parent_id,
            propagation_error: state.propagation_error.map(Cow::Borrowed),
            random_flag: parent.flags & RANDOM != 0,
            ..TraceMeta::default()
        }
        .shared(),
        ..SpanContext::new(parent.trace_id, parent.span_id)
    };
    context.set_upstream_priority(Some(sampling_priority));
    Some(context)
}

/// `traceparent`'s sampled flag.
const SAMPLED: u8 = 0x01;
/// `traceparent`'s `random` flag (level 2): the trace id's right-most 7 bytes are
/// random. Propagated as it came; never set on traces started here, as Datadog's
/// tracers do not set it.
const RANDOM: u8 = 0x02;

struct Traceparent {
    trace_id: TraceId,
    span_id: SpanId,
    flags: u8,
}

/// `version-traceid-parentid-flags`, all lower-case hex.
fn parse_traceparent(header: &[u8]) -> Option<Traceparent> {
    let (fields, rest) = header.split_first_chunk::<55>()?;
    let version = hex2([fields[0], fields[1]])?;
    // Version 00 is exactly 55 characters; a later version may append `-...` fields.
    let valid_rest = match rest.first() {
        None => true,
        Some(&dash) => {
            version != 0 && dash == b'-' && rest.len() <= MAX_HEADER_LEN - 55 && rest.is_ascii()
        }
    };
    if version == 0xff || !valid_rest {
        return None;
    }
    if fields[2] != b'-' || fields[35] != b'-' || fields[52] != b'-' {
        return None;
    }
    let id = |at: usize| fields[at..at + 16].first_chunk::<16>().and_then(hex16);
    let trace = u128::from(id(3)?) << 64 | u128::from(id(19)?);
    let parent = id(36)?;
    let flags = hex2([fields[53], fields[54]])?;
    if trace == 0 || parent == 0 {
        return None;
    }
    Some(Traceparent {
        trace_id: TraceId::from_u128(trace),
        span_id: SpanId::from_u64(parent),
        flags,
    })
}

#[derive(Default)]
struct State {
    priority: Option<i32>,
    origin: Option<String>,
    tags: Vec<(String, String)>,
    foreign: Vec<String>,
    last_parent_id: Option<String>,
    propagation_error: Option<&'static str>,
}

/// The list members, Datadog's `dd` member decoded and the others kept as they came;
/// `None` when the list breaks the W3C grammar (a malformed member, more than 32
/// members, longer than 8 KiB). Optional white space around members is dropped, and
/// a repeated key is kept once, where it first appears.
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
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
        if keys.contains(&key) {
            continue;
        }
        keys.push(key);
        if keys.len() > MAX_MEMBERS {
            return None;
        }
        if key == "dd" {
            parse_dd(value, &mut state);
        } else {
            state.foreign.push(member.to_owned());
        }
    }
    Some(state)
}

/// `s:<priority>;o:<origin>;p:<parent>;t.<tag>:<value>`, with `~` standing for `=`.
/// An item that cannot be read is left out, not the member: as Datadog's tracers do,
/// `p` is kept as it came (it only names the last Datadog span upstream), and `t.tid`
/// is not read (the trace id's upper half is in `traceparent` itself).
fn parse_dd(member: &str, state: &mut State) {
    for item in member.split(';') {
        let Some((key, value)) = item.split_once(':') else {
            continue;
        };
        match key {
            "s" => state.priority = value.parse().ok(),
            "o" => {
                let origin = value.replace('~', "=");
                state.origin = readable_origin(&origin).map(str::to_owned);
            }
            "p" => state.last_parent_id = (!value.is_empty()).then(|| value.to_owned()),
            "t.tid" => {}
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
}

/// W3C level 2 keys: a lower-case letter or a digit, then up to 255 of lower-case
/// letters, digits, `_`, `-`, `*`, `/` and `@` (which level 1 allowed once, to separate
/// a tenant from a system: `tenant@system` keys are still valid).
fn valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    let first = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 256
        && first(b[0])
        && b.iter().all(|&c| first(c) || b"_-*/@".contains(&c))
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
    let mut flags = 0;
    if trace.sampling_priority > 0 {
        flags |= SAMPLED;
    }
    if trace.random_flag() {
        flags |= RANDOM;
    }
    carrier.set(
        TRACEPARENT,
        format!(
            "00-{:032x}-{:016x}-{flags:02x}",
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
