#!/usr/bin/env bash
# Agent benchmarks (issue 4): the real scheduler and ping probe in the release build
# of agent/examples/ping_fleet.rs, inside a private network namespace (its own
# loopback, so no other process's ICMP sockets see the traffic and ours see no one
# else's).
#
#   bash bench/agent.sh            # (a) 5 minutes, (b) 60 s per step
#   bash bench/agent.sh --quick    # (a) 30 s,      (b) 15 s per step
#
# (a) footprint: 100 ping targets every second (count 1, and the schema's default
#     count 5) plus a host test every 10 s: peak RSS and CPU % of one core.
# (b) capacity: the largest number of ping targets at a 1-second interval (count 1)
#     with no self-inflicted loss, no skipped slot and no error: steps, then bisection
#     between the last clean and the first unclean step.
# (c) binary: the real `streamswarm-agent run` (release) enrolled with a local
#     `streamswarm serve` (debug build, embedded stores), both inside the namespace, given
#     the same 100 ping tests + host test through the API (bench/agent_tests.py); the
#     agent process's peak RSS (/proc/PID/status VmHWM) and CPU (/proc/PID/stat
#     utime+stime) over (a)'s duration, after 30 s for the assignment and a warm-up.
# (a) and (b) are run per socket kind: "dgram" (unprivileged ICMP datagram sockets, allowed in
# the namespace with net.ipv4.ping_group_range) and "raw" (the namespace's default
# range "1 0" forbids datagram sockets, so the probe falls back to raw sockets, as an
# agent running as root without that sysctl does).
#
# Knobs (environment):
#   BENCH_AGENT_SOCKETS="dgram raw"         socket kinds to measure
#   BENCH_AGENT_DURATION=300                (a) seconds (--quick: 30)
#   BENCH_AGENT_STEP_DURATION=60            (b) seconds per step (--quick: 15)
#   BENCH_AGENT_STEPS="100 1000 2000 5000 10000 20000 40000"
#   BENCH_AGENT_BISECT=3                    (b) bisection rounds after the steps
#   BENCH_AGENT_PARTS="footprint capacity binary"  which parts to run
#   BENCH_AGENT_BINARY_SOCKETS=raw          socket kind for (c)
#   BENCH_AGENT_COUNTS="1 5"                (a) ping counts (5 is the schema's default)
#   BENCH_AGENT_WORKERS=0                   Tokio workers of the example (0: current thread)
#   BENCH_AGENT_OUT=bench/results/agent-latest.txt
# Needs root (ip netns). Prints a table and writes it, with every raw result, to OUT.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

QUICK=0
for arg in "$@"; do
    case $arg in
        --quick) QUICK=1 ;;
        *) die "unknown argument $arg (only --quick)" ;;
    esac
done
SOCKETS=${BENCH_AGENT_SOCKETS:-dgram raw}
if ((QUICK)); then
    DURATION=${BENCH_AGENT_DURATION:-30}
    STEP_DURATION=${BENCH_AGENT_STEP_DURATION:-15}
else
    DURATION=${BENCH_AGENT_DURATION:-300}
    STEP_DURATION=${BENCH_AGENT_STEP_DURATION:-60}
fi
STEPS=${BENCH_AGENT_STEPS:-100 1000 2000 5000 10000 20000 40000}
BISECT=${BENCH_AGENT_BISECT:-3}
WORKERS=${BENCH_AGENT_WORKERS:-0}
PARTS=${BENCH_AGENT_PARTS:-footprint capacity binary}
BINARY_SOCKETS=${BENCH_AGENT_BINARY_SOCKETS:-raw}
SERVER_PID=
AGENT_PID=
COUNTS=${BENCH_AGENT_COUNTS:-1 5}
OUT=${BENCH_AGENT_OUT:-$ROOT/bench/results/agent-latest.txt}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$TARGET_DIR/release/examples/ping_fleet

