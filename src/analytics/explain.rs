//! The plain-language side of an insight: its metric, severity and the cause sentence
//! an engineer reads first — what changed, by how much against the baseline, where (the
//! scope, and what that scope suggests), and since when.

use super::engine::{Insight, Scope, SeriesKey, Signal};
use super::sources;

/// The `measurement.field` a finding of `signal` on `key` is about.
pub fn metric(key: &SeriesKey, signal: Signal) -> String {
    match signal {
        Signal::Latency => sources::get(key.measurement).map_or_else(
            || format!("{}.latency", key.measurement),
            |s| s.latency_metric(),
        ),
        Signal::Loss => format!("{}.loss_percent", key.measurement),
    }
}

/// What the latency of `key`'s kind is called in sentences.
fn latency_label(key: Option<&SeriesKey>) -> &'static str {
    key.and_then(|k| sources::get(k.measurement))
        .map_or("latency", |s| s.latency_label)
}

pub fn unit(signal: Signal) -> &'static str {
    match signal {
        Signal::Latency => "ms",
        Signal::Loss => "%",
    }
}

/// `critical` when latency at least doubled or half the packets are lost; else
/// `warning`.
pub fn severity(i: &Insight) -> &'static str {
    let critical = match i.signal {
        Signal::Latency => i.observed >= 2.0 * i.expected && i.expected > 0.0,
        Signal::Loss => i.observed >= 50.0,
    };
    if critical { "critical" } else { "warning" }
}

/// The change against the baseline in percent (latency), when the baseline is known.
pub fn change_percent(i: &Insight) -> Option<f64> {
    (i.signal == Signal::Latency && i.expected > 0.0)
        .then(|| 100.0 * (i.observed - i.expected) / i.expected)
}

/// HH:MM UTC of a Unix time.
fn clock(time_s: i64) -> String {
    let t = time_s.rem_euclid(86_400);
    format!("{:02}:{:02} UTC", t / 3600, t % 3600 / 60)
}

/// The cause sentence, e.g. "4 of 6 agents → 10.0.3.1 (test 3): RTT 108.0 ms, +35.0
/// ms (+48 %) above its forecast of 73.0 ms since 14:02 UTC — the target or its
/// network, not the agents."
pub fn sentence(i: &Insight) -> String {
    let what = match i.signal {
        Signal::Latency => {
            let d = i.observed - i.expected;
            let p = change_percent(i).map_or(String::new(), |p| format!(" ({p:+.0} %)"));
            format!(
                "{} {:.1} ms, {d:+.1} ms{p} above its forecast of {:.1} ms",
                latency_label(i.members.iter().next()),
                i.observed,
                i.expected
            )
        }
        Signal::Loss => format!(
            "{:.0} % packet loss (baseline {:.2} %)",
            i.observed, i.expected
        ),
    };
    let since = clock(i.start_s);
    match &i.scope {
        Scope::Pair(k) => format!(
            "Agent {} → {} (test {}): {what} since {since}.",
            k.agent, k.target, k.test
        ),
        Scope::Target { test, target } => format!(
            "{} of {} agents → {target} (test {test}): {what} since {since} — the target or \
             its network, not the agents.",
            i.members.len(),
            i.of
        ),
        Scope::Agent(agent) => format!(
            "Agent {agent} towards {} of its {} targets: {what} since {since} — the agent's \
             own link or host, not the targets.",
            i.members.len(),
            i.of
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::engine::SeriesKey;

    fn insight(scope: Scope, members: usize, of: usize) -> Insight {
        Insight {
            fingerprint: String::new(),
            signal: Signal::Latency,
            scope,
            members: (0..members)
                .map(|a| SeriesKey {
                    measurement: "ping",
                    agent: a.to_string(),
                    test: "3".into(),
                    target: "10.0.3.1".into(),
                })
                .collect(),
            of,
            start_s: 14 * 3600 + 2 * 60,
            detected_s: 14 * 3600 + 5 * 60,
            expected: 73.0,
            observed: 108.0,
        }
    }

    #[test]
    fn a_target_insight_names_how_many_agents_the_size_and_the_start() {
        let i = insight(
            Scope::Target {
                test: "3".into(),
                target: "10.0.3.1".into(),
            },
            4,
            6,
        );
        assert_eq!(
            sentence(&i),
            "4 of 6 agents → 10.0.3.1 (test 3): RTT 108.0 ms, +35.0 ms (+48 %) above its \
             forecast of 73.0 ms since 14:02 UTC — the target or its network, not the agents."
        );
        assert_eq!(severity(&i), "warning");
    }

    #[test]
    fn loss_sentences_and_severity() {
        let mut i = insight(Scope::Agent("2".into()), 5, 6);
        i.signal = Signal::Loss;
        i.expected = 0.1;
        i.observed = 60.0;
        assert_eq!(severity(&i), "critical");
        assert_eq!(
            sentence(&i),
            "Agent 2 towards 5 of its 6 targets: 60 % packet loss (baseline 0.10 %) since \
             14:02 UTC — the agent's own link or host, not the targets."
        );
    }
}
