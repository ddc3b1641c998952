use super::*;

const SCHEMA_TEXT: &str = include_str!("../../measurements.toml");

/// A schema that follows every rule; each case below breaks exactly one.
const VALID: &str = r#"
[[tags]]
name = "agent"
description = "Agent id."
cardinality = "fleet size"

[[tags]]
name = "family"
description = "Address family."
cardinality = "2"
values = ["ipv4", "ipv6"]

[[measurements]]
name = "ping"
description = "A ping run."
written_by = "agent: ping probe"
tags = ["agent"]
optional_tags = ["family"]

[[measurements.fields]]
name = "rtt_avg_ms"
type = "float"
unit = "ms"
description = "Mean round-trip time."

[[measurements.fields]]
name = "sent"
type = "integer"
unit = "count"
description = "Requests sent."
optional = true
"#;

/// The kind files, as `build.rs` reads them.
fn kind_files() -> Vec<(String, String)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/kinds");
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn schema() -> spec::SchemaFile {
    spec::parse_all(SCHEMA_TEXT, &kind_files()).unwrap().0
}

fn problems(text: &str) -> Vec<String> {
    match spec::parse_all(text, &[]) {
        Ok(_) => vec![],
        Err(problems) => problems,
    }
}

#[test]
fn the_schema_files_follow_the_rules() {
    let found = match spec::parse_all(SCHEMA_TEXT, &kind_files()) {
        Ok(_) => vec![],
        Err(problems) => problems,
    };
    assert_eq!(found, Vec::<String>::new());
}

#[test]
fn a_schema_following_the_rules_has_no_problem() {
    assert_eq!(problems(VALID), Vec::<String>::new());
}

