#!/usr/bin/env python3
"""The analytics lab's helper (issue 12), Python 3 standard library only; driven by
bench/analytics_lab.sh, which builds the network lab and starts the server and agents.

    analytics_lab.py responder --base MS --jitter MS --control FILE
        Runs inside a target namespace whose kernel ignores echo requests
        (net.ipv4.icmp_echo_ignore_all=1): answers every ICMP echo request after
        max(0, normal(base, jitter)) + extra ms, where extra is the number in FILE
        (re-read every 0.2 s; absent or empty = 0). This is the lab's known delay: tc
        netem is not available on the build machines (see TESTBED.md).

    analytics_lab.py run --url URL --token TOKEN --agents ID[,ID] --targets JSON
                         --control-dir DIR --warmup MIN --minutes MIN --out FILE
        Creates the ping tests, runs the committed injection plan (delay windows through
        the responders' control files, loss through nftables drops in the target
        namespace), then reads the insights back and scores them per window. Prints a
        Markdown report and writes the raw JSON result to FILE.
"""

import argparse
import heapq
import json
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

# ---------------------------------------------------------------------------------------
# Responder


def icmp_checksum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def read_extra(path: str) -> float:
    try:
        with open(path) as f:
            text = f.read().strip()
        return float(text) if text else 0.0
    except (OSError, ValueError):
        return 0.0


def responder(args) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    sock.setblocking(False)
    extra, checked = read_extra(args.control), time.monotonic()
    pending = []  # (due, seq, reply, destination)
    seq = 0
    answered = 0
    while True:
        now = time.monotonic()
        if now - checked >= 0.2:
            extra, checked = read_extra(args.control), now
        timeout = 0.2
        if pending:
            timeout = max(0.0, min(timeout, pending[0][0] - now))
        ready, _, _ = select.select([sock], [], [], timeout)
        if ready:
            while True:
                try:
                    data, addr = sock.recvfrom(65535)
                except BlockingIOError:
                    break
                received = time.monotonic()
                ihl = (data[0] & 0x0F) * 4
                icmp = bytearray(data[ihl:])
                if len(icmp) < 8 or icmp[0] != 8 or icmp[1] != 0:
                    continue
                delay_ms = max(0.0, random.gauss(args.base, args.jitter)) + extra
                icmp[0] = 0
                icmp[2:4] = b"\0\0"
                icmp[2:4] = struct.pack("!H", icmp_checksum(bytes(icmp)))
                heapq.heappush(pending, (received + delay_ms / 1000.0, seq, bytes(icmp), addr[0]))
                seq += 1
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, reply, dst = heapq.heappop(pending)
            try:
                sock.sendto(reply, (dst, 0))
                answered += 1
            except OSError as e:
                print(f"responder: send to {dst} failed: {e}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# API


class Api:
    def __init__(self, url: str, token: str):
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                text = r.read().decode()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as e:
            raise SystemExit(f"{method} {path}: HTTP {e.code}: {e.read().decode()[:500]}")

    def get(self, path: str, **query):
        q = urllib.parse.urlencode({k: v for k, v in query.items() if v is not None})
        return self.call("GET", path + ("?" + q if q else ""))

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/readyz", timeout=5) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False


# ---------------------------------------------------------------------------------------
# The plan

# Committed. Offsets in minutes after the start of the first whole minute once the
# tests exist (T0); W = the warm-up. Why the loss window lies inside the warm-up and the
# delay windows after it: the loss rule scores a series from its first refit (its
# baseline failure rate from whatever history there is, floored), while the latency
# rule needs a model (FitConfig::min_points = 30 minutes) and a calibrated threshold
# (Calibration::MIN = 40 forecast errors, which the young-series backtests give once the
# history is 50–59 minutes long; see bench/analytics_lab.sh).
def plan(warmup: int, minutes: int):
    w = warmup
    windows = [
        # name, kind, target, offset start (min), length (min), value
        ("loss 30% on t2", "loss", "t2", w - 30, 5, 30),
        ("delay +15 ms on t1", "latency", "t1", w + 1, 5, 15.0),
        ("delay +40 ms on t3", "latency", "t3", w + 4, 6, 40.0),
        ("blip +100 ms 1 min on t2 (benign)", "benign", "t2", w + 9, 1, 100.0),
    ]
    last = max(s + n for _, _, _, s, n, _ in windows)
    if minutes - last < 10:
        raise SystemExit(
            f"LAB_MINUTES={minutes} leaves {minutes - last} clean minutes after the last "
            f"window (ends at minute {last}); need at least 10: LAB_MINUTES >= {last + 10}")
    if w - 30 < 5:
        raise SystemExit(f"LAB_WARMUP_MIN={w} is too short (at least 35)")
    return windows


def write_extra(control_dir: str, target: str, ms: float) -> None:
    path = os.path.join(control_dir, f"{target}.extra")
    with open(path + ".tmp", "w") as f:
        f.write(f"{ms}\n")
    os.replace(path + ".tmp", path)


def nft_loss(ns: str, percent: int, on: bool) -> None:
    if on:
        script = (
            "table inet sslab {\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    icmp type echo-request numgen random mod 100 < {percent} counter drop\n"
            "  }\n"
            "}\n")
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=script,
                       text=True, check=True)
    else:
        out = subprocess.run(["ip", "netns", "exec", ns, "nft", "list", "table", "inet", "sslab"],
                             capture_output=True, text=True, check=False)
        log(f"  nftables at the end of the window: {' '.join(out.stdout.split())}")
        subprocess.run(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "sslab"],
                       check=True)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S', time.gmtime())}Z] {msg}", flush=True)


