//! When one test runs: pure arithmetic over times, no clock reads and no I/O.
//!
//! Slot `k` of a recurring test is at `anchor + k·interval + jitter`, where the anchor is
//! the test's `start_at_ms` or, without one, the Unix epoch (so every agent's grid for an
//! interval lines up on the wall clock, as SmokePing's do) and the jitter is a fixed
//! offset per (agent, test) ([`jitter`]). A [`Plan`] reads the wall clock once, when it
//! is made (the caller passes that reading with the monotonic instant taken at the same
//! moment); from then on every slot is an exact integer-nanosecond offset from that
//! monotonic instant. Slot `k` is computed from the anchor, never from the previous run,
//! so a schedule cannot drift however long it runs and however long its runs take.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use streamswarm_schema::test_spec::Schedule;
use tokio::time::Instant;

const NANOS_PER_MS: i128 = 1_000_000;

/// The per-(agent, test) offset in `[0, jitter_seconds)` added to every slot, at
/// millisecond resolution. Deterministic: the same agent gives the same test the same
/// offset in every process and version (a fixed mix, not `std`'s hasher), and different
/// agents spread over the range, so a fleet does not hit a target at the same instant.
pub fn jitter(agent_id: i64, test_id: i64, jitter_seconds: u32) -> Duration {
    if jitter_seconds == 0 {
        return Duration::ZERO;
    }
    let hash = splitmix64(splitmix64(agent_id as u64) ^ (test_id as u64));
    let span_ms = u64::from(jitter_seconds) * 1000;
    Duration::from_millis(hash % span_ms)
}

/// SplitMix64's finaliser (Steele, Lea, Flood 2014): a well-mixed 64-bit hash of a
/// 64-bit value.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One scheduled run: its index on the test's grid and its monotonic time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    pub k: u64,
    pub at: Instant,
}

/// The run times of one test, fixed when the test is assigned (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The monotonic instant at which the wall clock read `origin_wall_ns`.
    origin: Instant,
    origin_wall_ns: i128,
    /// Wall-clock time of slot 0 (anchor + jitter), ns since the Unix epoch. For an
    /// aligned recurring test slot 0 is at the epoch, so `k` counts intervals since 1970.
    first_ns: i128,
    interval_ns: i128,
    /// No run starts at or after this wall-clock time.
    end_ns: Option<i128>,
    one_shot: bool,
}

impl Plan {
    /// `wall_now` and `mono_now` must be read together; they tie the schedule's
    /// wall-clock times to the monotonic clock once.
    pub fn new(
        schedule: &Schedule,
        jitter: Duration,
        wall_now: SystemTime,
        mono_now: Instant,
    ) -> Plan {
        let origin_wall_ns = wall_ns(wall_now);
        // Validation keeps intervals at ≥ 1 s; a zero would make every slot the same.
        let interval_ns = i128::from(schedule.interval_seconds.max(1)) * 1_000 * NANOS_PER_MS;
        let jitter_ns = (jitter.as_nanos() as i128) % interval_ns;
        let start_ns = schedule.start_at_ms.map(|ms| i128::from(ms) * NANOS_PER_MS);
        let first_ns = match (schedule.one_shot, start_ns) {
            (_, Some(start)) => start + jitter_ns,
            // A one-shot test without a start runs as soon as it is assigned.
            (true, None) => origin_wall_ns,
            (false, None) => jitter_ns,
        };
        Plan {
            origin: mono_now,
            origin_wall_ns,
            first_ns,
            interval_ns,
            end_ns: schedule.end_at_ms.map(|ms| i128::from(ms) * NANOS_PER_MS),
            one_shot: schedule.one_shot,
        }
    }

    pub fn is_one_shot(&self) -> bool {
        self.one_shot
    }

    /// The wall-clock time of slot `k` in ns since the epoch (for a one-shot test, its
    /// nominal time, which may have passed when it was assigned).
    pub fn slot_wall_ns(&self, k: u64) -> i128 {
        self.first_ns + i128::from(k) * self.interval_ns
    }

    /// The monotonic instant of wall-clock time `ns`; `None` when it falls before what
    /// the monotonic clock can represent.
    pub fn instant_of(&self, ns: i128) -> Option<Instant> {
        let offset = ns - self.origin_wall_ns;
        if offset >= 0 {
            self.origin
                .checked_add(Duration::from_nanos(u64::try_from(offset).ok()?))
        } else {
            self.origin
                .checked_sub(Duration::from_nanos(u64::try_from(-offset).ok()?))
        }
    }

    /// The wall-clock time (ns since the epoch) that monotonic `now` corresponds to.
    pub fn wall_ns_of(&self, now: Instant) -> i128 {
        if now >= self.origin {
            self.origin_wall_ns + now.duration_since(self.origin).as_nanos() as i128
        } else {
            self.origin_wall_ns - self.origin.duration_since(now).as_nanos() as i128
        }
    }

