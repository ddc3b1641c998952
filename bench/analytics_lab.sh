#!/usr/bin/env bash
# Analytics lab (issue 12): real agents ping lab targets while a committed plan injects
# known delay windows and loss; the analytics process in the server must find them.
#
#   sudo bash bench/analytics_lab.sh       # ≈ LAB_MINUTES + 2 minutes
#
# The lab: LAB_TARGETS target namespaces sslab-t1…tN, each behind its own veth pair from
# the root namespace (10.231.N.1/30 here, 10.231.N.2/30 there). tc netem is not available
# on the build machines (TESTBED.md), so each target's kernel ignores echo requests
# (net.ipv4.icmp_echo_ignore_all=1) and bench/analytics_lab.py's responder answers them
# after a known delay: normal(base, jitter), clipped at 0, plus the injected extra —
#   t1 4 ± 0.3 ms, t2 12 ± 1 ms, t3 25 ± 2 ms, t4 8 ± 0.5 ms, t5 18 ± 1.5 ms
# (t4, t5 are never touched: controls, and with them a delay on two targets at once is
# not "the agent's problem" by the engine's agent-scope rule, ≥ half of its targets).
# Loss is nftables in the target namespace: icmp echo-request numgen random mod 100 < 30
# drop. Only the namespaces created here and loopback are ever sent traffic.
#
# The server: target/release/streamswarm up (embedded stores, its local agent, analytics
# in the process) on 127.0.0.1:LAB_PORT, plus a second agent (target/release/
# streamswarm-agent, enrolled with a CLI enrolment token) so a delay at a target is
# seen by 2 of 2 agents. Every lab ping test (5 echoes each 10 s) is assigned to both.
# Analytics: STREAMSWARM__ANALYTICS__POLL_SECONDS=15, LATENESS_SECONDS=20,
# LEASE_SECONDS=60 (and REFIT_MINUTES=LAB_REFIT_MINUTES when set).
#
# Why the warm-up is LAB_WARMUP_MIN=64 by default (the engine, not a choice): a series
# gets a latency model at 30 minutes of history (FitConfig::min_points), and is scored
# only once its calibration holds Calibration::MIN = 40 forecast errors. Until then the
# errors come only from the refit's backtests (engine.rs `backtest`: two windows of
# (history − 30) / 2 minutes each, none below 10, so none before 50 minutes of history),
# and a young series is refitted every min(refit interval, YOUNG_REFIT_S = 10 min), the
# first time in the cycle that first reads it (history ≈ 0). With the default
# refit_minutes = 60: 20 errors at 50 minutes, 30 more at 60 → scored from about minute
# 60 after its first point (T0 − 1); the first delay starts at W + 1 = 65. (With
# LAB_REFIT_MINUTES=5, the smallest allowed, refits every 5 minutes: 20 + 24 errors at
# 50 and 55 minutes → scored from about minute 55.) The loss rule needs only a first
# refit (its baseline rate), so the loss window lies inside the warm-up (W−30 … W−25).
#
# The plan (committed in analytics_lab.py `plan`, minutes after T0, the first whole
# minute after the tests exist; W = LAB_WARMUP_MIN):
#   W−30 … W−25  30 % loss on t2 (nftables)
#   W+1  … W+6   +15 ms on t1
#   W+4  … W+10  +40 ms on t3 (overlaps t1: two pair/target problems, not an agent one)
#   W+9  … W+10  +100 ms on t2 for one minute: benign, must NOT be reported
#   … LAB_MINUTES clean (≥ 10 minutes after the last window)
# A window is found by an insight of its kind whose evidence series include its test and
# whose detected_at lies in [start, end + 10 min]; every other insight is false. The RTT
# check: each agent's mean rtt_avg_ms over the 10 clean minutes before W against the
# configured delay, and iputils ping (20 echoes) at W−5.
#
# Knobs (environment):
#   LAB_WARMUP_MIN=64  LAB_MINUTES=84  LAB_REFIT_MINUTES= (empty: the product default,
#   60)  LAB_PORT=18931
#   LAB_SECOND_AGENT=1  LAB_OUT=/tmp/streamswarm-analytics-lab-<time>.json
# Needs root (ip netns, nft), iproute2, nftables, iputils-ping, curl, python3, cargo.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

