//! InfluxDB line protocol encoder.
//!
//! **Invariant: this module does no I/O.** It turns [`Point`]s into bytes appended to a
//! caller's buffer, and nothing else: no clock (the caller stamps every point), no
//! files, no network. Spooling and delivery live elsewhere and can be tested apart.
//!
//! Probes build points through the typed path: `Point::new(ping::MEASUREMENT)` with the
//! keys generated from `schema/measurements.toml`, so a name the schema does not list, a
//! key of another measurement or a value of the wrong type does not compile. The
//! untyped path ([`Point::new_dynamic`]) serves code whose names are data (the embedded
//! store, analytics writing results back); check such points with
//! [`crate::validate_against_schema`].
//!
//! # Format decisions
//!
//! | element | escaped with `\` | refused (an [`EncodeError`]) |
//! |---|---|---|
//! | measurement | `,` and space | empty, control characters, a leading `#` (the line would be a comment) |
//! | tag key, field key | `,` `=` and space | empty, control characters, the reserved `time`, `_measurement`, `_field` |
//! | tag value | `,` `=` and space | control characters; an **empty value omits the tag** |
//! | string field value | `"` and `\` | a newline |
//!
//! - Control characters (tab, newline, NUL, …) cannot be escaped in names: InfluxData's
//!   parsers end a name at a tab or newline whatever precedes it. The line protocol
//!   reference does not support newlines in field values either, so string values with
//!   a newline are refused rather than silently altered; probes flatten messages first.
//! - An empty tag value is omitted, not refused: InfluxDB rejects `tag=` but treats a
//!   missing tag and an empty one alike in queries, so omitting writes exactly what the
//!   caller meant. The schema check then counts the tag as absent.
//! - Backslashes in names: the Go parser (InfluxDB 1.x/2.x) keeps `\\` as two
//!   backslashes, InfluxDB 3's Rust parser reads it as one. A backslash that ends a name,
//!   or comes before another backslash or before a character the element escapes, has
//!   no encoding both read alike, so it is refused ([`EncodeError::AmbiguousBackslash`]).
//!   Any other backslash (`C:\Windows`) is written as is and read back as is by both.
//! - Tags are written sorted by key in byte order, as InfluxDB stores them (it sorts on
//!   every write otherwise). Fields keep the order they were added in. A key set twice
//!   is an error, not "last wins": it is always a bug in the caller.
//! - Integers get `i`, unsigned integers `u`, booleans are `true`/`false`. Floats use
//!   the shortest text that parses back to the same `f64` (Rust's `{:?}`), always with a
//!   `.` or an exponent (`1.0`, `1e-7`), so a float never looks like an integer to a
//!   reader. NaN and ±infinity have no line protocol form and are refused.
//! - A point needs at least one field and a timestamp. The timestamp is written in the
//!   [`Precision`] the caller passes to [`Point::encode`] (the same value must go in the
//!   write request's `precision` parameter), rounded toward the past, so a point never
//!   lands later than it was measured. Times InfluxDB cannot hold are refused.
//! - On any error the buffer is left as it was, so one bad point never corrupts a batch.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::time::{SystemTime, UNIX_EPOCH};
use streamswarm_schema::measurements::{FieldKey, FieldRustType, FieldType, Measurement, TagKey};

/// Marker of untyped points: names are data, checked at encode time and against the
/// schema by [`crate::validate_against_schema`], not by the compiler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dynamic;

/// A field value with its line protocol type.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Float(f64),
    Integer(i64),
    Unsigned(u64),
    Bool(bool),
    String(String),
}

impl FieldValue {
    pub fn field_type(&self) -> FieldType {
        match self {
            FieldValue::Float(_) => FieldType::Float,
            FieldValue::Integer(_) => FieldType::Integer,
            FieldValue::Unsigned(_) => FieldType::Unsigned,
            FieldValue::Bool(_) => FieldType::Bool,
            FieldValue::String(_) => FieldType::String,
        }
    }
}

impl From<f64> for FieldValue {
    fn from(v: f64) -> Self {
        FieldValue::Float(v)
    }
}
impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::Integer(v)
    }
}
impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        FieldValue::Unsigned(v)
    }
}
impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}
impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::String(v)
    }
}
impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::String(v.to_owned())
    }
}

