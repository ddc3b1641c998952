//! Property tests: points go through our encoder and come back through InfluxData's own
//! parser (`influxdb-line-protocol`, the parser of InfluxDB 3) unchanged: measurement,
//! tag set, field set with types, timestamp.
//!
//! Two properties:
//! - every point within the documented rules encodes, and round-trips exactly;
//! - any point at all, made of hostile text (backslashes, control characters, NaN,
//!   duplicate keys, extreme times), either is refused or round-trips exactly: the
//!   encoder never writes a line that reads back as something else.

use influxdb_line_protocol::{FieldValue as Parsed, ParsedLine, parse_lines};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use streamswarm_tsdb::line_protocol::{FieldValue, Point, Precision, Timestamp};

/// Characters that need escaping somewhere, plus unicode, mixed with plain letters.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        3 => prop::char::range('a', 'z'),
        1 => prop::sample::select(vec![
            ',', '=', ' ', '"', '#', '\'', '_', '-', '.', 'A', 'Z', '0', '9', 'é', 'ß', '温',
            '🚀', '\u{a0}', '\u{2003}',
        ]),
    ]
}

/// Text within the rules: no control characters, and backslashes only before a letter.
fn valid_text(min: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => name_char().prop_map(String::from),
        1 => prop::char::range('a', 'z').prop_map(|c| format!("\\{c}")),
    ];
    prop::collection::vec(piece, min..8).prop_map(|pieces| pieces.concat())
}

fn valid_key() -> impl Strategy<Value = String> {
    valid_text(1).prop_filter("reserved by InfluxDB", |k| {
        !["time", "_measurement", "_field"].contains(&k.as_str())
    })
}

fn valid_measurement() -> impl Strategy<Value = String> {
    valid_text(1).prop_filter("a leading # makes a comment", |m| !m.starts_with('#'))
}

/// Anything, including what the encoder must refuse.
fn hostile_text() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        4 => name_char(),
        2 => Just('\\'),
        1 => prop::sample::select(vec!['\t', '\n', '\r', '\0', '\u{7f}', '\u{85}']),
        1 => any::<char>(),
    ];
    prop::collection::vec(c, 0..8).prop_map(String::from_iter)
}

fn finite_f64() -> impl Strategy<Value = f64> {
    use prop::num::f64::{NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO
}

fn field_value(
    string: BoxedStrategy<String>,
    float: BoxedStrategy<f64>,
) -> impl Strategy<Value = FieldValue> {
    prop_oneof![
        float.prop_map(FieldValue::Float),
        any::<i64>().prop_map(FieldValue::Integer),
        any::<u64>().prop_map(FieldValue::Unsigned),
        any::<bool>().prop_map(FieldValue::Bool),
        string.prop_map(FieldValue::String),
    ]
}

/// String values within the rules: anything but a newline, quotes and backslashes often.
fn valid_string_value() -> BoxedStrategy<String> {
    let c = prop_oneof![
        4 => name_char(),
        1 => prop::sample::select(vec!['\\', '"', '\t', '\r', '\0']),
        1 => any::<char>().prop_filter("newline", |c| *c != '\n'),
    ];
    prop::collection::vec(c, 0..12)
        .prop_map(String::from_iter)
        .boxed()
}

fn precision() -> impl Strategy<Value = Precision> {
    prop::sample::select(Precision::ALL.to_vec())
}

/// Times whose rounding stays within InfluxDB's range at every precision.
fn valid_nanos() -> impl Strategy<Value = i64> {
    -9_000_000_000_000_000_000..9_000_000_000_000_000_000i64
}

fn build(
    measurement: String,
    tags: Vec<(String, String)>,
    fields: Vec<(String, FieldValue)>,
    nanos: i64,
) -> Point {
    let point = tags
        .into_iter()
        .fold(Point::new_dynamic(measurement), |p, (k, v)| {
            p.tag_dynamic(k, v)
        });
    fields
        .into_iter()
        .fold(point, |p, (k, v)| p.field_dynamic(k, v))
        .timestamp(Timestamp::from_nanos(nanos))
}

/// A field value as comparable data: floats by their bits, so `-0.0` and `0.0` differ.
#[derive(Debug, PartialEq)]
enum Value {
    Float(u64),
    Integer(i64),
    Unsigned(u64),
    Bool(bool),
    String(String),
}

impl From<&FieldValue> for Value {
    fn from(v: &FieldValue) -> Self {
        match v {
            FieldValue::Float(f) => Value::Float(f.to_bits()),
            FieldValue::Integer(i) => Value::Integer(*i),
            FieldValue::Unsigned(u) => Value::Unsigned(*u),
            FieldValue::Bool(b) => Value::Bool(*b),
            FieldValue::String(s) => Value::String(s.clone()),
        }
    }
}

impl From<&Parsed<'_>> for Value {
    fn from(v: &Parsed<'_>) -> Self {
        match v {
            Parsed::F64(f) => Value::Float(f.to_bits()),
            Parsed::I64(i) => Value::Integer(*i),
            Parsed::U64(u) => Value::Unsigned(*u),
            Parsed::Boolean(b) => Value::Bool(*b),
            Parsed::String(s) => Value::String(s.to_string()),
        }
    }
}

