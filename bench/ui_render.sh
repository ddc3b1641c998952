#!/usr/bin/env bash
# Render benchmark of the web UI (bench/ui_render.py): a real server over a temporary
# embedded store, 1,000 agents and 200 tests, every page timed. Prints a table.
#
#   bash bench/ui_render.sh                 # debug build (target/debug)
#   BENCH_PROFILE=release bash bench/ui_render.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PROFILE=${BENCH_PROFILE:-debug}
if [[ $PROFILE == release ]]; then cargo build --quiet --release --bin streamswarm; else cargo build --quiet --bin streamswarm; fi
BIN=$ROOT/target/$PROFILE/streamswarm
WORK=$(mktemp -d)
PID=
cleanup() { [[ -n $PID ]] && kill "$PID" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
export SSW_ADMIN_PASSWORD="bench-$(head -c 12 /dev/urandom | base64 | tr -d '/+=')"
printf '%s\n' "$SSW_ADMIN_PASSWORD" | "$BIN" --data-dir "$WORK" user add admin --role admin --password-stdin >/dev/null
STREAMSWARM__LOG__LEVEL=warn "$BIN" --data-dir "$WORK" up --bind 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do
  URL=$(grep -o 'running at http://[0-9.:]*' "$WORK/server.log" | sed 's/running at //' || true)
  [[ -n $URL ]] && break
  sleep 0.1
done
[[ -n ${URL:-} ]] || { cat "$WORK/server.log"; exit 1; }
echo "profile: $PROFILE, $(nproc) cores, server $URL"
SSW_URL=$URL SSW_DB=$WORK/streamswarm.db python3 bench/ui_render.py
