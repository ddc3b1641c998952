#!/usr/bin/env bash
# Write memory: the server's RSS while the embedded store takes one large write (issue
# 10, item 7; method and numbers in bench/README.md, "Write memory").
#
#   bash bench/write_memory.sh                 # builds in release, then measures
#   BENCH_BIN=/path/to/streamswarm bash bench/write_memory.sh   # another build (e.g. an
#                                              # older commit's), nothing built
#
# Two bodies, generated once into the work directory (python3, deterministic):
#   points  2.4 M points in ~105 MB of line protocol, gzipped: 2,000 series of
#           `bm,a=…,h=…` with 1,200 points each, one float field (as in the issue).
#   series  200,000 new series (one point each, ~10 MB), gzipped.
# For each, a fresh `streamswarm serve` (release, a temporary data directory, an operator
# API token from `streamswarm token create`, max_decompressed_bytes raised to fit) takes
# the body in one POST /api/v2/write; reported: RSS when idle, the peak (VmHWM) and the
# RSS 2 s after the answer, all from /proc/<pid>/status.
#
# Knobs (environment): BENCH_BIN, BENCH_LABEL (what BENCH_BIN was built from, for the
# report), BENCH_OUT (default bench/results/write-memory-latest.txt)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"

OUT=${BENCH_OUT:-$ROOT/bench/results/write-memory-latest.txt}
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=${BENCH_BIN:-}
WORK=$(mktemp -d /tmp/streamswarm-writemem.XXXXXX)
SERVER_PID=
RESULTS=$WORK/results.txt
: >"$RESULTS"

cleanup() {
    stop_process "$SERVER_PID" 300
    rm -rf "$WORK"
}
trap cleanup EXIT

out() { printf '%s\n' "$@" | tee -a "$RESULTS"; }

# kib FIELD PID: a /proc/PID/status field (VmRSS, VmHWM) in KiB.
kib() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; }

section "Tools"
ensure_command curl
ensure_command python3
if [[ -z $BIN ]]; then
    section "cargo build --release -p streamswarm --bin streamswarm"
    cargo build --release -p streamswarm --bin streamswarm
    BIN=$TARGET_DIR/release/streamswarm
fi
[[ -x $BIN ]] || die "no binary at $BIN"

section "Bodies"
python3 - "$WORK" <<'EOF'
import gzip, sys
work = sys.argv[1]
T0 = 1_764_000_000_000_000_000
# 2,000 series × 1,200 points = 2.4 M points, one float each (~43 bytes a line).
with gzip.open(f"{work}/points.lp.gz", "wb", compresslevel=6) as f:
    for i in range(1_200):
        t = T0 + i * 1_000_000_000
        f.write("".join(
            f"bm,a=a{s % 100},h=h{s:04} v={(s * 7 + i) % 1000 / 10} {t}\n"
            for s in range(2_000)
        ).encode())
# 200,000 new series, one point each.
with gzip.open(f"{work}/series.lp.gz", "wb", compresslevel=6) as f:
    f.write("".join(
        f"bs,a=a{s % 100},h=h{s:06} v=1 {T0}\n" for s in range(200_000)
    ).encode())
EOF
for b in points series; do
    info "$b: $(stat -c %s "$WORK/$b.lp.gz") bytes gzipped, $(gzip -dc "$WORK/$b.lp.gz" | wc -c) inflated, $(gzip -dc "$WORK/$b.lp.gz" | wc -l) lines"
done

section "Machine"
out "StreamSwarm write memory (bash bench/write_memory.sh)"
out ""
out "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
out "binary:   $BIN ($("$BIN" --version 2>/dev/null || echo '?'))"
out "build:    ${BENCH_LABEL:-this tree, $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (modified)')}"
out "cpu:      $(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
out "memory:   $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
out "before:   $(uptime | sed 's/^ *//')"
out ""
for b in points series; do
    section "One write: $b"
    rm -rf "$WORK/data"
    mkdir -p "$WORK/data"
    TOKEN=$(env -u STREAMSWARM_CONFIG "$BIN" --data-dir "$WORK/data" \
        token create --kind api --name bench --role operator 2>/dev/null) \
        || die "streamswarm token create failed"
    PORT=$(free_port)
    env -u STREAMSWARM_CONFIG STREAMSWARM__SERVER__BIND="127.0.0.1:$PORT" STREAMSWARM__LOG__LEVEL=warn \
        STREAMSWARM__TIMESERIES__MAX_DECOMPRESSED_BYTES=$((200 * 1024 * 1024)) \
        "$BIN" --data-dir "$WORK/data" serve >"$WORK/server-$b.log" 2>&1 &
    SERVER_PID=$!
    wait_http "http://127.0.0.1:$PORT/readyz" 300 || {
        cat "$WORK/server-$b.log" >&2
        die "the server did not become ready"
    }
    sleep 2
    idle=$(kib VmRSS "$SERVER_PID")
    started=$(date +%s%N)
    status=$(curl -sS -o "$WORK/answer-$b" -w '%{http_code}' --max-time 900 \
        -H "Authorization: Token $TOKEN" -H 'Content-Encoding: gzip' \
        --data-binary "@$WORK/$b.lp.gz" \
        "http://127.0.0.1:$PORT/api/v2/write?org=o&bucket=b&precision=ns")
    took_ms=$((($(date +%s%N) - started) / 1000000))
    [[ $status == 204 ]] || die "write answered $status: $(cat "$WORK/answer-$b")"
    sleep 2
    peak=$(kib VmHWM "$SERVER_PID")
    after=$(kib VmRSS "$SERVER_PID")
    out "$(printf '%-7s idle %5d MiB   peak %5d MiB (+%d above idle)   after %5d MiB (+%d)   write %d ms' \
        "$b" $((idle / 1024)) $((peak / 1024)) $(((peak - idle) / 1024)) $((after / 1024)) $(((after - idle) / 1024)) "$took_ms")"
    stop_process "$SERVER_PID" 300
    SERVER_PID=
done
out ""
mkdir -p "$(dirname "$OUT")"
cp "$RESULTS" "$OUT"
info "written to ${OUT#"$ROOT"/}"
