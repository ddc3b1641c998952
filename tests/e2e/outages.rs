//! Outages, counted by the oracle (`oracle.rs`): one ping run per second must be stored
//! for every second of the test, outage included, and the agent's counters must agree
//! with what the store holds.

use crate::harness::wait_for;
use crate::oracle::{assert_every_run_stored, gaps_and_duplicates, now_ns};
use crate::{Fleet, Target};
use std::time::Duration;

const SECOND: Duration = Duration::from_secs(1);
const OUTAGE: Duration = Duration::from_secs(60);

/// Waits until `n` runs of `test` are stored; the time of the latest.
fn wait_for_runs(f: &Fleet, test: i64, n: usize) -> i64 {
    let agent = f.agent.id();
    wait_for(
        &format!("{n} runs of test {test}"),
        Duration::from_secs(60),
        || {
            let t = f.store().ping_times(agent, test);
            (t.len() >= n).then(|| *t.last().unwrap())
        },
    )
}

/// Waits until the store holds a run of `test` at or after `t_ns`.
fn wait_for_run_after(f: &Fleet, test: i64, t_ns: i64) {
    let agent = f.agent.id();
    wait_for("a run after the outage", Duration::from_secs(120), || {
        f.store()
            .ping_times(agent, test)
            .last()
            .is_some_and(|l| *l >= t_ns)
            .then_some(())
    });
}

fn dropped(f: &Fleet, reason: &str) -> f64 {
    f.agent_metric(&format!(
        "streamswarm_agent_points_dropped_total{{reason=\"{reason}\"}}"
    ))
}

/// A ping test of 127.0.0.1 every second with `n` runs stored: its id and the time of
/// its first run.
fn start_pinging(f: &Fleet, name: &str, n: usize) -> (i64, i64) {
    let test = f.ping_test(name, 1);
    wait_for_runs(f, test, n);
    (test, f.store().ping_times(f.agent.id(), test)[0])
}

/// `pause` a component for [`OUTAGE`], `resume` it, and check that every run of a
/// 1-second ping test is stored — outage included — and nothing was dropped.
fn outage_leaves_no_gap(f: &mut Fleet, pause: fn(&mut Fleet), resume: fn(&mut Fleet)) {
    let (test, first) = start_pinging(f, "outage", 3);
    pause(f);
    std::thread::sleep(OUTAGE);
    resume(f);
    let back = now_ns();
    wait_for_run_after(f, test, back);
    f.wait_until_delivered(Duration::from_secs(120));
    let times = f.store().ping_times(f.agent.id(), test);
    let n = assert_every_run_stored(&times, SECOND, first, back);
    assert!(n >= OUTAGE.as_secs() as usize, "{n} runs");
    assert_eq!(dropped(f, "spool_full"), 0.0);
    assert_eq!(dropped(f, "rejected"), 0.0);
}

#[test]
fn server_down_for_60_s_leaves_no_gap() {
    let Some(mut f) = Fleet::start(Target::Embedded, &[]) else {
        return;
    };
    outage_leaves_no_gap(&mut f, |f| f.server.pause(), |f| f.server.resume());
}

#[test]
fn influxdb_down_for_60_s_loses_nothing() {
    let Some(mut f) = Fleet::start(Target::Influx, &[]) else {
        return;
    };
    outage_leaves_no_gap(
        &mut f,
        |f| f.influx.as_mut().unwrap().pause(),
        |f| f.influx.as_mut().unwrap().resume(),
    );
    // The agent produced exactly what the store holds (nothing else was dropped).
    assert_eq!(
        f.agent_metric("streamswarm_agent_points_produced_total"),
        f.agent_metric("streamswarm_agent_points_sent_total")
            + f.agent_metric("streamswarm_agent_spool_pending_records"),
        "produced = sent + pending"
    );
}

#[test]
fn kill_9_then_restart_replays_the_spool() {
    let Some(mut f) = Fleet::start(Target::Embedded, &[]) else {
        return;
    };
    let (test, first) = start_pinging(&f, "kill", 3);
    // With the server away the runs stay in the spool; then the agent dies.
    f.server.pause();
    std::thread::sleep(Duration::from_secs(10));
    let killed = now_ns();
    f.agent.kill9();
    f.server.resume();
    f.agent.run(&[]);
    wait_for_run_after(&f, test, now_ns());
    f.wait_until_delivered(Duration::from_secs(60));
    let times = f.store().ping_times(f.agent.id(), test);
    // Every run finished before the kill was spooled and is now stored. The run under
    // way at the kill may be lost: it never finished.
    assert_every_run_stored(&times, SECOND, first, killed - 2 * SECOND.as_nanos() as i64);
}

