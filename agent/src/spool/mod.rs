//! The agent's on-disk spool: every encoded line goes here first, and the writer sends
//! from here, so an InfluxDB outage, a restart or a `kill -9` loses nothing; only a full
//! spool drops data, oldest first, and counts exactly what it dropped.
//!
//! **Everything here is synchronous file I/O** with no async runtime: the agent calls it
//! from `spawn_blocking` (one [`Spool`] behind a mutex), and tests drive it directly.
//!
//! # On-disk format
//!
//! A spool is a directory of segment files and one checkpoint:
//!
//! - `00000000000000000042.seg` — a segment, named by a sequence number that only
//!   grows. It starts with a 12-byte header, `SSWSPOOL` and the format version (u32
//!   little-endian, now 1), followed by records (layout in [`record`]: per-record magic,
//!   length, append time, CRC-32, one line of line protocol without its `\n`). New
//!   records go to the newest segment; at [`SpoolConfig::segment_bytes`] it is closed
//!   and a new one started.
//! - `ack` — where reading resumes: segment number and byte offset of the first record
//!   not yet acknowledged, the damaged regions already counted, and a CRC. Replaced
//!   atomically (write `ack.tmp`, rename).
//!
//! # Delivery
//!
//! [`Spool::next_batch`] returns lines from the oldest unacknowledged record on, without
//! consuming them; [`Spool::ack`] with the batch's [`Cursor`] marks them done once the
//! database has accepted them (or refused them for good — the writer counts those).
//! Until then the same lines come back from `next_batch`: that is the retry. When only
//! a prefix was accepted (`SendReport::unsent = Some(Unsent { from, .. })`), acknowledge
//! [`Batch::cursor_before`]`(from)`.
//!
//! Delivery is **at least once**. After a crash between a successful write and the ack
//! the batch is sent again; that is harmless because InfluxDB identifies a point by
//! measurement, tag set and timestamp, and writing an identical point again overwrites
//! it with the same values.
//!
//! # Durability by [`FsyncPolicy`]
//!
//! Each record reaches the kernel with one `write` before `append` returns — there is no
//! buffer in the process — so **a crash of the agent (`kill -9`, panic, OOM kill) never
//! loses an appended record, whatever the policy**. The policy decides what survives a
//! power cut or kernel crash:
//!
//! | policy | power cut loses | cost |
//! |---|---|---|
//! | `Always` | nothing `append` returned for; acks are durable too | one `fdatasync` per `append`/`append_lines` call |
//! | `EveryN(n)` | at most the last `n` records | one sync per `n` records |
//! | `Interval(d)` | the records since the last sync, which comes with the first append (or [`Spool::sync`] call) `d` after the previous one: call `sync` on a `d` timer to bound it by `d` | one sync per `d` |
//! | `Never` | what the kernel had not written back (Linux: typically ≤ 30 s) | none |
//!
//! With any policy but `Never`, segment rolls and checkpoints are synced (file and
//! directory): after a power cut reading resumes exactly after the last
//! acknowledgement. Under `Never` it may resume earlier (duplicates), never later.
//! Closing a spool (drop) syncs under every policy but `Never`.
//!
//! # Damage
//!
//! - A record whose magic, length or checksum is wrong is skipped and counted in
//!   `corrupt_records`; reading resumes at the next record start (found by its magic),
//!   so one flipped byte loses one record, and two damaged records count as two.
//! - The end of a segment that holds a record cut short, or only zeroes, is a torn
//!   write from a crash: end of data, truncated at open, not counted as corruption.
//! - A segment with a wrong header counts as one corrupt record and is removed.
//! - Damage is counted once, when found: at open (for everything not yet acknowledged)
//!   and, should the disk change under a running agent, when read. The checkpoint
//!   remembers counted regions, so a restart before they are passed does not count
//!   them again.
//!
//! # Full spool
//!
//! When an append would take the spool past [`SpoolConfig::max_bytes`], the oldest
//! segments are deleted, acknowledged or not, and every unacknowledged record in them is
//! counted in `dropped_spool_full`. The counters are exact: for one open spool,
//! pending at open + appended = acked + dropped_spool_full + corrupt + pending now
//! (each damaged region counts as one record: the scanner resumes at the next record
//! start, so a region is one record unless the damage hit a record's magic too).
//!
//! A batch handed out by [`Spool::next_batch`] is *in flight* until [`Spool::ack`] or
//! [`Spool::release`]: the store may be taking it right now, so nothing is dropped
//! meanwhile (dropping it would count as lost points the store then holds). The cap is
//! then exceeded by what is appended during that one request, and enforced again as
//! soon as the batch is acknowledged or released.
//!
//! Deletion is by whole segments, so the cap is approximate by at most one segment's
//! worth of records: after a drop the spool holds between `max_bytes - segment_bytes`
//! and `max_bytes`.

