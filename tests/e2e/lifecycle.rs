//! Enrol → heartbeat → assignment → points stored; an edit on the server reaches the
//! agent within one heartbeat. Once with the embedded store, once with InfluxDB.

use crate::harness::wait_for;
use crate::oracle::{Stored, now_ns};
use crate::{Fleet, Target};
use serde_json::json;
use std::time::{Duration, Instant};
use streamswarm_tsdb::query::Value;

#[test]
fn enrol_heartbeat_assign_measure_and_edit_with_the_embedded_store() {
    lifecycle(Target::Embedded);
}

#[test]
fn enrol_heartbeat_assign_measure_and_edit_with_influxdb() {
    lifecycle(Target::Influx);
}

fn int(p: &Stored, field: &str) -> i64 {
    match p.fields.get(field) {
        Some(Value::Integer(i)) => *i,
        other => panic!("{field}: {other:?} in {p:?}"),
    }
}

fn lifecycle(target: Target) {
    let Some(f) = Fleet::start(target, &[]) else {
        return;
    };
    let id = f.agent.id();

    // Heartbeat: the server sees the agent online, with its host facts.
    let agent = wait_for("the agent to be online", Duration::from_secs(20), || {
        let a = f.api.get(&format!("/api/v1/agents/{id}"));
        (a["status"] == "online").then_some(a)
    });
    let facts = &agent["facts"];
    assert_eq!(
        facts["cpu_count"].as_u64(),
        Some(std::thread::available_parallelism().unwrap().get() as u64),
        "{agent}"
    );
    assert_eq!(facts["arch"], std::env::consts::ARCH, "{agent}");
    assert!(
        facts["interfaces"]
            .as_array()
            .is_some_and(|i| i.iter().any(|i| i["name"] == "lo")),
        "{agent}"
    );

    // Assignment: a ping test and a host test, every 5 s; points within two intervals.
    let interval = 5;
    let created = Instant::now();
    let ping = f.ping_test("e2e ping", interval);
    f.api.post(
        "/api/v1/tests",
        json!({
            "name": "e2e host", "kind": "host",
            "schedule": {"interval_seconds": interval},
            "assignments": {"agents": [id]},
        }),
    );
    let store = f.store();
    let agent_tag = id.to_string();
    let within = Duration::from_secs(2 * interval as u64);
    let first = wait_for("a ping point", within, || {
        store
            .points(
                "ping",
                &[("agent", &agent_tag), ("test", &ping.to_string())],
                &["sent", "received", "loss_percent", "rtt_avg_ms"],
            )
            .into_iter()
            .next()
    });
    assert_eq!(int(&first, "sent"), 1, "{first:?}");
    assert_eq!(int(&first, "received"), 1, "127.0.0.1 answers: {first:?}");
    let memory = wait_for(
        "a host point",
        within.saturating_sub(created.elapsed()) + Duration::from_secs(1),
        || {
            store
                .points("host_memory", &[("agent", &agent_tag)], &["total_bytes"])
                .into_iter()
                .next()
        },
    );
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap();
    let total_kib: i64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    assert_eq!(int(&memory, "total_bytes"), total_kib * 1024, "{memory:?}");

    // Edit: the agent runs the new target from the next heartbeat on.
    let edited_at = now_ns();
    let edit = Instant::now();
    f.api.put(
        &format!("/api/v1/tests/{ping}"),
        json!({
            "name": "e2e ping", "kind": "ping", "target": "127.0.0.2",
            "params": {"count": 1, "timeout_ms": 500},
            "schedule": {"interval_seconds": interval},
            "assignments": {"agents": [id]},
        }),
    );
    let assignments = f.agent.state_dir.join("assignments.json");
    wait_for(
        "the agent to fetch the edited test",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&assignments)
                .ok()
                .filter(|s| s.contains("127.0.0.2"))
        },
    );
    let heartbeat = Duration::from_secs(1);
    assert!(
        edit.elapsed() <= heartbeat * 3,
        "the edit took {:?} to reach the agent (heartbeat every {heartbeat:?})",
        edit.elapsed()
    );
    let p = wait_for("a point of the edited test", within, || {
        store
            .points(
                "ping",
                &[
                    ("agent", &agent_tag),
                    ("test", &ping.to_string()),
                    ("target", "127.0.0.2"),
                ],
                &["received"],
            )
            .into_iter()
            .next()
    });
    assert!(p.time_ns > edited_at, "{p:?}");
    assert_eq!(int(&p, "received"), 1);
}
