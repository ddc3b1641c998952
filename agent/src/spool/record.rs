//! One spool record: encoding, checked decoding, and scanning a segment's bytes with
//! resynchronisation. Pure: works on byte slices, no I/O.
//!
//! ```text
//! offset size field
//!  0     4    magic   FF A5 53 52
//!  4     4    len     payload length, u32 little-endian
//!  8     8    time    append time, Unix milliseconds, u64 little-endian
//! 16     4    crc     CRC-32 (IEEE, crc32fast) of len ‖ time ‖ payload, little-endian
//! 20     len  payload one line of line protocol, without its `\n`
//! ```
//!
//! The magic starts with `0xFF`, a byte that never occurs in UTF-8, and line protocol is
//! UTF-8: so after damage the scanner resumes at the next magic, and a payload never
//! looks like a record start. Only a magic that happens to sit in the binary header
//! fields of a damaged record (odds about 2⁻³² per byte) could split one damaged record
//! into two counted ones.

/// Bytes before the payload.
pub const HEADER_LEN: usize = 20;

/// Marks the start of every record; see the module doc for why it starts with `0xFF`.
pub const MAGIC: [u8; 4] = [0xFF, 0xA5, 0x53, 0x52];

/// A record read back from a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Append time, Unix milliseconds.
    pub time_ms: u64,
    pub payload: &'a [u8],
}

