//! Files of the spool directory: segment names and headers, and the acknowledgement
//! checkpoint. Each function does one small piece of file I/O.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

/// First bytes of every segment file: magic and format version.
pub const SEGMENT_MAGIC: [u8; 8] = *b"SSWSPOOL";
pub const FORMAT_VERSION: u32 = 1;
pub const SEGMENT_HEADER_LEN: usize = 12;

const SEGMENT_SUFFIX: &str = ".seg";
const CHECKPOINT: &str = "ack";
const CHECKPOINT_TMP: &str = "ack.tmp";
const CHECKPOINT_MAGIC: [u8; 8] = *b"SSWACK01";

pub fn segment_header() -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0; SEGMENT_HEADER_LEN];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header
}

/// Zero-padded so names sort as numbers do.
pub fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:020}{SEGMENT_SUFFIX}"))
}

/// The sequence numbers of the segment files in `dir`, ascending. Other files are
/// ignored.
pub fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut seqs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(seq) = name
            .strip_suffix(SEGMENT_SUFFIX)
            .and_then(|n| n.parse::<u64>().ok())
        {
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    Ok(seqs)
}

/// Creates a new segment holding only its header; fails if it exists.
pub fn create_segment(dir: &Path, seq: u64) -> io::Result<File> {
    let mut file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .open(segment_path(dir, seq))?;
    file.write_all(&segment_header())?;
    Ok(file)
}

/// Makes created, renamed and deleted directory entries durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Where reading resumes, and which damaged regions were already counted.
///
/// Stored as `SSWACK01`, segment number and offset (u64 little-endian each), the number
/// of counted regions (u32) and their (segment, offset) pairs, then a CRC-32 of all
/// that. The counted regions make `corrupt_records` count damage once, not once per
/// restart while it waits to be passed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub offset: u64,
    pub counted_corrupt: Vec<(u64, u64)>,
}

/// The stored checkpoint; `None` when there is none or it is damaged (then everything
/// left in the spool is replayed: duplicates are harmless, loss is not).
pub fn read_checkpoint(dir: &Path) -> io::Result<Option<Checkpoint>> {
    let bytes = match fs::read(dir.join(CHECKPOINT)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(decode_checkpoint(&bytes))
}

fn decode_checkpoint(bytes: &[u8]) -> Option<Checkpoint> {
    let (body, crc) = bytes.split_last_chunk::<4>()?;
    if crc32fast::hash(body) != u32::from_le_bytes(*crc) {
        return None;
    }
    let rest = body.strip_prefix(&CHECKPOINT_MAGIC)?;
    let u64_at = |at: usize| {
        rest.get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    let count = u32::from_le_bytes(rest.get(16..20)?.try_into().expect("4 bytes")) as usize;
    if rest.len() != 20 + count * 16 {
        return None;
    }
    let counted_corrupt = (0..count)
        .map(|i| Some((u64_at(20 + i * 16)?, u64_at(28 + i * 16)?)))
        .collect::<Option<_>>()?;
    Some(Checkpoint {
        seq: u64_at(0)?,
        offset: u64_at(8)?,
        counted_corrupt,
    })
}

/// Replaces the checkpoint atomically: a crash leaves the old one or the new one,
/// never a mix. With `durable`, the new one also survives a power cut once this returns.
pub fn write_checkpoint(dir: &Path, checkpoint: &Checkpoint, durable: bool) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(36 + 16 * checkpoint.counted_corrupt.len());
    bytes.extend_from_slice(&CHECKPOINT_MAGIC);
    bytes.extend_from_slice(&checkpoint.seq.to_le_bytes());
    bytes.extend_from_slice(&checkpoint.offset.to_le_bytes());
    let count = u32::try_from(checkpoint.counted_corrupt.len()).unwrap_or(u32::MAX);
    bytes.extend_from_slice(&count.to_le_bytes());
    for (seq, offset) in checkpoint.counted_corrupt.iter().take(count as usize) {
        bytes.extend_from_slice(&seq.to_le_bytes());
        bytes.extend_from_slice(&offset.to_le_bytes());
    }
    bytes.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
    let tmp = dir.join(CHECKPOINT_TMP);
    let mut file = File::create(&tmp)?;
    file.write_all(&bytes)?;
    if durable {
        file.sync_data()?;
    }
    fs::rename(&tmp, dir.join(CHECKPOINT))?;
    if durable {
        sync_dir(dir)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_and_damage_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), None);
        let cp = Checkpoint {
            seq: 7,
            offset: 1234,
            counted_corrupt: vec![(7, 2000), (9, 12)],
        };
        write_checkpoint(dir.path(), &cp, true).unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), Some(cp));
        let path = dir.path().join(CHECKPOINT);
        let mut bytes = fs::read(&path).unwrap();
        bytes[10] ^= 1;
        fs::write(&path, bytes).unwrap();
        assert_eq!(read_checkpoint(dir.path()).unwrap(), None);
    }

    #[test]
    fn segments_list_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        for seq in [10, 2, 300] {
            create_segment(dir.path(), seq).unwrap();
        }
        fs::write(dir.path().join("notes.txt"), "x").unwrap();
        assert_eq!(list_segments(dir.path()).unwrap(), vec![2, 10, 300]);
        assert!(create_segment(dir.path(), 2).is_err());
    }
}
