#!/usr/bin/env python3
"""Turn criterion's estimates into the BENCHMARKS.md table and docs/benchmarks.png.

Run after `cargo bench -p spanlog-benches --bench peers --bench instrument --bench export --bench export_agent`:

    python3 benches/report.py            # prints the markdown table
    python3 benches/report.py --plot     # also renders docs/benchmarks.png (matplotlib)
"""
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
CRITERION = ROOT / "target" / "criterion"
GROUPS = {
    "log_call": ["inner_only", "spanlog_no_span", "spanlog_span", "spanlog_span_depth8",
                 "spanlog_kv", "tracing_fmt_span", "logforth_fastrace"],
    "span_lifecycle": ["spanlog", "spanlog_root", "fastrace", "tracing"],
    "span_lifecycle_export": ["spanlog_noop", "spanlog_agent", "fastrace", "tracing"],
    "export_throughput": ["spanlog_agent_10_span_traces"],
    "ids": ["trace_id", "span_id", "fastrace_trace_id", "fastrace_span_id"],
    "poll": ["bare", "in_span", "in_context"],
}


def median(group, name):
    path = CRITERION / group / name / "new" / "estimates.json"
    data = json.loads(path.read_text())["median"]
    ci = data["confidence_interval"]
    return data["point_estimate"], ci["lower_bound"], ci["upper_bound"]


def main():
    results = {g: {n: median(g, n) for n in names if (CRITERION / g / n).exists()}
               for g, names in GROUPS.items()}
    floor = results["log_call"].get("inner_only", (None,))[0]
    results = {g: rows for g, rows in results.items() if rows}
    plotted = {g: rows for g, rows in results.items() if g != "export_throughput"}
    for group, rows in results.items():
        print(f"\n### `{group}`\n")
        if group == "log_call":
            ours = rows["spanlog_span"][0] - floor if "spanlog_span" in rows else None
            print("| function | median (ns) | 95% CI (ns) | added over `inner_only` (ns) "
                  "| ratio to `inner_only` | added cost vs `spanlog_span` |")
            print("| --- | ---: | --- | ---: | ---: | ---: |")
            for name, (m, lo, hi) in rows.items():
                added = m - floor
                versus = f"{added / ours:.1f}×" if ours and added > 0 and name != "spanlog_no_span" else "—"
                print(f"| `{name}` | {m:.1f} | {lo:.1f} – {hi:.1f} | {added:+.1f} | {m / floor:.2f} | {versus} |")
        elif group == "export_throughput":
            print("| function | median per 10,000 spans (ms) | 95% CI (ms) | spans per second |")
            print("| --- | ---: | --- | ---: |")
            for name, (m, lo, hi) in rows.items():
                print(f"| `{name}` | {m / 1e6:.2f} | {lo / 1e6:.2f} – {hi / 1e6:.2f} | {10_000 / (m / 1e9):,.0f} |")
        else:
            first = next(iter(rows))
            base = rows[first][0]
            # For the lifecycle, also spanlog's cost as a fraction of each peer's.
            peers = group in ("span_lifecycle", "span_lifecycle_export")
            extra = f" `{first}` ÷ this |" if peers else ""
            print(f"| function | median (ns) | 95% CI (ns) | ratio to `{first}` |{extra}")
            print("| --- | ---: | --- | ---: |" + (" ---: |" if peers else ""))
            for name, (m, lo, hi) in rows.items():
                extra = f" {base / m:.2f} |" if peers else ""
                print(f"| `{name}` | {m:.1f} | {lo:.1f} – {hi:.1f} | {m / base:.2f} |{extra}")
    if "--plot" in sys.argv:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(len(plotted), 1, figsize=(9, 13))
        for ax, (group, rows) in zip(axes, plotted.items()):
            names = list(rows)[::-1]
            meds = [rows[n][0] for n in names]
            errs = [[rows[n][0] - rows[n][1] for n in names], [rows[n][2] - rows[n][0] for n in names]]
            colors = ["#632ca6" if n.startswith(("spanlog", "inner", "trace_id", "span_id", "in_", "bare")) else "#999999" for n in names]
            ax.barh(names, meds, xerr=errs, color=colors, capsize=3)
            ax.set_title(group)
            ax.set_xlabel("median time per call (ns), 95% CI")
            for y, m in enumerate(meds):
                ax.text(m, y, f" {m:.0f}", va="center", fontsize=8)
        fig.tight_layout()
        out = ROOT / "docs" / "benchmarks.png"
        fig.savefig(out, dpi=110)
        print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
