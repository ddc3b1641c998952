#!/usr/bin/env bash
# Time-series benchmark: the embedded store against InfluxDB 1.6.7, in the same run on
# the same machine (method and numbers in bench/README.md).
#
#   bash bench/timeseries.sh            # ~5 minutes; writes bench/results/timeseries-latest.txt
#   bash bench/timeseries.sh --quick    # under a minute: a smoke run, numbers not meaningful;
#                                       # writes bench/results/timeseries-quick.txt (not kept)
#
# It builds once in release (`streamswarm` and the example `ts_bench`), starts a private
# InfluxDB 1.6.7 (its own data directory and loopback port; never a shared one) and
# `streamswarm serve` with the embedded store in a fresh temporary data directory
# (an operator API token created with `streamswarm token create`), then runs
# `ts_bench ingest` (both stores over HTTP, interleaved), `ts_bench verify` (after the
# server has stopped) and `ts_bench query` (query latency).
#
# Knobs (environment):
#   BENCH_SHAPES=agent,fleet how requests are cut (per-agent or fleet-wide batches)
#   BENCH_CLIENTS=1,4        concurrent clients per ingest case
#   BENCH_SECONDS=10         length of each timed ingest run
#   BENCH_ROUNDS=2           ingest runs per store and case (the order alternates)
#   BENCH_REPS=200           timed repetitions per store and phase of the query
#   BENCH_OUT=bench/results/timeseries-latest.txt
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=scripts/influxdb.sh
source "$ROOT/scripts/influxdb.sh"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        -h | --help)
            sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument $arg (only --quick)" ;;
    esac
done
SHAPES=${BENCH_SHAPES:-agent,fleet}
CLIENTS=${BENCH_CLIENTS:-1,4}
if ((QUICK)); then
    SECONDS_PER_RUN=${BENCH_SECONDS:-2}
    ROUNDS=${BENCH_ROUNDS:-1}
    REPS=${BENCH_REPS:-20}
else
    SECONDS_PER_RUN=${BENCH_SECONDS:-10}
    ROUNDS=${BENCH_ROUNDS:-2}
    REPS=${BENCH_REPS:-200}
fi
if ((QUICK)); then
    OUT=${BENCH_OUT:-$ROOT/bench/results/timeseries-quick.txt}
else
    OUT=${BENCH_OUT:-$ROOT/bench/results/timeseries-latest.txt}
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/streamswarm
TS_BENCH=$TARGET_DIR/release/examples/ts_bench

WORK=$(mktemp -d /tmp/streamswarm-tsbench.XXXXXX)
SERVER_PID=
INFLUX_STARTED=0
RESULTS=$WORK/results.txt
: >"$RESULTS"

cleanup() {
    stop_server
    if ((INFLUX_STARTED)); then stop_influxdb "$WORK/influx"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# out LINE...: prints and records.
out() { printf '%s\n' "$@" | tee -a "$RESULTS"; }

stop_server() {
    stop_process "$SERVER_PID" 300
    SERVER_PID=
}

section "Tools"
ensure_command curl
ensure_influxdb
ok "$(influxd version 2>/dev/null | head -n1)"

section "cargo build --release -p streamswarm --bin streamswarm --example ts_bench"
cargo build --release -p streamswarm --bin streamswarm --example ts_bench
[[ -x $BIN && -x $TS_BENCH ]] || die "no binaries under $TARGET_DIR/release (set CARGO_TARGET_DIR?)"

section "Private InfluxDB 1.6.7"
# start_influxdb also binds PORT+1 (backup RPC): find a port whose neighbour is free too.
for _ in $(seq 50); do
    INFLUX_PORT=$(free_port)
    port_free $((INFLUX_PORT + 1)) && break
done
INFLUX_URL=$(start_influxdb "$WORK/influx" "$INFLUX_PORT") || die "influxd did not start"
INFLUX_STARTED=1
INFLUX_PID=$(cat "$WORK/influx/influxd.pid")
ok "influxd pid $INFLUX_PID on $INFLUX_URL, data in $WORK/influx"

section "StreamSwarm server (embedded store)"
mkdir -p "$WORK/data"
TOKEN=$(env -u STREAMSWARM_CONFIG "$BIN" --data-dir "$WORK/data" \
    token create --kind api --name bench --role operator 2>/dev/null) \
    || die "streamswarm token create failed"
[[ $TOKEN == ssw_api_* ]] || die "unexpected token output"
PORT=$(free_port)
env -u STREAMSWARM_CONFIG STREAMSWARM__SERVER__BIND="127.0.0.1:$PORT" STREAMSWARM__LOG__LEVEL=warn \
    "$BIN" --data-dir "$WORK/data" serve >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
if ! wait_http "http://127.0.0.1:$PORT/readyz" 300; then
    cat "$WORK/server.log" >&2
    die "the server did not become ready on 127.0.0.1:$PORT"
fi
ok "streamswarm serve pid $SERVER_PID on 127.0.0.1:$PORT, data in $WORK/data"

section "Machine"
out "StreamSwarm time-series benchmark (bash bench/timeseries.sh$( ((QUICK)) && echo ' --quick'))"
out ""
out "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src examples 2>/dev/null || echo ' (modified)')"
out "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
out "memory:   $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
out "kernel:   $(uname -srm)"
out "stores:   $(influxd version 2>/dev/null | head -n1) (defaults, private, loopback); streamswarm serve, release build, log level warn"
out "before:   $(uptime | sed 's/^ *//'); $(pgrep -x rustc | wc -l || true) rustc processes running"
out ""

section "Ingest"
STREAMSWARM_BENCH_TOKEN=$TOKEN BENCH_CLK_TCK=$(getconf CLK_TCK) "$TS_BENCH" ingest \
    --embedded "http://127.0.0.1:$PORT" --influx "$INFLUX_URL" \
    --shapes "$SHAPES" --clients "$CLIENTS" --seconds "$SECONDS_PER_RUN" --rounds "$ROUNDS" \
    --embedded-pid "$SERVER_PID" --influx-pid "$INFLUX_PID" \
    --expect-out "$WORK/expect.json" | tee -a "$RESULTS"
out ""

section "Verify"
stop_server
out "what the stores hold (the server stopped; counted through each store's reader):"
"$TS_BENCH" verify --embedded-file "$WORK/data/timeseries.db" --influx "$INFLUX_URL" \
    --expect "$WORK/expect.json" | tee -a "$RESULTS"
out "embedded store on disk: $(du -sh "$WORK/data" | cut -f1) (SQLite file + WAL); influxdb: $(du -sh "$WORK/influx/data" "$WORK/influx/wal" | awk '{ print $1 }' | paste -sd+ | sed 's/+/ data + /;s/$/ wal/')"
out ""

section "Query latency"
"$TS_BENCH" query --influx "$INFLUX_URL" --dir "$WORK/query" --reps "$REPS" | tee -a "$RESULTS"
out ""
out "after:    $(uptime | sed 's/^ *//'); $(pgrep -x rustc | wc -l || true) rustc processes running"

mkdir -p "$(dirname "$OUT")"
cp "$RESULTS" "$OUT"
info "written to ${OUT#"$ROOT"/}"
