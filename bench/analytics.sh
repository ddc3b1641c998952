#!/usr/bin/env bash
# Analytics benchmarks (method and numbers in bench/README.md):
#
#   bash bench/analytics.sh           # speed (~15 min) and detection quality (~5 min)
#   bash bench/analytics.sh speed     # only the speed run
#   bash bench/analytics.sh quality   # only the labelled-incident evaluation
#
# speed:   examples/analytics_bench — 1,000 series × 7 days and an hour written to a
#          fresh embedded store and to a private InfluxDB 1.6.7 (its own data directory
#          and loopback port); then, one process per store, a full fit of 7 days per
#          series through the process's own read path, an hour of online scoring, the
#          agents' forests, and that process's peak memory.
# quality: examples/analytics_eval — the labelled evaluation set (6 agents × 6 targets
#          × 22 days, seed 11), the engine replayed minute by minute against the rolling
#          3-sigma baseline: precision, recall, F1, delay and scope per incident kind.
#
# Results go to bench/results/analytics-{speed,quality}-latest.txt.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=scripts/influxdb.sh
source "$ROOT/scripts/influxdb.sh"

WHAT=${1:-all}
case $WHAT in
    all | speed | quality) ;;
    -h | --help)
        sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) die "unknown argument $WHAT (speed, quality or nothing for both)" ;;
esac

WORK=$(mktemp -d /tmp/streamswarm-analytics-bench.XXXXXX)
INFLUX_STARTED=0
cleanup() {
    if ((INFLUX_STARTED)); then stop_influxdb "$WORK/influx" || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

info "building (release)"
cargo build --release --example analytics_bench --example analytics_eval
mkdir -p bench/results
machine="$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(. /etc/os-release && echo "$PRETTY_NAME")"

if [[ $WHAT != quality ]]; then
    ensure_influxdb
    while :; do
        INFLUX_PORT=$(free_port)
        port_free $((INFLUX_PORT + 1)) && break
    done
    INFLUX_URL=$(start_influxdb "$WORK/influx" "$INFLUX_PORT") || die "influxd did not start"
    INFLUX_STARTED=1
    info "speed: embedded store and InfluxDB $(influxd version 2>/dev/null | awk '{print $2}')"
    bench=target/release/examples/analytics_bench
    $bench load --embedded "$WORK/timeseries.db" --influx "$INFLUX_URL" --db analytics_bench
    {
        echo "# analytics speed, $(date -u +%FT%TZ), $machine"
        echo "| store | series | full fit (read + fit) | of which read | of which fit | online per point | agents' forests | peak RSS |"
        echo "|---|---|---|---|---|---|---|---|"
        $bench fit --embedded "$WORK/timeseries.db"
        $bench fit --influx "$INFLUX_URL" --db analytics_bench
    } | tee bench/results/analytics-speed-latest.txt
fi

if [[ $WHAT != speed ]]; then
    info "quality: labelled evaluation set"
    {
        echo "# analytics quality, $(date -u +%FT%TZ), $machine"
        target/release/examples/analytics_eval
    } | tee bench/results/analytics-quality-latest.txt
fi
