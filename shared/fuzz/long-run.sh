#!/usr/bin/env bash
# The long fuzz run whose figures docs/testing.md reports: RUNS inputs (default 10,000,000)
# per target, one target at a time at the lowest priority, each from its committed corpus and
# regressions. Prints one Markdown table row per target (inputs run, speed, coverage, peak
# RSS, slowest input, failures) and appends it to OUT (default target/long-run.md).
#
# A failing input stops its target's run; it is kept in target/long-run-artifacts/<target>/
# for `cargo fuzz tmin` and regressions/<target>/ (docs/testing.md says how).
#
#   shared/fuzz/long-run.sh                 # every target
#   RUNS=1000000 shared/fuzz/long-run.sh regexp
set -euo pipefail
cd "$(dirname "$0")"

RUNS=${RUNS:-10000000}
OUT=${OUT:-target/long-run.md}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(spec snapshot template regexp)
declare -A max_len=([spec]=4096 [snapshot]=8192 [template]=2048 [regexp]=256)

export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --fuzz-dir .
bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
mkdir -p "$(dirname "$OUT")"

for target in "${targets[@]}"; do
    work=target/long-run/$target
    artifacts=target/long-run-artifacts/$target
    rm -rf "$work"
    mkdir -p "$work/new" "$artifacts"
    seeds=("$work/new" "corpus/$target")
    [ -d "regressions/$target" ] && seeds+=("regressions/$target")
    status=0
    nice -n 19 "$bin/$target" -runs="$RUNS" -max_len="${max_len[$target]}" \
        -dict="dict/$target.dict" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "${seeds[@]}" >"$work/log" 2>&1 || status=$?
    figure() { sed -n "s/^stat::$1: *//p" "$work/log" | tail -n 1; }
    coverage=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$work/log" | tail -n 1 |
        sed -E 's/cov: ([0-9]+) ft: ([0-9]+)/\1 edges, \2 features/')
    slowest=$(figure slowest_unit_time_sec)
    # libFuzzer counts whole seconds.
    [ "$slowest" = 0 ] && slowest="< 1"
    if [ "$status" -eq 0 ]; then
        failures=none
    else
        failures="stopped (exit $status): $(ls "$artifacts" | tr '\n' ' ')"
    fi
    row="| \`$target\` | $(figure number_of_executed_units) | $(figure average_exec_per_sec)/s | $coverage | $(figure peak_rss_mb) MB | $slowest s | $failures |"
    echo "$row"
    echo "$row" >>"$OUT"
done
