#!/usr/bin/env python3
"""Render benchmark of the web UI's pages (issue 5: with 1,000 agents and 200 tests,
every page's server-side render p95 <= 100 ms).

Run by bench/ui_render.sh, which starts the server. This script seeds the data set
and times sequential GETs of every page over loopback (one client, keep-alive off):
each figure is the full request time seen by the client, so it bounds the server's
render time from above.

Seeding: 200 tests through POST /api/v1/tests (each assigned to 5 agents), then
BENCH_POINTS_MINUTES (60) minutes of agent_self (every 10 s, as agents write it) and
BENCH_PING_MINUTES (as many) of ping (every 60 s, the tests' interval) points over
/write, then waits for the store's rollups. The 1,000 agents are inserted into the
metadata database directly (SQLite file, or psql), which is quicker than enrolling them
one by one and stores the same rows.
"""
import http.cookiejar
import json
import os
import re
import sqlite3
import subprocess
import statistics
import sys
import time
import urllib.request

URL = os.environ["SSW_URL"]
DB = os.environ.get("SSW_DB")
PG_URL = os.environ.get("SSW_PG_URL")
PASSWORD = os.environ["SSW_ADMIN_PASSWORD"]
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
AGENTS = int(os.environ.get("BENCH_AGENTS", "1000"))
TESTS = int(os.environ.get("BENCH_TESTS", "200"))
# Minutes of time series to seed before timing (0: none), so the dashboard and the
# charts read real data.
POINTS = int(os.environ.get("BENCH_POINTS_MINUTES", "60"))
# Minutes of ping results to seed (default: as many as of agent_self); more shows how
# the charts scale with history.
PING_MINUTES = int(os.environ.get("BENCH_PING_MINUTES", str(POINTS)))
# How often each agent writes agent_self: the agent's default self_metrics.interval.
SELF_INTERVAL_S = int(os.environ.get("BENCH_SELF_INTERVAL_S", "10"))
# The embedded time-series file, to wait for its rollups before timing.
TSDB = os.environ.get("SSW_TSDB")
# With [influx] configured: the InfluxDB the points go to (database "bench").
INFLUX = os.environ.get("SSW_INFLUX_URL")

jar = http.cookiejar.CookieJar()
opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))


def req(method, path, body=None, headers=None, form=False):
    data = None
    h = dict(headers or {})
    if body is not None:
        if form:
            data = urllib.parse.urlencode(body).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        else:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
    r = urllib.request.Request(URL + path, data=data, method=method, headers=h)
    try:
        with opener.open(r) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def seed_points(csrf, agent_ids, test_ids, now):
    status, body = req("POST", "/api/v1/tokens", {"kind": "api", "name": "bench writer", "role": "operator"},
                       headers={"X-CSRF-Token": csrf})
    assert status == 201, body
    token = json.loads(body)["token"]
    # One series after the other (the order a store ingests fastest); what is stored is
    # the same as if the fleet had written it live.
    lines = []
    steps = POINTS * 60 // SELF_INTERVAL_S
    for n, a in enumerate(agent_ids):
        for k in range(steps):
            t = now - k * SELF_INTERVAL_S * 1000
            lines.append(f"agent_self,agent={a} points_sent_total={(steps - k) * 10}i,spool_bytes=0i,"
                         f"oldest_unsent_age_s=0,probe_errors_total={n % 7 == 0 and steps - k or 0}i {t}")
    for tid, agents in test_ids:
        for a in agents:
            for m in range(PING_MINUTES):
                lines.append(f"ping,agent={a},test={tid},target=192.0.2.1 sent=5i,received=5i,rtt_min_ms=1.5,"
                             f"rtt_max_ms=4.5,rtt_p50_ms=2.5,loss_percent=0 {now - m * 60_000}")
    target = (INFLUX or URL) + "/write?db=bench&precision=ms"
    for i in range(0, len(lines), 5000):
        r = urllib.request.Request(target, data="\n".join(lines[i:i + 5000]).encode(),
                                   method="POST", headers={"Authorization": "Token " + token})
        with urllib.request.urlopen(r) as resp:
            assert resp.status == 204, resp.status
    print(f"seeded {len(lines)} time-series lines ({POINTS} min of agent_self every {SELF_INTERVAL_S} s, "
          f"{PING_MINUTES} min of ping every 60 s)")
    # Timing starts once the store's upkeep has rolled everything up, as it has in a
    # server that has been running: queries then read rollups, not fresh raw points.
    if TSDB:
        ts = sqlite3.connect(f"file:{TSDB}?mode=ro", uri=True, timeout=30)
        while ts.execute("SELECT count(*) FROM rollup_dirty").fetchone()[0]:
            time.sleep(1)
        ts.close()


