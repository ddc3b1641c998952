//! The spool against its promises: nothing lost across restarts and `kill -9`, damage
//! skipped and counted, a full spool dropping exactly what it counts.
//!
//! The agent is a binary crate, so the module is compiled into this test directly.

use streamswarm_agent::spool;

use proptest::prelude::*;
use spool::{Batch, FsyncPolicy, Spool, SpoolConfig};
use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn config(fsync: FsyncPolicy) -> SpoolConfig {
    SpoolConfig {
        max_bytes: 1 << 20,
        segment_bytes: 4096,
        fsync,
    }
}

/// Line `i`, all of the same length so tests can compute what fits a segment.
fn line(i: usize) -> String {
    format!("ping,agent=a rtt_avg_ms={i:08}.5 {i:019}")
}

/// On-disk size of a record of [`line`]: the record header is 20 bytes.
fn record_len() -> u64 {
    20 + line(0).len() as u64
}

fn append_range(spool: &mut Spool, range: std::ops::Range<usize>) {
    for i in range {
        spool.append(line(i).as_bytes()).unwrap();
    }
}

fn lines_of(batch: &Batch) -> Vec<String> {
    String::from_utf8(batch.lines().to_vec())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Reads and acknowledges everything pending.
fn drain(spool: &mut Spool) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(batch) = spool.next_batch(37, 1 << 20).unwrap() {
        let lines = lines_of(&batch);
        assert_eq!(spool.ack(batch.cursor()).unwrap(), lines.len() as u64);
        out.extend(lines);
    }
    out
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(line).collect()
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

fn bytes_on_disk(dir: &Path) -> u64 {
    segment_files(dir)
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

#[test]
fn append_read_ack_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(report.records_pending, 0);
    append_range(&mut spool, 0..500);
    let stats = spool.stats();
    assert_eq!(stats.records_pending, 500);
    assert_eq!(stats.appended, 500);
    assert!(stats.oldest_pending_age.is_some());
    assert_eq!(stats.bytes_on_disk, bytes_on_disk(dir.path()));

    // Reading without acknowledging returns the same lines again: that is the retry.
    let first = spool.next_batch(10, 1 << 20).unwrap().unwrap();
    let again = spool.next_batch(10, 1 << 20).unwrap().unwrap();
    assert_eq!(first.lines(), again.lines());
    assert_eq!(lines_of(&first), expected(0..10));

    assert_eq!(drain(&mut spool), expected(0..500));
    assert!(spool.next_batch(10, 1 << 20).unwrap().is_none());
    let stats = spool.stats();
    assert_eq!((stats.records_pending, stats.acked), (0, 500));
    assert_eq!(stats.oldest_pending_age, None);
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "only the active segment is left"
    );
}

#[test]
fn batches_respect_line_and_byte_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    append_range(&mut spool, 0..100);
    let line_bytes = line(0).len() + 1;
    let batch = spool.next_batch(1000, 3 * line_bytes).unwrap().unwrap();
    assert_eq!(batch.len(), 3);
    let batch = spool.next_batch(7, 1 << 20).unwrap().unwrap();
    assert_eq!(batch.len(), 7);
    // A single line larger than max_bytes still comes, alone.
    let batch = spool.next_batch(7, 1).unwrap().unwrap();
    assert_eq!(batch.len(), 1);
    // Batches span segment boundaries.
    let batch = spool.next_batch(100, 1 << 20).unwrap().unwrap();
    assert_eq!(lines_of(&batch), expected(0..100));
}

#[test]
fn refuses_what_is_not_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert!(spool.append(b"").is_err());
    assert!(spool.append(b"a v=1 1\nb v=2 2").is_err());
    assert!(spool.append(&vec![b'x'; 5000]).is_err());
    spool.append(b"a v=1 1\n").unwrap();
    assert_eq!(drain(&mut spool), vec!["a v=1 1"]);
}