[[ $(id -u) == 0 ]] || die "run as root: the benchmark creates a network namespace"
command -v ip >/dev/null || die "ip (iproute2) is needed"
command -v python3 >/dev/null || die "python3 is needed to read the results"

NS=ssw-agent-bench-$$
WORK=$(mktemp -d /tmp/streamswarm-agent-bench.XXXXXX)
RAW=$WORK/raw.txt
ROWS=$WORK/rows.txt
: >"$RAW"
: >"$ROWS"
cleanup() {
    [[ -z $AGENT_PID ]] || kill "$AGENT_PID" 2>/dev/null || true
    [[ -z $SERVER_PID ]] || kill "$SERVER_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

section "Building the example (release)"
cargo build --release -p streamswarm-agent --example ping_fleet
ok "$BIN"
if [[ " $PARTS " == *" binary "* ]]; then
    section "Building the agent (release) and the server (debug: only the agent is measured)"
    cargo build --release -p streamswarm-agent --bin streamswarm-agent
    cargo build -p streamswarm --bin streamswarm
    command -v curl >/dev/null || die "curl is needed for (c)"
fi

section "Namespace"
ip netns add "$NS"
ip -n "$NS" link set lo up
# Many targets means many sockets at once (one per run in flight).
ulimit -n 1048576 2>/dev/null || ulimit -n "$(ulimit -Hn)"
ok "$NS (loopback up), open files limit $(ulimit -n)"

set_sockets() {
    case $1 in
        dgram) ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="0 2147483647" ;;
        raw) ip netns exec "$NS" sysctl -qw net.ipv4.ping_group_range="1 0" ;;
        *) die "unknown socket kind $1 (dgram or raw)" ;;
    esac
}

# run_fleet SOCKETS LABEL ARGS...: runs the example, appends its RESULT (plus the
# socket kind, label and load average) to ROWS; returns 0 when the run was clean.
run_fleet() {
    local sockets=$1 label=$2 load result rc=0
    shift 2
    set_sockets "$sockets"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    {
        echo "=== $label, $sockets sockets: ping_fleet $*"
        echo "load before: $load"
    } >>"$RAW"
    ip netns exec "$NS" "$BIN" --workers "$WORKERS" "$@" >"$WORK/run.txt" 2>&1 || rc=$?
    cat "$WORK/run.txt" >>"$RAW"
    result=$(sed -n 's/^RESULT //p' "$WORK/run.txt")
    [[ -n $result ]] || die "ping_fleet printed no RESULT (exit $rc); see $RAW"
    printf '%s\t%s\t%s\t%s\n' "$label" "$sockets" "$load" "$result" >>"$ROWS"
    python3 - "$result" <<'EOF'
import json, sys
r = json.loads(sys.argv[1])
print(f"    N={r['targets']:<6} count={r['count']} loss={r['lost']} skipped={r['overlaps_skipped']} "
      f"errors={r['ping_errors']} lag={r['max_lag_ms']:.1f}ms rss={r['peak_rss_kib']/1024:.1f}MiB "
      f"cpu={r['cpu_percent_of_one_core']:.2f}% clean={r['clean']}")
EOF
    return "$rc"
}