#[test]
fn each_broken_rule_is_reported() {
    // (what to replace in VALID, with what, a piece of the expected message)
    let cases: &[(&str, &str, &str)] = &[
        (
            r#"name = "ping""#,
            r#"name = "Ping""#,
            "not a name of the form",
        ),
        (
            r#"name = "ping""#,
            r#"name = "1ping""#,
            "not a name of the form",
        ),
        (
            r#"name = "sent""#,
            r#"name = "se-nt""#,
            "not a name of the form",
        ),
        (
            r#"name = "sent""#,
            r#"name = "time""#,
            "reserved by InfluxDB",
        ),
        (
            r#"name = "sent""#,
            r#"name = "rtt_avg_ms""#,
            "defined twice",
        ),
        (
            r#"name = "sent""#,
            r#"name = "family""#,
            "a tag of the same name",
        ),
        (
            r#"["ipv4", "ipv6"]"#,
            r#"["ipv4", "IPv6"]"#,
            "not a name of the form",
        ),
        (
            r#"["ipv4", "ipv6"]"#,
            r#"["ipv4", "ipv4"]"#,
            "defined twice",
        ),
        (r#"unit = "ms""#, r#"unit = "s""#, "does not match the name"),
        (
            r#"unit = "count""#,
            r#"unit = "ms""#,
            "does not match the name",
        ),
        (r#"unit = "count""#, r#"unit = """#, "unit is empty"),
        (
            r#"description = "Requests sent.""#,
            r#"description = "Requests sent""#,
            "ending with `.`",
        ),
        (
            r#"description = "Requests sent.""#,
            r#"description = "Requests | sent.""#,
            "contains `|`",
        ),
        (
            r#"description = "Requests sent.""#,
            r#"description = """#,
            "description is empty",
        ),
        (
            r#"type = "integer""#,
            r#"type = "int""#,
            "unknown variant `int`",
        ),
        (
            r#"tags = ["agent"]"#,
            r#"tags = ["agent", "host"]"#,
            "tag `host` is not in the [[tags]] vocabulary",
        ),
        (
            r#"tags = ["agent"]"#,
            r#"tags = ["agent", "family"]"#,
            "tag `family` is listed twice",
        ),
        (
            r#"tags = ["agent"]"#,
            r#"tags = []"#,
            "carries the `agent` tag",
        ),
        (
            r#"optional_tags = ["family"]"#,
            r#"optional_tags = []"#,
            "no measurement uses it",
        ),
        (
            "\n[[measurements.fields]]\nname = \"rtt_avg_ms\"\ntype = \"float\"\nunit = \"ms\"\ndescription = \"Mean round-trip time.\"\n",
            "\n",
            "every field is optional",
        ),
        (
            r#"written_by = "agent: ping probe""#,
            r#"written_by = "" "#,
            "written_by is empty",
        ),
        (
            r#"cardinality = "2""#,
            "cardinality = \"2\"\ncolour = \"red\"",
            "unknown field",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(VALID.contains(from), "case does not apply: {from}");
        let broken = VALID.replacen(from, to, 1);
        let found = problems(&broken);
        assert!(
            found.iter().any(|p| p.contains(expected)),
            "replacing {from:?} by {to:?}: expected a problem containing {expected:?}, got {found:#?}"
        );
    }
}

#[test]
fn the_catalogue_is_the_schema_file() {
    let schema = schema();
    let names: Vec<&str> = CATALOGUE.iter().map(|m| m.name).collect();
    let file_names: Vec<&str> = schema
        .measurements
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    assert_eq!(names, file_names);
    for (def, spec) in CATALOGUE.iter().zip(&schema.measurements) {
        let fields: Vec<(&str, String)> = def
            .fields
            .iter()
            .map(|f| (f.name, f.field_type.to_string()))
            .collect();
        let spec_fields: Vec<(&str, String)> = spec
            .fields
            .iter()
            .map(|f| {
                (
                    f.name.as_str(),
                    format!("{:?}", f.field_type).to_lowercase(),
                )
            })
            .collect();
        assert_eq!(fields, spec_fields, "{}", def.name);
        assert_eq!(def.tags.len(), spec.tags.len() + spec.optional_tags.len());
    }
    assert_eq!(TAGS.len(), schema.tags.len());
}

#[test]
fn typed_keys_carry_the_name_and_type_of_the_schema() {
    fn field_type<M, T: FieldRustType>(_: FieldKey<M, T>) -> FieldType {
        T::FIELD_TYPE
    }
    assert_eq!(ping::NAME, "ping");
    assert_eq!(<ping::Ping as Measurement>::def().name, "ping");
    assert_eq!(ping::tags::TARGET.name(), "target");
    assert_eq!(ping::fields::RTT_AVG_MS.name(), "rtt_avg_ms");
    assert_eq!(field_type(ping::fields::RTT_AVG_MS), FieldType::Float);
    assert_eq!(field_type(ping::fields::SENT), FieldType::Integer);
    assert_eq!(
        field_type(ping::fields::RESOLVED_ADDRESS),
        FieldType::String
    );
    assert_eq!(
        field_type(host_cpu::fields::USAGE_PERCENT),
        FieldType::Float
    );
    assert_eq!(tag_values::family::IPV6, "ipv6");
    assert_eq!(tag_values::state::SYN_SENT, "syn_sent");
    assert_eq!(find("host_net").unwrap().name, host_net::NAME);
    assert!(find("pong").is_none());
}

#[test]
fn no_field_is_unsigned_while_influxdb_1x_is_supported() {
    // InfluxDB 1.x (as Debian ships it) rejects the `u` suffix, and agents may write to it.
    for m in CATALOGUE {
        for f in m.fields {
            assert_ne!(f.field_type, FieldType::Unsigned, "{}.{}", m.name, f.name);
        }
    }
}

#[test]
fn a_point_that_follows_the_schema_passes() {
    let tags = [
        ("agent", "7"),
        ("test", "3"),
        ("target", "example.org"),
        ("family", "ipv6"),
    ];
    let fields = [
        ("sent", FieldType::Integer),
        ("received", FieldType::Integer),
        ("duplicates", FieldType::Integer),
        ("rtt_avg_ms", FieldType::Float),
        ("error", FieldType::String),
    ];
    assert_eq!(check_point("ping", tags, fields), Ok(()));
}

#[test]
fn every_departure_from_the_schema_is_reported() {
    let tags = [
        ("agent", "7"),
        ("target", "example.org"),
        ("test", ""), // empty counts as absent
        ("family", "ipx"),
        ("host", "a"),
    ];
    let fields = [
        ("sent", FieldType::Float),
        ("received", FieldType::Integer),
        ("rtt_avg", FieldType::Float),
    ];
    let violations = check_point("ping", tags, fields).unwrap_err();
    let m = || "ping".to_owned();
    assert_eq!(
        violations,
        vec![
            SchemaViolation::TagValueNotAllowed {
                measurement: m(),
                tag: "family".into(),
                value: "ipx".into(),
                allowed: &["ipv4", "ipv6"],
            },
            SchemaViolation::UnknownTag {
                measurement: m(),
                tag: "host".into()
            },
            SchemaViolation::MissingTag {
                measurement: m(),
                tag: "test".into()
            },
            SchemaViolation::WrongFieldType {
                measurement: m(),
                field: "sent".into(),
                expected: FieldType::Integer,
                found: FieldType::Float,
            },
            SchemaViolation::UnknownField {
                measurement: m(),
                field: "rtt_avg".into()
            },
            SchemaViolation::MissingField {
                measurement: m(),
                field: "duplicates".into()
            },
        ]
    );
    assert_eq!(
        check_point("pong", [], []),
        Err(vec![SchemaViolation::UnknownMeasurement("pong".into())])
    );
}
