#!/usr/bin/env bash
# Render benchmark of the web UI (bench/ui_render.py): a real server over a temporary
# embedded store, 1,000 agents and 200 tests, every page timed. Prints a table.
#
#   bash bench/ui_render.sh                 # debug build (target/debug)
#   BENCH_PROFILE=release bash bench/ui_render.sh
#   BENCH_DB=postgres bash bench/ui_render.sh   # metadata in a fresh PostgreSQL database
#     (created from STREAMSWARM_TEST_DATABASE_URL, dropped afterwards; `streamswarm serve`)
#   BENCH_TS=influx bash bench/ui_render.sh     # time series in a private InfluxDB 1.6.7
#     (`[influx]`; its own data directory and loopback port, stopped afterwards)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PROFILE=${BENCH_PROFILE:-debug}
if [[ $PROFILE == release ]]; then cargo build --quiet --release --bin streamswarm; else cargo build --quiet --bin streamswarm; fi
BIN=$ROOT/target/$PROFILE/streamswarm
WORK=$(mktemp -d)
PID=
DB_KIND=${BENCH_DB:-sqlite}
PG_BASE=${STREAMSWARM_TEST_DATABASE_URL:-postgres://streamswarm:streamswarm@127.0.0.1:5432/postgres}
PG_DB=ssw_bench_$$
TS_KIND=${BENCH_TS:-embedded}
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null
  if [[ $TS_KIND == influx ]]; then stop_influxdb "$WORK/influx" || true; fi
  wait 2>/dev/null || true; rm -rf "$WORK"
  if [[ $DB_KIND == postgres ]]; then psql "$PG_BASE" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT
if [[ $TS_KIND == influx ]]; then
  . "$ROOT/scripts/influxdb.sh"
  INFLUX_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  SSW_INFLUX_URL=$(start_influxdb "$WORK/influx" "$INFLUX_PORT")
  curl -sf -XPOST "$SSW_INFLUX_URL/query" --data-urlencode "q=CREATE DATABASE bench" >/dev/null
  export SSW_INFLUX_URL STREAMSWARM__INFLUX__URL=$SSW_INFLUX_URL STREAMSWARM__INFLUX__DATABASE=bench
fi
export SSW_ADMIN_PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
if [[ $DB_KIND == postgres ]]; then
  psql "$PG_BASE" -qc "CREATE DATABASE $PG_DB" >/dev/null
  export SSW_PG_URL="${PG_BASE%/*}/$PG_DB"
  export STREAMSWARM__DATABASE__URL=$SSW_PG_URL STREAMSWARM__TIMESERIES__EMBEDDED_PATH=$WORK/timeseries.db
  printf '%s\n' "$SSW_ADMIN_PASSWORD" | "$BIN" user add admin --role admin --password-stdin >/dev/null
  STREAMSWARM__LOG__LEVEL=info STREAMSWARM__SERVER__BIND=127.0.0.1:0 "$BIN" serve >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    PORT=$(grep -o 'serving addr=127.0.0.1:[0-9]*' "$WORK/server.log" | head -1 | sed 's/.*://' || true)
    [[ -n $PORT ]] && URL=http://127.0.0.1:$PORT && break
    sleep 0.1
  done
else
  printf '%s\n' "$SSW_ADMIN_PASSWORD" | "$BIN" --data-dir "$WORK" user add admin --role admin --password-stdin >/dev/null
  STREAMSWARM__LOG__LEVEL=warn "$BIN" --data-dir "$WORK" up --bind 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    URL=$(grep -o 'running at http://[0-9.:]*' "$WORK/server.log" | sed 's/running at //' || true)
    [[ -n $URL ]] && break
    sleep 0.1
  done
fi
[[ -n ${URL:-} ]] || { cat "$WORK/server.log"; exit 1; }
echo "profile: $PROFILE, metadata: $DB_KIND, time series: $TS_KIND, $(nproc) cores, server $URL"
TSDB=$WORK/timeseries.db
[[ $TS_KIND == influx ]] && TSDB=
SSW_URL=$URL SSW_DB=$WORK/streamswarm.db SSW_TSDB=$TSDB python3 bench/ui_render.py