/// Nanoseconds since the Unix epoch: the time a value was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// The earliest and latest nanosecond InfluxDB accepts (its Go `MinNanoTime` and
/// `MaxNanoTime`: the two ends of `i64` are reserved as sentinels).
const MIN_NANOS: i64 = i64::MIN + 2;
const MAX_NANOS: i64 = i64::MAX - 1;

impl Timestamp {
    pub const fn from_nanos(nanos: i64) -> Self {
        Self(nanos)
    }

    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// `None` when the time is outside what `i64` nanoseconds can hold (before 1677 or
    /// after 2262).
    pub fn from_system_time(time: SystemTime) -> Option<Self> {
        let nanos = match time.duration_since(UNIX_EPOCH) {
            Ok(after) => i64::try_from(after.as_nanos()).ok()?,
            Err(before) => i64::try_from(before.duration().as_nanos())
                .ok()?
                .checked_neg()?,
        };
        Some(Self(nanos))
    }

    /// The number written for this time at `precision`, rounded toward the past; `None`
    /// when InfluxDB could not hold the result.
    pub fn in_precision(self, precision: Precision) -> Option<i64> {
        let unit = precision.nanos_per_unit();
        let value = self.0.div_euclid(unit);
        let back = value.checked_mul(unit)?;
        (MIN_NANOS..=MAX_NANOS).contains(&back).then_some(value)
    }
}

/// The unit of the timestamps in a write request. Coarser precision compresses better;
/// the agent picks one and sends the same value as the request's `precision` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    Nanoseconds,
    Microseconds,
    Milliseconds,
    Seconds,
}

impl Precision {
    pub const ALL: [Precision; 4] = [
        Precision::Nanoseconds,
        Precision::Microseconds,
        Precision::Milliseconds,
        Precision::Seconds,
    ];

    pub const fn nanos_per_unit(self) -> i64 {
        match self {
            Precision::Nanoseconds => 1,
            Precision::Microseconds => 1_000,
            Precision::Milliseconds => 1_000_000,
            Precision::Seconds => 1_000_000_000,
        }
    }

    /// The `precision` query parameter of the InfluxDB 2 `/api/v2/write` and InfluxDB 3
    /// write endpoints: `ns`, `us`, `ms`, `s`.
    pub const fn query_param(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "ns",
            Precision::Microseconds => "us",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
        }
    }

    /// The `precision` query parameter of the InfluxDB 1.x `/write` endpoint (also served
    /// by 2.x and 3.x for compatibility): `n`, `u`, `ms`, `s`. 1.x does not know `us`.
    pub const fn v1_query_param(self) -> &'static str {
        match self {
            Precision::Nanoseconds => "n",
            Precision::Microseconds => "u",
            Precision::Milliseconds => "ms",
            Precision::Seconds => "s",
        }
    }
}

/// Which part of a line a rejected text was meant for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Element {
    Measurement,
    TagKey,
    TagValue,
    FieldKey,
}

impl Element {
    /// The characters that end this element unless escaped.
    fn escaped_chars(self) -> &'static [char] {
        match self {
            Element::Measurement => &[',', ' '],
            Element::TagKey | Element::TagValue | Element::FieldKey => &[',', '=', ' '],
        }
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Element::Measurement => "measurement",
            Element::TagKey => "tag key",
            Element::TagValue => "tag value",
            Element::FieldKey => "field key",
        })
    }
}

/// Why a point cannot be written as line protocol. Each is a bug or bad data in the
/// caller; the agent counts such points as dropped (`encode_error`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EncodeError {
    #[error("point `{measurement}` has no field; line protocol needs at least one")]
    NoFields { measurement: String },
    #[error(
        "point `{measurement}` has no timestamp; stamp it with the time it was measured, not the time the store receives it"
    )]
    MissingTimestamp { measurement: String },
    #[error(
        "timestamp {nanos} ns at precision {precision:?} is outside the range InfluxDB accepts"
    )]
    TimestampOutOfRange { nanos: i64, precision: Precision },
    #[error("{element} is empty")]
    Empty { element: Element },
    #[error("{element} {text:?} contains a control character, which line protocol cannot carry")]
    ControlCharacter { element: Element, text: String },
    #[error(
        "{element} {text:?} has a backslash at its end or before `\\` or a character that must be escaped; InfluxDB versions read that differently"
    )]
    AmbiguousBackslash { element: Element, text: String },
    #[error("measurement {0:?} starts with `#`, which would make the line a comment")]
    CommentMeasurement(String),
    #[error("{element} {key:?} is reserved by InfluxDB")]
    ReservedKey { element: Element, key: String },
    #[error("tag {0:?} is set twice")]
    DuplicateTag(String),
    #[error("field {0:?} is set twice")]
    DuplicateField(String),
    #[error("field {field:?} is {value}; line protocol has no NaN or infinity")]
    NonFiniteFloat { field: String, value: f64 },
    #[error("string field {field:?} contains a newline, which line protocol does not support")]
    NewlineInString { field: String },
}