#[test]
fn restart_without_ack_replays_everything() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
        append_range(&mut spool, 0..300);
        // Read but never acknowledged: the database may not have it.
        spool.next_batch(100, 1 << 20).unwrap().unwrap();
    }
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert_eq!(report.records_pending, 300);
    assert_eq!(report.corrupt_records_skipped, 0);
    assert_eq!(drain(&mut spool), expected(0..300));
}

#[test]
fn restart_after_ack_does_not_replay() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
        append_range(&mut spool, 0..300);
        let batch = spool.next_batch(150, 1 << 20).unwrap().unwrap();
        assert_eq!(spool.ack(batch.cursor()).unwrap(), 150);
    }
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(report.records_pending, 150);
    append_range(&mut spool, 300..310);
    assert_eq!(drain(&mut spool), expected(150..310));
    drop(spool);
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(report.records_pending, 0);
    assert_eq!(drain(&mut spool), Vec::<String>::new());
}

#[test]
fn a_segment_is_deleted_only_after_all_its_records_are_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    let per_segment = ((4096 - 12) / record_len()) as usize;
    append_range(&mut spool, 0..per_segment * 3);
    assert_eq!(segment_files(dir.path()).len(), 3);
    let first = segment_files(dir.path())[0].clone();

    let batch = spool.next_batch(per_segment - 1, 1 << 20).unwrap().unwrap();
    spool.ack(batch.cursor()).unwrap();
    assert!(
        first.exists(),
        "one record of the first segment is unacknowledged"
    );
    // Reopening keeps it too.
    drop(spool);
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert_eq!(report.records_pending as usize, per_segment * 2 + 1);
    assert!(first.exists());

    let batch = spool.next_batch(1, 1 << 20).unwrap().unwrap();
    assert_eq!(lines_of(&batch), vec![line(per_segment - 1)]);
    spool.ack(batch.cursor()).unwrap();
    assert!(!first.exists());
    assert_eq!(segment_files(dir.path()).len(), 2);
    assert_eq!(spool.stats().bytes_on_disk, bytes_on_disk(dir.path()));
}

#[test]
fn a_full_spool_drops_the_oldest_and_counts_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 4 * 4096,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    };
    let (mut spool, _) = Spool::open(dir.path(), cfg).unwrap();
    let produced = 2000;
    append_range(&mut spool, 0..produced);
    let stats = spool.stats();
    assert!(stats.dropped_spool_full > 0);
    assert!(stats.bytes_on_disk <= cfg.max_bytes);
    assert_eq!(stats.bytes_on_disk, bytes_on_disk(dir.path()));
    assert_eq!(
        stats.dropped_spool_full + stats.records_pending,
        produced as u64
    );
    // What survives is the newest data, complete and in order.
    let dropped = stats.dropped_spool_full as usize;
    assert_eq!(drain(&mut spool), expected(dropped..produced));
    let stats = spool.stats();
    assert_eq!(stats.acked + stats.dropped_spool_full, produced as u64);
}

#[test]
fn nothing_in_flight_is_dropped_and_the_cap_applies_again_after_ack_or_release() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 2 * 4096,
        segment_bytes: 4096,
        fsync: FsyncPolicy::Never,
    };
    let (mut spool, _) = Spool::open(dir.path(), cfg).unwrap();
    append_range(&mut spool, 0..10);
    // The store may be taking this batch right now: its records must not be dropped
    // (and counted lost) under it, even as the spool goes past its cap.
    let in_flight = spool.next_batch(10, 1 << 20).unwrap().unwrap();
    append_range(&mut spool, 10..500);
    assert_eq!(spool.stats().dropped_spool_full, 0);
    assert!(spool.stats().bytes_on_disk > cfg.max_bytes);
    assert_eq!(spool.ack(in_flight.cursor()).unwrap(), 10);
    assert!(spool.stats().bytes_on_disk <= cfg.max_bytes);
    let dropped_after_ack = spool.stats().dropped_spool_full;
    assert!(dropped_after_ack > 0);

    // A failed send releases its batch: nothing acknowledged, the cap applies again.
    let _failed = spool.next_batch(10, 1 << 20).unwrap().unwrap();
    append_range(&mut spool, 500..1000);
    assert_eq!(spool.stats().dropped_spool_full, dropped_after_ack);
    spool.release().unwrap();
    assert!(spool.stats().bytes_on_disk <= cfg.max_bytes);

    let delivered = 10 + drain(&mut spool).len() as u64;
    let stats = spool.stats();
    assert_eq!(stats.acked, delivered);
    assert_eq!(
        delivered + stats.dropped_spool_full,
        1000,
        "every record delivered or counted"
    );
}

