#!/usr/bin/env bash
# Entrypoint of the StreamSwarm agent image (docker/Dockerfile, target `agent`).
#
#   streamswarm-agent-entrypoint [run]        enrol if needed, then `exec streamswarm-agent run`
#   streamswarm-agent-entrypoint healthcheck  exit 0 when enrolled and, with
#                                             self_metrics.prometheus_listen set, when
#                                             GET /metrics answers 200
#   streamswarm-agent-entrypoint ARGS...      `exec streamswarm-agent ARGS...`
#
# Configuration is the agent's own (STREAMSWARM_AGENT__SECTION__KEY, see
# agent/streamswarm-agent.example.toml). The first start enrols: while the state
# directory holds no identity.json and STREAMSWARM_AGENT__SERVER__ENROL_TOKEN is unset,
# the token is read from STREAMSWARM_AGENT_ENROL_TOKEN_FILE (default
# /var/lib/streamswarm-enrol/token, written by the server's entrypoint into a shared
# volume), waiting up to STREAMSWARM_WAIT_SECONDS (default 60) for it to appear. Later
# starts use the stored identity and ignore the token. The token is never printed.
#
# Exit status 78 (EX_CONFIG): configuration or enrolment must change (as the agent's).
# The tests run this script directly (tests/e2e/deploy.rs), with `streamswarm-agent` on
# PATH.
set -euo pipefail

readonly EX_CONFIG=78

log() { printf 'streamswarm-agent-entrypoint: %s\n' "$*" >&2; }

state_dir() {
    printf '%s' "${STREAMSWARM_AGENT__STATE__DIR:-/var/lib/streamswarm-agent}"
}

# GET /metrics over bash's /dev/tcp: the runtime image carries no HTTP client.
healthcheck() {
    [[ -s "$(state_dir)/identity.json" ]] || return 1
    local listen=${STREAMSWARM_AGENT__SELF_METRICS__PROMETHEUS_LISTEN:-} status
    [[ -n $listen ]] || return 0
    local host=${listen%:*} port=${listen##*:}
    [[ $host == 0.0.0.0 || -z $host ]] && host=127.0.0.1
    exec 3<>"/dev/tcp/$host/$port" || return 1
    printf 'GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n' "$host" >&3
    IFS= read -r -t 5 status <&3 || return 1
    exec 3<&-
    [[ $status == "HTTP/1."?" 200"* ]]
}

enrol_token_from_file() {
    [[ -s "$(state_dir)/identity.json" ]] && return 0
    [[ -n ${STREAMSWARM_AGENT__SERVER__ENROL_TOKEN:-} ]] && return 0
    local file=${STREAMSWARM_AGENT_ENROL_TOKEN_FILE:-/var/lib/streamswarm-enrol/token}
    local wait=${STREAMSWARM_WAIT_SECONDS:-60} start=$SECONDS
    until [[ -s $file ]]; do
        if ((SECONDS - start >= wait)); then
            log "not enrolled yet and no enrolment token: $file did not appear within ${wait}s; set STREAMSWARM_AGENT__SERVER__ENROL_TOKEN or create one with 'streamswarm token create --kind enrol'"
            exit "$EX_CONFIG"
        fi
        sleep 0.2
    done
    local token
    IFS= read -r token <"$file" || true
    [[ -n $token ]] || {
        log "$file is empty"
        exit "$EX_CONFIG"
    }
    export STREAMSWARM_AGENT__SERVER__ENROL_TOKEN=$token
    log "enrolling with the token in $file"
}

case ${1:-run} in
    healthcheck)
        healthcheck
        ;;
    run)
        shift || true
        enrol_token_from_file
        exec streamswarm-agent run "$@"
        ;;
    *)
        exec streamswarm-agent "$@"
        ;;
esac
