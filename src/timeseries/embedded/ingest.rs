//! A write request's body → points. Pure: no I/O and no clock (the caller passes the time
//! that points without a timestamp get).
//!
//! The parser is InfluxData's own (`influxdb-line-protocol`), so what is valid line
//! protocol here is what InfluxDB accepts. Around it this module does what InfluxDB's
//! write handler does and the parser leaves to it, with InfluxDB 1.x's wording:
//!
//! | input | outcome |
//! |---|---|
//! | blank line, `# comment` | skipped (still counted for line numbers) |
//! | unparsable line | `line N: unable to parse '<line>': <reason>` |
//! | the same tag twice | `… duplicate tags` |
//! | tag key or field key `time` | `invalid tag key` / `invalid field name` |
//! | the same field twice in one line | the last value wins |
//! | non-finite float (`NaN`, `inf`) | `… invalid number` |
//! | no timestamp | `now`, truncated to the precision (one instant for the whole batch) |
//! | timestamp × precision outside InfluxDB's time range | `… time outside range` |
//! | a field whose type differs from an earlier line's | `field type conflict: …` |
//!
//! Line numbers count physical lines from 1; a string field value may contain a newline,
//! so one point can span lines (it is numbered by its first).

use influxdb_line_protocol as lp;
use std::borrow::Cow;
use std::collections::HashMap;
use streamswarm_schema::measurements::FieldType;
use streamswarm_tsdb::query::Value;

/// InfluxDB's representable time range (`models.MinNanoTime` / `MaxNanoTime`).
pub const MIN_TIME_NS: i64 = i64::MIN + 2;
pub const MAX_TIME_NS: i64 = i64::MAX - 1;

/// How much of an offending line an error message quotes.
const EXCERPT_CHARS: usize = 200;

/// The unit of the timestamps in a write request (`precision=` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
    /// InfluxDB 1.x only (`m`).
    Minutes,
    /// InfluxDB 1.x only (`h`).
    Hours,
}

/// Which of InfluxDB's write APIs a request came through; they differ in precisions and
/// in the shape of error bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `POST /write` (InfluxDB 1.x).
    V1,
    /// `POST /api/v2/write` (InfluxDB 2.x).
    V2,
}

impl Precision {
    /// The `precision` parameter; absent or empty means nanoseconds. Both spellings of
    /// each unit are accepted on both APIs (`n`/`ns`, `u`/`us`), minutes and hours only
    /// on v1, as in InfluxDB. Unlike InfluxDB 1.x, which silently reads an unknown
    /// precision as nanoseconds, an unknown value is refused: a client that meant
    /// seconds would otherwise store everything in 1970.
    pub fn parse(value: Option<&str>, dialect: Dialect) -> Result<Self, WriteError> {
        Ok(match (value.unwrap_or(""), dialect) {
            ("" | "n" | "ns", _) => Precision::Nanoseconds,
            ("u" | "us" | "µ" | "µs", _) => Precision::Microseconds,
            ("ms", _) => Precision::Milliseconds,
            ("s", _) => Precision::Seconds,
            ("m", Dialect::V1) => Precision::Minutes,
            ("h", Dialect::V1) => Precision::Hours,
            (other, dialect) => {
                let allowed = match dialect {
                    Dialect::V1 => "n, ns, u, us, ms, s, m or h",
                    Dialect::V2 => "ns, us, ms or s",
                };
                return Err(WriteError::Precision(format!(
                    "invalid precision {other:?}: expected {allowed}"
                )));
            }
        })
    }

    pub fn nanos(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
            Precision::Minutes => 60_000_000_000,
            Precision::Hours => 3_600_000_000_000,
        }
    }
}

/// One parsed point, borrowing names from the request body where no escape had to be
/// resolved. Tags are sorted by key (the canonical series key); fields keep their
/// order, each name once.
#[derive(Debug, Clone, PartialEq)]
pub struct Point<'a> {
    /// The (first) physical line the point was on, from 1.
    pub line: usize,
    pub measurement: Cow<'a, str>,
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub fields: Vec<(Cow<'a, str>, Value)>,
    pub time_ns: i64,
}