def main():
    # Agents, straight into the metadata store (see the module doc).
    now = int(time.time() * 1000)
    facts = json.dumps({"os": "Debian GNU/Linux 12", "kernel": "6.1.0", "cpus": 8})
    if PG_URL:
        psql = lambda sql: subprocess.run(["psql", PG_URL, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
                                          check=True, capture_output=True, text=True).stdout
        psql(
            "INSERT INTO agents (name, hostname, version, facts, created_at, last_seen_at) "
            f"SELECT 'agent-' || lpad(i::text, 4, '0'), 'host-' || lpad(i::text, 4, '0') || '.example.net', "
            f"'0.1.0', '{facts}', {now}, CASE WHEN i % 10 <> 0 THEN {now - 10_000} ELSE {now - 3_600_000} END "
            f"FROM generate_series(0, {AGENTS - 1}) AS i"
        )
        agent_ids = [int(x) for x in psql("SELECT id FROM agents WHERE name LIKE 'agent-%' ORDER BY id").split()]
    else:
        db = sqlite3.connect(DB)
        db.executemany(
            "INSERT INTO agents (name, hostname, version, facts, created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (f"agent-{i:04}", f"host-{i:04}.example.net", "0.1.0", facts, now,
                 now - (10_000 if i % 10 else 3_600_000))
                for i in range(AGENTS)
            ],
        )
        db.commit()
        agent_ids = [r[0] for r in db.execute("SELECT id FROM agents ORDER BY id")]
        db.close()

    status, page = req("GET", "/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
    status, _ = req("POST", "/login", {"username": "admin", "password": PASSWORD, "csrf_token": token, "next": "/"}, form=True)
    status, home = req("GET", "/")
    assert status == 200, status
    csrf = re.search(rb'name="csrf-token" content="([^"]+)"', home).group(1).decode()
    test_ids = []
    for i in range(TESTS):
        status, body = req("POST", "/api/v1/tests", {
            "name": f"test-{i:03}", "kind": "ping", "target": f"192.0.2.{i % 250 + 1}",
            "schedule": {"interval_seconds": 60},
            "assignments": {"agents": agent_ids[(i * 5) % AGENTS:(i * 5) % AGENTS + 5]},
        }, headers={"X-CSRF-Token": csrf})
        assert status == 201, body
        test_ids.append((json.loads(body)["id"], agent_ids[(i * 5) % AGENTS:(i * 5) % AGENTS + 5]))
    test_id = test_ids[0][0]  # one of ours (`up` adds its local agent's tests)
    if POINTS or PING_MINUTES:
        seed_points(csrf, agent_ids, test_ids, now)

    pages = ["/", "/agents", "/agents?page=10", "/agents?search=host-05", f"/agents/{agent_ids[0]}",
             "/agents/enrol", "/tests", "/tests/new", f"/tests/{test_id}", f"/tests/{test_id}/edit",
             "/groups", "/users", "/tokens", "/settings", "/profile", "/api/v1/dashboard",
             "/api/v1/dashboard/series", "/api/v1/dashboard/series?range=24h",
             "/api/v1/dashboard/series?range=7d", f"/api/v1/tests/{test_id}/series?range=24h"]
    print(f"{AGENTS} agents, {TESTS} tests; {ROUNDS} sequential requests per page")
    print(f"{'page':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'bytes':>8}")
    worst = 0.0
    for p in pages:
        times = []
        size = 0
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            status, body = req("GET", p)
            times.append((time.perf_counter() - t0) * 1000)
            assert status == 200, (p, status)
            size = len(body)
        times.sort()
        p95 = times[int(0.95 * len(times)) - 1]
        worst = max(worst, p95)
        print(f"{p:32} {statistics.median(times):8.1f} {p95:8.1f} {times[-1]:8.1f} {size:8}")
    print(f"worst p95: {worst:.1f} ms (target <= 100 ms)")


if __name__ == "__main__":
    sys.exit(main())