    /// The earliest slot with index ≥ `min_k` that is not before `now`, or `None` when
    /// the test has no more runs (the window ended, or a one-shot test's slot was taken).
    /// A one-shot test whose time passed before it was assigned is due at `now`.
    pub fn next_at_or_after(&self, now: Instant, min_k: u64) -> Option<Slot> {
        let now_ns = self.wall_ns_of(now);
        let (k, at_ns) = if self.one_shot {
            if min_k > 0 {
                return None;
            }
            (0, self.first_ns.max(now_ns))
        } else {
            // Smallest k with first + k·interval ≥ now.
            let behind = now_ns - self.first_ns;
            let k = if behind <= 0 {
                0
            } else {
                (behind + self.interval_ns - 1) / self.interval_ns
            };
            let k = u64::try_from(k).ok()?.max(min_k);
            (k, self.slot_wall_ns(k))
        };
        if self.end_ns.is_some_and(|end| at_ns >= end) {
            return None;
        }
        let at = if at_ns == now_ns {
            now
        } else {
            self.instant_of(at_ns)?
        };
        Some(Slot { k, at })
    }

    /// The first run due at or after `now`.
    pub fn next_run(&self, now: Instant) -> Option<Slot> {
        self.next_at_or_after(now, 0)
    }

    /// Whether a run may start at `now` (before the window's end).
    pub fn open_at(&self, now: Instant) -> bool {
        self.end_ns.is_none_or(|end| self.wall_ns_of(now) < end)
    }
}

