//! Multivariate scoring of one agent: an extended isolation forest
//! (`extended-isolation-forest`) over one row of features per minute — how far its
//! paths are from their forecasts, its loss, its host's CPU and interface errors, its
//! own scheduling lag and spool age — thresholded on a high quantile of the forest's
//! scores on its own training rows. It finds combinations no single series' rule sees:
//! every path a little slower while the host is saturated.
//!
//! Features are standardised per column (median and MAD of the training rows) so that
//! no unit dominates the random hyperplanes; a missing value (an agent without host
//! metrics) is the column's median, so it neither adds nor hides anything. A column
//! constant in training (scale 0) stays 0 once standardised.
//!
//! The forest draws its trees from the thread's RNG (the crate takes no seed), so two
//! fits of the same rows differ slightly; the threshold comes from the same forest's
//! training scores, which keeps the false-alarm rate, not the exact scores, stable.

use extended_isolation_forest::{Forest, ForestOptions};

/// Columns of a row.
pub const FEATURES: usize = 6;

/// One minute of an agent. `NaN` where nothing was measured.
pub type Row = [f64; FEATURES];

/// What each column holds (for explanations).
pub const NAMES: [&str; FEATURES] = [
    "latency against forecast",
    "packet loss",
    "host CPU",
    "interface errors",
    "probe scheduling lag",
    "oldest unsent point",
];

/// Units of the raw columns.
pub const UNITS: [&str; FEATURES] = ["flag levels", "%", "%", "/s", "ms", "s"];

/// Fewest training rows a forest is fitted on (4 hours of minutes).
pub const MIN_ROWS: usize = 240;
/// Quantile of the training scores above which a row is unusual. Not higher: a
/// sparse column's rare spikes (a lost echo in a calm hour, ~1 % of minutes) are the
/// most isolated training rows, and a point beyond the training range scores no
/// higher than the training rows at that edge (an isolation forest's splits lie within
/// the range it saw). Single unusual minutes do not open anything: see
/// [`AgentForest::unusual`].
pub const QUANTILE: f64 = 0.99;
/// A row is unusual only when at least this many columns are this far (in spreads)
/// from their medians: a combination, which is what one series' rule cannot see.
pub const MIN_COLUMNS: usize = 2;
pub const MIN_Z: f64 = 3.0;

/// Why no forest was fitted.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    #[error("{0} training rows, at least {MIN_ROWS} needed")]
    TooFewRows(usize),
    #[error("the isolation forest failed: {0}")]
    Forest(String),
}

/// A fitted forest and what it needs to score a row.
pub struct AgentForest {
    forest: Forest<f64, FEATURES>,
    center: Row,
    scale: Row,
    /// Median and spread (MAD) of the training scores, and the flag level above the
    /// median (the [`QUANTILE`] of the training scores minus their median).
    pub score_median: f64,
    pub score_scale: f64,
    pub flag_at: f64,
}

impl std::fmt::Debug for AgentForest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentForest")
            .field("center", &self.center)
            .field("scale", &self.scale)
            .field("score_median", &self.score_median)
            .field("flag_at", &self.flag_at)
            .finish_non_exhaustive()
    }
}

/// Fits a forest on `rows` (the agent's normal minutes).
pub fn fit(rows: &[Row]) -> Result<AgentForest, FitError> {
    if rows.len() < MIN_ROWS {
        return Err(FitError::TooFewRows(rows.len()));
    }
    let mut center = [0.0; FEATURES];
    let mut scale = [0.0; FEATURES];
    for c in 0..FEATURES {
        let mut col: Vec<f64> = rows
            .iter()
            .map(|r| r[c])
            .filter(|v| v.is_finite())
            .collect();
        if col.is_empty() {
            continue;
        }
        let m = median(&mut col);
        let mut dev: Vec<f64> = col.iter().map(|v| (v - m).abs()).collect();
        center[c] = m;
        // 1.4826 × MAD estimates σ of a normal column; a column that barely moves
        // (most minutes lose nothing) falls back to its mean absolute deviation.
        let mad = 1.4826 * median(&mut dev);
        scale[c] = if mad > 0.0 {
            mad
        } else {
            dev.iter().sum::<f64>() / dev.len() as f64
        };
    }
    let standard = |r: &Row| standardise(r, &center, &scale);
    let train: Vec<Row> = rows.iter().map(standard).collect();
    let options = ForestOptions {
        n_trees: 100,
        sample_size: 256.min(train.len()),
        max_tree_depth: None,
        extension_level: FEATURES - 1,
    };
    let forest =
        Forest::from_slice(&train, &options).map_err(|e| FitError::Forest(e.to_string()))?;
    let mut scores: Vec<f64> = train.iter().map(|r| forest.score(r)).collect();
    let score_median = median(&mut scores);
    let mut dev: Vec<f64> = scores.iter().map(|s| (s - score_median).abs()).collect();
    let score_scale = (1.4826 * median(&mut dev)).max(1e-6);
    scores.sort_by(f64::total_cmp);
    let q = scores[((scores.len() - 1) as f64 * QUANTILE).round() as usize];
    Ok(AgentForest {
        forest,
        center,
        scale,
        score_median,
        score_scale,
        flag_at: (q - score_median).max(score_scale),
    })
}