#[test]
fn a_corrupted_spool_record_is_skipped_and_counted_and_the_rest_delivered() {
    let Some(mut f) = Fleet::start(Target::Embedded, &[]) else {
        return;
    };
    let (test, first) = start_pinging(&f, "corrupt", 2);
    f.server.pause();
    std::thread::sleep(Duration::from_secs(15));
    let stopped = now_ns();
    f.agent.stop();
    // Damage a few bytes in the middle of the oldest unsent segment.
    let spool = f.agent.state_dir.join("spool");
    let mut segments: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    segments.sort();
    let segment = segments.last().expect("a spool segment");
    let mut bytes = std::fs::read(segment).unwrap();
    assert!(
        bytes.len() > 1000,
        "{} holds {} bytes",
        segment.display(),
        bytes.len()
    );
    let at = bytes.len() / 2;
    for b in &mut bytes[at..at + 8] {
        *b ^= 0x5a;
    }
    std::fs::write(segment, &bytes).unwrap();
    f.server.resume();
    f.agent.run(&[]);
    wait_for_run_after(&f, test, now_ns());
    f.wait_until_delivered(Duration::from_secs(60));
    let corrupt = f.agent_metric("streamswarm_agent_spool_corrupt_records_total");
    assert!(
        corrupt >= 1.0,
        "corrupt records counted: {corrupt}; {:?}",
        f.agent_metrics()
    );
    let times = f.store().ping_times(f.agent.id(), test);
    let window: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| *t >= first && *t < stopped - SECOND.as_nanos() as i64)
        .collect();
    let (missing, duplicates) = gaps_and_duplicates(&window, SECOND);
    assert!(duplicates.is_empty(), "{duplicates:?}");
    // Only what the damaged records held is missing; the rest arrived.
    assert!(
        missing.len() as f64 <= corrupt,
        "{} runs missing, {corrupt} damaged records",
        missing.len()
    );
    assert!(window.len() >= 10, "{} runs", window.len());
}

#[test]
fn spool_cap_drops_exactly_what_the_counter_says() {
    let Some(mut f) = Fleet::start(
        Target::Embedded,
        &[
            (
                "STREAMSWARM_AGENT__SPOOL__MAX_BYTES",
                (48 * 1024).to_string(),
            ),
            (
                "STREAMSWARM_AGENT__SPOOL__SEGMENT_BYTES",
                (4 * 1024).to_string(),
            ),
        ],
    ) else {
        return;
    };
    let tests: Vec<i64> = (0..8)
        .map(|i| f.ping_test(&format!("cap {i}"), 1))
        .collect();
    for t in &tests {
        wait_for_runs(&f, *t, 2);
    }
    f.server.pause();
    std::thread::sleep(Duration::from_secs(40));
    f.server.resume();
    let back = now_ns();
    for t in &tests {
        wait_for_run_after(&f, *t, back);
    }
    f.wait_until_delivered(Duration::from_secs(60));
    // Stop producing test points; then stop the agent (the server is up, so it hands
    // over everything it holds) and count.
    for t in &tests {
        let (s, _) = f
            .api
            .send(reqwest::Method::DELETE, &format!("/api/v1/tests/{t}"), None);
        assert_eq!(s, 204);
    }
    std::thread::sleep(Duration::from_secs(4));
    f.wait_until_delivered(Duration::from_secs(60));
    f.agent.stop();
    let agent = f.agent.id().to_string();
    let store = f.store();
    let of = |m: &str, field: &str| store.points(m, &[("agent", &agent)], &[field]);
    let ping = of("ping", "sent");
    let selfs = of("agent_self", "points_produced_total");
    let drops = of("agent_drops", "points_total");
    // The agent's last word: what it had produced when it took its last sample (not
    // counting that sample's own points), and what it had dropped by then.
    let last = selfs.last().expect("agent_self points");
    let produced = match last.fields["points_produced_total"] {
        streamswarm_tsdb::query::Value::Integer(n) => n,
        ref v => panic!("{v:?}"),
    };
    let last_drops: Vec<_> = drops.iter().filter(|p| p.time_ns == last.time_ns).collect();
    assert_eq!(
        last_drops.len(),
        3,
        "one agent_drops point per reason: {last_drops:?}"
    );
    let dropped: i64 = last_drops
        .iter()
        .map(|p| match p.fields["points_total"] {
            streamswarm_tsdb::query::Value::Integer(n) => n,
            ref v => panic!("{v:?}"),
        })
        .sum();
    let produced_in_all = produced + 1 + last_drops.len() as i64;
    let stored = (ping.len() + selfs.len() + drops.len()) as i64;
    assert!(dropped > 0, "the cap was reached");
    assert_eq!(
        produced_in_all - stored,
        dropped,
        "points lost (produced {produced_in_all} − stored {stored}) vs the drop counter"
    );
    for t in &tests {
        let times = f.store().ping_times(f.agent.id(), *t);
        let (_, duplicates) = gaps_and_duplicates(&times, SECOND);
        assert!(duplicates.is_empty(), "test {t}: {duplicates:?}");
    }
}

#[test]
fn a_revoked_agent_stops_writing_and_says_so_once() {
    let Some(mut f) = Fleet::start(Target::Embedded, &[]) else {
        return;
    };
    let (test, _) = start_pinging(&f, "revoke", 2);
    let id = f.agent.id();
    f.api.post(
        &format!("/api/v1/agents/{id}/revoke"),
        serde_json::json!({}),
    );
    let revoked = now_ns();
    let proc = f.agent.proc();
    proc.wait_for_log("revoked", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(6));
    assert!(proc.is_running(), "the agent must not exit (no crash loop)");
    let log = proc.log();
    let said = log
        .lines()
        .filter(|l| l.contains("revoked") && l.contains("stopped measuring and writing"))
        .count();
    assert_eq!(said, 1, "one clear error, not a loop:\n{log}");
    let times = f.store().ping_times(id, test);
    let after: Vec<_> = times
        .iter()
        .filter(|t| **t > revoked + 2 * SECOND.as_nanos() as i64)
        .collect();
    assert!(
        after.is_empty(),
        "points written after revocation: {after:?}"
    );
}