def iputils_ping(addr: str, n: int = 20):
    out = subprocess.run(["ping", "-n", "-q", "-c", str(n), "-i", "0.2", "-W", "2", addr],
                         capture_output=True, text=True, check=False)
    m = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out.stdout)
    loss = re.search(r"([\d.]+)% packet loss", out.stdout)
    return {
        "echoes": n,
        "avg_ms": float(m.group(2)) if m else None,
        "min_ms": float(m.group(1)) if m else None,
        "max_ms": float(m.group(3)) if m else None,
        "mdev_ms": float(m.group(4)) if m else None,
        "loss_percent": float(loss.group(1)) if loss else None,
    }


def sleep_until(t: float, api: Api) -> None:
    while True:
        left = t - time.time()
        if left <= 0:
            return
        time.sleep(min(left, 30.0))
        if not api.ready():
            raise SystemExit("the server stopped answering /readyz")


def run(args) -> None:
    api = Api(args.url, args.token)
    agents = [int(a) for a in args.agents.split(",") if a]
    targets = json.loads(args.targets)  # {"t1": {"ns", "addr", "base", "jitter"}, …}
    windows = plan(args.warmup, args.minutes)
    # 1. The tests: one ping test per lab target, every agent, every 10 s, 5 echoes.
    tests = {}
    for name, t in targets.items():
        rec = api.call("POST", "/api/v1/tests", {
            "name": f"lab {name} {t['addr']}", "kind": "ping", "target": t["addr"],
            "params": {"count": 5, "interval_ms": 200, "timeout_ms": 1000},
            "schedule": {"interval_seconds": 10},
            "assignments": {"agents": agents},
        })
        tests[name] = rec["id"]
        log(f"test {rec['id']}: ping {t['addr']} ({name}, base {t['base']} ± {t['jitter']} ms)")
    created = time.time()
    t0 = (int(created) // 60 + 1) * 60
    log(f"T0 = {time.strftime('%H:%M:%SZ', time.gmtime(t0))}; warm-up {args.warmup} min, "
        f"run {args.minutes} min, ends {time.strftime('%H:%M:%SZ', time.gmtime(t0 + args.minutes * 60))}")
    # 2. The plan as events.
    events = []
    for i, (name, kind, target, start, length, value) in enumerate(windows):
        events.append((t0 + start * 60, i, "on"))
        events.append((t0 + (start + length) * 60, i, "off"))
    clean_check = t0 + (args.warmup - 5) * 60
    events.append((clean_check, -1, "iputils"))
    events.sort()
    truth = [{"name": n, "kind": k, "target": tg, "test_id": tests[tg],
              "addr": targets[tg]["addr"], "value": v, "planned_start_min": s,
              "planned_minutes": ln}
             for n, k, tg, s, ln, v in windows]
    iputils = {}
    for at, i, what in events:
        sleep_until(at, api)
        if what == "iputils":
            for name, t in targets.items():
                iputils[name] = iputils_ping(t["addr"])
                log(f"iputils ping {t['addr']} ({name}): {iputils[name]}")
            continue
        w = truth[i]
        ns = targets[w["target"]]["ns"]
        if w["kind"] == "loss":
            nft_loss(ns, int(w["value"]), what == "on")
        else:
            write_extra(args.control_dir, w["target"], w["value"] if what == "on" else 0.0)
        now = time.time()
        w["start_s" if what == "on" else "end_s"] = now
        log(f"{what:>3}: {w['name']}")
    sleep_until(t0 + args.minutes * 60, api)
    # 3. Read back and score.
    insights = []
    for state in ("open", "resolved"):
        insights += api.get("/api/v1/insights", state=state, limit=1000)
    clean_from = (t0 + (args.warmup - 10) * 60) * 1000
    clean_to = (t0 + args.warmup * 60) * 1000
    rtt = {}
    for name, t in targets.items():
        rtt[name] = {}
        for a in agents:
            f = api.get(f"/api/v1/tests/{tests[name]}/forecast", agent=a, field="rtt_avg_ms",
                        **{"from": clean_from, "to": clean_to})
            vals = [p["v"] for p in f["observed"] if p.get("v") is not None]
            rtt[name][a] = sum(vals) / len(vals) if vals else None
    result = score(truth, insights, tests, targets, agents, rtt, iputils)
    result.update({"t0": t0, "warmup_min": args.warmup, "minutes": args.minutes,
                   "tests": tests, "targets": targets, "agents": agents,
                   "insights": insights, "clean_window_ms": [clean_from, clean_to]})
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(report(result))
    log(f"raw result: {args.out}")


def score(truth, insights, tests, targets, agents, rtt, iputils):
    def tests_of(i):
        ids = {s.get("test_id") for s in (i.get("evidence") or {}).get("series", [])}
        if i.get("test_id") is not None:
            ids.add(i["test_id"])
        return ids

    def matches(w, i):
        if "start_s" not in w:
            return False
        kind = "latency" if w["kind"] == "benign" else w["kind"]
        end = w.get("end_s", w["start_s"])
        return (i["kind"] == kind and w["test_id"] in tests_of(i)
                and w["start_s"] * 1000 <= i["detected_at"] <= (end + 600) * 1000)

    matched = set()
    rows = []
    for w in truth:
        hits = [i for i in insights if matches(w, i)]
        matched.update(i["id"] for i in hits)
        first = min(hits, key=lambda i: i["detected_at"]) if hits else None
        rows.append({
            "window": w["name"], "kind": w["kind"], "target": w["addr"], "test_id": w["test_id"],
            "start": w.get("start_s"), "end": w.get("end_s"),
            "found": bool(hits),
            "insights": [{"id": i["id"], "scope": i["scope"], "kind": i["kind"],
                          "agents": f"{len(i['agent_ids'])} of {i['agents_total']}",
                          "started_at": i["started_at"], "detected_at": i["detected_at"],
                          "resolved_at": i.get("resolved_at"), "summary": i["summary"]}
                         for i in hits],
            "delay_min": (first["detected_at"] / 1000 - w["start_s"]) / 60 if first else None,
            "start_error_min": (first["started_at"] / 1000 - w["start_s"]) / 60 if first else None,
        })
    benign_ids = {i["id"] for r in rows if r["kind"] == "benign" for i in r["insights"]}
    real_ids = {i["id"] for r in rows if r["kind"] != "benign" for i in r["insights"]}
    false = [i for i in insights if i["id"] not in real_ids]
    checks = []
    for name, t in targets.items():
        for a in agents:
            checks.append({"target": t["addr"], "name": name, "agent": a,
                           "base_ms": t["base"], "jitter_ms": t["jitter"],
                           "agent_mean_ms": rtt[name][a],
                           "iputils_avg_ms": (iputils.get(name) or {}).get("avg_ms"),
                           "iputils_loss_percent": (iputils.get(name) or {}).get("loss_percent")})
    return {"windows": rows, "false_insights": false,
            "benign_reported": sorted(benign_ids), "rtt_checks": checks}


def report(r) -> str:
    def hm(s):
        return time.strftime("%H:%M:%S", time.gmtime(s)) if s else "–"

    def f(v, p=1):
        return "–" if v is None else f"{v:.{p}f}"

    out = ["", "## Analytics lab result", "",
           "| window | target | injected (UTC) | found | insights (scope, agents) | "
           "detection delay (min) | start error (min) |",
           "|---|---|---|---|---|---|---|"]
    for w in r["windows"]:
        found = ("reported (wrong)" if w["found"] else "not reported (right)") \
            if w["kind"] == "benign" else ("yes" if w["found"] else "**no**")
        ins = "; ".join(f"#{i['id']} {i['kind']} {i['scope']} {i['agents']}" for i in w["insights"]) or "–"
        out.append(f"| {w['window']} | {w['target']} | {hm(w['start'])}–{hm(w['end'])} | {found} | "
                   f"{ins} | {f(w['delay_min'])} | {f(w['start_error_min'])} |")
    out += ["", f"False insights (matching no injected window): {len(r['false_insights'])}"]
    for i in r["false_insights"]:
        out.append(f"- #{i['id']} {i['kind']} {i['scope']} test {i.get('test_id')} "
                   f"target {i.get('target')} detected {hm(i['detected_at'] / 1000)}: {i['summary']}")
    out += ["", "RTT in the clean window (10 min before the first delay window) vs ground truth:", "",
            "| target | agent | configured delay (ms) | agent mean rtt_avg (ms) | agent − configured | "
            "iputils ping avg (ms), 20 echoes |",
            "|---|---|---|---|---|---|"]
    for c in r["rtt_checks"]:
        diff = None if c["agent_mean_ms"] is None else c["agent_mean_ms"] - c["base_ms"]
        out.append(f"| {c['target']} | {c['agent']} | {c['base_ms']} ± {c['jitter_ms']} | "
                   f"{f(c['agent_mean_ms'], 2)} | {f(diff, 2)} | {f(c['iputils_avg_ms'], 2)} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("responder")
    r.add_argument("--base", type=float, required=True)
    r.add_argument("--jitter", type=float, required=True)
    r.add_argument("--control", required=True)
    x = sub.add_parser("run")
    x.add_argument("--url", required=True)
    x.add_argument("--token", required=True)
    x.add_argument("--agents", required=True)
    x.add_argument("--targets", required=True)
    x.add_argument("--control-dir", required=True)
    x.add_argument("--warmup", type=int, required=True)
    x.add_argument("--minutes", type=int, required=True)
    x.add_argument("--out", required=True)
    args = p.parse_args()
    if args.cmd == "responder":
        responder(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
