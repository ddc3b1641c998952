//! Online scoring of one series' points against its model, and the rules that turn
//! scored points into episodes (an anomaly that opened at a point and closes later).
//!
//! - **Latency-like** values (RTT, DNS/TCP/HTTP times) are scored by their error
//!   against the forecast, `value − expected`, one-sided (faster is never a problem).
//!   How large an error is normal is learnt from the series' own recent forecast errors
//!   ([`Calibration`]: network noise is heavy-tailed, so a Gaussian σ would flag a few
//!   percent of normal points): a point is *flagged* when its error exceeds the
//!   `quantile` of recent errors and `z_flag` robust scales. An episode opens when
//!   `open_k` of the last `open_n` points are flagged (a single blip never opens one) and
//!   starts at the first flagged point of that run. A slow ramp stays under the flag for
//!   a while; a one-sided CUSUM of the errors in units of the flag level (drift
//!   `cusum_drift`, limit `cusum_limit`) opens an episode when smaller deviations keep
//!   adding up. An episode closes after `close_after` consecutive points without a flag.
//! - **Loss** is a count of failures in a number of trials, modelled as binomial: under
//!   the series' baseline failure rate `p0` (from its history, with a floor), the tail
//!   probability of seeing at least the failures counted over the last 1, 3 and 10
//!   minutes. Score = −log10 of the smallest; an episode opens at `score_open` and closes
//!   when every window has been under `score_close` for `close_after` minutes.

use statrs::distribution::{Binomial, DiscreteCDF};
use std::collections::VecDeque;

/// Thresholds of the latency rule.
#[derive(Debug, Clone, Copy)]
pub struct LatencyRule {
    /// Quantile of recent normal errors a flagged point exceeds.
    pub quantile: f64,
    /// Robust scales (MAD × 1.4826 of recent errors) a flagged point exceeds.
    pub z_flag: f64,
    pub open_k: usize,
    pub open_n: usize,
    pub cusum_drift: f64,
    pub cusum_limit: f64,
    pub close_after: usize,
}

impl Default for LatencyRule {
    fn default() -> Self {
        LatencyRule {
            quantile: 0.995,
            z_flag: 4.0,
            open_k: 3,
            open_n: 5,
            cusum_drift: 0.5,
            cusum_limit: 10.0,
            close_after: 15,
        }
    }
}

/// Thresholds of the loss rule.
#[derive(Debug, Clone, Copy)]
pub struct LossRule {
    pub score_open: f64,
    pub score_close: f64,
    pub close_after: usize,
    /// Smallest baseline failure rate assumed (a series that never lost a packet in its
    /// history is not certain never to).
    pub p0_floor: f64,
}

impl Default for LossRule {
    fn default() -> Self {
        LossRule {
            score_open: 7.0,
            score_close: 2.0,
            close_after: 10,
            p0_floor: 5e-4,
        }
    }
}

/// A change of a series' state.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transition {
    /// An episode opened; it started at `start_s` (its first anomalous point).
    Opened { start_s: i64 },
    /// The open episode ended after its last anomalous point at `last_s`.
    Closed { last_s: i64 },
}

/// What scoring one point said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// The point's score (z for latency, −log10 p for loss).
    pub score: f64,
    /// Whether the point belongs to an episode (it opened, is open or closed it).
    pub anomalous: bool,
    pub transition: Option<Transition>,
}

/// A series' recent normal forecast errors (anomalous points left out), newest last.
#[derive(Debug, Clone, Default)]
pub struct Calibration {
    errors: VecDeque<f64>,
}

/// The scale of normal errors and the error a flagged point exceeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub scale: f64,
    pub flag_at: f64,
}

impl Calibration {
    /// Errors kept: two days of 1-minute points.
    pub const KEEP: usize = 2 * 1440;
    /// Fewest errors before a series is scored (a young series' quantile is then
    /// close to its largest error: cautious).
    pub const MIN: usize = 40;

