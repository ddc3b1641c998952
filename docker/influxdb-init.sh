#!/usr/bin/env bash
# InfluxDB 2 first-run script for docker/compose.yaml, mounted executable into the
# influxdb image's /docker-entrypoint-initdb.d/. The image runs it once, right after its
# own setup (DOCKER_INFLUXDB_INIT_MODE=setup: org, bucket, admin user and token), with the
# `influx` CLI already configured with the admin token and DOCKER_INFLUXDB_INIT_BUCKET_ID
# exported. It makes the bucket readable and writable through the InfluxDB 1.x API that
# StreamSwarm and Grafana's InfluxQL datasource speak:
#   - a DBRP mapping: database $STREAMSWARM_INFLUX_DB, retention policy `autogen` → the bucket;
#   - three v1 authorizations (username + password, HTTP Basic), least privilege each:
#       streamswarm        read + write  the server (reads, analytics writes)
#       streamswarm-agent  write only    handed to agents at enrolment
#       grafana            read only     Grafana's datasource
# Passwords come from the environment (.env) and are never printed.
set -euo pipefail

: "${DOCKER_INFLUXDB_INIT_BUCKET_ID:?set by the influxdb image before its init scripts run}"
: "${STREAMSWARM_INFLUX_DB:=streamswarm}"
: "${INFLUXDB_SERVER_PASSWORD:?}"
: "${INFLUXDB_AGENT_PASSWORD:?}"
: "${INFLUXDB_GRAFANA_PASSWORD:?}"

bucket=$DOCKER_INFLUXDB_INIT_BUCKET_ID

influx v1 dbrp create --bucket-id "$bucket" --db "$STREAMSWARM_INFLUX_DB" --rp autogen --default >/dev/null
echo "streamswarm init: DBRP $STREAMSWARM_INFLUX_DB/autogen -> bucket $DOCKER_INFLUXDB_INIT_BUCKET"

# v1_auth USER PASSWORD DESCRIPTION PERMISSION...: creates the v1 authorization once.
v1_auth() {
    local user=$1 password=$2 description=$3
    shift 3
    if influx v1 auth list --username "$user" --hide-headers 2>/dev/null | grep -q .; then
        echo "streamswarm init: v1 authorization $user exists"
        return 0
    fi
    influx v1 auth create --username "$user" --password "$password" \
        --description "$description" "$@" >/dev/null
    echo "streamswarm init: v1 authorization $user ($description)"
}

v1_auth streamswarm "$INFLUXDB_SERVER_PASSWORD" "StreamSwarm server: read and write" \
    --read-bucket "$bucket" --write-bucket "$bucket"
v1_auth streamswarm-agent "$INFLUXDB_AGENT_PASSWORD" "StreamSwarm agents: write only" \
    --write-bucket "$bucket"
v1_auth grafana "$INFLUXDB_GRAFANA_PASSWORD" "Grafana: read only" \
    --read-bucket "$bucket"
