#!/usr/bin/env bash
# The fleet at scale, on SQLite then PostgreSQL (a cluster started here, with PostgreSQL's
# default durability): NODES generated nodes (`nodefit_e2e::fleetgen`: 24 pools of similar
# nodes, each node with its own host name and kernel build, a quarter with one more module)
# uploaded as NodeFeatureLists, then the example spec evaluated against all of them. Prints a
# Markdown table for docs/benchmarks.md.
#
#   e2e/bench/fleet-scale.sh                       # 10,000 nodes
#   NODES=100000 e2e/bench/fleet-scale.sh
#   NODES=100000 DATABASES=postgres e2e/bench/fleet-scale.sh
#
# What is measured, all on one machine (the uploaders and curl share its cores with the server):
# - upload: every list posted by UPLOADERS concurrent curl processes, wall time;
# - warm: WARM evaluations of `{"groupBy": ["pool"]}` (the summary and the first 50 nodes) once
#   the matrix is computed, server-side latency (its per-request log line) p50 / p99;
# - new version: NEW_VERSIONS evaluations each of a new version of the spec (the fleet in
#   memory, the matrix computed), server-side p50 / p99;
# - per-node spec: the first evaluation of a spec that reads each node's host name, so that
#   every node is a group of its own (the worst case of grouping);
# - cold: the server restarted COLD times, the first evaluation sent as soon as /readyz
#   answers, server-side latency p50 / max (it includes loading the fleet, whose time the
#   server logs);
# - peak RSS: VmHWM of the server process, after uploading and after the cold start;
# - database size: the SQLite file (after the server's checkpoint at exit), or
#   pg_database_size.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
require_rust
apt_install postgresql python3 curl
NODES=${NODES:-10000}
PER_LIST=${PER_LIST:-100}
UPLOADERS=${UPLOADERS:-2}
WARM=${WARM:-200}
NEW_VERSIONS=${NEW_VERSIONS:-20}
COLD=${COLD:-3}
DATABASES=${DATABASES:-sqlite postgres}
SPEC=shared/core/tests/data/examples/image-compatibility.yaml
TOKEN=bench-admin-token-0123456789abcdef
AUTH="Authorization: Bearer $TOKEN"

WORK=$(mktemp -d)
chmod 755 "$WORK"
SERVER_PID=
PG_DIR=
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    [ -n "$PG_DIR" ] && pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT

# The binaries are copied out of the target directory, which other builds may share.
# NO_BUILD=1 takes the release binaries already built (a run right after building them).
if [ -z "${NO_BUILD:-}" ]; then
    cargo build -q --release -p nodefit
    cargo build -q --release -p nodefit-e2e --bin fleet-gen
fi
cp "${CARGO_TARGET_DIR:-target}/release/nodefit" "$WORK/nodefit"
cp "${CARGO_TARGET_DIR:-target}/release/fleet-gen" "$WORK/fleet-gen"
NODEFIT=$WORK/nodefit
started=$(date +%s%N)
"$WORK/fleet-gen" "$NODES" "$WORK/lists" "$PER_LIST"
echo "generated $NODES nodes ($(du -sh "$WORK/lists" | cut -f1)) in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
# The lists written just now (750 MB at 100,000 nodes) would otherwise be written back to disk
# during the upload, and the database's fsyncs would wait behind them.
sync

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_as_owner() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
    PG_DIR=$WORK/pg
    mkdir -p "$PG_DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$PG_DIR"
    PG_PORT=$(free_port)
    pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U nodefit --auth=trust -E UTF8 --no-instructions >/dev/null
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
        -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1" start >/dev/null
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U nodefit -d postgres -qc "CREATE DATABASE bench"
}

# start_server NAME ARGS...: starts `nodefit serve` on a free port, waits until it is ready.
start_server() {
    local name=$1
    shift
    PORT=$(free_port)
    BASE=http://127.0.0.1:$PORT
    LOG=$WORK/server-$name.log
    NODEFIT_ADMIN_TOKEN=$TOKEN RUST_LOG=info,sqlx=warn "$NODEFIT" serve --listen "127.0.0.1:$PORT" \
        --ui-dir /nonexistent "$@" 2>>"$LOG" &
    SERVER_PID=$!
    for _ in $(seq 400); do
        curl -fs -o /dev/null "$BASE/readyz" && return
        sleep 0.025
    done
    echo "the server did not start:" >&2
    cat "$LOG" >&2
    exit 1
}

