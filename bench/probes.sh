#!/usr/bin/env bash
# Probe-fleet benchmark (issue 11): one agent process (the release build of
# agent/examples/probe_fleet.rs: the real scheduler and the probe registry) running N
# tests of a kind per minute against a lab target, beside the same work done by
# processes (`dig` for dns, `curl` for tcp and http, `traceroute` for traceroute), started on the same schedule.
#
#   bash bench/probes.sh dns 1000        # 1,000 DNS tests a minute for BENCH_PROBES_DURATION s
#   bash bench/probes.sh tcp 1000
#   bash bench/probes.sh http 1000
#   bash bench/probes.sh traceroute 100
#
# The lab: three namespaces (client, router, server: `ssbench-*`), client 10.72.250.1
# routed through the router to the server 10.72.251.2 (two hops); the server runs
# dnsmasq with one record (dns), or a small HTTP server (tcp and http); traceroute
# traces to it (ICMP, as `traceroute -I`). The agent side reports runs, error points, the largest schedule lag,
# peak RSS and CPU % of one core (RESULT line of probe_fleet); the process side reports
# the launches, failures, the CPU of all children (user + system, from `times`) as % of
# one core and the largest single child's peak RSS (GNU time %M).
#
# Knobs (environment):
#   BENCH_PROBES_DURATION=60     measured seconds
#   BENCH_PROBES_WORKERS=0       Tokio workers of probe_fleet (0: current thread)
#   BENCH_PROBES_PARTS="agent processes"
#   BENCH_PROBES_PROFILE=release  (debug: a quick smoke test of the script, not numbers)
# Needs root (ip netns). Don't run long ones on a shared machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
KIND=${1:?usage: bench/probes.sh KIND TESTS_PER_MINUTE}
RATE=${2:?usage: bench/probes.sh KIND TESTS_PER_MINUTE}
DURATION=${BENCH_PROBES_DURATION:-60}
WORKERS=${BENCH_PROBES_WORKERS:-0}
PARTS=${BENCH_PROBES_PARTS:-agent processes}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${BENCH_PROBES_PROFILE:-release}

[[ $(id -u) == 0 ]] || { echo "bench/probes.sh needs root (network namespaces)" >&2; exit 1; }

ID=$(printf '%08x' $((RANDOM * 32768 + RANDOM)))
CLIENT=ssbench-$ID-c
ROUTER=ssbench-$ID-r
SERVER=ssbench-$ID-s
A=10.72.250.1
B=10.72.251.2
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for ns in "$CLIENT" "$ROUTER" "$SERVER"; do ip netns delete "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

# client 10.72.250.1 — .2 router .1 — 10.72.251.2 server: two hops for traceroute.
for ns in "$CLIENT" "$ROUTER" "$SERVER"; do
    ip netns add "$ns"
    ip -n "$ns" link set lo up
done
ip link add "ssb${ID}a" netns "$CLIENT" type veth peer name "ssb${ID}b" netns "$ROUTER"
ip link add "ssb${ID}c" netns "$ROUTER" type veth peer name "ssb${ID}d" netns "$SERVER"
ip -n "$CLIENT" addr add "$A/30" dev "ssb${ID}a"
ip -n "$ROUTER" addr add 10.72.250.2/30 dev "ssb${ID}b"
ip -n "$ROUTER" addr add 10.72.251.1/30 dev "ssb${ID}c"
ip -n "$SERVER" addr add "$B/30" dev "ssb${ID}d"
ip -n "$CLIENT" link set "ssb${ID}a" up
ip -n "$ROUTER" link set "ssb${ID}b" up
ip -n "$ROUTER" link set "ssb${ID}c" up
ip -n "$SERVER" link set "ssb${ID}d" up
ip -n "$CLIENT" route add default via 10.72.250.2
ip -n "$SERVER" route add default via 10.72.251.1
ip netns exec "$ROUTER" sysctl -qw net.ipv4.ip_forward=1
# Routers rate-limit ICMP errors (1/s per source by default): the lab's does not, or
# every traceroute beyond the first few a second would see `*` hops.
ip netns exec "$ROUTER" sysctl -qw net.ipv4.icmp_ratelimit=0
ip netns exec "$SERVER" sysctl -qw net.ipv4.icmp_ratelimit=0