/// Keys InfluxDB reserves for its own columns; a point using one is dropped or refused.
const RESERVED_KEYS: &[&str] = &["time", "_measurement", "_field"];

/// A buffer lines can be appended to: `String` or `Vec<u8>`, reused across batches.
pub trait LineBuffer: sealed::Sealed {
    #[doc(hidden)]
    fn append(&mut self, s: &str);
    #[doc(hidden)]
    fn mark(&self) -> usize;
    #[doc(hidden)]
    fn rollback(&mut self, mark: usize);
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for String {}
    impl Sealed for Vec<u8> {}
}

impl LineBuffer for String {
    fn append(&mut self, s: &str) {
        self.push_str(s);
    }
    fn mark(&self) -> usize {
        self.len()
    }
    fn rollback(&mut self, mark: usize) {
        self.truncate(mark);
    }
}

impl LineBuffer for Vec<u8> {
    fn append(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }
    fn mark(&self) -> usize {
        self.len()
    }
    fn rollback(&mut self, mark: usize) {
        self.truncate(mark);
    }
}

/// Lets `write!` format numbers straight into a [`LineBuffer`] without a temporary.
struct Writer<'a, B>(&'a mut B);

impl<B: LineBuffer> fmt::Write for Writer<'_, B> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.append(s);
        Ok(())
    }
}

/// One point: measurement, tags, fields, timestamp. Built with chained calls, encoded
/// with [`Point::encode`]. `M` is the measurement's marker type from
/// `streamswarm_schema::measurements`, or [`Dynamic`].
///
/// ```
/// use streamswarm_schema::measurements::{ping, tag_values};
/// use streamswarm_tsdb::line_protocol::{Point, Precision, Timestamp};
///
/// let point = Point::new(ping::MEASUREMENT)
///     .tag(ping::tags::AGENT, "7")
///     .tag(ping::tags::TEST, "3")
///     .tag(ping::tags::TARGET, "example.org")
///     .tag(ping::tags::FAMILY, tag_values::family::IPV4)
///     .field(ping::fields::SENT, 5)
///     .field(ping::fields::RECEIVED, 5)
///     .field(ping::fields::DUPLICATES, 0)
///     .field(ping::fields::RTT_AVG_MS, 12.5)
///     .timestamp(Timestamp::from_nanos(1_700_000_000_123_456_789));
/// let mut buf = String::new();
/// point.encode(&mut buf, Precision::Milliseconds).unwrap();
/// assert_eq!(
///     buf,
///     "ping,agent=7,family=ipv4,target=example.org,test=3 \
///      sent=5i,received=5i,duplicates=0i,rtt_avg_ms=12.5 1700000000123\n"
/// );
/// ```
///
/// A value of the wrong type does not compile:
///
/// ```compile_fail
/// # use streamswarm_schema::measurements::ping;
/// # use streamswarm_tsdb::line_protocol::Point;
/// Point::new(ping::MEASUREMENT).field(ping::fields::SENT, 1.5);
/// ```
///
/// Nor does a key of another measurement:
///
/// ```compile_fail
/// # use streamswarm_schema::measurements::{host_cpu, ping};
/// # use streamswarm_tsdb::line_protocol::Point;
/// Point::new(ping::MEASUREMENT).field(host_cpu::fields::USAGE_PERCENT, 1.5);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Point<M = Dynamic> {
    measurement: Cow<'static, str>,
    /// Kept sorted by key, so encoding needs no sort and no allocation.
    tags: Vec<(Cow<'static, str>, String)>,
    fields: Vec<(Cow<'static, str>, FieldValue)>,
    timestamp: Option<Timestamp>,
    /// The first key set twice; building stays infallible and encoding reports it.
    duplicate: Option<EncodeError>,
    kind: PhantomData<fn() -> M>,
}

impl<M: Measurement> Point<M> {
    /// Starts a point of a measurement from the schema.
    pub fn new(_measurement: M) -> Self {
        Self::with_name(Cow::Borrowed(M::def().name))
    }

    /// Sets a tag; an empty value leaves the tag out of the line.
    pub fn tag(self, key: TagKey<M>, value: impl Into<String>) -> Self {
        self.add_tag(Cow::Borrowed(key.name()), value.into())
    }

    /// Sets the tag when there is a value.
    pub fn tag_opt(self, key: TagKey<M>, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.tag(key, v),
            None => self,
        }
    }

    /// Sets a field; the key decides the value's type (`f64`, `i64`, `u64`, `bool`,
    /// `String`), and anything converting to it losslessly is accepted.
    pub fn field<T>(self, key: FieldKey<M, T>, value: impl Into<T>) -> Self
    where
        T: FieldRustType + Into<FieldValue>,
    {
        self.add_field(Cow::Borrowed(key.name()), value.into().into())
    }

    /// Sets the field when there is a value: the schema's optional fields ("absent when
    /// no reply arrived").
    pub fn field_opt<T>(self, key: FieldKey<M, T>, value: Option<impl Into<T>>) -> Self
    where
        T: FieldRustType + Into<FieldValue>,
    {
        match value {
            Some(v) => self.field(key, v),
            None => self,
        }
    }
}

