#!/usr/bin/env bash
# Browser tests of the web UI: starts a real streamswarm server (target/debug, or
# $CARGO_TARGET_DIR/debug, a temporary data directory, users made with the CLI; the agent
# binary for the specs that enrol and run a real agent; examples/seed_insight for the
# specs that need analytics insights) and runs specs/ with node's test
# runner; playwright-core drives Debian's chromium. Screenshots go to
# target/screenshots/ (or $CARGO_TARGET_DIR/screenshots/). Exit status: the tests'.
#
#   bash tests/browser/run.sh            # needs chromium and `npm ci` done here
#   bash tests/browser/run.sh tests/browser/specs/agents.test.mjs   # some specs only
#   SSW_CHROMIUM=/path/to/chrome ...     # another browser binary
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

CHROMIUM="${SSW_CHROMIUM:-$(command -v chromium || true)}"
if [[ -z "$CHROMIUM" ]]; then
  echo "browser tests: chromium not found (apt-get install -y chromium, or set SSW_CHROMIUM)" >&2
  exit 1
fi
if [[ ! -d "$HERE/node_modules/playwright-core" ]]; then
  echo "browser tests: run 'npm ci' in tests/browser first" >&2
  exit 1
fi

cargo build --quiet -p streamswarm -p streamswarm-agent --bin streamswarm --bin streamswarm-agent --example seed_insight
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/debug/streamswarm"
export SSW_AGENT_BIN="$TARGET_DIR/debug/streamswarm-agent"
# Analytics insights are written by the analytics process; specs seed them through the
# store's API with this (examples/seed_insight.rs), into the server's own database.
export SSW_SEED_INSIGHT="$TARGET_DIR/debug/examples/seed_insight"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Passwords are generated per run; the specs get them through the environment.
pw() { head -c 18 /dev/urandom | base64 | tr -d '/+=' ; }
export SSW_ADMIN_PASSWORD="A-$(pw)" SSW_OPERATOR_PASSWORD="O-$(pw)" SSW_VIEWER_PASSWORD="V-$(pw)"
for u in admin operator viewer; do
  var="SSW_${u^^}_PASSWORD"
  printf '%s\n' "${!var}" | "$BIN" --data-dir "$WORK/data" user add "$u" --role "$u" --password-stdin >/dev/null
done

# Tiny GeoIP databases for the path page (specs/paths.test.mjs): MaxMind's Perl writer
# (libmaxmind-db-writer-perl), the same as tests/api/paths.rs uses.
perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null \
  || { echo "browser tests: apt-get install -y libmaxmind-db-writer-perl" >&2; exit 1; }
perl "$ROOT/tests/api/mmdb_writer.pl" "$WORK/asn.mmdb" <<'JSON'
{"database_type": "GeoLite2-ASN",
 "types": {"autonomous_system_number": "uint32", "autonomous_system_organization": "utf8_string"},
 "networks": [["198.51.100.0/24", {"autonomous_system_number": 64500, "autonomous_system_organization": "Example Transit"}],
              ["203.0.113.0/24", {"autonomous_system_number": 64501, "autonomous_system_organization": "Example Hosting"}]]}
JSON
perl "$ROOT/tests/api/mmdb_writer.pl" "$WORK/city.mmdb" <<'JSON'
{"database_type": "GeoLite2-City",
 "types": {"country": "map", "iso_code": "utf8_string", "city": "map", "names": "map", "en": "utf8_string",
           "location": "map", "latitude": "double", "longitude": "double"},
 "networks": [["198.51.100.0/24", {"country": {"iso_code": "DE"}, "city": {"names": {"en": "Frankfurt am Main"}},
                                   "location": {"latitude": 50.1109, "longitude": 8.6821}}],
              ["203.0.113.0/24", {"country": {"iso_code": "NL"}, "city": {"names": {"en": "Amsterdam"}},
                                  "location": {"latitude": 52.3676, "longitude": 4.9041}}]]}
JSON
export STREAMSWARM__GEOIP__ASN_DB="$WORK/asn.mmdb" STREAMSWARM__GEOIP__CITY_DB="$WORK/city.mmdb"

export SSW_DATABASE_URL="sqlite://$WORK/data/streamswarm.db"
"$BIN" --data-dir "$WORK/data" up --bind 127.0.0.1:0 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
  URL="$(grep -o 'running at http://[0-9.:]*' "$WORK/server.log" | head -1 | sed 's/running at //')" || true
  [[ -n "$URL" ]] && curl -fsS "$URL/healthz" >/dev/null 2>&1 && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then cat "$WORK/server.log" >&2; echo "browser tests: server exited" >&2; exit 1; fi
  sleep 0.1
done
[[ -n "$URL" ]] || { cat "$WORK/server.log" >&2; echo "browser tests: server did not start" >&2; exit 1; }

export SSW_URL="$URL" SSW_CHROMIUM="$CHROMIUM" SSW_SCREENSHOTS="$TARGET_DIR/screenshots"
mkdir -p "$SSW_SCREENSHOTS"
echo "browser tests: server $URL, chromium $CHROMIUM, screenshots in $SSW_SCREENSHOTS/"
status=0
if [[ $# -gt 0 ]]; then specs=("$@"); else specs=("$HERE"/specs/*.test.mjs); fi
node --test --test-concurrency=1 "${specs[@]}" || status=$?
if [[ "$status" != 0 ]]; then
  echo "--- server log (last 50 lines) ---" >&2
  tail -50 "$WORK/server.log" >&2
fi
exit "$status"
