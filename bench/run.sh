#!/usr/bin/env bash
# HTTP benchmark of the release server: token-authenticated GET /api/v1/me on SQLite
# and on PostgreSQL, with GET /healthz (no auth, no database) on the same server as the
# baseline. Load comes from wrk (Debian package), on loopback only.
#
#   bash bench/run.sh            # writes bench/results/latest.txt
#
# Knobs (environment):
#   BENCH_DURATION=20s  BENCH_CONNECTIONS=64  BENCH_THREADS=2  BENCH_WARMUP=3s
#   BENCH_REPEAT=3                     runs per scenario; the table shows the run least
#                                      disturbed by other processes, all runs are kept
#   BENCH_BACKENDS="sqlite postgres"   which servers to measure
#   BENCH_POOL_SIZE=N                  STREAMSWARM__DATABASE__POOL_SIZE (server default 16)
#   BENCH_WAIT_IDLE=900                seconds to wait for a quiet machine (no rustc, CPU
#                                      use <= BENCH_IDLE_PCT=10 %) before measuring
#   BENCH_TASKSET_SERVER / BENCH_TASKSET_WRK   CPU lists to pin each side (taskset -c)
#   BENCH_OUT=bench/results/latest.txt
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

DURATION=${BENCH_DURATION:-20s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
WARMUP=${BENCH_WARMUP:-3s}
REPEAT=${BENCH_REPEAT:-3}
BACKENDS=${BENCH_BACKENDS:-sqlite postgres}
POOL_SIZE=${BENCH_POOL_SIZE:-}
WAIT_IDLE=${BENCH_WAIT_IDLE:-900}
OUT=${BENCH_OUT:-$ROOT/bench/results/latest.txt}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/streamswarm
CLK_TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/streamswarm-bench.XXXXXX)
SERVER_PID=
PG_DB=
ROWS=()
ALL_ROWS=()
RAW=$WORK/raw.txt
: >"$RAW"

cleanup() {
    stop_server
    if [[ -n $PG_DB ]]; then pg_drop_db "$PG_DB" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------
# Measurement helpers

# cpu_ticks PID...: utime + stime of the given processes, in clock ticks.
cpu_ticks() {
    local total=0 pid line f
    for pid in "$@"; do
        line=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        # Fields after the ")" closing the command name start at field 3 (state);
        # utime and stime are fields 14 and 15.
        read -r -a f <<<"${line##*) }"
        total=$((total + f[11] + f[12]))
    done
    echo "$total"
}

# postgres_ticks: CPU ticks of the PostgreSQL backends serving the benchmark database
# (their process title names it); 0 when the backend is SQLite.
postgres_ticks() {
    [[ -n $PG_DB ]] || { echo 0; return; }
    local pids=() pid
    for pid in $(pgrep -u postgres -x postgres || true); do
        tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q " $PG_DB " && pids+=("$pid")
    done
    cpu_ticks "${pids[@]}"
}

# children_cpu VAR: sets VAR to the user + system seconds of this shell's finished
# children (bash `times`, which must run in this shell, not in a $(...) subshell).
children_cpu() {
    times >"$WORK/times"
    printf -v "$1" '%s' "$(awk 'NR == 2 {
        n = 0
        for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); n += p[1] * 60 + p[2] }
        printf "%.2f", n
    }' "$WORK/times")"
}

# machine_jiffies: "busy total" jiffies from /proc/stat.
machine_jiffies() {
    awk '/^cpu / { busy = $2 + $3 + $4 + $7 + $8 + $9; total = busy + $5 + $6; print busy, total }' /proc/stat
}

# to_ms VALUE: wrk's "812.00us", "4.20ms" or "1.03s" in milliseconds.
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n = n / 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /s$/) n = n * 1000
        printf "%.2f", n
    }'
}

with_taskset() {
    local cpus=$1
    shift
    if [[ -n $cpus ]]; then taskset -c "$cpus" "$@"; else "$@"; fi
}

