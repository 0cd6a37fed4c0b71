//! Header lines in, trace context out: extraction must never panic, never return a
//! context with a zero trace id (a zero parent only from Datadog headers, which
//! synthetics sends), and whatever it accepts must survive inject + extract.
#![no_main]

use libfuzzer_sys::fuzz_target;
use spanlog::propagation::{PropagationStyle, Propagator};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    for styles in [
        &[PropagationStyle::Datadog, PropagationStyle::TraceContext][..],
        &[PropagationStyle::TraceContext][..],
    ] {
        let propagator = Propagator::new().with_extract(styles).with_inject(styles);
        let Some(extracted) = propagator.extract(&headers) else {
            continue;
        };
        let context = extracted.context();
        assert!(!context.trace_id().is_zero());
        if context.span_id().is_zero() {
            // Nothing to send on for a context without a span: its children are.
            assert_eq!(extracted.style(), PropagationStyle::Datadog);
            continue;
        }
        let mut out: Vec<(String, String)> = Vec::new();
        propagator.inject(context, &mut out);
        let again = propagator
            .extract(&out)
            .expect("what we inject, we extract");
        assert_eq!(again.context().trace_id(), context.trace_id());
        assert_eq!(again.context().span_id(), context.span_id());
        assert_eq!(
            again.context().sampling_priority(),
            context.sampling_priority()
        );
    }
});