#[test]
fn a_flipped_byte_loses_exactly_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        segment_bytes: 64 * 1024,
        ..config(FsyncPolicy::Always)
    };
    {
        let (mut spool, _) = Spool::open(dir.path(), cfg).unwrap();
        append_range(&mut spool, 0..100);
    }
    let file = &segment_files(dir.path())[0];
    let mut bytes = std::fs::read(file).unwrap();
    let target = line(50);
    let at = bytes
        .windows(target.len())
        .position(|w| w == target.as_bytes())
        .unwrap();
    bytes[at + 10] ^= 0x01;
    std::fs::write(file, bytes).unwrap();

    let (spool, report) = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(report.corrupt_records_skipped, 1);
    assert_eq!(report.records_pending, 99);
    // A restart before the damage is passed does not count it again.
    drop(spool);
    let (mut spool, report) = Spool::open(dir.path(), cfg).unwrap();
    assert_eq!(report.corrupt_records_skipped, 0);
    assert_eq!(report.records_pending, 99);
    let delivered = drain(&mut spool);
    let mut want = expected(0..100);
    want.remove(50);
    assert_eq!(delivered, want);
    assert_eq!(
        spool.stats().corrupt_records,
        0,
        "reading it does not recount"
    );
}

#[test]
fn damage_that_appears_while_running_is_skipped_and_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    let per_segment = ((4096 - 12) / record_len()) as usize;
    append_range(&mut spool, 0..per_segment * 2);
    // Damage a record in the second segment, which the spool has not read yet.
    let file = &segment_files(dir.path())[1];
    let mut bytes = std::fs::read(file).unwrap();
    let victim = per_segment + 3;
    let at = bytes
        .windows(line(victim).len())
        .position(|w| w == line(victim).as_bytes())
        .unwrap();
    bytes[at + 5] ^= 0x20;
    std::fs::write(file, bytes).unwrap();

    let delivered = drain(&mut spool);
    let mut want = expected(0..per_segment * 2);
    want.remove(victim);
    assert_eq!(delivered, want);
    let stats = spool.stats();
    assert_eq!(stats.corrupt_records, 1);
    assert_eq!(stats.records_pending, 0);
    assert_eq!(stats.appended, stats.acked + stats.corrupt_records);
}

#[test]
fn a_torn_tail_is_end_of_data_and_appends_continue_after_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
        append_range(&mut spool, 0..10);
    }
    let file = segment_files(dir.path())[0].clone();
    let len = std::fs::metadata(&file).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert_eq!(report.corrupt_records_skipped, 0);
    assert_eq!(report.torn_tail_bytes, record_len() - 5);
    assert_eq!(report.records_pending, 9);
    append_range(&mut spool, 10..12);
    let mut want = expected(0..9);
    want.extend(expected(10..12));
    assert_eq!(drain(&mut spool), want);
}

