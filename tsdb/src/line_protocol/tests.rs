use super::*;
use streamswarm_schema::measurements::ping;

const T: Timestamp = Timestamp::from_nanos(1_700_000_000_123_456_789);

/// A one-field point named `m`, with the given tags.
fn with_tags(tags: &[(&str, &str)]) -> Point {
    tags.iter()
        .fold(Point::new_dynamic("m"), |p, (k, v)| {
            p.tag_dynamic(k.to_string(), *v)
        })
        .field_dynamic("f", 1i64)
        .timestamp(T)
}

fn line(point: &Point) -> Result<String, EncodeError> {
    point.to_line(Precision::Nanoseconds)
}

#[test]
fn encodes_exactly() {
    let ts = " 1700000000123456789\n";
    let cases: Vec<(&str, Point, String)> = vec![
        (
            "measurement: comma and space escaped, `=` and quotes not",
            Point::new_dynamic("cpu load,a=b\"")
                .field_dynamic("f", 1i64)
                .timestamp(T),
            format!(r#"cpu\ load\,a=b" f=1i{ts}"#),
        ),
        (
            "tag key and value: comma, equals, space escaped",
            with_tags(&[("k e=y,", "v a=l,ue")]),
            format!(r"m,k\ e\=y\,=v\ a\=l\,ue f=1i{ts}"),
        ),
        (
            "field key: comma, equals, space escaped",
            Point::new_dynamic("m")
                .field_dynamic("f i=e,ld", true)
                .timestamp(T),
            format!(r"m f\ i\=e\,ld=true{ts}"),
        ),
        (
            "string value: double quote and backslash escaped, the rest kept",
            Point::new_dynamic("m")
                .field_dynamic("s", r#"say "hi" \o/, a=b c	d"#)
                .timestamp(T),
            format!("m s=\"say \\\"hi\\\" \\\\o/, a=b c\td\"{ts}"),
        ),
        (
            "empty string value",
            Point::new_dynamic("m").field_dynamic("s", "").timestamp(T),
            format!(r#"m s=""{ts}"#),
        ),
        (
            "tags sorted by key in byte order (upper case first)",
            with_tags(&[("z", "1"), ("a", "2"), ("B", "3"), ("aa", "4")]),
            format!("m,B=3,a=2,aa=4,z=1 f=1i{ts}"),
        ),
        (
            "empty tag value leaves the tag out",
            with_tags(&[("a", ""), ("b", "x")]),
            format!("m,b=x f=1i{ts}"),
        ),
        (
            "only empty tag values: no tag set at all",
            with_tags(&[("a", "")]),
            format!("m f=1i{ts}"),
        ),
        (
            "a backslash before an ordinary character is written as is",
            with_tags(&[("path", r"C:\Windows")]),
            format!(r"m,path=C:\Windows f=1i{ts}"),
        ),
        (
            "a backslash before `=` in a measurement is ordinary there",
            Point::new_dynamic(r"a\=b")
                .field_dynamic("f", 1i64)
                .timestamp(T),
            format!(r"a\=b f=1i{ts}"),
        ),
        (
            "unicode passes through",
            with_tags(&[("capteur", "température °C ✓")]),
            format!(r"m,capteur=température\ °C\ ✓ f=1i{ts}"),
        ),
        (
            "fields keep their order; every type has its form",
            Point::new_dynamic("m")
                .field_dynamic("i", -5i64)
                .field_dynamic("u", 5u64)
                .field_dynamic("t", true)
                .field_dynamic("f", false)
                .field_dynamic("x", 2.5)
                .timestamp(T),
            format!("m i=-5i,u=5u,t=true,f=false,x=2.5{ts}"),
        ),
        (
            "extreme integers",
            Point::new_dynamic("m")
                .field_dynamic("a", i64::MIN)
                .field_dynamic("b", i64::MAX)
                .field_dynamic("c", u64::MAX)
                .timestamp(T),
            format!("m a=-9223372036854775808i,b=9223372036854775807i,c=18446744073709551615u{ts}"),
        ),
    ];
    for (what, point, expected) in cases {
        assert_eq!(line(&point).as_deref(), Ok(expected.as_str()), "{what}");
    }
}

#[test]
fn floats_are_shortest_round_trip_and_never_look_like_integers() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e16"),
        (1e21, "1e21"),
        (1e-7, "1e-7"),
        (123.456, "123.456"),
        (f64::MAX, "1.7976931348623157e308"),
        (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
        (5e-324, "5e-324"),
    ];
    for (value, expected) in cases {
        let point = Point::new_dynamic("m")
            .field_dynamic("x", *value)
            .timestamp(T);
        let line = line(&point).unwrap();
        let written = line
            .strip_prefix("m x=")
            .unwrap()
            .split(' ')
            .next()
            .unwrap();
        assert_eq!(written, *expected, "{value}");
        assert_eq!(written.parse::<f64>().unwrap().to_bits(), value.to_bits());
    }
}

#[test]
fn timestamps_are_written_in_the_requested_precision_rounded_toward_the_past() {
    let cases: &[(i64, Precision, &str)] = &[
        (
            1_700_000_000_123_456_789,
            Precision::Nanoseconds,
            "1700000000123456789",
        ),
        (
            1_700_000_000_123_456_789,
            Precision::Microseconds,
            "1700000000123456",
        ),
        (
            1_700_000_000_123_456_789,
            Precision::Milliseconds,
            "1700000000123",
        ),
        (1_700_000_000_999_999_999, Precision::Seconds, "1700000000"),
        (-1, Precision::Seconds, "-1"),
        (-1_000_000_000, Precision::Seconds, "-1"),
        (-1_000_000_001, Precision::Seconds, "-2"),
        (0, Precision::Milliseconds, "0"),
    ];
    for (nanos, precision, expected) in cases {
        let point = Point::new_dynamic("m")
            .field_dynamic("f", 1i64)
            .timestamp(Timestamp::from_nanos(*nanos));
        assert_eq!(
            point.to_line(*precision).unwrap(),
            format!("m f=1i {expected}\n"),
            "{nanos} at {precision:?}"
        );
    }
}

#[test]
fn precision_names_its_query_parameter() {
    let v2: Vec<_> = Precision::ALL.iter().map(|p| p.query_param()).collect();
    let v1: Vec<_> = Precision::ALL.iter().map(|p| p.v1_query_param()).collect();
    assert_eq!(v2, ["ns", "us", "ms", "s"]);
    assert_eq!(v1, ["n", "u", "ms", "s"]);
}

#[test]
fn timestamps_come_from_system_time() {
    use std::time::Duration;
    let t = UNIX_EPOCH + Duration::new(1_700_000_000, 5);
    assert_eq!(
        Timestamp::from_system_time(t),
        Some(Timestamp::from_nanos(1_700_000_000_000_000_005))
    );
    let before = UNIX_EPOCH - Duration::from_nanos(7);
    assert_eq!(
        Timestamp::from_system_time(before),
        Some(Timestamp::from_nanos(-7))
    );
    let far = UNIX_EPOCH + Duration::from_secs(300 * 365 * 86_400);
    assert_eq!(Timestamp::from_system_time(far), None);
}

#[test]
fn refuses_what_line_protocol_cannot_carry() {
    use Element::*;
    let field = |v: FieldValue| Point::new_dynamic("m").field_dynamic("f", v).timestamp(T);
    let ambiguous = |element, text: &str| EncodeError::AmbiguousBackslash {
        element,
        text: text.into(),
    };
    let cases: Vec<(&str, Point, EncodeError)> = vec![
        (
            "no field",
            Point::new_dynamic("m").timestamp(T),
            EncodeError::NoFields {
                measurement: "m".into(),
            },
        ),
        (
            "no timestamp",
            Point::new_dynamic("m").field_dynamic("f", 1i64),
            EncodeError::MissingTimestamp {
                measurement: "m".into(),
            },
        ),
        (
            "NaN",
            field(FieldValue::Float(f64::NAN)),
            EncodeError::NonFiniteFloat {
                field: "f".into(),
                value: f64::NAN,
            },
        ),
        (
            "+inf",
            field(FieldValue::Float(f64::INFINITY)),
            EncodeError::NonFiniteFloat {
                field: "f".into(),
                value: f64::INFINITY,
            },
        ),
        (
            "-inf",
            field(FieldValue::Float(f64::NEG_INFINITY)),
            EncodeError::NonFiniteFloat {
                field: "f".into(),
                value: f64::NEG_INFINITY,
            },
        ),
        (
            "newline in a string value",
            field("two\nlines".into()),
            EncodeError::NewlineInString { field: "f".into() },
        ),
        (
            "empty measurement",
            Point::new_dynamic("").field_dynamic("f", 1i64).timestamp(T),
            EncodeError::Empty {
                element: Measurement,
            },
        ),
        (
            "measurement starting with #",
            Point::new_dynamic("#m")
                .field_dynamic("f", 1i64)
                .timestamp(T),
            EncodeError::CommentMeasurement("#m".into()),
        ),
        (
            "empty tag key",
            with_tags(&[("", "v")]),
            EncodeError::Empty { element: TagKey },
        ),
        (
            "empty field key",
            Point::new_dynamic("m").field_dynamic("", 1i64).timestamp(T),
            EncodeError::Empty { element: FieldKey },
        ),
        (
            "tab in a tag key",
            with_tags(&[("a\tb", "v")]),
            EncodeError::ControlCharacter {
                element: TagKey,
                text: "a\tb".into(),
            },
        ),
        (
            "newline in a tag value",
            with_tags(&[("k", "a\nb")]),
            EncodeError::ControlCharacter {
                element: TagValue,
                text: "a\nb".into(),
            },
        ),
        (
            "NUL in a measurement",
            Point::new_dynamic("a\0b")
                .field_dynamic("f", 1i64)
                .timestamp(T),
            EncodeError::ControlCharacter {
                element: Measurement,
                text: "a\0b".into(),
            },
        ),
        (
            "trailing backslash in a tag value (Windows drive root)",
            with_tags(&[("mount", r"C:\")]),
            ambiguous(TagValue, r"C:\"),
        ),
        (
            "double backslash in a tag value",
            with_tags(&[("k", r"a\\b")]),
            ambiguous(TagValue, r"a\\b"),
        ),
        (
            "backslash before a comma in a tag key",
            with_tags(&[(r"a\,b", "v")]),
            ambiguous(TagKey, r"a\,b"),
        ),
        (
            "backslash before `=` in a field key",
            Point::new_dynamic("m")
                .field_dynamic(r"a\=b", 1i64)
                .timestamp(T),
            ambiguous(FieldKey, r"a\=b"),
        ),
        (
            "backslash before a space in a measurement",
            Point::new_dynamic(r"a\ b")
                .field_dynamic("f", 1i64)
                .timestamp(T),
            ambiguous(Measurement, r"a\ b"),
        ),
        (
            "reserved field key",
            Point::new_dynamic("m")
                .field_dynamic("time", 1i64)
                .timestamp(T),
            EncodeError::ReservedKey {
                element: FieldKey,
                key: "time".into(),
            },
        ),
        (
            "reserved tag key",
            with_tags(&[("_measurement", "x")]),
            EncodeError::ReservedKey {
                element: TagKey,
                key: "_measurement".into(),
            },
        ),
        (
            "tag set twice",
            with_tags(&[("k", "1"), ("k", "2")]),
            EncodeError::DuplicateTag("k".into()),
        ),
        (
            "field set twice",
            Point::new_dynamic("m")
                .field_dynamic("f", 1i64)
                .field_dynamic("f", 2i64)
                .timestamp(T),
            EncodeError::DuplicateField("f".into()),
        ),
        (
            "time after 2262",
            Point::new_dynamic("m")
                .field_dynamic("f", 1i64)
                .timestamp(Timestamp::from_nanos(i64::MAX)),
            EncodeError::TimestampOutOfRange {
                nanos: i64::MAX,
                precision: Precision::Nanoseconds,
            },
        ),
    ];
    for (what, point, expected) in cases {
        match line(&point) {
            // NaN != NaN, so compare NaN errors by their text.
            Err(e) => assert_eq!(e.to_string(), expected.to_string(), "{what}"),
            Ok(l) => panic!("{what}: expected {expected:?}, got the line {l:?}"),
        }
    }
}

#[test]
fn a_timestamp_that_rounds_out_of_range_is_refused() {
    let point = Point::new_dynamic("m")
        .field_dynamic("f", 1i64)
        .timestamp(Timestamp::from_nanos(i64::MIN + 2));
    assert!(point.to_line(Precision::Nanoseconds).is_ok());
    assert!(matches!(
        point.to_line(Precision::Seconds),
        Err(EncodeError::TimestampOutOfRange { .. })
    ));
}

#[test]
fn a_refused_point_leaves_the_buffer_as_it_was() {
    let good = with_tags(&[("k", "v")]);
    let bad = Point::new_dynamic("m")
        .tag_dynamic("k", "v")
        .field_dynamic("ok", 1i64)
        .field_dynamic("nan", f64::NAN)
        .timestamp(T);

    let mut text = String::new();
    good.encode(&mut text, Precision::Seconds).unwrap();
    let before = text.clone();
    assert!(bad.encode(&mut text, Precision::Seconds).is_err());
    assert_eq!(text, before);

    let mut bytes = Vec::new();
    good.encode(&mut bytes, Precision::Seconds).unwrap();
    assert!(bad.encode(&mut bytes, Precision::Seconds).is_err());
    good.encode(&mut bytes, Precision::Seconds).unwrap();
    assert_eq!(bytes, format!("{before}{before}").into_bytes());
}

#[test]
fn typed_points_encode_like_untyped_ones() {
    let typed = Point::new(ping::MEASUREMENT)
        .tag(ping::tags::TARGET, "example.org")
        .tag(ping::tags::AGENT, "7")
        .tag_opt(ping::tags::FAMILY, None::<&str>)
        .field(ping::fields::SENT, 4)
        .field(ping::fields::RTT_AVG_MS, 1.0f32)
        .field_opt(ping::fields::RTT_MAX_MS, None::<f64>)
        .field_opt(ping::fields::ERROR, Some("timeout"))
        .timestamp(T);
    let untyped = Point::new_dynamic("ping")
        .tag_dynamic("target", "example.org")
        .tag_dynamic("agent", "7")
        .field_dynamic("sent", 4i64)
        .field_dynamic("rtt_avg_ms", 1.0)
        .field_dynamic("error", "timeout")
        .timestamp(T);
    assert_eq!(
        line(&untyped).unwrap(),
        typed.to_line(Precision::Nanoseconds).unwrap()
    );
    assert_eq!(
        typed.to_line(Precision::Seconds).unwrap(),
        "ping,agent=7,target=example.org sent=4i,rtt_avg_ms=1.0,error=\"timeout\" 1700000000\n"
    );
    assert_eq!(typed.field_value("sent"), Some(&FieldValue::Integer(4)));
    assert_eq!(typed.tag_value("agent"), Some("7"));
    assert_eq!(typed.time(), Some(T));
}

#[test]
fn a_typed_key_set_twice_is_an_error() {
    let point = Point::new(ping::MEASUREMENT)
        .field(ping::fields::SENT, 1)
        .field(ping::fields::SENT, 2)
        .timestamp(T);
    assert_eq!(
        point.to_line(Precision::Seconds),
        Err(EncodeError::DuplicateField("sent".into()))
    );
}