/// What the parser read must be exactly the point: empty tags left out, tags in key
/// order, fields in insertion order with their types, the time at `precision`.
fn assert_same(
    parsed: &ParsedLine<'_>,
    point: &Point,
    precision: Precision,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(parsed.series.measurement.as_str(), point.measurement());

    let tags: Vec<(String, String)> = parsed
        .series
        .tag_set
        .iter()
        .flatten()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let expected_tags: Vec<(String, String)> = point
        .tags()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    prop_assert_eq!(tags, expected_tags);

    let fields: Vec<(String, Value)> = parsed
        .field_set
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(v)))
        .collect();
    let expected_fields: Vec<(String, Value)> = point
        .fields()
        .map(|(k, v)| (k.to_owned(), Value::from(v)))
        .collect();
    prop_assert_eq!(fields, expected_fields);

    let nanos = point.time().unwrap().as_nanos();
    prop_assert_eq!(
        parsed.timestamp,
        Some(nanos.div_euclid(precision.nanos_per_unit()))
    );
    Ok(())
}

fn parse_one(text: &str) -> Result<ParsedLine<'_>, TestCaseError> {
    prop_assert!(text.ends_with('\n'), "line without newline: {:?}", text);
    let mut lines: Vec<_> = parse_lines(text).collect();
    prop_assert_eq!(lines.len(), 1, "{:?} is not one line", text);
    lines
        .pop()
        .unwrap()
        .map_err(|e| TestCaseError::fail(format!("parser refused {text:?}: {e}")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn points_within_the_rules_round_trip(
        measurement in valid_measurement(),
        tags in prop::collection::btree_map(valid_key(), prop_oneof![valid_text(0), valid_text(1)], 0..5)
            .prop_map(|m| m.into_iter().collect::<Vec<_>>())
            .prop_shuffle(),
        fields in prop::collection::btree_map(
                valid_key(),
                field_value(valid_string_value(), finite_f64().boxed()),
                1..6,
            )
            .prop_map(|m| m.into_iter().collect::<Vec<_>>())
            .prop_shuffle(),
        nanos in valid_nanos(),
        precision in precision(),
    ) {
        let point = build(measurement, tags, fields, nanos);
        let text = point
            .to_line(precision)
            .map_err(|e| TestCaseError::fail(format!("refused {point:?}: {e}")))?;
        assert_same(&parse_one(&text)?, &point, precision)?;
    }

    #[test]
    fn any_point_is_refused_or_round_trips(
        measurement in hostile_text(),
        tags in prop::collection::vec((hostile_text(), hostile_text()), 0..4),
        fields in prop::collection::vec(
            (hostile_text(), field_value(hostile_text().boxed(), any::<f64>().boxed())),
            0..4,
        ),
        nanos in any::<i64>(),
        precision in precision(),
    ) {
        let point = build(measurement, tags, fields, nanos);
        if let Ok(text) = point.to_line(precision) {
            assert_same(&parse_one(&text)?, &point, precision)?;
        }
    }

    #[test]
    fn a_batch_parses_back_line_by_line(
        points in prop::collection::vec(
            (
                valid_measurement(),
                prop::collection::btree_map(valid_key(), valid_text(1), 0..3),
                prop::collection::btree_map(
                    valid_key(),
                    field_value(valid_string_value(), finite_f64().boxed()),
                    1..3,
                ),
                valid_nanos(),
            ),
            1..6,
        ),
        precision in precision(),
    ) {
        let points: Vec<Point> = points
            .into_iter()
            .map(|(m, t, f, n)| build(m, t.into_iter().collect(), f.into_iter().collect(), n))
            .collect();
        let mut batch = Vec::<u8>::new();
        for point in &points {
            point.encode(&mut batch, precision).map_err(|e| TestCaseError::fail(e.to_string()))?;
        }
        let text = String::from_utf8(batch).unwrap();
        let parsed: Vec<_> = parse_lines(&text).collect();
        prop_assert_eq!(parsed.len(), points.len());
        for (line, point) in parsed.iter().zip(&points) {
            let line = line.as_ref().map_err(|e| TestCaseError::fail(e.to_string()))?;
            assert_same(line, point, precision)?;
        }
    }

    #[test]
    fn nan_and_infinities_are_refused(
        value in prop::sample::select(vec![f64::NAN, -f64::NAN, f64::INFINITY, f64::NEG_INFINITY]),
        precision in precision(),
    ) {
        let point = Point::new_dynamic("m")
            .field_dynamic("f", value)
            .timestamp(Timestamp::from_nanos(0));
        prop_assert!(point.to_line(precision).is_err());
    }
}
