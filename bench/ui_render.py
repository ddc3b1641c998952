#!/usr/bin/env python3
"""Render benchmark of the web UI's pages (issue 5: with 1,000 agents and 200 tests,
every page's server-side render p95 <= 100 ms).

Run by bench/ui_render.sh, which starts the server. This script seeds the data set
and times sequential GETs of every page over loopback (one client, keep-alive off):
each figure is the full request time seen by the client, so it bounds the server's
render time from above.

Seeding: 200 tests through POST /api/v1/tests (each assigned to 5 agents); 1,000
agents are inserted into the metadata database directly (SQLite file), because agents
come into being only through enrolment, which has no API in this build yet.
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
    for i in range(TESTS):
        status, body = req("POST", "/api/v1/tests", {
            "name": f"test-{i:03}", "kind": "ping", "target": f"192.0.2.{i % 250 + 1}",
            "schedule": {"interval_seconds": 60},
            "assignments": {"agents": agent_ids[(i * 5) % AGENTS:(i * 5) % AGENTS + 5]},
        }, headers={"X-CSRF-Token": csrf})
        assert status == 201, body
    test_id = json.loads(req("GET", "/api/v1/tests?limit=1")[1])["tests"][0]["id"]

    pages = ["/", "/agents", "/agents?page=10", "/agents?search=host-05", f"/agents/{agent_ids[0]}",
             "/agents/enrol", "/tests", "/tests/new", f"/tests/{test_id}", f"/tests/{test_id}/edit",
             "/groups", "/users", "/tokens", "/settings", "/profile", "/api/v1/dashboard",
             "/api/v1/dashboard/series", f"/api/v1/tests/{test_id}/series?range=24h"]
    print(f"{AGENTS} agents, {TESTS} tests; {ROUNDS} sequential requests per page (debug build unless stated)")
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
