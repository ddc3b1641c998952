//! The baseline every analytics result is compared with: a rolling 3-sigma rule, the
//! detector a network engineer would write first. Per series and metric (RTT average,
//! loss), a point is flagged when it lies more than `sigmas` standard deviations from
//! the mean of the previous `window` points; `persist` consecutive flagged points raise
//! a finding (one per run of flagged points, scope: the pair — the rule knows nothing
//! of other series). No seasonality, no scope reasoning: what the product must beat.

use super::eval::{EvalSet, PingPoint, Scope};
use super::score::Finding;

/// The rule's knobs.
#[derive(Debug, Clone, Copy)]
pub struct ThreeSigma {
    /// Points in the rolling window (minutes at 1-minute resolution).
    pub window: usize,
    pub sigmas: f64,
    /// Consecutive flagged points before a finding is raised.
    pub persist: usize,
}

impl Default for ThreeSigma {
    fn default() -> Self {
        ThreeSigma {
            window: 60,
            sigmas: 3.0,
            persist: 3,
        }
    }
}

impl ThreeSigma {
    /// Runs the rule over every series of `set` after its training days.
    pub fn detect(&self, set: &EvalSet) -> Vec<Finding> {
        let from = set.config.start_s + i64::from(set.config.training_days) * 86_400;
        let mut out = Vec::new();
        for (&(agent, target), points) in &set.series {
            let metrics: [fn(&PingPoint) -> Option<f64>; 2] =
                [|p| p.rtt_avg_ms, |p| Some(p.loss_percent())];
            for metric in metrics {
                for detected_s in self.runs(points, metric, from) {
                    out.push(Finding {
                        series: vec![(agent, target)],
                        scope: Scope::Pair { agent, target },
                        detected_s,
                    });
                }
            }
        }
        out.sort_by_key(|f| f.detected_s);
        out
    }

    /// When each run of `persist` flagged points completed (Unix seconds).
    fn runs(
        &self,
        points: &[PingPoint],
        metric: fn(&PingPoint) -> Option<f64>,
        from: i64,
    ) -> Vec<i64> {
        let mut window: std::collections::VecDeque<f64> = Default::default();
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        let mut flagged = 0;
        let mut raised = false;
        let mut out = Vec::new();
        for p in points {
            // A point with no value (all echoes lost): RTT unknown, not normal.
            let Some(x) = metric(p) else {
                continue;
            };
            if window.len() == self.window && p.time_s >= from {
                let n = window.len() as f64;
                let mean = sum / n;
                let sd = (sum_sq / n - mean * mean).max(0.0).sqrt();
                if (x - mean).abs() > self.sigmas * sd && sd > 0.0 {
                    flagged += 1;
                    if flagged >= self.persist && !raised {
                        out.push(p.time_s);
                        raised = true;
                    }
                } else {
                    flagged = 0;
                    raised = false;
                }
            }
            window.push_back(x);
            sum += x;
            sum_sq += x * x;
            if window.len() > self.window {
                let old = window.pop_front().unwrap();
                sum -= old;
                sum_sq -= old * old;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::eval::{EvalConfig, generate};
    use crate::analytics::score::score;

    #[test]
    fn the_baseline_finds_level_shifts_but_names_every_scope_a_pair() {
        let set = generate(&EvalConfig {
            agents: 3,
            targets: 3,
            days: 9,
            training_days: 7,
            incidents_per_kind: 2,
            ..EvalConfig::default()
        });
        let findings = ThreeSigma::default().detect(&set);
        let s = score(&set, &findings);
        // A step of 10–50 ms over a few-% noise is what a 3-sigma rule does see …
        let shifts = &s.per_kind[&crate::analytics::eval::IncidentKind::LevelShift];
        assert_eq!(shifts.found, shifts.incidents, "{s:#?}");
        // … and it names every scope a pair, so target- and agent-wide ones are wrong.
        let agent_wide = &s.per_kind[&crate::analytics::eval::IncidentKind::AgentDegraded];
        assert_eq!(agent_wide.scope_right, 0, "{s:#?}");
        assert!(s.precision > 0.0, "{s:#?}");
    }
}
