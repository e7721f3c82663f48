#!/usr/bin/env bash
# Server load benchmark on loopback, SQLite then PostgreSQL (a cluster started here, with
# PostgreSQL's default durability): fleet evaluation of the example spec against stored
# snapshots, the labels a 20-rule NodeFeatureRule (e2e/bench/nodefeaturerule-20.yaml) would
# apply on them, snapshot upload throughput, and read requests per second. Prints a Markdown
# table for docs/benchmarks.md.
#
#   e2e/bench/server-bench.sh            # 1,000 snapshots, 10 s per wrk run
#   SNAPSHOTS=5000 DURATION=20 e2e/bench/server-bench.sh
#   DATABASES=sqlite PARTS=labels e2e/bench/server-bench.sh   # only the upload and the labels
#
# Load comes from wrk (Debian), on the same machine as the server. "Server" latencies are the
# server's own (its per-request log line: request received to response written); wrk's
# latencies add loopback and wrk itself.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/lib.sh
require_rust
apt_install wrk postgresql python3 curl
SNAPSHOTS=${SNAPSHOTS:-1000}
DURATION=${DURATION:-10}
DATABASES=${DATABASES:-sqlite postgres}
PARTS=${PARTS:-all}
RULES=e2e/bench/nodefeaturerule-20.yaml
SPEC=shared/core/tests/data/examples/image-compatibility.yaml
TOKEN=bench-admin-token-0123456789abcdef
AUTH="Authorization: Bearer $TOKEN"

cargo build -q --release -p nodefit
NODEFIT=$PWD/target/release/nodefit
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
    for _ in $(seq 200); do
        curl -fs -o /dev/null "$BASE/readyz" && return
        sleep 0.05
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

# The snapshots: the three sample exports, each node made distinct; every fourth node also gets
# what the example spec needs (vfio-pci and a 0eee NIC) so that the matrix is not uniform.
python3 - "$SNAPSHOTS" "$WORK" shared/core/tests/data/samples/*.features.json <<'PY'
import copy, json, sys
count, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
samples = [json.load(open(f)) for f in files]
items = []
for i in range(count):
    f = copy.deepcopy(samples[i % len(samples)])
    name = f"bench-{i:05d}"
    f["attributes"]["system.name"] = {"elements": {"nodename": name}}
    if i % 4 == 0:
        f["flags"].setdefault("kernel.loadedmodule", {"elements": {}})["elements"]["vfio-pci"] = {}
        nic = {"attributes": {"class": "0200", "vendor": "0eee", "device": f"{i:04x}"}}
        f["instances"].setdefault("pci.device", {"elements": []})["elements"].append(nic)
    pool = ["gpu", "cpu", "arm"][i % len(samples)]
    items.append({"kind": "NodeFeature", "metadata": {"name": name, "labels": {"pool": pool}},
                  "spec": {"features": f}})
for n, start in enumerate(range(0, count, 100)):
    with open(f"{out}/list-{n:03d}.json", "w") as fh:
        json.dump({"kind": "NodeFeatureList", "items": items[start:start + 100]}, fh)
# One node with a placeholder, for uploads that must each be new.
one = copy.deepcopy(samples[0])
one["attributes"]["bench.unique"] = {"elements": {"n": "__UNIQUE__"}}
with open(f"{out}/one.json", "w") as fh:
    json.dump(one, fh)
PY

cat >"$WORK/evaluate.lua" <<'LUA'
wrk.method = "POST"
wrk.body = "{}"
wrk.headers["Content-Type"] = "application/json"
LUA
cat >"$WORK/upload.lua" <<'LUA'
-- Each request uploads a node never seen before: thread number and counter in the features.
wrk.headers["Content-Type"] = "application/json"
local threads = 0
function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end
function init(args)
    local f = assert(io.open(args[1]))
    local body = f:read("*a")
    f:close()
    local i, j = string.find(body, "__UNIQUE__", 1, true)
    prefix, suffix, counter = string.sub(body, 1, i - 1), string.sub(body, j + 1), 0
end
function request()
    counter = counter + 1
    -- nil headers: wrk.headers, with the token from -H.
    return wrk.format("POST", "/api/v1/snapshots", nil, prefix .. tid .. "-" .. counter .. suffix)
end
LUA

# wrk_run OUT ARGS...: runs wrk with the token header and --latency.
wrk_run() {
    local out=$1
    shift
    wrk --latency -H "$AUTH" "$@" >"$out"
}
rps() { awk '/^Requests\/sec/ {printf "%.0f", $2}' "$1"; }
wrk_p50() { awk '$1 == "50%" {print $2}' "$1"; }

# server_percentiles LOG FROM_LINE PATH: p50 and p99 of the server's own latencies for a path
# (its log gives them in microseconds).
server_percentiles() {
    tail -n +"$2" "$1" | grep "finished processing request" | grep -E "path=$3( |\$)" |
        sed -E 's/.*latency=([0-9]+) .*/\1/' | sort -n |
        awk '{v[NR]=$1} END {
            if (NR == 0) { print "n/a"; exit }
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%.1f ms / %.1f ms (%d requests)", v[int((NR + 1) / 2)] / 1000, v[i99] / 1000, NR
        }'
}

