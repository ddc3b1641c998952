//! The per-series forecast model: MSTL decomposition (augurs, periods known in
//! advance: a day and, with two weeks of history, a week) and an AutoETS model of the
//! deseasonalised recent window, whose forecast plus the repeated seasonal components
//! is the expected value with its prediction interval for the minutes ahead.
//!
//! Why not `MSTLModel` with its trend model as is: AutoETS fitted on a week of
//! 1-minute points takes ~0.35 s per series (measured; 1,000 series would take six
//! minutes), while the trend model only has to forecast the next hour or two, for which
//! the last [`FitConfig::trend_window`] points carry the information. The decomposition
//! still sees the whole history (3 ms per week of points).
//!
//! The AutoETS interval is what users see as the forecast band; how far one point may
//! stray before it is anomalous is calibrated on the forecast's own errors
//! ([`super::detector::Calibration`]), not on the interval.

use augurs::ets::AutoETS;
use augurs::mstl::MSTLModel;
use augurs::prelude::*;

/// Minutes in a day and in a week: the seasonal periods of network paths (people's
/// working days and evenings, weekends).
pub const DAY: usize = 1440;
pub const WEEK: usize = 7 * DAY;

/// How a model is fitted.
#[derive(Debug, Clone, Copy)]
pub struct FitConfig {
    /// Deseasonalised points the trend model is fitted on (the most recent).
    pub trend_window: usize,
    /// Confidence level of the forecast interval (0–1).
    pub level: f64,
    /// Fewest points a series needs before it has a model.
    pub min_points: usize,
    /// Seconds between points (60: the detector's minutes; 3600: the hourly points of
    /// a capacity forecast, [`super::trend`]). The seasonal periods are a day and a
    /// week of such points.
    pub step_s: i64,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            trend_window: 360,
            level: 0.99,
            min_points: 30,
            step_s: 60,
        }
    }
}

/// One minute ahead: the forecast and its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub expected: f64,
    pub lower: f64,
    pub upper: f64,
}

/// A fitted series: the forecast from `start_s` on, one band per `step_s`.
/// (`periods` are in points.)
#[derive(Debug, Clone)]
pub struct Model {
    pub start_s: i64,
    pub step_s: i64,
    pub bands: Vec<Band>,
    /// The seasonal periods the decomposition used (minutes).
    pub periods: Vec<usize>,
    pub level: f64,
}

impl Model {
    /// The band for the point at `time_s`, when the forecast reaches that far.
    pub fn band_at(&self, time_s: i64) -> Option<Band> {
        if time_s < self.start_s {
            return None;
        }
        let i = ((time_s - self.start_s) / self.step_s) as usize;
        self.bands.get(i).copied()
    }

    /// Where the forecast ends (exclusive).
    pub fn end_s(&self) -> i64 {
        self.start_s + self.bands.len() as i64 * self.step_s
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("{have} points of history; a model needs {need}")]
    TooShort { have: usize, need: usize },
    #[error("the forecaster failed: {0}")]
    Forecaster(String),
}

