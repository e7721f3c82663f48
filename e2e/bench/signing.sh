#!/usr/bin/env bash
# Signing benchmark: `nodefit sign`/`verify` against `cosign sign`/`verify` (trixie's 2.5) on the
# same compatibility artifacts, on distribution 2.8 (no referrers API) and go-containerregistry
# (referrers API).
#
#   bash e2e/testbed/setup.sh          # once, installs the registries, oras and cosign
#   e2e/bench/signing.sh [RUNS]        # default 10 artifacts per registry
#
# Each run attaches a fresh, unsigned artifact with nodefit, then on that artifact: nodefit signs
# it with key A and cosign with key B (both in cosign's encrypted format, so both pay for the
# scrypt key derivation; the tool that goes first alternates, the other appends a second
# signature), nodefit signs it a third time with an unencrypted PKCS#8 key C, then both verify it
# against key A's public key. Wall time from process start to exit (`date +%s%N` around it).
# Requests: counted in the registry's own log around each command. Prints a Markdown table for
# docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
RUNS=${1:-10}
TESTBED=$(realpath "${TESTBED_DIR:-target/testbed}")
COSIGN=$TESTBED/bin/cosign
GGCR=$TESTBED/bin/ggcr-registry
for tool in "$COSIGN" "$GGCR" docker-registry skopeo umoci curl; do
    command -v "$tool" >/dev/null || { echo "missing $tool: run bash e2e/testbed/setup.sh" >&2; exit 1; }
done
cargo build -q --release -p nodefit
NODEFIT=$PWD/target/release/nodefit
. e2e/bench/lib.sh

build_image

# Keys: A and B in cosign's encrypted format (from nodefit keygen, which cosign reads), C plain.
export NODEFIT_KEY_PASSWORD=bench COSIGN_PASSWORD=bench COSIGN_YES=true
mkdir -p "$WORK/keys"
cd "$WORK/keys"
"$NODEFIT" keygen --cosign-format --output-key a.key 2>/dev/null
"$NODEFIT" keygen --cosign-format --output-key b.key 2>/dev/null
"$NODEFIT" keygen --output-key c.key 2>/dev/null

requests_in() { grep -cE '(GET|HEAD|PUT|POST|PATCH|DELETE) /v2/bench/' "$1" || true; }

declare -A TIMES COUNTS
# time_run KEY LOG command...: appends the run's wall time in µs to TIMES[KEY], and the
# registry requests it made to COUNTS[KEY].
time_run() {
    local key=$1 log=$2 start end before
    shift 2
    before=$(requests_in "$log")
    start=$(now_ns)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@"; exit 1; }
    end=$(now_ns)
    sleep 0.1
    TIMES[$key]+="$(( (end - start) / 1000 )) "
    COUNTS[$key]=$(( ${COUNTS[$key]:-0} + $(requests_in "$log") - before ))
}


bench_registry() {
    local name=$1 log=$2 host=$3
    local image=$host/bench/app
    skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$WORK/layout:img" "docker://$image:v1"
    for i in $(seq "$RUNS"); do
        printf 'version: v1alpha1\ncompatibilities:\n- description: "run %s on %s"\n  rules:\n  - name: cpu\n    matchFeatures:\n    - feature: cpu.model\n      matchExpressions:\n        vendor_id: {op: In, value: ["Intel", "AMD"]}\n' \
            "$i" "$name" >"spec-$name-$i.yaml"
        local artifact
        artifact=$("$NODEFIT" attach --plain-http --image "$image:v1" "spec-$name-$i.yaml" |
            sed -n 's/^Digest: //p')
        local nodefit_sign=("$NODEFIT" sign --plain-http --image "$image:v1" --artifact "$artifact" --key a.key)
        local cosign_sign=("$COSIGN" sign --key b.key --tlog-upload=false --allow-http-registry "$image@$artifact")
        if (( i % 2 )); then
            time_run "$name sign nodefit" "$log" "${nodefit_sign[@]}"
            time_run "$name sign cosign" "$log" "${cosign_sign[@]}"
        else
            time_run "$name sign cosign" "$log" "${cosign_sign[@]}"
            time_run "$name sign nodefit" "$log" "${nodefit_sign[@]}"
        fi
        time_run "$name sign-pkcs8 nodefit" "$log" \
            "$NODEFIT" sign --plain-http --image "$image:v1" --artifact "$artifact" --key c.key
        time_run "$name verify nodefit" "$log" \
            "$NODEFIT" verify --plain-http --image "$image:v1" --key a.pub
        time_run "$name verify cosign" "$log" \
            "$COSIGN" verify --key a.pub --insecure-ignore-tlog=true --allow-http-registry "$image@$artifact"
    done
}

DIST_PORT=$(free_port)
start_distribution "$DIST_PORT"
GGCR_PORT=$(free_port)
start_ggcr "$GGCR_PORT"
bench_registry distribution "$WORK/distribution.log" "127.0.0.1:$DIST_PORT"
bench_registry ggcr "$WORK/ggcr.log" "127.0.0.1:$GGCR_PORT"

row() { # row LABEL OPERATION KEY: one tool's median, mean and requests per run
    read -r m a <<<"$(stats "${TIMES[$3]}")"
    r=$(awk -v c="${COUNTS[$3]}" -v n="$RUNS" 'BEGIN { printf "%.1f", c / n }')
    echo "| $1 | $2 | $m | $a | $r |"
}
echo "| registry | command | median ms | mean ms | requests/run |"
echo "| --- | --- | --- | --- | --- |"
for name in distribution ggcr; do
    label=$name
    [ "$name" = distribution ] && label="distribution 2.8 (tag schema)"
    [ "$name" = ggcr ] && label="ggcr (referrers API)"
    row "$label" "cosign sign (encrypted key)" "$name sign cosign"
    row "$label" "nodefit sign (encrypted key)" "$name sign nodefit"
    row "$label" "nodefit sign (PKCS#8 key)" "$name sign-pkcs8 nodefit"
    row "$label" "cosign verify" "$name verify cosign"
    row "$label" "nodefit verify" "$name verify nodefit"
done