mod record;
mod segment;

use record::{Item, Scanner};
use segment::{Checkpoint, SEGMENT_HEADER_LEN};
use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The largest payload the reader believes a length field about. Fixed, not derived from
/// the configuration, so shrinking `segment_bytes` never makes old records unreadable.
const MAX_PAYLOAD: usize = 64 * 1024 * 1024;

/// When appended records are forced to stable storage; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FsyncPolicy {
    Always,
    EveryN(u32),
    Interval(Duration),
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpoolConfig {
    /// The most bytes the spool's segments may take on disk (default 256 MiB).
    pub max_bytes: u64,
    /// Size at which a segment is closed and a new one started (default 4 MiB). It is
    /// also the unit of deletion: a full spool drops a segment at a time.
    pub segment_bytes: u64,
    pub fsync: FsyncPolicy,
}

impl Default for SpoolConfig {
    /// 256 MiB in 4 MiB segments, synced every second: a power cut loses at most about a
    /// second of measurements, without a disk flush per point.
    fn default() -> Self {
        SpoolConfig {
            max_bytes: 256 * 1024 * 1024,
            segment_bytes: 4 * 1024 * 1024,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        }
    }
}

impl SpoolConfig {
    /// The longest line a record may hold with this configuration.
    pub fn max_line_bytes(&self) -> usize {
        let room = self
            .segment_bytes
            .saturating_sub((SEGMENT_HEADER_LEN + record::HEADER_LEN) as u64);
        usize::try_from(room).unwrap_or(usize::MAX).min(MAX_PAYLOAD)
    }

    fn validate(&self) -> Result<(), SpoolError> {
        let min_segment = (SEGMENT_HEADER_LEN + record::HEADER_LEN + 64) as u64;
        if self.segment_bytes < min_segment {
            return Err(SpoolError::Config(format!(
                "segment_bytes must be at least {min_segment}"
            )));
        }
        // Two segments at least, so dropping the oldest always makes room while the
        // newest keeps receiving.
        if self.max_bytes < 2 * self.segment_bytes {
            return Err(SpoolError::Config(
                "max_bytes must be at least twice segment_bytes".into(),
            ));
        }
        if matches!(self.fsync, FsyncPolicy::EveryN(0)) {
            return Err(SpoolError::Config("fsync EveryN needs n ≥ 1".into()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("spool {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("invalid spool configuration: {0}")]
    Config(String),
    #[error("a line of {len} bytes is longer than a spool record may hold ({max})")]
    LineTooLarge { len: usize, max: usize },
    #[error(
        "a spool record holds one line: empty lines and lines with a newline inside are refused"
    )]
    NotOneLine,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> SpoolError + '_ {
    move |source| SpoolError::Io {
        path: path.to_owned(),
        source,
    }
}

/// What [`Spool::open`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenReport {
    pub segments: usize,
    pub bytes: u64,
    /// Records waiting to be sent, from earlier runs.
    pub records_pending: u64,
    /// Damaged records skipped (not delivered) and counted.
    pub corrupt_records_skipped: u64,
    /// Bytes of interrupted writes cut off the end of segments.
    pub torn_tail_bytes: u64,
    /// Fully acknowledged segments whose deletion a crash had interrupted.
    pub acknowledged_segments_removed: usize,
    /// Records dropped at open because the spool was over a (lowered) `max_bytes`.
    pub dropped_spool_full: u64,
}

/// A copy of the spool's state and counters, for the agent's self-metrics. Counters
/// count since this process opened the spool (`corrupt_records` includes those found
/// at open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
    pub bytes_on_disk: u64,
    pub segments: usize,
    pub records_pending: u64,
    /// How long the oldest unacknowledged record has waited since it was appended.
    pub oldest_pending_age: Option<Duration>,
    pub appended: u64,
    pub acked: u64,
    pub dropped_spool_full: u64,
    pub corrupt_records: u64,
}

/// A place in the spool: byte `offset` of segment `seq`, before which segment `seq`
/// holds `index` valid records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    seq: u64,
    offset: u64,
    index: u64,
}