/// Fits `history` (one value per `config.step_s`, oldest first, `None` where nothing
/// was measured; the last entry is the step before `start_s`) and forecasts `horizon`
/// steps from `start_s`.
pub fn fit(
    history: &[Option<f64>],
    start_s: i64,
    horizon: usize,
    config: &FitConfig,
) -> Result<Model, FitError> {
    let present = history.iter().filter(|v| v.is_some()).count();
    if present < config.min_points {
        return Err(FitError::TooShort {
            have: present,
            need: config.min_points,
        });
    }
    // Drop the leading gap, fill the rest linearly: MSTL needs an unbroken series.
    let first = history.iter().position(Option::is_some).expect("present");
    let y = interpolate(&history[first..]);
    let day = (86_400 / config.step_s.max(1)) as usize;
    let week = 7 * day;
    let mut periods = Vec::new();
    if y.len() >= 2 * day {
        periods.push(day);
    }
    if y.len() >= 2 * week {
        periods.push(week);
    }
    let (seasonal, deseasonalised): (Vec<Vec<f32>>, Vec<f64>) = if periods.is_empty() {
        (Vec::new(), y.clone())
    } else {
        let fitted = MSTLModel::naive(periods.clone())
            .fit(&y)
            .map_err(|e| FitError::Forecaster(e.to_string()))?;
        let parts = fitted.fit();
        let d = parts
            .trend()
            .iter()
            .zip(parts.remainder())
            .map(|(t, r)| f64::from(t + r))
            .collect();
        (parts.seasonal().to_vec(), d)
    };
    let tail = &deseasonalised[deseasonalised.len().saturating_sub(config.trend_window)..];
    let ets = AutoETS::non_seasonal()
        .fit(tail)
        .map_err(|e| FitError::Forecaster(e.to_string()))?;
    let ahead = ets
        .predict(horizon, config.level)
        .map_err(|e| FitError::Forecaster(e.to_string()))?;
    let intervals = ahead.intervals.as_ref();
    let bands = (0..horizon)
        .map(|i| {
            // Each seasonal component repeats its last period.
            let s: f64 = periods
                .iter()
                .zip(&seasonal)
                .map(|(&p, c)| f64::from(c[c.len() - p + i % p]))
                .sum();
            let expected = ahead.point[i] + s;
            let (lower, upper) = intervals
                .map(|iv| (iv.lower[i] + s, iv.upper[i] + s))
                .unwrap_or((expected, expected));
            Band {
                expected,
                lower,
                upper,
            }
        })
        .collect();
    Ok(Model {
        start_s,
        step_s: config.step_s,
        bands,
        periods,
        level: config.level,
    })
}

/// Linear interpolation over `None`s; a trailing gap repeats the last value.
fn interpolate(v: &[Option<f64>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len());
    let mut last: Option<(usize, f64)> = None;
    for (i, x) in v.iter().enumerate() {
        if let Some(x) = *x {
            if let Some((j, y)) = last {
                for k in j + 1..i {
                    let f = (k - j) as f64 / (i - j) as f64;
                    out.push(y + (x - y) * f);
                }
            }
            out.push(x);
            last = Some((i, x));
        }
    }
    let fill = last.map(|(_, y)| y).unwrap_or(0.0);
    out.resize(v.len(), fill);
    out
}

/// MAD × 1.4826 (the standard deviation for Gaussian data, unmoved by outliers), via
/// augurs' median; never zero (a constant series still gets a tiny scale).
pub fn robust_scale(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::EPSILON;
    }
    let m = median(values);
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    (median(&deviations) * 1.4826).max(1e-6)
}

pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_interpolated_and_a_trailing_gap_holds_the_last_value() {
        let v = [Some(1.0), None, None, Some(4.0), None];
        assert_eq!(interpolate(&v), vec![1.0, 2.0, 3.0, 4.0, 4.0]);
    }

    #[test]
    fn a_daily_cycle_is_forecast_a_day_ahead() {
        // Three days of a clean daily cosine around 20 ms: the forecast for the next
        // hours follows the cycle, not a flat line.
        let at = |m: usize| 20.0 + 5.0 * (m as f64 / DAY as f64 * std::f64::consts::TAU).cos();
        let history: Vec<Option<f64>> = (0..3 * DAY).map(|m| Some(at(m))).collect();
        let model = fit(&history, 0, 360, &FitConfig::default()).unwrap();
        assert_eq!(model.periods, vec![DAY]);
        for i in [0, 120, 359] {
            let b = model.bands[i];
            let truth = at(3 * DAY + i);
            assert!((b.expected - truth).abs() < 0.5, "{i}: {b:?} vs {truth}");
            assert!(b.lower <= b.expected && b.expected <= b.upper, "{b:?}");
        }
    }

    #[test]
    fn too_little_history_has_no_model() {
        let history = vec![Some(1.0); 10];
        assert_eq!(
            fit(&history, 0, 10, &FitConfig::default()).unwrap_err(),
            FitError::TooShort { have: 10, need: 30 }
        );
    }
}