#[test]
fn a_lowered_cap_drops_at_open_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
        append_range(&mut spool, 0..1000);
    }
    let small = SpoolConfig {
        max_bytes: 3 * 4096,
        ..config(FsyncPolicy::Never)
    };
    let (mut spool, report) = Spool::open(dir.path(), small).unwrap();
    assert!(report.dropped_spool_full > 0);
    assert!(report.bytes <= small.max_bytes);
    assert_eq!(report.dropped_spool_full + report.records_pending, 1000);
    let dropped = report.dropped_spool_full as usize;
    assert_eq!(drain(&mut spool), expected(dropped..1000));
}

#[test]
fn a_segment_with_a_damaged_header_counts_once_and_the_rest_is_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let per_segment = ((4096 - 12) / record_len()) as usize;
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
        append_range(&mut spool, 0..per_segment * 3);
    }
    let second = segment_files(dir.path())[1].clone();
    let mut bytes = std::fs::read(&second).unwrap();
    bytes[0] = b'X';
    std::fs::write(&second, bytes).unwrap();
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert_eq!(report.corrupt_records_skipped, 1);
    assert!(!second.exists());
    let mut want = expected(0..per_segment);
    want.extend(expected(per_segment * 2..per_segment * 3));
    assert_eq!(drain(&mut spool), want);
}

#[test]
fn a_crash_while_starting_a_segment_is_repaired() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
        append_range(&mut spool, 0..10);
    }
    // The next segment was created but its header never written.
    let next = dir.path().join(format!("{:020}.seg", 1));
    std::fs::write(&next, b"SSW").unwrap();
    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Never)).unwrap();
    assert_eq!(report.corrupt_records_skipped, 0);
    assert_eq!(report.torn_tail_bytes, 3);
    append_range(&mut spool, 10..20);
    assert_eq!(drain(&mut spool), expected(0..20));
}

#[test]
fn a_damaged_checkpoint_replays_rather_than_loses() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
        append_range(&mut spool, 0..20);
        let batch = spool.next_batch(5, 1 << 20).unwrap().unwrap();
        spool.ack(batch.cursor()).unwrap();
    }
    std::fs::write(dir.path().join("ack"), b"garbage").unwrap();
    let (mut spool, _) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(drain(&mut spool), expected(0..20));
}

// ---- kill -9 ----

const CHILD_DIR: &str = "STREAMSWARM_SPOOL_TEST_CHILD_DIR";
const CHILD_ACKS: &str = "STREAMSWARM_SPOOL_TEST_CHILD_ACKS";

/// Not a test of its own: the body of the child process of the `kill_9_*` tests, which
/// re-run this binary with `CHILD_DIR` set. It appends until killed and reports every
/// append that returned; with `CHILD_ACKS` it also reads and acknowledges small
/// batches, announcing each acknowledgement before and confirming it after.
#[test]
fn kill_9_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let acks = std::env::var_os(CHILD_ACKS).is_some();
    let (mut spool, _) = Spool::open(dir, config(FsyncPolicy::Always)).unwrap();
    let mut out = std::io::stdout().lock();
    let mut acked = 0;
    for i in 0.. {
        spool.append(line(i).as_bytes()).unwrap();
        writeln!(out, "appended {i}").unwrap();
        if acks && i % 3 == 2 {
            let batch = spool.next_batch(2, 1 << 20).unwrap().unwrap();
            writeln!(out, "acking {}", acked + batch.len()).unwrap();
            out.flush().unwrap();
            acked += spool.ack(batch.cursor()).unwrap() as usize;
            writeln!(out, "acked {acked}").unwrap();
        }
        out.flush().unwrap();
    }
}

/// What the child said before it was killed.
#[derive(Debug, Default)]
struct ChildReport {
    last_appended: Option<usize>,
    /// Records whose acknowledgement returned.
    acked: usize,
    /// Records whose acknowledgement had begun.
    acking: usize,
}