impl Position {
    fn start_of(seq: u64) -> Self {
        Position {
            seq,
            offset: SEGMENT_HEADER_LEN as u64,
            index: 0,
        }
    }

    fn key(&self) -> (u64, u64) {
        (self.seq, self.offset)
    }
}

/// How far a [`Batch`] (or a prefix of it) reaches; hand it to [`Spool::ack`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(Position);

/// Lines read from the spool, ready to send: each ends with `\n`.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    data: Vec<u8>,
    /// For each line: where it ends in `data`, and the spool position after it.
    ends: Vec<(usize, Position)>,
    oldest_ms: Option<u64>,
}

impl Batch {
    /// The lines, `\n`-terminated: the body of a write request.
    pub fn lines(&self) -> &[u8] {
        &self.data
    }

    /// Number of lines (= records).
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Acknowledges the whole batch.
    pub fn cursor(&self) -> Cursor {
        Cursor(self.ends.last().expect("a returned batch is never empty").1)
    }

    /// Acknowledges the lines that end at or before byte `from` (the writer's
    /// `Unsent::from`); `None` when that is no line at all.
    pub fn cursor_before(&self, from: usize) -> Option<Cursor> {
        let accepted = self.ends.partition_point(|(end, _)| *end <= from);
        accepted.checked_sub(1).map(|i| Cursor(self.ends[i].1))
    }

    /// When the first line was appended.
    pub fn oldest_append_time(&self) -> Option<SystemTime> {
        self.oldest_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
    }
}

/// One segment file, as far as the spool knows it.
#[derive(Debug)]
struct Segment {
    seq: u64,
    /// Valid bytes; appends go here.
    len: u64,
    /// Valid records.
    records: u64,
    /// Starts of damaged regions already counted, so reading them again does not count
    /// them twice.
    known_corrupt: Vec<u64>,
}

/// The unacknowledged bytes of the segment being read, so consecutive batches cost no
/// re-reads; for the newest segment only the appended tail is read. `bytes` are the
/// segment's bytes from offset `base` on; acknowledging trims the front, so a spool that
/// keeps up holds only what is in flight, not the whole segment.
#[derive(Debug, Default)]
struct Cache {
    seq: Option<u64>,
    base: u64,
    bytes: Vec<u8>,
}

