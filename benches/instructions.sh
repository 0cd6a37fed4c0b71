#!/usr/bin/env bash
# Instructions per call of each stack in benches/instructions.rs, counted by callgrind:
# (count at 2N iterations - count at N) / N, counted inside main only (fastrace links a
# clock-calibration constructor that runs before main and varies from run to run).
#
#   bash benches/instructions.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
cargo bench -p spanlog-benches --bench instructions --no-run 2>/dev/null
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/instructions-* | grep -v '\.d$' | head -1)
count() {
    # Stacks with an exporter count their loop only (see export_loop in instructions.rs).
    local toggle='instructions::main'
    case $1 in
    http_*) ;;
    *_export) toggle='instructions::export_loop' ;;
    exporter_thread*) toggle='spanlog::agent::worker::Worker::send*' ;;
    esac
    valgrind --tool=callgrind --toggle-collect="$toggle" --callgrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 \
        | sed -n 's/.*refs: *\([0-9,]*\).*/\1/p' | tr -d ,
}
printf '| stack | instructions per call |\n| --- | ---: |\n'
for stack in inner_only spanlog_no_span spanlog_span spanlog_span_depth8 spanlog_first_line \
    spanlog_first_line_after_parent spanlog_first_line_new_trace spanlog_kv \
    spanlog_error_line spanlog_error_line_with_error \
    lifecycle_spanlog_noop_export lifecycle_spanlog_agent_export \
    exporter_thread exporter_thread_stats \
    http_no_layer http_spanlog http_spanlog_export http_spanlog_agent http_tower_http \
    tracing_fmt_span logforth_fastrace lifecycle_spanlog lifecycle_spanlog_root \
    lifecycle_fastrace lifecycle_tracing lifecycle_tracing_child lifecycle_tracing_spanlog; do
    a=$(count "$stack" "$n")
    b=$(count "$stack" $((2 * n)))
    printf '| `%s` | %d |\n' "$stack" $(((b - a) / n))
done