WARMUP=${LAB_WARMUP_MIN:-64}
MINUTES=${LAB_MINUTES:-84}
REFIT=${LAB_REFIT_MINUTES:-}
PORT=${LAB_PORT:-18931}
SECOND_AGENT=${LAB_SECOND_AGENT:-1}
OUT=${LAB_OUT:-/tmp/streamswarm-analytics-lab-$(date -u +%Y%m%dT%H%M%SZ).json}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_BIN=$TARGET_DIR/release/streamswarm
AGENT_BIN=$TARGET_DIR/release/streamswarm-agent
# name base_ms jitter_ms
TARGETS=("t1 4 0.3" "t2 12 1" "t3 25 2" "t4 8 0.5" "t5 18 1.5")

[[ $(id -u) == 0 ]] || die "run as root: the lab creates network namespaces and nftables rules"
for c in ip nft ping curl python3 cargo; do
    command -v "$c" >/dev/null || die "$c is needed (apt-get install -y iproute2 nftables iputils-ping curl python3)"
done
[[ $WARMUP =~ ^[0-9]+$ && $MINUTES =~ ^[0-9]+$ && $REFIT =~ ^[0-9]*$ ]] ||
    die "LAB_WARMUP_MIN, LAB_MINUTES and LAB_REFIT_MINUTES must be whole minutes"
for t in "${TARGETS[@]}"; do
    set -- $t
    ! ip netns list | grep -qw "sslab-$1" || die "namespace sslab-$1 exists (a lab still running, or left over: ip netns del sslab-$1)"
done
! ip -4 route | grep -q '^10\.231\.' || die "10.231.0.0/16 is already routed here; the lab needs it"
curl -s -o /dev/null "http://127.0.0.1:$PORT/" && die "port $PORT is in use (LAB_PORT=…)"