impl Point<Dynamic> {
    /// Starts a point whose names are data. Prefer [`Point::new`] wherever the
    /// measurement is in the schema.
    pub fn new_dynamic(measurement: impl Into<Cow<'static, str>>) -> Self {
        Self::with_name(measurement.into())
    }

    pub fn tag_dynamic(self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) -> Self {
        self.add_tag(key.into(), value.into())
    }

    pub fn field_dynamic(
        self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<FieldValue>,
    ) -> Self {
        self.add_field(key.into(), value.into())
    }
}

impl<M> Point<M> {
    fn with_name(measurement: Cow<'static, str>) -> Self {
        Self {
            measurement,
            tags: Vec::new(),
            fields: Vec::new(),
            timestamp: None,
            duplicate: None,
            kind: PhantomData,
        }
    }

    fn add_tag(mut self, key: Cow<'static, str>, value: String) -> Self {
        match self.tags.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(_) => self.note_duplicate(EncodeError::DuplicateTag(key.into_owned())),
            Err(at) => self.tags.insert(at, (key, value)),
        }
        self
    }

    fn add_field(mut self, key: Cow<'static, str>, value: FieldValue) -> Self {
        if self.fields.iter().any(|(k, _)| *k == key) {
            self.note_duplicate(EncodeError::DuplicateField(key.into_owned()));
        } else {
            self.fields.push((key, value));
        }
        self
    }

    fn note_duplicate(&mut self, error: EncodeError) {
        self.duplicate.get_or_insert(error);
    }

    /// Forgets the measurement type once the point is built with the typed keys, so a
    /// probe that writes several measurements (the host probe) can return one `Vec`.
    pub fn into_dynamic(self) -> Point<Dynamic> {
        Point {
            measurement: self.measurement,
            tags: self.tags,
            fields: self.fields,
            timestamp: self.timestamp,
            duplicate: self.duplicate,
            kind: PhantomData,
        }
    }

    /// Stamps the point with the time it was measured.
    pub fn timestamp(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    pub fn measurement(&self) -> &str {
        &self.measurement
    }

    /// Tags in key order, empty values included (encoding leaves those out).
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tags.iter().map(|(k, v)| (k.as_ref(), v.as_str()))
    }

    /// Fields in the order they were set.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &FieldValue)> {
        self.fields.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn tag_value(&self, key: &str) -> Option<&str> {
        self.tags().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn field_value(&self, key: &str) -> Option<&FieldValue> {
        self.fields().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn time(&self) -> Option<Timestamp> {
        self.timestamp
    }

    /// Appends the point as one line (ending in `\n`) with its timestamp in
    /// `precision`. On error the buffer is left exactly as it was.
    pub fn encode<B: LineBuffer>(
        &self,
        buf: &mut B,
        precision: Precision,
    ) -> Result<(), EncodeError> {
        let mark = buf.mark();
        let result = self.write(buf, precision);
        if result.is_err() {
            buf.rollback(mark);
        }
        result
    }

    /// The point as one line, `\n` included.
    pub fn to_line(&self, precision: Precision) -> Result<String, EncodeError> {
        let mut line = String::new();
        self.encode(&mut line, precision)?;
        Ok(line)
    }

    fn write<B: LineBuffer>(&self, out: &mut B, precision: Precision) -> Result<(), EncodeError> {
        use fmt::Write as _;

        if let Some(duplicate) = &self.duplicate {
            return Err(duplicate.clone());
        }
        let measurement = || self.measurement.clone().into_owned();
        if self.fields.is_empty() {
            return Err(EncodeError::NoFields {
                measurement: measurement(),
            });
        }
        let timestamp = self
            .timestamp
            .ok_or_else(|| EncodeError::MissingTimestamp {
                measurement: measurement(),
            })?;
        let time = timestamp
            .in_precision(precision)
            .ok_or(EncodeError::TimestampOutOfRange {
                nanos: timestamp.as_nanos(),
                precision,
            })?;

        check_text(Element::Measurement, &self.measurement)?;
        if self.measurement.starts_with('#') {
            return Err(EncodeError::CommentMeasurement(measurement()));
        }
        write_escaped(out, &self.measurement, Element::Measurement);

        for (key, value) in self.tags.iter().filter(|(_, v)| !v.is_empty()) {
            check_key(Element::TagKey, key)?;
            check_text(Element::TagValue, value)?;
            out.append(",");
            write_escaped(out, key, Element::TagKey);
            out.append("=");
            write_escaped(out, value, Element::TagValue);
        }

        for (i, (key, value)) in self.fields.iter().enumerate() {
            check_key(Element::FieldKey, key)?;
            out.append(if i == 0 { " " } else { "," });
            write_escaped(out, key, Element::FieldKey);
            out.append("=");
            // Writing into a LineBuffer cannot fail, so the fmt::Results are always Ok.
            match value {
                FieldValue::Float(v) if !v.is_finite() => {
                    return Err(EncodeError::NonFiniteFloat {
                        field: key.clone().into_owned(),
                        value: *v,
                    });
                }
                FieldValue::Float(v) => {
                    let _ = write!(Writer(out), "{v:?}");
                }
                FieldValue::Integer(v) => {
                    let _ = write!(Writer(out), "{v}i");
                }
                FieldValue::Unsigned(v) => {
                    let _ = write!(Writer(out), "{v}u");
                }
                FieldValue::Bool(v) => out.append(if *v { "true" } else { "false" }),
                FieldValue::String(v) => {
                    if v.contains('\n') {
                        return Err(EncodeError::NewlineInString {
                            field: key.clone().into_owned(),
                        });
                    }
                    out.append("\"");
                    write_escaped_with(out, v, &['"', '\\']);
                    out.append("\"");
                }
            }
        }

        let _ = writeln!(Writer(out), " {time}");
        Ok(())
    }
}

fn check_key(element: Element, key: &str) -> Result<(), EncodeError> {
    if RESERVED_KEYS.contains(&key) {
        return Err(EncodeError::ReservedKey {
            element,
            key: key.to_owned(),
        });
    }
    check_text(element, key)
}

/// The rules every name and tag value follow (see the module's table).
fn check_text(element: Element, text: &str) -> Result<(), EncodeError> {
    if text.is_empty() {
        return Err(EncodeError::Empty { element });
    }
    if text.chars().any(char::is_control) {
        return Err(EncodeError::ControlCharacter {
            element,
            text: text.to_owned(),
        });
    }
    let escaped = element.escaped_chars();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\'
            && chars
                .peek()
                .is_none_or(|n| *n == '\\' || escaped.contains(n))
        {
            return Err(EncodeError::AmbiguousBackslash {
                element,
                text: text.to_owned(),
            });
        }
    }
    Ok(())
}

fn write_escaped<B: LineBuffer>(out: &mut B, text: &str, element: Element) {
    write_escaped_with(out, text, element.escaped_chars());
}

/// Appends `text` with a backslash before each of `specials`, copying the runs between
/// them whole.
fn write_escaped_with<B: LineBuffer>(out: &mut B, text: &str, specials: &[char]) {
    let mut start = 0;
    for (at, special) in text.match_indices(specials) {
        out.append(&text[start..at]);
        out.append("\\");
        out.append(special);
        start = at + special.len();
    }
    out.append(&text[start..]);
}

#[cfg(test)]
mod tests;