/// Runs the child writer and SIGKILLs it after about `appends` appends.
fn run_and_kill_child(dir: &Path, appends: usize, with_acks: bool) -> ChildReport {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "kill_9_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir)
        .stdout(Stdio::piped());
    if with_acks {
        command.env(CHILD_ACKS, "1");
    }
    let mut child = command.spawn().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let started = Instant::now();
    let mut report = ChildReport::default();
    let mut killed = false;
    // Everything the child wrote before it died is still in the pipe: read it all, so
    // the report covers the child's whole life, not just up to the kill decision.
    for text in stdout.lines() {
        let text = text.unwrap();
        let number = |prefix: &str| {
            text.strip_prefix(prefix)
                .map(|n| n.parse::<usize>().unwrap())
        };
        if let Some(n) = number("appended ") {
            report.last_appended = Some(n);
        } else if let Some(n) = number("acking ") {
            report.acking = n;
        } else if let Some(n) = number("acked ") {
            report.acked = n;
        }
        // Enough appends to roll and delete several segments, then kill mid-stream.
        let enough = report.last_appended.is_some_and(|n| n >= appends)
            || started.elapsed() > Duration::from_secs(30);
        if enough && !killed {
            child.kill().unwrap(); // SIGKILL on Unix.
            killed = true;
        }
    }
    if !killed {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    report
}

#[test]
fn kill_9_loses_no_appended_record() {
    let dir = tempfile::tempdir().unwrap();
    let child = run_and_kill_child(dir.path(), 400, false);
    let last = child.last_appended.expect("the child appended something");

    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(report.corrupt_records_skipped, 0);
    let delivered = drain(&mut spool);
    // Every confirmed append is there, in order; appends after the last confirmation
    // may or may not be.
    assert!(delivered.len() > last, "{} ≤ {last}", delivered.len());
    assert_eq!(delivered, expected(0..delivered.len()));
}

#[test]
fn kill_9_while_acknowledging_replays_exactly_the_unacknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let child = run_and_kill_child(dir.path(), 600, true);
    let last = child.last_appended.expect("the child appended something");
    assert!(child.acked > 0);

    let (mut spool, report) = Spool::open(dir.path(), config(FsyncPolicy::Always)).unwrap();
    assert_eq!(report.corrupt_records_skipped, 0);
    let delivered = drain(&mut spool);
    let first: usize = delivered[0].rsplit(' ').next().unwrap().parse().unwrap();
    // Resumes after the last acknowledgement that returned, at the latest after the
    // last one begun: nothing acknowledged comes back (the checkpoint is synced) and
    // nothing unacknowledged is missing.
    assert!(
        (child.acked..=child.acking).contains(&first),
        "resumed at {first}, acked {}..={}",
        child.acked,
        child.acking
    );
    assert!(first + delivered.len() > last);
    assert_eq!(delivered, expected(first..first + delivered.len()));
    // Fully acknowledged segments are gone.
    let per_segment = ((4096 - 12) / record_len()) as usize;
    assert!(segment_files(dir.path()).len() <= delivered.len().div_ceil(per_segment) + 1);
}

// ---- model-based property test ----

