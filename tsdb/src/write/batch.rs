//! Cutting encoded lines into write requests. Pure: works on byte slices.
//!
//! Lines are separated by `\n`. That is safe to cut on: the encoder refuses newlines in
//! every element (string field values included), so a `\n` always ends a line.

/// The most a single write request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    pub max_lines: usize,
    /// Uncompressed bytes. A single line longer than this still travels, alone: lines
    /// are never cut, and the server decides (413 → dropped and counted).
    pub max_bytes: usize,
}

impl BatchLimits {
    /// InfluxData's recommended batch size, and our hard maximum.
    pub const MAX_LINES: usize = 5000;

    /// 5,000 lines or 1 MiB: a typical 5,000-line batch of our measurements is
    /// 0.5–1 MB, well under every server's body limit (InfluxDB 1.x: 25 MB).
    pub const DEFAULT: BatchLimits = BatchLimits {
        max_lines: Self::MAX_LINES,
        max_bytes: 1024 * 1024,
    };
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The lines of `buf`, each with its `\n` (the last one may lack it). Blank lines are
/// skipped: they carry nothing and InfluxDB ignores them.
fn lines(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    buf.split_inclusive(|&b| b == b'\n')
        .filter(|line| line.iter().any(|&b| b != b'\n' && b != b'\r'))
}

/// How many lines `buf` holds.
pub fn count_lines(buf: &[u8]) -> usize {
    lines(buf).count()
}

/// Cuts `buf` into consecutive batches within `limits`, without copying.
pub fn batches(buf: &[u8], limits: BatchLimits) -> Batches<'_> {
    Batches {
        buf,
        rest: buf,
        limits: BatchLimits {
            max_lines: limits.max_lines.max(1),
            max_bytes: limits.max_bytes,
        },
    }
}

/// Iterator returned by [`batches`].
#[derive(Debug, Clone)]
pub struct Batches<'a> {
    buf: &'a [u8],
    rest: &'a [u8],
    limits: BatchLimits,
}

impl<'a> Batches<'a> {
    /// Like `next`, with the batch's byte offset in the whole buffer.
    pub fn next_with_offset(&mut self) -> Option<(usize, &'a [u8])> {
        let batch = self.next()?;
        let end = self.buf.len() - self.rest.len();
        Some((end - batch.len(), batch))
    }
}

impl<'a> Iterator for Batches<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        // Skip blank lines before the batch so every batch starts with a line.
        let skip = self.rest.iter().position(|&b| b != b'\n' && b != b'\r')?;
        self.rest = &self.rest[skip..];
        let mut end = 0;
        let mut count = 0;
        for line in self.rest.split_inclusive(|&b| b == b'\n') {
            let blank = line.iter().all(|&b| b == b'\n' || b == b'\r');
            if !blank {
                if count == self.limits.max_lines
                    || (count > 0 && end + line.len() > self.limits.max_bytes)
                {
                    break;
                }
                count += 1;
            }
            end += line.len();
        }
        let (batch, rest) = self.rest.split_at(end);
        self.rest = rest;
        Some(batch)
    }
}

/// The byte offset that splits `batch` into two halves by line count, on a line
/// boundary; `None` when it holds fewer than two lines.
pub fn split_point(batch: &[u8]) -> Option<usize> {
    let total = count_lines(batch);
    if total < 2 {
        return None;
    }
    let mut seen = 0;
    let mut offset = 0;
    for line in batch.split_inclusive(|&b| b == b'\n') {
        offset += line.len();
        if line.iter().any(|&b| b != b'\n' && b != b'\r') {
            seen += 1;
            if seen == total / 2 {
                return Some(offset);
            }
        }
    }
    None
}

/// Collects lines one at a time into batches within limits, for producers that make
/// lines as they go (the agent's spool, analytics write-back).
#[derive(Debug, Clone)]
pub struct Batcher {
    limits: BatchLimits,
    buf: Vec<u8>,
    lines: usize,
}

impl Batcher {
    pub fn new(limits: BatchLimits) -> Self {
        Batcher {
            limits: BatchLimits {
                max_lines: limits.max_lines.max(1),
                max_bytes: limits.max_bytes,
            },
            buf: Vec::new(),
            lines: 0,
        }
    }

    /// Adds one line (a `\n` is added when missing; blank lines are ignored). When the
    /// line does not fit, the batch collected so far is returned first and the line
    /// starts the next one.
    pub fn push(&mut self, line: &[u8]) -> Option<Vec<u8>> {
        if line.iter().all(|&b| b == b'\n' || b == b'\r') {
            return None;
        }
        let len = line.len() + usize::from(!line.ends_with(b"\n"));
        let full = self.lines == self.limits.max_lines
            || (self.lines > 0 && self.buf.len() + len > self.limits.max_bytes);
        let done = if full { self.take() } else { None };
        self.buf.extend_from_slice(line);
        if !line.ends_with(b"\n") {
            self.buf.push(b'\n');
        }
        self.lines += 1;
        done
    }