impl AgentForest {
    /// The forest's anomaly score of `row` (about 0.5 for ordinary rows, towards 1
    /// for rows isolated quickly).
    pub fn score(&self, row: &Row) -> f64 {
        self.forest
            .score(&standardise(row, &self.center, &self.scale))
    }

    /// Whether `row` is unusual: its score above the flag level and at least
    /// [`MIN_COLUMNS`] columns outstanding. Returns the score (in spreads above the
    /// training median) either way.
    pub fn unusual(&self, row: &Row) -> (bool, f64) {
        let above = self.score(row) - self.score_median;
        let unusual = above > self.flag_at && self.outstanding(row, MIN_Z).len() >= MIN_COLUMNS;
        (unusual, above / self.score_scale)
    }

    /// The columns of `row` furthest from their training median, in units of their
    /// spread (largest first, only those at least `min_z` away).
    pub fn outstanding(&self, row: &Row, min_z: f64) -> Vec<(usize, f64)> {
        let z = standardise(row, &self.center, &self.scale);
        let mut out: Vec<(usize, f64)> = (0..FEATURES)
            .filter(|c| row[*c].is_finite() && z[*c].abs() >= min_z)
            .map(|c| (c, z[c]))
            .collect();
        out.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        out
    }

    /// The training median of column `c` (the agent's usual value).
    pub fn usual(&self, c: usize) -> f64 {
        self.center[c]
    }
}

fn standardise(row: &Row, center: &Row, scale: &Row) -> Row {
    let mut out = [0.0; FEATURES];
    for c in 0..FEATURES {
        if row[c].is_finite() && scale[c] > 0.0 {
            // Capped so that one absurd value cannot stretch every hyperplane.
            out[c] = ((row[c] - center[c]) / scale[c]).clamp(-50.0, 50.0);
        }
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    *m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of a calm agent: latency noise around 0, little loss, CPU 10–30 %, the
    /// rest quiet; deterministic (a simple LCG), so the test does not depend on luck.
    fn calm(n: usize) -> Vec<Row> {
        let mut x: u64 = 7;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        (0..n)
            .map(|_| {
                [
                    next() - 0.5,
                    if next() < 0.01 { 3.3 } else { 0.0 },
                    10.0 + 20.0 * next(),
                    0.0,
                    2.0 + next(),
                    5.0 + 5.0 * next(),
                ]
            })
            .collect()
    }

    #[test]
    fn too_few_rows_is_an_error() {
        assert_eq!(fit(&calm(10)).unwrap_err(), FitError::TooFewRows(10));
    }

    #[test]
    fn a_saturated_host_with_slow_paths_scores_above_the_flag_level() {
        let rows = calm(2000);
        let forest = fit(&rows).unwrap();
        let ordinary = rows[..500].iter().filter(|r| forest.unusual(r).0).count();
        assert_eq!(ordinary, 0, "ordinary rows flagged");
        let bad = [2.5, 0.0, 98.0, 0.0, 2.5, 7.0];
        let (unusual, z) = forest.unusual(&bad);
        assert!(unusual, "{z} spreads above the median, flag {forest:?}");
        // CPU alone is not a combination.
        let busy = [0.0, 0.0, 98.0, 0.0, 2.5, 7.0];
        assert!(!forest.unusual(&busy).0);
        let top = forest.outstanding(&bad, 3.0);
        assert_eq!(top.first().map(|t| t.0), Some(2), "CPU stands out: {top:?}");
        assert!(top.iter().any(|t| t.0 == 0), "latency stands out: {top:?}");
    }

    #[test]
    fn missing_columns_are_neutral() {
        let rows: Vec<Row> = calm(1000)
            .into_iter()
            .map(|mut r| {
                r[2] = f64::NAN;
                r[3] = f64::NAN;
                r
            })
            .collect();
        let forest = fit(&rows).unwrap();
        let mut r = rows[0];
        r[2] = f64::NAN;
        let s = forest.score(&r);
        assert!(s.is_finite());
        assert!(forest.outstanding(&r, 3.0).is_empty());
    }
}
