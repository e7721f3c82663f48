#!/usr/bin/env bash
# CI's fuzz step (scripts/test.sh runs it): builds every fuzz target, replays every input that
# ever failed (regressions/) and the committed corpus (corpus/), then fuzzes each target for
# FUZZ_SECONDS (default 60). Any crash, panic, timeout, out-of-memory or memory-bound overrun
# fails the step, and its input is printed in base64 so that it can be replayed from the log.
#
# Built without a sanitizer (`-s none`): the core has no `unsafe`, AddressSanitizer makes the
# build half as slow again and every input 3.5 times slower (docs/testing.md measures both),
# and the memory bounds are checked by the targets' own counting allocator
# (shared/core/tests/bounds), which AddressSanitizer's `-malloc_limit_mb` would only approximate.
set -euo pipefail
cd "$(dirname "$0")"
. ../../scripts/lib.sh
require_rust

CARGO_FUZZ_VERSION=0.13.2
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
# libFuzzer reads -max_total_time=0 as "no limit".
[ "$SECONDS_PER_TARGET" -gt 0 ] || { echo "FUZZ_SECONDS must be at least 1" >&2; exit 2; }
# libFuzzer flags for every run: no input of the corpus or the long runs takes a second, so
# 10 s is a hang; 2 GiB of RSS is far above every bound, so only a leak or a bomb that escapes
# the counting allocator reaches it.
LIMITS=(-timeout=10 -rss_limit_mb=2048)
# The targets and the longest input each is fuzzed with (regressions and corpus entries are
# replayed whole whatever their length).
TARGETS=(spec:4096 snapshot:8192 template:2048 regexp:256)

# libfuzzer-sys compiles libFuzzer itself (C++).
apt_install g++
if ! cargo fuzz --version 2>/dev/null | grep -qF "$CARGO_FUZZ_VERSION"; then
    cargo install --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
# cargo-fuzz passes nightly-only flags; stable accepts them with RUSTC_BOOTSTRAP. It looks for
# the fuzz crate in a `fuzz/` beside the nearest Cargo project, which is not where this one is.
export RUSTC_BOOTSTRAP=1
cargo fuzz build -s none --fuzz-dir .

bin=${CARGO_TARGET_DIR:-target}/x86_64-unknown-linux-gnu/release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Prints the input a fuzzing run failed on, so that the log alone reproduces it.
show_failure() {
    local target=$1
    for input in "$work"/artifacts/*; do
        [ -e "$input" ] || continue
        echo "fuzz: $target failed on $(basename "$input") ($(wc -c <"$input") bytes), base64:"
        base64 -w 100 "$input"
    done
}

shopt -s nullglob
for entry in "${TARGETS[@]}"; do
    target=${entry%%:*}
    max_len=${entry##*:}
    rm -rf "$work/artifacts" "$work/new"
    mkdir -p "$work/artifacts" "$work/new"
    # Each input run once and whole, by file: a directory of seeds would be cut to max_len.
    replay=(regressions/"$target"/* corpus/"$target"/*)
    if [ ${#replay[@]} -eq 0 ]; then
        echo "fuzz: no corpus for $target" >&2
        exit 1
    fi
    echo "== fuzz $target: replaying ${#replay[@]} inputs (regressions and corpus)"
    if ! "$bin/$target" "${LIMITS[@]}" "${replay[@]}" >"$work/log" 2>&1; then
        tail -n 30 "$work/log"
        # A replayed input is a committed file: its name is enough.
        echo "fuzz: $target failed on $(sed -n 's/^Running: //p' "$work/log" | tail -n 1)"
        exit 1
    fi
    echo "== fuzz $target: ${SECONDS_PER_TARGET} s from them"
    # New inputs go to a scratch directory: the committed corpus changes only through
    # `cargo fuzz cmin` (docs/testing.md).
    seeds=("$work/new" "corpus/$target")
    [ -d "regressions/$target" ] && seeds+=("regressions/$target")
    if ! "$bin/$target" "${LIMITS[@]}" -max_len="$max_len" -dict="dict/$target.dict" \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -artifact_prefix="$work/artifacts/" "${seeds[@]}" >"$work/log" 2>&1; then
        tail -n 30 "$work/log"
        show_failure "$target"
        exit 1
    fi
    grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|stat::number_of_executed_units|stat::peak_rss_mb' "$work/log"
done