    pub fn push(&mut self, error: f64) {
        self.errors.push_back(error);
        while self.errors.len() > Self::KEEP {
            self.errors.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    /// The threshold under `rule`, once there are enough errors.
    pub fn threshold(&self, rule: &LatencyRule) -> Option<Threshold> {
        if self.errors.len() < Self::MIN {
            return None;
        }
        let v: Vec<f64> = self.errors.iter().copied().collect();
        let centre = super::model::median(&v);
        let scale = super::model::robust_scale(&v);
        let mut sorted = v;
        sorted.sort_by(f64::total_cmp);
        let q = sorted[((sorted.len() as f64 * rule.quantile) as usize).min(sorted.len() - 1)];
        Some(Threshold {
            scale,
            flag_at: (q - centre).max(rule.z_flag * scale) + centre,
        })
    }
}

/// The latency rule's state for one series.
#[derive(Debug, Clone, Default)]
pub struct LatencyState {
    recent: VecDeque<(i64, bool)>,
    cusum: f64,
    cusum_start: Option<i64>,
    open: bool,
    clear_run: usize,
    last_flag_s: i64,
}

impl LatencyState {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Scores `value` at `time_s` against `expected` and the series' threshold.
    pub fn observe(
        &mut self,
        rule: &LatencyRule,
        time_s: i64,
        value: f64,
        expected: f64,
        threshold: Threshold,
    ) -> Scored {
        let error = value - expected;
        let z = error / threshold.scale;
        let flagged = error > threshold.flag_at;
        // The error in units of the flag level, for the CUSUM.
        let u = error / threshold.flag_at.max(f64::EPSILON);
        self.recent.push_back((time_s, flagged));
        while self.recent.len() > rule.open_n {
            self.recent.pop_front();
        }
        // CUSUM, each point capped at twice the flag level so that one huge blip cannot
        // fill it alone.
        let before = self.cusum;
        self.cusum = (self.cusum + u.min(2.0) - rule.cusum_drift).max(0.0);
        if before == 0.0 && self.cusum > 0.0 {
            self.cusum_start = Some(time_s);
        } else if self.cusum == 0.0 {
            self.cusum_start = None;
        }
        let mut transition = None;
        if flagged {
            self.last_flag_s = time_s;
        }
        if self.open {
            if flagged || self.cusum > rule.cusum_limit {
                self.clear_run = 0;
            } else {
                self.clear_run += 1;
                if self.clear_run >= rule.close_after {
                    self.open = false;
                    self.cusum = 0.0;
                    self.cusum_start = None;
                    transition = Some(Transition::Closed {
                        last_s: self.last_flag_s,
                    });
                }
            }
        } else {
            let flags = self.recent.iter().filter(|(_, f)| *f).count();
            if flagged && flags >= rule.open_k {
                let start_s = self
                    .recent
                    .iter()
                    .find(|(_, f)| *f)
                    .map_or(time_s, |(t, _)| *t);
                transition = Some(self.open_at(start_s));
            } else if self.cusum > rule.cusum_limit && z > 0.0 {
                let start_s = self.cusum_start.unwrap_or(time_s);
                self.last_flag_s = time_s;
                transition = Some(self.open_at(start_s));
            }
        }
        Scored {
            score: z,
            // Every point of an open episode (and the one that closes it) is anomalous:
            // the model must not learn an incident as normal.
            anomalous: self.open || matches!(transition, Some(Transition::Closed { .. })),
            transition,
        }
    }

    fn open_at(&mut self, start_s: i64) -> Transition {
        self.open = true;
        self.clear_run = 0;
        Transition::Opened { start_s }
    }
}

/// Windows (minutes) the loss rule sums failures over.
pub const LOSS_WINDOWS: [usize; 3] = [1, 3, 10];

/// The loss rule's state for one series.
#[derive(Debug, Clone, Default)]
pub struct LossState {
    /// (time, trials, failures) of the last minutes, newest last.
    recent: VecDeque<(i64, u64, u64)>,
    open: bool,
    quiet_run: usize,
    last_bad_s: i64,
}

impl LossState {
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Scores `failures` of `trials` at `time_s` under the baseline rate `p0`.
    pub fn observe(
        &mut self,
        rule: &LossRule,
        time_s: i64,
        trials: u64,
        failures: u64,
        p0: f64,
    ) -> Scored {
        let max_window = LOSS_WINDOWS[LOSS_WINDOWS.len() - 1];
        self.recent.push_back((time_s, trials, failures));
        while self.recent.len() > max_window {
            self.recent.pop_front();
        }
        let p0 = p0.max(rule.p0_floor).min(0.5);
        let mut score: f64 = 0.0;
        let mut worst_window = 1;
        for w in LOSS_WINDOWS {
            let (n, k) = self
                .recent
                .iter()
                .rev()
                .take(w)
                .fold((0, 0), |(n, k), &(_, t, f)| (n + t, k + f));
            let s = binomial_surprise(n, k, p0);
            if s > score {
                score = s;
                worst_window = w;
            }
        }
        if failures > 0 && score >= rule.score_close {
            self.last_bad_s = time_s;
        }
        let mut transition = None;
        if self.open {
            if score >= rule.score_close {
                self.quiet_run = 0;
            } else {
                self.quiet_run += 1;
                if self.quiet_run >= rule.close_after {
                    self.open = false;
                    transition = Some(Transition::Closed {
                        last_s: self.last_bad_s,
                    });
                }
            }
        } else if score >= rule.score_open {
            // It started at the first minute with a failure in the window that tipped.
            let start_s = self
                .recent
                .iter()
                .rev()
                .take(worst_window)
                .filter(|(_, _, f)| *f > 0)
                .map(|(t, _, _)| *t)
                .min()
                .unwrap_or(time_s);
            self.open = true;
            self.quiet_run = 0;
            self.last_bad_s = time_s;
            transition = Some(Transition::Opened { start_s });
        }
        Scored {
            score,
            anomalous: self.open || matches!(transition, Some(Transition::Closed { .. })),
            transition,
        }
    }
}

/// −log10 P(X ≥ k) for X ~ Binomial(n, p): how surprising `k` failures in `n` trials are.
pub fn binomial_surprise(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 || n == 0 {
        return 0.0;
    }
    let Ok(b) = Binomial::new(p, n) else {
        return 0.0;
    };
    // sf(k − 1) = P(X > k − 1) = P(X ≥ k).
    let tail = b.sf(k - 1);
    if tail <= 0.0 {
        // Below f64's range: as surprising as it gets.
        300.0
    } else {
        -tail.log10()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_blip_does_not_open_a_latency_episode_but_a_sustained_shift_does() {
        let rule = LatencyRule::default();
        let mut s = LatencyState::default();
        let mut t = 0;
        let th = Threshold {
            scale: 1.0,
            flag_at: 4.0,
        };
        let mut feed = |s: &mut LatencyState, v: f64| {
            t += 60;
            s.observe(&rule, t, v, 10.0, th)
        };
        for _ in 0..20 {
            assert_eq!(feed(&mut s, 10.5).transition, None);
        }
        assert_eq!(feed(&mut s, 30.0).transition, None, "a blip");
        for _ in 0..10 {
            assert_eq!(feed(&mut s, 10.2).transition, None);
        }
        assert_eq!(feed(&mut s, 16.0).transition, None);
        assert_eq!(feed(&mut s, 16.0).transition, None);
        let third = feed(&mut s, 16.0);
        assert_eq!(
            third.transition,
            Some(Transition::Opened { start_s: 32 * 60 })
        );
        assert!(third.anomalous);
        for i in 0..rule.close_after {
            let r = feed(&mut s, 10.0);
            assert_eq!(
                r.transition.is_some(),
                i == rule.close_after - 1,
                "{i}: {r:?}"
            );
        }
        assert!(!s.is_open());
    }

    #[test]
    fn a_sustained_deviation_under_the_flag_opens_through_the_cusum() {
        let rule = LatencyRule::default();
        let th = Threshold {
            scale: 1.0,
            flag_at: 4.0,
        };
        let mut s = LatencyState::default();
        // Never flagged (3.2 < 4), but 0.8 − 0.5 = 0.3 flag levels a minute add up.
        let mut opened = None;
        for m in 0..60 {
            if let Some(t) = s.observe(&rule, m * 60, 13.2, 10.0, th).transition {
                opened = Some((m, t));
                break;
            }
        }
        let (m, t) = opened.expect("opened");
        assert_eq!(m, 33, "10 / 0.3 = 33.3 minutes");
        assert_eq!(t, Transition::Opened { start_s: 0 });
    }

    #[test]
    fn the_threshold_follows_the_series_own_error_tail() {
        let rule = LatencyRule::default();
        let mut c = Calibration::default();
        assert_eq!(c.threshold(&rule), None);
        // 990 small errors (±0.1) and a heavy tail of ten at 10: the 99.5 % quantile
        // (10) is far above 4 robust scales (4 × 0.148).
        for i in 0..990 {
            c.push(if i % 2 == 0 { 0.1 } else { -0.1 });
        }
        for _ in 0..10 {
            c.push(10.0);
        }
        let t = c.threshold(&rule).unwrap();
        // Median 0.1; absolute deviations 0 (495×), 0.2 (495×), 9.9 (10×): MAD 0.2.
        assert!((t.scale - 0.2 * 1.4826).abs() < 1e-9, "{t:?}");
        assert!((t.flag_at - 10.0).abs() < 1e-9, "{t:?}");
    }

    #[test]
    fn binomial_surprise_matches_hand_computed_tails() {
        // P(X ≥ 1 | n = 10, p = 0.5) = 1 − 0.5^10.
        let s = binomial_surprise(10, 1, 0.5);
        assert!((s - -(1.0f64 - 0.5f64.powi(10)).log10()).abs() < 1e-9);
        // P(X ≥ 10 | n = 10, p = 0.1) = 1e-10.
        assert!((binomial_surprise(10, 10, 0.1) - 10.0).abs() < 1e-6);
        assert_eq!(binomial_surprise(10, 0, 0.1), 0.0);
    }

    #[test]
    fn a_loss_burst_opens_and_baseline_loss_does_not() {
        let rule = LossRule::default();
        let mut s = LossState::default();
        // One lost echo of 10 now and then at a 0.2 % baseline: never opens.
        for m in 0..200 {
            let f = u64::from(m % 50 == 0);
            assert_eq!(s.observe(&rule, m * 60, 10, f, 0.002).transition, None);
        }
        // 30 % loss: opens within a few minutes.
        let mut opened = None;
        for m in 200..215 {
            let f = if m % 3 == 0 { 4 } else { 2 };
            if let Some(t) = s.observe(&rule, m * 60, 10, f, 0.002).transition {
                opened = Some((m, t));
                break;
            }
        }
        let (m, t) = opened.expect("opened");
        assert!(m <= 203, "{m}");
        assert_eq!(t, Transition::Opened { start_s: 200 * 60 });
    }
}