fn cow(s: lp::EscapedStr<'_>) -> Cow<'_, str> {
    match s {
        lp::EscapedStr::SingleSlice(s) => Cow::Borrowed(s),
        lp::EscapedStr::CopiedValue(s) => Cow::Owned(s),
    }
}

/// Why a write was refused. Every variant but `Store` is the client's mistake (400/413).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("line {line}: unable to parse '{text}': {reason}")]
    Parse {
        line: usize,
        text: String,
        reason: String,
    },
    #[error(
        "line {line}: field type conflict: input field \"{field}\" on measurement \"{measurement}\" is type {}, already exists as type {}",
        influx_type_name(*input),
        influx_type_name(*existing)
    )]
    TypeConflict {
        line: usize,
        measurement: String,
        field: String,
        input: FieldType,
        existing: FieldType,
    },
    #[error("{0}")]
    Precision(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("the decompressed request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    /// A line the caller may not write (see `policy`): another agent's tag, a test not
    /// assigned to it, or a point that departs from `schema/measurements.toml`.
    /// `reason` is the metrics label.
    #[error("line {line}: {message}")]
    Refused {
        line: usize,
        reason: &'static str,
        message: String,
    },
    #[error(
        "line {line}: agent {agent} already has {limit} series, the most one agent may create \
         (timeseries.max_series_per_agent); this line would add another"
    )]
    SeriesCap {
        line: usize,
        agent: String,
        limit: usize,
    },
    /// More writes in progress than `timeseries.max_concurrent_writes` (429).
    #[error(
        "too many time-series writes in progress (at most {limit} at once, \
         timeseries.max_concurrent_writes); retry later"
    )]
    Busy { limit: usize },
    #[error("time-series store: {0}")]
    Store(#[from] crate::store::StoreError),
}

/// InfluxDB's name for a field type, as its error messages say it.
pub fn influx_type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Float => "float",
        FieldType::Integer => "integer",
        FieldType::Unsigned => "unsigned",
        FieldType::Bool => "boolean",
        FieldType::String => "string",
    }
}

pub fn type_of(v: &Value) -> FieldType {
    match v {
        Value::Float(_) => FieldType::Float,
        Value::Integer(_) => FieldType::Integer,
        Value::Unsigned(_) => FieldType::Unsigned,
        Value::Bool(_) => FieldType::Bool,
        Value::String(_) => FieldType::String,
    }
}

