#!/usr/bin/env bash
# Registry benchmark: `nodefit attach`/`discover` against `oras attach`/`discover` on the same
# local registries, in one run: distribution 2.8 (no referrers API: the tag-schema path) and
# go-containerregistry (referrers API).
#
#   bash e2e/testbed/setup.sh          # once, installs the registries and oras
#   e2e/bench/registry.sh [RUNS]       # default 20 runs of each command
#
# Wall time: each command is run RUNS times, the two tools alternating, timed from process start
# to exit (`date +%s%N` around it). Requests: counted in each registry's own request log, by
# repository (each tool has its own), so neither tool pays for a measuring proxy. Prints a
# Markdown table for docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-20}
TESTBED=$(realpath "${TESTBED_DIR:-target/testbed}")
ORAS=$TESTBED/bin/oras
GGCR=$TESTBED/bin/ggcr-registry
for tool in "$ORAS" "$GGCR" docker-registry skopeo umoci; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run bash e2e/testbed/setup.sh" >&2; exit 1; }
done
cargo build -q --release -p nodefit
NODEFIT=$PWD/target/release/nodefit
. e2e/bench/lib.sh
ARTIFACT_TYPE=application/vnd.nfd.image-compatibility.v1alpha1
SPEC_TYPE=application/vnd.nfd.image-compatibility.spec.v1alpha1+yaml

build_image

# Requests to one repository in a registry's log (distribution's access log, ggcr's log lines).
requests_to() {
    grep -cE "(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/$2/" "$1" || true
}

declare -A TIMES COUNTS
# time_run KEY command...: appends the run's wall time in ms to TIMES[KEY].
time_run() {
    local key=$1 start end
    shift
    start=$(now_ns)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }
    end=$(now_ns)
    TIMES[$key]+="$(( (end - start) / 1000 )) "
}


bench_registry() {
    local name=$1 log=$2 host=$3
    for tool in oras nodefit; do
        skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/layout:img" \
            "docker://$host/bench/$tool:v1"
    done
    local dir=$WORK/specs-$name
    mkdir -p "$dir"
    for i in $(seq "$RUNS"); do
        for tool in oras nodefit; do
            printf 'version: v1alpha1\ncompatibilities:\n- description: "%s run %s on %s"\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: ["Intel", "AMD"]}\n' \
                "$tool" "$i" "$name" >"$dir/$tool-$i.yaml"
        done
    done
    sleep 0.3
    local before_oras before_nodefit
    before_oras=$(requests_to "$log" bench/oras)
    before_nodefit=$(requests_to "$log" bench/nodefit)
    # oras refuses absolute file paths: attach from the spec directory.
    pushd "$dir" >/dev/null
    for i in $(seq "$RUNS"); do
        time_run "$name attach oras" "$ORAS" attach --plain-http \
            --artifact-type "$ARTIFACT_TYPE" "$host/bench/oras:v1" "oras-$i.yaml:$SPEC_TYPE"
        time_run "$name attach nodefit" "$NODEFIT" attach --plain-http \
            --image "$host/bench/nodefit:v1" "nodefit-$i.yaml"
    done
    popd >/dev/null
    sleep 0.3
    COUNTS["$name attach oras"]=$(( $(requests_to "$log" bench/oras) - before_oras ))
    COUNTS["$name attach nodefit"]=$(( $(requests_to "$log" bench/nodefit) - before_nodefit ))

    for format in tree json; do
        before_oras=$(requests_to "$log" bench/oras)
        before_nodefit=$(requests_to "$log" bench/nodefit)
        for _ in $(seq "$RUNS"); do
            time_run "$name discover-$format oras" "$ORAS" discover --plain-http --format "$format" \
                "$host/bench/oras:v1"
            time_run "$name discover-$format nodefit" "$NODEFIT" discover --plain-http \
                --output "$format" --image "$host/bench/nodefit:v1"
        done
        sleep 0.3
        COUNTS["$name discover-$format oras"]=$(( $(requests_to "$log" bench/oras) - before_oras ))
        COUNTS["$name discover-$format nodefit"]=$(( $(requests_to "$log" bench/nodefit) - before_nodefit ))
    done
}

DIST_PORT=$(free_port)
start_distribution "$DIST_PORT"
GGCR_PORT=$(free_port)
start_ggcr "$GGCR_PORT"
bench_registry distribution "$WORK/distribution.log" "127.0.0.1:$DIST_PORT"
bench_registry ggcr "$WORK/ggcr.log" "127.0.0.1:$GGCR_PORT"

echo "| registry | command | oras median (mean) ms | nodefit median (mean) ms | nodefit/oras (median) | oras requests/run | nodefit requests/run |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for name in distribution ggcr; do
    for op in attach discover-tree discover-json; do
        read -r om oa <<<"$(stats "${TIMES[$name $op oras]}")"
        read -r nm na <<<"$(stats "${TIMES[$name $op nodefit]}")"
        ratio=$(awk -v n="$nm" -v o="$om" 'BEGIN { printf "%.2f", n / o }')
        oc=$(awk -v c="${COUNTS[$name $op oras]}" -v r="$RUNS" 'BEGIN { printf "%.1f", c / r }')
        nc=$(awk -v c="${COUNTS[$name $op nodefit]}" -v r="$RUNS" 'BEGIN { printf "%.1f", c / r }')
        label=$name
        [ "$name" = distribution ] && label="distribution 2.8 (tag schema)"
        [ "$name" = ggcr ] && label="ggcr (referrers API)"
        echo "| $label | ${op/-/ --output } | $om ($oa) | $nm ($na) | $ratio | $oc | $nc |"
    done
done
