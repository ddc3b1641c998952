//! Capacity-style questions: when will a series' trend cross a threshold? The same
//! model as the detector's ([`super::model`]: MSTL with daily and weekly periods,
//! AutoETS on the deseasonalised series, which chooses whether a trend and a damped
//! one fit) on hourly points over weeks, forecast days ahead with its prediction
//! interval. The answer is three times: when the interval's near edge first reaches
//! the threshold (the earliest it may happen), when the expected value does, and when
//! the far edge does (by then it is all but certain) — each `None` when it does not
//! happen within the horizon.

use super::model::{self, Band, FitConfig, FitError, Model};

/// Hourly points.
pub const STEP_S: i64 = 3600;
/// Confidence level of the interval.
pub const LEVEL: f64 = 0.95;
/// Fewest hourly points (two days: a daily period can be taken out).
pub const MIN_POINTS: usize = 48;

/// When the threshold is crossed, as indices into the forecast's bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Crossing {
    pub earliest: Option<usize>,
    pub expected: Option<usize>,
    pub latest: Option<usize>,
}

/// Which way the series has to go to cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Rising,
    Falling,
}

/// The fitted forecast and the crossing.
#[derive(Debug, Clone)]
pub struct TrendForecast {
    pub model: Model,
    pub direction: Direction,
    pub crossing: Crossing,
    /// The last hourly value of the history.
    pub last: f64,
}

/// Fits `hourly` (oldest first, the last entry is the hour before `start_s`) and looks
/// `horizon` hours ahead for `threshold`. The direction is where the threshold lies
/// from the last value.
pub fn forecast(
    hourly: &[Option<f64>],
    start_s: i64,
    horizon: usize,
    threshold: f64,
) -> Result<TrendForecast, FitError> {
    let config = FitConfig {
        trend_window: usize::MAX,
        level: LEVEL,
        min_points: MIN_POINTS,
        step_s: STEP_S,
    };
    let model = model::fit(hourly, start_s, horizon, &config)?;
    let last = hourly.iter().rev().flatten().next().copied().unwrap_or(0.0);
    let direction = if threshold >= last {
        Direction::Rising
    } else {
        Direction::Falling
    };
    let crossing = crossing(&model.bands, threshold, direction);
    Ok(TrendForecast {
        model,
        direction,
        crossing,
        last,
    })
}

/// The first bands at which the near edge, the expected value and the far edge reach
/// `threshold` going `direction`.
pub fn crossing(bands: &[Band], threshold: f64, direction: Direction) -> Crossing {
    let reached = |v: f64| match direction {
        Direction::Rising => v >= threshold,
        Direction::Falling => v <= threshold,
    };
    type Edge = fn(&Band) -> f64;
    let first = |edge: Edge| bands.iter().position(|b| reached(edge(b)));
    let (near, far): (Edge, Edge) = match direction {
        Direction::Rising => (|b| b.upper, |b| b.lower),
        Direction::Falling => (|b| b.lower, |b| b.upper),
    };
    Crossing {
        earliest: first(near),
        expected: first(|b| b.expected),
        latest: first(far),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three weeks of hourly RTT growing 0.05 ms an hour from 20 ms, with a daily
    /// cycle of ±3 ms and deterministic noise.
    fn growing(hours: usize) -> Vec<Option<f64>> {
        let mut x: u64 = 1;
        (0..hours)
            .map(|h| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let noise = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 1.0;
                let daily = 3.0 * (h as f64 / 24.0 * std::f64::consts::TAU).sin();
                Some(20.0 + 0.05 * h as f64 + daily + noise)
            })
            .collect()
    }

    #[test]
    fn a_growing_series_crosses_about_when_its_trend_says() {
        let hours = 21 * 24;
        let history = growing(hours);
        // The trend is at 20 + 0.05 × 504 = 45.2 ms now; 55 ms is 196 hours ahead
        // (the daily cycle moves the first touch by up to ±60 hours at this slope).
        let f = forecast(&history, 0, 14 * 24, 55.0).unwrap();
        assert_eq!(f.direction, Direction::Rising);
        let c = f.crossing;
        let expected = c.expected.expect("crosses within 14 days");
        assert!(
            (130..=260).contains(&expected),
            "expected at hour {expected}, {c:?}"
        );
        let earliest = c.earliest.expect("the interval reaches it first");
        assert!(earliest <= expected, "{c:?}");
        if let Some(latest) = c.latest {
            assert!(expected <= latest, "{c:?}");
        }
        assert_eq!(f.model.step_s, STEP_S);
        assert_eq!(f.model.periods, vec![24, 168]);
    }

    #[test]
    fn a_flat_series_does_not_cross_a_distant_threshold() {
        let history: Vec<Option<f64>> = growing(14 * 24)
            .into_iter()
            .enumerate()
            .map(|(h, v)| v.map(|v| v - 0.05 * h as f64))
            .collect();
        let f = forecast(&history, 0, 7 * 24, 40.0).unwrap();
        assert_eq!(f.crossing.expected, None, "{:?}", f.crossing);
        assert_eq!(f.crossing.latest, None);
    }

    #[test]
    fn falling_towards_a_lower_threshold() {
        let bands: Vec<Band> = (0..10)
            .map(|i| {
                let e = 10.0 - i as f64;
                Band {
                    expected: e,
                    lower: e - 2.0,
                    upper: e + 2.0,
                }
            })
            .collect();
        assert_eq!(
            crossing(&bands, 5.0, Direction::Falling),
            Crossing {
                earliest: Some(3),
                expected: Some(5),
                latest: Some(7),
            }
        );
    }

    #[test]
    fn too_short_a_history_is_an_error() {
        assert!(matches!(
            forecast(&growing(24), 0, 24, 50.0),
            Err(FitError::TooShort { need: 48, .. })
        ));
    }
}
