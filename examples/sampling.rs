//! Head sampling as Datadog's tracers do it: starts 10,000 root spans named
//! `web.request` and prints, for each trace, `<trace id, lower 64 bits in decimal>
//! <sampling priority> <decision maker>`, then `kept=<n> dropped=<m>`.
//!
//! ```text
//! DD_TRACE_SAMPLE_RATE=0.25 cargo run --example sampling
//! ```
//!
//! `DD_TRACE_SAMPLE_RATE` (and `DD_TRACE_SAMPLING_RULES`, with the `agent` feature)
//! come from the environment. Datadog's default rate limit, 100 rule-kept traces a
//! second, would cut 10,000 traces made in a few milliseconds to about 100: unless
//! `DD_TRACE_RATE_LIMIT` is set, this example lifts it, so that each line shows the
//! rate's decision, the same one dd-trace-py and dd-trace-go make for that trace id.

use std::io::Write;

use spanlog::sampling::Sampler;

fn main() {
    let sampler = Sampler::from_env();
    let sampler = match std::env::var_os("DD_TRACE_RATE_LIMIT") {
        Some(_) => sampler,
        None => sampler.rate_limit(-1.0),
    };
    sampler
        .set_global()
        .expect("the first sampler of the process");

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let (mut kept, mut dropped) = (0, 0);
    for _ in 0..10_000 {
        let span = spanlog::start_span("web.request").start();
        let decision = span
            .sampling_decision()
            .expect("a trace that started here is decided here");
        if decision.is_kept() {
            kept += 1;
        } else {
            dropped += 1;
        }
        let _ = writeln!(
            out,
            "{} {} {}",
            span.trace_id().low(),
            decision.priority,
            decision.mechanism.decision_maker()
        );
    }
    let _ = writeln!(out, "kept={kept} dropped={dropped}");
}
