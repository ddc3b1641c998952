//! The plain-language side of an insight: its metric, severity and the cause sentence
//! an engineer reads first — what changed, by how much against the baseline, where (the
//! scope, and what that scope suggests), and since when.

use super::engine::{Insight, Scope, SeriesKey, Signal};
use super::sources;

/// The `measurement.field` a finding of `signal` on `key` is about (a multivariate
/// finding's evidence is its series' latency).
pub fn metric(key: &SeriesKey, signal: Signal) -> String {
    match signal {
        Signal::Latency | Signal::Multivariate => sources::get(key.measurement).map_or_else(
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
        Signal::Multivariate => "σ",
    }
}

/// `critical` when latency at least doubled or half the packets are lost; else
/// `warning` (an unusual combination of an agent's metrics is a warning).
pub fn severity(i: &Insight) -> &'static str {
    let critical = match i.signal {
        Signal::Latency => i.observed >= 2.0 * i.expected && i.expected > 0.0,
        Signal::Loss => i.observed >= 50.0,
        Signal::Multivariate => false,
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
/// network, not the agents.", with the agents' host context when something stood out
/// ("On the agent: host CPU 97 % (usual 14 %).").
pub fn sentence(i: &Insight) -> String {
    let mut out = cause(i);
    if !i.notes.is_empty() && i.signal != Signal::Multivariate {
        let on = match i.scope {
            Scope::Target { .. } => "On the agents",
            _ => "On the agent",
        };
        out.push_str(&format!(" {on}: {}.", i.notes.join("; ")));
    }
    out
}

fn cause(i: &Insight) -> String {
    if let (Signal::Multivariate, Scope::Agent(agent)) = (i.signal, &i.scope) {
        let what = if i.notes.is_empty() {
            String::new()
        } else {
            format!(": {}", i.notes.join("; "))
        };
        return format!(
            "Agent {agent}: its minutes are unusual as a whole since {} (isolation-forest \
             score {:.1} spreads above its usual){what} — the agent's own link or host.",
            clock(i.start_s),
            i.observed
        );
    }
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
        Signal::Loss | Signal::Multivariate => format!(
            "up to {:.0} % packet loss (baseline {:.2} %)",
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
            notes: Vec::new(),
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
            "Agent 2 towards 5 of its 6 targets: up to 60 % packet loss (baseline 0.10 %) \
             since 14:02 UTC — the agent's own link or host, not the targets."
        );
        i.notes = vec!["host CPU 97 % (usual 14 %)".into()];
        assert!(
            sentence(&i).ends_with("not the targets. On the agent: host CPU 97 % (usual 14 %)."),
            "{}",
            sentence(&i)
        );
    }

    #[test]
    fn a_multivariate_insight_says_what_stood_out() {
        let mut i = insight(Scope::Agent("2".into()), 5, 5);
        i.signal = Signal::Multivariate;
        i.expected = 0.0;
        i.observed = 6.2;
        i.notes = vec![
            "host CPU 97 % (usual 14 %)".into(),
            "latency against forecast 2.1 × its flag level (usual 0.0 × its flag level)".into(),
        ];
        assert_eq!(severity(&i), "warning");
        assert_eq!(
            sentence(&i),
            "Agent 2: its minutes are unusual as a whole since 14:02 UTC (isolation-forest \
             score 6.2 spreads above its usual): host CPU 97 % (usual 14 %); latency against \
             forecast 2.1 × its flag level (usual 0.0 × its flag level) — the agent's own link \
             or host."
        );
    }
}
