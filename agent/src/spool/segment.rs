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
const CHECKPOINT_LEN: usize = 8 + 8 + 8 + 4;

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

/// Where reading resumes: the first byte of a segment not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checkpoint {
    pub seq: u64,
    pub offset: u64,
}

/// The stored checkpoint; `None` when there is none or it is damaged (then everything
/// left in the spool is replayed: duplicates are harmless, loss is not).
pub fn read_checkpoint(dir: &Path) -> io::Result<Option<Checkpoint>> {
    let bytes = match fs::read(dir.join(CHECKPOINT)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if bytes.len() != CHECKPOINT_LEN || bytes[..8] != CHECKPOINT_MAGIC {
        return Ok(None);
    }
    let crc = u32::from_le_bytes(bytes[24..28].try_into().expect("4 bytes"));
    if crc32fast::hash(&bytes[..24]) != crc {
        return Ok(None);
    }
    Ok(Some(Checkpoint {
        seq: u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes")),
        offset: u64::from_le_bytes(bytes[16..24].try_into().expect("8 bytes")),
    }))
}

/// Replaces the checkpoint atomically: a crash leaves the old one or the new one,
/// never a mix. With `durable`, the new one also survives a power cut once this returns.
pub fn write_checkpoint(dir: &Path, checkpoint: Checkpoint, durable: bool) -> io::Result<()> {
    let mut bytes = Vec::with_capacity(CHECKPOINT_LEN);
    bytes.extend_from_slice(&CHECKPOINT_MAGIC);
    bytes.extend_from_slice(&checkpoint.seq.to_le_bytes());
    bytes.extend_from_slice(&checkpoint.offset.to_le_bytes());
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
        };
        write_checkpoint(dir.path(), cp, true).unwrap();
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
