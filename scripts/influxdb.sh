# InfluxDB 1.6.7 (Debian package `influxdb`) for tests. Source this file:
#
#   . scripts/influxdb.sh
#   ensure_influxdb
#   url=$(start_influxdb "$tmpdir/influx" 18086)   # prints http://127.0.0.1:18086
#   export STREAMSWARM_TEST_INFLUX_URL=$url
#   ...
#   stop_influxdb "$tmpdir/influx"
#
# The server keeps all its files under DIR, listens on 127.0.0.1 only, and runs with
# every optional listener, usage reporting and the _internal monitor database off, so
# several can run side by side and nothing leaves the machine.

# Installs InfluxDB when `influxd` is missing (Debian 12 ships 1.6.7).
ensure_influxdb() {
    if command -v influxd >/dev/null 2>&1; then
        return 0
    fi
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y influxdb >/dev/null; then
        apt-get update >/dev/null && apt-get install -y influxdb >/dev/null
    fi
    command -v influxd >/dev/null 2>&1 || { echo "ensure_influxdb: influxd still missing" >&2; return 1; }
}

# start_influxdb DIR PORT — starts influxd in the background with its data in DIR and
# HTTP on 127.0.0.1:PORT, waits until GET /ping answers 204, prints the URL.
# The backup/restore RPC listener goes to PORT+1 (also on 127.0.0.1).
start_influxdb() {
    local dir=$1 port=$2
    if [ -z "$dir" ] || [ -z "$port" ]; then
        echo "usage: start_influxdb DIR PORT" >&2
        return 2
    fi
    mkdir -p "$dir/meta" "$dir/data" "$dir/wal"
    local conf="$dir/influxdb.conf"
    # `influxd config` prints the defaults; rewrite only what must differ. Section-aware
    # awk so that `enabled`/`bind-address` change in the right section.
    influxd config 2>/dev/null | awk -v dir="$dir" -v port="$port" '
        /^\[/ { section = $0 }
        /^reporting-enabled/ { print "reporting-enabled = false"; next }
        /^bind-address/ { print "bind-address = \"127.0.0.1:" (port + 1) "\""; next }
        section == "[meta]" && $1 == "dir" { print "  dir = \"" dir "/meta\""; next }
        section == "[meta]" && $1 == "logging-enabled" { print "  logging-enabled = false"; next }
        section == "[data]" && $1 == "dir" { print "  dir = \"" dir "/data\""; next }
        section == "[data]" && $1 == "wal-dir" { print "  wal-dir = \"" dir "/wal\""; next }
        section == "[data]" && $1 == "query-log-enabled" { print "  query-log-enabled = false"; next }
        section == "[monitor]" && $1 == "store-enabled" { print "  store-enabled = false"; next }
        section == "[subscriber]" && $1 == "enabled" { print "  enabled = false"; next }
        section == "[continuous_queries]" && $1 == "enabled" { print "  enabled = false"; next }
        section == "[http]" && $1 == "bind-address" { print "  bind-address = \"127.0.0.1:" port "\""; next }
        section == "[http]" && $1 == "log-enabled" { print "  log-enabled = false"; next }
        section == "[http]" && $1 == "pprof-enabled" { print "  pprof-enabled = false"; next }
        section == "[http]" && $1 == "unix-socket-enabled" { print "  unix-socket-enabled = false"; next }
        section == "[ifql]" && $1 == "enabled" { print "  enabled = false"; next }
        (section == "[[graphite]]" || section == "[[collectd]]" || section == "[[opentsdb]]" || section == "[[udp]]") && $1 == "enabled" { print "  enabled = false"; next }
        { print }
    ' >"$conf"
    influxd run -config "$conf" >"$dir/influxd.log" 2>&1 &
    echo $! >"$dir/influxd.pid"
    _STREAMSWARM_INFLUXD_PID=$!
    _STREAMSWARM_INFLUXD_DIR=$dir
    local url="http://127.0.0.1:$port" i code
    for i in $(seq 100); do
        code=$(curl -s -o /dev/null -w '%{http_code}' "$url/ping" 2>/dev/null) || true
        if [ "$code" = 204 ]; then
            echo "$url"
            return 0
        fi
        if ! kill -0 "$_STREAMSWARM_INFLUXD_PID" 2>/dev/null; then
            break
        fi
        sleep 0.1
    done
    echo "start_influxdb: influxd did not answer on $url; log follows" >&2
    tail -n 30 "$dir/influxd.log" >&2
    stop_influxdb
    return 1
}

# stop_influxdb [DIR] — stops the influxd started by start_influxdb (by its pid only)
# and waits for it. Pass DIR when start_influxdb ran in a subshell (`url=$(start_influxdb
# DIR PORT)`): its pid is then only known from DIR/influxd.pid.
stop_influxdb() {
    local dir=${1:-${_STREAMSWARM_INFLUXD_DIR:-}} pid=
    if [ -n "$dir" ] && [ -f "$dir/influxd.pid" ]; then
        pid=$(cat "$dir/influxd.pid")
    fi
    pid=${pid:-${_STREAMSWARM_INFLUXD_PID:-}}
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    local i
    for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    [ -n "$dir" ] && rm -f "$dir/influxd.pid"
    _STREAMSWARM_INFLUXD_PID=
}