# (c): the real agent binary against a local server, both in the namespace.
run_binary() {
    local sockets=$1 dir=$WORK/binary port=18777 api enrol agent_id load
    local server_bin=$TARGET_DIR/debug/streamswarm agent_bin=$TARGET_DIR/release/streamswarm-agent
    set_sockets "$sockets"
    mkdir -p "$dir/server" "$dir/agent"
    srv() {
        ip netns exec "$NS" env -u STREAMSWARM_CONFIG STREAMSWARM__SERVER__BIND="127.0.0.1:$port" \
            STREAMSWARM__LOG__LEVEL=warn "$server_bin" --data-dir "$dir/server" "$@"
    }
    srv migrate >/dev/null
    srv serve >"$dir/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 300); do
        ip netns exec "$NS" curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.2
    done
    ip netns exec "$NS" curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null ||
        die "the server did not become ready; see $dir/server.log"
    api=$(srv token create --kind api --role admin --name bench | tr -d '[:space:]')
    enrol=$(srv token create --kind enrol --name bench | tr -d '[:space:]')
    ip netns exec "$NS" env -u STREAMSWARM_AGENT_CONFIG \
        STREAMSWARM_AGENT__SERVER__URL="http://127.0.0.1:$port" \
        STREAMSWARM_AGENT__STATE__DIR="$dir/agent" \
        STREAMSWARM_AGENT__LOG__LEVEL=warn \
        STREAMSWARM_AGENT__PROBES__MAX_CONCURRENT=200 \
        STREAMSWARM_AGENT__SELF_METRICS__PROMETHEUS_LISTEN="127.0.0.1:$((port + 1))" \
        "$agent_bin" run --token "$enrol" >"$dir/agent.log" 2>&1 &
    AGENT_PID=$!
    for _ in $(seq 1 300); do
        [[ -s $dir/agent/identity.json ]] && break
        sleep 0.2
    done
    [[ -s $dir/agent/identity.json ]] || die "the agent did not enrol; see $dir/agent.log"
    agent_id=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$dir/agent/identity.json")
    python3 "$ROOT/bench/agent_tests.py" "$NS" "$port" "$api" "$agent_id" ||
        die "creating the tests failed"
    # Assignments reach the agent within one heartbeat (10 s by default); then a warm-up.
    sleep 30
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent exited; see $dir/agent.log"
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    local t0 w0 t1 w1 hwm rss m0 m1
    # The agent's own counters (refreshed every self-metrics interval, 10 s).
    metrics() {
        ip netns exec "$NS" curl -fsS "http://127.0.0.1:$((port + 1))/metrics" |
            awk '/^streamswarm_agent_(points_produced|points_sent|probe_errors)_total / { printf "%s ", $2 }'
    }
    m0=$(metrics)
    t0=$(awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat")
    w0=$(date +%s.%N)
    sleep "$DURATION"
    t1=$(awk '{ print $14 + $15 }' "/proc/$AGENT_PID/stat")
    w1=$(date +%s.%N)
    m1=$(metrics)
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$AGENT_PID/status")
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status")
    kill "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    AGENT_PID=
    kill "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    {
        echo "=== binary, $sockets sockets: streamswarm-agent run, 100 ping tests at 1 s (count 1) + host every 10 s"
        echo "load before: $load"
        echo "agent log (last 20 lines; level warn):"
        tail -n 20 "$dir/agent.log"
    } >>"$RAW"
    awk -v t0="$t0" -v t1="$t1" -v w0="$w0" -v w1="$w1" -v hwm="$hwm" -v rss="$rss" \
        -v clk="$(getconf CLK_TCK)" -v sockets="$sockets" -v load="$load" -v m0="$m0" -v m1="$m1" 'BEGIN {
        cpu = (t1 - t0) / clk; wall = w1 - w0
        split(m0, a, " "); split(m1, b, " ")
        printf "binary (streamswarm-agent run), %s sockets, 100 ping tests at 1 s + host every 10 s: peak RSS %.1f MiB (VmHWM), %.1f MiB at end; CPU %.2f s over %.0f s = %.2f %% of one core; load %s; agent counters over the window (10 s resolution): points produced %d, sent %d, probe errors %d\n", sockets, hwm / 1024, rss / 1024, cpu, wall, 100 * cpu / wall, load, b[1] - a[1], b[2] - a[2], b[3] - a[3]
    }' | tee -a "$WORK/binary.txt"
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
RUSTC_START=$(pgrep -x rustc | wc -l || true)
((RUSTC_START == 0)) || warn "$RUSTC_START rustc process(es) running: numbers will be disturbed"