# measure NAME BACKEND PATH [HEADER]: BENCH_REPEAT wrk runs; the result row is the run
# least disturbed by other processes (interference only ever lowers the numbers).
measure() {
    local name=$1 backend=$2 path=$3 header=${4:-}
    local url="http://127.0.0.1:$PORT$path"
    local args=(-c"$CONNECTIONS" -t"$THREADS" --latency --timeout 5s)
    [[ -n $header ]] && args+=(-H "$header")

    info "warm-up $WARMUP: $name on $backend"
    with_taskset "${BENCH_TASKSET_WRK:-}" wrk "${args[@]}" -d"$WARMUP" "$url" >/dev/null

    local run best_row='' best_other=''
    for run in $(seq "$REPEAT"); do
        local out=$WORK/wrk.txt
        info "run $run/$REPEAT: wrk -c$CONNECTIONS -t$THREADS -d$DURATION --latency $url"
        local s0 p0 m0 s1 p1 m1 w0 w1
        s0=$(cpu_ticks "$SERVER_PID")
        p0=$(postgres_ticks)
        m0=$(machine_jiffies)
        children_cpu w0
        with_taskset "${BENCH_TASKSET_WRK:-}" wrk "${args[@]}" -d"$DURATION" "$url" >"$out"
        children_cpu w1
        s1=$(cpu_ticks "$SERVER_PID")
        p1=$(postgres_ticks)
        m1=$(machine_jiffies)

        local rps p50 p99 reqs errors
        rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
        p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
        p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
        reqs=$(awk '/requests in/ { print $1 }' "$out")
        errors=$(awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$out")
        [[ -n $rps && -n $reqs ]] || { cat "$out" >&2; die "could not read wrk's output"; }

        local server_cpu pg_cpu wrk_cpu busy busy_s other_cpu us_server us_pg
        server_cpu=$(awk -v a="$s0" -v b="$s1" -v t="$CLK_TCK" 'BEGIN { printf "%.1f", (b - a) / t }')
        pg_cpu=$(awk -v a="$p0" -v b="$p1" -v t="$CLK_TCK" 'BEGIN { printf "%.1f", (b - a) / t }')
        wrk_cpu=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", b - a }')
        busy=$(awk -v a="$m0" -v b="$m1" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }')
        busy_s=$(awk -v a="$m0" -v b="$m1" -v t="$CLK_TCK" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.1f", (y[1] - x[1]) / t }')
        other_cpu=$(awk -v b="$busy_s" -v s="$server_cpu" -v p="$pg_cpu" -v w="$wrk_cpu" 'BEGIN { o = b - s - p - w; printf "%.1f", o < 0 ? 0 : o }')
        us_server=$(awk -v c="$server_cpu" -v n="$reqs" 'BEGIN { printf "%.0f", c * 1e6 / n }')
        us_pg=$(awk -v c="$pg_cpu" -v n="$reqs" 'BEGIN { printf "%.0f", c * 1e6 / n }')

        local row
        row=$(printf '%-20s %-9s %8s %7s %7s %6s %8s %7s %7s %6s%% %6ss' \
            "$name" "$backend" "$rps" "$p50" "$p99" "$errors" "$us_server" "$us_pg" "$wrk_cpu" "$busy" "$other_cpu")
        info "= $row"
        ALL_ROWS+=("$row")
        {
            echo "=== $name on $backend, run $run/$REPEAT: wrk ${args[*]} -d$DURATION $url"
            cat "$out"
            echo "CPU seconds: server ${server_cpu} (${us_server} us/request), postgres ${pg_cpu} (${us_pg} us/request), wrk ${wrk_cpu}, other processes ${other_cpu}; machine busy ${busy}%"
            echo
        } >>"$RAW"
        ((errors == 0)) || warn "$name on $backend: $errors failed responses — this run is not valid"
        if [[ -z $best_other ]] || awk -v a="$other_cpu" -v b="$best_other" 'BEGIN { exit !(a < b) }'; then
            best_other=$other_cpu
            best_row=$row
        fi
    done
    ROWS+=("$best_row")
}

# ---------------------------------------------------------------------------
# Server lifecycle

# start_server BACKEND: starts `streamswarm serve` on a free port, sets SERVER_PID/PORT.
start_server() {
    local backend=$1
    PORT=$(free_port)
    local env=(
        "STREAMSWARM__SERVER__BIND=127.0.0.1:$PORT"
        "STREAMSWARM__LOG__LEVEL=warn"
    )
    [[ -n $POOL_SIZE ]] && env+=("STREAMSWARM__DATABASE__POOL_SIZE=$POOL_SIZE")
    local cmd=("$BIN")
    case $backend in
        sqlite) cmd+=(--data-dir "$WORK/sqlite") ;;
        postgres) env+=("STREAMSWARM__DATABASE__URL=$(pg_url "$PG_DB")") ;;
    esac
    cmd+=(serve)
    if [[ -n ${BENCH_TASKSET_SERVER:-} ]]; then
        env -u STREAMSWARM_CONFIG "${env[@]}" taskset -c "$BENCH_TASKSET_SERVER" "${cmd[@]}" \
            >"$WORK/server-$backend.log" 2>&1 &
    else
        env -u STREAMSWARM_CONFIG "${env[@]}" "${cmd[@]}" >"$WORK/server-$backend.log" 2>&1 &
    fi
    SERVER_PID=$!
    if ! wait_http "http://127.0.0.1:$PORT/readyz" 300; then
        cat "$WORK/server-$backend.log" >&2
        die "the $backend server did not become ready on 127.0.0.1:$PORT"
    fi
    ok "streamswarm serve ($backend) pid $SERVER_PID on 127.0.0.1:$PORT"
}

