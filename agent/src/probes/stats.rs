//! Round-trip statistics of one ping run. Pure functions over the run's RTTs, so the
//! numbers a dashboard shows can be checked by hand (see the tests).
//!
//! Definitions, chosen to match what operators compare us with:
//! - **mdev** is iputils `ping`'s: `sqrt(mean(x²) − mean(x)²)`, the population standard
//!   deviation (not the sample one), so our figure and `ping`'s agree on the same RTTs.
//! - **jitter** is RFC 3550's interarrival jitter estimator (§6.4.1, `J += (|D| − J) / 16`)
//!   applied to successive round-trip times in *sending order*: `D` is the difference
//!   between the RTTs of two consecutive replied echo requests. RTT differences are the
//!   round-trip analogue of RFC 3550's transit-time differences (the unknown clock offset
//!   cancels in both). Sending order rather than arrival order keeps the value stable
//!   when replies are reordered; requests without a reply are skipped. `J` starts at 0,
//!   as in the RFC, so short runs under-estimate it: that is the definition, not a bug.
//! - **percentiles** are nearest-rank: the smallest RTT with at least `p %` of the RTTs
//!   at or below it (`sorted[ceil(p/100 · n) − 1]`). Every reported percentile is an RTT
//!   that was actually measured, which is what the schema promises.
//! - **loss** is `100 · (sent − received) / sent` where `received` counts distinct
//!   sequence numbers: duplicates never lower the loss.

/// Summary of the RTTs (milliseconds) of one run; `None` from [`summarize`] when no
/// reply arrived.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RttSummary {
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub mdev_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    /// `None` with fewer than two replies: there is no difference to average.
    pub jitter_ms: Option<f64>,
}

/// Summarises RTTs given in sending order (one per replied request, duplicates excluded).
pub fn summarize(rtts_ms: &[f64]) -> Option<RttSummary> {
    if rtts_ms.is_empty() {
        return None;
    }
    let mut sorted = rtts_ms.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = rtts_ms.len() as f64;
    let avg = rtts_ms.iter().sum::<f64>() / n;
    Some(RttSummary {
        min_ms: sorted[0],
        avg_ms: avg,
        max_ms: sorted[sorted.len() - 1],
        mdev_ms: mdev(rtts_ms),
        p50_ms: percentile_nearest_rank(&sorted, 50.0),
        p90_ms: percentile_nearest_rank(&sorted, 90.0),
        p99_ms: percentile_nearest_rank(&sorted, 99.0),
        jitter_ms: rfc3550_jitter(rtts_ms),
    })
}

/// iputils' mdev, `sqrt(mean(x²) − mean(x)²)`, computed in the algebraically equal
/// two-pass form `sqrt(mean((x − mean)²))`: the one-pass difference cancels badly in
/// floating point (constant RTTs of 0.1 ms gave 4e-9 instead of 0).
pub fn mdev(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt()
}

/// RFC 3550 §6.4.1 estimator over successive values: `J += (|D| − J) / 16`, `J₀ = 0`.
pub fn rfc3550_jitter(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let jitter = values
        .windows(2)
        .fold(0.0, |j, pair| j + ((pair[1] - pair[0]).abs() - j) / 16.0);
    Some(jitter)
}

/// Nearest-rank percentile of an ascending, non-empty slice (`p` in 0–100].
pub fn percentile_nearest_rank(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

/// `100 · (sent − received) / sent`; `None` when nothing was sent (the schema leaves the
/// field out rather than inventing a value).
pub fn loss_percent(sent: u32, received: u32) -> Option<f64> {
    (sent > 0).then(|| 100.0 * f64::from(sent.saturating_sub(received)) / f64::from(sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn summary_of_hand_computed_values() {
        // RTTs 1, 2, 3, 4: mean 2.5, mean of squares 30/4 = 7.5, mdev = sqrt(7.5 − 6.25).
        let s = summarize(&[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert_eq!((s.min_ms, s.max_ms), (1.0, 4.0));
        assert!(close(s.avg_ms, 2.5));
        assert!(close(s.mdev_ms, 1.25f64.sqrt()), "{}", s.mdev_ms);
        // Nearest rank, n = 4: p50 → rank 2, p90 → rank ceil(3.6) = 4, p99 → rank 4.
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms), (2.0, 4.0, 4.0));
        // Differences in sending order: |3−1| = 2, |2−3| = 1, |4−2| = 2.
        // J1 = 2/16 = 0.125; J2 = 0.125 + (1 − 0.125)/16 = 0.1796875;
        // J3 = 0.1796875 + (2 − 0.1796875)/16 = 0.293457031.
        assert!(close(s.jitter_ms.unwrap(), 0.293_457_031_25));
    }

    #[test]
    fn matches_iputils_mdev_on_its_own_example() {
        // iputils prints `rtt min/avg/max/mdev = 10.000/20.000/30.000/8.165` for 10, 20, 30.
        let m = mdev(&[10.0, 20.0, 30.0]);
        assert!((m - 8.165).abs() < 5e-4, "{m}");
    }

    #[test]
    fn one_reply_has_no_jitter_and_every_percentile_is_that_reply() {
        let s = summarize(&[7.5]).unwrap();
        assert_eq!(s.jitter_ms, None);
        assert_eq!(s.mdev_ms, 0.0);
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms), (7.5, 7.5, 7.5));
    }

    #[test]
    fn constant_rtts_have_zero_spread() {
        // The mean of fifty 0.1s is not exactly 0.1 in binary, hence "below 1e-15".
        let s = summarize(&[0.1; 50]).unwrap();
        assert!(s.mdev_ms < 1e-15, "{}", s.mdev_ms);
        assert_eq!(s.jitter_ms, Some(0.0));
    }

    #[test]
    fn nearest_rank_percentiles_of_one_to_hundred() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&sorted, 50.0), 50.0);
        assert_eq!(percentile_nearest_rank(&sorted, 90.0), 90.0);
        assert_eq!(percentile_nearest_rank(&sorted, 99.0), 99.0);
        // n = 10: p99 → rank ceil(9.9) = 10, p50 → rank 5.
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_nearest_rank(&ten, 99.0), 10.0);
        assert_eq!(percentile_nearest_rank(&ten, 50.0), 5.0);
    }

    #[test]
    fn jitter_of_a_step_converges_towards_the_step() {
        // A single step of 16 ms then flat: J1 = 1, then J decays by 15/16 per sample.
        let j = rfc3550_jitter(&[0.0, 16.0, 16.0]).unwrap();
        assert!(close(j, 15.0 / 16.0), "{j}");
    }

    #[test]
    fn loss_counts_distinct_replies_and_is_absent_without_sends() {
        assert_eq!(loss_percent(50, 45), Some(10.0));
        assert_eq!(loss_percent(5, 0), Some(100.0));
        assert_eq!(loss_percent(5, 5), Some(0.0));
        assert_eq!(loss_percent(0, 0), None);
        assert_eq!(summarize(&[]), None);
    }
}
