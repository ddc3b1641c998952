"""Creates bench/agent.sh's tests through the API: 100 ping tests (127.0.0.2 … 127.0.0.101,
count 1, every second) and a host test every 10 s, all assigned to one agent.

    python3 bench/agent_tests.py NETNS PORT API_TOKEN AGENT_ID
"""

import json
import subprocess
import sys

ns, port, token, agent = sys.argv[1:5]


def post(body):
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "curl", "-fsS", "-X", "POST",
         f"http://127.0.0.1:{port}/api/v1/tests",
         "-H", f"Authorization: Bearer {token}",
         "-H", "Content-Type: application/json",
         "-d", json.dumps(body)],
        capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.exit(f"creating {body['name']} failed: {out.stderr.strip()} {out.stdout.strip()}")


for n in range(100):
    a = 0x7F000002 + n
    target = ".".join(str((a >> shift) & 255) for shift in (24, 16, 8, 0))
    post({"name": f"bench ping {target}", "kind": "ping", "target": target,
          "params": {"count": 1}, "schedule": {"interval_seconds": 1},
          "assignments": {"agents": [int(agent)]}})
post({"name": "bench host", "kind": "host", "target": "", "params": {},
      "schedule": {"interval_seconds": 10}, "assignments": {"agents": [int(agent)]}})