stop_server() {
    kill "$SERVER_PID"
    wait "$SERVER_PID" || true
    SERVER_PID=
}

peak_rss() { awk '/^VmHWM/ {printf "%.0f MiB", $2 / 1024}' "/proc/$SERVER_PID/status"; }

# server_percentiles LOG FROM_LINE PATH: p50 and p99 of the server's own latencies for a path
# (its log gives them in microseconds).
server_percentiles() {
    tail -n +"$2" "$1" | grep "finished processing request" | grep -E "path=$3( |\$)" |
        sed -E 's/.*latency=([0-9]+) .*/\1/' | sort -n |
        awk '{v[NR]=$1} END {
            if (NR == 0) { print "n/a"; exit }
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%.1f ms / %.1f ms", v[int((NR + 1) / 2)] / 1000, v[i99] / 1000
        }'
}

# last_latency_us LOG PATH: the server's latency of the last request to PATH, in µs.
last_latency_us() {
    grep "finished processing request" "$1" | grep -E "path=$2( |\$)" | tail -1 |
        sed -E 's/.*latency=([0-9]+) .*/\1/'
}

# last_latency LOG PATH: the server's latency of the last request to PATH, in ms.
last_latency() {
    grep "finished processing request" "$1" | grep -E "path=$2( |\$)" | tail -1 |
        sed -E 's/.*latency=([0-9]+) .*/\1/' | awk '{printf "%.0f ms", $1 / 1000}'
}

evaluate() { # evaluate SPEC_ID BODY: prints curl's total time in ms
    curl -fsS -o "$WORK/matrix.json" -w '%{time_total}' -H "$AUTH" -H "Content-Type: application/json" \
        -d "$2" "$BASE/api/v1/specs/$1/evaluate" | awk '{printf "%.0f", $1 * 1000}'
}

spec_json() { # spec_json NAME FILE [SUFFIX]: the body creating or saving a spec
    python3 -c 'import json,sys; print(json.dumps({"name": sys.argv[1], "content": open(sys.argv[2]).read() + sys.argv[3]}))' "$1" "$2" "${3:-}"
}