impl Cache {
    /// Forgets the bytes before segment offset `to` (when this is segment `seq`).
    fn trim(&mut self, seq: u64, to: u64) {
        if self.seq != Some(seq) || to <= self.base {
            return;
        }
        let cut = ((to - self.base) as usize).min(self.bytes.len());
        self.bytes.drain(..cut);
        self.base += cut as u64;
        // Give memory back once most of it is unused.
        if self.bytes.capacity() > 2 * self.bytes.len() + 64 * 1024 {
            self.bytes.shrink_to_fit();
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    appended: u64,
    acked: u64,
    dropped_spool_full: u64,
    corrupt: u64,
}

/// A bounded, crash-safe queue of lines on disk. See the module doc.
///
/// Invariant: the first segment is the one holding the acknowledged position; every
/// segment before it was fully acknowledged (or dropped, counted) and deleted. A segment
/// is deleted only when every record in it was acknowledged or counted as dropped.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    config: SpoolConfig,
    segments: VecDeque<Segment>,
    /// Append handle of the last segment.
    active: File,
    ack: Position,
    total_bytes: u64,
    cache: Cache,
    counters: Counters,
    oldest_pending_ms: Option<u64>,
    /// A batch was handed out and is neither acknowledged nor released.
    in_flight: bool,
    unsynced: u64,
    last_sync: Instant,
    scratch: Vec<u8>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Spool {
    /// Opens (or creates) the spool in `dir`: removes segments a crash left behind after
    /// they were fully acknowledged, checks every record (counting and skipping damaged
    /// ones), cuts torn tails, and positions reading after the last acknowledgement.
    pub fn open(
        dir: impl AsRef<Path>,
        config: SpoolConfig,
    ) -> Result<(Spool, OpenReport), SpoolError> {
        config.validate()?;
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        let checkpoint = segment::read_checkpoint(&dir).map_err(io_err(&dir))?;
        let mut report = OpenReport::default();
        let mut seqs = segment::list_segments(&dir).map_err(io_err(&dir))?;
        if let Some(cp) = &checkpoint {
            for &seq in seqs.iter().filter(|&&seq| seq < cp.seq) {
                let path = segment::segment_path(&dir, seq);
                fs::remove_file(&path).map_err(io_err(&path))?;
                report.acknowledged_segments_removed += 1;
            }
            seqs.retain(|&seq| seq >= cp.seq);
        }

        let counted = checkpoint
            .as_ref()
            .map(|cp| cp.counted_corrupt.clone())
            .unwrap_or_default();
        let mut segments = VecDeque::new();
        let mut ack = None;
        let mut corrupt = 0;
        for (i, &seq) in seqs.iter().enumerate() {
            let is_last = i + 1 == seqs.len();
            let path = segment::segment_path(&dir, seq);
            let bytes = fs::read(&path).map_err(io_err(&path))?;
            if bytes.len() < SEGMENT_HEADER_LEN && is_last {
                // A crash while creating the newest segment: start it again.
                report.torn_tail_bytes += bytes.len() as u64;
                fs::remove_file(&path).map_err(io_err(&path))?;
                drop(segment::create_segment(&dir, seq).map_err(io_err(&path))?);
                segments.push_back(Segment {
                    seq,
                    len: SEGMENT_HEADER_LEN as u64,
                    records: 0,
                    known_corrupt: Vec::new(),
                });
                continue;
            }
            if bytes.len() < SEGMENT_HEADER_LEN
                || bytes[..SEGMENT_HEADER_LEN] != segment::segment_header()
            {
                tracing::error!(path = %path.display(), "spool segment has no valid header; its records are lost");
                corrupt += 1;
                fs::remove_file(&path).map_err(io_err(&path))?;
                continue;
            }
            let ack_offset = checkpoint
                .as_ref()
                .filter(|cp| cp.seq == seq)
                .map(|cp| cp.offset);
            let mut seg = Segment {
                seq,
                len: bytes.len() as u64,
                records: 0,
                known_corrupt: Vec::new(),
            };
            // Records before the checkpoint, and where reading resumes: the first
            // record or damage at or after it.
            let mut before_ack = 0;
            let mut resume = None;
            for item in Scanner::new(&bytes, SEGMENT_HEADER_LEN, MAX_PAYLOAD) {
                match item {
                    Item::Record { offset, .. } => {
                        seg.records += 1;
                        match ack_offset {
                            Some(a) if (offset as u64) < a => before_ack += 1,
                            _ => {
                                resume.get_or_insert(offset as u64);
                            }
                        }
                    }
                    Item::Corrupt { start, end } => {
                        seg.known_corrupt.push(start as u64);
                        // Damage before the checkpoint was in data already delivered.
                        if ack_offset.is_none_or(|a| start as u64 >= a) {
                            resume.get_or_insert(start as u64);
                            if !counted.contains(&(seq, start as u64)) {
                                corrupt += 1;
                                tracing::error!(path = %path.display(), start, end, "damaged spool record skipped; it is lost");
                            }
                        }
                    }
                    Item::TornTail { start } => {
                        report.torn_tail_bytes += (bytes.len() - start) as u64;
                        seg.len = start as u64;
                        let file = OpenOptions::new()
                            .write(true)
                            .open(&path)
                            .map_err(io_err(&path))?;
                        file.set_len(seg.len).map_err(io_err(&path))?;
                        tracing::warn!(path = %path.display(), bytes = bytes.len() - start, "cut an interrupted write off the end of a spool segment");
                    }
                }
            }
            if ack_offset.is_some() {
                ack = Some(Position {
                    seq,
                    offset: resume.unwrap_or(seg.len),
                    index: before_ack,
                });
            }
            segments.push_back(seg);
        }

        if segments.is_empty() {
            let seq = seqs
                .last()
                .map(|s| s + 1)
                .max(checkpoint.as_ref().map(|cp| cp.seq + 1))
                .unwrap_or(0);
            let path = segment::segment_path(&dir, seq);
            drop(segment::create_segment(&dir, seq).map_err(io_err(&path))?);
            segments.push_back(Segment {
                seq,
                len: SEGMENT_HEADER_LEN as u64,
                records: 0,
                known_corrupt: Vec::new(),
            });
        }
        let front = segments.front().expect("at least one segment").seq;
        // A checkpoint in a segment that is gone (dropped when full) means: from the
        // oldest segment left.
        let ack = ack
            .filter(|a| a.seq == front)
            .unwrap_or(Position::start_of(front));
        let last = segment::segment_path(&dir, segments.back().expect("one").seq);
        let active = OpenOptions::new()
            .append(true)
            .open(&last)
            .map_err(io_err(&last))?;
        let total_bytes = segments.iter().map(|s| s.len).sum();
        let mut spool = Spool {
            dir,
            config,
            segments,
            active,
            ack,
            total_bytes,
            cache: Cache::default(),
            counters: Counters {
                corrupt,
                ..Counters::default()
            },
            oldest_pending_ms: None,
            in_flight: false,
            unsynced: 0,
            last_sync: Instant::now(),
            scratch: Vec::new(),
        };
        while spool.total_bytes > spool.config.max_bytes && spool.segments.len() > 1 {
            spool.drop_oldest()?;
        }
        if corrupt > 0 {
            spool.write_checkpoint()?;
        }
        spool.refresh_oldest();
        report.segments = spool.segments.len();
        report.bytes = spool.total_bytes;
        report.records_pending = spool.pending();
        report.corrupt_records_skipped = corrupt;
        report.dropped_spool_full = spool.counters.dropped_spool_full;
        Ok((spool, report))
    }

    pub fn config(&self) -> &SpoolConfig {
        &self.config
    }

    /// Appends one line of line protocol (a trailing `\n` is allowed and not stored).
    pub fn append(&mut self, line: &[u8]) -> Result<(), SpoolError> {
        self.append_lines([line])
    }

    /// Appends several lines with one sync (under `Always`): cheaper per line than
    /// `append` for the points of one probe run. All lines are checked before any is
    /// written; an I/O error part-way leaves the lines before it appended (and
    /// counted), so a caller that retries them all at most duplicates some.
    pub fn append_lines<'a>(
        &mut self,
        lines: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), SpoolError> {
        let max = self.config.max_line_bytes();
        let lines: Vec<&[u8]> = lines
            .into_iter()
            .map(|line| {
                let line = line.strip_suffix(b"\n").unwrap_or(line);
                if line.is_empty() || line.contains(&b'\n') {
                    Err(SpoolError::NotOneLine)
                } else if line.len() > max {
                    Err(SpoolError::LineTooLarge {
                        len: line.len(),
                        max,
                    })
                } else {
                    Ok(line)
                }
            })
            .collect::<Result<_, _>>()?;
        let time_ms = now_ms();
        for line in &lines {
            self.append_record(line, time_ms)?;
        }
        self.after_append(lines.len() as u64)
    }

    fn append_record(&mut self, line: &[u8], time_ms: u64) -> Result<(), SpoolError> {
        let len = (record::HEADER_LEN + line.len()) as u64;
        let active = self.segments.back().expect("at least one segment");
        if active.len + len > self.config.segment_bytes && active.len > SEGMENT_HEADER_LEN as u64 {
            self.roll()?;
        }
        self.enforce_cap(len)?;
        self.scratch.clear();
        record::encode(&mut self.scratch, time_ms, line);
        let seg = self.segments.back_mut().expect("at least one segment");
        if let Err(e) = self.active.write_all(&self.scratch) {
            // Do not leave half a record for the next one to follow.
            let _ = self.active.set_len(seg.len);
            return Err(SpoolError::Io {
                path: segment::segment_path(&self.dir, seg.seq),
                source: e,
            });
        }
        seg.len += len;
        seg.records += 1;
        self.total_bytes += len;
        self.counters.appended += 1;
        self.oldest_pending_ms.get_or_insert(time_ms);
        Ok(())
    }

    fn after_append(&mut self, records: u64) -> Result<(), SpoolError> {
        self.unsynced += records;
        let due = match self.config.fsync {
            FsyncPolicy::Always => true,
            FsyncPolicy::EveryN(n) => self.unsynced >= u64::from(n),
            FsyncPolicy::Interval(d) => self.last_sync.elapsed() >= d,
            FsyncPolicy::Never => false,
        };
        if due { self.sync() } else { Ok(()) }
    }

    /// Forces appended records to stable storage now (e.g. on a timer under
    /// `Interval`, or before a planned shutdown).
    pub fn sync(&mut self) -> Result<(), SpoolError> {
        if self.unsynced > 0 {
            self.active
                .sync_data()
                .map_err(io_err(&segment::segment_path(&self.dir, self.active_seq())))?;
        }
        self.unsynced = 0;
        self.last_sync = Instant::now();
        Ok(())
    }

    fn active_seq(&self) -> u64 {
        self.segments.back().expect("at least one segment").seq
    }

    fn durable(&self) -> bool {
        self.config.fsync != FsyncPolicy::Never
    }

    /// Closes the newest segment and starts the next one.
    fn roll(&mut self) -> Result<(), SpoolError> {
        if self.durable() {
            self.sync()?;
        }
        let seq = self.active_seq() + 1;
        let path = segment::segment_path(&self.dir, seq);
        self.active = segment::create_segment(&self.dir, seq).map_err(io_err(&path))?;
        if self.durable() {
            segment::sync_dir(&self.dir).map_err(io_err(&self.dir))?;
        }
        self.segments.push_back(Segment {
            seq,
            len: SEGMENT_HEADER_LEN as u64,
            records: 0,
            known_corrupt: Vec::new(),
        });
        self.total_bytes += SEGMENT_HEADER_LEN as u64;
        Ok(())
    }

    /// Drops the oldest segments until `incoming` more bytes fit under the cap — unless
    /// a batch is in flight (it starts in the oldest segment; see the module doc).
    fn enforce_cap(&mut self, incoming: u64) -> Result<(), SpoolError> {
        while !self.in_flight
            && self.total_bytes + incoming > self.config.max_bytes
            && self.segments.len() > 1
        {
            self.drop_oldest()?;
        }
        Ok(())
    }

    /// The batch last handed out was not stored (the send failed): nothing is
    /// acknowledged, and the cap applies again.
    pub fn release(&mut self) -> Result<(), SpoolError> {
        self.in_flight = false;
        self.enforce_cap(0)
    }

    /// Deletes the oldest segment to make room, counting its unacknowledged records.
    fn drop_oldest(&mut self) -> Result<(), SpoolError> {
        let seg = self
            .segments
            .pop_front()
            .expect("called with two segments or more");
        debug_assert_eq!(seg.seq, self.ack.seq);
        let lost = seg.records - self.ack.index;
        self.counters.dropped_spool_full += lost;
        self.total_bytes -= seg.len;
        self.ack = Position::start_of(self.segments.front().expect("one left").seq);
        if self.cache.seq == Some(seg.seq) {
            self.cache = Cache::default();
        }
        let path = segment::segment_path(&self.dir, seg.seq);
        fs::remove_file(&path).map_err(io_err(&path))?;
        tracing::error!(
            records = lost,
            max_bytes = self.config.max_bytes,
            "spool full: dropped the oldest unsent records"
        );
        self.refresh_oldest();
        Ok(())
    }

    fn pending(&self) -> u64 {
        self.segments.iter().map(|s| s.records).sum::<u64>() - self.ack.index
    }

    /// Up to `max_lines` lines and about `max_bytes` bytes (a single longer line still
    /// comes alone) from the oldest unacknowledged record on; `None` when all is
    /// acknowledged. Nothing is consumed: call [`Self::ack`] once the lines are stored.
    pub fn next_batch(
        &mut self,
        max_lines: usize,
        max_bytes: usize,
    ) -> Result<Option<Batch>, SpoolError> {
        let batch = self.read_from_ack(max_lines.max(1), max_bytes)?;
        self.in_flight = !batch.is_empty();
        Ok((!batch.is_empty()).then_some(batch))
    }

    fn read_from_ack(&mut self, max_lines: usize, max_bytes: usize) -> Result<Batch, SpoolError> {
        let mut batch = Batch::default();
        let mut pos = self.ack;
        let mut i = 0;
        loop {
            let (seq, len) = (self.segments[i].seq, self.segments[i].len);
            self.load_cache(seq, pos.offset, len)?;
            let base = self.cache.base as usize;
            let mut full = false;
            let from = pos.offset as usize - base;
            for item in Scanner::new(&self.cache.bytes, from, MAX_PAYLOAD) {
                match item {
                    Item::Record { offset, record } => {
                        let offset = offset + base;
                        if !batch.is_empty()
                            && (batch.len() >= max_lines
                                || batch.data.len() + record.payload.len() + 1 > max_bytes)
                        {
                            full = true;
                            break;
                        }
                        batch.data.extend_from_slice(record.payload);
                        batch.data.push(b'\n');
                        batch.oldest_ms.get_or_insert(record.time_ms);
                        pos.offset = (offset + record.encoded_len()) as u64;
                        pos.index += 1;
                        batch.ends.push((batch.data.len(), pos));
                    }
                    Item::Corrupt { start, end } => {
                        let (start, end) = (start + base, end + base);
                        let seg = &mut self.segments[i];
                        if !seg.known_corrupt.contains(&(start as u64)) {
                            // Damage that appeared after open (the disk changed under
                            // us). It starts where open saw a valid record, and ends at
                            // the next record start: that one record is lost.
                            seg.known_corrupt.push(start as u64);
                            seg.records = seg.records.saturating_sub(1);
                            self.counters.corrupt += 1;
                            tracing::error!(
                                seq,
                                start,
                                end,
                                "damaged spool record skipped; it is lost"
                            );
                        }
                        pos.offset = end as u64;
                    }
                    // Not produced by our own whole-record appends; the rest is unreadable.
                    Item::TornTail { .. } => break,
                }
            }
            if full || i + 1 == self.segments.len() {
                return Ok(batch);
            }
            i += 1;
            pos = Position::start_of(self.segments[i].seq);
        }
    }

    /// Makes the cache hold bytes `from..len` of segment `seq` (or more before `from`).
    fn load_cache(&mut self, seq: u64, from: u64, len: u64) -> Result<(), SpoolError> {
        if self.cache.seq != Some(seq) || from < self.cache.base {
            self.cache = Cache {
                seq: Some(seq),
                base: from,
                bytes: Vec::new(),
            };
        }
        let have = self.cache.base + self.cache.bytes.len() as u64;
        if have == len {
            return Ok(());
        }
        let path = segment::segment_path(&self.dir, seq);
        let read = || -> io::Result<Vec<u8>> {
            let mut file = File::open(&path)?;
            file.seek(SeekFrom::Start(have))?;
            let mut tail = Vec::with_capacity((len - have) as usize);
            file.take(len - have).read_to_end(&mut tail)?;
            if (tail.len() as u64) < len - have {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment shorter than written",
                ));
            }
            Ok(tail)
        };
        match read() {
            Ok(tail) => {
                self.cache.bytes.extend_from_slice(&tail);
                Ok(())
            }
            Err(e) => {
                self.cache = Cache::default();
                Err(SpoolError::Io { path, source: e })
            }
        }
    }

    /// Marks everything up to `cursor` as delivered: advances and stores the
    /// acknowledged position and deletes segments that are now fully acknowledged.
    /// Returns how many records this newly acknowledged (0 for a cursor already passed,
    /// or one whose records were dropped meanwhile because the spool was full).
    pub fn ack(&mut self, cursor: Cursor) -> Result<u64, SpoolError> {
        let newly = self.advance_ack(cursor)?;
        self.cache.trim(self.ack.seq, self.ack.offset);
        self.in_flight = false;
        self.enforce_cap(0)?;
        Ok(newly)
    }

    fn advance_ack(&mut self, cursor: Cursor) -> Result<u64, SpoolError> {
        let to = cursor.0;
        if to.key() <= self.ack.key() {
            return Ok(0);
        }
        let mut newly = 0;
        for seg in self.segments.iter().take_while(|s| s.seq < to.seq) {
            newly += seg.records;
        }
        newly = newly + to.index - self.ack.index;
        self.ack = to;
        self.counters.acked += newly;

        // A position at the end of a closed segment is the start of the next one.
        let mut i = self
            .segments
            .iter()
            .position(|s| s.seq == to.seq)
            .expect("a cursor past the acknowledged position points into a live segment");
        while i + 1 < self.segments.len() && self.ack.offset >= self.segments[i].len {
            i += 1;
            self.ack = Position::start_of(self.segments[i].seq);
        }
        // Store the position before deleting: a crash in between leaves segments the
        // next open recognises as acknowledged and removes.
        self.write_checkpoint()?;
        while self.segments.front().is_some_and(|s| s.seq < self.ack.seq) {
            let seg = self.segments.pop_front().expect("checked");
            self.total_bytes -= seg.len;
            if self.cache.seq == Some(seg.seq) {
                self.cache = Cache::default();
            }
            let path = segment::segment_path(&self.dir, seg.seq);
            fs::remove_file(&path).map_err(io_err(&path))?;
        }
        self.refresh_oldest();
        Ok(newly)
    }

    /// Stores the acknowledged position and the damaged regions counted after it.
    fn write_checkpoint(&self) -> Result<(), SpoolError> {
        let checkpoint = Checkpoint {
            seq: self.ack.seq,
            offset: self.ack.offset,
            counted_corrupt: self
                .segments
                .iter()
                .flat_map(|s| s.known_corrupt.iter().map(|&start| (s.seq, start)))
                .filter(|&(seq, start)| (seq, start) >= self.ack.key())
                .collect(),
        };
        segment::write_checkpoint(&self.dir, &checkpoint, self.durable()).map_err(io_err(&self.dir))
    }

    /// Updates the append time of the oldest pending record (for its age in stats).
    fn refresh_oldest(&mut self) {
        self.oldest_pending_ms = match self.read_from_ack(1, usize::MAX) {
            Ok(batch) => batch.oldest_ms,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the oldest spooled record");
                None
            }
        };
    }

    pub fn stats(&self) -> SpoolStats {
        let now = now_ms();
        SpoolStats {
            bytes_on_disk: self.total_bytes,
            segments: self.segments.len(),
            records_pending: self.pending(),
            oldest_pending_age: self
                .oldest_pending_ms
                .map(|t| Duration::from_millis(now.saturating_sub(t))),
            appended: self.counters.appended,
            acked: self.counters.acked,
            dropped_spool_full: self.counters.dropped_spool_full,
            corrupt_records: self.counters.corrupt,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Spool {
    /// A planned shutdown leaves nothing unsynced, whatever the interval.
    fn drop(&mut self) {
        if self.durable()
            && let Err(e) = self.sync()
        {
            tracing::warn!(error = %e, "cannot sync the spool on close");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_is_checked() {
        assert!(SpoolConfig::default().validate().is_ok());
        let small = SpoolConfig {
            max_bytes: 1000,
            segment_bytes: 600,
            fsync: FsyncPolicy::Never,
        };
        assert!(matches!(small.validate(), Err(SpoolError::Config(_))));
        let never = SpoolConfig {
            fsync: FsyncPolicy::EveryN(0),
            ..SpoolConfig::default()
        };
        assert!(never.validate().is_err());
    }

    #[test]
    fn a_partly_accepted_batch_acknowledges_its_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let (mut spool, _) = Spool::open(dir.path(), SpoolConfig::default()).unwrap();
        for line in ["a v=1 1", "bb v=2 2", "ccc v=3 3"] {
            spool.append(line.as_bytes()).unwrap();
        }
        let batch = spool.next_batch(10, 1 << 20).unwrap().unwrap();
        assert_eq!(batch.lines(), b"a v=1 1\nbb v=2 2\nccc v=3 3\n");
        assert_eq!(batch.cursor_before(0), None);
        assert_eq!(batch.cursor_before(7), None, "mid-line");
        // The writer reports the unsent part as starting at the third line.
        let from = b"a v=1 1\nbb v=2 2\n".len();
        assert_eq!(spool.ack(batch.cursor_before(from).unwrap()).unwrap(), 2);
        let rest = spool.next_batch(10, 1 << 20).unwrap().unwrap();
        assert_eq!(rest.lines(), b"ccc v=3 3\n");
        // An old cursor acknowledges nothing more.
        assert_eq!(spool.ack(batch.cursor_before(from).unwrap()).unwrap(), 0);
    }
}
