#!/usr/bin/env bash
# The browser tests' network lab: the machine (where `streamswarm up` and its local agent
# run) — router sse2e-r1 — target sse2e-t, on 10.75.1.0/30 and 10.75.2.0/24. The target
# serves HTTP (python3 http.server, port 8080; also the TCP test's port) and DNS
# (dnsmasq: www.e2e.lab → 10.75.2.2). Traceroute from the machine lists r1, then the
# target.
#
#   bash tests/browser/lab/net.sh up     # idempotent: tears down a previous lab first
#   bash tests/browser/lab/net.sh down
set -euo pipefail

R1=sse2e-r1
T=sse2e-t
STATE=/tmp/sse2e-lab

down() {
    for pid in "$STATE"/*.pid; do
        [[ -f $pid ]] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    ip link del sse2e-h 2>/dev/null || true
    ip route del 10.75.2.0/24 2>/dev/null || true
    ip netns del "$R1" 2>/dev/null || true
    ip netns del "$T" 2>/dev/null || true
    rm -rf "$STATE"
}

up() {
    down
    mkdir -p "$STATE"
    ip netns add "$R1"
    ip netns add "$T"
    ip -n "$R1" link set lo up
    ip -n "$T" link set lo up
    # machine ↔ r1
    ip link add sse2e-h type veth peer name sse2e-r1h netns "$R1"
    ip addr add 10.75.1.1/30 dev sse2e-h
    ip link set sse2e-h up
    ip -n "$R1" addr add 10.75.1.2/30 dev sse2e-r1h
    ip -n "$R1" link set sse2e-r1h up
    # r1 ↔ target
    ip -n "$R1" link add sse2e-r1t type veth peer name sse2e-t netns "$T"
    ip -n "$R1" addr add 10.75.2.1/24 dev sse2e-r1t
    ip -n "$R1" link set sse2e-r1t up
    ip -n "$T" addr add 10.75.2.2/24 dev sse2e-t
    ip -n "$T" link set sse2e-t up
    ip netns exec "$R1" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0
    ip netns exec "$T" sysctl -qw net.ipv4.icmp_ratelimit=0
    ip -n "$T" route add default via 10.75.2.1
    ip route add 10.75.2.0/24 via 10.75.1.2
    # Services in the target.
    mkdir -p "$STATE/www"
    echo "streamswarm e2e lab" >"$STATE/www/index.html"
    ip netns exec "$T" python3 -m http.server 8080 --bind 10.75.2.2 --directory "$STATE/www" \
        >"$STATE/http.log" 2>&1 &
    echo $! >"$STATE/http.pid"
    ip netns exec "$T" dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
        --listen-address=10.75.2.2 --address=/www.e2e.lab/10.75.2.2 --pid-file= \
        --log-facility="$STATE/dns.log" --user=root >/dev/null 2>&1 &
    echo $! >"$STATE/dns.pid"
    for _ in $(seq 1 50); do
        if curl -fs -o /dev/null --max-time 1 http://10.75.2.2:8080/ \
            && dig +short +time=1 +tries=1 @10.75.2.2 www.e2e.lab | grep -qx 10.75.2.2; then
            return 0
        fi
        sleep 0.1
    done
    echo "e2e lab: services did not come up" >&2
    cat "$STATE"/*.log >&2 || true
    return 1
}

case ${1:-} in
    up) up ;;
    down) down ;;
    *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