declare -A R
bench() {
    local db=$1
    shift
    start_server "$db" "$@"
    local started=$(date +%s%N)
    for list in "$WORK"/list-*.json; do
        curl -fs -o /dev/null -H "$AUTH" -H "Content-Type: application/json" --data-binary "@$list" "$BASE/api/v1/snapshots"
    done
    local ms=$(( ($(date +%s%N) - started) / 1000000 ))
    R[$db,bulk]="$(( SNAPSHOTS * 1000 / ms )) nodes/s"
    local spec_id
    spec_id=$(python3 -c 'import json,sys; print(json.dumps({"name": "bench", "content": open(sys.argv[1]).read()}))' "$SPEC" |
        curl -fs -H "$AUTH" -H "Content-Type: application/json" --data-binary @- "$BASE/api/v1/specs" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    local snapshot_id
    snapshot_id=$(curl -fs -H "$AUTH" "$BASE/api/v1/snapshots?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')

    local rules_id
    rules_id=$(python3 -c 'import json,sys; print(json.dumps({"name": "bench-20", "content": open(sys.argv[1]).read()}))' "$RULES" |
        curl -fs -H "$AUTH" -H "Content-Type: application/json" --data-binary @- "$BASE/api/v1/nodefeaturerules" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

    # Cold: the first evaluation after a restart reads and parses every snapshot.
    stop_server
    start_server "$db" "$@"
    local labels=$BASE/api/v1/nodefeaturerules/$rules_id/labels
    if [ "$PARTS" = labels ]; then
        R[$db,labels_cold]=$(curl -fs -o "$WORK/labels.json" -w '%{time_total}' -H "$AUTH" -H "Content-Type: application/json" -d '{}' "$labels" |
            awk '{printf "%.0f ms", $1 * 1000}')
    fi
    local evaluate=$BASE/api/v1/specs/$spec_id/evaluate
    R[$db,cold]=$(curl -fs -o "$WORK/matrix.json" -w '%{time_total}' -H "$AUTH" -H "Content-Type: application/json" -d '{}' "$evaluate" |
        awk '{printf "%.0f ms", $1 * 1000}')
    R[$db,total]=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["total"], "snapshots,", m["compatible"], "compatible")' "$WORK/matrix.json")

    local from=$(($(wc -l <"$LOG") + 1))
    # The labels of the 20-rule NodeFeatureRule on every stored snapshot (warm: the features are
    # in the cache after the evaluation or the cold request above).
    curl -fs -o "$WORK/labels.json" -H "$AUTH" -H "Content-Type: application/json" -d '{}' "$labels"
    R[$db,labels_total]=$(python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(m["total"], "snapshots,", len(m["summary"]), "distinct labels,", m["withErrors"], "with errors")' "$WORK/labels.json")
    wrk_run "$WORK/labels.txt" -t1 -c1 -d"${DURATION}s" -s "$WORK/evaluate.lua" "$labels"
    R[$db,labels_server]=$(server_percentiles "$LOG" "$from" "/api/v1/nodefeaturerules/$rules_id/labels")
    R[$db,labels_client]="$(wrk_p50 "$WORK/labels.txt") ($(rps "$WORK/labels.txt") req/s)"
    if [ "$PARTS" = labels ]; then
        stop_server
        return
    fi

    from=$(($(wc -l <"$LOG") + 1))
    wrk_run "$WORK/eval.txt" -t1 -c1 -d"${DURATION}s" -s "$WORK/evaluate.lua" "$evaluate"
    R[$db,eval_server]=$(server_percentiles "$LOG" "$from" "/api/v1/specs/$spec_id/evaluate")
    R[$db,eval_client]="$(wrk_p50 "$WORK/eval.txt") ($(rps "$WORK/eval.txt") req/s)"
    wrk_run "$WORK/eval4.txt" -t2 -c4 -d"${DURATION}s" -s "$WORK/evaluate.lua" "$evaluate"
    R[$db,eval_conc]="$(rps "$WORK/eval4.txt") req/s, p50 $(wrk_p50 "$WORK/eval4.txt")"

    wrk_run "$WORK/upload.txt" -t2 -c8 -d"${DURATION}s" -s "$WORK/upload.lua" "$BASE" -- "$WORK/one.json"
    R[$db,upload]="$(rps "$WORK/upload.txt") req/s, p50 $(wrk_p50 "$WORK/upload.txt")"
    wrk_run "$WORK/list.txt" -t2 -c16 -d"${DURATION}s" "$BASE/api/v1/snapshots?limit=50"
    R[$db,list]="$(rps "$WORK/list.txt") req/s, p50 $(wrk_p50 "$WORK/list.txt")"
    wrk_run "$WORK/get.txt" -t2 -c16 -d"${DURATION}s" "$BASE/api/v1/snapshots/$snapshot_id"
    R[$db,get]="$(rps "$WORK/get.txt") req/s, p50 $(wrk_p50 "$WORK/get.txt")"
    wrk_run "$WORK/spec.txt" -t2 -c16 -d"${DURATION}s" "$BASE/api/v1/specs/$spec_id"
    R[$db,spec]="$(rps "$WORK/spec.txt") req/s, p50 $(wrk_p50 "$WORK/spec.txt")"
    stop_server
}

for db in $DATABASES; do
    case $db in
    sqlite) bench sqlite --data-dir "$WORK/sqlite" ;;
    postgres)
        start_postgres
        bench postgres --database-url "postgres://nodefit@127.0.0.1:$PG_PORT/bench"
        ;;
    esac
done

echo
echo "| What | SQLite | PostgreSQL |"
echo "| --- | --- | --- |"
row() { echo "| $1 | ${R[sqlite,$2]:-} | ${R[postgres,$2]:-} |"; }
row "Labels, 20-rule NodeFeatureRule, matrix" labels_total
row "Labels, warm: server p50 / p99" labels_server
row "Labels, warm: wrk p50, 1 connection" labels_client
row "Labels, cold (first after restart)" labels_cold
[ "$PARTS" = labels ] && exit 0
row "Fleet evaluation, matrix" total
row "Fleet evaluation, warm: server p50 / p99" eval_server
row "Fleet evaluation, warm: wrk p50, 1 connection" eval_client
row "Fleet evaluation, warm: 4 connections" eval_conc
row "Fleet evaluation, cold (first after restart)" cold
row "Bulk upload, NodeFeatureLists of 100 nodes" bulk
row "Upload, one new node per request, 8 connections" upload
row "Read: list 50 snapshots, 16 connections" list
row "Read: one snapshot with features, 16 connections" get
row "Read: one spec, 16 connections" spec
