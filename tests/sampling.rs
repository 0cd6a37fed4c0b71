//! The sampling example's decisions: the lines' format, the counts, and each decision
//! against Datadog's Python tracer (`ddtrace` from PyPI) for the same trace ids and
//! rate, when `SPANLOG_DDTRACE_PYTHON` names a python that has it (`.ci/run` does).

mod common;
#[path = "common/reference.rs"]
mod reference;

use common::example;

/// `(trace id, priority, decision maker)` per line, and the summary.
fn run(vars: &[(&str, &str)]) -> (Vec<(u64, i32, String)>, String) {
    let mut command = example("sampling");
    for (k, v) in vars {
        command.env(k, v);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap().to_owned();
    let decisions = lines
        .iter()
        .map(|line| {
            let parts: Vec<&str> = line.split(' ').collect();
            assert_eq!(parts.len(), 3, "{line}");
            (
                parts[0].parse().unwrap(),
                parts[1].parse().unwrap(),
                parts[2].to_owned(),
            )
        })
        .collect();
    (decisions, summary)
}

#[test]
fn without_a_rate_every_trace_is_kept_by_default() {
    let (decisions, summary) = run(&[]);
    assert_eq!(decisions.len(), 10_000);
    assert!(decisions.iter().all(|(_, p, dm)| *p == 1 && dm == "-0"));
    assert_eq!(summary, "kept=10000 dropped=0");
}

#[test]
fn a_rate_decides_by_trace_id_as_ddtrace_does() {
    let rate = "0.37";
    let (decisions, summary) = run(&[("DD_TRACE_SAMPLE_RATE", rate)]);
    assert_eq!(decisions.len(), 10_000);
    assert!(
        decisions
            .iter()
            .all(|(_, p, dm)| (*p == 2 || *p == -1) && dm == "-3")
    );
    let kept = decisions.iter().filter(|(_, p, _)| *p == 2).count();
    assert_eq!(summary, format!("kept={kept} dropped={}", 10_000 - kept));
    assert!((3_400..4_000).contains(&kept), "{kept} of 10,000 at {rate}");
    // The same decision as spanlog's own function, recomputed here.
    for (id, priority, _) in &decisions {
        let expected = spanlog::sampling::sampled(spanlog::TraceId::from_parts(0, *id), 0.37);
        assert_eq!(*priority == 2, expected, "{id}");
    }

    let Some(python) = reference::ddtrace_python() else {
        return;
    };
    let script = "import sys\n\
        from ddtrace._trace.sampler import RateSampler\n\
        class Span:\n    pass\n\
        sampler = RateSampler(float(sys.argv[1]))\n\
        out = []\n\
        for line in sys.stdin:\n    s = Span(); s._trace_id_64bits = int(line); out.append('1' if sampler.sample(s) else '0')\n\
        print(''.join(out))";
    let ids: String = decisions
        .iter()
        .map(|(id, _, _)| format!("{id}\n"))
        .collect();
    let python_says = reference::run_python(&python, script, &[rate], &ids);
    let python_says = python_says.trim();
    assert_eq!(python_says.len(), 10_000);
    for ((id, priority, _), verdict) in decisions.iter().zip(python_says.chars()) {
        assert_eq!(
            *priority == 2,
            verdict == '1',
            "trace {id}: ddtrace says {verdict}"
        );
    }
}