    /// The batch collected so far, if any (call at the end, or on a flush timer).
    pub fn take(&mut self) -> Option<Vec<u8>> {
        if self.lines == 0 {
            return None;
        }
        self.lines = 0;
        Some(std::mem::take(&mut self.buf))
    }

    pub fn lines(&self) -> usize {
        self.lines
    }

    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(batches: &[&[u8]]) -> Vec<String> {
        batches
            .iter()
            .map(|b| String::from_utf8(b.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn cuts_on_line_count() {
        let buf = b"a v=1 1\nb v=2 2\nc v=3 3\n";
        let limits = BatchLimits {
            max_lines: 2,
            max_bytes: 1 << 20,
        };
        let got: Vec<_> = batches(buf, limits).collect();
        assert_eq!(text(&got), ["a v=1 1\nb v=2 2\n", "c v=3 3\n"]);
    }

    #[test]
    fn cuts_on_bytes_and_never_splits_a_line() {
        let buf = b"aa v=1 1\nbbbbbbbbbbbbbbbbbbbbbb v=2 2\nc v=3 3\nd v=4 4";
        let limits = BatchLimits {
            max_lines: 100,
            max_bytes: 20,
        };
        let got: Vec<_> = batches(buf, limits).collect();
        assert_eq!(
            text(&got),
            [
                "aa v=1 1\n",
                "bbbbbbbbbbbbbbbbbbbbbb v=2 2\n",
                "c v=3 3\nd v=4 4"
            ]
        );
    }

    #[test]
    fn blank_lines_are_not_lines() {
        assert_eq!(count_lines(b"\n\na v=1 1\n\r\n\nb v=1 1"), 2);
        let limits = BatchLimits {
            max_lines: 1,
            max_bytes: 100,
        };
        let got: Vec<_> = batches(b"\n\na v=1 1\n\n\nb v=1 1\n\n", limits).collect();
        assert_eq!(text(&got), ["a v=1 1\n\n\n", "b v=1 1\n\n"]);
        let mut it = batches(b"\n\na v=1 1\n\n\nb v=1 1\n\n", limits);
        assert_eq!(it.next_with_offset().unwrap().0, 2);
        assert_eq!(it.next_with_offset().unwrap().0, 12);
        assert_eq!(it.next_with_offset(), None);
        assert_eq!(batches(b"\n\n", limits).count(), 0);
    }

    #[test]
    fn split_point_halves_by_lines() {
        let buf = b"a 1\nbbbbbbbbbbbbbbb 2\nc 3\nd 4\ne 5\n";
        let at = split_point(buf).unwrap();
        assert_eq!(&buf[..at], b"a 1\nbbbbbbbbbbbbbbb 2\n");
        assert_eq!(split_point(b"one line\n"), None);
        assert_eq!(split_point(b"x 1\ny 2"), Some(4));
    }

    #[test]
    fn batcher_matches_batches() {
        let mut batcher = Batcher::new(BatchLimits {
            max_lines: 2,
            max_bytes: 1000,
        });
        let mut out = vec![];
        for line in ["a v=1 1", "b v=2 2\n", "", "c v=3 3"] {
            out.extend(batcher.push(line.as_bytes()));
        }
        out.extend(batcher.take());
        assert_eq!(out, [b"a v=1 1\nb v=2 2\n".to_vec(), b"c v=3 3\n".to_vec()]);
        assert!(batcher.is_empty());
        assert_eq!(batcher.take(), None);
    }

    proptest! {
        #[test]
        fn batches_keep_every_line_in_order_within_limits(
            lines in proptest::collection::vec("[a-z =,0-9]{1,40}", 0..60),
            max_lines in 1usize..10,
            max_bytes in 1usize..120,
        ) {
            let buf: String = lines.iter().map(|l| format!("{l}\n")).collect();
            let limits = BatchLimits { max_lines, max_bytes };
            let got: Vec<&[u8]> = batches(buf.as_bytes(), limits).collect();
            prop_assert_eq!(got.concat(), buf.as_bytes().to_vec());
            for b in &got {
                let n = count_lines(b);
                prop_assert!(n >= 1 && n <= max_lines);
                prop_assert!(b.len() <= max_bytes || n == 1);
            }
            let mut batcher = Batcher::new(limits);
            let mut pushed: Vec<Vec<u8>> = lines.iter().filter_map(|l| batcher.push(l.as_bytes())).collect();
            pushed.extend(batcher.take());
            let got: Vec<Vec<u8>> = got.into_iter().map(<[u8]>::to_vec).collect();
            prop_assert_eq!(pushed, got);
            if let Some(at) = split_point(buf.as_bytes()) {
                let (l, r) = buf.as_bytes().split_at(at);
                prop_assert_eq!(count_lines(l), count_lines(buf.as_bytes()) / 2);
                prop_assert!(count_lines(r) >= 1);
            }
        }
    }
}
