#!/usr/bin/env bash
# The project's test command (README "Testing"; CI runs it through .ci/run).
#
#   bash scripts/test.sh                  # provision, fmt, clippy, every test
#   bash scripts/test.sh FILTER...        # provision, then only tests matching FILTER
#
# On a fresh Debian 12 machine, as root, it installs and starts what the tests need
# (PostgreSQL 15, InfluxDB 1.6.7, Python test tools, Chromium and node), then runs,
# stopping at the first failure:
#   cargo fmt --all --check
#   cargo clippy --workspace --all-targets -- -D warnings
#   cargo nextest run --workspace   (+ cargo test --workspace --doc)
#   or cargo test --workspace when cargo-nextest is not installed
#   the node checks (tests/node: npm ci, then node --test: the Flux kit through
#   InfluxData's Flux language server, the dashboards against @grafana/schema, the
#   Grafana provisioning files);
#   the browser tests (tests/browser/run.sh: npm ci, a real server, Chromium);
#   both skipped when a FILTER is given.
# Idempotent: on a prepared machine provisioning takes well under a second.
#
# Environment:
#   CI=true          PostgreSQL tests fail instead of skipping when the database is
#                    unreachable (this script already fails if it cannot start it).
#   TEST_RUNNER      nextest | cargo, to override the automatic choice.
#   PG_VERSION, PG_CLUSTER, PG_HOST, PG_PORT   cluster to use (15, main, 127.0.0.1, 5432).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
# shellcheck source=scripts/influxdb.sh
source "$ROOT/scripts/influxdb.sh"

FILTERS=("$@")
STARTED=$SECONDS

# ---------------------------------------------------------------------------
# Services the tests need. Add new ones (ensure_influxdb, ensure_chromium) to
# scripts/lib.sh and call them from provision().

provision() {
    section "PostgreSQL $PG_VERSION ($PG_CLUSTER)"
    ensure_postgres
    export STREAMSWARM_TEST_DATABASE_URL
    STREAMSWARM_TEST_DATABASE_URL=$(pg_url postgres)
    info "STREAMSWARM_TEST_DATABASE_URL=$STREAMSWARM_TEST_DATABASE_URL"

    section "Network-lab tools"
    ensure_lab_tools

    section "InfluxDB 1.6.7"
    ensure_influxdb || die "cannot install InfluxDB (apt-get install influxdb)"
    INFLUX_DIR=$(mktemp -d /tmp/streamswarm-influx.XXXXXX)
    local port
    port=$(free_port)
    export STREAMSWARM_TEST_INFLUX_URL
    STREAMSWARM_TEST_INFLUX_URL=$(start_influxdb "$INFLUX_DIR" "$port") || die "InfluxDB did not start (see $INFLUX_DIR/influxd.log)"
    info "STREAMSWARM_TEST_INFLUX_URL=$STREAMSWARM_TEST_INFLUX_URL"

    section "Python test tools"
    python3 -c 'import openapi_spec_validator' 2>/dev/null \
        || python3 -m pip install --quiet 'openapi-spec-validator>=0.7' \
        || die "cannot install openapi-spec-validator from PyPI"
    ok "openapi-spec-validator"
    python3 -c 'import influxdb_client, influxdb' 2>/dev/null \
        || python3 -m pip install --quiet influxdb-client influxdb \
        || die "cannot install influxdb-client and influxdb from PyPI"
    ok "influxdb-client, influxdb (tests/api/timeseries_clients.rs)"

    section "GeoIP test databases"
    ensure_mmdb_writer

    section "Deployment checks (docker/, deploy/systemd/)"
    ensure_deploy_tools
}

# ---------------------------------------------------------------------------
# Checks

check_fmt() {
    section "cargo fmt --all --check"
    cargo fmt --all --check || die "formatting differs: run 'cargo fmt --all' and commit the result"
    ok "formatted"
}

check_clippy() {
    section "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings || die "clippy found problems (see above)"
    ok "no clippy warnings"
}

pick_runner() {
    local runner=${TEST_RUNNER:-}
    if [[ -z $runner ]]; then
        if cargo nextest --version >/dev/null 2>&1; then runner=nextest; else runner=cargo; fi
    fi
    case $runner in
        nextest | cargo) echo "$runner" ;;
        *) die "TEST_RUNNER must be nextest or cargo, not '$runner'" ;;
    esac
}