stop_server() {
    stop_process "$SERVER_PID" 100
    SERVER_PID=
}

# create_token BACKEND: an API token (viewer) in that backend's fresh store.
create_token() {
    case $1 in
        sqlite)
            env -u STREAMSWARM_CONFIG "$BIN" --data-dir "$WORK/sqlite" \
                token create --kind api --name bench --role viewer 2>/dev/null
            ;;
        postgres)
            env -u STREAMSWARM_CONFIG STREAMSWARM__DATABASE__URL="$(pg_url "$PG_DB")" "$BIN" \
                token create --kind api --name bench --role viewer 2>/dev/null
            ;;
    esac
}

bench_backend() {
    local backend=$1
    section "Backend: $backend"
    case $backend in
        sqlite) mkdir -p "$WORK/sqlite" ;;
        postgres)
            PG_DB=streamswarm_bench_$$
            pg_create_db "$PG_DB"
            info "fresh database $PG_DB"
            ;;
        *) die "unknown backend $backend (sqlite or postgres)" ;;
    esac
    local token
    token=$(create_token "$backend") || die "streamswarm token create failed on $backend"
    [[ $token == ssw_api_* ]] || die "unexpected token output: $token"
    start_server "$backend"

    # Prove the request is what we think it is before timing it.
    local me
    me=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/v1/me") \
        || die "GET /api/v1/me with the token failed"
    [[ $me == *'"kind":"token"'* ]] || die "GET /api/v1/me did not identify the token: $me"
    ok "GET /api/v1/me → $me"

    measure "healthz (baseline)" "$backend" /healthz
    measure "me (token auth)" "$backend" /api/v1/me "Authorization: Bearer $token"
    stop_server
    if [[ $backend == postgres ]]; then
        pg_drop_db "$PG_DB"
        PG_DB=
    fi
}

# ---------------------------------------------------------------------------

section "Tools"
ensure_command wrk
ensure_command curl
[[ -z ${BENCH_TASKSET_SERVER:-}${BENCH_TASKSET_WRK:-} ]] || ensure_command taskset util-linux
ok "$(wrk -v 2>&1 | head -n1)"

section "cargo build --release -p streamswarm"
cargo build --release -p streamswarm
[[ -x $BIN ]] || die "no binary at $BIN (set CARGO_TARGET_DIR?)"

if [[ $BACKENDS == *postgres* ]]; then
    section "PostgreSQL"
    ensure_postgres
fi