/// At most `EXCERPT_CHARS` of `line`, marked `…` when cut.
pub fn excerpt(line: &str) -> String {
    let mut chars = line.chars();
    let mut out: String = chars.by_ref().take(EXCERPT_CHARS).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// The request body as text: gunzipped when `gzip` (several gzip members, as Go's reader
/// accepts, are read in turn), never more than `max_bytes` of it. A gzip bomb stops at
/// the cap, having cost `max_bytes` of memory and no more.
pub fn decode_body(body: &[u8], gzip: bool, max_bytes: usize) -> Result<String, WriteError> {
    use std::io::Read;
    let bytes = if gzip {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(body)
            .take(max_bytes as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| WriteError::BadRequest(format!("cannot decompress the gzip body: {e}")))?;
        out
    } else {
        body.to_vec()
    };
    if bytes.len() > max_bytes {
        return Err(WriteError::TooLarge { limit: max_bytes });
    }
    String::from_utf8(bytes).map_err(|e| {
        WriteError::BadRequest(format!(
            "the body is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// A request body read as consecutive parts of whole lines, each about `target` bytes
/// (longer when one line is), inflating gzip as it goes: a large body never exists in
/// memory whole, inflated or parsed. The same caps and errors as [`decode_body`]:
/// nothing past `max_bytes` is inflated, and invalid UTF-8 is refused with its offset.
/// A part ends where [`lp::split_lines`] ends a line (a newline outside a quoted string
/// field), so parts parse exactly as the whole body would.
pub struct BodyChunks<'b> {
    reader: Box<dyn std::io::Read + Send + 'b>,
    /// Inflated bytes not yet handed out; starts at a line boundary.
    buf: Vec<u8>,
    /// Bytes handed out before `buf`.
    consumed: usize,
    /// Bytes read from `reader` so far.
    total: usize,
    max_bytes: usize,
    target: usize,
    eof: bool,
    /// Line number (from 1) of the first line in `buf`.
    next_line: usize,
}

/// One part of a body: whole lines, the first being line `first_line` of the body.
pub struct BodyChunk {
    pub first_line: usize,
    pub text: String,
}

impl<'b> BodyChunks<'b> {
    pub fn new(body: &'b [u8], gzip: bool, max_bytes: usize, target: usize) -> Self {
        let reader: Box<dyn std::io::Read + Send + 'b> = if gzip {
            Box::new(flate2::read::MultiGzDecoder::new(body))
        } else {
            Box::new(body)
        };
        BodyChunks {
            reader,
            buf: Vec::new(),
            consumed: 0,
            total: 0,
            max_bytes,
            target: target.max(1),
            eof: false,
            next_line: 1,
        }
    }

    /// Reads until `buf` holds `want` bytes or the body ends.
    fn fill(&mut self, want: usize) -> Result<(), WriteError> {
        use std::io::Read;
        while !self.eof && self.buf.len() < want {
            let room =
                (want - self.buf.len()).min((self.max_bytes - self.total).saturating_add(1)) as u64;
            let n = self
                .reader
                .by_ref()
                .take(room)
                .read_to_end(&mut self.buf)
                .map_err(|e| {
                    WriteError::BadRequest(format!("cannot decompress the gzip body: {e}"))
                })?;
            self.total += n;
            if self.total > self.max_bytes {
                return Err(WriteError::TooLarge {
                    limit: self.max_bytes,
                });
            }
            // `read_to_end` on `take` stops short only at the end of the body.
            self.eof = (n as u64) < room;
        }
        Ok(())
    }

    /// The next part, or `None` at the end of the body.
    pub fn next_chunk(&mut self) -> Result<Option<BodyChunk>, WriteError> {
        let mut want = self.target;
        loop {
            self.fill(want)?;
            if self.buf.is_empty() && self.eof {
                return Ok(None);
            }
            let valid = match std::str::from_utf8(&self.buf) {
                Ok(_) => self.buf.len(),
                // A character cut by the end of what was read so far: read on.
                Err(e) if e.error_len().is_none() && !self.eof => e.valid_up_to(),
                Err(e) => {
                    return Err(WriteError::BadRequest(format!(
                        "the body is not UTF-8 text (invalid byte at offset {})",
                        self.consumed + e.valid_up_to()
                    )));
                }
            };
            let text = std::str::from_utf8(&self.buf[..valid]).expect("checked above");
            let cut = if self.eof && valid == self.buf.len() {
                valid
            } else {
                // Everything before the last line is whole lines; the last may be cut.
                let last = lp::split_lines(text).last().unwrap_or("");
                last.as_ptr() as usize - text.as_ptr() as usize
            };
            if cut == 0 {
                // Not one whole line yet: read more (the cap still applies).
                want = self.buf.len().saturating_mul(2).max(self.target);
                continue;
            }
            let rest = self.buf.split_off(cut);
            let part = std::mem::replace(&mut self.buf, rest);
            let text = String::from_utf8(part).expect("checked above");
            let first_line = self.next_line;
            self.next_line += text.bytes().filter(|b| *b == b'\n').count();
            self.consumed += cut;
            return Ok(Some(BodyChunk { first_line, text }));
        }
    }
}

/// Parses a whole request body. The first bad line — unparsable, or with a field whose
/// type differs from an earlier line's or from the stored one (`stored`) — refuses the
/// batch: nothing of it may be stored (see `EmbeddedStore::write`).
/// Bodies of at least this many lines are parsed on two threads.
const PARALLEL_LINES: usize = 4096;

/// measurement → field → type, as first seen in a batch (or in the store).
type Types = HashMap<String, HashMap<String, FieldType>>;

/// A measurement and its field names and types, as on the previous line.
type Shape = Option<(String, Vec<(String, FieldType)>)>;

#[derive(Clone, Copy)]
struct Units {
    factor: i64,
    default_time: i64,
}

/// One half of a body: the points parsed before the first error, that error, and the
/// types the half saw first.
struct Chunk<'a> {
    points: Vec<Point<'a>>,
    error: Option<WriteError>,
    types: Types,
}

pub fn parse_batch<'a>(
    body: &'a str,
    precision: Precision,
    now_ns: i64,
    stored: impl Fn(&str, &str) -> Option<FieldType> + Sync,
) -> Result<Vec<Point<'a>>, WriteError> {
    parse_lines_from(body, 1, precision, now_ns, stored)
}

/// As [`parse_batch`] for a part of a body (see [`BodyChunks`]) whose first line is
/// line `first_line` of the body. `stored` must also answer for the fields earlier parts
/// introduced (the write path passes the catalog plus its own transaction's fields).
pub fn parse_lines_from<'a>(
    body: &'a str,
    first_line: usize,
    precision: Precision,
    now_ns: i64,
    stored: impl Fn(&str, &str) -> Option<FieldType> + Sync,
) -> Result<Vec<Point<'a>>, WriteError> {
    let factor = precision.nanos();
    let units = Units {
        factor,
        default_time: now_ns - now_ns.rem_euclid(factor),
    };
    let mut lines = Vec::new();
    let mut next_line = first_line;
    for raw in lp::split_lines(body) {
        lines.push((next_line, raw));
        next_line += 1 + raw.bytes().filter(|b| *b == b'\n').count();
    }
    if lines.len() < PARALLEL_LINES {
        let chunk = parse_chunk(&lines, units, &stored);
        return match chunk.error {
            Some(e) => Err(e),
            None => Ok(chunk.points),
        };
    }
    // Two halves at once: a large batch is parsed in about half the time on two cores.
    let (first, second) = lines.split_at(lines.len() / 2);
    let (a, b) = std::thread::scope(|scope| {
        let later = scope.spawn(|| parse_chunk(second, units, &stored));
        let a = parse_chunk(first, units, &stored);
        (a, later.join().expect("the parser thread does not panic"))
    });
    if let Some(e) = a.error {
        return Err(e);
    }
    // The second half did not know the types the first half introduced: its first point
    // in conflict with them is the first bad line, if it comes before its own error.
    if let Some(e) = first_conflict(&b.points, &a.types) {
        return Err(e);
    }
    if let Some(e) = b.error {
        return Err(e);
    }
    let mut points = a.points;
    points.extend(b.points);
    Ok(points)
}

