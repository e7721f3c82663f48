# shellcheck shell=bash
# Shared by the registry and signing benchmarks (sourced, not run): a work directory cleaned up
# on exit, loopback registries (distribution 2.8 and go-containerregistry), an offline image,
# and timing helpers. Needs GGCR (the ggcr-registry binary) set by the caller.

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 20000))
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
    done
}

wait_ready() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/v2/" && return
        sleep 0.05
    done
    echo "registry on port $1 did not start" >&2
    exit 1
}

start_distribution() {
    local port=$1 dir=$WORK/distribution
    mkdir -p "$dir"
    cat >"$dir/config.yml" <<CONFIG
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http: {addr: 127.0.0.1:$port, secret: bench}
CONFIG
    docker-registry serve "$dir/config.yml" >"$WORK/distribution.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$port"
}

start_ggcr() {
    "$GGCR" -addr "127.0.0.1:$1" >"$WORK/ggcr.log" 2>&1 &
    PIDS+=($!)
    wait_ready "$1"
}

# A small linux/amd64 image, built offline, as $WORK/layout:img.
build_image() {
    umoci init --layout "$WORK/layout" >/dev/null
    umoci new --image "$WORK/layout:img" >/dev/null
    umoci config --image "$WORK/layout:img" --os linux --architecture amd64 --config.cmd /bin/true >/dev/null
}

now_ns() { date +%s%N; }

stats() { # prints "median mean" in ms of the microsecond list $1
    tr ' ' '\n' <<<"$1" | grep . | sort -n | awk '{v[NR]=$1; s+=$1} END {
        m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
        printf "%.1f %.1f", m/1000, s/NR/1000 }'
}