declare -A R
bench() {
    local db=$1
    shift
    start_server "$db" "$@"
    local started=$(date +%s%N)
    ls "$WORK"/lists/*.json | xargs -P "$UPLOADERS" -I{} \
        curl -fsS -o /dev/null -H "$AUTH" -H "Content-Type: application/json" --data-binary @{} "$BASE/api/v1/snapshots"
    local ms=$(( ($(date +%s%N) - started) / 1000000 ))
    R[$db,upload]="$(( NODES * 1000 / ms )) nodes/s ($(( ms / 1000 )).$(( ms % 1000 / 100 )) s)"

    local spec_id
    spec_id=$(spec_json bench "$SPEC" | curl -fsS -H "$AUTH" -H "Content-Type: application/json" --data-binary @- "$BASE/api/v1/specs" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    local first
    first=$(evaluate "$spec_id" '{"groupBy": ["pool"]}')
    R[$db,first]="$(last_latency "$LOG" "/api/v1/specs/$spec_id/evaluate") (fleet synced from $NODES changes, matrix computed)"
    R[$db,answer]=$(python3 - "$WORK/matrix.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
print(f'{m["total"]} nodes, {m["compatible"]} compatible, {len(m["outcomes"])} outcomes, {len(m["groups"])} pool/outcome groups')
PY
)
    R[$db,rss_upload]=$(peak_rss)

    local from=$(($(wc -l <"$LOG") + 1))
    for _ in $(seq "$WARM"); do evaluate "$spec_id" '{"groupBy": ["pool"]}' >/dev/null; done
    R[$db,warm]=$(server_percentiles "$LOG" "$from" "/api/v1/specs/$spec_id/evaluate")
    local drill
    drill=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); g=m["groups"][0]; print(json.dumps({"filter": {"labels": {"pool": g["labels"]["pool"]}, "outcome": g["outcome"]}, "limit": 50, "offset": 50}))' "$WORK/matrix.json")
    from=$(($(wc -l <"$LOG") + 1))
    for _ in $(seq "$WARM"); do evaluate "$spec_id" "$drill" >/dev/null; done
    R[$db,drill]=$(server_percentiles "$LOG" "$from" "/api/v1/specs/$spec_id/evaluate")

    from=$(($(wc -l <"$LOG") + 1))
    for i in $(seq "$NEW_VERSIONS"); do
        spec_json bench "$SPEC" "# version $i" | curl -fsS -o /dev/null -X PUT -H "$AUTH" -H "Content-Type: application/json" \
            --data-binary @- "$BASE/api/v1/specs/$spec_id"
        evaluate "$spec_id" '{"groupBy": ["pool"]}' >/dev/null
    done
    R[$db,new_version]=$(server_percentiles "$LOG" "$from" "/api/v1/specs/$spec_id/evaluate")

    local per_node_id
    per_node_id=$(printf 'version: v1alpha1\ncompatibilities:\n- rules:\n  - name: named\n    matchFeatures:\n    - feature: system.name\n      matchExpressions:\n        nodename: {op: InRegexp, value: ["-0[0-4]"]}\n' >"$WORK/per-node.yaml"
        spec_json per-node "$WORK/per-node.yaml" | curl -fsS -H "$AUTH" -H "Content-Type: application/json" --data-binary @- "$BASE/api/v1/specs" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    evaluate "$per_node_id" '{}' >/dev/null
    R[$db,per_node]=$(last_latency "$LOG" "/api/v1/specs/$per_node_id/evaluate")
    R[$db,rss_warm]=$(peak_rss)

    # Cold: the first evaluation after a restart, sent as soon as the server is ready; COLD
    # restarts, server-side latency (which includes loading the fleet) p50 / max.
    local colds=() loads=() rss_cold=0
    for _ in $(seq "$COLD"); do
        stop_server
        start_server "$db" "$@"
        evaluate "$spec_id" '{"groupBy": ["pool"]}' >/dev/null
        colds+=("$(last_latency_us "$LOG" "/api/v1/specs/$spec_id/evaluate")")
        loads+=("$(grep "fleet loaded" "$LOG" | tail -1 | sed -E 's/.* ms=([0-9]+).*/\1/')")
        local rss
        rss=$(awk '/^VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
        [ "$rss" -gt "$rss_cold" ] && rss_cold=$rss
    done
    R[$db,cold]="$(printf '%s\n' "${colds[@]}" | sort -n | awk '{v[NR]=$1} END {printf "%.0f ms / %.0f ms", v[int((NR + 1) / 2)] / 1000, v[NR] / 1000}') (loading the fleet: $(printf '%s\n' "${loads[@]}" | sort -n | tr '\n' ' ' | sed 's/ $//; s/ / \/ /g') ms)"
    R[$db,rss]="${R[$db,rss_upload]} / ${R[$db,rss_warm]} / $(( rss_cold / 1024 )) MiB"
    stop_server
}

db_size() { du -cb "$@" 2>/dev/null | tail -1 | awk '{printf "%.0f MiB", $1 / 1048576}'; }

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo); load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for db in $DATABASES; do
    case $db in
        sqlite)
            bench sqlite --data-dir "$WORK/sqlite"
            R[sqlite,size]=$(db_size "$WORK"/sqlite/nodefit.db*)
            ;;
        postgres)
            start_postgres
            bench postgres --database-url "postgres://nodefit@127.0.0.1:$PG_PORT/bench"
            R[postgres,size]=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U nodefit -d bench -Atc \
                "SELECT pg_database_size('bench') / 1048576 || ' MiB'")
            ;;
    esac
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo
echo "$NODES nodes | $(echo "$DATABASES" | sed 's/ / | /g')"
echo "| What | $(echo "$DATABASES" | sed 's/ / | /g') |"
echo "| --- |$(for _ in $DATABASES; do printf ' --- |'; done)"
row() {
    printf '| %s |' "$1"
    for db in $DATABASES; do printf ' %s |' "${R[$db,$2]}"; done
    echo
}
row "Answer" answer
row "Upload ($UPLOADERS uploaders, lists of $PER_LIST)" upload
row "First evaluation after the upload (server)" first
row "Warm evaluation, summary by pool + first page: server p50 / p99" warm
row "Warm drill-down (a pool and outcome, second page): server p50 / p99" drill
row "New spec version, fleet in memory: server p50 / p99" new_version
row "Spec reading every node's host name (one group per node), server" per_node
row "Cold: first evaluation after a restart, server p50 / max of $COLD restarts" cold
row "Server peak RSS: after upload and first evaluation / after warm runs / cold start" rss
row "Database size" size
