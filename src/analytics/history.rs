//! The minutes the refits learn from, kept between refits so that a refit reads from
//! the time-series store only what is new. A test's first refit (after a start or a
//! takeover) reads its whole history — `history_days` of 1-minute aggregates, which the
//! embedded store answers from its 1-minute rollups; every later refit reads only the
//! minutes since the previous read (the recent window, with the points that arrived
//! late inside it) and takes the older minutes from here.
//!
//! Kept compact, 16 bytes per series and minute (latency as `f32`: a microsecond at a
//! 100 ms RTT is 1e-5 of it, well inside `f32`'s 7 digits): about 320 KB per series at
//! 14 days of 1-minute data. Every history handed out goes through the same packing, so
//! a first refit and the later ones see identical values.

use super::engine::{Sample, SeriesKey};
use std::collections::{BTreeMap, VecDeque};

/// A test: (measurement, test id).
pub type TestKey = (&'static str, String);

/// The kept minutes of every test refitted lately.
#[derive(Debug, Default)]
pub struct History {
    tests: BTreeMap<TestKey, Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// The store was read up to here (exclusive, Unix seconds).
    read_to_s: i64,
    series: BTreeMap<SeriesKey, VecDeque<Packed>>,
}

/// One minute of one series.
#[derive(Debug, Clone, Copy)]
struct Packed {
    /// Unix minutes.
    minute: u32,
    /// NaN: no latency that minute.
    latency: f32,
    /// 0: no trials.
    trials: u32,
    failures: u32,
}

impl Packed {
    fn of(s: &Sample) -> Packed {
        let (trials, failures) = s.trials.unwrap_or((0, 0));
        Packed {
            minute: u32::try_from(s.time_s.div_euclid(60)).unwrap_or(u32::MAX),
            latency: s.latency.map_or(f32::NAN, |v| v as f32),
            trials: u32::try_from(trials).unwrap_or(u32::MAX),
            failures: u32::try_from(failures).unwrap_or(u32::MAX),
        }
    }

    fn sample(self) -> Sample {
        Sample {
            time_s: i64::from(self.minute) * 60,
            latency: (!self.latency.is_nan()).then_some(f64::from(self.latency)),
            trials: (self.trials > 0).then_some((u64::from(self.trials), u64::from(self.failures))),
        }
    }
}

impl History {
    /// Where the read for refitting `test` at `now_s` on the minutes from `start_s`
    /// begins: after what is kept, or at `start_s` when nothing usable is.
    pub fn read_from(&self, test: &TestKey, start_s: i64, now_s: i64) -> i64 {
        match self.tests.get(test) {
            Some(k) if k.read_to_s > start_s && k.read_to_s <= now_s => k.read_to_s,
            _ => start_s,
        }
    }

    /// Takes in `read` (the minutes `[from, now_s)` of the test's series, `from` as
    /// [`History::read_from`] said), forgets the minutes before `start_s`, and returns
    /// every kept series' minutes in `[start_s, now_s)`.
    pub fn update(
        &mut self,
        test: &TestKey,
        start_s: i64,
        from: i64,
        now_s: i64,
        read: BTreeMap<SeriesKey, Vec<Sample>>,
    ) -> BTreeMap<SeriesKey, Vec<Sample>> {
        let kept = self.tests.entry(test.clone()).or_default();
        if from <= start_s {
            kept.series.clear();
        }
        kept.read_to_s = now_s;
        for (key, samples) in read {
            let series = kept.series.entry(key).or_default();
            series.extend(
                samples
                    .iter()
                    .filter(|s| s.time_s >= from && s.time_s < now_s)
                    .map(Packed::of),
            );
        }
        let first = u32::try_from(start_s.div_euclid(60)).unwrap_or(0);
        kept.series.retain(|_, minutes| {
            while minutes.front().is_some_and(|p| p.minute < first) {
                minutes.pop_front();
            }
            !minutes.is_empty()
        });
        kept.series
            .iter()
            .map(|(k, minutes)| (k.clone(), minutes.iter().map(|p| p.sample()).collect()))
            .collect()
    }

    /// Forgets everything (a takeover: what was read may be stale).
    pub fn clear(&mut self) {
        self.tests.clear();
    }

    /// Forgets the tests not refitted since `before_s` (deleted tests, say).
    pub fn forget_before(&mut self, before_s: i64) {
        self.tests.retain(|_, k| k.read_to_s >= before_s);
    }

    /// Minutes kept, over all series.
    pub fn minutes(&self) -> usize {
        self.tests
            .values()
            .flat_map(|k| k.series.values())
            .map(VecDeque::len)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(agent: &str) -> SeriesKey {
        SeriesKey {
            measurement: "ping",
            agent: agent.into(),
            test: "7".into(),
            target: "10.0.0.1".into(),
        }
    }

    fn minutes(agent: &str, from_min: i64, to_min: i64) -> BTreeMap<SeriesKey, Vec<Sample>> {
        let samples = (from_min..to_min)
            .map(|m| Sample {
                time_s: m * 60,
                // Values an f32 holds exactly, so the round trip compares equal.
                latency: (m % 7 != 0).then_some(10.0 + (m % 64) as f64 * 0.125),
                trials: (m % 5 != 0).then_some((30, (m % 3) as u64)),
            })
            .collect();
        BTreeMap::from([(key(agent), samples)])
    }

    #[test]
    fn a_later_refit_reads_only_the_minutes_since_the_last_read() {
        let test: TestKey = ("ping", "7".into());
        let mut h = History::default();
        // First refit at minute 1000 on minutes 0..1000: everything is read.
        assert_eq!(h.read_from(&test, 0, 1000 * 60), 0);
        let first = h.update(&test, 0, 0, 1000 * 60, minutes("1", 0, 1000));
        assert_eq!(first[&key("1")], minutes("1", 0, 1000)[&key("1")]);
        // An hour later, on minutes 60..1060: only 1000..1060 is read; the history is
        // the same as reading it all again.
        let from = h.read_from(&test, 60 * 60, 1060 * 60);
        assert_eq!(from, 1000 * 60);
        let second = h.update(&test, 60 * 60, from, 1060 * 60, minutes("1", 1000, 1060));
        assert_eq!(second[&key("1")], minutes("1", 60, 1060)[&key("1")]);
        assert_eq!(h.minutes(), 1000);
        // A series that appears later starts with what the read brought.
        let from = h.read_from(&test, 120 * 60, 1120 * 60);
        let mut read = minutes("1", 1060, 1120);
        read.extend(minutes("2", 1100, 1120));
        let third = h.update(&test, 120 * 60, from, 1120 * 60, read);
        assert_eq!(third[&key("2")].len(), 20);
        assert_eq!(third[&key("1")], minutes("1", 120, 1120)[&key("1")]);
    }

    #[test]
    fn what_is_kept_is_not_used_past_a_gap_or_after_clearing() {
        let test: TestKey = ("ping", "7".into());
        let mut h = History::default();
        h.update(&test, 0, 0, 1000 * 60, minutes("1", 0, 1000));
        // Kept up to minute 1000, but the history now starts after it: read everything.
        assert_eq!(h.read_from(&test, 2000 * 60, 3000 * 60), 2000 * 60);
        // A clock that went back: read everything.
        assert_eq!(h.read_from(&test, 0, 900 * 60), 0);
        h.forget_before(1000 * 60);
        assert_eq!(h.minutes(), 1000);
        h.forget_before(1001 * 60);
        assert_eq!(h.minutes(), 0);
        h.update(&test, 0, 0, 1000 * 60, minutes("1", 0, 1000));
        h.clear();
        assert_eq!(h.read_from(&test, 0, 2000 * 60), 0);
    }
}
