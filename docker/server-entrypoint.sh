#!/usr/bin/env bash
# Entrypoint of the StreamSwarm server image (docker/Dockerfile, target `server`).
#
#   streamswarm-entrypoint [serve]     first-run setup, then `exec streamswarm serve`
#   streamswarm-entrypoint healthcheck exit 0 when GET /readyz answers 200
#   streamswarm-entrypoint ARGS...     `exec streamswarm ARGS...` (e.g. `user list`)
#
# Configuration is the server's own (STREAMSWARM__SECTION__KEY, see
# streamswarm.example.toml). First-run setup, repeated safely on every start:
#   1. refuse secrets still holding a `change-me` placeholder from docker/.env.example;
#   2. `streamswarm migrate`, retried while the database is not reachable yet (at most
#      STREAMSWARM_WAIT_SECONDS, default 60), not retried on a configuration error;
#   3. the administrator STREAMSWARM_ADMIN_USER (default `admin`) when no such user
#      exists, with the password STREAMSWARM_ADMIN_PASSWORD or, when that is empty, a
#      random one written to $STREAMSWARM_SECRETS_DIR/admin-password (mode 0600);
#   4. when STREAMSWARM_ENROL_DIR is set and holds no `token` file, a one-use enrolment
#      token (valid STREAMSWARM_ENROL_TOKEN_EXPIRES, default 7d) written there (mode
#      0640) for the agent container, which shares that volume.
# Secrets are never printed: only where to read them.
#
# Exit status 78 (EX_CONFIG): the configuration must change; restarting cannot help.
# The tests run this script directly against PostgreSQL and InfluxDB 1.6.7
# (tests/e2e/deploy.rs), with `streamswarm` found on PATH.
set -euo pipefail

readonly EX_CONFIG=78

log() { printf 'streamswarm-entrypoint: %s\n' "$*" >&2; }
config_error() {
    log "$*"
    exit "$EX_CONFIG"
}

# The port of STREAMSWARM__SERVER__BIND (the server's default is 127.0.0.1:5000).
bind_port() {
    local bind=${STREAMSWARM__SERVER__BIND:-127.0.0.1:5000}
    printf '%s' "${bind##*:}"
}

# GET /readyz over bash's /dev/tcp: the runtime image carries no HTTP client.
healthcheck() {
    local port status
    port=$(bind_port)
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf 'GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    IFS= read -r -t 5 status <&3 || return 1
    exec 3<&-
    [[ $status == "HTTP/1."?" 200"* ]]
}

# Names (never values) of the variables that still hold a docker/.env.example placeholder.
refuse_placeholders() {
    local name bad=()
    for name in STREAMSWARM__DATABASE__URL STREAMSWARM__INFLUX__PASSWORD \
        STREAMSWARM__INFLUX__TOKEN STREAMSWARM__INFLUX__AGENT_PASSWORD \
        STREAMSWARM__INFLUX__AGENT_TOKEN STREAMSWARM__SERVER__METRICS_TOKEN \
        STREAMSWARM_ADMIN_PASSWORD; do
        if [[ ${!name:-} == *change-me* ]]; then
            bad+=("$name")
        fi
    done
    if ((${#bad[@]})); then
        config_error "replace the change-me placeholders of docker/.env.example in .env (they reach ${bad[*]}); e.g. openssl rand -hex 24 for each"
    fi
}

migrate() {
    local wait=${STREAMSWARM_WAIT_SECONDS:-60} start=$SECONDS status out
    while true; do
        status=0
        out=$(streamswarm migrate 2>&1) || status=$?
        case $status in
            0)
                log "$out"
                return 0
                ;;
            "$EX_CONFIG") config_error "$out" ;;
        esac
        if ((SECONDS - start >= wait)); then
            log "$out"
            log "the database did not answer within ${wait}s (STREAMSWARM_WAIT_SECONDS)"
            exit 1
        fi
        sleep 1
    done
}

# A password of 24 characters from /dev/urandom (letters and digits).
random_password() {
    local p
    p=$(head -c 96 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 24)
    [[ ${#p} == 24 ]] || p=$(head -c 192 /dev/urandom | tr -dc 'A-Za-z0-9' | head -c 24)
    printf '%s' "$p"
}

ensure_admin() {
    local user=${STREAMSWARM_ADMIN_USER:-admin}
    local secrets=${STREAMSWARM_SECRETS_DIR:-/var/lib/streamswarm/secrets}
    if streamswarm user list | awk -v u="$user" 'NR > 1 && $2 == u { found = 1 } END { exit !found }'; then
        return 0
    fi
    local password=${STREAMSWARM_ADMIN_PASSWORD:-} where
    if [[ -n $password ]]; then
        where="STREAMSWARM_ADMIN_PASSWORD"
    else
        password=$(random_password)
        (umask 077 && mkdir -p "$secrets" && printf '%s\n' "$password" >"$secrets/admin-password.tmp")
        mv -f "$secrets/admin-password.tmp" "$secrets/admin-password"
        where="$secrets/admin-password"
    fi
    printf '%s\n' "$password" | streamswarm user add "$user" --role admin --password-stdin >/dev/null
    log "created the administrator '$user'; its password is in $where"
}

ensure_enrol_token() {
    local dir=${STREAMSWARM_ENROL_DIR:-}
    [[ -n $dir ]] || return 0
    if [[ -s $dir/token ]]; then
        return 0
    fi
    local err
    # The token goes to the file only; what `token create` says on stderr is shown on failure.
    if ! err=$( (umask 027 && mkdir -p "$dir" && streamswarm token create --kind enrol \
        --name "${STREAMSWARM_ENROL_TOKEN_NAME:-docker-agent}" --uses 1 \
        --expires "${STREAMSWARM_ENROL_TOKEN_EXPIRES:-7d}" >"$dir/token.tmp") 2>&1); then
        rm -f "$dir/token.tmp"
        log "$err"
        exit 1
    fi
    mv -f "$dir/token.tmp" "$dir/token"
    log "created a one-use enrolment token for the agent in $dir/token"
}

case ${1:-serve} in
    healthcheck)
        healthcheck
        ;;
    serve)
        refuse_placeholders
        migrate
        ensure_admin
        ensure_enrol_token
        exec streamswarm serve
        ;;
    *)
        exec streamswarm "$@"
        ;;
esac
