//! Checks points against `schema/measurements.toml`.
//!
//! Typed points cannot name a tag or field the schema lacks, but they can still miss a
//! required one or put an unlisted value in a closed tag; untyped points can do
//! anything. Tests run every point a writer produces through
//! [`assert_follows_schema`], which is how "a test fails when code writes a tag or field
//! the schema does not list" holds for both paths.

use crate::line_protocol::{Point, Precision};
use streamswarm_schema::measurements::{self, SchemaViolation};

/// Every way `point` departs from the schema: unknown measurement, tag or field, a field
/// of the wrong type, a tag value outside its closed set, a required tag or field missing.
pub fn validate_against_schema<M>(point: &Point<M>) -> Result<(), Vec<SchemaViolation>> {
    measurements::check_point(
        point.measurement(),
        point.tags(),
        point.fields().map(|(key, value)| (key, value.field_type())),
    )
}

/// Test helper: panics with the point's line and every violation when `point` departs
/// from the schema.
#[track_caller]
pub fn assert_follows_schema<M>(point: &Point<M>) {
    if let Err(violations) = validate_against_schema(point) {
        let line = point
            .to_line(Precision::Nanoseconds)
            .unwrap_or_else(|e| format!("(not encodable: {e})\n"));
        let list: Vec<String> = violations.iter().map(|v| format!("  - {v}")).collect();
        panic!(
            "point does not follow schema/measurements.toml:\n  {line}{}",
            list.join("\n")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line_protocol::Timestamp;
    use streamswarm_schema::measurements::{FieldType, host_cpu, ping};

    fn ping_point() -> Point<ping::Ping> {
        Point::new(ping::MEASUREMENT)
            .tag(ping::tags::AGENT, "1")
            .tag(ping::tags::TEST, "2")
            .tag(ping::tags::TARGET, "example.org")
            .field(ping::fields::SENT, 3)
            .field(ping::fields::RECEIVED, 3)
            .field(ping::fields::DUPLICATES, 0)
            .timestamp(Timestamp::from_nanos(0))
    }

    #[test]
    fn a_complete_typed_point_follows_the_schema() {
        assert_follows_schema(&ping_point());
        assert_follows_schema(
            &Point::new(host_cpu::MEASUREMENT)
                .tag(host_cpu::tags::AGENT, "1")
                .tag(host_cpu::tags::CPU, "total")
                .field(host_cpu::fields::USAGE_PERCENT, 12.5),
        );
    }

    #[test]
    fn a_typed_point_missing_a_required_tag_or_holding_an_unlisted_value_fails() {
        let point = Point::new(ping::MEASUREMENT)
            .tag(ping::tags::AGENT, "1")
            .tag(ping::tags::TARGET, "example.org")
            .tag(ping::tags::FAMILY, "ipv5")
            .field(ping::fields::SENT, 3)
            .field(ping::fields::RECEIVED, 3)
            .field(ping::fields::DUPLICATES, 0);
        let violations = validate_against_schema(&point).unwrap_err();
        assert_eq!(violations.len(), 2, "{violations:?}");
        assert!(
            matches!(&violations[0], SchemaViolation::TagValueNotAllowed { tag, .. } if tag == "family")
        );
        assert!(matches!(&violations[1], SchemaViolation::MissingTag { tag, .. } if tag == "test"));
    }

    #[test]
    fn an_untyped_point_with_an_unlisted_tag_or_field_fails() {
        let point = Point::new_dynamic("ping")
            .tag_dynamic("agent", "1")
            .tag_dynamic("test", "2")
            .tag_dynamic("target", "example.org")
            .tag_dynamic("host", "h1")
            .field_dynamic("sent", 3i64)
            .field_dynamic("received", 3.0)
            .field_dynamic("duplicates", 0i64)
            .field_dynamic("rtt_average_ms", 1.0);
        let violations = validate_against_schema(&point).unwrap_err();
        assert_eq!(
            violations,
            vec![
                SchemaViolation::UnknownTag {
                    measurement: "ping".into(),
                    tag: "host".into()
                },
                SchemaViolation::WrongFieldType {
                    measurement: "ping".into(),
                    field: "received".into(),
                    expected: FieldType::Integer,
                    found: FieldType::Float
                },
                SchemaViolation::UnknownField {
                    measurement: "ping".into(),
                    field: "rtt_average_ms".into()
                },
            ]
        );
    }

    #[test]
    #[should_panic(expected = "has no field `rtt_average_ms`")]
    fn the_helper_panics_with_the_violation() {
        assert_follows_schema(&Point::new_dynamic("ping").field_dynamic("rtt_average_ms", 1.0));
    }
}