fn parse_chunk<'a>(
    lines: &[(usize, &'a str)],
    units: Units,
    stored: &(impl Fn(&str, &str) -> Option<FieldType> + Sync),
) -> Chunk<'a> {
    let mut chunk = Chunk {
        points: Vec::with_capacity(lines.len()),
        error: None,
        types: HashMap::new(),
    };
    let mut last_shape: Shape = None;
    for &(line, raw) in lines {
        match parse_line(line, raw, units, stored, &mut chunk.types, &mut last_shape) {
            Ok(Some(p)) => chunk.points.push(p),
            Ok(None) => {}
            Err(e) => {
                chunk.error = Some(e);
                break;
            }
        }
    }
    chunk
}

fn first_conflict(points: &[Point<'_>], types: &Types) -> Option<WriteError> {
    let mut last_ok: Shape = None;
    for p in points {
        let same = last_ok.as_ref().is_some_and(|(m, shape)| {
            *m == p.measurement
                && shape.len() == p.fields.len()
                && shape
                    .iter()
                    .zip(&p.fields)
                    .all(|((f, t), (name, value))| f == name && *t == type_of(value))
        });
        if same {
            continue;
        }
        let known = types.get(p.measurement.as_ref());
        for (field, value) in &p.fields {
            let input = type_of(value);
            if let Some(existing) = known.and_then(|k| k.get(field.as_ref()))
                && *existing != input
            {
                return Some(WriteError::TypeConflict {
                    line: p.line,
                    measurement: p.measurement.to_string(),
                    field: field.to_string(),
                    input,
                    existing: *existing,
                });
            }
        }
        last_ok = Some((
            p.measurement.to_string(),
            p.fields
                .iter()
                .map(|(f, v)| (f.to_string(), type_of(v)))
                .collect(),
        ));
    }
    None
}

/// One line: `None` for blank and comment lines.
fn parse_line<'a>(
    line: usize,
    raw: &'a str,
    units: Units,
    stored: &impl Fn(&str, &str) -> Option<FieldType>,
    types: &mut Types,
    last_shape: &mut Shape,
) -> Result<Option<Point<'a>>, WriteError> {
    let Units {
        factor,
        default_time,
    } = units;
    let parse_error = |reason: String| WriteError::Parse {
        line,
        text: excerpt(raw.trim()),
        reason,
    };
    // `parse_lines` skips blank and comment lines; `split_lines` already made `raw`
    // exactly one line, so there is at most one result.
    let Some(parsed) = lp::parse_lines(raw).next() else {
        return Ok(None);
    };
    let parsed = parsed.map_err(|e| parse_error(e.to_string()))?;
    let measurement = cow(parsed.series.measurement);
    let mut tags: Vec<(Cow<'a, str>, Cow<'a, str>)> = parsed
        .series
        .tag_set
        .into_iter()
        .flatten()
        .map(|(k, v)| (cow(k), cow(v)))
        .collect();
    tags.sort_by(|a, b| a.0.cmp(&b.0));
    if tags.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(parse_error("duplicate tags".into()));
    }
    if tags.iter().any(|(k, _)| k == "time") {
        return Err(parse_error(format!(
            "invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid"
        )));
    }
    let mut fields: Vec<(Cow<'a, str>, Value)> = Vec::with_capacity(parsed.field_set.len());
    for (key, value) in parsed.field_set {
        let key = cow(key);
        if key == "time" {
            return Err(parse_error(format!(
                "invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid"
            )));
        }
        let value = match value {
            lp::FieldValue::F64(f) if !f.is_finite() => {
                return Err(parse_error("invalid number".into()));
            }
            lp::FieldValue::F64(f) => Value::Float(f),
            lp::FieldValue::I64(i) => Value::Integer(i),
            lp::FieldValue::U64(u) => Value::Unsigned(u),
            lp::FieldValue::Boolean(b) => Value::Bool(b),
            lp::FieldValue::String(s) => Value::String(s.to_string()),
        };
        match fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => fields.push((key, value)),
        }
    }
    // Most lines repeat the previous line's measurement and field set: then the
    // types were checked already and nothing needs looking up.
    let same_shape = last_shape.as_ref().is_some_and(|(m, shape)| {
        m == &measurement
            && shape.len() == fields.len()
            && shape
                .iter()
                .zip(&fields)
                .all(|((f, t), (name, value))| f == name && *t == type_of(value))
    });
    if !same_shape {
        if !types.contains_key(measurement.as_ref()) {
            types.insert(measurement.to_string(), HashMap::new());
        }
        let known = types.get_mut(measurement.as_ref()).expect("inserted above");
        for (field, value) in &fields {
            let input = type_of(value);
            let existing = match known.get(field.as_ref()) {
                Some(t) => *t,
                None => {
                    let t = stored(&measurement, field).unwrap_or(input);
                    known.insert(field.to_string(), t);
                    t
                }
            };
            if existing != input {
                return Err(WriteError::TypeConflict {
                    line,
                    measurement: measurement.into_owned(),
                    field: field.to_string(),
                    input,
                    existing,
                });
            }
        }
        *last_shape = Some((
            measurement.to_string(),
            fields
                .iter()
                .map(|(f, v)| (f.to_string(), type_of(v)))
                .collect(),
        ));
    }
    let time_ns = match parsed.timestamp {
        None => default_time,
        Some(t) => t
            .checked_mul(factor)
            .filter(|t| (MIN_TIME_NS..=MAX_TIME_NS).contains(t))
            .ok_or_else(|| parse_error("time outside range".into()))?,
    };
    Ok(Some(Point {
        line,
        measurement,
        tags,
        fields,
        time_ns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_123_456_789;

    fn parse(body: &str) -> Result<Vec<Point<'_>>, WriteError> {
        parse_batch(body, Precision::Nanoseconds, NOW, |_, _| None)
    }

    fn error_line(body: &str) -> (usize, String) {
        match parse(body).unwrap_err() {
            WriteError::Parse { line, .. } => (line, parse(body).unwrap_err().to_string()),
            WriteError::TypeConflict { line, .. } => (line, parse(body).unwrap_err().to_string()),
            other => panic!("{body:?}: unexpected {other}"),
        }
    }

    #[test]
    fn points_have_sorted_tags_typed_fields_and_times() {
        let points = parse(
            "# a comment\n\nping,target=b,agent=a rtt=1.5,n=3i,u=7u,ok=true,s=\"x y\" 1000\nping v=2\n",
        )
        .unwrap();
        assert_eq!(points.len(), 2);
        let p = &points[0];
        assert_eq!(p.line, 3);
        assert_eq!(p.measurement, "ping");
        assert_eq!(
            p.tags,
            vec![("agent".into(), "a".into()), ("target".into(), "b".into())]
        );
        assert_eq!(
            p.fields,
            vec![
                ("rtt".into(), Value::Float(1.5)),
                ("n".into(), Value::Integer(3)),
                ("u".into(), Value::Unsigned(7)),
                ("ok".into(), Value::Bool(true)),
                ("s".into(), Value::String("x y".into())),
            ]
        );
        assert_eq!(p.time_ns, 1000);
        assert_eq!(points[1].time_ns, NOW);
        assert_eq!(points[1].line, 4);
    }

    #[test]
    fn escapes_are_resolved() {
        let p = &parse("we\\ ather,lo\\,c=a\\=b f\\=x=\"say \\\"hi\\\"\" 1").unwrap()[0];
        assert_eq!(p.measurement, "we ather");
        assert_eq!(p.tags, vec![("lo,c".into(), "a=b".into())]);
        assert_eq!(
            p.fields,
            vec![("f=x".into(), Value::String("say \"hi\"".into()))]
        );
    }

    #[test]
    fn every_precision_scales_timestamps() {
        let cases = [
            (Some("n"), Dialect::V1, 1),
            (Some("ns"), Dialect::V2, 1),
            (None, Dialect::V2, 1),
            (Some("u"), Dialect::V1, 1_000),
            (Some("us"), Dialect::V2, 1_000),
            (Some("ms"), Dialect::V2, 1_000_000),
            (Some("s"), Dialect::V1, 1_000_000_000),
            (Some("m"), Dialect::V1, 60_000_000_000),
            (Some("h"), Dialect::V1, 3_600_000_000_000),
        ];
        for (value, dialect, factor) in cases {
            let precision = Precision::parse(value, dialect).unwrap();
            let points = parse_batch("m v=1 7\nm v=2", precision, NOW, |_, _| None).unwrap();
            assert_eq!(points[0].time_ns, 7 * factor, "{value:?}");
            // Missing timestamps are `now` truncated to the precision.
            assert_eq!(points[1].time_ns, NOW - NOW % factor, "{value:?}");
        }
        for (bad, dialect) in [
            ("m", Dialect::V2),
            ("h", Dialect::V2),
            ("x", Dialect::V1),
            ("sec", Dialect::V2),
        ] {
            let err = Precision::parse(Some(bad), dialect).unwrap_err();
            assert!(err.to_string().contains("invalid precision"), "{bad}");
        }
    }

    #[test]
    fn the_first_bad_line_is_named_with_its_number() {
        let cases = [
            ("m v=1 1\nm v= 2\nm v=3 3", 2, "m v= 2"),
            ("m v=1 1\n\n# c\nbad line\n", 4, "bad line"),
            ("m,t v=1", 1, "m,t v=1"),
            ("m v=1 1\nm,a=1,a=2 v=1 5", 2, "duplicate tags"),
            ("m v=99999999999999999999i 5", 1, "99999999999999999999"),
            ("m v=1 99999999999999999999", 1, "Unable to parse timestamp"),
            ("m v=1 9223372036854775807", 1, "time outside range"),
            ("m v=1 10000000000", 1, ""),
            ("m time=1 5", 1, "invalid field name"),
            ("m,time=x v=1 5", 1, "invalid tag key"),
            ("m v=\"a\nb\" 1\nm v= 2", 3, "m v= 2"),
            ("m", 1, ""),
            (" m v=1\nm v=1 1 1", 2, ""),
        ];
        for (body, line, needle) in cases {
            if body == "m v=1 10000000000" {
                // Fits at nanosecond precision; hours overflow.
                let err = parse_batch(body, Precision::Hours, NOW, |_, _| None).unwrap_err();
                assert!(matches!(err, WriteError::Parse { line: 1, .. }), "{err}");
                continue;
            }
            let (got, message) = error_line(body);
            assert_eq!(got, line, "{body:?}: {message}");
            assert!(message.starts_with(&format!("line {line}: ")), "{message}");
            assert!(message.contains(needle), "{body:?}: {message}");
        }
    }

    #[test]
    fn non_finite_floats_are_refused() {
        for body in ["m v=NaN 1", "m v=inf 1", "m v=-Inf 1"] {
            assert!(parse(body).is_err(), "{body}");
        }
    }

    #[test]
    fn duplicate_fields_keep_the_last_value() {
        let p = &parse("m v=1,w=2,v=3 1").unwrap()[0];
        assert_eq!(
            p.fields,
            vec![
                ("v".into(), Value::Float(3.0)),
                ("w".into(), Value::Float(2.0))
            ]
        );
    }

    #[test]
    fn type_conflicts_within_a_batch_and_against_the_store() {
        let err = parse("m v=1 1\nm v=2i 2").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2: field type conflict: input field \"v\" on measurement \"m\" is type integer, already exists as type float"
        );
        // Same field name on another measurement is another field.
        parse("m v=1 1\nn v=2i 2").unwrap();
        let stored = |m: &str, f: &str| (m == "m" && f == "w").then_some(FieldType::String);
        let err =
            parse_batch("m v=1 1\nm w=true 2", Precision::Nanoseconds, NOW, stored).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("line 2: field type conflict: input field \"w\" on measurement \"m\" is type boolean, already exists as type string"),
            "{err}"
        );
        // At parse time, the first line in conflict with the store is the error, even
        // when a later line does not parse.
        let err = parse_batch("m v=1i 1\nm v= 2", Precision::Nanoseconds, NOW, |_, _| {
            Some(FieldType::Float)
        })
        .unwrap_err();
        assert!(
            matches!(err, WriteError::TypeConflict { line: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn bodies_are_gunzipped_under_a_cap() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(decode_body(b"m v=1", false, 100).unwrap(), "m v=1");
        assert_eq!(decode_body(&gz(b"m v=1"), true, 100).unwrap(), "m v=1");
        let mut two = gz(b"m v=1\n");
        two.extend(gz(b"m v=2"));
        assert_eq!(decode_body(&two, true, 100).unwrap(), "m v=1\nm v=2");
        // 10 MiB of zeros compress to ~10 KiB; the cap stops the inflation.
        let bomb = gz(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        assert!(matches!(
            decode_body(&bomb, true, 1 << 20),
            Err(WriteError::TooLarge { .. })
        ));
        assert!(matches!(
            decode_body(&[b'x'; 101], false, 100),
            Err(WriteError::TooLarge { .. })
        ));
        assert!(matches!(
            decode_body(b"not gzip", true, 100),
            Err(WriteError::BadRequest(_))
        ));
        assert!(matches!(
            decode_body(b"m v=\xff", false, 100),
            Err(WriteError::BadRequest(_))
        ));
    }

    /// A body of `n` good lines with some lines replaced: (line number from 1, text).
    fn big_body(n: usize, replace: &[(usize, &str)]) -> String {
        (1..=n)
            .map(|i| {
                replace.iter().find(|(l, _)| *l == i).map_or_else(
                    || format!("m,s=s{} v={i}.5,n={i}i {i}\n", i % 7),
                    |(_, t)| format!("{t}\n"),
                )
            })
            .collect()
    }

    #[test]
    fn large_bodies_parse_in_two_halves_with_the_same_outcome() {
        let n = 2 * PARALLEL_LINES + 11;
        let body = big_body(n, &[]);
        let points = parse(&body).unwrap();
        assert_eq!(points.len(), n);
        assert!(
            points
                .iter()
                .enumerate()
                .all(|(i, p)| p.line == i + 1 && p.time_ns == i as i64 + 1)
        );
        let late = n - 10;
        let mid = n / 2 + 5;
        let cases: Vec<(Vec<(usize, &str)>, usize)> = vec![
            // A bad line in either half.
            (vec![(late, "broken")], late),
            (vec![(3, "broken")], 3),
            (vec![(3, "broken"), (late, "broken")], 3),
            // A type introduced in the first half, contradicted in the second.
            (vec![(mid, "m v=1i 1")], mid),
            (vec![(mid, "m v=1i 1"), (late, "broken")], mid),
            (vec![(late, "m v=1i 1"), (mid, "broken")], mid),
            // A new field typed in the first half, contradicted in the second.
            (vec![(10, "m w=true 1"), (mid + 1, "m w=1 1")], mid + 1),
            // Within the second half only.
            (vec![(mid, "m x=1 1"), (late, "m x=\"s\" 1")], late),
        ];
        for (replace, line) in cases {
            let err = parse(&big_body(n, &replace)).unwrap_err();
            let got = match &err {
                WriteError::Parse { line, .. } | WriteError::TypeConflict { line, .. } => *line,
                other => panic!("{other}"),
            };
            assert_eq!(got, line, "{replace:?}: {err}");
        }
        // Stored types apply in both halves.
        let err = parse_batch(&big_body(n, &[]), Precision::Nanoseconds, NOW, |_, f| {
            (f == "n").then_some(FieldType::Float)
        })
        .unwrap_err();
        assert!(
            matches!(err, WriteError::TypeConflict { line: 1, .. }),
            "{err}"
        );
    }

    /// Every part of `body` (gzipped when `gzip`) cut at `target` bytes, parsed, as
    /// (line, measurement, fields) — or the first error's text.
    fn parse_in_parts(
        body: &[u8],
        gzip: bool,
        max: usize,
        target: usize,
    ) -> Result<Vec<String>, String> {
        let mut parts = BodyChunks::new(body, gzip, max, target);
        let mut out = Vec::new();
        while let Some(part) = parts.next_chunk().map_err(|e| e.to_string())? {
            assert!(part.first_line >= 1);
            let points = parse_lines_from(
                &part.text,
                part.first_line,
                Precision::Nanoseconds,
                NOW,
                |_, _| None,
            )
            .map_err(|e| e.to_string())?;
            out.extend(
                points
                    .iter()
                    .map(|p| format!("{} {} {:?} {:?}", p.line, p.measurement, p.tags, p.fields)),
            );
        }
        Ok(out)
    }

    #[test]
    fn a_body_read_in_parts_parses_as_the_whole_body() {
        use std::io::Write;
        let gz = |data: &[u8]| {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let body = "# comment\n\nm,t=ü v=1,s=\"a\nb,c=d\" 1\nm v=2 2\n\n\
                    n,k=\\ x s=\"é\\\"\n\" 3\nm v=3\nlast s=\"ends\nwithout newline\"";
        let whole: Vec<String> = parse(body)
            .unwrap()
            .iter()
            .map(|p| format!("{} {} {:?} {:?}", p.line, p.measurement, p.tags, p.fields))
            .collect();
        assert_eq!(whole.len(), 5);
        for target in 1..=body.len() + 1 {
            for gzip in [false, true] {
                let input = if gzip {
                    gz(body.as_bytes())
                } else {
                    body.as_bytes().to_vec()
                };
                let got = parse_in_parts(&input, gzip, 1 << 20, target).unwrap();
                assert_eq!(got, whole, "target {target}, gzip {gzip}");
            }
        }
        // Errors name the same line, wherever the parts are cut.
        let bad = "m v=1 1\nm s=\"x\ny\" 2\nm v= 3\n";
        for target in 1..=bad.len() {
            let err = parse_in_parts(bad.as_bytes(), false, 100, target).unwrap_err();
            assert!(err.starts_with("line 4: "), "target {target}: {err}");
        }
        // Invalid UTF-8 is refused with its offset, a cut character is not.
        for target in 1..8 {
            let err = parse_in_parts(b"m v=1 1\nm s=\"\xff\" 2", false, 100, target).unwrap_err();
            assert!(err.contains("offset 13"), "{err}");
            assert!(
                parse_in_parts("m s=\"ééé\" 1\nm v=1 2".as_bytes(), false, 100, target).is_ok()
            );
        }
        // The cap holds for parts as for the whole body, gzip bombs included.
        let bomb = gz(&vec![b'\n'; 10 << 20]);
        let err = parse_in_parts(&bomb, true, 1 << 20, 4096).unwrap_err();
        assert!(
            err.contains("larger than the limit of 1048576 bytes"),
            "{err}"
        );
        assert!(parse_in_parts(&[b'\n'; 100], false, 100, 7).is_ok());
        assert!(parse_in_parts(&[b'\n'; 101], false, 100, 7).is_err());
        assert!(
            parse_in_parts(b"not gzip", true, 100, 7)
                .unwrap_err()
                .contains("decompress")
        );
    }

    #[test]
    fn long_lines_are_quoted_in_part() {
        let body = format!("m v={}", "1".repeat(5000));
        let err = parse(&body).unwrap_err().to_string();
        assert!(err.len() < 400, "{err}");
    }
}