WORK=$(mktemp -d /tmp/streamswarm-analytics-lab.XXXXXX)
NSES=()
PIDS=()
SERVER_PID=
AGENT_PID=
RUN_PID=
cleanup() {
    local rc=$?
    set +e
    [[ -z $RUN_PID ]] || kill "$RUN_PID" 2>/dev/null
    [[ -z $AGENT_PID ]] || kill -INT "$AGENT_PID" 2>/dev/null
    [[ -z $SERVER_PID ]] || kill -INT "$SERVER_PID" 2>/dev/null
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for _ in $(seq 1 100); do
        { [[ -n $SERVER_PID ]] && kill -0 "$SERVER_PID" 2>/dev/null; } ||
            { [[ -n $AGENT_PID ]] && kill -0 "$AGENT_PID" 2>/dev/null; } || break
        sleep 0.2
    done
    [[ -z $AGENT_PID ]] || kill -KILL "$AGENT_PID" 2>/dev/null
    [[ -z $SERVER_PID ]] || kill -KILL "$SERVER_PID" 2>/dev/null
    wait 2>/dev/null
    for ns in "${NSES[@]}"; do ip netns del "$ns" 2>/dev/null; done
    info "lab torn down; logs and data in $WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section "Building (release)"
CARGO_TARGET_DIR=$TARGET_DIR cargo build --release -p streamswarm -p streamswarm-agent
ok "$SERVER_BIN, $AGENT_BIN"

section "Lab: ${#TARGETS[@]} target namespaces"
mkdir -p "$WORK/control"
TARGETS_JSON="{"
n=0
for t in "${TARGETS[@]}"; do
    set -- $t
    n=$((n + 1))
    name=$1 base=$2 jitter=$3 ns=sslab-$1 host=sslab-h$n peer=sslab-p$n
    ip netns add "$ns"
    NSES+=("$ns")
    ip link add "$host" type veth peer name "$peer"
    ip link set "$peer" netns "$ns"
    ip addr add "10.231.$n.1/30" dev "$host"
    ip link set "$host" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "10.231.$n.2/30" dev "$peer"
    ip -n "$ns" link set "$peer" up
    ip netns exec "$ns" sysctl -qw net.ipv4.icmp_echo_ignore_all=1
    : >"$WORK/control/$name.extra"
    ip netns exec "$ns" python3 "$ROOT/bench/analytics_lab.py" responder --base "$base" \
        --jitter "$jitter" --control "$WORK/control/$name.extra" >"$WORK/responder-$name.log" 2>&1 &
    PIDS+=($!)
    [[ $TARGETS_JSON == "{" ]] || TARGETS_JSON+=","
    TARGETS_JSON+="\"$name\":{\"ns\":\"$ns\",\"addr\":\"10.231.$n.2\",\"base\":$base,\"jitter\":$jitter}"
    ok "$ns 10.231.$n.2 via $host: responder $base ± $jitter ms"
done
TARGETS_JSON+="}"
sleep 1
n=0
for t in "${TARGETS[@]}"; do
    set -- $t
    n=$((n + 1))
    ping -n -q -c 3 -i 0.2 -W 2 "10.231.$n.2" | tail -1 | sed "s/^/    $1: /"
    ping -n -q -c 3 -i 0.2 -W 2 "10.231.$n.2" >/dev/null || die "10.231.$n.2 ($1) does not answer; see $WORK/responder-$1.log"
done

section "Server (streamswarm up, analytics in it) on 127.0.0.1:$PORT"
export STREAMSWARM__ANALYTICS__POLL_SECONDS=15 STREAMSWARM__ANALYTICS__LATENESS_SECONDS=20 \
    STREAMSWARM__ANALYTICS__LEASE_SECONDS=60
[[ -z $REFIT ]] || export STREAMSWARM__ANALYTICS__REFIT_MINUTES=$REFIT
env -u STREAMSWARM_CONFIG "$SERVER_BIN" up --data-dir "$WORK/data" --no-gateway-ping \
    --bind "127.0.0.1:$PORT" >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited; see $WORK/server.log"
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null || die "the server did not become ready; see $WORK/server.log"
grep -q "password:" "$WORK/server.log" || die "no first admin password in $WORK/server.log"
ok "ready (first admin password printed in $WORK/server.log)"
cli() { env -u STREAMSWARM_CONFIG "$SERVER_BIN" --data-dir "$WORK/data" "$@"; }
API=$(cli token create --kind api --role admin --name analytics-lab | tr -d '[:space:]')
[[ -n $API ]] || die "could not create an API token"
api() { curl -fsS -H "Authorization: Bearer $API" "http://127.0.0.1:$PORT$1"; }
LOCAL_ID=
for _ in $(seq 1 100); do
    # The only agent so far: `up` enrols its local agent before it answers (its name
    # becomes the host name at its first heartbeat).
    LOCAL_ID=$(api /api/v1/agents | python3 -c 'import json,sys; a = json.load(sys.stdin); print(a[0]["id"] if len(a) == 1 else "")')
    [[ -n $LOCAL_ID ]] && break
    sleep 0.2
done
[[ -n $LOCAL_ID ]] || die "the local agent of streamswarm up did not appear"
AGENTS=$LOCAL_ID
ok "local agent $LOCAL_ID"
if [[ $SECOND_AGENT == 1 ]]; then
    ENROL=$(cli token create --kind enrol --name analytics-lab-agent2 --uses 1 | tr -d '[:space:]')
    mkdir -p "$WORK/agent2"
    env -u STREAMSWARM_AGENT_CONFIG \
        STREAMSWARM_AGENT__SERVER__URL="http://127.0.0.1:$PORT" \
        STREAMSWARM_AGENT__STATE__DIR="$WORK/agent2" \
        STREAMSWARM_AGENT__LOG__LEVEL=info \
        "$AGENT_BIN" run --token "$ENROL" >"$WORK/agent2.log" 2>&1 &
    AGENT_PID=$!
    for _ in $(seq 1 300); do
        [[ -s $WORK/agent2/identity.json ]] && break
        kill -0 "$AGENT_PID" 2>/dev/null || die "the second agent exited; see $WORK/agent2.log"
        sleep 0.2
    done
    [[ -s $WORK/agent2/identity.json ]] || die "the second agent did not enrol; see $WORK/agent2.log"
    AGENT2_ID=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$WORK/agent2/identity.json")
    AGENTS+=",$AGENT2_ID"
    ok "second agent $AGENT2_ID (streamswarm-agent)"
fi

section "Plan: warm-up $WARMUP min, $MINUTES min in all (until about $(date -u -d "+$((MINUTES + 1)) min" +%H:%MZ))"
python3 "$ROOT/bench/analytics_lab.py" run --url "http://127.0.0.1:$PORT" --token "$API" \
    --agents "$AGENTS" --targets "$TARGETS_JSON" --control-dir "$WORK/control" \
    --warmup "$WARMUP" --minutes "$MINUTES" --out "$OUT" &
RUN_PID=$!
# In the background and waited for, so that a signal ends the run at once (cleanup).
wait "$RUN_PID" || die "the run failed (exit $?); logs in $WORK"
RUN_PID=
kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited during the run; see $WORK/server.log"
grep -c "analytics cycle failed" "$WORK/server.log" | sed 's/^/    analytics cycles failed: /' || true
ok "result: $OUT"