# count WORD FILE REGEX: sum of the numbers before WORD ("42 passed,") on the lines of
# FILE matching REGEX (colour codes ignored).
count() {
    awk -v w="$1" -v re="$3" '
        { gsub(/\033\[[0-9;]*m/, "") }
        $0 ~ re { for (i = 2; i <= NF; i++) if ($i ~ "^" w) n += $(i - 1) }
        END { print n + 0 }' "$2"
}

TEST_LOG=$(mktemp /tmp/streamswarm-test.XXXXXX)
INFLUX_DIR=
cleanup() {
    rm -f "$TEST_LOG" "$TEST_LOG.doc"
    if [[ -n $INFLUX_DIR ]]; then
        stop_influxdb "$INFLUX_DIR" || true
        rm -rf "$INFLUX_DIR"
    fi
}
trap cleanup EXIT
PASSED=0
FAILED=0
SKIPPED=0

run_tests() {
    local runner color=()
    runner=$(pick_runner)
    [[ -t 1 ]] && color=(--color always)
    if [[ $runner == nextest ]]; then
        if ((${#FILTERS[@]} == 0)); then
            # nextest does not run doctests; run them first so that the last runner
            # output in the log is the real summary.
            section "cargo test --workspace --doc"
            cargo test "${color[@]}" --workspace --doc 2>&1 | tee "$TEST_LOG.doc" \
                || die "doctests failed"
            PASSED=$(count passed "$TEST_LOG.doc" '^test result:')
        fi
        local profile=default
        [[ ${CI:-} == true || ${CI:-} == 1 ]] && profile=ci
        if ((${#FILTERS[@]} == 0)); then
            # Measurement-truth tests compare the agent with the kernel and with iputils
            # on a machine they assume quiet (loopback byte counts, TCP states, RTTs to
            # 50 µs): they run after the rest, one at a time.
            local quiet='binary(host_metrics) | binary(ping_lab) | binary(traceroute_lab) | binary(http_lab) | binary(dns_lab) | binary(tcp_lab)'
            # The end-to-end tests (real server, agent and InfluxDB processes) spend
            # most of their time waiting out 60-second outages: they run side by side.
            local e2e='binary(e2e)'
            section "cargo nextest run --workspace --profile $profile (all but the end-to-end and measurement-truth tests)"
            cargo nextest run "${color[@]}" --workspace --profile "$profile" -E "not ($quiet | $e2e)" 2>&1 \
                | tee "$TEST_LOG" || die "tests failed (see the summary above)"
            section "cargo nextest run --workspace --profile $profile --test-threads 12 (end-to-end tests)"
            cargo nextest run "${color[@]}" --workspace --profile "$profile" --test-threads 12 -E "$e2e" 2>&1 \
                | tee -a "$TEST_LOG" || die "end-to-end tests failed (see the summary above)"
            section "cargo nextest run --workspace --profile $profile --test-threads 1 (measurement-truth tests)"
            cargo nextest run "${color[@]}" --workspace --profile "$profile" --test-threads 1 -E "$quiet" 2>&1 \
                | tee -a "$TEST_LOG" || die "measurement-truth tests failed (see the summary above)"
        else
            section "cargo nextest run --workspace --profile $profile ${FILTERS[*]}"
            cargo nextest run "${color[@]}" --workspace --profile "$profile" "${FILTERS[@]}" 2>&1 \
                | tee "$TEST_LOG" || die "tests failed (see the summary above)"
        fi
        PASSED=$((PASSED + $(count passed "$TEST_LOG" '^ *Summary')))
        FAILED=$(count failed "$TEST_LOG" '^ *Summary')
        SKIPPED=$(count skipped "$TEST_LOG" '^ *Summary')
    else
        section "cargo test --workspace ${FILTERS[*]} (runner: cargo; cargo-nextest not installed or TEST_RUNNER=cargo)"
        cargo test "${color[@]}" --workspace -- "${FILTERS[@]}" 2>&1 | tee "$TEST_LOG" \
            || die "tests failed (see above)"
        PASSED=$(count passed "$TEST_LOG" '^test result:')
        FAILED=$(count failed "$TEST_LOG" '^test result:')
        SKIPPED=$(count ignored "$TEST_LOG" '^test result:')
    fi
    ((PASSED > 0)) || die "no test ran"
}

# The checks that need InfluxData's and Grafana's own tooling (tests/node/): node from
# Debian, the packages from the lockfile. Missing node or packages fail the script: these
# checks never skip.
run_node_checks() {
    section "Node checks (tests/node: Flux kit, Grafana dashboards and provisioning)"
    ensure_node
    ok "node $(node --version), npm $(npm --version)"
    (cd tests/node && npm ci --no-audit --no-fund --loglevel=error) \
        || die "npm ci in tests/node failed"
    mkdir -p target
    local log=target/node-checks.log
    (cd tests/node && node --test specs/) 2>&1 | tee "$log" || die "node checks failed (see above)"
    local passed failed
    passed=$(awk '/^# pass /{print $3}' "$log" | tail -1)
    failed=$(awk '/^# fail /{print $3}' "$log" | tail -1)
    [[ "${passed:-0}" -gt 0 ]] || die "no node check ran"
    PASSED=$((PASSED + passed))
    FAILED=$((FAILED + ${failed:-0}))
}

# The web UI in a real browser (tests/browser/): Chromium from Debian, playwright-core
# from the lockfile. A failure fails the script; screenshots land in target/screenshots/.
run_browser_tests() {
    section "Browser tests (tests/browser, Chromium)"
    ensure_chromium
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) \
        || die "npm ci in tests/browser failed"
    local log=target/browser-tests.log
    bash tests/browser/run.sh 2>&1 | tee "$log" || die "browser tests failed (see above)"
    local passed failed
    passed=$(awk '/^# pass /{print $3}' "$log" | tail -1)
    failed=$(awk '/^# fail /{print $3}' "$log" | tail -1)
    [[ "${passed:-0}" -gt 0 ]] || die "no browser test ran"
    PASSED=$((PASSED + passed))
    FAILED=$((FAILED + ${failed:-0}))
}

# ---------------------------------------------------------------------------

section "StreamSwarm tests in $ROOT"
info "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), CI=${CI:-<unset>}, $(nproc) cores"
ensure_rust_tools

timed provision provision
if ((${#FILTERS[@]} == 0)); then
    timed "cargo fmt" check_fmt
    timed "cargo clippy" check_clippy
else
    info "test filter given: skipping fmt and clippy"
fi
timed tests run_tests
if ((${#FILTERS[@]} == 0)); then
    timed "node checks" run_node_checks
    timed "browser tests" run_browser_tests
fi

section "All checks passed in $((SECONDS - STARTED)) s"
timing_summary
# The plain closing line CI reads: N passed, N failed[, N skipped].
echo
echo "tests: $PASSED passed, $FAILED failed, $SKIPPED skipped"