case $KIND in
    dns)
        ip netns exec "$SERVER" dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts \
            --bind-interfaces --listen-address="$B" --user=root --pid-file= \
            --local=/lab.test/ --host-record=www.lab.test,10.72.200.1 &
        PIDS+=($!)
        TARGET=www.lab.test
        PARAMS="{\"resolvers\":[\"$B\"]}"
        ONE=(dig "@$B" www.lab.test A +tries=1 +time=2)
        ;;
    tcp | http)
        ip netns exec "$SERVER" python3 -m http.server 8000 --bind "$B" >/dev/null 2>&1 &
        PIDS+=($!)
        if [[ $KIND == tcp ]]; then
            # The same exchange as curl's: connect, send a GET, read the answer.
            TARGET="$B:8000"
            PARAMS='{"send":"GET / HTTP/1.0\\r\\n\\r\\n","read_bytes":65536}'
        else
            TARGET="http://$B:8000/"
            PARAMS='{}'
        fi
        ONE=(curl -s -o /dev/null --max-time 2 "http://$B:8000/")
        ;;
    traceroute)
        # ICMP, 3 queries per hop, no reverse names: as `traceroute -I -n -q 3`.
        TARGET=$B
        PARAMS='{"protocol":"icmp","queries":3,"reverse_dns":false}'
        ONE=(traceroute -I -n -q 3 -w 1 "$B")
        ;;
    *)
        echo "bench/probes.sh: no lab target for $KIND (dns, tcp, http, traceroute)" >&2
        exit 2
        ;;
esac
sleep 1

if [[ " $PARTS " == *" agent "* ]]; then
    if [[ $PROFILE == release ]]; then
        cargo build -q --release -p streamswarm-agent --example probe_fleet
    else
        cargo build -q -p streamswarm-agent --example probe_fleet
    fi
    echo "=== agent: probe_fleet --kind $KIND --tests $RATE --interval 60 --duration $DURATION"
    # N tests every 60 s, their starts spread over the minute: N runs a minute.
    ip netns exec "$CLIENT" "$TARGET_DIR/$PROFILE/examples/probe_fleet" --kind "$KIND" \
        --target "$TARGET" --params "$PARAMS" --tests "$RATE" --interval 60 \
        --duration "$DURATION" --workers "$WORKERS" || true
fi

if [[ " $PARTS " == *" processes "* ]]; then
    echo "=== processes: ${ONE[*]} at $RATE a minute for $DURATION s"
    GAP_US=$((60000000 / RATE))
    RUNS=$((RATE * DURATION / 60))
    LOG=$(mktemp)
    # Launch on schedule without waiting for each one (bash arithmetic and `read -t` as
    # the timer, so the only children are the measured commands under GNU time);
    # `times` then reports the CPU of every child (all waited for); %M is each child's
    # peak RSS.
    ip netns exec "$CLIENT" bash -c '
        gap_us=$1; runs=$2; log=$3; shift 3
        exec {never}<> <(:)
        start_us=${EPOCHREALTIME/./}
        for ((i = 0; i < runs; i++)); do
            wait_us=$((start_us + i * gap_us - ${EPOCHREALTIME/./}))
            if ((wait_us > 0)); then
                read -r -t "$(printf "%d.%06d" $((wait_us / 1000000)) $((wait_us % 1000000)))" -u "$never" || true
            fi
            /usr/bin/time -f "%M %x" -a -o "$log" "$@" >/dev/null 2>&1 &
        done
        wait
        times
    ' _ "$GAP_US" "$RUNS" "$LOG" "${ONE[@]}" > "$LOG.times"
    python3 - "$LOG" "$LOG.times" "$DURATION" <<'EOF'
import sys
log, times, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
rows = [l.split() for l in open(log) if l.strip() and l.split()[0].isdigit()]
rss = max(int(r[0]) for r in rows) if rows else 0
failed = sum(1 for r in rows if len(r) > 1 and r[1] != "0")
def seconds(t):
    m, s = t.rstrip("s").split("m")
    return int(m) * 60 + float(s)
lines = open(times).read().split("\n")
children = lines[1].split() if len(lines) > 1 else ["0m0s", "0m0s"]
cpu = seconds(children[0]) + seconds(children[1])
print(f"processes {len(rows)} (failed {failed}), CPU {cpu:.2f} s = {cpu * 100 / duration:.2f} % "
      f"of one core, largest child peak RSS {rss / 1024:.1f} MiB")
EOF
fi