section "Waiting for a quiet machine"
# busy_pct SECONDS: whole-machine CPU use over the next SECONDS, in percent.
busy_pct() {
    local a b
    a=$(machine_jiffies)
    sleep "$1"
    b=$(machine_jiffies)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.0f", 100 * (y[1] - x[1]) / (y[2] - x[2]) }'
}
waited=0
while ((waited < WAIT_IDLE)); do
    if ! pgrep -x rustc >/dev/null; then
        pct=$(busy_pct 3)
        waited=$((waited + 3))
        ((pct <= ${BENCH_IDLE_PCT:-10})) && break
        reason="machine ${pct}% busy"
    else
        reason="$(pgrep -x rustc | wc -l) rustc process(es) running"
        sleep 5
        waited=$((waited + 5))
    fi
    ((waited % 60 < 5)) && info "$reason; waiting (${waited}s of ${WAIT_IDLE}s)"
done
RUSTC_AT_START=$(pgrep -x rustc | wc -l || true)
BUSY_AT_START=$(busy_pct 2)
if ((RUSTC_AT_START > 0 || BUSY_AT_START > ${BENCH_IDLE_PCT:-10})); then
    warn "machine not quiet ($RUSTC_AT_START rustc, ${BUSY_AT_START}% busy): numbers will be low"
else
    ok "quiet (waited ${waited}s): no rustc, ${BUSY_AT_START}% busy"
fi

MACHINE=$(
    echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (src modified)')"
    echo "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "kernel:   $(uname -srm)"
    echo "memory:   $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "rustc:    $(rustc --version)"
    echo "load:     $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2) -c$CONNECTIONS -t$THREADS -d$DURATION --latency (after a $WARMUP warm-up), on the same machine"
    echo "server:   release build, log level warn, database.pool_size ${POOL_SIZE:-16 (default)}${BENCH_TASKSET_SERVER:+, pinned to CPUs $BENCH_TASKSET_SERVER}${BENCH_TASKSET_WRK:+, wrk pinned to CPUs $BENCH_TASKSET_WRK}"
    if [[ $BACKENDS == *postgres* ]]; then
        echo "postgres: $(psql_admin 'SHOW server_version' | cut -d' ' -f1), cluster $PG_VERSION/$PG_CLUSTER, TCP 127.0.0.1"
    fi
    echo "before:   $RUSTC_AT_START rustc processes, machine ${BUSY_AT_START}% busy, load average $(cut -d' ' -f1-3 /proc/loadavg)"
)
section "Machine"
printf '%s\n' "$MACHINE" | sed 's/^/    /'

for backend in $BACKENDS; do
    bench_backend "$backend"
done

HEADER=$(printf '%-20s %-9s %8s %7s %7s %6s %8s %7s %7s %7s %7s' \
    scenario backend "req/s" "p50 ms" "p99 ms" errors "srv us/r" "pg us/r" "wrk cpu" "busy" "other")
section "Results"
{
    echo "StreamSwarm HTTP benchmark (bench/run.sh)"
    echo
    printf '%s\n' "$MACHINE"
    echo "after:    $(pgrep -x rustc | wc -l || true) rustc processes"
    echo
    echo "$HEADER"
    printf '%s\n' "${ROWS[@]}"
    echo
    echo "Each row is the least disturbed of $REPEAT runs (lowest 'other'). All runs:"
    echo "$HEADER"
    printf '%s\n' "${ALL_ROWS[@]}"
    echo
    echo "srv us/r, pg us/r: CPU time of the server process / of all postgres processes per request."
    echo "wrk cpu: CPU seconds wrk used. busy: whole-machine CPU use during the run (wrk, the server"
    echo "and PostgreSQL share $(nproc) cores). other: CPU seconds used by other processes meanwhile"
    echo "(anything well above 0 means the numbers are depressed by someone else's work)."
    echo
    cat "$RAW"
} >"$WORK/results.txt"
mkdir -p "$(dirname "$OUT")"
cp "$WORK/results.txt" "$OUT"
echo "$HEADER"
printf '%s\n' "${ROWS[@]}"
echo
info "written to ${OUT#"$ROOT"/}"