#[derive(Debug, Clone)]
enum Op {
    /// Append lines of these lengths.
    Append(Vec<usize>),
    /// Read a batch and acknowledge the first `accept` lines of it (the database
    /// accepted a prefix; 0 = failed request).
    Send { max_lines: usize, accept: usize },
    /// Close the spool and open it again.
    Reopen,
    /// Forget the spool without closing it (no sync, no destructor) and open it again:
    /// what a crash leaves, since appends keep nothing in the process.
    Crash,
    /// Flip a byte of a pending record on disk (picked by index, modulo), then reopen.
    Damage(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(1usize..200, 1..20).prop_map(Op::Append),
        4 => (1usize..30, 0usize..30).prop_map(|(max_lines, accept)| Op::Send { max_lines, accept }),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => any::<usize>().prop_map(Op::Damage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn behaves_like_a_queue_that_drops_oldest_when_full(
        ops in prop::collection::vec(op(), 1..60),
        segment_bytes in prop_oneof![Just(256u64), Just(1024u64)],
        segments_cap in prop_oneof![Just(2u64), Just(4u64), Just(1000u64)],
        fsync in prop_oneof![Just(FsyncPolicy::Never), Just(FsyncPolicy::EveryN(7))],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SpoolConfig {
            max_bytes: segment_bytes * segments_cap,
            segment_bytes,
            fsync,
        };
        let (mut spool, _) = Spool::open(dir.path(), cfg).unwrap();
        let mut model: VecDeque<String> = VecDeque::new();
        let mut next_id = 0usize;
        // Drops seen so far, as counted by the current `Spool` value.
        let mut dropped_seen = 0;
        for op in ops {
            match op {
                Op::Append(lengths) => {
                    for len in lengths {
                        let text = format!("{next_id:06}{}", "x".repeat(len));
                        next_id += 1;
                        spool.append(text.as_bytes()).unwrap();
                        model.push_back(text);
                    }
                }
                Op::Send { max_lines, accept } => {
                    match spool.next_batch(max_lines, 1 << 20).unwrap() {
                        None => prop_assert!(model.is_empty()),
                        Some(batch) => {
                            let lines = lines_of(&batch);
                            prop_assert!(lines.len() <= max_lines);
                            let front: Vec<String> = model.iter().take(lines.len()).cloned().collect();
                            prop_assert_eq!(&lines, &front);
                            let accept = accept.min(lines.len());
                            let accepted_bytes: usize = lines[..accept].iter().map(|l| l.len() + 1).sum();
                            if let Some(cursor) = batch.cursor_before(accepted_bytes) {
                                prop_assert_eq!(spool.ack(cursor).unwrap(), accept as u64);
                            } else {
                                // Nothing stored: the sender gives the batch back.
                                prop_assert_eq!(accept, 0);
                                spool.release().unwrap();
                            }
                            model.drain(..accept);
                        }
                    }
                }
                Op::Reopen | Op::Crash => {
                    if matches!(op, Op::Crash) {
                        std::mem::forget(spool);
                    } else {
                        drop(spool);
                    }
                    let (reopened, report) = Spool::open(dir.path(), cfg).unwrap();
                    spool = reopened;
                    prop_assert_eq!(report.corrupt_records_skipped, 0);
                    dropped_seen = 0;
                }
                Op::Damage(pick) => {
                    if model.is_empty() {
                        continue;
                    }
                    let victim = model.remove(pick % model.len()).unwrap();
                    let damaged = segment_files(dir.path()).into_iter().find_map(|file| {
                        let mut bytes = std::fs::read(&file).unwrap();
                        let at = bytes.windows(victim.len()).position(|w| w == victim.as_bytes())?;
                        bytes[at + victim.len() - 1] ^= 0x01;
                        std::fs::write(&file, bytes).unwrap();
                        Some(())
                    });
                    prop_assert!(damaged.is_some(), "{} is on disk", victim);
                    drop(spool);
                    let (reopened, report) = Spool::open(dir.path(), cfg).unwrap();
                    spool = reopened;
                    prop_assert_eq!(report.corrupt_records_skipped, 1);
                    dropped_seen = 0;
                }
            }
            let stats = spool.stats();
            // Drops take the oldest records, and nothing else is lost.
            let dropped_now = stats.dropped_spool_full - dropped_seen;
            dropped_seen = stats.dropped_spool_full;
            prop_assert!(dropped_now as usize <= model.len());
            model.drain(..dropped_now as usize);
            if segments_cap == 1000 {
                prop_assert_eq!(stats.dropped_spool_full, 0);
            }
            prop_assert_eq!(stats.records_pending, model.len() as u64);
            prop_assert!(stats.bytes_on_disk <= cfg.max_bytes);
            prop_assert_eq!(stats.bytes_on_disk, bytes_on_disk(dir.path()));
        }
        let rest: Vec<String> = drain(&mut spool);
        prop_assert_eq!(rest, Vec::from(model));
    }
}