for sockets in $SOCKETS; do
    if [[ " $PARTS " == *" footprint "* ]]; then
        section "(a) footprint, $sockets sockets: 100 targets at 1 s + host every 10 s, ${DURATION} s"
        for count in $COUNTS; do
            run_fleet "$sockets" footprint --targets 100 --duration "$DURATION" --host-every 10 --count "$count" || true
        done
    fi
    [[ " $PARTS " == *" capacity "* ]] || continue

    section "(b) capacity, $sockets sockets: ping targets at 1 s, count 1, ${STEP_DURATION} s per step"
    clean=0 unclean=
    for n in $STEPS; do
        if run_fleet "$sockets" capacity --targets "$n" --duration "$STEP_DURATION" --warmup 5 --host-every 0 --count 1; then
            clean=$n
        else
            unclean=$n
            break
        fi
    done
    if [[ -n $unclean ]]; then
        for ((i = 0; i < BISECT; i++)); do
            n=$(((clean + unclean) / 2))
            ((n > clean && n < unclean)) || break
            if run_fleet "$sockets" capacity --targets "$n" --duration "$STEP_DURATION" --warmup 5 --host-every 0 --count 1; then
                clean=$n
            else
                unclean=$n
            fi
        done
    fi
    echo "$sockets $clean ${unclean:-none}" >>"$WORK/capacity.txt"
    ok "$sockets sockets: largest clean N = $clean (first unclean: ${unclean:-none within the steps})"
done

if [[ " $PARTS " == *" binary "* ]]; then
    section "(c) the agent binary, $BINARY_SOCKETS sockets: 100 targets at 1 s + host every 10 s, ${DURATION} s"
    run_binary "$BINARY_SOCKETS"
fi

MACHINE=$(
    echo "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:   $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- agent 2>/dev/null || echo ' (agent modified)')"
    echo "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    echo "kernel:   $(uname -srm)"
    echo "memory:   $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "rustc:    $(rustc --version)"
    echo "command:  bash bench/agent.sh $* (footprint ${DURATION} s, steps ${STEP_DURATION} s, Tokio workers $WORKERS)"
    echo "load:     at start $LOAD_START ($RUSTC_START rustc); at end $(cut -d' ' -f1-3 /proc/loadavg) ($(pgrep -x rustc | wc -l || true) rustc)"
)
TABLE=$(python3 - "$ROWS" <<'EOF'
import json, sys
print("| scenario | sockets | N | count | loss | skipped | errors | max lag ms | peak RSS MiB | CPU % of one core | load (1/5/15 min) | clean |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for line in open(sys.argv[1]):
    label, sockets, load, result = line.rstrip("\n").split("\t")
    r = json.loads(result)
    print(f"| {label} | {sockets} | {r['targets']} | {r['count']} | {r['lost']} of {r['sent']} | "
          f"{r['overlaps_skipped']} | {r['ping_errors']} | {r['max_lag_ms']:.1f} | "
          f"{r['peak_rss_kib'] / 1024:.1f} | {r['cpu_percent_of_one_core']:.2f} | {load} | "
          f"{'yes' if r['clean'] else 'no'} |")
EOF
)
section "Machine"
echo "$MACHINE"
section "Results"
echo "$TABLE"
while read -r sockets clean unclean; do
    info "largest clean N with $sockets sockets: $clean (first unclean: $unclean)"
done < <(cat "$WORK/capacity.txt" 2>/dev/null)
cat "$WORK/binary.txt" 2>/dev/null || true
mkdir -p "$(dirname "$OUT")"
{
    echo "$MACHINE"
    echo
    echo "$TABLE"
    echo
    cat "$WORK/capacity.txt" 2>/dev/null || true
    echo
    cat "$WORK/binary.txt" 2>/dev/null || true
    echo
    echo "--- raw output ---"
    cat "$RAW"
} >"$OUT"
ok "written to $OUT"