impl Record<'_> {
    /// Bytes the record takes on disk.
    pub fn encoded_len(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// Appends the encoding of one record to `out`.
pub fn encode(out: &mut Vec<u8>, time_ms: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("callers cap payloads far below 4 GiB");
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&time_ms.to_le_bytes());
    out.extend_from_slice(&checksum(len, time_ms, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

fn checksum(len: u32, time_ms: u64, payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len.to_le_bytes());
    hasher.update(&time_ms.to_le_bytes());
    hasher.update(payload);
    hasher.finalize()
}

/// What the bytes at the start of a buffer are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed<'a> {
    Record(Record<'a>),
    /// A plausible record that the buffer ends inside of: the shape of a torn write.
    Incomplete,
    /// Not a record: wrong magic, an impossible length or a checksum mismatch.
    Bad,
}

/// Decodes the record at the start of `buf`. `max_payload` bounds the length field, so
/// a damaged length is recognised as impossible instead of swallowing the segment.
pub fn parse(buf: &[u8], max_payload: usize) -> Parsed<'_> {
    let have = buf.len().min(MAGIC.len());
    if buf[..have] != MAGIC[..have] {
        return Parsed::Bad;
    }
    if buf.len() < HEADER_LEN {
        return Parsed::Incomplete;
    }
    let len = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    if len as usize > max_payload {
        return Parsed::Bad;
    }
    let time_ms = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
    let crc = u32::from_le_bytes(buf[16..20].try_into().expect("4 bytes"));
    let Some(payload) = buf.get(HEADER_LEN..HEADER_LEN + len as usize) else {
        return Parsed::Incomplete;
    };
    if checksum(len, time_ms, payload) != crc {
        return Parsed::Bad;
    }
    Parsed::Record(Record { time_ms, payload })
}

/// One step of [`Scanner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A valid record starting at `offset`.
    Record { offset: usize, record: Record<'a> },
    /// Damaged bytes `start..end`, followed by the next record start (magic) at `end`,
    /// or running to the end of complete but wrong bytes. Counted as one corrupt record.
    Corrupt { start: usize, end: usize },
    /// The bytes from `start` to the end hold no valid record and look like an
    /// interrupted write (a record cut short, or zeroes the file system had not yet
    /// filled in): end of data, not corruption.
    TornTail { start: usize },
}

/// Walks the records of a buffer from an offset, resynchronising after damage.
#[derive(Debug, Clone)]
pub struct Scanner<'a> {
    buf: &'a [u8],
    pos: usize,
    max_payload: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(buf: &'a [u8], pos: usize, max_payload: usize) -> Self {
        Scanner {
            buf,
            pos,
            max_payload,
        }
    }

    /// The next record start after `from`: the next magic. Every magic in damaged bytes
    /// is taken as a record boundary (line protocol cannot contain it), so two damaged
    /// records side by side count as two, and a sound record after damage is found
    /// again.
    fn resync(&self, from: usize) -> Option<usize> {
        let found = self
            .buf
            .get(from..)?
            .windows(MAGIC.len())
            .position(|w| w == MAGIC)?;
        Some(from + found)
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        let start = self.pos;
        if start >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[start..];
        let parsed = parse(rest, self.max_payload);
        if let Parsed::Record(record) = parsed {
            self.pos += record.encoded_len();
            return Some(Item::Record {
                offset: start,
                record,
            });
        }
        match self.resync(start + 1) {
            Some(end) => {
                self.pos = end;
                Some(Item::Corrupt { start, end })
            }
            None => {
                self.pos = self.buf.len();
                if parsed == Parsed::Incomplete || rest.iter().all(|&b| b == 0) {
                    Some(Item::TornTail { start })
                } else {
                    // Complete but wrong bytes up to the end: damage, not a torn write.
                    Some(Item::Corrupt {
                        start,
                        end: self.buf.len(),
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(lines: &[&str]) -> (Vec<u8>, Vec<usize>) {
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            offsets.push(buf.len());
            encode(&mut buf, i as u64, line.as_bytes());
        }
        (buf, offsets)
    }

    fn scan(buf: &[u8]) -> Vec<Item<'_>> {
        Scanner::new(buf, 0, 1024).collect()
    }

    #[test]
    fn round_trips() {
        let (buf, offsets) = records(&["a v=1 1", "", "b v=2 2"]);
        let items = scan(&buf);
        assert_eq!(items.len(), 3);
        for (i, item) in items.iter().enumerate() {
            let Item::Record { offset, record } = item else {
                panic!("{item:?}")
            };
            assert_eq!(*offset, offsets[i]);
            assert_eq!(record.time_ms, i as u64);
        }
    }

    #[test]
    fn a_flipped_byte_loses_only_its_record() {
        let (mut buf, offsets) = records(&["first v=1 1", "second v=2 2", "third v=3 3"]);
        // Every byte of the middle record, header included, in turn.
        for at in offsets[1]..offsets[2] {
            let mut damaged = buf.clone();
            damaged[at] ^= 0x40;
            let items = scan(&damaged);
            assert_eq!(items.len(), 3, "byte {at}: {items:?}");
            assert!(matches!(items[0], Item::Record { offset: 0, .. }));
            assert_eq!(
                items[1],
                Item::Corrupt {
                    start: offsets[1],
                    end: offsets[2]
                },
                "byte {at}"
            );
            assert!(
                matches!(items[2], Item::Record { record, .. } if record.payload == b"third v=3 3")
            );
        }
        // Damage in the last record that leaves it complete is corruption too.
        let last = buf.len() - 1;
        buf[last] ^= 1;
        assert_eq!(
            scan(&buf)[2],
            Item::Corrupt {
                start: offsets[2],
                end: buf.len()
            }
        );
    }

    #[test]
    fn a_cut_short_or_zeroed_tail_is_torn_not_corrupt() {
        let (buf, offsets) = records(&["first v=1 1", "second v=2 2"]);
        for cut in offsets[1] + 1..buf.len() {
            let items = scan(&buf[..cut]);
            assert_eq!(
                items[1..],
                [Item::TornTail { start: offsets[1] }],
                "cut at {cut}"
            );
        }
        let mut zeroed = buf.clone();
        zeroed.extend_from_slice(&[0; 100]);
        assert_eq!(scan(&zeroed)[2], Item::TornTail { start: buf.len() });
    }

    #[test]
    fn an_impossible_length_is_bad_not_a_huge_record() {
        let (mut buf, _) = records(&["a v=1 1"]);
        buf[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(parse(&buf, 1024), Parsed::Bad);
    }
}