fn wall_ns(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: i128 = 1_000_000_000;

    fn schedule(interval_seconds: u32) -> Schedule {
        Schedule::every(interval_seconds)
    }

    fn wall(ms: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    }

    /// The monotonic clock of these tests: any instant works, the plan only uses offsets.
    fn mono() -> Instant {
        Instant::now()
    }

    #[test]
    fn jitter_is_stable_within_range_and_spreads_agents() {
        for test in 1..50 {
            for agent in 1..50 {
                let j = jitter(agent, test, 30);
                assert!(j < Duration::from_secs(30), "{j:?}");
                assert_eq!(j, jitter(agent, test, 30));
            }
        }
        assert_eq!(jitter(7, 9, 0), Duration::ZERO);
        let spread: std::collections::BTreeSet<_> = (1..=100)
            .map(|agent| jitter(agent, 42, 60).as_secs())
            .collect();
        // 100 agents over 60 one-second buckets: a working hash fills most of them.
        assert!(spread.len() > 40, "offsets bunch up: {spread:?}");
    }

    #[test]
    fn splitmix64_matches_the_reference_generator() {
        // The first outputs of the reference SplitMix64 seeded with 0 (Vigna's C code):
        // each is the finaliser of the state advanced by the golden gamma.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn jitter_values_are_pinned() {
        // Computed once with this implementation; a change here moves every agent's
        // phase, which must be a deliberate decision.
        let pinned: Vec<u128> = [(1, 1), (1, 2), (2, 1), (123, 456)]
            .into_iter()
            .map(|(a, t)| jitter(a, t, 60).as_millis())
            .collect();
        assert_eq!(pinned, PINNED_JITTER_MS);
    }
    const PINNED_JITTER_MS: [u128; 4] = [28_606, 1_227, 49_605, 58_514];

    #[test]
    fn aligned_plans_made_at_different_times_share_one_grid() {
        let now = mono();
        let a = Plan::new(&schedule(60), Duration::ZERO, wall(1_700_000_000_123), now);
        let b = Plan::new(&schedule(60), Duration::ZERO, wall(1_700_000_037_999), now);
        let (sa, sb) = (a.next_run(now).unwrap(), b.next_run(now).unwrap());
        // Both next slots fall on a whole minute of the wall clock.
        assert_eq!(a.slot_wall_ns(sa.k) % (60 * SECOND), 0);
        assert_eq!(b.slot_wall_ns(sb.k) % (60 * SECOND), 0);
        assert_eq!(sa.k, sb.k);
        assert_eq!(a.slot_wall_ns(sa.k), 1_700_000_040 * SECOND);
        // The slot is 39.877 s after `now` for the first plan.
        assert_eq!(sa.at - now, Duration::from_millis(39_877));
    }

    #[test]
    fn jitter_shifts_every_slot_by_the_same_offset() {
        let now = mono();
        let j = Duration::from_millis(12_345);
        let plan = Plan::new(&schedule(60), j, wall(1_700_000_000_000), now);
        let slot = plan.next_run(now).unwrap();
        assert_eq!(
            plan.slot_wall_ns(slot.k) % (60 * SECOND),
            12_345 * 1_000_000
        );
    }

    #[test]
    fn slot_ten_thousand_is_exactly_ten_thousand_intervals_after_slot_zero() {
        let now = mono();
        let plan = Plan::new(
            &schedule(7),
            Duration::from_millis(1_234),
            wall(1_700_000_000_001),
            now,
        );
        let first = plan.next_run(now).unwrap();
        let far = plan.next_at_or_after(now, first.k + 10_000).unwrap();
        assert_eq!(far.k, first.k + 10_000);
        assert_eq!(far.at - first.at, Duration::from_secs(7 * 10_000));
        // And looking it up from a time just before it finds exactly that slot.
        let probe = far.at - Duration::from_nanos(1);
        assert_eq!(plan.next_run(probe).unwrap(), far);
    }

    #[test]
    fn start_anchors_the_grid_and_no_slot_precedes_it() {
        let now = mono();
        let mut s = schedule(10);
        s.start_at_ms = Some(1_700_000_100_500);
        let plan = Plan::new(&s, Duration::ZERO, wall(1_700_000_000_000), now);
        let first = plan.next_run(now).unwrap();
        assert_eq!(first.k, 0);
        assert_eq!(first.at - now, Duration::from_millis(100_500));
        // A start in the past: the grid is still anchored there.
        s.start_at_ms = Some(1_699_999_999_500);
        let plan = Plan::new(&s, Duration::ZERO, wall(1_700_000_000_000), now);
        let first = plan.next_run(now).unwrap();
        assert_eq!((first.k, first.at - now), (1, Duration::from_millis(9_500)));
    }

    #[test]
    fn end_is_exclusive() {
        let now = mono();
        let mut s = schedule(10);
        s.start_at_ms = Some(1_700_000_000_000);
        s.end_at_ms = Some(1_700_000_030_000);
        let plan = Plan::new(&s, Duration::ZERO, wall(1_700_000_000_000), now);
        let ks: Vec<u64> = std::iter::successors(plan.next_run(now), |slot| {
            plan.next_at_or_after(slot.at, slot.k + 1)
        })
        .map(|slot| slot.k)
        .collect();
        assert_eq!(ks, [0, 1, 2], "a slot at exactly end_at must not run");
        assert!(plan.open_at(now + Duration::from_millis(29_999)));
        assert!(!plan.open_at(now + Duration::from_secs(30)));
    }

    #[test]
    fn one_shot_has_one_slot_at_its_start_or_at_once() {
        let now = mono();
        let mut s = schedule(60);
        s.one_shot = true;
        let plan = Plan::new(&s, Duration::from_secs(5), wall(1_700_000_000_000), now);
        assert_eq!(plan.next_run(now), Some(Slot { k: 0, at: now }));
        assert_eq!(plan.next_at_or_after(now, 1), None);

        s.start_at_ms = Some(1_700_000_010_000);
        let plan = Plan::new(&s, Duration::ZERO, wall(1_700_000_000_000), now);
        assert_eq!(
            plan.next_run(now).unwrap().at - now,
            Duration::from_secs(10)
        );
        // Assigned after its start: due as soon as it is assigned.
        let late = now + Duration::from_secs(20);
        assert_eq!(plan.next_run(late), Some(Slot { k: 0, at: late }));
        // Assigned after its window closed: never.
        s.end_at_ms = Some(1_700_000_015_000);
        let plan = Plan::new(&s, Duration::ZERO, wall(1_700_000_000_000), now);
        assert_eq!(plan.next_run(late), None);
    }

    proptest! {
        #[test]
        fn next_run_is_the_first_grid_slot_not_before_now(
            interval in 1u32..=86_400,
            jitter_ms in 0u64..86_400_000,
            wall_ms in 0i64..4_000_000_000_000,
            start_offset_ms in proptest::option::of(-10_000_000i64..10_000_000),
            later_ms in 0u64..100_000_000,
        ) {
            let now = mono();
            let mut s = schedule(interval);
            s.start_at_ms = start_offset_ms.map(|o| (wall_ms + o).max(0));
            let interval_ns = i128::from(interval) * SECOND;
            let j = Duration::from_millis(jitter_ms % (u64::from(interval) * 1000));
            let plan = Plan::new(&s, j, wall(wall_ms), now);
            let at = now + Duration::from_millis(later_ms);
            let slot = plan.next_run(at).unwrap();
            prop_assert!(slot.at >= at);
            // On the grid: anchor + k·interval + jitter.
            let anchor = s.start_at_ms.map_or(0, |ms| i128::from(ms) * 1_000_000);
            let ns = plan.slot_wall_ns(slot.k);
            prop_assert_eq!(ns, anchor + i128::from(slot.k) * interval_ns + j.as_nanos() as i128);
            // The slot's instant is its wall time mapped exactly.
            prop_assert_eq!(plan.wall_ns_of(slot.at), ns);
            // No earlier slot was also at or after `at`.
            if slot.k > 0 {
                prop_assert!(plan.wall_ns_of(at) > ns - interval_ns);
            }
            // Never before the start.
            if let Some(start) = s.start_at_ms {
                prop_assert!(ns >= i128::from(start) * 1_000_000);
            }
        }
    }
}
